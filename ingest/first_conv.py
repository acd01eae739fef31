"""Find the first convolution of a timm model and read its filters as a numpy bank.

A weights file is read one way (:mod:`ingest.weights`: load the state dict, build the architecture from it,
which checks that every tensor fits) and its first convolution found on the built model, like any other.

The first convolution is the one timm's ``pretrained_cfg["first_conv"]`` names, where the model has that
setting (it may name the module, ``"conv1"``, or its weight, ``"conv1.weight"``); otherwise it is the first
2-D convolution in module order. Its name is always returned as the state-dict key of the weight
(``"conv1.weight"``, ``"stem.0.weight"``, ``"patch_embed.proj.weight"``) and its weight as a float32 array of
shape ``(N, C, kh, kw)``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from zoo.errors import InvalidInput

__all__ = [
    "NoFirstConvError",
    "delta",
    "first_conv_name",
    "first_conv_weight",
]

_WEIGHT = ".weight"


class NoFirstConvError(InvalidInput):
    """The architecture has no 2-D convolution over the image, so it has no first-layer filters."""


def first_conv_name(model: nn.Module) -> str:
    """State-dict key of the weight of ``model``'s first convolution, e.g. ``"conv1.weight"``.

    Raises
    ------
    NoFirstConvError
        If timm's configured first layer is not a convolution, or the model has no ``nn.Conv2d`` at all.
    """
    configured = _configured_first_layer(model)
    if configured is not None:
        return configured
    for name, module in model.named_modules():
        if _is_conv2d(module):
            return f"{name}{_WEIGHT}" if name else _WEIGHT[1:]
    raise NoFirstConvError(f"{_architecture(model)} has no 2-D convolution, so it has no first-layer filters")


def first_conv_weight(model: nn.Module) -> np.ndarray:
    """Weight of ``model``'s first convolution as a new float32 array ``(N, C, kh, kw)``.

    Raises
    ------
    NoFirstConvError
        See :func:`first_conv_name`.
    InvalidInput
        If the weights are on the ``meta`` device (a skeleton without values).
    """
    name = first_conv_name(model)
    weight = model.get_parameter(name)
    if weight.is_meta:
        raise InvalidInput(f"{_architecture(model)} has no weight values ({name} is on the meta device)")
    return _as_float32(weight)


def delta(learned: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``learned - reference`` as float32, the filter change the metrics read.

    Parameters
    ----------
    learned, reference : ndarray, shape (N, C, kh, kw)
        First-layer weights after and before training, of the same architecture.

    Returns
    -------
    ndarray, shape (N, C, kh, kw), float32

    Raises
    ------
    InvalidInput
        If the shapes differ or are not 4-D.
    """
    learned = np.asarray(learned, dtype=np.float32)
    reference = np.asarray(reference, dtype=np.float32)
    if learned.shape != reference.shape:
        raise InvalidInput(
            f"learned filters {learned.shape} and reference filters {reference.shape} differ in shape; "
            f"both must come from the first convolution of the same architecture"
        )
    if learned.ndim != 4:
        raise InvalidInput(f"first-layer filters must have shape (N, C, kh, kw), got {learned.shape}")
    return learned - reference


def _configured_first_layer(model: nn.Module) -> str | None:
    """Weight key of timm's configured ``first_conv``, or None if there is none or it is not in the model."""
    configured = (getattr(model, "pretrained_cfg", None) or {}).get("first_conv")
    if isinstance(configured, (list, tuple)):
        configured = configured[0] if configured else None
    if not isinstance(configured, str) or not configured:
        return None
    module_name = configured.removesuffix(_WEIGHT)
    try:
        module = model.get_submodule(module_name)
    except AttributeError:
        return None
    if not _is_conv2d(module):
        raise NoFirstConvError(
            f"{_architecture(model)} starts with {module_name!r}, a {type(module).__name__}, "
            f"not a 2-D convolution, so it has no first-layer filters"
        )
    return f"{module_name}{_WEIGHT}"


def _is_conv2d(module: nn.Module) -> bool:
    """True for nn.Conv2d and timm variants (Conv2dSame, StdConv2d, ...) that hold a 4-D weight."""
    weight = getattr(module, "weight", None)
    return isinstance(module, nn.Conv2d) or (isinstance(weight, nn.Parameter) and weight.ndim == 4)


def _architecture(model: nn.Module) -> str:
    return (getattr(model, "pretrained_cfg", None) or {}).get("architecture") or type(model).__name__


def _as_float32(weight: torch.Tensor | np.ndarray) -> np.ndarray:
    """A new float32 numpy copy (bf16 and fp16 tensors included) that does not alias the model."""
    if isinstance(weight, torch.Tensor):
        return weight.detach().to(device="cpu", dtype=torch.float32, copy=True).numpy()
    return np.array(weight, dtype=np.float32)
