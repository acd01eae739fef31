"""Specifications of the variant preview grid (the paper's Figure 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoo.errors import InvalidInput
from zoo.images.preview import variant_preview_grid
from zoo.images.transforms import PAPER_VARIANTS, apply_transform


def sample_rows(count: int = 3, size: int = 16) -> list[tuple[str, np.ndarray]]:
    images = np.random.default_rng(0).random((count, size, size, 3)).astype(np.float32)
    rng = np.random.default_rng(1)
    return [(v.name, apply_transform(v.kind, v.params, images, rng)) for v in PAPER_VARIANTS]


def test_grid_png_has_one_row_per_variant_and_the_documented_size(tmp_path: Path) -> None:
    path = variant_preview_grid(sample_rows(), tmp_path / "grid.png", cols=4, label_width=80)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        assert image.size == (80 + 4 * (16 + 4) + 4, 20 * (16 + 4) + 4)
        pixels = np.asarray(image)
    assert pixels.std() > 10  # not blank
    label_column = pixels[:, :80]
    assert (label_column < 128).any()  # the variant names were drawn
    assert list(tmp_path.iterdir()) == [tmp_path / "grid.png"]  # no temp file left behind


def test_grid_replaces_an_existing_file_and_accepts_uint8_rows(tmp_path: Path) -> None:
    target = tmp_path / "grid.png"
    target.write_bytes(b"old")
    rows = [("original", np.full((2, 8, 8, 3), 200, np.uint8))]
    variant_preview_grid(rows, target, cols=6)
    with Image.open(target) as image:
        assert image.size == (110 + 6 * 12 + 4, 12 + 4)


@pytest.mark.parametrize(
    ("rows", "cols"),
    [
        ([], 6),
        ([("a", np.zeros((1, 8, 8, 3), np.uint8)), ("b", np.zeros((1, 9, 8, 3), np.uint8))], 6),
        ([("a", np.zeros((0, 8, 8, 3), np.uint8))], 6),
        ([("a", np.zeros((1, 8, 8, 3), np.uint8))], 0),
    ],
    ids=["no-rows", "mixed-sizes", "no-images", "zero-cols"],
)
def test_bad_rows_are_invalid_input(tmp_path: Path, rows: list, cols: int) -> None:
    with pytest.raises(InvalidInput):
        variant_preview_grid(rows, tmp_path / "grid.png", cols=cols)


def test_missing_destination_folder_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        variant_preview_grid([("a", np.zeros((1, 8, 8, 3), np.uint8))], tmp_path / "nope" / "grid.png")
