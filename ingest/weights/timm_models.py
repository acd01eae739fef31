"""timm models: the one architecture check, pretrained models through the hub, and models built from
a state dict or from a seeded random initialisation."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from huggingface_hub import try_to_load_from_cache
from timm.models import get_pretrained_cfg, split_model_name_tag
from torch import nn

from ingest.weights.hub import HubUnavailable, cache_only, hub_unreachable, offline_fix, short_reason, snapshot_commit
from zoo.errors import InvalidInput, NotFound
from zoo.store import sha256_file

__all__ = ["PretrainedInfo", "build_model", "check_architecture", "random_init_model", "timm_pretrained"]


@dataclass(frozen=True)
class PretrainedInfo:
    """Where a timm pretrained model's weights came from.

    Attributes
    ----------
    tag : the pretrained tag, ``architecture.tag`` (e.g. ``resnet18.a1_in1k``).
    hf_hub_id : the hub repo timm loads the weights from, or None where they come from a plain URL.
    revision : commit of the cached weights file, or None where it is not in the hub cache.
    filename : the weights file's name in the repo, or None where it is not in the hub cache.
    sha256 : hex digest of the cached weights file, or None where it is not in the hub cache.
    """

    tag: str
    hf_hub_id: str | None
    revision: str | None
    filename: str | None
    sha256: str | None


# --- timm -----------------------------------------------------------------------------------------------


def timm_pretrained(arch: str) -> tuple[nn.Module, PretrainedInfo]:
    """Build timm's pretrained model ``arch`` (``resnet18`` or ``resnet18.a1_in1k``) via the hub.

    Returns
    -------
    (nn.Module, PretrainedInfo)
        The model with its pretrained weights, and where those came from.

    Raises
    ------
    HubUnavailable
        The weights are not in the local hub cache, and the hub is offline or unreachable (decided by one
        short request, :func:`hub_unreachable`, not after huggingface_hub's retries).
    NotFound
        Unknown architecture or tag, or no pretrained weights.
    """
    check_architecture(arch)
    cfg = get_pretrained_cfg(arch)
    if cfg is None or not (cfg.hf_hub_id or cfg.url or cfg.file):
        raise NotFound(f"timm has no pretrained weights for {arch}; see timm.list_pretrained('{arch}*')")
    unreachable = hub_unreachable() if cfg.hf_hub_id else None
    try:
        with cache_only(unreachable is not None):
            model = timm.create_model(arch, pretrained=True)
    except OSError as error:  # LocalEntryNotFoundError, hub HTTP errors and URLError all derive from OSError
        reason = unreachable or f"they could not be downloaded: {short_reason(error.__cause__ or error)}"
        raise HubUnavailable(
            f"pretrained weights of {arch} ({cfg.hf_hub_id or cfg.url}) are not in the local hub cache and "
            f"{reason}; {offline_fix()}"
        ) from error
    return model, _pretrained_info(model.pretrained_cfg)


def _pretrained_info(cfg: Mapping[str, object]) -> PretrainedInfo:
    tag = f"{cfg['architecture']}.{cfg['tag']}" if cfg.get("tag") else str(cfg["architecture"])
    hub_id = str(cfg["hf_hub_id"]) if cfg.get("hf_hub_id") else None
    found = _cached_weights(hub_id, cfg.get("hf_hub_filename")) if hub_id else None
    if found is None:
        return PretrainedInfo(tag, hub_id, None, None, None)
    filename, path = found
    return PretrainedInfo(tag, hub_id, snapshot_commit(path, filename), filename, sha256_file(path))


def _cached_weights(hub_id: str, filename: object) -> tuple[str, Path] | None:
    """The weights file timm loaded for ``hub_id`` (safetensors first, as timm prefers), if cached."""
    repo_id, _, revision = hub_id.partition("@")
    for name in (str(filename),) if filename else ("model.safetensors", "pytorch_model.bin"):
        cached = try_to_load_from_cache(repo_id, name, revision=revision or None)
        if isinstance(cached, str):
            return name, Path(cached)
    return None


def check_architecture(arch: str) -> None:
    """Refuse an ``arch`` timm does not know: the one architecture check of ``ingest``.

    ``arch`` is a timm model name, optionally with a pretrained tag (``resnet18`` or ``resnet18.a1_in1k``).

    Raises
    ------
    NotFound
        timm has no such architecture (the message suggests close names), or no such pretrained tag
        (the message lists known tags).
    """
    name, tag = split_model_name_tag(arch)
    if not timm.is_model(name):
        near = timm.list_models(f"*{name}*")[:5] or difflib.get_close_matches(name, timm.list_models(), n=5)
        hint = f"; did you mean {', '.join(near)}?" if near else "; see timm.list_models()"
        raise NotFound(f"timm has no architecture {name!r}{hint}")
    if tag and arch not in timm.list_pretrained(arch):
        tags = timm.list_pretrained(f"{name}.*")[:8]
        raise NotFound(f"timm has no pretrained tag {arch!r}; known: {', '.join(tags) or 'none'}")


# --- building models ------------------------------------------------------------------------------------


def build_model(arch: str, state_dict: Mapping[str, torch.Tensor] | None = None, *, strict: bool = True) -> nn.Module:
    """Build timm architecture ``arch`` and load ``state_dict`` into it, checking that it fits.

    The classifier's width is taken from the state dict; a state dict without the classifier builds a
    headless model (``num_classes=0``).

    Raises
    ------
    NotFound
        Unknown architecture.
    InvalidInput
        Tensors whose shapes differ from the architecture's, or (``strict``) missing or unexpected keys.
    """
    check_architecture(arch)
    if state_dict is None:
        return timm.create_model(arch, pretrained=False)
    kwargs = _head_kwargs(arch, state_dict)
    model = timm.create_model(arch, pretrained=False, **kwargs)
    img_size = _trained_image_size(model, state_dict)
    if img_size is not None:  # a vision transformer trained at another resolution: its position table says which
        model = timm.create_model(arch, pretrained=False, img_size=img_size, **kwargs)
    _check_shapes(arch, model.state_dict(), state_dict)
    result = model.load_state_dict(state_dict, strict=False)  # BatchNorm fills in missing num_batches_tracked
    if strict and (result.missing_keys or result.unexpected_keys):
        raise InvalidInput(
            f"state dict does not fit {arch}: {_some_keys(result.missing_keys, 'missing')}, "
            f"{_some_keys(result.unexpected_keys, 'unexpected')}; check the architecture name"
        )
    return model


def _trained_image_size(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> int | None:
    """The square input size a ViT-style ``state_dict`` was trained at, when its ``pos_embed`` holds another
    number of patches than ``model`` (built at the default size); None otherwise.

    ``pos_embed`` has one row per patch of a square grid plus the prefix (class, distillation) tokens, so the
    grid's side times the patch size is the image size timm needs (``img_size=``) to build the same model.
    """
    found, built = state_dict.get("pos_embed"), model.state_dict().get("pos_embed")
    patch_embed = getattr(model, "patch_embed", None)
    if found is None or built is None or found.shape == built.shape or found.ndim != 3 or patch_embed is None:
        return None
    patch = getattr(patch_embed, "patch_size", None)
    prefix = int(getattr(model, "num_prefix_tokens", 0)) if not getattr(model, "no_embed_class", False) else 0
    if not isinstance(patch, (tuple, list)) or patch[0] != patch[-1]:
        return None
    side = math.isqrt(max(int(found.shape[1]) - prefix, 0))
    if side < 1 or side * side != int(found.shape[1]) - prefix:
        return None
    return side * int(patch[0])


def _head_kwargs(arch: str, state_dict: Mapping[str, torch.Tensor]) -> dict[str, int]:
    cfg = get_pretrained_cfg(arch)
    classifier = cfg.classifier if cfg is not None else None
    if isinstance(classifier, (tuple, list)):  # distilled models have two heads; the first sets the width
        classifier = classifier[0]
    if not classifier:
        return {}
    weight = state_dict.get(f"{classifier}.weight")
    if weight is not None and weight.ndim >= 1:
        return {"num_classes": int(weight.shape[0])}
    if any(key.startswith(f"{classifier}.") for key in state_dict):
        return {}
    return {"num_classes": 0}


def _check_shapes(arch: str, expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor]) -> None:
    wrong = [
        (key, tuple(expected[key].shape), tuple(tensor.shape))
        for key, tensor in found.items()
        if key in expected and expected[key].shape != tensor.shape
    ]
    if wrong:
        shown = "; ".join(f"{key} expects {want}, found {got}" for key, want, got in wrong[:3])
        more = f" (and {len(wrong) - 3} more)" if len(wrong) > 3 else ""
        raise InvalidInput(
            f"state dict does not fit {arch}: {len(wrong)} tensor(s) have other shapes: {shown}{more}; "
            "check the architecture name"
        )


def _some_keys(keys: list[str], kind: str) -> str:
    if not keys:
        return f"0 {kind} keys"
    return f"{len(keys)} {kind} key(s) (e.g. {', '.join(keys[:3])})"


def random_init_model(arch: str, seed: int, num_classes: int | None = None) -> nn.Module:
    """Build ``arch`` with timm's random initialisation drawn from ``seed``: same seed, same weights.

    The global torch random state is left as it was.

    Raises
    ------
    NotFound
        Unknown architecture.
    InvalidInput
        ``seed`` is not a non-negative integer, or ``num_classes`` is negative.
    """
    check_architecture(arch)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise InvalidInput(f"seed must be an integer in [0, 2**63), got {seed!r}")
    if num_classes is not None and num_classes < 0:
        raise InvalidInput(f"num_classes must be >= 0 (0 builds a headless model), got {num_classes}")
    kwargs = {} if num_classes is None else {"num_classes": num_classes}
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)  # CPU only: model init runs on the CPU
        return timm.create_model(arch, pretrained=False, **kwargs)
