"""Per-image quality measurements (paper section 3.1), vectorized over a batch.

Every function takes a batch of RGB images of shape (B, H, W, 3), ``uint8`` (0-255) or floating point in
[0, 1] pixel units (noise may push float values outside [0, 1]; nothing is clipped except where a
property is only defined on displayable colours, see :func:`mean_saturation`). Results are always
reported in [0, 1] pixel units, whatever the input dtype, so a ``uint8`` image and its float copy
measure the same.

Choices (documented once, here):

* **Sharpness** is the variance of the Laplacian (kernel ``[[0,1,0],[1,-4,1],[0,1,0]]``) taken over the
  *valid* region only (no padding: the outermost row and column are never centres), computed per colour
  channel and averaged over the three channels. Averaging per-channel variances ignores constant
  offsets between channels, and the valid region keeps border handling from inventing edges.
* **Noisiness** reproduces ``skimage.restoration.estimate_sigma(img_as_float(image), channel_axis=-1,
  average_sigmas=True)``: per channel, the level-1 ``db2`` DWT (PyWavelets' default ``'symmetric'``
  mode: half-sample symmetric extension, output length ``(N + 3) // 2``) diagonal detail band, then
  ``median(|d|) / Phi^-1(0.75)`` over the coefficients that are not exactly zero, averaged over channels.
  In float64 a coefficient is exactly zero only when its whole 4x4 support is zero (a constant non-zero
  patch gives ~1e-30, not 0), so the mask here is "support entirely zero". A channel whose every
  coefficient is masked gives 0 where skimage gives NaN; a flat channel gives exactly 0.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from zoo.errors import InvalidInput, NotFound

__all__ = [
    "Measurement",
    "PreparedBatch",
    "PropertyMethod",
    "is_grayscale",
    "mean_saturation",
    "measure_properties",
    "noise_sigma",
    "property_method",
    "property_names",
    "register_property",
    "sharpness",
]

#: Phi^-1(0.75): the 75th percentile of the standard normal, as ``scipy.stats.norm.ppf(0.75)``.
_GAUSSIAN_MAD_DENOM = 0.6744897501960817
#: db2 decomposition high-pass filter (``pywt.Wavelet('db2').dec_hi``).
_DB2_DEC_HI = (-0.48296291314453416, 0.8365163037378079, -0.2241438680420134, -0.12940952255126037)
#: Rows of padding each side of the channel-first working copy: the most the db2 DWT reads beyond an
#: edge (2 on the left, 3 on the right of an odd-length signal).
_PAD = 3
#: Method label and version of the ``object_scale`` pass-through measurement.
OBJECT_SCALE = "object_scale"
_OBJECT_SCALE_METHOD = ("known-generation-scale", 1)


def _validated_batch(images: object) -> np.ndarray:
    """Check that ``images`` is a (B, H, W, 3) uint8 or float batch and return it as an array."""
    if not isinstance(images, np.ndarray):
        raise InvalidInput(f"images must be a numpy array of shape (B, H, W, 3), got {type(images).__name__}")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise InvalidInput(f"images must have shape (B, H, W, 3), got {images.shape}")
    if images.dtype != np.uint8 and not np.issubdtype(images.dtype, np.floating):
        raise InvalidInput(f"images must be uint8 or floating point, got dtype {images.dtype}")
    if images.shape[1] < 3 or images.shape[2] < 3:
        raise InvalidInput(f"images must be at least 3x3 pixels, got {images.shape[1]}x{images.shape[2]}")
    if images.dtype != np.uint8 and not np.isfinite(images).all():
        raise InvalidInput("images contain NaN or infinite values; measure finite pixel values only")
    return images


class PreparedBatch:
    """One validated chunk of images and the working copies the property kernels share.

    Parameters
    ----------
    images : ndarray, shape (B, H, W, 3)
        Already validated ``uint8`` or float images. Not copied; working copies are made lazily, once
        per chunk, and shared by every kernel measuring the chunk.

    Notes
    -----
    ``unit`` converts the working copy's units into [0, 1] pixel units: uint8 data are used as 0-255
    floats (saving a scaling pass) and each kernel rescales its per-image results instead.
    """

    def __init__(self, images: np.ndarray) -> None:
        self.images = images
        self.unit = 1.0 / 255.0 if images.dtype == np.uint8 else 1.0

    @cached_property
    def padded(self) -> np.ndarray:
        """float32 (B, 3, H + 6, W + 6) channel-first copy, half-sample symmetric padding of 3."""
        b, h, w, _ = self.images.shape
        out = np.empty((b, 3, h + 2 * _PAD, w + 2 * _PAD), dtype=np.float32)
        out[:, :, _PAD:-_PAD, _PAD:-_PAD] = self.images.transpose(0, 3, 1, 2)
        _fill_symmetric_border(out, axis=2, size=h)
        _fill_symmetric_border(out, axis=3, size=w)
        return out

    @cached_property
    def interior(self) -> np.ndarray:
        """View of :attr:`padded` without the padding, (B, 3, H, W)."""
        return self.padded[:, :, _PAD:-_PAD, _PAD:-_PAD]


def _fill_symmetric_border(padded: np.ndarray, axis: int, size: int) -> None:
    """Write the half-sample symmetric extension (x1 x0 | x0 x1 ...) of ``padded`` along ``axis`` in place."""
    # Index i of the extended signal maps to original index i (reflected as often as needed, so
    # images narrower than the padding still work, like np.pad(mode="symmetric")).
    positions = np.concatenate([np.arange(-_PAD, 0), np.arange(size, size + _PAD)])
    period = 2 * size
    folded = np.mod(positions, period)
    source = np.where(folded < size, folded, period - 1 - folded) + _PAD
    target = np.concatenate([np.arange(_PAD), np.arange(size + _PAD, size + 2 * _PAD)])
    index = [slice(None)] * padded.ndim
    src_index = list(index)
    index[axis] = target
    src_index[axis] = source
    padded[tuple(index)] = padded[tuple(src_index)]


# ----------------------------------------------------------------------------------------------------
# Kernels on a PreparedBatch


def _laplacian_variance(batch: PreparedBatch) -> np.ndarray:
    """Variance of the valid-region Laplacian per image, averaged over channels; (B,) float64."""
    x = batch.interior
    lap = x[:, :, :-2, 1:-1] + x[:, :, 2:, 1:-1]
    lap += x[:, :, 1:-1, :-2]
    lap += x[:, :, 1:-1, 2:]
    lap -= 4.0 * x[:, :, 1:-1, 1:-1]
    rows = lap.reshape(lap.shape[0] * 3, -1)
    n = rows.shape[1]
    mean = rows.sum(axis=1, dtype=np.float64) / n
    mean_sq = np.vecdot(rows, rows).astype(np.float64) / n
    variance = np.maximum(mean_sq - mean * mean, 0.0)
    return variance.reshape(-1, 3).mean(axis=1) * batch.unit**2


def _db2_highpass(x: np.ndarray, axis: int, out_len: int) -> np.ndarray:
    """Level-1 db2 high-pass + downsample along ``axis`` of a 3-padded array; pywt 'symmetric' semantics.

    With ``p`` the padded signal (p[j] = x[j - 3]) pywt gives ``d[i] = sum_k h[k] p[2i + 4 - k]``. It is
    evaluated as ``sum_{k>=1} h[k] (p[2i+4-k] - p[2i+4])`` (exact because sum(h) == 0) so that a
    constant stretch gives exactly 0 rather than a rounding residue.
    """

    def taps(offset: int) -> np.ndarray:
        index = [slice(None)] * x.ndim
        index[axis] = slice(offset, offset + 2 * out_len - 1, 2)
        return x[tuple(index)]

    anchor = taps(4)
    out = taps(3) - anchor
    out *= _DB2_DEC_HI[1]
    for k in (2, 3):
        diff = taps(4 - k) - anchor
        diff *= _DB2_DEC_HI[k]
        out += diff
    return out


def _zero_support(batch: PreparedBatch, out_h: int, out_w: int) -> np.ndarray | None:
    """Boolean (B, 3, Ho, Wo) mask of coefficients whose 4x4 support is all zero, or None if there are none."""
    if not (batch.images == 0).any():  # the common case costs one cheap pass over the input
        return None
    nonzero = (batch.padded != 0).astype(np.float32)
    count = sum(nonzero[:, :, 4 - k : 4 - k + 2 * out_h - 1 : 2, :] for k in range(4))
    count = sum(count[:, :, :, 4 - k : 4 - k + 2 * out_w - 1 : 2] for k in range(4))
    return count == 0


def _wavelet_noise_sigma(batch: PreparedBatch) -> np.ndarray:
    """Donoho-Johnstone Gaussian noise sigma per image (skimage semantics, see module notes); (B,) float64."""
    b, _, hp, wp = batch.padded.shape
    out_h, out_w = (hp - 2 * _PAD + 3) // 2, (wp - 2 * _PAD + 3) // 2
    detail = _db2_highpass(_db2_highpass(batch.padded, 2, out_h), 3, out_w)
    magnitude = np.abs(detail).reshape(b * 3, -1)
    masked = _zero_support(batch, out_h, out_w)
    if masked is not None:
        magnitude[masked.reshape(b * 3, -1)] = -1.0  # sorts first, then skipped by the index offset
    n_masked = np.count_nonzero(magnitude < 0, axis=1) if masked is not None else np.zeros(b * 3, np.int64)
    ordered = np.sort(magnitude, axis=1)
    n_used = ordered.shape[1] - n_masked
    rows = np.arange(ordered.shape[0])
    lower = ordered[rows, np.minimum(n_masked + (n_used - 1) // 2, ordered.shape[1] - 1)]
    upper = ordered[rows, np.minimum(n_masked + n_used // 2, ordered.shape[1] - 1)]
    median = np.where(n_used > 0, 0.5 * (lower.astype(np.float64) + upper), 0.0)
    return (median / _GAUSSIAN_MAD_DENOM).reshape(b, 3).mean(axis=1) * batch.unit


# ----------------------------------------------------------------------------------------------------
# Public per-image functions


def sharpness(images: np.ndarray) -> np.ndarray:
    """Variance of the Laplacian of each image (paper section 3.1).

    Parameters
    ----------
    images : ndarray, shape (B, H, W, 3)
        ``uint8`` (0-255) or float ([0, 1] pixel units) RGB images, H and W >= 3.

    Returns
    -------
    ndarray, shape (B,), float64
        Laplacian variance in [0, 1]-pixel units squared, >= 0: valid region only, per channel, then the
        mean over the three channels. 0 for a flat image.
    """
    return _laplacian_variance(PreparedBatch(_validated_batch(images)))


def noise_sigma(images: np.ndarray) -> np.ndarray:
    """Wavelet estimate of the Gaussian noise standard deviation of each image.

    Vectorized equivalent of ``skimage.restoration.estimate_sigma(img_as_float(image), channel_axis=-1,
    average_sigmas=True)`` (see the module notes for the exact semantics).

    Parameters
    ----------
    images : ndarray, shape (B, H, W, 3)
        ``uint8`` (0-255) or float ([0, 1] pixel units) RGB images, H and W >= 3.

    Returns
    -------
    ndarray, shape (B,), float64
        Estimated sigma in [0, 1] pixel units, >= 0; exactly 0 (never NaN) for flat images.
    """
    return _wavelet_noise_sigma(PreparedBatch(_validated_batch(images)))


def mean_saturation(images: np.ndarray) -> np.ndarray:
    """Mean HSV saturation of each image.

    Parameters
    ----------
    images : ndarray, shape (B, H, W, 3)
        ``uint8`` or float RGB images. Float values are clipped to [0, 1] first: HSV is only defined on
        displayable colours (noise can push pixels outside).

    Returns
    -------
    ndarray, shape (B,), float64
        Mean over pixels of ``(max - min) / max`` in [0, 1]; a black pixel (max == 0) counts as 0, as in
        :func:`skimage.color.rgb2hsv`.
    """
    return _saturation(_validated_batch(images))


def _saturation(images: np.ndarray) -> np.ndarray:
    """:func:`mean_saturation` of an already validated batch."""
    if images.dtype != np.uint8:
        images = np.clip(images, 0.0, 1.0, dtype=np.float32)
    r, g, b = (images[..., c].astype(np.float32) for c in range(3))
    high = np.maximum(np.maximum(r, g), b)
    spread = high - np.minimum(np.minimum(r, g), b)
    saturation = np.divide(spread, high, out=np.zeros_like(high), where=high > 0)
    return saturation.mean(axis=(1, 2), dtype=np.float64)


def is_grayscale(images: np.ndarray) -> np.ndarray:
    """Whether each image has three identical channels.

    Parameters
    ----------
    images : ndarray, shape (B, H, W, 3)
        ``uint8`` or float RGB images.

    Returns
    -------
    ndarray, shape (B,), bool
        True where R == G == B at every pixel (exact equality: grayscale sources store 3 equal channels).
    """
    images = _validated_batch(images)
    same = (images[..., 0] == images[..., 1]) & (images[..., 1] == images[..., 2])
    return same.all(axis=(1, 2))


# ----------------------------------------------------------------------------------------------------
# Registry and dataset-level measurements


@dataclass(frozen=True)
class PropertyMethod:
    """A registered image property: how it is measured on a prepared chunk, and the method's identity."""

    name: str
    method: str
    version: int
    measure: Callable[[PreparedBatch], np.ndarray]


