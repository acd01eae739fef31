"""A miniature of the README's main job: a grid over both built-in datasets, then `zoo report`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clirunner import run_zoo
from zoo.catalog import Catalog
from zoo.metamodel import fit_predictions

pytestmark = pytest.mark.slow

MINI_GRID = """
name = "mini"
archs = ["resnet18", "resnet50", "mobilenetv3_large_100"]
optimizers = ["adam"]
epochs = 1
checkpoint_every = 1
trials = 1
image_size = 16
batch_size = 8
steps_per_epoch = 1
reference = "random"

[[datasets]]
name = "natural-mini"
source = "natural"
params = { n_per_class = 2 }
variants = ["original", "blur-k7-s2", "noise-0.5", "dilate-2"]

[[datasets]]
name = "shapes-mini"
source = "shapes"
params = { n_per_class = 3, scale = 0.5 }
variants = ["original", "blur-k7-s2", "noise-0.5", "dilate-2"]
"""


EXPECTED_ROWS = [
    ("resnet50 → resnet18", "sharpness", "raw"),
    ("resnet50 → resnet18", "noisiness", "raw"),
    ("resnet50 → resnet18", "object_scale", "raw"),
    ("resnet50 → resnet18, no dilation", "object_scale", "raw"),
    ("others → mobilenetv3_large_100", "sharpness", "raw"),
    ("others → mobilenetv3_large_100", "noisiness", "raw"),
    ("resnet50 → resnet18", "sharpness", "log"),
    ("resnet50 → resnet18", "noisiness", "log"),
]


def _r2(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(1.0 - np.sum((truth - predicted) ** 2) / np.sum((truth - truth.mean()) ** 2))


def test_grid_then_report_reproduces_the_table_1_protocol(zoo_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    grid = tmp_path / "mini.toml"
    grid.write_text(MINI_GRID)
    assert "24 runs queued" in run_zoo("ingest", "--run-grid", str(grid), "--samples", "12").output
    out = tmp_path / "report"
    rows = json.loads(
        run_zoo("report", "--out", str(out), "--repeats", "2", "--json").stdout
    )  # progress lines go to stderr
    by_key = {(r["experiment"], r["target"], r["space"]): r for r in rows}
    assert [(r["experiment"], r["target"], r["space"]) for r in rows] == EXPECTED_ROWS  # every Table 1 row, in order
    # The miniature renders shapes at one scale: without dilation, object scale has nothing to vary with.
    undilated = by_key.pop(("resnet50 → resnet18, no dilation", "object_scale", "raw"))
    assert (
        undilated["fit_id"] is None
        and "object_scale takes one value (0.5) on every test checkpoint" in undilated["note"]
    )
    for row in by_key.values():
        assert row["note"] == "" and row["fit_id"] is not None and row["n_test"] > 0  # each row fitted and stored
        assert np.isfinite(row["r2_mean"]) and row["r2_std"] >= 0
    for target, n in (("sharpness", 8), ("noisiness", 8), ("object_scale", 4)):  # object scale: shapes only
        row = by_key[("resnet50 → resnet18", target, "raw")]
        assert row["n_train"] == row["n_test"] == n  # one epoch-1 checkpoint per (dataset, variant) and architecture
    # The learning is real: the log-sharpness fit orders resnet18's checkpoints better than every shuffled
    # pairing of its predictions with the truth but a few (a permutation test, 2,000 shuffles).
    log_sharpness = by_key[("resnet50 → resnet18", "sharpness", "log")]
    with Catalog.open(zoo_env["ZOO_DATABASE_URL"], artifacts=zoo_env["ZOO_ARTIFACTS"]) as catalog:
        predictions = fit_predictions(catalog, log_sharpness["fit_id"])
    truth = np.log([p.y_true for p in predictions])
    predicted = np.log([p.y_pred for p in predictions])
    assert len(truth) == 8  # resnet18's eight checkpoints, one per (dataset, variant)
    observed = _r2(truth, predicted)
    rng = np.random.default_rng(0)
    shuffled = np.array([_r2(rng.permutation(truth), predicted) for _ in range(2000)])
    assert observed == pytest.approx(log_sharpness["r2_mean"], abs=0.1)  # same predictions, averaged over seeds first
    assert observed > 0.5 and (shuffled >= observed).mean() < 0.05, (observed, np.percentile(shuffled, 95))
    held_out = by_key[("others → mobilenetv3_large_100", "sharpness", "raw")]
    assert held_out["n_train"] == 16 and held_out["n_test"] == 8
    assert by_key[("resnet50 → resnet18", "sharpness", "log")]["paper"] is None
    assert by_key[("resnet50 → resnet18", "sharpness", "raw")]["paper"] == "0.922 ± 0.004"
    markdown = (out / "report.md").read_text()
    assert (
        "| resnet50 → resnet18 | sharpness | raw target |" in markdown
        and "## Software" in markdown
        and '"name": "mini"' in markdown
    )
    figures = sorted(p.name for p in out.glob("*.png"))
    fig3 = [f for f in figures if f.startswith("fig3-checkpoint-")]
    assert len(fig3) == 1 and len([f for f in figures if f.startswith("fig4-")]) == len(by_key)  # one per fitted row
    assert {"matrix-sharpness.png", "matrix-noisiness.png"} <= set(
        figures
    ) and "## Generalization matrix: sharpness" in markdown
    image = np.asarray(Image.open(out / "fig4-sharpness-resnet50-to-resnet18.png").convert("RGB"))
    assert image.std() > 5 and len(np.unique(image.reshape(-1, 3), axis=0)) > 10


def test_report_on_an_empty_catalog_says_what_to_do(zoo_env) -> None:  # type: ignore[no-untyped-def]
    result = run_zoo("report", expect=1)
    assert "zoo ingest --run-grid" in result.output and "Traceback" not in result.output
