"""``paper-v2``: first-layer delta features that measure the delta's shape apart from its size and the kernel's.

The paper's eight metrics (``paper-v1``, :mod:`zoo.filters.metrics`) change with the kernel size, the number
of filters and the size of the delta (set by the learning rate and the length of training), so a fit made on
one architecture or recipe mis-scales another. Here every shape metric is a ratio of like quantities, so it is

* **scale-free**: unchanged when the bank is multiplied by ``s > 0`` (to rounding; tested at 1e-6),
* **filter-count-free**: filters are combined by a norm-weighted mean ``(1/S) sum_i |f_i| m_i`` or by a
  ratio of sums over the bank, never by a sum, so N = 16 and N = 96 give comparable values,
* **kernel-size-free** for a stationary pattern, where the quantity allows it: every per-pixel quantity is
  a *mean* over the positions where its stencil fits, never a sum over them, and the spectrum is built
  from the same lags for every kernel, on one fixed grid of frequencies in cycles per pixel. A 3x3 crop of
  a smooth random field and a 16x16 crop of the same field give close values for roughness, blur residual,
  Laplacian, noise, colour and spectral features (tolerances, and why they cannot be zero, in
  ``tests/zoo/filters/test_paper_v2.py``). Four features describe the crop itself and do depend on its size:
  ``filter_norm_cv``, ``saturation_rms`` (min/max range), ``variance_fraction`` (a small crop's mean is a
  larger share of it) and ``bregman_unit`` (TV denoising's border share falls with n).

The size is not thrown away: ``log10_delta_rms`` carries it as one explicit feature. The delta relative to
the reference weights would be a second one, but featurizing receives only the delta, so it is not here.

Shared conventions
------------------
* ``f_i`` is filter i, ``C x n x n``; ``f_i(p)`` its RGB vector at pixel ``p``; ``|x|`` the Euclidean norm.
  ``rms(f_i) = sqrt(mean of f_i**2 over its 3 n^2 weights)``; the per-pixel RGB RMS is ``sqrt(3) rms(f_i)``.
* One border rule: **nothing is padded**. A stencil (neighbour difference, Laplacian, blur, Haar detail)
  is evaluated only where it fits inside the kernel. The one solver that needs values outside, split
  Bregman, uses a frame that repeats the edge pixel (a Neumann boundary, the usual one for TV denoising).
* Zero filters get weight 0; an all-zero bank gives 0 for every shape metric (0.5 for
  ``blue_yellow_share``) and -30 for ``log10_delta_rms``: finite, never NaN.
* ``C = 1`` (grayscale first layers) is accepted and measured as the RGB bank with its channel repeated, so
  the spatial and spectral metrics are those of the grayscale filters and the colour metrics take the
  values of a colourless bank: ``opponent_energy_fraction = saturation_rms = colour_isotropy = 0`` and
  ``blue_yellow_share = 0.5``.
* Channel order is RGB, as the first layers of the catalog's models expect their input.
"""

from __future__ import annotations

import numpy as np

from zoo.filters.featuresets import FeatureSet, register_feature_set, register_metric, register_metric_group
from zoo.filters.metrics import _MAD_TO_SIGMA, _filter_norms, _norm_weighted_mean, _safe_divide
from zoo.filters.spectrum import BAND_EDGES, BAND_NAMES, SPECTRUM_GRID, corner_power_log_ratio, power_spectrum
from zoo.filters.split_bregman import tv_denoise

__all__ = [
    "ALL_METRICS",
    "BAND_EDGES",
    "BREGMAN_UNIT_WEIGHT",
    "PAPER_V2",
    "SPECTRUM_GRID",
    "blur_residual",
    "bregman_unit",
    "colour_energy",
    "colour_isotropy",
    "corner_power_log_ratio",
    "filter_norm_cv",
    "laplacian_energy_ratio",
    "log10_delta_rms",
    "noise_to_signal",
    "power_spectrum",
    "roughness_mean",
    "saturation_rms",
    "variance_fraction",
]