@dataclass(frozen=True)
class Measurement:
    """A dataset-level property value: the mean of per-image values and their standard deviation.

    ``spread`` is the population standard deviation (ddof=0); ``method``/``method_version`` identify the
    estimator so values from different methods are never compared by accident.
    """

    property: str
    value: float
    spread: float
    n_samples: int
    method: str
    method_version: int


_PROPERTIES: dict[str, PropertyMethod] = {}


def register_property(
    name: str, method: str, version: int
) -> Callable[[Callable[[PreparedBatch], np.ndarray]], Callable[[PreparedBatch], np.ndarray]]:
    """Register a per-image property kernel under ``name`` (decorator).

    The kernel maps a :class:`PreparedBatch` of B images to a float array of shape (B,). Registering a
    name twice is a programming error and raises ``ValueError``.
    """
    if not name or name == OBJECT_SCALE or name in _PROPERTIES:
        raise ValueError(f"property name {name!r} is empty, reserved or already registered")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"property version must be a positive int, got {version!r}")

    def decorator(kernel: Callable[[PreparedBatch], np.ndarray]) -> Callable[[PreparedBatch], np.ndarray]:
        _PROPERTIES[name] = PropertyMethod(name=name, method=method, version=version, measure=kernel)
        return kernel

    return decorator


