"""The paper's dataset variants (section 4.1) as a registry of image transform kinds, in numpy.

Every geometric or blur transform here is *separable and linear*: it is one matrix applied along the
rows and one along the columns, ``out[b, :, :, c] = R @ img[b, :, :, c] @ C.T``. The matrices are built
once (float64, cast to float32) by :func:`separable_matrices`, and the torch form in
``ingest.device_transforms`` applies the very same matrices, so both forms agree to float32 rounding.

Documented choices:

* **dilate** (factor f >= 1) is a zoom: bilinear upscale of each side n to ``m = floor(n * f)`` then
  the centred crop of n pixels (offset ``round((m - n) / 2)``, as torchvision's ``CenterCrop``). The
  object scale grows by f.
* **resize** (factor 0 < f <= 1) is down-then-up: an antialiased triangle-filter downscale to
  ``max(1, floor(n * f))`` then a bilinear upscale back to n; the two are composed into one matrix.
* Both resamplers follow ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False,
  antialias=True)`` (itself PIL's algorithm): output pixel i is centred at source ``(i + 0.5) * n_in /
  n_out``, the triangle is widened by ``n_in / n_out`` when shrinking, weights are renormalised at the
  edges. For upscaling this is exactly plain bilinear with edge clamping.
* **blur** (odd kernel k, sigma s) uses torchvision's sampled Gaussian ``exp(-x^2 / 2 s^2)`` at
  ``x = -(k-1)/2 .. (k-1)/2``, normalised, separable, with *reflect* padding (``d c b | a b c d | c b a``,
  torch/numpy "reflect", edge not repeated), folded as often as needed so tiny images still work.
* **noise** (sigma >= 0) adds ``sigma * N(0, 1)`` in [0, 1] pixel units, float32, drawn from the
  caller's seeded ``numpy.random.Generator``. Two ways to draw it (the optional ``draw`` parameter):
  ``"per-step"`` (the default, and the paper's reading) is a fresh draw every time the transform runs
  (every training batch), never clipped; ``"fixed"`` is a noisy dataset saved to disk: one draw per
  image (:func:`saved_noise_images`, seeded by the variant), clipped to [0, 1] and rounded to 8 bits as
  an image file stores it. Stored parameters omit ``draw`` at its default, so per-step variants keep the
  parameters (and catalog rows) they always had.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar

import numpy as np

from zoo.errors import InvalidInput, NotFound

__all__ = [
    "NOISE_DRAWS",
    "PAPER_VARIANTS",
    "TransformKind",
    "VariantSpec",
    "apply_transform",
    "is_saved_noise",
    "noise_draw",
    "object_scale_factor",
    "paper_variants",
    "params_key",
    "register_transform",
    "saved_noise_images",
    "separable_matrices",
    "transform_kind",
    "transform_kinds",
]

Params = dict[str, float | int | str]


# ----------------------------------------------------------------------------------------------------
# Parameter rules


@dataclass(frozen=True)
class _Number:
    """A numeric parameter: its type and the closed/open range it must lie in."""

    integer: bool = False
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    odd: bool = False

    def check(self, kind: str, name: str, value: object) -> float | int:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise InvalidInput(f"{kind}: parameter {name!r} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise InvalidInput(f"{kind}: parameter {name!r} must be finite, got {value!r}")
        if self.integer and float(value) != int(value):
            raise InvalidInput(f"{kind}: parameter {name!r} must be an integer, got {value!r}")
        value = int(value) if self.integer else float(value)
        below = value <= self.low if self.low_open else value < self.low
        if below or value > self.high:
            left = "(" if self.low_open else "["
            raise InvalidInput(f"{kind}: parameter {name!r} must be in {left}{self.low}, {self.high}], got {value!r}")
        if self.odd and value % 2 == 0:
            raise InvalidInput(f"{kind}: parameter {name!r} must be odd, got {value!r}")
        return value


@dataclass(frozen=True)
class _Choice:
    """A text parameter with a fixed set of values and a default (an optional parameter)."""

    options: tuple[str, ...]
    default: str

    def check(self, kind: str, name: str, value: object) -> str:
        if value not in self.options:
            raise InvalidInput(f"{kind}: parameter {name!r} must be one of {', '.join(self.options)}, got {value!r}")
        return str(value)


# ----------------------------------------------------------------------------------------------------
# Registry


class TransformKind:
    """Base of a registered transform kind; subclasses declare ``PARAMS`` and a category.

    ``category`` tells every implementation (numpy here, torch in ``ingest.device_transforms``) how to
    run the kind: ``"identity"``, ``"separable"`` (provides :meth:`matrices`) or ``"additive_noise"``
    (provides :meth:`noise_sigma`).
    """

    name: ClassVar[str] = ""
    category: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, _Number | _Choice]] = {}

    def validate(self, params: Mapping[str, object]) -> Params:
        """Return the parameters checked and normalised; raise :class:`InvalidInput` naming the problem.

        Optional (:class:`_Choice`) parameters equal to their default are left out of the result, so
        adding an optional parameter to a kind changes no existing variant's parameters.
        """
        if not isinstance(params, Mapping):
            raise InvalidInput(f"{self.name}: params must be a mapping, got {type(params).__name__}")
        required = {name for name, rule in self.PARAMS.items() if not isinstance(rule, _Choice)}
        unknown = sorted(set(params) - set(self.PARAMS))
        missing = sorted(required - set(params))
        if unknown or missing:
            raise InvalidInput(
                f"{self.name}: expected parameters {sorted(self.PARAMS)}; unknown {unknown}, missing {missing}"
            )
        checked = {
            name: rule.check(self.name, name, params[name]) for name, rule in self.PARAMS.items() if name in params
        }
        return {
            name: value
            for name, value in checked.items()
            if not (isinstance(self.PARAMS[name], _Choice) and value == self.PARAMS[name].default)
        }

    def object_scale_factor(self, params: Params) -> float:
        """How the transform multiplies the relative object scale (1.0 unless it zooms)."""
        return 1.0

    def matrices(self, params: Params, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows (H, H), cols (W, W)) float64 matrices of a separable kind."""
        raise NotImplementedError(f"{self.name} is not a separable transform")

    def noise_sigma(self, params: Params) -> float:
        """Standard deviation of the additive Gaussian noise of an additive-noise kind."""
        raise NotImplementedError(f"{self.name} is not an additive-noise transform")