BREGMAN_UNIT_WEIGHT = 5.0
"""TV weight of :func:`bregman_unit`, acting on filters of unit per-weight RMS."""
BREGMAN_UNIT_SWEEPS = 40
LOG10_FLOOR = -30.0
"""``log10_delta_rms`` of an all-zero bank."""

_SPATIAL = (2, 3, 4)
_RED_GREEN = np.array([1.0, -1.0, 0.0]) / np.sqrt(2.0)
_BLUE_YELLOW = np.array([1.0, 1.0, -2.0]) / np.sqrt(6.0)


def _rms(banks: np.ndarray) -> np.ndarray:
    """Per-filter RMS over the ``3 n^2`` weights, ``(B, N)``."""
    return np.sqrt(np.square(banks).mean(axis=_SPATIAL))


# ---------------------------------------------------------------------------------------------------------
# Magnitude
# ---------------------------------------------------------------------------------------------------------


@register_metric("log10_delta_rms", grayscale=True)
def log10_delta_rms(banks: np.ndarray) -> np.ndarray:
    """Size of the delta: ``log10`` of the RMS of all the bank's weights.

    Parameters
    ----------
    banks : ndarray, shape (N, C, n, n) or (B, N, C, n, n), C in {1, 3}

    Returns
    -------
    float or ndarray (B,), log10 of weight units; ``LOG10_FLOOR`` (-30) for an all-zero bank

    Notes
    -----
    The one feature that is *meant* to move with the learning rate and the training length: adds
    ``log10 s`` when the bank is scaled by ``s``. A mean, so free of kernel size and filter count.
    """
    rms = np.sqrt(np.square(banks).mean(axis=(1, *_SPATIAL)))
    return np.log10(np.maximum(rms, 10.0**LOG10_FLOOR))


@register_metric("filter_norm_cv", grayscale=True)
def filter_norm_cv(banks: np.ndarray) -> np.ndarray:
    """How unequally the delta is spread over the filters: coefficient of variation of ``|f_i|``.

    Returns
    -------
    float or ndarray (B,), >= 0, dimensionless: ``std_i |f_i| / mean_i |f_i|`` (population std)

    Notes
    -----
    Scale-free; 0 when every filter changed by the same amount. Free of kernel size for a stationary
    pattern (each ``|f_i|`` grows as ``n``, the ratio not).
    """
    norms = _filter_norms(banks)
    return _safe_divide(norms.std(axis=1), norms.mean(axis=1))


# ---------------------------------------------------------------------------------------------------------
# The paper's eight, made scale-, count- and size-free
# ---------------------------------------------------------------------------------------------------------


@register_metric("saturation_rms", grayscale=True)
def saturation_rms(banks: np.ndarray) -> np.ndarray:
    r"""The paper's channel saturation with means instead of sums, combined by the norm-weighted mean.

    .. math:: \frac{1}{S}\sum_i |f_i| \; \tfrac12\,\mathrm{rms}(f'_i)\,\mathrm{rms}(f'_i[0]-f'_i[1])\,
              \mathrm{rms}(f'_i[1]-f'_i[2])

    Returns
    -------
    float or ndarray (B,), in [0, 0.5], dimensionless

    Notes
    -----
    ``f'_i`` is the filter min/max-normalised to [0, 1] over all its weights, as in the paper, which makes
    the value scale-free; RMS over pixels (not Frobenius norms) removes the paper's ``n^3`` growth, and the
    mean over filters (not the paper's division by ``S^2``) its ``1/N`` and ``1/s^2`` laws. 0 for equal
    channels, so 0 for grayscale banks.
    """
    low = banks.min(axis=_SPATIAL, keepdims=True)
    normalised = _safe_divide(banks - low, banks.max(axis=_SPATIAL, keepdims=True) - low)
    rms_01 = np.sqrt(np.square(normalised[:, :, 0] - normalised[:, :, 1]).mean(axis=(2, 3)))
    rms_12 = np.sqrt(np.square(normalised[:, :, 1] - normalised[:, :, 2]).mean(axis=(2, 3)))
    per_filter = 0.5 * _rms(normalised) * rms_01 * rms_12
    return _norm_weighted_mean(per_filter, _filter_norms(banks))