register_property("sharpness", method="laplacian-variance-valid-channel-mean", version=1)(_laplacian_variance)
register_property("noisiness", method="wavelet-db2-mad-sigma", version=1)(_wavelet_noise_sigma)


@register_property("saturation", method="hsv-saturation-mean", version=1)
def _saturation_kernel(batch: PreparedBatch) -> np.ndarray:
    return _saturation(batch.images)


def property_names() -> tuple[str, ...]:
    """Names of the pixel-measured properties, sorted (``object_scale`` is passed through, not measured)."""
    return tuple(sorted(_PROPERTIES))


def property_method(name: str) -> PropertyMethod:
    """The registered property ``name``; raises :class:`NotFound` listing the valid names."""
    try:
        return _PROPERTIES[name]
    except KeyError:
        valid = ", ".join(property_names())
        raise NotFound(f"unknown image property {name!r}; valid: {valid} (and {OBJECT_SCALE!r} if known)") from None


def _requested(names: Iterable[str] | None, object_scale: float | None) -> tuple[list[PropertyMethod], bool]:
    """The pixel properties to measure and whether to report object_scale; fails fast on bad names."""
    if names is None:
        return [_PROPERTIES[n] for n in property_names()], object_scale is not None
    if isinstance(names, str):
        raise InvalidInput("names must be a sequence of property names, not a single string")
    wanted = list(dict.fromkeys(names))
    if OBJECT_SCALE in wanted and object_scale is None:
        raise InvalidInput("object_scale is not measured from pixels; pass the source's known object_scale")
    return [property_method(n) for n in wanted if n != OBJECT_SCALE], OBJECT_SCALE in wanted


