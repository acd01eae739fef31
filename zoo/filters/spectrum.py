"""The radial power spectrum of first-layer deltas on one grid of normalised frequencies (part of paper-v2).

Every kernel size (3x3 ... 16x16) is measured through its autocovariance at lags up to ``MAX_LAG`` pixels
(each lag averaged over its own pixel pairs), then a windowed cosine transform onto the frequencies
``k / SPECTRUM_GRID`` cycles per pixel, so kernels of different sizes share one spectrum: six band fractions,
the spectral slope and the corner-power log ratio. Registered as paper-v2 metrics (see
:mod:`zoo.filters.paper_v2` for the set and the other shape metrics).
"""

from __future__ import annotations

import functools

import numpy as np

from zoo.filters.featuresets import register_metric, register_metric_group
from zoo.filters.metrics import _safe_divide

BAND_EDGES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, np.sqrt(0.5))
"""Edges of the radial frequency bands, in cycles per pixel: five up to Nyquist (0.5), then the corners."""
BAND_NAMES = tuple(f"power_{round(100 * a):02d}_{round(100 * b):02d}" for a, b in zip(BAND_EDGES, BAND_EDGES[1:]))
SPECTRUM_GRID = 32
"""Spectra are evaluated at the frequencies ``k / 32`` cycles per pixel, the same grid for every kernel size."""
MAX_LAG = 2
"""Largest lag (pixels, per axis) of the autocovariance behind :func:`power_spectrum`: what a 3x3 kernel has."""
SLOPE_RANGE = (1 / 16, 1 / 2)
"""Frequencies (cycles per pixel) over which :func:`power_spectrum` fits the spectral slope."""


def _lags(size: int) -> list[tuple[int, int]]:
    """Half-plane lags ``(dy, dx)`` up to :data:`MAX_LAG` (fewer for 2x2 kernels), ``(0, 0)`` first."""
    reach = min(MAX_LAG, size - 1)
    return [(dy, dx) for dy in range(reach + 1) for dx in range(-reach, reach + 1) if dy > 0 or dx >= 0]


def _autocovariance(banks: np.ndarray) -> np.ndarray:
    """Per-lag mean products ``mean_p f(p) f(p + lag)`` over filters, channels and the pairs that fit, ``(B, lags)``.

    Dividing each lag's sum by its own number of pairs makes the estimate unbiased for a stationary
    pattern, whatever the kernel size.
    """
    size = banks.shape[-1]
    columns = []
    for dy, dx in _lags(size):
        first = banks[..., : size - dy, max(0, -dx) : size - max(0, dx)]
        second = banks[..., dy:, max(0, dx) : size - max(0, -dx)]
        columns.append(np.einsum("bncij,bncij->b", first, second) / first[0].size)
    return np.stack(columns, axis=1)


@functools.lru_cache(maxsize=16)
def _cosine_matrix(size: int) -> np.ndarray:
    """``(lags, G*H)``: Bartlett-windowed cosine transform from half-plane lags to the fixed frequency grid."""
    _, radius_rows, radius_cols = _frequency_grid()
    reach = min(MAX_LAG, size - 1)
    rows = []
    for dy, dx in _lags(size):
        window = (1 - abs(dx) / (reach + 1)) * (1 - abs(dy) / (reach + 1)) * (1 if dy == dx == 0 else 2)
        phase = 2 * np.pi * (radius_rows[:, None] * dy + radius_cols[None, :] * dx)
        rows.append(window * np.cos(phase).ravel())
    matrix = np.array(rows)
    matrix.setflags(write=False)
    return matrix