@register_metric("colour_isotropy", grayscale=True)
def colour_isotropy(banks: np.ndarray) -> np.ndarray:
    r"""Volume of the bank's RGB point cloud relative to its spread: a moment form of the convex hull volume.

    .. math:: \frac{\det(\Sigma)^{1/3}}{\mathrm{tr}(\Sigma)/3}

    Returns
    -------
    float or ndarray (B,), in [0, 1], dimensionless

    Notes
    -----
    ``Sigma`` is the 3x3 covariance of the ``N n^2`` RGB vectors of the bank: the ratio of the geometric
    to the arithmetic mean of its eigenvalues. 1 when the colours spread equally in every direction of
    RGB space, 0 when they lie on a plane or a line (grayscale banks). The convex hull's volume grows
    with the number of points, ``N n^2``; a covariance is a mean and does not. Scale-free.
    """
    points = np.moveaxis(banks, 2, -1).reshape(banks.shape[0], -1, 3)
    centred = points - points.mean(axis=1, keepdims=True)
    covariance = np.einsum("bpi,bpj->bij", centred, centred) / points.shape[1]
    spread = np.trace(covariance, axis1=1, axis2=2) / 3.0
    volume = np.cbrt(np.maximum(np.linalg.det(covariance), 0.0))
    return np.clip(_safe_divide(volume, spread), 0.0, 1.0)


@register_metric("blur_residual", grayscale=True)
def blur_residual(banks: np.ndarray) -> np.ndarray:
    r"""The paper's distance to Gaussian blur as an energy ratio: what the 3x3 blur removes, over the filter.

    .. math:: \frac{1}{S}\sum_i |f_i| \frac{\sqrt{\mathrm{mean}_v (f_i - C\star f_i)^2}}{\mathrm{rms}(f_i)}

    Returns
    -------
    float or ndarray (B,), >= 0, dimensionless; 0 for ``n = 2`` (no position fits)

    Notes
    -----
    ``C`` is the paper's ``[1, 2, 1]/4`` separable blur, per channel, evaluated at the interior positions
    ``v`` where it fits (no padding, so no border rule can smooth a small kernel artificially). The paper
    compares unit vectors of the whole filter and its blur; on a 3x3 kernel only one position per
    channel is free of the border, where that comparison degenerates, while the RMS of the residual stays
    a per-pixel quantity. Scale-free; 0 for constant filters; white noise gives about 0.80 (sqrt(0.64)).
    """
    if banks.shape[-1] < 3:
        return np.zeros(len(banks))
    rows = (banks[..., :-2, :] + 2.0 * banks[..., 1:-1, :] + banks[..., 2:, :]) / 4.0
    blurred = (rows[..., :-2] + 2.0 * rows[..., 1:-1] + rows[..., 2:]) / 4.0
    residual = np.sqrt(np.square(banks[..., 1:-1, 1:-1] - blurred).mean(axis=_SPATIAL))
    return _norm_weighted_mean(_safe_divide(residual, _rms(banks)), _filter_norms(banks))


@register_metric("variance_fraction", grayscale=True)
def variance_fraction(banks: np.ndarray) -> np.ndarray:
    """Share of each filter's energy that is not its mean (the paper's filter variance, over energy).

    Returns
    -------
    float or ndarray (B,), in [0, 1], dimensionless: norm-weighted mean of ``Var(f_i) / mean(f_i**2)``

    Notes
    -----
    Population variance over the ``3 n^2`` weights. 0 for a constant filter, near 1 for a zero-mean one.
    Scale-free, a mean over weights and filters.
    """
    per_filter = _safe_divide(banks.var(axis=_SPATIAL), np.square(banks).mean(axis=_SPATIAL))
    return _norm_weighted_mean(per_filter, _filter_norms(banks))


