"""Reference weights: where a checkpoint's first-layer delta is measured from.

``random[:SEED]`` is a seeded random init (grids seed it with the trial number); ``timm`` is the
architecture's default pretrained tag, fetched through the Hugging Face hub by timm; ``hub:ORG/NAME@REV``
a hub repository's safetensors; ``file:PATH`` a local safetensors file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from ingest.first_conv import first_conv_name, first_conv_weight
from ingest.weights import (
    HubUnavailable,
    build_model,
    download_hub_weights,
    load_state_dict_file,
    parse_hub_ref,
    random_init_model,
    timm_pretrained,
)
from zoo.checkpoints import ReferenceInfo
from zoo.grids import parse_reference
from zoo.store import sha256_file

# What a reference that needs the hub can be replaced by where the hub cannot be used.
OFFLINE_REFERENCES = "random:SEED or file:PATH"


@dataclass(frozen=True)
class ResolvedReference:
    """A model holding the reference weights (classifier resized), and what to record about them."""

    model: nn.Module
    info: ReferenceInfo
    weight: np.ndarray


def _resolved(model: nn.Module, num_classes: int | None, **info: object) -> ResolvedReference:
    weight = first_conv_weight(model)
    if num_classes is not None and getattr(model, "num_classes", num_classes) != num_classes:
        model.reset_classifier(num_classes)
    return ResolvedReference(model, ReferenceInfo(layer_name=first_conv_name(model), **info), weight)  # type: ignore[arg-type]


def resolve_reference(
    spec: str, arch: str, *, num_classes: int | None = None, default_seed: int = 0, allow_pickle: bool = False
) -> ResolvedReference:
    """Build ``arch`` at the reference ``spec`` describes; ``num_classes`` resizes the classifier after.

    Raises
    ------
    HubUnavailable
        A ``timm`` or ``hub:`` reference whose weights are not in the local hub cache while the hub is
        offline or unreachable (found out in seconds); the message names the references that need no hub.
    """
    kind, detail = parse_reference(spec)
    try:
        return _resolve(kind, detail, arch, num_classes, default_seed, allow_pickle)
    except HubUnavailable as error:  # only the timm and hub kinds use the hub
        raise HubUnavailable(
            f"reference {spec} for {arch}: {error}; or use `reference={OFFLINE_REFERENCES}`, which need no hub",
            param="reference",
        ) from error


def _resolve(
    kind: str, detail: str, arch: str, num_classes: int | None, default_seed: int, allow_pickle: bool
) -> ResolvedReference:
    if kind == "random":
        seed = int(detail) if detail else default_seed
        model = random_init_model(arch, seed)
        return _resolved(
            model,
            num_classes,
            key=f"random:{arch}:seed={seed}",
            kind="random",
            arch=arch,
            source="timm random init",
            seed=seed,
        )
    if kind == "timm":
        model, pretrained = timm_pretrained(arch)
        revision = getattr(pretrained, "revision", None)
        return _resolved(
            model,
            num_classes,
            key=f"timm:{pretrained.tag}@{revision or 'cached'}",
            kind="timm",
            arch=arch,
            source=pretrained.hf_hub_id or pretrained.tag,
            revision=revision,
        )
    if kind == "hub":
        repo_id, revision = parse_hub_ref(detail)
        weights = download_hub_weights(repo_id, revision, allow_pickle=allow_pickle)
        model = build_model(arch, load_state_dict_file(weights.path, allow_pickle=allow_pickle))
        return _resolved(
            model,
            num_classes,
            key=f"hub:{weights.repo_id}@{weights.revision}:{arch}",
            kind="hub",
            arch=arch,
            source=f"{weights.repo_id}/{weights.filename}",
            revision=weights.revision,
            file_sha256=weights.sha256,
        )
    model = build_model(arch, load_state_dict_file(detail, allow_pickle=allow_pickle))
    sha = sha256_file(detail)
    return _resolved(
        model, num_classes, key=f"file:{sha}:{arch}", kind="file", arch=arch, source=detail, file_sha256=sha
    )
