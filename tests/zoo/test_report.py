"""`zoo report` (zoo/report.py, zoo/report_write.py) narrowed by the shared selection options, and saying what
it pooled and how the pooled datasets draw their noise.

build_report(selection=...) narrows each Table 1 experiment's own train and test selections and the
matrices' selection; Report.pooled counts the checkpoints drawn on per grid, image size, architecture and base
dataset, and the CLI prints it, and writes it to report.md and report.json; Report.noise says per pooled base
dataset whether its noise variants draw fresh noise each step or use noise saved once. Synthetic catalog:
trial 0 trains at 32 px, trial 1 at 64 px; variants v00..v03 (identity, blur, noise, resize) cycle over
natural-32, shapes_32, shapesX32, natural-32.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from clirunner import run_zoo
from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.db.models import BaseDataset, DatasetVariant
from zoo.errors import InvalidInput
from zoo.report import build_report
from zoo.report_write import report_json, write_report
from zoo.selection import Selection

ARCHS = ("resnet18", "resnet50", "mobilenetv3_large_100")


@pytest.fixture
def catalog(zoo_env: dict[str, str]):  # type: ignore[no-untyped-def]
    with Catalog.open(zoo_env["ZOO_DATABASE_URL"], artifacts=zoo_env["ZOO_ARTIFACTS"]) as opened:
        build_catalog(opened, archs=ARCHS, n_variants=4, trials=2, epochs=3, n_external=0)
        yield opened


def test_a_selection_narrows_every_experiment_and_the_report_says_what_it_pooled(catalog: Catalog) -> None:
    everything = build_report(catalog, repeats=1, n_estimators=3, store=False, matrix=False)
    assert everything.selection == "all"
    assert dict(everything.pooled.image_sizes) == {32: 24, 64: 24}  # 3 archs x 4 variants x 2 trials x epochs 1, 2
    assert dict(everything.pooled.archs) == dict.fromkeys(ARCHS, 16) and everything.pooled.grids == (
        ("synthetic-0", 48),
    )

    chosen = Selection(bases=("natural-32",), trials=(0,))
    report = build_report(catalog, repeats=1, n_estimators=3, store=False, matrix=False, selection=chosen)
    assert report.selection == "base=natural-32,trial=0"
    first = report.rows[0]
    assert (first.experiment, first.target) == ("resnet50 → resnet18", "sharpness")
    assert first.n_train == first.n_test == 4  # natural-32's two variants, trial 0, epochs 1 and 2 (was 16 each)
    assert everything.rows[0].n_train == 16
    assert report.results[0].train_selection.startswith("arch=resnet50,base=natural-32,trial=0")
    assert dict(report.pooled.image_sizes) == {32: 12}  # trial 0 only: 32 px
    assert dict(report.pooled.archs) == dict.fromkeys(ARCHS, 4) and report.pooled.n_checkpoints == 12
    assert "image size 32 px (12)" in report.pooled.describe() and "grid synthetic-0 (12)" in report.pooled.describe()
    assert (
        report.pooled.datasets == (("natural-32", 12),) and "base dataset natural-32 (12)" in report.pooled.describe()
    )


def test_an_arch_selection_keeps_the_experiments_it_can_and_says_why_not_the_others(catalog: Catalog) -> None:
    report = build_report(
        catalog, repeats=1, n_estimators=3, store=False, matrix=False, selection=Selection(archs=("resnet18",))
    )
    pair = [r for r in report.rows if r.experiment == "resnet50 → resnet18"]
    assert pair and all(r.n_train == 0 and r.fit_id is None and r.r2_mean is None for r in pair)
    assert all("has no trained resnet50 checkpoints" in r.note and "arch=resnet18" in r.note for r in pair)
    assert report.pooled.n_checkpoints == 0  # nothing was fitted
    resnets = build_report(
        catalog, repeats=1, n_estimators=3, store=False, matrix=False, selection=Selection(archs=("resnet*",))
    )
    assert all(r.note == "" for r in resnets.rows) and not any(r.experiment.startswith("others") for r in resnets.rows)
    assert dict(resnets.pooled.archs) == {"resnet18": 16, "resnet50": 16}


def test_a_selection_matching_nothing_is_refused_in_words(catalog: Catalog) -> None:
    with pytest.raises(InvalidInput, match="no trained checkpoints match grid=nope"):
        build_report(
            catalog, repeats=1, n_estimators=3, store=False, matrix=False, selection=Selection(grids=("nope",))
        )


def test_zoo_report_takes_the_selection_options_and_writes_what_it_pooled(catalog: Catalog, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = run_zoo(
        "report",
        "--grid",
        "synthetic-*",
        "--kind",
        "identity",
        "--kind",
        "resize",
        "--min-epoch",
        "2",
        "--trees",
        "3",
        "--repeats",
        "1",
        "--no-matrix",
        "--out",
        str(out),
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("selection:"))
    assert line.startswith(
        "selection: kind=identity|resize,grid=synthetic-*,min_epoch=2; pooled 12 trained checkpoints"
    )
    assert "image sizes 32 px (6), 64 px (6)" in line  # natural-32's v00 (identity) and v03 (resize), epoch 2
    saved = json.loads((out / "report.json").read_text())
    assert saved["selection"] == "kind=identity|resize,grid=synthetic-*,min_epoch=2"
    assert saved["pooled"]["n_checkpoints"] == 12 and saved["pooled"]["image_sizes"] == {"32": 6, "64": 6}
    assert saved["pooled"]["archs"] == dict.fromkeys(ARCHS, 4) and saved["pooled"]["grids"] == {"synthetic-0": 12}
    assert saved["pooled"]["datasets"] == {"natural-32": 12} and saved["noise"] == {"natural-32": "per-step"}
    assert all(
        row["n_train"] == 4 for row in saved["rows"] if row["note"] == "" and row["experiment"] == "resnet50 → resnet18"
    )
    markdown = (out / "report.md").read_text()
    assert "Selection: `kind=identity|resize,grid=synthetic-*,min_epoch=2`. Pooled: 12 trained checkpoints" in markdown
    assert "### synthetic-0" in markdown  # the pooled grid's spec
    assert "Noise variants, by base dataset: natural-32: fresh noise each training step (per-step)." in markdown
    figures = sorted(p.name for p in out.glob("*.png"))  # named by what they show
    fig3 = [name for name in figures if name.startswith("fig3-checkpoint-")]
    assert len(fig3) == 1 and fig3[0].endswith("-resnet50.png")
    assert (
        Image.open(out / fig3[0])
        .text["Title"]
        .startswith(f"checkpoint {fig3[0].split('-')[2]}: resnet50 on natural-32 / v0")
    )
    assert {
        "fig4-sharpness-resnet50-to-resnet18.png",
        "fig4-sharpness-log-resnet50-to-resnet18.png",
        "fig4-noisiness-others-to-mobilenetv3_large_100.png",
    } <= set(figures)
    assert len([name for name in figures if name.startswith("fig4-")]) == len(saved["rows"])


def test_the_report_says_which_datasets_draw_noise_each_step_and_which_saved_it_once(
    catalog: Catalog, tmp_path: Path
) -> None:
    with catalog.session(write=True) as session:  # shapesX32's noise variant: drawn once per image and saved
        variant = session.scalars(
            select(DatasetVariant)
            .join(BaseDataset, BaseDataset.id == DatasetVariant.base_dataset_id)
            .where(BaseDataset.name == "shapesX32", DatasetVariant.kind == "noise")
        ).one()
        variant.params = {**variant.params, "draw": "fixed"}
    report = build_report(catalog, repeats=1, n_estimators=3, store=False, matrix=False)
    assert report.noise == (("natural-32", "per-step"), ("shapesX32", "fixed"), ("shapes_32", "per-step"))
    assert report_json(report)["noise"] == {"natural-32": "per-step", "shapesX32": "fixed", "shapes_32": "per-step"}
    write_report(catalog, report, tmp_path / "report")
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert (
        "Noise variants, by base dataset: shapesX32: noise drawn once per image and saved as 8-bit images (fixed); "
        "natural-32, shapes_32: fresh noise each training step (per-step)."
    ) in markdown
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["noise"] == {"natural-32": "per-step", "shapesX32": "fixed", "shapes_32": "per-step"}
    only_natural = build_report(
        catalog, repeats=1, n_estimators=3, store=False, matrix=False, selection=Selection(bases=("natural-32",))
    )
    assert only_natural.noise == (("natural-32", "per-step"),)  # the datasets the report pooled, no others


def test_zoo_report_refuses_an_empty_selection_in_one_line(catalog: Catalog, tmp_path: Path) -> None:
    result = run_zoo("report", "--arch", "vgg16", "--out", str(tmp_path / "r"), expect=1)
    assert "no trained checkpoints match arch=vgg16" in result.output and "Traceback" not in result.output


def test_a_sensitivity_table_refits_table_1_on_another_feature_set(catalog: Catalog, tmp_path: Path) -> None:
    settings = dict(repeats=1, n_estimators=3, store=False, matrix=False, predictors=False)
    plain = build_report(catalog, **settings)
    report = build_report(catalog, compare_feature_set="paper-literal", **settings)
    assert plain.compare_feature_set is None and report_json(plain)["sensitivity"] is None
    assert report.compare_feature_set == "paper-literal-v1" and len(report.compare_rows) == len(report.rows)
    fitted = [(i, r2) for i, r2, _, why in report.compare_rows if report.rows[i].r2_mean is not None]
    assert fitted and all(r2 is not None for _, r2 in fitted)  # every row fitted on paper-v1 is refitted
    assert [r.r2_mean for r in report.rows] == [r.r2_mean for r in plain.rows]  # Table 1 itself is unchanged
    table = report_json(report)["sensitivity"]
    assert table["feature_set"] == "paper-v1" and table["compare_feature_set"] == "paper-literal-v1"
    for row, (i, r2, _, _) in zip(table["rows"], report.compare_rows):
        if r2 is not None and report.rows[i].r2_mean is not None:
            assert row["difference"] == pytest.approx(r2 - report.rows[i].r2_mean)
    write_report(catalog, report, tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## Sensitivity: Table 1 with paper-literal-v1" in text and "| paper-v1 | paper-literal-v1 |" in text
    result = run_zoo(
        "report", "--out", str(tmp_path / "cli"), "--no-matrix", "--repeats", "1", "--trees", "3",
        "--compare-feature-set", "paper-literal",
    )  # fmt: skip
    assert "Sensitivity: Table 1 with paper-literal-v1" in result.stdout


def test_a_sensitivity_table_and_metric_conditions_are_refused_together(catalog: Catalog) -> None:
    with pytest.raises(InvalidInput, match="compare_feature_set refits Table 1") as raised:
        build_report(
            catalog, compare_feature_set="paper-literal", metric_wheres=(("dist_to_gaussian", ">", 0.0),), store=False
        )
    assert raised.value.param == "compare_feature_set"
    result = run_zoo("report", "--compare-feature-set", "paper-literal", "--where", "dist_to_gaussian>0", expect=1)
    assert "--compare-feature-set refits Table 1" in result.output and "conditions of --where" in result.output