@register_metric("roughness_mean", grayscale=True)
def roughness_mean(banks: np.ndarray) -> np.ndarray:
    r"""Mean RGB step between neighbouring pixels, in units of the filter's per-pixel RGB RMS.

    .. math:: \frac{1}{S}\sum_i |f_i| \frac{\frac14 \sum_{d} \mathrm{mean}_p |f_i(p+d) - f_i(p)|}
              {\sqrt{\mathrm{mean}_p |f_i(p)|^2}}

    Returns
    -------
    float or ndarray (B,), in [0, 2], dimensionless

    Notes
    -----
    ``d`` runs over the 4 neighbour directions (right, down, and both diagonals: the paper's 8 neighbours,
    each pair once), each direction's mean over the pairs that fit in the kernel, so a 3x3 and a 16x16
    crop of one pattern weigh the directions alike. The paper sums over interior centres instead
    (``~ n^2``). A white-noise filter gives about 1.30, a constant one 0.
    """
    size = banks.shape[-1]
    steps = np.zeros(banks.shape[:2])
    for rows_a, cols_a, rows_b, cols_b in (
        (slice(None), slice(0, size - 1), slice(None), slice(1, size)),
        (slice(0, size - 1), slice(None), slice(1, size), slice(None)),
        (slice(0, size - 1), slice(0, size - 1), slice(1, size), slice(1, size)),
        (slice(0, size - 1), slice(1, size), slice(1, size), slice(0, size - 1)),
    ):
        difference = banks[..., rows_b, cols_b] - banks[..., rows_a, cols_a]
        steps += np.sqrt(np.square(difference).sum(axis=2)).mean(axis=(2, 3)) / 4.0
    pixel_rms = np.sqrt(3.0) * _rms(banks)
    return _norm_weighted_mean(_safe_divide(steps, pixel_rms), _filter_norms(banks))


@register_metric("bregman_unit", grayscale=True)
def bregman_unit(banks: np.ndarray) -> np.ndarray:
    r"""The paper's Bregman distance on filters brought to unit RMS first, so the TV weight means one thing.

    .. math:: \frac{1}{S}\sum_i |f_i| \left| \mathrm{unit}(g_i) - \mathrm{unit}(B(g_i)) \right|,
              \qquad g_i = f_i / \mathrm{rms}(f_i)

    Returns
    -------
    float or ndarray (B,), in [0, 2], dimensionless

    Notes
    -----
    ``B`` is isotropic split-Bregman TV denoising (skimage's update equations,
    :func:`zoo.filters.split_bregman.tv_denoise`), weight :data:`BREGMAN_UNIT_WEIGHT`, 40 sweeps, per
    channel, with the edge-repeating frame (the module's border rule). The paper's version denoises the
    raw filter, so the same weight flattens a small delta far more than a large one (``paper-v1``'s
    Bregman falls from 1.17 to 0.50 as the scale goes from 1e-4 to 10); after the division it is
    scale-free. The ROF energy and its data term are both sums over pixels, so their balance, and the
    value, are per pixel.
    """
    size = banks.shape[-1]
    unit_rms = banks * _safe_divide(np.ones(1), _rms(banks))[..., None, None, None]
    denoised = tv_denoise(unit_rms.reshape(-1, size, size), BREGMAN_UNIT_WEIGHT, BREGMAN_UNIT_SWEEPS, frame="edge")
    denoised = denoised.reshape(banks.shape)
    unit_denoised = denoised * _safe_divide(np.ones(1), _filter_norms(denoised))[..., None, None, None]
    unit_filter = banks * _safe_divide(np.ones(1), _filter_norms(banks))[..., None, None, None]
    per_filter = np.sqrt(np.square(unit_filter - unit_denoised).sum(axis=_SPATIAL))
    return _norm_weighted_mean(per_filter, _filter_norms(banks))


