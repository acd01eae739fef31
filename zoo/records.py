"""Frozen records handed to callers. ORM rows stay inside the storage layer; these do not change with it."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any


def from_row(cls: type, row: Any, **extra: Any) -> Any:
    """Build record ``cls`` from an ORM row's attributes of the same names (plus ``extra``)."""
    names = {f.name for f in fields(cls)} - set(extra)
    return cls(**{name: getattr(row, name) for name in names}, **extra)


@dataclass(frozen=True)
class RunRecord:
    id: int
    run_key: str
    grid_id: int | None
    variant_id: int
    arch: str
    reference_spec: str
    reference_id: int | None
    optimizer: str
    lr: float
    epochs: int
    checkpoint_every: int
    batch_size: int
    steps_per_epoch: int | None
    image_size: int
    trial: int
    seed: int
    keep_weights: bool
    status: str
    attempts: int
    max_attempts: int
    worker: str | None
    claim_token: str | None
    heartbeat_at: datetime | None
    error: str | None
    device: str | None
    train_seconds: float | None
    images_per_second: float | None


@dataclass(frozen=True)
class MeasurementRecord:
    property: str
    value: float
    spread: float
    n_samples: int
    method: str
    method_version: int


@dataclass(frozen=True)
class VariantRecord:
    id: int
    name: str
    kind: str
    params: dict[str, Any]
    seed: int
    measurements: tuple[MeasurementRecord, ...] = ()

    def property(self, name: str) -> float | None:
        return next((m.value for m in self.measurements if m.property == name), None)


@dataclass(frozen=True)
class DatasetRecord:
    id: int
    name: str
    source_kind: str
    source_params: dict[str, Any]
    image_size: int
    n_images: int
    n_classes: int
    class_names: list[str]
    grayscale: bool
    object_scale: float | None
    seed: int
    images_sha256: str
    skipped: list[Any]
    variants: tuple[VariantRecord, ...] = ()


@dataclass(frozen=True)
class GridRecord:
    id: int
    name: str
    spec: dict[str, Any]
    spec_sha256: str
    created_at: datetime
