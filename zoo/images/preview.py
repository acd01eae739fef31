"""Preview grids of dataset variants (the paper's Figure 2), written as PNG with PIL only."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from zoo.errors import InvalidInput
from zoo.files import write_atomically

__all__ = ["variant_preview_grid"]

_GAP = 4  # pixels between cells and around the grid
_BACKGROUND = (255, 255, 255)
_TEXT = (0, 0, 0)


def _display_uint8(images: np.ndarray) -> np.ndarray:
    """uint8 copy for display: float images are clipped to [0, 1] (noise) and scaled to 0-255."""
    if images.dtype == np.uint8:
        return images
    return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)


def _validated_rows(rows: Sequence[tuple[str, np.ndarray]]) -> tuple[int, int]:
    """Check every row and return the common image (height, width)."""
    if not rows:
        raise InvalidInput("rows must hold at least one (variant name, images) pair")
    sizes = set()
    for name, images in rows:
        if not isinstance(name, str) or not isinstance(images, np.ndarray):
            raise InvalidInput("each row must be (variant name: str, images: ndarray of shape (N, H, W, 3))")
        if images.ndim != 4 or images.shape[-1] != 3 or images.shape[0] == 0:
            raise InvalidInput(f"row {name!r}: images must have shape (N >= 1, H, W, 3), got {images.shape}")
        if images.dtype != np.uint8 and not np.issubdtype(images.dtype, np.floating):
            raise InvalidInput(f"row {name!r}: images must be uint8 or float, got {images.dtype}")
        sizes.add(images.shape[1:3])
    if len(sizes) != 1:
        raise InvalidInput(f"all rows must share one image size, got {sorted(sizes)}")
    return sizes.pop()


def variant_preview_grid(
    rows: Sequence[tuple[str, np.ndarray]],
    path: str | os.PathLike[str],
    cols: int = 6,
    label_width: int = 110,
) -> Path:
    """Write a PNG grid: one row per variant, its name on the left, then up to ``cols`` sample images.

    Parameters
    ----------
    rows : sequence of (str, ndarray)
        ``(variant name, images)`` with images of shape (N, H, W, 3), uint8 or float in [0, 1] (clipped
        for display). Every row must share H and W; rows with fewer than ``cols`` images leave blanks.
    path : path-like
        Destination PNG; its folder must exist. Written atomically (temp file in the same folder,
        fsync, ``os.replace``), so readers never see a partial file.
    cols : int
        Images per row, >= 1.
    label_width : int
        Width in pixels of the label column, >= 0 (long names are cut off by the first image).

    Returns
    -------
    Path
        ``path``. The PNG is RGB of size ``(label_width + cols * (W + 4) + 4, len(rows) * (H + 4) + 4)``.
    """
    if isinstance(cols, bool) or not isinstance(cols, int) or cols < 1:
        raise InvalidInput(f"cols must be a positive int, got {cols!r}")
    if isinstance(label_width, bool) or not isinstance(label_width, int) or label_width < 0:
        raise InvalidInput(f"label_width must be a non-negative int, got {label_width!r}")
    height, width = _validated_rows(rows)
    target = Path(path)
    if not target.parent.is_dir():
        raise InvalidInput(f"folder {str(target.parent)!r} does not exist; create it before writing {target.name}")
    canvas = Image.new(
        "RGB", (label_width + cols * (width + _GAP) + _GAP, len(rows) * (height + _GAP) + _GAP), _BACKGROUND
    )
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default()
    for r, (name, images) in enumerate(rows):
        top = _GAP + r * (height + _GAP)
        draw.text((_GAP, top + max(0, height // 2 - 6)), name, fill=_TEXT, font=font)  # ~12 px tall font
        for c, image in enumerate(_display_uint8(images[:cols])):
            canvas.paste(Image.fromarray(image), (label_width + _GAP + c * (width + _GAP), top))
    write_atomically(target, lambda handle: canvas.save(handle, format="PNG"))
    return target