@register_metric("laplacian_energy_ratio", grayscale=True)
def laplacian_energy_ratio(banks: np.ndarray) -> np.ndarray:
    r"""Sharpness: mean squared Laplacian over mean squared weight, per filter, norm-weighted.

    .. math:: \frac{1}{S}\sum_i |f_i| \frac{\mathrm{mean}_{v}\, (\Delta f_i)^2}{\mathrm{mean}\, f_i^2}

    Returns
    -------
    float or ndarray (B,), in [0, 64], dimensionless (0 for ``n = 2``: no position fits)

    Notes
    -----
    ``Delta`` is the paper's 5-point Laplacian per channel, evaluated at the interior positions ``v`` where
    it fits. The paper's variance of the Laplacian scales as ``s^2``; divided by the filter's own mean
    square it is scale-free, and for a stationary pattern it is the spectrum's ``|2 pi k|^4``-weighted
    mean, the same at every kernel size. White noise gives 20.
    """
    if banks.shape[-1] < 3:
        return np.zeros(len(banks))
    centre = banks[..., 1:-1, 1:-1]
    laplacian = (
        banks[..., :-2, 1:-1] + banks[..., 2:, 1:-1] + banks[..., 1:-1, :-2] + banks[..., 1:-1, 2:] - 4.0 * centre
    )
    per_filter = _safe_divide(np.square(laplacian).mean(axis=_SPATIAL), np.square(banks).mean(axis=_SPATIAL))
    return _norm_weighted_mean(per_filter, _filter_norms(banks))


@register_metric("noise_to_signal", grayscale=True)
def noise_to_signal(banks: np.ndarray) -> np.ndarray:
    """Wavelet (Donoho-Johnstone) noise estimate of each filter, over the filter's RMS.

    Returns
    -------
    float or ndarray (B,), >= 0, dimensionless; about 1 for white noise, 0 for a filter linear in x and y

    Notes
    -----
    Per channel, ``median |d| / 0.6745`` of the finest diagonal (HH) Haar details
    ``d = (f(p) - f(p+x) - f(p+y) + f(p+x+y)) / 2`` at every position where the 2x2 window fits
    (undecimated, so every kernel size >= 2 has details); averaged over channels, divided by
    ``rms(f_i)``, norm-weighted over filters. The paper's ``db2`` transform needs a border rule and
    decimates a 3x3 kernel to almost nothing; the Haar detail of white noise of variance ``sigma^2`` has
    variance ``sigma^2`` too, so the estimator keeps its meaning. Scale-free.
    """
    detail = (banks[..., :-1, :-1] - banks[..., :-1, 1:] - banks[..., 1:, :-1] + banks[..., 1:, 1:]) / 2.0
    sigma = np.median(np.abs(detail).reshape(*banks.shape[:3], -1), axis=-1) / _MAD_TO_SIGMA
    per_filter = _safe_divide(sigma.mean(axis=2), _rms(banks))
    return _norm_weighted_mean(per_filter, _filter_norms(banks))


# ---------------------------------------------------------------------------------------------------------
# Colour and spectrum
# ---------------------------------------------------------------------------------------------------------


@register_metric_group(("opponent_energy_fraction", "blue_yellow_share"), grayscale=True)
def colour_energy(banks: np.ndarray) -> np.ndarray:
    """How much of the delta is colour rather than brightness, and which colour axis.

    Returns
    -------
    ndarray (B, 2), both in [0, 1], dimensionless:

    ``opponent_energy_fraction``
        ``sum |P f|^2 / sum |f|^2`` over the bank, ``P`` the projection of each pixel's RGB vector off the
        luminance axis ``(1, 1, 1)/sqrt(3)``. 0 for a grayscale delta, 2/3 for independent channels.
    ``blue_yellow_share``
        Of that opponent energy, the share on ``(1, 1, -2)/sqrt(6)`` (blue-yellow) rather than
        ``(1, -1, 0)/sqrt(2)`` (red-green). 0.5 when there is no opponent energy (grayscale).

    Notes
    -----
    Ratios of energies summed over the bank (an energy-weighted mean over filters): free of scale,
    filter count and kernel size.
    """
    total = np.square(banks).sum(axis=(1, *_SPATIAL))
    red_green = np.square(np.einsum("c,bncij->bnij", _RED_GREEN, banks)).sum(axis=(1, 2, 3))
    blue_yellow = np.square(np.einsum("c,bncij->bnij", _BLUE_YELLOW, banks)).sum(axis=(1, 2, 3))
    opponent = red_green + blue_yellow
    share = np.where(opponent > 0, _safe_divide(blue_yellow, opponent), 0.5)
    return np.stack([np.clip(_safe_divide(opponent, total), 0.0, 1.0), share], axis=1)


