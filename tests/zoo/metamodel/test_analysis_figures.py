"""Figure 3 (`zoo show --png`) and Figure 4 (`zoo fit --plot`): valid PNGs of the stated size, not blank."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clirunner import run_zoo
from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.files import TEMP_PREFIX
from zoo.plots import FIT_FIGURE_DPI, FIT_FIGURE_SIZE, bank_image, filter_figure_size

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_real_png(path: Path, size: tuple[int, int]) -> np.ndarray:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.size == size
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.std() > 0 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 1
    assert not [
        p for p in path.parent.iterdir() if p.name.startswith(TEMP_PREFIX)
    ]  # written atomically, nothing left over
    return pixels


def _build(env: dict[str, str]):  # type: ignore[no-untyped-def]
    with Catalog.open(env["ZOO_DATABASE_URL"], artifacts=env["ZOO_ARTIFACTS"]) as catalog:
        return build_catalog(catalog, n_variants=6, trials=1, epochs=2)


def test_show_writes_reference_learned_and_delta_filters_side_by_side(zoo_env: dict[str, str], tmp_path: Path) -> None:
    built = _build(zoo_env)
    target = tmp_path / "figure3.png"
    result = run_zoo("show", str(built.by_arch["resnet18"][1]), "--png", str(target))
    assert "checkpoint_id" in result.output and "resnet18" in result.output
    pixels = assert_real_png(target, filter_figure_size(16, (5, 5)))
    thirds = np.array_split(pixels, 3, axis=1)
    assert all(part.std() > 0 for part in thirds)  # each of the three panels has content
    row = json.loads(run_zoo("show", str(built.external[0]), "--json").stdout)
    assert row["source"] == "file" and row["arch"] == "convnext_tiny"


def test_show_refuses_a_missing_checkpoint_or_folder(zoo_env: dict[str, str], tmp_path: Path) -> None:
    built = _build(zoo_env)
    assert "there is no checkpoint 999" in run_zoo("show", "999", expect=1).output
    missing = run_zoo("show", str(built.all_ids[0]), "--png", str(tmp_path / "nowhere" / "f.png"), expect=1)
    assert "does not exist" in missing.output and not (tmp_path / "nowhere").exists()


def test_fit_plot_draws_truth_and_predictions(zoo_env: dict[str, str], tmp_path: Path) -> None:
    _build(zoo_env)
    target = tmp_path / "figure4.png"
    run_zoo(
        "fit",
        "--target",
        "sharpness",
        "--train-arch",
        "resnet50",
        "--test-arch",
        "resnet18",
        "--trees",
        "5",
        "--repeats",
        "2",
        "--plot",
        str(target),
    )
    width, height = (round(inches * FIT_FIGURE_DPI) for inches in FIT_FIGURE_SIZE)
    pixels = assert_real_png(target, (width, height))
    red, green, blue = (pixels[..., i].astype(int) for i in range(3))
    assert ((green - red > 60) & (green - blue > 30)).sum() > 50  # the green ground-truth line
    assert ((blue - red > 60) & (blue - green > 20)).sum() > 50  # the blue predictions


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_bank_image_normalises_each_filter_and_handles_any_channel_count(channels: int) -> None:
    rng = np.random.default_rng(channels)
    bank = rng.normal(size=(5, channels, 3, 3)) * np.array([1e-6, 1.0, 1e3, 0.0, 5.0])[:, None, None, None]
    image = bank_image(bank)
    rows, cols, zoom = 2, 3, 10  # ceil(sqrt(5)) columns; 3x3 kernels drawn 10x
    assert image.shape == (rows * (3 * zoom + 2) + 2, cols * (3 * zoom + 2) + 2, 3) and image.dtype == np.uint8
    tiles = [
        image[2 + (i // cols) * 32 : 2 + (i // cols) * 32 + 30, 2 + (i % cols) * 32 : 2 + (i % cols) * 32 + 30]
        for i in range(5)
    ]
    for i, tile in enumerate(tiles):
        if i == 3:
            assert (tile == 128).all()  # a constant filter is mid-grey
        else:
            assert tile.min() == 0 and tile.max() == 255  # min/max normalised per filter, whatever its scale
    if channels != 3:
        assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()
