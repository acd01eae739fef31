"""What every image source shares: the :class:`ImageSet` it returns and its parameter and pixel helpers.

Square outputs are made the same way everywhere: the centred square of side ``min(h, w)`` (equivalent
to shorter-side resize then centre crop) resized with PIL's antialiased bilinear filter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from zoo.errors import InvalidInput

__all__ = ["ImageSet", "int_param", "square_crop", "stacked_image_set"]


@dataclass(frozen=True)
class ImageSet:
    """Decoded images of one source, ready for measuring, transforming and training.

    Attributes
    ----------
    images : ndarray, shape (N, S, S, 3), uint8
        RGB images (grayscale ones as three equal channels); read-only.
    labels : ndarray, shape (N,), int64
        Class index of each image, in ``range(len(class_names))``; read-only.
    class_names : tuple of str
        Name of each class index.
    grayscale : bool
        True when every image is grayscale.
    object_scale : float or None
        Known relative object scale (rendered sources), else None.
    skipped : tuple of (str, str)
        ``(path, reason)`` for each input that was skipped and why.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    grayscale: bool
    object_scale: float | None = None
    skipped: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[-1] != 3:
            got = f"{self.images.dtype} {self.images.shape}"
            raise InvalidInput(f"ImageSet.images must be uint8 (N, H, W, 3), got {got}")
        if self.labels.dtype != np.int64 or self.labels.shape != self.images.shape[:1]:
            raise InvalidInput(f"ImageSet.labels must be int64 of shape ({self.images.shape[0]},)")
        if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise InvalidInput("ImageSet.labels must index class_names")
        self.images.flags.writeable = False
        self.labels.flags.writeable = False


def int_param(name: str, value: object, low: int, high: int) -> int:
    """``value`` as an int; InvalidInput naming ``name`` unless it is an integer (not a bool) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise InvalidInput(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)


def square_crop(image: np.ndarray, size: int) -> np.ndarray:
    """Centred square crop of side min(h, w), resized to (size, size) with antialiased bilinear; uint8."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = Image.fromarray(np.ascontiguousarray(image[top : top + side, left : left + side]))
    return np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def stacked_image_set(
    images: list[np.ndarray], labels: list[int], class_names: tuple[str, ...], **extra: object
) -> ImageSet:
    """An :class:`ImageSet` of equally sized uint8 (h, w, 3) images; grayscale when every image is."""
    stack = np.stack(images).astype(np.uint8, copy=False)
    grayscale = bool(((stack[..., 0] == stack[..., 1]) & (stack[..., 1] == stack[..., 2])).all())
    return ImageSet(stack, np.asarray(labels, dtype=np.int64), class_names, grayscale, **extra)