ALL_METRICS = (
    "log10_delta_rms",
    "filter_norm_cv",
    "saturation_rms",
    "colour_isotropy",
    "blur_residual",
    "variance_fraction",
    "roughness_mean",
    "bregman_unit",
    "laplacian_energy_ratio",
    "noise_to_signal",
    "opponent_energy_fraction",
    "blue_yellow_share",
    *BAND_NAMES,
    "spectral_slope",
    "corner_power_log_ratio",
)
"""Every metric this module defines (all registered; ``PAPER_V2`` uses the three that transfer best)."""

PAPER_V2 = register_feature_set(
    FeatureSet(name="paper", version=2, metrics=("corner_power_log_ratio", "bregman_unit", "saturation_rms"))
)
"""The three of :data:`ALL_METRICS` chosen by leave-one-architecture-out on the demo catalog (316 runs: resnet18,
resnet50, mobilenetv3 3x3, convnext 4x4; log target, 3 forests of 30 trees). With every metric of the module,
the forest learns architecture-specific offsets from the features whose level depends on the network
(roughness, blur residual, spectral slope and low bands: an architecture-offset of 1.2-2 log units of
sharpness), and transfers poorly: held-out mobilenetv3 sharpness R^2 0.35, noisiness 0.17; convnext 0.59 /
0.34. These three (forward selection on held-out convnext and mobilenetv3 plus the resnet and learning-rate
cells): mobilenetv3 0.68 / 0.45, convnext 0.72 / 0.44, resnet18 0.96 / 0.76, resnet50 0.93 / 0.72, learning
rates 0.87-0.91 / 0.61-0.66. The selection looked at the held-out architectures, so those two figures are
optimistic; ``bregman_unit`` and ``saturation_rms`` are crop-size dependent (module notes), untested on
kernels other than 3, 4 and 7. The other metrics stay registered for ``zoo query``-style use and for
custom sets."""

PAPER_V3 = register_feature_set(FeatureSet(name="paper", version=3, metrics=ALL_METRICS))
"""Every metric of :data:`ALL_METRICS`: the 19 shape metrics and the delta's size. No selection.

Chosen over :data:`PAPER_V2` on models zoo never trained (``benchmarks/transfer_check.py``: 40 timm models
from another training loop, other photographs, SGD and AdamW, 40 and 64 px; resnet18, mobilenetv3 and the
unseen resnet34, efficientnet_b0 and ViT-Tiny/16). With ``zoo predict``'s predictors on the six-architecture
demo catalog: sharpness log-R^2 0.905 (Spearman 0.965) against PAPER_V2's 0.830 (0.902); noisiness 0.759
(0.958) against 0.760 (0.904). PAPER_V2's three metrics were picked by held-out architectures *of the demo
catalog*, and that selection did not carry over to another pipeline as well as the whole set did (forests
on the four-architecture catalog they were chosen on: sharpness 0.77 against 0.91 on those 40 models). Within
the demo catalog the whole set transfers worse to the 3x3 stems (held-out mobilenetv3 sharpness 0.50,
regnetx_002 0.77) and best to the 4x4 and 7x7 ones (convnext 0.93, resnet50 0.96)."""
