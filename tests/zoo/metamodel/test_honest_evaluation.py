"""Fits users can trust: group splits, reference checkpoints left out, every metric usable, fuller scores,
the generalization matrix, and feature sets everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from clirunner import run_zoo
from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.errors import InvalidInput
from zoo.filters import feature_set_names, get_feature_set
from zoo.metamodel import evaluate_generalization, fit_meta_model, get_fit, split_metric_wheres, train_forests
from zoo.query import query_checkpoints
from zoo.selection import Selection

QUICK = {"n_estimators": 8, "repeats": 2}


def _open(env: dict[str, str]) -> Catalog:
    return Catalog.open(env["ZOO_DATABASE_URL"], artifacts=env["ZOO_ARTIFACTS"])


def _group_of(catalog: Catalog) -> dict[int, str]:
    rows = query_checkpoints(catalog, columns=("checkpoint_id", "base_dataset", "variant"), limit=None).rows
    return {c: f"{b}/{v}" for c, b, v in rows}


@pytest.mark.parametrize("split", ["variant", "base"])
def test_a_test_fraction_never_tests_on_a_group_seen_in_training(catalog: Catalog, split: str) -> None:
    built = build_catalog(catalog, n_external=0)
    result = fit_meta_model(
        catalog,
        "sharpness",
        Selection(),
        test_fraction=0.3,
        split=split if split != "variant" else None,
        store=False,
        **QUICK,
    )
    assert result.split == split
    group = _group_of(catalog)
    key = (lambda c: group[c]) if split == "variant" else (lambda c: group[c].split("/")[0])
    test_ids = {p.checkpoint_id for p in result.predictions}
    trained = set(built.trained_ids) - test_ids
    assert len(trained) == result.n_train
    test_groups = {key(c) for c in test_ids}
    assert test_groups and test_groups.isdisjoint({key(c) for c in trained})


def test_reference_checkpoints_are_left_out_unless_the_epoch_is_bounded(catalog: Catalog) -> None:
    built = build_catalog(catalog, n_external=0)
    default = fit_meta_model(
        catalog, "sharpness", Selection(archs=("resnet50",)), Selection(archs=("resnet18",)), store=False, **QUICK
    )
    assert default.n_reference_left_out == 48 and default.n_test == 48
    assert all(built.epoch_of[p.checkpoint_id] >= 1 for p in default.predictions)
    kept = fit_meta_model(
        catalog,
        "sharpness",
        Selection(archs=("resnet50",), min_epoch=0),
        Selection(archs=("resnet18",), min_epoch=0),
        store=False,
        **QUICK,
    )
    assert kept.n_reference_left_out == 0 and kept.n_test == 72


@pytest.mark.parametrize("feature_set", feature_set_names())
def test_every_metric_of_every_feature_set_can_carry_a_fit(feature_set: str) -> None:
    """Each metric in turn carries the target at magnitudes near 1e-8 (filter_variance's): scaling inside the fit
    lets the forest split on it, so it gets most of the importance."""
    metrics = get_feature_set(feature_set).metrics
    rng = np.random.default_rng(0)
    for j, _ in enumerate(metrics):
        X = rng.lognormal(size=(120, len(metrics)))
        X[:, j] = 1e-8 * (1 + 1e-3 * rng.uniform(size=120))  # a range of ~1e-11: sklearn alone sees a constant
        y = X[:, j] * 1e11
        trained = train_forests(X, y, X[:5], n_estimators=5, seeds=(0,))
        assert int(np.argmax(trained.importances)) == j and trained.importances[j] > 0.5


def test_scores_are_fuller_and_stored_with_the_fit(catalog: Catalog) -> None:
    build_catalog(catalog)
    result = fit_meta_model(
        catalog, "sharpness", Selection(archs=("resnet50",)), Selection(archs=("resnet18",)), **QUICK
    )
    assert result.r2_log is not None and result.r2_log > 0.8 and result.spearman is not None and result.spearman > 0.8
    assert set(result.r2_by_kind) == {"identity", "blur", "noise", "resize"} and result.n_by_kind["blur"] == 12
    assert result.r2_bootstrap_std is not None and 0 < result.r2_bootstrap_std < 0.2
    assert result.reference_kinds == ("random",) and result.split == "selections"
    stored = get_fit(catalog, result.id)  # type: ignore[arg-type]
    assert stored.r2_log == pytest.approx(result.r2_log) and stored.spearman == pytest.approx(result.spearman)
    assert stored.r2_by_kind == pytest.approx(result.r2_by_kind) and stored.reference_kinds == ("random",)


def test_shuffled_targets_score_no_rank_order_either(catalog: Catalog) -> None:
    build_catalog(catalog, shuffled=True)
    result = fit_meta_model(
        catalog, "sharpness", Selection(archs=("resnet50",)), Selection(archs=("resnet18",)), store=False, **QUICK
    )
    assert result.r2_mean < 0.2 and abs(result.spearman or 0) < 0.4


def test_fit_cli_splits_by_variant_by_default_and_fits_shows_the_split(zoo_env: dict[str, str]) -> None:
    with _open(zoo_env) as catalog:
        build_catalog(catalog)
    data = json.loads(
        run_zoo(
            "fit", "--target", "sharpness", "--test-fraction", "0.25", "--trees", "5", "--repeats", "1", "--json"
        ).stdout
    )
    assert data["split"] == "variant" and {"spearman", "r2_log", "r2_by_kind", "r2_bootstrap_std"} <= set(data)
    run_zoo(
        "fit", "--target", "sharpness", "--test-fraction", "0.25", "--split", "run", "--trees", "5", "--repeats", "1"
    )
    fits = json.loads(run_zoo("fits", "--json").stdout)
    assert [f["split"] for f in fits] == ["run", "variant"]
    assert "variant" in run_zoo("fits").output
    out = run_zoo("fit", "--target", "sharpness", "--test-fraction", "0.25", "--trees", "5", "--repeats", "1").output
    assert "base dataset × variant" in out and "reference (epoch-0" in out and "Spearman" in out
    assert "unknown split 'arch'" in run_zoo("fit", "--target", "sharpness", "--split", "arch", expect=1).output


def test_the_generalization_matrix_holds_out_every_axis_the_catalog_varies(catalog: Catalog) -> None:
    build_catalog(catalog, archs=("resnet18", "resnet50", "mobilenetv3_large_100"), n_variants=8, n_external=0)
    matrix = evaluate_generalization(catalog, "sharpness", **QUICK)
    assert matrix.log_target and matrix.r2_space == "log"
    assert matrix.folds == 5 and matrix.n_reference_left_out == 48
    assert matrix.axes == (
        "architecture",
        "base dataset",
        "optimizer",
        "learning rate",
        "image size",
        "variant (k-fold)",
    )
    archs = matrix.row("architecture")
    assert [c.held_out for c in archs] == ["mobilenetv3_large_100", "resnet18", "resnet50"]
    assert all(
        c.n_test == 32 and c.n_train == 64 for c in archs
    )  # epoch-0 left out: 2 trained epochs x 8 variants x 2 trials
    assert all(c.r2 is not None and c.r2 > 0.5 and c.spearman > 0.7 for c in archs)
    folds = matrix.row("variant (k-fold)")
    assert [c.held_out for c in folds][-1] == "all folds, pooled" and folds[-1].n_test == 96
    assert sum(c.n_test for c in folds[:-1]) == 96


def test_the_generalization_matrix_is_the_same_every_time(catalog: Catalog) -> None:
    """Tied predictions must break the same way on every call, or Spearman's rho jumps between runs."""
    build_catalog(catalog, archs=("resnet18", "resnet50"), n_variants=6, n_external=0)
    first, second = (evaluate_generalization(catalog, "sharpness", **QUICK) for _ in range(2))
    scores = [[(c.held_out, c.r2, c.r2_log, c.spearman) for c in first.row(axis)] for axis in first.axes]
    assert scores == [[(c.held_out, c.r2, c.r2_log, c.spearman) for c in second.row(axis)] for axis in second.axes]


def test_evaluate_cli_prints_every_cell_as_json_and_draws_a_heatmap(zoo_env: dict[str, str], tmp_path: Path) -> None:
    with _open(zoo_env) as catalog:
        build_catalog(catalog, n_variants=8)
    png = tmp_path / "matrix.png"
    data = json.loads(
        run_zoo(
            "evaluate", "--target", "noisiness", "--trees", "5", "--repeats", "1", "--png", str(png), "--json"
        ).stdout
    )
    assert data["target"] == "noisiness" and data["r2_space"] == "log"
    assert {c["axis"] for c in data["cells"]} == {
        "architecture",
        "base dataset",
        "optimizer",
        "learning rate",
        "image size",
        "variant (k-fold)",
    }
    assert all({"n_train", "n_test", "r2", "r2_log", "spearman"} <= set(c) for c in data["cells"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    raw = run_zoo(
        "evaluate", "--target", "sharpness", "--raw-target", "--trees", "5", "--repeats", "1", "--arch", "resnet*"
    ).output
    assert "R² (raw)" in raw and "convnext_tiny" not in raw and "generalization matrix" in raw
    assert "--target" in run_zoo("evaluate", "--help").output


@pytest.mark.parametrize("feature_set", feature_set_names())
def test_feature_sets_reach_query_fit_and_evaluate(catalog: Catalog, feature_set: str) -> None:
    build_catalog(catalog, n_variants=6)
    fs = get_feature_set(feature_set)
    metric = fs.metrics[-1]
    everything = query_checkpoints(catalog, Selection(min_epoch=1), feature_set=feature_set, limit=None)
    assert everything.columns[-len(fs.metrics) :] == fs.metrics
    values = sorted(r[everything.columns.index(metric)] for r in everything.rows)
    middle = values[len(values) // 2]
    view_where, metric_where = split_metric_wheres([f"{metric}>{middle!r}", "epoch>=1"], fs)
    assert view_where == ("epoch>=1",) and metric_where == ((metric, ">", middle),)
    upper = query_checkpoints(
        catalog, Selection(wheres=view_where), feature_set=feature_set, metric_wheres=metric_where, limit=None
    )
    assert upper.total == sum(v > middle for v in values) and all(
        r[upper.columns.index(metric)] > middle for r in upper.rows
    )
    result = fit_meta_model(
        catalog,
        "sharpness",
        Selection(archs=("resnet50",)),
        Selection(archs=("resnet18",)),
        feature_set=feature_set,
        train_where=metric_where,
        store=False,
        **QUICK,
    )
    assert (
        result.feature_set == fs.key
        and set(result.importances) == set(fs.metrics)
        and f"{metric}>" in result.train_selection
    )
    with pytest.raises(InvalidInput, match="not a metric of"):
        fit_meta_model(
            catalog, "sharpness", Selection(), feature_set=feature_set, train_where=(("no_such_metric", ">", 0.0),)
        )


def test_checkpoint_metrics_view_holds_every_feature_set(catalog: Catalog) -> None:
    built = build_catalog(catalog, n_variants=2, trials=1, epochs=2, n_external=0)
    with catalog.engine.connect() as conn:
        counts = dict(
            conn.execute(sa.text("SELECT feature_set, count(*) FROM checkpoint_metrics GROUP BY feature_set")).all()
        )
        one = conn.execute(
            sa.text(
                "SELECT value FROM checkpoint_metrics WHERE checkpoint_id = :c AND feature_set = 'paper-v1' "
                "AND metric = 'spatial_roughness'"
            ),
            {"c": built.trained_ids[0]},
        ).scalar_one()
        wide = conn.execute(
            sa.text("SELECT spatial_roughness FROM checkpoint_features WHERE checkpoint_id = :c"),
            {"c": built.trained_ids[0]},
        ).scalar_one()
    assert counts == {key: len(built.all_ids) * len(get_feature_set(key).metrics) for key in feature_set_names()}
    assert one == pytest.approx(wide)


def test_query_cli_takes_a_feature_set_and_its_metrics_in_where(zoo_env: dict[str, str]) -> None:
    with _open(zoo_env) as catalog:
        build_catalog(catalog, n_variants=4, trials=1)
    key = feature_set_names()[-1]
    metric = get_feature_set(key).metrics[0]
    rows = json.loads(
        run_zoo(
            "query", "--feature-set", key, "--where", f"{metric}>-1e300", "--min-epoch", "1", "--limit", "0", "--json"
        ).stdout
    )
    assert len(rows) == 16 and metric in rows[0]
    assert "not a metric" not in run_zoo("query", "--feature-set", key, "--limit", "1").output


def test_report_adds_the_generalization_matrices_and_explains_each_row(catalog: Catalog, tmp_path: Path) -> None:
    from zoo.report import build_report
    from zoo.report_write import write_report

    build_catalog(catalog, n_variants=8)
    report = build_report(catalog, repeats=1, n_estimators=5, store=False)
    assert [m.target for m in report.matrices] == ["sharpness", "noisiness"] and report.feature_set == "paper-v1"
    written = {p.name for p in write_report(catalog, report, tmp_path)}
    assert {"matrix-sharpness.png", "matrix-noisiness.png"} <= written
    markdown = (tmp_path / "report.md").read_text()
    assert "## Generalization matrix: sharpness" in markdown and "| architecture | resnet18 |" in markdown
    assert "transfer to an unseen network" in markdown and "the noise variants" in markdown


def test_a_group_split_tests_on_two_groups_when_it_can() -> None:
    """One base × variant group has a single target value, on which R² is undefined."""
    from zoo.metamodel.features import split_by_group

    for n_groups, expected in ((2, 1), (3, 2), (8, 2), (20, 5)):
        groups = np.array([f"g{i % n_groups}" for i in range(4 * n_groups)], dtype=object)
        train, test = split_by_group(groups, 0.25, seed=0)
        assert len(set(groups[test])) == expected and not set(groups[test]) & set(groups[train])
