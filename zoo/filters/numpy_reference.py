"""paper-v1's metrics as the vectorized numpy kernels the compiled ones replaced: the reference.

:data:`NUMPY_REFERENCE` maps each paper-v1 metric to its numpy kernel (Qhull for every hull). The registered
metrics of :mod:`zoo.filters.metrics` run compiled kernels (:mod:`zoo.filters.compiled_metrics`) that agree
with these to rounding; ``tests/zoo/filters/test_metrics.py`` checks it (1e-9 relative) and
``benchmarks/bench_metrics.py`` times them against these. Nothing registers them: no feature set uses them.
The helpers they share with the compiled path (norms, weighted means, the wavelet operator) are the ones of
:mod:`zoo.filters.metrics`, so the two differ only in the kernels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from zoo.filters.metrics import (
    _MAD_TO_SIGMA,
    _SPATIAL,
    _bregman_distance,
    _filter_norms,
    _norm_weighted_mean,
    _safe_divide,
    _unit_distance_weighted,
    _wavelet_highpass_matrix,
    convex_hull_volume_qhull,
)
from zoo.filters.split_bregman import tv_denoise


def _pad_reflect(banks: np.ndarray) -> np.ndarray:
    """Pad the two spatial axes by one pixel, scipy.ndimage ``mode="reflect"`` (numpy ``"symmetric"``)."""
    return np.pad(banks, ((0, 0), (0, 0), (0, 0), (1, 1), (1, 1)), mode="symmetric")


def _median_of_nonzero(values: np.ndarray) -> np.ndarray:
    """Median over the last axis of the non-zero entries of ``values >= 0``; 0 where all are zero."""
    count = np.count_nonzero(values, axis=-1)
    ordered = np.sort(np.where(values > 0, values, np.inf), axis=-1)
    low = np.take_along_axis(ordered, np.maximum(count - 1, 0)[..., None] // 2, axis=-1)[..., 0]
    high = np.take_along_axis(ordered, (count // 2)[..., None], axis=-1)[..., 0]
    return np.where(count > 0, (low + high) / 2, 0.0)


# The 4 directions of neighbouring pairs (p, q), as slice bounds (row start, row end offset, column start,
# column end offset) of p and of q: right, down, down-right, down-left.
_NEIGHBOUR_PAIRS = (
    ((0, 0, 0, -1), (0, 0, 1, 0)),
    ((0, -1, 0, 0), (1, 0, 0, 0)),
    ((0, -1, 0, -1), (1, 0, 1, 0)),
    ((0, -1, 1, 0), (1, 0, 0, -1)),
)


def channel_saturation_numpy(banks: np.ndarray) -> np.ndarray:
    low = banks.min(axis=_SPATIAL, keepdims=True)
    span = banks.max(axis=_SPATIAL, keepdims=True) - low
    normalised = _safe_divide(banks - low, span)
    norms_normalised = _filter_norms(normalised)
    diff_01 = np.sqrt(np.square(normalised[:, :, 0] - normalised[:, :, 1]).sum(axis=(2, 3)))
    diff_12 = np.sqrt(np.square(normalised[:, :, 1] - normalised[:, :, 2]).sum(axis=(2, 3)))
    total = _filter_norms(banks).sum(axis=1)
    return _safe_divide((norms_normalised * diff_01 * diff_12).sum(axis=1), 2.0 * np.square(total))


def dist_to_gaussian_numpy(banks: np.ndarray) -> np.ndarray:
    padded = _pad_reflect(banks)
    rows = (padded[..., :-2, :] + 2.0 * padded[..., 1:-1, :] + padded[..., 2:, :]) / 4.0
    blurred = (rows[..., :-2] + 2.0 * rows[..., 1:-1] + rows[..., 2:]) / 4.0
    return _unit_distance_weighted(banks, blurred, _filter_norms(banks))


def filter_variance_numpy(banks: np.ndarray) -> np.ndarray:
    return _norm_weighted_mean(banks.var(axis=_SPATIAL), _filter_norms(banks))


def spatial_roughness_numpy(banks: np.ndarray) -> np.ndarray:
    size = banks.shape[-1]
    interior = np.zeros((size, size))
    interior[1 : size - 1, 1 : size - 1] = 1.0
    total = np.zeros(banks.shape[:2])
    for first, second in _NEIGHBOUR_PAIRS:
        rows_a, cols_a = slice(first[0], size + first[1]), slice(first[2], size + first[3])
        rows_b, cols_b = slice(second[0], size + second[1]), slice(second[2], size + second[3])
        distance = np.sqrt(np.square(banks[..., rows_b, cols_b] - banks[..., rows_a, cols_a]).sum(axis=2))
        centres = interior[rows_a, cols_a] + interior[rows_b, cols_b]  # 0, 1 or 2 interior ends
        total += np.einsum("bnij,ij->bn", distance, centres)
    return _safe_divide(total.sum(axis=1) / 8.0, _filter_norms(banks).sum(axis=1))


def bregman_distance_numpy(banks: np.ndarray) -> np.ndarray:
    return _bregman_distance(banks, tv_denoise)


def laplacian_variance_numpy(banks: np.ndarray) -> np.ndarray:
    padded = _pad_reflect(banks)
    laplacian = (
        padded[..., :-2, 1:-1]
        + padded[..., 2:, 1:-1]
        + padded[..., 1:-1, :-2]
        + padded[..., 1:-1, 2:]
        - 4.0 * padded[..., 1:-1, 1:-1]
    )
    return _norm_weighted_mean(laplacian.var(axis=_SPATIAL), _filter_norms(banks))


def wavelet_noise_sigma_numpy(banks: np.ndarray) -> np.ndarray:
    highpass = _wavelet_highpass_matrix(banks.shape[-1])
    detail = highpass @ banks @ highpass.T
    sigmas = _median_of_nonzero(np.abs(detail).reshape(*banks.shape[:3], -1)) / _MAD_TO_SIGMA
    return _norm_weighted_mean(sigmas.mean(axis=2), _filter_norms(banks))


NUMPY_REFERENCE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "channel_saturation": channel_saturation_numpy,
    "convex_hull_volume": convex_hull_volume_qhull,
    "dist_to_gaussian": dist_to_gaussian_numpy,
    "filter_variance": filter_variance_numpy,
    "spatial_roughness": spatial_roughness_numpy,
    "bregman_distance": bregman_distance_numpy,
    "laplacian_variance": laplacian_variance_numpy,
    "wavelet_noise_sigma": wavelet_noise_sigma_numpy,
}
"""paper-v1's metrics as vectorized numpy kernels (Qhull for every hull): what the registered kernels computed
before they were compiled. Same signature as theirs, ``(B, N, 3, n, n)`` float64 -> ``(B,)``; kept for the
equality tests and as the baseline of ``benchmarks/bench_metrics.py``."""