@functools.lru_cache(maxsize=1)
def _frequency_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Radius (G*H,) of the half-plane grid ``k/G`` cycles per pixel, and its row and column frequencies."""
    rows, cols = np.fft.fftfreq(SPECTRUM_GRID), np.fft.rfftfreq(SPECTRUM_GRID)
    return np.hypot(rows[:, None], cols[None, :]).ravel(), rows, cols


def _bank_power(banks: np.ndarray) -> np.ndarray:
    """Power spectral density of each bank on the fixed half-plane grid, ``(B, G*H)``, >= 0."""
    return np.maximum(_autocovariance(banks) @ _cosine_matrix(banks.shape[-1]), 0.0)


@register_metric_group((*BAND_NAMES, "spectral_slope"), grayscale=True)
def power_spectrum(banks: np.ndarray) -> np.ndarray:
    """Radially averaged power spectrum of the delta on a fixed grid of frequencies, and its slope.

    Returns
    -------
    ndarray (B, 7):

    ``power_00_10`` ... ``power_50_71``
        Fraction of the bank's power (summed over filters and channels) in each radial band of
        :data:`BAND_EDGES`, cycles per pixel; the six sum to 1. ``power_00_10`` holds the filters' means
        (DC) and slow ramps; ``power_50_71`` the diagonal corners past Nyquist.
    ``spectral_slope``
        Least-squares slope of ``log10`` mean power density against ``log10`` frequency, over annuli of
        width 1/32 from 1/16 to 1/2 cycle per pixel. About 0 for white noise, negative for smooth deltas
        (about -2 to -4 for blurred data), positive for checkerboard-like ones.

    Notes
    -----
    The spectrum is the Bartlett-windowed cosine transform of the bank's autocovariance at lags up to
    :data:`MAX_LAG` = 2 pixels per axis (the lags a 3x3 kernel has), each lag's products averaged over
    the pixel pairs that fit (so unbiased for a stationary pattern), summed over filters and channels;
    negative values of the estimate are set to 0. It is evaluated on the grid ``k/32`` cycles per pixel,
    the same for every kernel. Using the same lags for every kernel size is what makes the bands of a 3x3
    and a 16x16 crop of one pattern agree; the price is resolution: about 1/3 cycle per pixel for every
    kernel (a 16x16 kernel's full DFT would resolve 1/16, but a 3x3 one's cannot, and the bands must mean
    the same thing on both). 2x2 kernels use lags up to 1. Fractions and slopes are ratios: free of scale
    and filter count. All-zero bank: fractions and slope 0.
    """
    power = _bank_power(banks)
    bands = power @ _band_matrix()
    fractions = _safe_divide(bands, bands.sum(axis=1, keepdims=True))
    return np.concatenate([fractions, _slope(power @ _annulus_matrix())[:, None]], axis=1)


@functools.lru_cache(maxsize=1)
def _band_matrix() -> np.ndarray:
    """``(G*H, bands)``: which band of :data:`BAND_EDGES` each sample falls in, times its multiplicity."""
    radius = _frequency_grid()[0]
    band = np.clip(np.searchsorted(BAND_EDGES, radius, side="right") - 1, 0, len(BAND_NAMES) - 1)
    return (band[:, None] == np.arange(len(BAND_NAMES))) * _multiplicity()[:, None]


def _annulus_edges() -> np.ndarray:
    step = 1.0 / SPECTRUM_GRID
    return np.arange(SLOPE_RANGE[0], SLOPE_RANGE[1] + step / 2, step)


def _multiplicity() -> np.ndarray:
    """2 for the half-plane samples whose mirror image is not on the grid, else 1 (first and Nyquist column)."""
    multiplicity = np.full((SPECTRUM_GRID, SPECTRUM_GRID // 2 + 1), 2.0)
    multiplicity[:, [0, -1]] = 1.0
    return multiplicity.ravel()


@functools.lru_cache(maxsize=1)
def _annulus_matrix() -> np.ndarray:
    """``(G*H, annuli)``: ``power @ it`` is the mean power density in each annulus of width 1/32."""
    edges = _annulus_edges()
    annulus = np.searchsorted(edges, _frequency_grid()[0], side="right") - 1
    member = (annulus[:, None] == np.arange(len(edges) - 1)) * _multiplicity()[:, None]
    return member / member.sum(axis=0)


def _slope(density: np.ndarray) -> np.ndarray:
    """Least-squares slope of log10 ``density`` ``(B, annuli)`` against log10 of the annulus centres."""
    edges = _annulus_edges()
    floor = np.maximum(1e-12 * density.max(axis=1, keepdims=True), np.finfo(np.float64).tiny)
    log_density = np.log10(np.maximum(density, floor))
    log_frequency = np.log10((edges[:-1] + edges[1:]) / 2.0)
    centred = log_frequency - log_frequency.mean()
    slope = (log_density - log_density.mean(axis=1, keepdims=True)) @ centred / np.square(centred).sum()
    return np.where(density.max(axis=1) > 0, slope, 0.0)


@register_metric("corner_power_log_ratio", grayscale=True)
def corner_power_log_ratio(banks: np.ndarray) -> np.ndarray:
    r"""How checkerboard-like the finest detail of the delta is: power past Nyquist over power just below it.

    .. math:: \ln \frac{P(0.5 \le \rho < 0.71) + \epsilon}{P(0.4 \le \rho < 0.5) + \epsilon}, \qquad \epsilon = 10^{-9}

    Returns
    -------
    float or ndarray (B,), dimensionless natural log of a ratio of band fractions (``power_50_71`` over
    ``power_40_50`` of :func:`power_spectrum`); 0 for an all-zero bank

    Notes
    -----
    Both bands come from the same fixed-grid spectrum, so the ratio is free of scale, filter count and (to
    the spectrum's tolerance) kernel size. It is a *ratio of neighbouring bands*: a factor that multiplies
    the delta's whole high-frequency spectrum the same way in both bands (what an architecture's stride,
    normalisation or filter count does to the size of its gradient) cancels. Measured on the demo catalog,
    it is the single paper-v2 feature whose relation to sharpness and noisiness shifts least between
    architectures (leave-one-architecture-out, see ``PAPER_V2``). ``epsilon`` keeps it finite when a band is
    empty.
    """
    bands = _bank_power(banks) @ _band_matrix()
    fractions = _safe_divide(bands, bands.sum(axis=1, keepdims=True))
    return np.log((fractions[:, -1] + 1e-9) / (fractions[:, -2] + 1e-9))
