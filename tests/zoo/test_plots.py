"""Figure 3 (`zoo show --png`) and Figure 4 (`zoo fit --plot`) say what they show.

The title of each is drawn on the figure and stored as the PNG's Title text; Figure 4's y axis turns
logarithmic for a raw target spanning more than two orders of magnitude (stored as its Description).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from clirunner import run_zoo
from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.metamodel import PredictionRecord
from zoo.plots import filter_figure_size, filter_figure_title, fit_figure_title, uses_log_axis, write_fit_figure


def test_filter_figure_title_names_the_checkpoint_its_data_and_epoch() -> None:
    run = {
        "checkpoint_id": 42,
        "arch": "resnet18",
        "base_dataset": "natural-32",
        "variant": "blur-k7-s2",
        "epoch": 2,
        "source": "run",
    }
    assert filter_figure_title(run) == "checkpoint 42: resnet18 on natural-32 / blur-k7-s2, epoch 2"
    external = {
        "checkpoint_id": 7,
        "arch": "convnext_tiny",
        "base_dataset": None,
        "variant": None,
        "epoch": None,
        "source": "file",
        "origin": "/models/m.safetensors",
    }
    assert filter_figure_title(external) == "checkpoint 7: convnext_tiny on file /models/m.safetensors"


def test_zoo_show_draws_the_title_above_the_panels(zoo_env: dict[str, str], tmp_path: Path) -> None:
    with Catalog.open(zoo_env["ZOO_DATABASE_URL"], artifacts=zoo_env["ZOO_ARTIFACTS"]) as catalog:
        built = build_catalog(catalog, n_variants=2, trials=1, epochs=2, n_external=0)
    checkpoint = built.by_arch["resnet50"][-1]  # variant v01 (shapes_32), epoch 1
    target = tmp_path / "f3.png"
    run_zoo("show", str(checkpoint), "--png", str(target))
    with Image.open(target) as image:
        assert image.text["Title"] == f"checkpoint {checkpoint}: resnet50 on shapes_32 / v01, epoch 1"
        assert image.size == filter_figure_size(16, (5, 5))
        pixels = np.asarray(image.convert("L"))
    title_band = pixels[12:30, : image.size[0] // 3]  # MARGIN .. MARGIN + TITLE_HEIGHT, over the first panel
    assert (title_band < 128).sum() > 50  # text is drawn there


def _fit(**changes: object) -> SimpleNamespace:
    fields = dict(
        id=7,
        target="sharpness",
        log_target=False,
        r2_mean=0.9123,
        r2_std=0.0041,
        test_fraction=None,
        split="selections",
        train_selection="arch=resnet50,min_epoch=1",
        test_selection="arch=resnet18,min_epoch=1",
        n_train=1200,
        n_test=40,
    )
    return SimpleNamespace(**{**fields, **changes})


def test_fit_figure_title_names_the_fit_its_selections_split_and_r2() -> None:
    assert fit_figure_title(_fit()) == (
        "fit 7: sharpness (raw target), test R² = 0.912 ± 0.004\n"
        "train arch=resnet50,min_epoch=1 → test arch=resnet18,min_epoch=1; split: selections; 1,200 train / 40 test"
    )
    held = fit_figure_title(
        _fit(id=None, log_target=True, test_fraction=0.25, split="variant", test_selection="arch=resnet50,min_epoch=1")
    )
    assert held.startswith("fit (not stored): sharpness (log target)")
    assert (
        "arch=resnet50,min_epoch=1, 0.25 of its base dataset × variant groups held out for test; split: variant" in held
    )


@pytest.mark.parametrize(
    ("log_target", "truth", "expected"),
    [
        (False, [1e-3, 0.05, 0.2], True),  # 200x: more than two orders of magnitude
        (False, [0.01, 0.5, 0.9], False),  # 90x
        (False, [0.0, 1e-3, 1.0], False),  # a zero cannot go on a log axis
        (False, [], False),
        (True, [0.01, 0.02], True),  # a log-target fit is always drawn on a log axis
    ],
)
def test_uses_log_axis_when_a_positive_raw_target_spans_orders_of_magnitude(
    log_target: bool, truth: list[float], expected: bool
) -> None:
    assert uses_log_axis(log_target, truth) is expected


def test_write_fit_figure_puts_a_wide_raw_target_on_a_log_axis(tmp_path: Path) -> None:
    truth = np.geomspace(1e-4, 1e-1, 20)
    predictions = [
        PredictionRecord(checkpoint_id=i, run_id=i, y_true=float(t), y_pred=float(t) * 1.2) for i, t in enumerate(truth)
    ]
    wide = write_fit_figure(_fit(), tmp_path / "wide.png", predictions)
    shifted = [
        PredictionRecord(checkpoint_id=p.checkpoint_id, run_id=p.run_id, y_true=p.y_true + 1, y_pred=p.y_pred + 1)
        for p in predictions
    ]
    narrow = write_fit_figure(_fit(), tmp_path / "narrow.png", shifted)  # 1.0001 .. 1.1: same points, narrow span
    with Image.open(wide) as image:
        assert image.text["Description"] == "sharpness on a log y axis"
        assert image.text["Title"].startswith(
            "fit 7: sharpness (raw target), test R² = 0.912 ± 0.004; train arch=resnet50"
        )
    with Image.open(narrow) as image:
        assert image.text["Description"] == "sharpness on a linear y axis"


def test_zoo_fit_plot_carries_the_fit_id_and_selections(zoo_env: dict[str, str], tmp_path: Path) -> None:
    with Catalog.open(zoo_env["ZOO_DATABASE_URL"], artifacts=zoo_env["ZOO_ARTIFACTS"]) as catalog:
        build_catalog(catalog, n_variants=4, trials=1, epochs=2, n_external=0)
    target = tmp_path / "f4.png"
    run_zoo(
        "fit",
        "--target",
        "noisiness",
        "--train-arch",
        "resnet50",
        "--test-arch",
        "resnet18",
        "--trees",
        "3",
        "--repeats",
        "1",
        "--plot",
        str(target),
    )
    with Image.open(target) as image:
        title = image.text["Title"]
    assert title.startswith("fit 1: noisiness (raw target), test R² = ")
    assert "train arch=resnet50 → test arch=resnet18; split: selections; 4 train / 4 test" in title