_KINDS: dict[str, TransformKind] = {}
_CATEGORIES = ("identity", "separable", "additive_noise")


def register_transform(name: str) -> Callable[[type[TransformKind]], type[TransformKind]]:
    """Class decorator registering a :class:`TransformKind` subclass under ``name``."""

    def decorator(cls: type[TransformKind]) -> type[TransformKind]:
        if name in _KINDS or cls.category not in _CATEGORIES:
            raise ValueError(f"transform {name!r} is already registered or has an unknown category")
        cls.name = name
        _KINDS[name] = cls()
        return cls

    return decorator


def transform_kinds() -> tuple[str, ...]:
    """Names of the registered transform kinds, sorted."""
    return tuple(sorted(_KINDS))


def transform_kind(kind: str) -> TransformKind:
    """The registered kind ``kind``; raises :class:`NotFound` listing the valid kinds."""
    try:
        return _KINDS[kind]
    except (KeyError, TypeError):
        raise NotFound(f"unknown transform kind {kind!r}; valid: {', '.join(transform_kinds())}") from None


def params_key(params: Mapping[str, float | int]) -> tuple[tuple[str, float | int], ...]:
    """Hashable, order-independent form of validated parameters (for caches)."""
    return tuple(sorted(params.items()))


# ----------------------------------------------------------------------------------------------------
# 1-D linear operators (n_out, n_in), float64