def measure_properties(
    images: np.ndarray,
    names: Sequence[str] | None = None,
    batch_size: int = 32,
    *,
    object_scale: float | None = None,
    workers: int | None = None,
) -> dict[str, Measurement]:
    """Measure dataset-level properties (mean and spread over images), chunk by chunk.

    Parameters
    ----------
    images : ndarray, shape (B, H, W, 3)
        ``uint8`` or float RGB images, B >= 1, H and W >= 3.
    names : sequence of str, optional
        Properties to measure; default all registered ones (plus ``object_scale`` when it is given).
        ``"object_scale"`` may be named only together with ``object_scale=``.
    batch_size : int
        Images per chunk (>= 1); bounds the working memory to about 60 * batch_size * H * W bytes per
        worker.
    object_scale : float, optional
        Known relative object scale of the source (> 0), reported as the ``object_scale`` measurement.
    workers : int, optional
        Threads working on chunks in parallel (numpy releases the GIL); default the CPU count.

    Returns
    -------
    dict of str to Measurement
        One entry per requested property.
    """
    images = _validated_batch(images)
    if images.shape[0] == 0:
        raise InvalidInput("no images to measure; pass at least one image")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInput(f"batch_size must be a positive int, got {batch_size!r}")
    if object_scale is not None and not (np.isfinite(object_scale) and object_scale > 0):
        raise InvalidInput(f"object_scale must be a positive finite number, got {object_scale!r}")
    methods, want_scale = _requested(names, object_scale)
    values = _measure_chunks(images, methods, batch_size, workers or os.cpu_count() or 1)
    result = {
        m.name: Measurement(m.name, float(v.mean()), float(v.std()), int(v.size), m.method, m.version)
        for m, v in zip(methods, values)
    }
    if want_scale:
        method, version = _OBJECT_SCALE_METHOD
        result[OBJECT_SCALE] = Measurement(OBJECT_SCALE, float(object_scale), 0.0, images.shape[0], method, version)
    return result


def _measure_chunks(
    images: np.ndarray, methods: list[PropertyMethod], batch_size: int, workers: int
) -> list[np.ndarray]:
    """Per-image values of every method, (B,) each, computing chunks on a thread pool."""
    starts = range(0, images.shape[0], batch_size)

    def one_chunk(start: int) -> list[np.ndarray]:
        batch = PreparedBatch(images[start : start + batch_size])
        return [m.measure(batch) for m in methods]

    if workers <= 1 or len(starts) == 1:
        chunks = [one_chunk(s) for s in starts]
    else:
        with ThreadPoolExecutor(max_workers=min(workers, len(starts))) as pool:
            chunks = list(pool.map(one_chunk, starts))
    return [np.concatenate([c[i] for c in chunks]) for i in range(len(methods))]
