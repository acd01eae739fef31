"""Find the first convolution of a timm model or state dict and read its filters as a numpy bank.

The first convolution is the one timm's ``pretrained_cfg["first_conv"]`` names, where the model has that
setting (it may name the module, ``"conv1"``, or its weight, ``"conv1.weight"``); otherwise it is the first
2-D convolution in module order. Its name is always returned as the state-dict key of the weight
(``"conv1.weight"``, ``"stem.0.weight"``, ``"patch_embed.proj.weight"``) and its weight as a float32 array of
shape ``(N, C, kh, kw)``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from ingest.weights.state_dicts import WRAPPER_PREFIXES, bare_key
from zoo.errors import InvalidInput

__all__ = [
    "NoFirstConvError",
    "delta",
    "first_conv_from_state_dict",
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


def first_conv_from_state_dict(
    state_dict: Mapping[str, torch.Tensor | np.ndarray], arch: str
) -> tuple[str, np.ndarray]:
    """Name and weight of the first convolution of timm architecture ``arch`` in ``state_dict``.

    Parameters
    ----------
    state_dict : mapping of str to Tensor or ndarray
        Keys may carry one or more wrapper prefixes (``module.``, ``model.``, ``_orig_mod.``).
    arch : str
        timm model name, optionally with a pretrained tag (``"resnet18.a1_in1k"``).

    Returns
    -------
    name : str
        The architecture's key for the weight (without any wrapper prefix), e.g. ``"conv1.weight"``.
    weight : ndarray, shape (N, C, kh, kw), float32

    Raises
    ------
    NotFound
        If timm has no architecture ``arch``.
    NoFirstConvError
        If the architecture has no first convolution.
    InvalidInput
        If the state dict lacks the key, or its tensor's shape differs from the architecture's.
    """
    name, expected = _first_conv_spec(arch)
    key = _find_key(state_dict, name, arch)
    found = tuple(state_dict[key].shape)
    if found != expected:
        raise InvalidInput(
            f"state dict key {key!r} has shape {found}, but {arch} expects {expected}; "
            f"the checkpoint is for another architecture or input-channel count"
        )
    return name, _as_float32(state_dict[key])


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


@functools.lru_cache(maxsize=64)
def _first_conv_spec(arch: str) -> tuple[str, tuple[int, ...]]:
    """(weight key, weight shape) of ``arch``'s first convolution, from a skeleton on the meta device."""
    import timm  # deferred: importing timm costs about a second

    from ingest.weights.timm_models import check_architecture

    check_architecture(arch)
    with torch.device("meta"):  # shapes only: no memory, no initialisation work
        model = timm.create_model(arch, pretrained=False)
    name = first_conv_name(model)
    return name, tuple(model.get_parameter(name).shape)


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


def _find_key(state_dict: Mapping[str, object], name: str, arch: str) -> str:
    """The key of ``name`` in ``state_dict``, allowing wrapper prefixes; InvalidInput if absent."""
    if name in state_dict:
        return name
    for key in state_dict:
        if key.endswith(name) and bare_key(key) == name:
            return key
    sample = ", ".join(list(state_dict)[:5]) or "none"
    raise InvalidInput(
        f"state dict has no key {name!r} (the first convolution of {arch}), not even under a prefix "
        f"{', '.join(WRAPPER_PREFIXES)}; its first keys are: {sample}"
    )


def _architecture(model: nn.Module) -> str:
    return (getattr(model, "pretrained_cfg", None) or {}).get("architecture") or type(model).__name__


def _as_float32(weight: torch.Tensor | np.ndarray) -> np.ndarray:
    """A new float32 numpy copy (bf16 and fp16 tensors included) that does not alias the model."""
    if isinstance(weight, torch.Tensor):
        return weight.detach().to(device="cpu", dtype=torch.float32, copy=True).numpy()
    return np.array(weight, dtype=np.float32)