def _triangle_resample_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Antialiased bilinear resampling matrix (n_out, n_in), torch ``antialias=True`` semantics."""
    scale = n_in / n_out
    support = scale if scale >= 1.0 else 1.0  # triangle half-width in source pixels
    inv = 1.0 / scale if scale >= 1.0 else 1.0
    centre = scale * (np.arange(n_out) + 0.5)
    # int() truncation toward zero, as in ATen, decides which taps exist at the edges.
    first = np.maximum(np.trunc(centre - support + 0.5), 0).astype(np.int64)
    stop = np.minimum(np.trunc(centre + support + 0.5), n_in).astype(np.int64)
    j = np.arange(n_in)
    inside = (j >= first[:, None]) & (j < stop[:, None])
    weights = np.where(inside, np.clip(1.0 - np.abs((j - centre[:, None] + 0.5) * inv), 0.0, None), 0.0)
    total = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)


def _scaled_size(n: int, factor: float) -> int:
    """``floor(n * factor)`` (as ``int(224 * f)`` in a torchvision pipeline), at least 1."""
    return max(1, math.floor(n * factor + 1e-9))  # the epsilon keeps 0.3 * 10 from flooring to 2


def _zoom_matrix(n: int, factor: float) -> np.ndarray:
    """Bilinear upscale of n by ``factor`` then centred crop back to n: (n, n)."""
    upscaled = max(n, _scaled_size(n, factor))
    top = int(round((upscaled - n) / 2.0))  # torchvision CenterCrop's offset
    return _triangle_resample_matrix(n, upscaled)[top : top + n]


def _down_up_matrix(n: int, factor: float) -> np.ndarray:
    """Antialiased downscale of n to ``max(1, floor(n * factor))`` then bilinear back up: (n, n)."""
    small = _scaled_size(n, factor)
    return _triangle_resample_matrix(small, n) @ _triangle_resample_matrix(n, small)


def _reflect_index(index: np.ndarray, n: int) -> np.ndarray:
    """Map any integer index onto [0, n) by reflection without repeating the edge (d c b | a b c d | c b)."""
    if n == 1:
        return np.zeros_like(index)
    period = 2 * (n - 1)
    folded = np.mod(index, period)
    return np.where(folded < n, folded, period - folded)


def _gaussian_blur_matrix(n: int, kernel: int, sigma: float) -> np.ndarray:
    """Sampled, normalised Gaussian convolution with reflect padding as an (n, n) matrix."""
    half = (kernel - 1) // 2
    offsets = np.arange(-half, half + 1)
    taps = np.exp(-0.5 * (offsets / sigma) ** 2)
    taps /= taps.sum()
    matrix = np.zeros((n, n))
    rows = np.repeat(np.arange(n), kernel)
    cols = _reflect_index(rows + np.tile(offsets, n), n)
    np.add.at(matrix, (rows, cols), np.tile(taps, n))
    return matrix


@lru_cache(maxsize=256)
def _cached_matrices(kind: str, key: tuple, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = _KINDS[kind].matrices(dict(key), height, width)
    out = (rows.astype(np.float32), cols.astype(np.float32))
    for m in out:
        m.flags.writeable = False
    return out


def separable_matrices(
    kind: str, params: Mapping[str, object], height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """The float32 row (H, H) and column (W, W) matrices of a separable kind (cached, read-only).

    ``out[b, :, :, c] = rows @ img[b, :, :, c] @ cols.T`` for (B, H, W, 3) images.
    """
    spec = transform_kind(kind)
    if spec.category != "separable":
        raise InvalidInput(f"transform {kind!r} is not separable (category {spec.category!r})")
    if height < 1 or width < 1:
        raise InvalidInput(f"image size must be at least 1x1, got {height}x{width}")
    return _cached_matrices(kind, params_key(spec.validate(params)), int(height), int(width))


# ----------------------------------------------------------------------------------------------------
# The kinds


@register_transform("identity")
class _Identity(TransformKind):
    """The original images, unchanged."""

    category = "identity"


@register_transform("dilate")
class _Dilate(TransformKind):
    """Zoom in by ``factor`` (bilinear upscale, centre crop); the object scale grows by ``factor``."""

    category = "separable"
    PARAMS = {"factor": _Number(low=1.0, high=16.0)}

    def object_scale_factor(self, params: Params) -> float:
        return float(params["factor"])

    def matrices(self, params: Params, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        return _zoom_matrix(height, params["factor"]), _zoom_matrix(width, params["factor"])


@register_transform("resize")
class _Resize(TransformKind):
    """Down-then-up resize by ``factor`` (antialiased down, bilinear up)."""

    category = "separable"
    PARAMS = {"factor": _Number(low=0.0, low_open=True, high=1.0)}

    def matrices(self, params: Params, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        return _down_up_matrix(height, params["factor"]), _down_up_matrix(width, params["factor"])


@register_transform("blur")
class _Blur(TransformKind):
    """Separable Gaussian blur with an odd ``kernel`` size and standard deviation ``sigma`` (pixels)."""

    category = "separable"
    PARAMS = {"kernel": _Number(integer=True, low=1, high=255, odd=True), "sigma": _Number(low=0.0, low_open=True)}

    def matrices(self, params: Params, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        k, s = int(params["kernel"]), float(params["sigma"])
        return _gaussian_blur_matrix(height, k, s), _gaussian_blur_matrix(width, k, s)


#: How a noise variant draws its noise: fresh every batch (default), or once per image as a saved dataset.
NOISE_DRAWS = ("per-step", "fixed")


@register_transform("noise")
class _Noise(TransformKind):
    """Additive Gaussian noise of standard deviation ``sigma`` in [0, 1] pixel units.

    ``draw = "per-step"`` (default): a fresh draw per call, unclipped. ``draw = "fixed"``: the noise of a
    dataset saved to disk, clipped to [0, 1] and rounded to 8 bits (see :func:`saved_noise_images`).
    """

    category = "additive_noise"
    PARAMS = {"sigma": _Number(low=0.0), "draw": _Choice(NOISE_DRAWS, default=NOISE_DRAWS[0])}

    def noise_sigma(self, params: Params) -> float:
        return float(params["sigma"])


# ----------------------------------------------------------------------------------------------------
# Applying transforms


def _validated_float_batch(images: object) -> np.ndarray:
    if not isinstance(images, np.ndarray) or images.ndim != 4 or images.shape[-1] != 3:
        shape = getattr(images, "shape", type(images).__name__)
        raise InvalidInput(f"images must be a numpy array of shape (B, H, W, 3), got {shape}")
    if not np.issubdtype(images.dtype, np.floating):
        raise InvalidInput(f"images must be float in [0, 1] pixel units, got {images.dtype}; divide uint8 by 255")
    return images.astype(np.float32, copy=False)


def _apply_separable(rows: np.ndarray, cols: np.ndarray, images: np.ndarray) -> np.ndarray:
    """``rows @ img @ cols.T`` for every image and channel of a (B, H, W, 3) float32 batch."""
    b, h, w, c = images.shape
    along_h = np.matmul(rows, images.reshape(b, h, w * c)).reshape(b, rows.shape[0], w, c)
    along_w = np.tensordot(along_h, cols, axes=([2], [1]))  # (B, H', 3, W')
    return np.ascontiguousarray(along_w.transpose(0, 1, 3, 2))


def apply_transform(
    kind: str,
    params: Mapping[str, object],
    images: np.ndarray,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Apply one transform to a batch of float images.

    Parameters
    ----------
    kind : str
        A registered kind (see :func:`transform_kinds`).
    params : mapping
        The kind's parameters, e.g. ``{"kernel": 7, "sigma": 2}`` for ``"blur"``.
    images : ndarray, shape (B, H, W, 3), float
        RGB images in [0, 1] pixel units (values outside are allowed and kept).
    rng : numpy.random.Generator, optional
        Source of the noise draw; required by additive-noise kinds. The draw is
        ``rng.standard_normal(images.shape, dtype=float32)``, so a generator with the same seed and state
        reproduces it (the torch form accepts that array as ``noise=``).

    Returns
    -------
    ndarray, shape (B, H, W, 3), float32
        New array; the input is never modified. Not clipped, except by ``draw = "fixed"`` noise.
    """
    spec = transform_kind(kind)
    checked = spec.validate(params)
    images = _validated_float_batch(images)
    if spec.category == "identity":
        return images.copy()
    if spec.category == "separable":
        rows, cols = _cached_matrices(kind, params_key(checked), images.shape[1], images.shape[2])
        return _apply_separable(rows, cols, images)
    if not isinstance(rng, np.random.Generator):
        raise InvalidInput(f"{kind}: pass a seeded numpy.random.Generator as rng, got {type(rng).__name__}")
    noise = rng.standard_normal(images.shape, dtype=np.float32)
    noisy = images + np.float32(spec.noise_sigma(checked)) * noise
    return _as_saved(noisy) if checked.get("draw") == "fixed" else noisy


