"""The paper's dataset variants on torch batches, on the training device, per batch of the loop.

Same registry and numbers as :mod:`zoo.images.transforms`: separable kinds (dilate, resize, blur) apply
the very matrices :func:`zoo.images.transforms.separable_matrices` builds, uploaded once per (kind,
params, size, device, dtype) and cached, as two batched matmuls ``rows @ x @ cols.T``; the numpy and
torch forms therefore agree to float32 rounding. Additive noise is ``x + sigma * noise`` where
``noise`` is either supplied (e.g. the numpy draw, to reproduce it exactly) or drawn on ``x``'s device
with ``torch.randn(..., generator=generator)``; ``draw = "fixed"`` noise is then clipped to [0, 1] and
rounded to 8 bits, as in numpy. (Drawing it once per *image* is the caller's part: the worker trains a
fixed-noise variant on :func:`zoo.images.transforms.saved_noise_images`, with no per-batch transform.)
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import torch

from zoo.errors import InvalidInput
from zoo.images.transforms import params_key, separable_matrices, transform_kind

__all__ = ["apply_transform_torch"]


@lru_cache(maxsize=256)
def _device_matrices(
    kind: str, key: tuple, height: int, width: int, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Row (H, H) and transposed column (W, W) matrices of a separable kind, resident on ``device``."""
    rows, cols = separable_matrices(kind, dict(key), height, width)
    return torch.tensor(rows, dtype=dtype, device=device), torch.tensor(cols.T, dtype=dtype, device=device)


def _validated_batch(x: object) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InvalidInput(f"x must be a tensor of shape (B, 3, H, W), got {shape}")
    if not x.is_floating_point():
        raise InvalidInput(f"x must be float in [0, 1] pixel units, got {x.dtype}; divide uint8 by 255")
    return x


def _noise_for(x: torch.Tensor, generator: torch.Generator | None, noise: torch.Tensor | None) -> torch.Tensor:
    """The standard-normal draw to add: ``noise`` checked against ``x``, or a fresh draw on x's device."""
    if noise is None:
        return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    if not isinstance(noise, torch.Tensor) or noise.shape != x.shape:
        got = getattr(noise, "shape", noise)
        raise InvalidInput(f"noise must be a tensor shaped like x {tuple(x.shape)}, got {got}")
    return noise.to(device=x.device, dtype=x.dtype)


def apply_transform_torch(
    kind: str,
    params: Mapping[str, object],
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Apply one transform kind to a batch on its own device (torch twin of ``apply_transform``).

    Parameters
    ----------
    kind : str
        A registered kind (``zoo.images.transforms.transform_kinds()``).
    params : mapping
        The kind's parameters, validated exactly as in numpy.
    x : Tensor, shape (B, 3, H, W), float
        RGB images in [0, 1] pixel units, any device. Not modified.
    generator : torch.Generator, optional
        Generator for the noise draw; must live on ``x``'s device. Ignored when ``noise`` is given.
    noise : Tensor, shape (B, 3, H, W), optional
        A standard-normal draw to use instead of drawing one (lets tests and replays reuse a draw).

    Returns
    -------
    Tensor, shape (B, 3, H, W)
        New tensor on ``x``'s device and dtype; not clipped, except by ``draw = "fixed"`` noise.
    """
    spec = transform_kind(kind)
    checked = spec.validate(params)
    x = _validated_batch(x)
    if spec.category == "identity":
        return x.clone()
    if spec.category == "separable":
        rows, cols_t = _device_matrices(kind, params_key(checked), x.shape[2], x.shape[3], x.device, x.dtype)
        return torch.matmul(torch.matmul(rows, x), cols_t)
    if spec.category == "additive_noise":
        noisy = x + spec.noise_sigma(checked) * _noise_for(x, generator, noise)
        return noisy.clamp_(0.0, 1.0).mul_(255.0).round_().div_(255.0) if checked.get("draw") == "fixed" else noisy
    raise NotImplementedError(f"transform category {spec.category!r} of {kind!r} has no torch implementation")
