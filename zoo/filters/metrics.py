"""The eight first-layer filter metrics of Jorgenson et al., "Scratching the Surface", section 3.2.

Every metric is registered with :func:`~zoo.filters.featuresets.register_metric`, so each public function
here accepts one bank ``F`` of shape ``(N, 3, n, n)`` (returns a float) or a batch ``(B, N, 3, n, n)``
(returns ``(B,)``), any ``n >= 2``: 3x3 MobileNetV3, 4x4 ConvNeXt, 7x7 ResNet, 16x16 ViT patch embedding.
The metrics run in compiled kernels, one loop over the filters of all the banks of a batch
(:mod:`zoo.filters.compiled_metrics`); split Bregman's sweeps run over all the banks' channels at once
(:mod:`zoo.filters.split_bregman`), and the hull volume in an exact compiled hull (:mod:`zoo.filters.hull`)
that leaves to Qhull only the clouds it is unsure of. The vectorized numpy kernels they replaced are the
reference, :data:`zoo.filters.numpy_reference.NUMPY_REFERENCE`; the compiled ones agree with them to
rounding (tested to 1e-9 relative).

Notation and conventions shared by all metrics
----------------------------------------------
* ``|x|`` is the Euclidean (Frobenius) norm over all entries of ``x``; ``|f_i|`` is over the filter's
  ``3*n*n`` weights. ``S = sum_i |f_i|``.
* "Norm-weighted average" means ``(1/S) sum_i |f_i| m(f_i)``. The paper writes it out for
  dist_to_gaussian, filter_variance, spatial_roughness and bregman_distance, and says "the sum of these
  weighted by the filter norms" for laplacian_variance and wavelet_noise_sigma; we read the latter as the
  same average so that no metric grows with the number of filters N (16 on MobileNetV3, 96 on ConvNeXt).
* ``unit(x) = x/|x|``, and ``unit(0) = 0``. Every weighted term carries the factor ``|f_i|``, so an all-zero
  filter contributes 0 and an all-zero bank (``S = 0``) gives 0 for every metric: never NaN.
* The 3x3 convolutions (Gaussian blur, Laplacian) act on each colour channel separately and keep the n x n
  size, with scipy.ndimage's ``mode="reflect"`` border (``d c b a | a b c d``): the filter is treated as
  continuing smoothly past its edge, so a constant filter has zero Laplacian and is its own blur.
* C = 1 (grayscale) banks are refused with :class:`~zoo.errors.InvalidInput`; the message suggests
  ``np.repeat(bank, 3, axis=1)``.

Behaviour under scaling the bank by ``s > 0`` (tested): convex_hull_volume, dist_to_gaussian and
spatial_roughness are unchanged; filter_variance and laplacian_variance scale by ``s**2``,
wavelet_noise_sigma by ``s``, channel_saturation (as the paper writes it) by ``1/s**2``;
bregman_distance has no simple law, because TV denoising is not homogeneous.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pywt
from scipy.spatial import ConvexHull, QhullError
from scipy.special import ndtri

from zoo.filters.compiled_metrics import compiled, sorting_network
from zoo.filters.featuresets import register_metric
from zoo.filters.hull import hull_volumes
from zoo.filters.split_bregman import tv_denoise, tv_denoise_skimage

__all__ = [
    "BREGMAN_SWEEPS",
    "BREGMAN_WEIGHT",
    "GAUSSIAN_KERNEL",
    "LAPLACIAN_KERNEL",
    "WAVELET",
    "bregman_distance",
    "channel_saturation",
    "convex_hull_volume",
    "dist_to_gaussian",
    "filter_variance",
    "laplacian_variance",
    "spatial_roughness",
    "wavelet_noise_sigma",
]

GAUSSIAN_KERNEL = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
"""The paper's 3x3 Gaussian blur kernel ``C`` (separable: [1, 2, 1]/4 along each axis)."""
LAPLACIAN_KERNEL = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
"""The paper's 3x3 Laplacian kernel."""
BREGMAN_WEIGHT = 5.0
"""``weight`` of :func:`skimage.restoration.denoise_tv_bregman` (skimage's default)."""
BREGMAN_SWEEPS = 40
"""Split-Bregman sweeps, always run in full (``eps=0``); see :func:`bregman_distance`."""
WAVELET = "db2"
"""Wavelet of :func:`skimage.restoration.estimate_sigma`."""

