"""``paper-literal-v1``: the paper's eight metrics with its two ambiguous choices read the other way.

A sensitivity check, not a default. ``paper-v1`` (:mod:`zoo.filters.metrics`) resolves what section 3.2
leaves open in the way that keeps each metric a smooth, border-neutral function of the filter. A reader
could equally take the plainest reading of the text and the libraries it names; this set does that for the
two choices where the readings differ most, and keeps the other six metrics of ``paper-v1`` unchanged, so
comparing fits on the two sets (``zoo report --feature-set``) shows how much the reading matters:

``dist_to_gaussian_zero_pad``
    The 3x3 Gaussian blur with a zero border, as a plain ``conv2d(padding=1)`` or
    ``scipy.ndimage.convolve(mode="constant")`` does. The border pixels lose a quarter to a half of their
    weight to the zeros, so small kernels (3x3: 8 of 9 pixels are border) look far from their blur.
``bregman_distance_skimage_default``
    :func:`skimage.restoration.denoise_tv_bregman` called as the paper's citation suggests, with every
    argument at its default (``weight=5``, ``max_num_iter=100``, ``eps=1e-3``, isotropic) on the filter as an
    ``(n, n, 3)`` image, ``channel_axis=None``. The default stop rule is an *absolute* tolerance on the RMS
    update, so on deltas of ~1e-2 the solver stops after one or two sweeps: the metric then depends on the
    units of the weights. One call per filter (the stop test couples a filter's three channels), so this
    set is slower than ``paper-v1``.
"""

from __future__ import annotations

import numpy as np
from skimage.restoration import denoise_tv_bregman

from zoo.filters.featuresets import PAPER_V1, FeatureSet, register_feature_set, register_metric
from zoo.filters.metrics import _filter_norms, _unit_distance_weighted

__all__ = ["PAPER_LITERAL", "bregman_distance_skimage_default", "dist_to_gaussian_zero_pad"]


@register_metric("dist_to_gaussian_zero_pad")
def dist_to_gaussian_zero_pad(banks: np.ndarray) -> np.ndarray:
    """:func:`zoo.filters.metrics.dist_to_gaussian` with a zero border for the blur instead of ``reflect``.

    Parameters
    ----------
    banks : ndarray, shape (N, 3, n, n) or (B, N, 3, n, n)

    Returns
    -------
    float or ndarray (B,), in [0, 2]; scale-invariant, 0 for an all-zero bank
    """
    padded = np.pad(banks, ((0, 0), (0, 0), (0, 0), (1, 1), (1, 1)))
    rows = (padded[..., :-2, :] + 2.0 * padded[..., 1:-1, :] + padded[..., 2:, :]) / 4.0
    blurred = (rows[..., :-2] + 2.0 * rows[..., 1:-1] + rows[..., 2:]) / 4.0
    return _unit_distance_weighted(banks, blurred, _filter_norms(banks))


@register_metric("bregman_distance_skimage_default")
def bregman_distance_skimage_default(banks: np.ndarray) -> np.ndarray:
    """:func:`zoo.filters.metrics.bregman_distance` with skimage's default arguments and stop rule.

    Parameters
    ----------
    banks : ndarray, shape (N, 3, n, n) or (B, N, 3, n, n)

    Returns
    -------
    float or ndarray (B,), in [0, 2]; depends on the units of the weights (module notes)
    """
    filters = np.ascontiguousarray(np.moveaxis(banks.reshape(-1, *banks.shape[2:]), 1, -1))  # (B*N, n, n, 3)
    denoised = np.stack([denoise_tv_bregman(image) for image in filters])
    denoised = np.moveaxis(denoised, -1, 1).reshape(banks.shape)
    return _unit_distance_weighted(banks, denoised, _filter_norms(banks))


_LITERAL = {"dist_to_gaussian": "dist_to_gaussian_zero_pad", "bregman_distance": "bregman_distance_skimage_default"}

PAPER_LITERAL = register_feature_set(
    FeatureSet(name="paper-literal", version=1, metrics=tuple(_LITERAL.get(name, name) for name in PAPER_V1.metrics))
)
"""``paper-v1`` with the blur's border and the Bregman stop rule read literally (module notes)."""
