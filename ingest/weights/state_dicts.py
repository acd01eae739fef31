"""What a checkpoint's state dict looks like inside its file, and the one place wrappers are taken off it.

Training scripts nest the model's state dict under a key (:data:`WRAPPER_KEYS`) and wrappers put a prefix
before every key (:data:`WRAPPER_PREFIXES`: DataParallel/DDP ``module.``, Lightning-style ``model.``,
torch.compile ``_orig_mod.``). Loading a file (:mod:`ingest.weights.files`) and finding the first
convolution in a state dict (:mod:`ingest.first_conv`) both take them off here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import torch

from zoo.errors import InvalidInput

__all__ = ["WRAPPER_KEYS", "WRAPPER_PREFIXES", "bare_key", "model_state_dict", "strip_common_prefixes"]

# Keys under which training scripts nest the model's state dict inside a checkpoint.
WRAPPER_KEYS = ("state_dict", "model", "model_state_dict")
# Prefixes that DataParallel/DDP ("module."), Lightning-style modules ("model.") and torch.compile
# ("_orig_mod.") put before every key.
WRAPPER_PREFIXES = ("module.", "model.", "_orig_mod.")

Value = TypeVar("Value")


def model_state_dict(raw: object, source: object) -> dict[str, torch.Tensor]:
    """The model's tensors in a loaded checkpoint ``raw``: unnested, without wrapper prefixes, tensors only.

    ``source`` names the checkpoint in error messages.

    Raises
    ------
    InvalidInput
        ``raw`` holds no state dict, or one without tensors.
    """
    state = _unnested(raw, source)
    tensors = {str(key): value for key, value in state.items() if isinstance(value, torch.Tensor)}
    if not tensors:
        raise InvalidInput(f"{source} holds no tensors; give a checkpoint that contains the model's state dict")
    return strip_common_prefixes(tensors)


def strip_common_prefixes(state: Mapping[str, Value]) -> dict[str, Value]:
    """``state`` with every wrapper prefix that *all* its keys share taken off, repeatedly.

    Only a prefix every key has is stripped: a model may legitimately have a submodule named ``module``.
    """
    stripped = dict(state)
    changed = bool(stripped)
    while changed:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if all(key.startswith(prefix) for key in stripped):
                stripped = {key[len(prefix) :]: value for key, value in stripped.items()}
                changed = bool(stripped)
    return stripped


def bare_key(key: str) -> str:
    """``key`` with any leading wrapper prefixes taken off (``module.model.conv1.weight`` -> ``conv1.weight``)."""
    bare = None
    while bare != key:
        bare = key
        for prefix in WRAPPER_PREFIXES:
            key = key.removeprefix(prefix)
    return key


def _unnested(raw: object, source: object) -> Mapping[object, object]:
    state = raw
    for _ in range(3):  # checkpoints nest the state dict one or two levels deep, never more in practice
        if not isinstance(state, Mapping):
            break
        inner = next((state[key] for key in WRAPPER_KEYS if isinstance(state.get(key), Mapping)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, Mapping):
        raise InvalidInput(
            f"{source} holds a {type(state).__name__}, not a state dict; save model.state_dict() instead"
        )
    return state
