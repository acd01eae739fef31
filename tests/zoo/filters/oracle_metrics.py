"""Reference implementations of the paper's eight filter metrics: one filter at a time, straight from the
formulas of section 3.2, with the per-image scipy and scikit-image calls the paper names.

Written for clarity, not speed. It is the oracle of ``test_metrics.py`` and the baseline of
``benchmarks/bench_metrics.py``. Only the choices the paper leaves open come from :mod:`zoo.filters.metrics`
(Bregman weight and sweep count); every formula is re-derived here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError
from skimage.restoration import denoise_tv_bregman, estimate_sigma

from zoo.filters.metrics import BREGMAN_SWEEPS, BREGMAN_WEIGHT

GAUSSIAN = np.array([[1 / 16, 1 / 8, 1 / 16], [1 / 8, 1 / 4, 1 / 8], [1 / 16, 1 / 8, 1 / 16]])
LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float)


def norm(x: np.ndarray) -> float:
    return float(np.linalg.norm(np.ravel(x)))


def unit(x: np.ndarray) -> np.ndarray:
    size = norm(x)
    return x / size if size > 0 else np.zeros_like(x)


def per_channel(filt: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return np.stack([ndimage.convolve(channel, kernel, mode="reflect") for channel in filt])


def norm_weighted_average(bank: np.ndarray, value: Callable[[np.ndarray], float]) -> float:
    total = sum(norm(f) for f in bank)
    return sum(norm(f) * value(f) for f in bank) / total if total > 0 else 0.0


def channel_saturation(bank: np.ndarray) -> float:
    total = sum(norm(f) for f in bank)
    if total == 0:
        return 0.0
    result = 0.0
    for f in bank:
        low, high = f.min(), f.max()
        fn = (f - low) / (high - low) if high > low else np.zeros_like(f)
        result += norm(fn) * norm(fn[0] - fn[1]) * norm(fn[1] - fn[2]) / (2 * total**2)
    return result


def convex_hull_volume(bank: np.ndarray) -> float:
    low, high = bank.min(), bank.max()
    if high == low:
        return 0.0
    n_filters, _, size, _ = bank.shape
    points = [bank[i, :, a, b] for i in range(n_filters) for a in range(size) for b in range(size)]
    try:
        return ConvexHull((np.array(points) - low) / (high - low)).volume
    except QhullError:
        return 0.0


def dist_to_gaussian(bank: np.ndarray) -> float:
    return norm_weighted_average(bank, lambda f: norm(unit(f) - unit(per_channel(f, GAUSSIAN))))


def filter_variance(bank: np.ndarray) -> float:
    return norm_weighted_average(bank, lambda f: float(np.var(f)))


def spatial_roughness(bank: np.ndarray) -> float:
    total = sum(norm(f) for f in bank)
    if total == 0:
        return 0.0
    size = bank.shape[-1]
    result = 0.0
    for f in bank:
        g = unit(f)
        rough = 0.0
        for j in range(1, size - 1):
            for k in range(1, size - 1):
                for a in (-1, 0, 1):
                    for b in (-1, 0, 1):
                        rough += norm(g[:, j + a, k + b] - g[:, j, k])
        result += norm(f) / 8 * rough
    return result / total


def bregman_denoise(f: np.ndarray) -> np.ndarray:
    # channel_axis=None on an (n, n, 3) image: skimage's kernel denoises the last axis channel by channel,
    # each from a zero start (channel_axis=-1 would warm-start each channel from the previous one).
    image = np.ascontiguousarray(f.transpose(1, 2, 0))
    out = denoise_tv_bregman(
        image, weight=BREGMAN_WEIGHT, max_num_iter=BREGMAN_SWEEPS, eps=0.0, isotropic=True, channel_axis=None
    )
    return out.reshape(image.shape).transpose(2, 0, 1)


def bregman_distance(bank: np.ndarray) -> float:
    return norm_weighted_average(bank, lambda f: norm(unit(f) - unit(bregman_denoise(f))))


def laplacian_variance(bank: np.ndarray) -> float:
    return norm_weighted_average(bank, lambda f: float(np.var(per_channel(f, LAPLACIAN))))


def filter_sigma(f: np.ndarray) -> float:
    with warnings.catch_warnings():  # small-image and empty-median warnings from skimage/numpy
        warnings.simplefilter("ignore")
        sigmas = estimate_sigma(f.transpose(1, 2, 0), channel_axis=-1, average_sigmas=False)
    return float(np.mean(np.nan_to_num(sigmas, nan=0.0)))


def wavelet_noise_sigma(bank: np.ndarray) -> float:
    return norm_weighted_average(bank, filter_sigma)


ORACLE: dict[str, Callable[[np.ndarray], float]] = {
    "channel_saturation": channel_saturation,
    "convex_hull_volume": convex_hull_volume,
    "dist_to_gaussian": dist_to_gaussian,
    "filter_variance": filter_variance,
    "spatial_roughness": spatial_roughness,
    "bregman_distance": bregman_distance,
    "laplacian_variance": laplacian_variance,
    "wavelet_noise_sigma": wavelet_noise_sigma,
}


def oracle_featurize(bank: np.ndarray) -> dict[str, float]:
    """All eight metrics of one ``(N, 3, n, n)`` bank, the slow way."""
    bank = np.asarray(bank, dtype=np.float64)
    return {name: metric(bank) for name, metric in ORACLE.items()}
