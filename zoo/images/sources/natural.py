"""The ``natural`` source: random crops of the photographs shipped inside scikit-image (offline)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from zoo.errors import InvalidInput
from zoo.images.sources import register_source
from zoo.images.sources.common import ImageSet, int_param, square_crop, stacked_image_set

__all__ = ["DEFAULT_PHOTOS"]

#: Photographs that ship inside scikit-image (no download): colour and grayscale real-world pictures.
DEFAULT_PHOTOS: tuple[str, ...] = (
    "astronaut", "camera", "chelsea", "coffee", "rocket",
    "hubble_deep_field", "immunohistochemistry", "brick", "grass", "gravel",
)  # fmt: skip


@lru_cache(maxsize=32)
def _photo(name: str) -> np.ndarray:
    """A scikit-image sample photograph as read-only uint8 (h, w, 3); raises if it needs a download."""
    import skimage.data

    image = np.asarray(getattr(skimage.data, name)())
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"skimage.data.{name} is not an 8-bit photograph")
    image = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
    image = np.ascontiguousarray(image)
    image.flags.writeable = False
    return image


@register_source("natural")
def _natural_source(
    *,
    image_size: int,
    seed: int,
    n_per_class: int = 20,
    photos: tuple[str, ...] = DEFAULT_PHOTOS,
    crop_fraction: tuple[float, float] = (0.3, 0.8),
) -> ImageSet:
    """Random square crops of scikit-image's bundled photographs; one class per photograph.

    ``photos`` is a sequence of names from :data:`DEFAULT_PHOTOS` or one comma-separated string.
    Each crop has a side drawn uniformly in ``crop_fraction`` of the photo's shorter side, at a uniform
    random position, then resized to ``image_size``. Photos that cannot be loaded offline are skipped
    and reported as ``("skimage.data.<name>", reason)``.
    """
    n_per_class = int_param("n_per_class", n_per_class, low=1, high=100_000)
    if isinstance(photos, str):  # "astronaut,coffee" from a command line
        photos = tuple(name.strip() for name in photos.split(",") if name.strip())
    unknown = [p for p in photos if p not in DEFAULT_PHOTOS]
    if unknown or not photos:
        raise InvalidInput(f"photos must be a non-empty sequence drawn from {list(DEFAULT_PHOTOS)}; bad: {unknown}")
    low, high = (float(f) for f in crop_fraction)
    if not 0.0 < low <= high <= 1.0:
        raise InvalidInput(f"crop_fraction must satisfy 0 < low <= high <= 1, got {crop_fraction!r}")
    rng = np.random.default_rng(seed)
    images, labels, names, skipped = [], [], [], []
    for name in dict.fromkeys(photos):
        try:
            photo = _photo(name)
        except (ImportError, OSError, ValueError) as exc:  # e.g. pooch missing: needs a download
            skipped.append((f"skimage.data.{name}", f"not available offline: {type(exc).__name__}"))
            continue
        images += _random_crops(photo, n_per_class, low, high, image_size, rng)
        labels += [len(names)] * n_per_class
        names.append(name)
    if not images:
        raise InvalidInput("none of the requested scikit-image photographs could be loaded offline")
    return stacked_image_set(images, labels, tuple(names), skipped=tuple(skipped))


def _random_crops(
    photo: np.ndarray, count: int, low: float, high: float, size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    h, w = photo.shape[:2]
    sides = np.maximum(1, (rng.uniform(low, high, count) * min(h, w)).astype(int))
    tops = (rng.random(count) * (h - sides + 1)).astype(int)
    lefts = (rng.random(count) * (w - sides + 1)).astype(int)
    return [square_crop(photo[t : t + s, l : l + s], size) for s, t, l in zip(sides, tops, lefts)]
