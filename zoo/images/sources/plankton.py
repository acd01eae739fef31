"""The ``plankton`` source: a synthetic WHOI-Plankton stand-in of grayscale dark-field micrographs."""

from __future__ import annotations

import numpy as np

from zoo.images.sources import register_source
from zoo.images.sources.common import ImageSet, int_param
from zoo.images.sources.plankton_render import PLANKTON_CLASSES, render_plankton


@register_source("plankton")
def _plankton_source(*, image_size: int, seed: int, n_per_class: int = 20, supersample: int = 3) -> ImageSet:
    """Synthetic WHOI-Plankton stand-in: ``n_per_class`` grayscale micrographs of each of 6 plankton kinds."""
    n_per_class = int_param("n_per_class", n_per_class, low=1, high=100_000)
    supersample = int_param("supersample", supersample, low=1, high=4)
    labels = np.repeat(np.arange(len(PLANKTON_CLASSES)), n_per_class)
    images = render_plankton(labels, image_size, np.random.default_rng(seed), supersample)
    return ImageSet(images, labels.astype(np.int64), PLANKTON_CLASSES, True)
