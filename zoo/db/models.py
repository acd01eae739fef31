"""The catalog schema: SQLAlchemy 2.0 typed ORM models.

Table names are plural snake_case and part of the public interface: SQL users query them directly
(README, "Schema"). Change them only through an Alembic revision in ``migrations/``.

Rows of these classes never leave the storage layer: :mod:`zoo.records` holds the frozen records that
callers receive.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from zoo.vocabulary import CHECKPOINT_SOURCES, PAPER_V1_METRICS, REFERENCE_KINDS, RUN_STATUSES

# Named constraints keep migrations portable: SQLite batch mode and Postgres both refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Tensor(Base):
    """A small tensor (first-layer weights), content-addressed by the sha256 of its raw bytes."""

    __tablename__ = "tensors"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    dtype: Mapped[str] = mapped_column(String(16))
    shape: Mapped[list[Any]] = mapped_column()
    nbytes: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class BaseDataset(Base):
    """An image collection as registered: its source, size and where its decoded pixels are stored."""

    __tablename__ = "base_datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    source_kind: Mapped[str] = mapped_column(String(32))
    source_params: Mapped[dict[str, Any]] = mapped_column()
    image_size: Mapped[int] = mapped_column(Integer)
    n_images: Mapped[int] = mapped_column(Integer)
    n_classes: Mapped[int] = mapped_column(Integer)
    class_names: Mapped[list[Any]] = mapped_column()
    grayscale: Mapped[bool] = mapped_column(Boolean)
    object_scale: Mapped[Optional[float]] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(Integer)
    images_sha256: Mapped[str] = mapped_column(String(64))
    skipped: Mapped[list[Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DatasetVariant(Base):
    """A deterministic transform of a base dataset (the paper's blur, noise, resize and dilation)."""

    __tablename__ = "dataset_variants"
    __table_args__ = (UniqueConstraint("base_dataset_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    base_dataset_id: Mapped[int] = mapped_column(ForeignKey("base_datasets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column()
    seed: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PropertyMeasurement(Base):
    """One measured image property of a variant: mean over samples, spread, and the method that made it."""

    __tablename__ = "property_measurements"
    __table_args__ = (UniqueConstraint("variant_id", "property"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("dataset_variants.id", ondelete="CASCADE"))
    property: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    spread: Mapped[float] = mapped_column(Float)
    n_samples: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(64))
    method_version: Mapped[int] = mapped_column(Integer)
    measured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReferenceWeights(Base):
    """Where a delta is measured from: timm pretrained tag, hub repo@revision, file, or seeded random init."""

    __tablename__ = "reference_weights"
    __table_args__ = (CheckConstraint(f"kind IN {REFERENCE_KINDS}", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(512), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    arch: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(512))
    revision: Mapped[Optional[str]] = mapped_column(String(128))
    seed: Mapped[Optional[int]] = mapped_column(Integer)
    file_sha256: Mapped[Optional[str]] = mapped_column(String(64))
    layer_name: Mapped[str] = mapped_column(String(256))
    tensor_id: Mapped[int] = mapped_column(ForeignKey("tensors.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Grid(Base):
    """A training sweep as submitted: the parsed spec, kept so its runs can be traced back to it."""

    __tablename__ = "grids"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column()
    spec_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Run(Base):
    """One training run and its place in the shared queue."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(f"status IN {RUN_STATUSES}", name="status"),
        Index("ix_runs_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_key: Mapped[str] = mapped_column(String(64), unique=True)
    grid_id: Mapped[Optional[int]] = mapped_column(ForeignKey("grids.id", ondelete="SET NULL"))
    variant_id: Mapped[int] = mapped_column(ForeignKey("dataset_variants.id"))
    arch: Mapped[str] = mapped_column(String(128))
    reference_spec: Mapped[str] = mapped_column(String(512))
    reference_id: Mapped[Optional[int]] = mapped_column(ForeignKey("reference_weights.id"))
    optimizer: Mapped[str] = mapped_column(String(32))
    lr: Mapped[float] = mapped_column(Float)
    epochs: Mapped[int] = mapped_column(Integer)
    checkpoint_every: Mapped[int] = mapped_column(Integer)
    batch_size: Mapped[int] = mapped_column(Integer)
    steps_per_epoch: Mapped[Optional[int]] = mapped_column(Integer)
    image_size: Mapped[int] = mapped_column(Integer)
    trial: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    keep_weights: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    worker: Mapped[Optional[str]] = mapped_column(String(256))
    claim_token: Mapped[Optional[str]] = mapped_column(String(64))
    claimed_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    # The claimant's own terms, stored with the claim: its heartbeat interval, the grace after which other
    # workers may re-queue the run, and the claiming process (host, boot id, PID namespace, pid).
    claim_heartbeat_s: Mapped[Optional[float]] = mapped_column(Float)
    claim_grace_s: Mapped[Optional[float]] = mapped_column(Float)
    claim_process: Mapped[Optional[str]] = mapped_column(String(512))
    finished_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    error: Mapped[Optional[str]] = mapped_column(Text)
    device: Mapped[Optional[str]] = mapped_column(String(64))
    train_seconds: Mapped[Optional[float]] = mapped_column(Float)
    images_per_second: Mapped[Optional[float]] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Checkpoint(Base):
    """A model state whose first layer is catalogued: of a run (by epoch), or external (hub or file)."""

    __tablename__ = "checkpoints"
    __table_args__ = (
        UniqueConstraint("run_id", "epoch"),
        CheckConstraint(f"source IN {CHECKPOINT_SOURCES}", name="source"),
        Index("ix_checkpoints_arch", "arch"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(8))
    run_id: Mapped[Optional[int]] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    arch: Mapped[str] = mapped_column(String(128))
    reference_id: Mapped[int] = mapped_column(ForeignKey("reference_weights.id"))
    epoch: Mapped[Optional[int]] = mapped_column(Integer)
    step: Mapped[Optional[int]] = mapped_column(Integer)
    layer_name: Mapped[str] = mapped_column(String(256))
    # NULL for checkpoints stored since revision 0004: learned = reference + delta is derived on read
    # (zoo.checkpoints.learned_weights); older rows keep their stored learned tensor.
    learned_tensor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tensors.id"))
    delta_tensor_id: Mapped[int] = mapped_column(ForeignKey("tensors.id"))
    val_accuracy: Mapped[Optional[float]] = mapped_column(Float)
    train_loss: Mapped[Optional[float]] = mapped_column(Float)
    weights_sha256: Mapped[Optional[str]] = mapped_column(String(64))
    origin: Mapped[Optional[str]] = mapped_column(String(512))
    revision: Mapped[Optional[str]] = mapped_column(String(128))
    file_sha256: Mapped[Optional[str]] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CheckpointLabel(Base):
    """A training-data property a user states for an external checkpoint (their own ground truth)."""

    __tablename__ = "checkpoint_labels"

    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"), primary_key=True)
    property: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class MetricVector(Base):
    """A checkpoint's first-layer delta reduced by one version of a named feature set."""

    __tablename__ = "metric_vectors"
    __table_args__ = (UniqueConstraint("checkpoint_id", "feature_set", "feature_set_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"))
    feature_set: Mapped[str] = mapped_column(String(64))
    feature_set_version: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MetricValue(Base):
    """One named value of a metric vector (long form, so every feature set fits one table)."""

    __tablename__ = "metric_values"
    __table_args__ = (
        Index("ix_metric_values_metric_value", "metric", "value", "vector_id"),
    )  # --where on a metric (0004)

    vector_id: Mapped[int] = mapped_column(ForeignKey("metric_vectors.id", ondelete="CASCADE"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class PaperV1Metrics(Base):
    """paper-v1's metrics as columns, one row per checkpoint with a paper-v1 vector (revision 0004).

    What ``checkpoint_features`` reads its metric columns from, indexed per metric for filters. Database
    triggers on ``metric_values`` and ``metric_vectors`` keep it in step with them: never write it directly.
    """

    __tablename__ = "paper_v1_metrics"
    __table_args__ = tuple(Index(f"ix_paper_v1_metrics_{m}", m) for m in PAPER_V1_METRICS)

    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"), primary_key=True)
    channel_saturation: Mapped[Optional[float]] = mapped_column(Float)
    convex_hull_volume: Mapped[Optional[float]] = mapped_column(Float)
    dist_to_gaussian: Mapped[Optional[float]] = mapped_column(Float)
    filter_variance: Mapped[Optional[float]] = mapped_column(Float)
    spatial_roughness: Mapped[Optional[float]] = mapped_column(Float)
    bregman_distance: Mapped[Optional[float]] = mapped_column(Float)
    laplacian_variance: Mapped[Optional[float]] = mapped_column(Float)
    wavelet_noise_sigma: Mapped[Optional[float]] = mapped_column(Float)


class Fit(Base):
    """A meta-model fit: target, train and test selections, feature set, seeds and scores."""

    __tablename__ = "fits"

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(32))
    feature_set: Mapped[str] = mapped_column(String(64))
    feature_set_version: Mapped[int] = mapped_column(Integer)
    train_selection: Mapped[dict[str, Any]] = mapped_column()
    test_selection: Mapped[dict[str, Any]] = mapped_column()
    test_fraction: Mapped[Optional[float]] = mapped_column(Float)
    log_target: Mapped[bool] = mapped_column(Boolean, default=False)
    n_estimators: Mapped[int] = mapped_column(Integer)
    seeds: Mapped[list[Any]] = mapped_column()
    n_train: Mapped[int] = mapped_column(Integer)
    n_test: Mapped[int] = mapped_column(Integer)
    r2_mean: Mapped[Optional[float]] = mapped_column(Float)
    r2_std: Mapped[Optional[float]] = mapped_column(Float)
    r2_scores: Mapped[list[Any]] = mapped_column()
    importances: Mapped[dict[str, Any]] = mapped_column()
    model_sha256: Mapped[Optional[str]] = mapped_column(String(64))
    label: Mapped[Optional[str]] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Split, fuller scores (log R², Spearman, per kind, bootstrap), reference kinds, metric conditions (0003).
    details: Mapped[Optional[dict[str, Any]]] = mapped_column()


class Prediction(Base):
    """A meta-model's prediction for one test checkpoint under one seed."""

    __tablename__ = "predictions"
    __table_args__ = (UniqueConstraint("fit_id", "checkpoint_id", "seed"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fit_id: Mapped[int] = mapped_column(ForeignKey("fits.id", ondelete="CASCADE"))
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"))
    seed: Mapped[int] = mapped_column(Integer)
    y_true: Mapped[Optional[float]] = mapped_column(Float)
    y_pred: Mapped[float] = mapped_column(Float)
