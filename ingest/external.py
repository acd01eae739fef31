"""Catalogue models trained elsewhere: a Hugging Face hub repo or a local model file.

The weights are checked against the architecture (every tensor shape), the first convolution is read,
the delta from the chosen reference is reduced to metric vectors, and the result is stored as an
external checkpoint with where it came from (repo and commit, or file) and the file's sha256.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.first_conv import delta as layer_delta
from ingest.first_conv import first_conv_weight
from ingest.references import ResolvedReference, resolve_reference
from ingest.weights import build_model, download_hub_weights, load_state_dict_file, parse_hub_ref
from zoo.catalog import Catalog
from zoo.checkpoints import add_external_checkpoint, compute_metrics
from zoo.errors import InvalidInput
from zoo.filters import DEFAULT_FEATURE_SET
from zoo.store import sha256_file


@dataclass(frozen=True)
class ExternalModel:
    """A model's first layer and delta, with where the weights came from."""

    source: str  # "hub" or "file"
    arch: str
    origin: str
    revision: str | None
    path: Path
    file_sha256: str
    learned: np.ndarray
    reference: ResolvedReference

    @property
    def delta(self) -> np.ndarray:
        return layer_delta(self.learned, self.reference.weight)


def _locate(source: str, ref: str, allow_pickle: bool) -> tuple[Path, str, str | None, str]:
    if source == "hub":
        repo_id, revision = parse_hub_ref(ref)
        weights = download_hub_weights(repo_id, revision, allow_pickle=allow_pickle)
        return weights.path, weights.repo_id, weights.revision, weights.sha256
    path = Path(ref).expanduser()
    return path, str(path.resolve()), None, sha256_file(path) if path.is_file() else ""


def read_external(source: str, ref: str, arch: str, reference: str, *, allow_pickle: bool = False) -> ExternalModel:
    """Load a hub repo (``source="hub"``, ``ORG/NAME[@REV]``) or a file, check it fits ``arch``, take its first layer."""
    if source not in ("hub", "file"):
        raise InvalidInput(f"source must be hub or file, not {source!r}")
    path, origin, revision, sha = _locate(source, ref, allow_pickle)
    model = build_model(arch, load_state_dict_file(path, allow_pickle=allow_pickle))
    learned = first_conv_weight(model)
    resolved = resolve_reference(reference, arch, allow_pickle=allow_pickle)
    layer_delta(learned, resolved.weight)  # refuse a reference of another shape before anything is stored
    return ExternalModel(source, arch, origin, revision, path, sha, learned, resolved)


def check_labels(labels: Mapping[str, object]) -> dict[str, float]:
    """Validate ``--property NAME=VALUE`` ground truth: known image properties with finite numeric values.

    Values may be numbers or the text given on the command line (``"0.01"``); anything else, such as
    ``sharpness=abc``, ``sharpness=inf`` or ``sharpness=true``, is refused naming the property and value.
    """
    from zoo.images.properties import OBJECT_SCALE, property_names

    valid = set(property_names()) | {OBJECT_SCALE}
    unknown = sorted(set(labels) - valid)
    if unknown:
        raise InvalidInput(f"unknown property {', '.join(unknown)}; valid: {', '.join(sorted(valid))}", param="labels")
    return {name: _label_value(name, value) for name, value in labels.items()}


def _label_value(name: str, value: object) -> float:
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):  # not a number: refused below with the label's name
            number = float(value)
    if number is None or not np.isfinite(number):
        raise InvalidInput(
            f"`labels` {name}={value}: the value must be a finite number, e.g. {name}=0.01", param="labels"
        )
    return number


def ingest_external(
    catalog: Catalog,
    model: ExternalModel,
    *,
    labels: Mapping[str, float] | None = None,
    keep_weights: bool = False,
    feature_sets: tuple[str, ...] = (DEFAULT_FEATURE_SET,),
) -> tuple[int, bool]:
    """Store an external checkpoint; the same file, architecture and reference again returns the existing one."""
    labels = check_labels(labels or {})
    metrics = compute_metrics(model.delta, feature_sets)
    weights_sha = catalog.store.put_file(model.path) if keep_weights else None  # file first, then rows
    return add_external_checkpoint(
        catalog,
        model.reference.info,
        model.reference.weight,
        source=model.source,
        arch=model.arch,
        file_sha256=model.file_sha256,
        learned=model.learned,
        delta=model.delta,
        metrics=metrics,
        labels=labels,
        origin=model.origin,
        revision=model.revision,
        weights_sha256=weights_sha,
    )