_MAD_TO_SIGMA = float(ndtri(0.75))  # 75th percentile of N(0, 1), as in skimage's _sigma_est_dwt
_SPATIAL = (2, 3, 4)  # channel and spatial axes of a (B, N, C, n, n) batch


# ---------------------------------------------------------------------------------------------------------
# Shared helpers (all on validated float64 batches)
# ---------------------------------------------------------------------------------------------------------


def _filter_norms(banks: np.ndarray) -> np.ndarray:
    """``(B, N, C, n, n)`` -> ``|f_i|`` of shape ``(B, N)``."""
    return np.sqrt(np.einsum("bncij,bncij->bn", banks, banks))


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` where the denominator is positive, else 0."""
    out = np.zeros(np.broadcast_shapes(numerator.shape, denominator.shape))
    return np.divide(numerator, denominator, out=out, where=denominator > 0)


def _norm_weighted_mean(per_filter: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """``(1/S) sum_i |f_i| m_i`` for ``per_filter = m`` and ``norms = |f|``, both ``(B, N)``; 0 if S = 0."""
    return _safe_divide((norms * per_filter).sum(axis=1), norms.sum(axis=1))


def _unit_distance_weighted(banks: np.ndarray, other: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """``(1/S) sum_i |f_i| |unit(f_i) - unit(g_i)|`` for ``g = other``, as ``(1/S) sum_i |f_i - |f_i| unit(g_i)|``.

    ``banks`` and ``other`` are ``(B, N, C, n, n)``, ``norms`` is ``|f|`` ``(B, N)``; returns ``(B,)``.
    """
    other_norms = _filter_norms(other)
    scale = _safe_divide(norms, other_norms)[..., None, None, None]
    per_filter = np.sqrt(np.square(banks - scale * other).sum(axis=_SPATIAL))
    return _safe_divide(per_filter.sum(axis=1), norms.sum(axis=1))


@functools.lru_cache(maxsize=32)
def _wavelet_highpass_matrix(size: int) -> np.ndarray:
    """Matrix ``H`` (m, size) with ``H @ x`` = pywt's level-1 ``db2`` detail coefficients of ``x``.

    pywt's DWT is linear, so its action on the identity gives the exact operator, boundary mode
    (pywt's default ``"symmetric"``) included; ``H @ X @ H.T`` is then ``pywt.dwtn(X, "db2")["dd"]``.
    """
    matrix = pywt.dwt(np.eye(size), WAVELET, mode="symmetric", axis=-1)[1].T.copy()
    matrix.setflags(write=False)
    return matrix


def _run(kernel: Callable[..., None], banks: np.ndarray, *arguments: object) -> np.ndarray:
    """``kernel(banks, *arguments, out)`` of a compiled kernel (:mod:`zoo.filters.compiled_metrics`); ``out``."""
    out = np.empty(banks.shape[0])
    kernel(np.ascontiguousarray(banks), *arguments, out)
    return out


# ---------------------------------------------------------------------------------------------------------
# The eight metrics, in the paper's order
# ---------------------------------------------------------------------------------------------------------


@register_metric("channel_saturation")
def channel_saturation(banks: np.ndarray) -> np.ndarray:
    r"""Colourfulness of the filters, exactly as the paper's formula is printed.

    .. math:: \sum_i \frac{|f'_i|\,|f'_i[0] - f'_i[1]|\,|f'_i[1] - f'_i[2]|}{2 S^2}

    Parameters
    ----------
    banks : ndarray, shape (N, 3, n, n) or (B, N, 3, n, n)

    Returns
    -------
    float or ndarray (B,), >= 0

    Notes
    -----
    * ``f'_i = (f_i - min f_i) / (max f_i - min f_i)``, min and max over the whole filter (all channels),
      so differences between channels survive; a constant filter (max = min) has ``f'_i = 0``.
    * ``|f'_i[0] - f'_i[1]|`` is the Frobenius norm of the n x n difference of channels 0 and 1.
    * The numerator uses the *normalised* ``|f'_i|`` while ``S = sum |f_i|`` is of the raw filters, as
      printed. The value is therefore not scale-free: it scales by ``1/s**2`` when the bank is scaled by
      ``s``. We keep the printed formula so that ``paper-v1`` reproduces the paper; a scale-free variant
      would belong in a new feature-set version.
    * Equal channels give 0, and so does a filter whose channels 0 and 1, or 1 and 2, agree (the printed
      product has no ``|f'_i[0] - f'_i[2]|`` term); an all-zero bank (S = 0) gives 0.
    """
    return _run(compiled().channel_saturation, banks)


@register_metric("convex_hull_volume")
def convex_hull_volume(banks: np.ndarray) -> np.ndarray:
    """Volume of the convex hull of all RGB vectors of the bank, after min/max normalisation of the bank.

    Parameters
    ----------
    banks : ndarray, shape (N, 3, n, n) or (B, N, 3, n, n)

    Returns
    -------
    float or ndarray (B,), in [0, 1]

    Notes
    -----
    * The point cloud is the ``N*n*n`` vectors ``f_i^(a,b)`` in R^3, normalised as
      ``(F - min F) / (max F - min F)`` with min and max over the whole bank, so it lies in the unit cube
      and the volume is invariant to scaling and shifting the bank.
    * Computed by the exact compiled hull of :func:`zoo.filters.hull.hull_volumes`. The clouds it leaves
      undecided (nearly flat ones, fewer than 4 distinct extremes, a point within rounding of a facet) go
      to :func:`convex_hull_volume_qhull`: :class:`scipy.spatial.ConvexHull` (Qhull, default options), one
      call per bank, as before. The two agree to 1e-9 relative (tested; observed ~1e-15).
    * Degenerate clouds have volume 0 instead of an error: a constant bank (max = min), and points that
      do not span R^3 (fewer than 4 points, or all on a plane or a line, e.g. equal channels).
    """
    volumes = hull_volumes(banks)
    unsure = np.isnan(volumes)
    if unsure.any():
        volumes[unsure] = convex_hull_volume_qhull(banks[unsure])
    return volumes


def convex_hull_volume_qhull(banks: np.ndarray) -> np.ndarray:
    """:func:`convex_hull_volume` with Qhull for every bank: the reference, and the fallback of the fast path.

    Takes and returns what the registered kernel does (``(B, N, 3, n, n)`` float64 -> ``(B,)``). Points
    strictly inside the hull of the extreme points along 26 directions are dropped before Qhull
    (:func:`_hull_candidates`); a :class:`~scipy.spatial.QhullError` (a flat cloud) gives 0.
    """
    low = banks.min(axis=(1, *_SPATIAL))
    span = banks.max(axis=(1, *_SPATIAL)) - low
    coordinates = np.moveaxis(banks, 2, 1).reshape(banks.shape[0], banks.shape[2], -1)  # (B, 3, N*n*n)
    volumes = np.zeros(banks.shape[0])
    for index in np.flatnonzero(span > 0):
        cloud = (coordinates[index] - low[index]) / span[index]
        try:
            volumes[index] = ConvexHull(_hull_candidates(cloud).T).volume
        except QhullError:  # flat or too few points: the hull has no volume
            volumes[index] = 0.0
    return volumes


# 13 axis and diagonal directions of the cube; with both signs their extreme points span a polytope
# inside the hull.
_DIRECTIONS = np.array([d for d in np.ndindex(3, 3, 3) if d > (1, 1, 1)], dtype=np.float64) - 1.0
_INSIDE_TOLERANCE = 1e-9  # points in the unit cube closer than this to the inner polytope are kept


def _hull_candidates(cloud: np.ndarray) -> np.ndarray:
    """Drop points strictly inside the polytope of the extreme points along 26 directions (Akl-Toussaint).

    Such points cannot be hull vertices, so the hull and its volume are unchanged, and Qhull sees about a
    hundred points instead of thousands. ``cloud`` is ``(3, P)`` in the unit cube; returns ``(3, P')``.
    """
    projections = _DIRECTIONS @ cloud
    extremes = np.unique(np.concatenate([projections.argmax(axis=1), projections.argmin(axis=1)]))
    if len(extremes) < 4:
        return cloud
    try:
        facets = ConvexHull(cloud[:, extremes].T).equations  # rows (normal, offset), normals point out
    except QhullError:  # the extremes are flat: nothing is strictly inside
        return cloud
    signed_distance = facets[:, :3] @ cloud
    signed_distance += facets[:, 3:]  # in place: a second large temporary costs more than the product
    outside = signed_distance.max(axis=0) > -_INSIDE_TOLERANCE
    outside[extremes] = True
    return cloud[:, outside]


@register_metric("dist_to_gaussian")
def dist_to_gaussian(banks: np.ndarray) -> np.ndarray:
    r"""Norm-weighted distance between each filter and its 3x3 Gaussian blur, both unit-normalised.

    .. math:: \frac{1}{S}\sum_i |f_i| \left| \frac{f_i}{|f_i|} - \frac{C\star f_i}{|C\star f_i|} \right|

    Parameters
    ----------
    banks : ndarray, shape (N, 3, n, n) or (B, N, 3, n, n)

    Returns
    -------
    float or ndarray (B,), in [0, 2]

    Notes
    -----
    ``C`` is :data:`GAUSSIAN_KERNEL`, applied per channel, same size, ``reflect`` border (module notes).
    Scale-invariant; 0 for constant filters.
    """
    return _run(compiled().dist_to_gaussian, banks)


@register_metric("filter_variance")
def filter_variance(banks: np.ndarray) -> np.ndarray:
    r"""Norm-weighted average of each filter's variance, :math:`\frac{1}{S}\sum_i |f_i| \mathrm{Var}(f_i)`.

    Parameters
    ----------
    banks : ndarray, shape (N, 3, n, n) or (B, N, 3, n, n)

    Returns
    -------
    float or ndarray (B,), >= 0

    Notes
    -----
    ``Var`` is the population variance (ddof = 0) over all ``3*n*n`` weights of the filter.
    """
    return _run(compiled().filter_variance, banks)


@register_metric("spatial_roughness")
def spatial_roughness(banks: np.ndarray) -> np.ndarray:
    r"""Norm-weighted distance of each interior RGB vector to its 8 neighbours.

    .. math::
        \frac{1}{S}\sum_i \frac{|f_i|}{8} \sum_{j,k=2}^{n-1} \sum_{a,b=-1}^{1}
        \left| g_i^{(j+a,k+b)} - g_i^{(j,k)} \right|, \qquad g_i = f_i / |f_i|

    Parameters
    ----------
    banks : ndarray, shape (N, 3, n, n) or (B, N, 3, n, n)

    Returns
    -------
    float or ndarray (B,), >= 0

    Notes
    -----
    * Only interior positions (not on the filter's edge) are centres, as printed; the sum is not divided
      by their number ``(n-2)**2``. So 2x2 filters, with no interior position, have roughness 0.
    * ``|f_i| |g^(p) - g^(q)| = |f^(p) - f^(q)|``, which is what is computed: no division, and zero filters
      need no special case. Scale-invariant.
    * Each neighbouring pair is differenced once, in 4 directions, and counted once for each of its two
      positions that is interior (a centre): the same sum as 8 differences per centre, half the work.
    """
    return _run(compiled().spatial_roughness, banks)


@register_metric("bregman_distance")
def bregman_distance(banks: np.ndarray) -> np.ndarray:
    r"""Norm-weighted distance between each filter and its total-variation denoising, both unit-normalised.

    .. math:: \frac{1}{S}\sum_i |f_i| \left| \frac{f_i}{|f_i|} - \frac{B(f_i)}{|B(f_i)|} \right|

    Parameters
    ----------
    banks : ndarray, shape (N, 3, n, n) or (B, N, 3, n, n)

    Returns
    -------
    float or ndarray (B,), in [0, 2]

    Notes
    -----
    * ``B`` is :func:`skimage.restoration.denoise_tv_bregman` (split Bregman, isotropic) with
      ``weight=BREGMAN_WEIGHT`` (5.0, skimage's default), applied to the raw filter as an ``(n, n, 3)``
      image with ``channel_axis=None``: skimage's kernel then denoises each colour channel as its own 2-D
      image from a zero start. (Its ``channel_axis=-1`` path is avoided on purpose: it reuses one output
      buffer, so each channel's auxiliary variables start from the previous channel's result and a
      finite-sweep answer depends on channel order.)
    * ``eps=0, max_num_iter=BREGMAN_SWEEPS``: always exactly 40 Gauss-Seidel sweeps. skimage's default stop
      rule (``eps=1e-3`` on the RMS update) is an absolute tolerance, so on small deltas it stops after one
      or two sweeps and the metric would depend on the units of the weights. A fixed sweep count is a
      smooth function of the filter; 40 sweeps are within ~2% of the converged value on random banks.
    * Speed: the sweeps run in :func:`zoo.filters.split_bregman.tv_denoise`, a compiled transcription of
      skimage's kernel over all ``B*N*3`` channels at once, vectorized across channels. It equals the
      skimage call (:func:`bregman_distance_skimage`, kept as the reference) to rounding: tested to 1e-9
      relative, observed ~1e-15. Its 40 sweeps are still about two thirds of paper-v1's run time: each
      update needs a square root and a division, which bound the kernel's speed.
    * Not scale-invariant: TV denoising with a fixed weight flattens small-valued filters more.
    * ``unit(B(f_i)) = 0`` when ``B(f_i) = 0``; zero filters contribute 0.
    """
    banks = np.ascontiguousarray(banks)
    size = banks.shape[-1]
    denoised = tv_denoise(banks.reshape(-1, size, size), BREGMAN_WEIGHT, BREGMAN_SWEEPS).reshape(banks.shape)
    return _run(compiled().unit_distance, banks, denoised)


def bregman_distance_skimage(banks: np.ndarray) -> np.ndarray:
    """:func:`bregman_distance` computed with skimage's own kernel; the reference of the fast path.

    Takes and returns what the registered kernel does (``(B, N, 3, n, n)`` float64 -> ``(B,)``); not
    registered, so no feature set uses it. Kept for the equality test and the benchmark's baseline.
    """
    return _bregman_distance(banks, tv_denoise_skimage)


def _bregman_distance(banks: np.ndarray, denoise: Callable[[np.ndarray, float, int], np.ndarray]) -> np.ndarray:
    size = banks.shape[-1]
    denoised = denoise(banks.reshape(-1, size, size), BREGMAN_WEIGHT, BREGMAN_SWEEPS)
    return _unit_distance_weighted(banks, denoised.reshape(banks.shape), _filter_norms(banks))


@register_metric("laplacian_variance")
def laplacian_variance(banks: np.ndarray) -> np.ndarray:
    """Norm-weighted average of the variance of each filter's Laplacian (the paper's image sharpness).

    Parameters
    ----------
    banks : ndarray, shape (N, 3, n, n) or (B, N, 3, n, n)

    Returns
    -------
    float or ndarray (B,), >= 0

    Notes
    -----
    * Each channel is convolved with :data:`LAPLACIAN_KERNEL` (same size, ``reflect`` border), and the
      variance (ddof = 0) is taken over all ``3*n*n`` responses together, as for a colour image.
    * The per-filter values are combined with the norm-weighted average ``(1/S) sum |f_i| L_i`` (module
      notes). Scales by ``s**2``; 0 for constant filters.
    """
    return _run(compiled().laplacian_variance, banks)


@register_metric("wavelet_noise_sigma")
def wavelet_noise_sigma(banks: np.ndarray) -> np.ndarray:
    """Norm-weighted average of the wavelet (Donoho-Johnstone) noise estimate of each filter.

    Parameters
    ----------
    banks : ndarray, shape (N, 3, n, n) or (B, N, 3, n, n)

    Returns
    -------
    float or ndarray (B,), >= 0

    Notes
    -----
    * Per filter this is ``skimage.restoration.estimate_sigma(f_i.transpose(1, 2, 0), channel_axis=-1,
      average_sigmas=True)``: per channel, ``median(|d|) / 0.6745`` of the non-zero diagonal (HH) detail
      coefficients ``d`` of a level-1 ``db2`` DWT (pywt, ``symmetric`` border), averaged over channels.
    * Computed without per-image calls: the DWT is applied as ``H @ X @ H.T`` with the exact pywt operator
      ``H``, and the masked median is taken over all channels at once.
    * Where skimage returns NaN (every detail coefficient of a channel exactly 0, e.g. a zero channel),
      that channel's estimate is 0. Scales by ``s``.
    """
    highpass = _wavelet_highpass_matrix(banks.shape[-1])
    details = np.ascontiguousarray(highpass @ banks @ highpass.T)  # exactly as before: see the kernel
    network = sorting_network(len(highpass) ** 2)
    return _run(compiled().wavelet_noise_sigma, banks, details, network, _MAD_TO_SIGMA)
