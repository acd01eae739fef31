"""The ``shapes`` source: a synthetic BlenderShapes stand-in with a known object scale."""

from __future__ import annotations

import numpy as np

from zoo.errors import InvalidInput
from zoo.images.sources import register_source
from zoo.images.sources.common import ImageSet, int_param
from zoo.images.sources.shapes_render import SHAPE_CLASSES, SHAPE_SCALES, render_shapes


@register_source("shapes")
def _shapes_source(
    *, image_size: int, seed: int, n_per_class: int = 10, scale: float = SHAPE_SCALES[2], supersample: int = 2
) -> ImageSet:
    """Synthetic BlenderShapes stand-in: ``n_per_class`` images of each of the 6 primitives at ``scale``."""
    n_per_class = int_param("n_per_class", n_per_class, low=1, high=100_000)
    supersample = int_param("supersample", supersample, low=1, high=4)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.0 < scale <= 2.0:
        raise InvalidInput(f"scale must be a number in (0, 2] (the paper's five: {SHAPE_SCALES}), got {scale!r}")
    labels = np.repeat(np.arange(len(SHAPE_CLASSES)), n_per_class)
    rng = np.random.default_rng(seed)
    chunks = []
    for start in range(0, len(labels), 64):  # bounds the supersampled working memory
        chunks.append(render_shapes(labels[start : start + 64], float(scale), image_size, rng, supersample)[0])
    images = np.concatenate(chunks)
    return ImageSet(images, labels.astype(np.int64), SHAPE_CLASSES, False, object_scale=float(scale))