def _as_saved(images: np.ndarray) -> np.ndarray:
    """Float images as an 8-bit image file stores them: clipped to [0, 1], rounded to multiples of 1/255."""
    return (np.rint(np.clip(images, 0.0, 1.0) * np.float32(255.0)) / np.float32(255.0)).astype(np.float32)


def is_saved_noise(kind: str, params: Mapping[str, object]) -> bool:
    """True for a noise variant drawn once per image (``draw = "fixed"``): a noisy dataset on disk."""
    return transform_kind(kind).category == "additive_noise" and params.get("draw") == "fixed"


def saved_noise_images(images: np.ndarray, sigma: float, seed: int, chunk: int = 256) -> np.ndarray:
    """The noisy dataset a ``draw = "fixed"`` variant stands for, as uint8 images written to disk would be.

    Parameters
    ----------
    images : ndarray, shape (N, H, W, 3), uint8
        The base dataset.
    sigma : float
        Noise standard deviation in [0, 1] pixel units (>= 0).
    seed : int
        The variant's seed: one ``numpy.random.default_rng(seed)`` stream over the images in order, so
        image i always gets the same noise, whatever subset or batch it is later used in.
    chunk : int
        Images per draw (bounds the float working memory; the result does not depend on it).

    Returns
    -------
    ndarray, shape (N, H, W, 3), uint8
        ``round(clip(x / 255 + sigma * N(0, 1), 0, 1) * 255)``.
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise InvalidInput(
            f"images must be uint8 (N, H, W, 3), got {getattr(images, 'dtype', type(images).__name__)} {getattr(images, 'shape', '')}"
        )
    sigma = float(_Number(low=0.0).check("noise", "sigma", sigma))
    rng = np.random.default_rng(seed)
    out = np.empty_like(images)
    for start in range(0, len(images), max(1, int(chunk))):
        batch = images[start : start + chunk].astype(np.float32) / np.float32(255.0)
        noisy = batch + np.float32(sigma) * rng.standard_normal(batch.shape, dtype=np.float32)
        out[start : start + chunk] = np.rint(np.clip(noisy, 0.0, 1.0) * np.float32(255.0)).astype(np.uint8)
    return out


def object_scale_factor(kind: str, params: Mapping[str, object]) -> float:
    """Factor by which ``kind`` with ``params`` multiplies the relative object scale (dilation: its factor)."""
    spec = transform_kind(kind)
    return spec.object_scale_factor(spec.validate(params))


# ----------------------------------------------------------------------------------------------------
# The paper's 20 variants


@dataclass(frozen=True)
class VariantSpec:
    """One named dataset variant: a transform kind and its parameters."""

    kind: str
    params: dict[str, float | int | str] = field(hash=False)
    name: str


def _variant(kind: str, name: str, **params: float | int) -> VariantSpec:
    checked = transform_kind(kind).validate(params)
    return VariantSpec(kind=kind, params=checked, name=name)


PAPER_VARIANTS: tuple[VariantSpec, ...] = (
    _variant("identity", "original"),
    *(_variant("dilate", f"dilate-{f:g}", factor=f) for f in (1.25, 1.5, 2.0, 2.5, 3.0)),
    *(_variant("resize", f"resize-{f:g}", factor=f) for f in (0.1, 0.25, 0.5, 0.75)),
    *(_variant("blur", f"blur-k{k}-s{s:g}", kernel=k, sigma=s) for k, s in ((3, 1), (7, 2), (11, 3), (15, 4), (19, 5))),
    *(_variant("noise", f"noise-{s:g}", sigma=s) for s in (0.1, 0.25, 0.5, 0.75, 1.0)),
)


def paper_variants(noise: str = NOISE_DRAWS[0]) -> tuple[VariantSpec, ...]:
    """The 20 paper variants with their noise drawn ``noise``-wise (``"per-step"``: :data:`PAPER_VARIANTS`)."""
    if noise not in NOISE_DRAWS:
        raise InvalidInput(f"noise must be one of {', '.join(NOISE_DRAWS)}, got {noise!r}")
    if noise == NOISE_DRAWS[0]:
        return PAPER_VARIANTS
    return tuple(_variant(v.kind, v.name, **v.params, draw=noise) if v.kind == "noise" else v for v in PAPER_VARIANTS)


def noise_draw(params: Mapping[str, object]) -> str:
    """``"fixed"`` or ``"per-step"``: how a variant with ``params`` draws noise (per-step for non-noise kinds)."""
    return str(params.get("draw", NOISE_DRAWS[0]))
