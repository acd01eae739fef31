"""initial catalog schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The flat view SQL users query: one row per checkpoint. Frozen here: a later revision that changes it
# drops and recreates it with its own copy of the SQL.
PROPERTIES = ("sharpness", "noisiness", "object_scale", "saturation")
PAPER_METRICS = (
    "channel_saturation",
    "convex_hull_volume",
    "dist_to_gaussian",
    "filter_variance",
    "spatial_roughness",
    "bregman_distance",
    "laplacian_variance",
    "wavelet_noise_sigma",
)


def _property_column(name: str) -> str:
    return (
        f"COALESCE((SELECT l.value FROM checkpoint_labels l WHERE l.checkpoint_id = c.id AND l.property = '{name}'), "
        f"(SELECT pm.value FROM property_measurements pm WHERE pm.variant_id = v.id AND pm.property = '{name}')) "
        f"AS {name}"
    )


def _metric_column(name: str) -> str:
    return (
        "(SELECT mval.value FROM metric_values mval JOIN metric_vectors mvec ON mvec.id = mval.vector_id "
        "WHERE mvec.checkpoint_id = c.id AND mvec.feature_set = 'paper' AND mvec.feature_set_version = 1 "
        f"AND mval.metric = '{name}') AS {name}"
    )


CHECKPOINT_FEATURES_VIEW = (
    "CREATE VIEW checkpoint_features AS SELECT "
    + ", ".join(
        [
            "c.id AS checkpoint_id",
            "c.source AS source",
            "c.arch AS arch",
            "c.epoch AS epoch",
            "c.step AS step",
            "c.val_accuracy AS val_accuracy",
            "c.train_loss AS train_loss",
            "c.run_id AS run_id",
            "g.name AS grid",
            "r.trial AS trial",
            "r.optimizer AS optimizer",
            "r.lr AS lr",
            "r.image_size AS image_size",
            "b.name AS base_dataset",
            "v.name AS variant",
            "v.kind AS variant_kind",
            "CAST(v.params AS TEXT) AS variant_params",
            "b.grayscale AS grayscale",
            "rw.key AS reference",
            "c.origin AS origin",
        ]
        + [_property_column(p) for p in PROPERTIES]
        + [_metric_column(m) for m in PAPER_METRICS]
    )
    + (
        " FROM checkpoints c"
        " JOIN reference_weights rw ON rw.id = c.reference_id"
        " LEFT JOIN runs r ON r.id = c.run_id"
        " LEFT JOIN grids g ON g.id = r.grid_id"
        " LEFT JOIN dataset_variants v ON v.id = r.variant_id"
        " LEFT JOIN base_datasets b ON b.id = v.base_dataset_id"
    )
)


def upgrade() -> None:
    op.create_table(
        "base_datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("source_kind", sa.String(length=32), nullable=False),
        sa.Column("source_params", sa.JSON(), nullable=False),
        sa.Column("image_size", sa.Integer(), nullable=False),
        sa.Column("n_images", sa.Integer(), nullable=False),
        sa.Column("n_classes", sa.Integer(), nullable=False),
        sa.Column("class_names", sa.JSON(), nullable=False),
        sa.Column("grayscale", sa.Boolean(), nullable=False),
        sa.Column("object_scale", sa.Float(), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("images_sha256", sa.String(length=64), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_base_datasets")),
        sa.UniqueConstraint("name", name=op.f("uq_base_datasets_name")),
    )
    op.create_table(
        "fits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("feature_set", sa.String(length=64), nullable=False),
        sa.Column("feature_set_version", sa.Integer(), nullable=False),
        sa.Column("train_selection", sa.JSON(), nullable=False),
        sa.Column("test_selection", sa.JSON(), nullable=False),
        sa.Column("test_fraction", sa.Float(), nullable=True),
        sa.Column("log_target", sa.Boolean(), nullable=False),
        sa.Column("n_estimators", sa.Integer(), nullable=False),
        sa.Column("seeds", sa.JSON(), nullable=False),
        sa.Column("n_train", sa.Integer(), nullable=False),
        sa.Column("n_test", sa.Integer(), nullable=False),
        sa.Column("r2_mean", sa.Float(), nullable=True),
        sa.Column("r2_std", sa.Float(), nullable=True),
        sa.Column("r2_scores", sa.JSON(), nullable=False),
        sa.Column("importances", sa.JSON(), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=True),
        sa.Column("label", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fits")),
    )
    op.create_table(
        "grids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("spec_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grids")),
        sa.UniqueConstraint("name", name=op.f("uq_grids_name")),
    )
    op.create_table(
        "tensors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("dtype", sa.String(length=16), nullable=False),
        sa.Column("shape", sa.JSON(), nullable=False),
        sa.Column("nbytes", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tensors")),
        sa.UniqueConstraint("sha256", name=op.f("uq_tensors_sha256")),
    )
    op.create_table(
        "dataset_variants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("base_dataset_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["base_dataset_id"],
            ["base_datasets.id"],
            name=op.f("fk_dataset_variants_base_dataset_id_base_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_variants")),
        sa.UniqueConstraint("base_dataset_id", "name", name=op.f("uq_dataset_variants_base_dataset_id_name")),
    )
    op.create_table(
        "reference_weights",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("arch", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("revision", sa.String(length=128), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("layer_name", sa.String(length=256), nullable=False),
        sa.Column("tensor_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tensor_id"], ["tensors.id"], name=op.f("fk_reference_weights_tensor_id_tensors")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_weights")),
        sa.CheckConstraint("kind IN ('timm', 'hub', 'file', 'random')", name=op.f("ck_reference_weights_kind")),
        sa.UniqueConstraint("key", name=op.f("uq_reference_weights_key")),
    )
    op.create_table(
        "property_measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("variant_id", sa.Integer(), nullable=False),
        sa.Column("property", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("spread", sa.Float(), nullable=False),
        sa.Column("n_samples", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("method_version", sa.Integer(), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["dataset_variants.id"],
            name=op.f("fk_property_measurements_variant_id_dataset_variants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_property_measurements")),
        sa.UniqueConstraint("variant_id", "property", name=op.f("uq_property_measurements_variant_id_property")),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(length=64), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("variant_id", sa.Integer(), nullable=False),
        sa.Column("arch", sa.String(length=128), nullable=False),
        sa.Column("reference_spec", sa.String(length=512), nullable=False),
        sa.Column("reference_id", sa.Integer(), nullable=True),
        sa.Column("optimizer", sa.String(length=32), nullable=False),
        sa.Column("lr", sa.Float(), nullable=False),
        sa.Column("epochs", sa.Integer(), nullable=False),
        sa.Column("checkpoint_every", sa.Integer(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("steps_per_epoch", sa.Integer(), nullable=True),
        sa.Column("image_size", sa.Integer(), nullable=False),
        sa.Column("trial", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("keep_weights", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=256), nullable=True),
        sa.Column("claim_token", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("device", sa.String(length=64), nullable=True),
        sa.Column("train_seconds", sa.Float(), nullable=True),
        sa.Column("images_per_second", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"], name=op.f("fk_runs_grid_id_grids"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["reference_id"], ["reference_weights.id"], name=op.f("fk_runs_reference_id_reference_weights")
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"], ["dataset_variants.id"], name=op.f("fk_runs_variant_id_dataset_variants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_runs_status")),
        sa.UniqueConstraint("run_key", name=op.f("uq_runs_run_key")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_status_id", ["status", "id"], unique=False)

    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("arch", sa.String(length=128), nullable=False),
        sa.Column("reference_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("layer_name", sa.String(length=256), nullable=False),
        sa.Column("learned_tensor_id", sa.Integer(), nullable=False),
        sa.Column("delta_tensor_id", sa.Integer(), nullable=False),
        sa.Column("val_accuracy", sa.Float(), nullable=True),
        sa.Column("train_loss", sa.Float(), nullable=True),
        sa.Column("weights_sha256", sa.String(length=64), nullable=True),
        sa.Column("origin", sa.String(length=512), nullable=True),
        sa.Column("revision", sa.String(length=128), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["delta_tensor_id"], ["tensors.id"], name=op.f("fk_checkpoints_delta_tensor_id_tensors")
        ),
        sa.ForeignKeyConstraint(
            ["learned_tensor_id"], ["tensors.id"], name=op.f("fk_checkpoints_learned_tensor_id_tensors")
        ),
        sa.ForeignKeyConstraint(
            ["reference_id"], ["reference_weights.id"], name=op.f("fk_checkpoints_reference_id_reference_weights")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_checkpoints_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoints")),
        sa.CheckConstraint("source IN ('run', 'hub', 'file')", name=op.f("ck_checkpoints_source")),
        sa.UniqueConstraint("run_id", "epoch", name=op.f("uq_checkpoints_run_id_epoch")),
    )
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.create_index("ix_checkpoints_arch", ["arch"], unique=False)

    op.create_table(
        "checkpoint_labels",
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("property", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["checkpoints.id"],
            name=op.f("fk_checkpoint_labels_checkpoint_id_checkpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("checkpoint_id", "property", name=op.f("pk_checkpoint_labels")),
    )
    op.create_table(
        "metric_vectors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("feature_set", sa.String(length=64), nullable=False),
        sa.Column("feature_set_version", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["checkpoints.id"],
            name=op.f("fk_metric_vectors_checkpoint_id_checkpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_vectors")),
        sa.UniqueConstraint(
            "checkpoint_id",
            "feature_set",
            "feature_set_version",
            name=op.f("uq_metric_vectors_checkpoint_id_feature_set_feature_set_version"),
        ),
    )
    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fit_id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("y_true", sa.Float(), nullable=True),
        sa.Column("y_pred", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["checkpoints.id"],
            name=op.f("fk_predictions_checkpoint_id_checkpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["fit_id"], ["fits.id"], name=op.f("fk_predictions_fit_id_fits"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
        sa.UniqueConstraint("fit_id", "checkpoint_id", "seed", name=op.f("uq_predictions_fit_id_checkpoint_id_seed")),
    )
    op.create_table(
        "metric_values",
        sa.Column("vector_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vector_id"],
            ["metric_vectors.id"],
            name=op.f("fk_metric_values_vector_id_metric_vectors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("vector_id", "metric", name=op.f("pk_metric_values")),
    )
    op.execute(CHECKPOINT_FEATURES_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW checkpoint_features")
    op.drop_table("metric_values")
    op.drop_table("predictions")
    op.drop_table("metric_vectors")
    op.drop_table("checkpoint_labels")
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.drop_index("ix_checkpoints_arch")

    op.drop_table("checkpoints")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_status_id")

    op.drop_table("runs")
    op.drop_table("property_measurements")
    op.drop_table("reference_weights")
    op.drop_table("dataset_variants")
    op.drop_table("tensors")
    op.drop_table("grids")
    op.drop_table("fits")
    op.drop_table("base_datasets")
