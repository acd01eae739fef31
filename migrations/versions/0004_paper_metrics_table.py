"""paper_v1_metrics: the view's metric columns materialised, kept by triggers; checkpoint_features by joins; learned tensors derived

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

* ``paper_v1_metrics`` holds the eight paper-v1 metrics as columns, one row per checkpoint with a paper-v1
  vector, one index per metric. Triggers on ``metric_values`` and ``metric_vectors`` keep it in step with
  them for every writer (statement triggers on PostgreSQL, so a bulk insert refreshes once per statement;
  row triggers on SQLite). The migration fills it from the rows already there.
* ``checkpoint_features`` keeps its name, columns and values, but reads the metrics by one join on
  ``paper_v1_metrics``' primary key instead of eight correlated sub-selects per row, so a comparison on a
  metric column starts from that column's index. On PostgreSQL the properties come from one join on each
  of two small pivots (a variant's measurements, a checkpoint's labels) instead of four pairs of
  sub-selects; SQLite keeps the sub-selects for them (see SQLITE_VIEW).
* ``ix_metric_values_metric_value`` (metric, value, vector_id) serves conditions on a metric of any
  feature set (``zoo query --where`` on a metric reads ``metric_values``).
* ``checkpoints.learned_tensor_id`` becomes nullable: new checkpoints store only the delta, and the learned
  weights are derived on read as reference + delta (zoo.checkpoints.learned_weights). Rows that have a
  learned tensor keep it.

The downgrade drops the table, triggers and index, stores the derived learned tensor of every checkpoint
that has none (so an older zoo reads them as before), restores the NOT NULL column and 0001's view.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Union

import numpy as np
import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Frozen copies (a later revision that changes the view drops and recreates it with its own copy).
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
BASE_COLUMNS = (
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
)
BASE_JOINS = (
    " FROM checkpoints c"
    " JOIN reference_weights rw ON rw.id = c.reference_id"
    " LEFT JOIN runs r ON r.id = c.run_id"
    " LEFT JOIN grids g ON g.id = r.grid_id"
    " LEFT JOIN dataset_variants v ON v.id = r.variant_id"
    " LEFT JOIN base_datasets b ON b.id = v.base_dataset_id"
)

# 0001's definition, restored by the downgrade: one correlated sub-select per property and metric column.
OLD_VIEW = (
    "CREATE VIEW checkpoint_features AS SELECT "
    + ", ".join(
        list(BASE_COLUMNS)
        + [
            f"COALESCE((SELECT l.value FROM checkpoint_labels l WHERE l.checkpoint_id = c.id AND l.property = '{p}'), "
            f"(SELECT pm.value FROM property_measurements pm WHERE pm.variant_id = v.id AND pm.property = '{p}')) AS {p}"
            for p in PROPERTIES
        ]
        + [
            "(SELECT mval.value FROM metric_values mval JOIN metric_vectors mvec ON mvec.id = mval.vector_id "
            "WHERE mvec.checkpoint_id = c.id AND mvec.feature_set = 'paper' AND mvec.feature_set_version = 1 "
            f"AND mval.metric = '{m}') AS {m}"
            for m in PAPER_METRICS
        ]
    )
    + BASE_JOINS
)

# paper-v1's metrics as columns, one row per checkpoint that has a paper-v1 vector: what the view reads, with
# an index per metric. Kept in step with metric_values by triggers (every writer, raw SQL included).
METRICS_TABLE = "paper_v1_metrics"
PIVOT = ", ".join(f"MAX(CASE WHEN mval.metric = '{m}' THEN mval.value END)" for m in PAPER_METRICS)
PAPER_VECTOR = "mvec.feature_set = 'paper' AND mvec.feature_set_version = 1"
METRIC_NAMES = ", ".join(f"'{m}'" for m in PAPER_METRICS)
BACKFILL = (
    f"INSERT INTO {METRICS_TABLE} (checkpoint_id, {', '.join(PAPER_METRICS)}) SELECT mvec.checkpoint_id, {PIVOT} "
    f"FROM metric_vectors mvec JOIN metric_values mval ON mval.vector_id = mvec.id WHERE {PAPER_VECTOR} "
    f"AND mval.metric IN ({METRIC_NAMES}) GROUP BY mvec.checkpoint_id"
)

# PostgreSQL: statement triggers with transition tables, so a bulk insert (COPY, executemany) refreshes the
# touched checkpoints' rows once per statement.
PG_FUNCTIONS = (
    # The touched vectors go through an array joined as a set, so both queries look their rows up by
    # primary key whatever their number; planned for each call (a cached generic plan does not know how
    # many there are and scans metric_values whole).
    f"""CREATE FUNCTION zoo_paper_v1_metrics_refresh() RETURNS trigger LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    touched integer[];
BEGIN
    touched := ARRAY(SELECT DISTINCT vector_id FROM changed_rows);
    SELECT array_agg(mvec.id) INTO touched FROM unnest(touched) t(id)
        JOIN metric_vectors mvec ON mvec.id = t.id WHERE {PAPER_VECTOR};
    IF touched IS NULL THEN
        RETURN NULL;
    END IF;
    DELETE FROM {METRICS_TABLE} WHERE checkpoint_id IN
        (SELECT mvec.checkpoint_id FROM unnest(touched) t(id) JOIN metric_vectors mvec ON mvec.id = t.id);
    {BACKFILL.replace("FROM metric_vectors mvec JOIN", "FROM unnest(touched) t(id) JOIN metric_vectors mvec ON mvec.id = t.id JOIN")};
    RETURN NULL;
END $$""",
    f"""CREATE FUNCTION zoo_paper_v1_metrics_vector_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {METRICS_TABLE} WHERE checkpoint_id = ANY (ARRAY(
        SELECT mvec.checkpoint_id FROM gone_vectors mvec WHERE {PAPER_VECTOR}));
    RETURN NULL;
END $$""",
)
PG_TRIGGERS = (
    (
        "paper_v1_metrics_insert",
        "metric_values",
        "AFTER INSERT ON metric_values REFERENCING NEW TABLE AS changed_rows",
        "zoo_paper_v1_metrics_refresh",
    ),
    (
        "paper_v1_metrics_update",
        "metric_values",
        "AFTER UPDATE ON metric_values REFERENCING NEW TABLE AS changed_rows",
        "zoo_paper_v1_metrics_refresh",
    ),
    (
        "paper_v1_metrics_delete",
        "metric_values",
        "AFTER DELETE ON metric_values REFERENCING OLD TABLE AS changed_rows",
        "zoo_paper_v1_metrics_refresh",
    ),
    (
        "paper_v1_metrics_vector_delete",
        "metric_vectors",
        "AFTER DELETE ON metric_vectors REFERENCING OLD TABLE AS gone_vectors",
        "zoo_paper_v1_metrics_vector_gone",
    ),
)


def _sqlite_set(row: str, value: str) -> str:
    """SET each metric column to ``value`` where ``row.metric`` names it, leaving the others as they are."""
    return ", ".join(f"{m} = CASE WHEN {row}.metric = '{m}' THEN {value} ELSE {m} END" for m in PAPER_METRICS)


def _sqlite_checkpoint(row: str) -> str:
    return f"(SELECT mvec.checkpoint_id FROM metric_vectors mvec WHERE mvec.id = {row}.vector_id AND {PAPER_VECTOR})"


# SQLite: row triggers (it has no statement triggers).
SQLITE_TRIGGERS = tuple(
    (name, f"CREATE TRIGGER {name} {event} WHEN {row}.metric IN ({METRIC_NAMES}) BEGIN {body} END")
    for name, event, row, body in (
        (
            "paper_v1_metrics_insert",
            "AFTER INSERT ON metric_values",
            "NEW",
            f"INSERT INTO {METRICS_TABLE} (checkpoint_id) SELECT mvec.checkpoint_id FROM metric_vectors mvec "
            f"WHERE mvec.id = NEW.vector_id AND {PAPER_VECTOR} ON CONFLICT (checkpoint_id) DO NOTHING; "
            f"UPDATE {METRICS_TABLE} SET {_sqlite_set('NEW', 'NEW.value')} WHERE checkpoint_id = {_sqlite_checkpoint('NEW')};",
        ),
        (
            "paper_v1_metrics_update",
            "AFTER UPDATE ON metric_values",
            "NEW",
            f"UPDATE {METRICS_TABLE} SET {_sqlite_set('OLD', 'NULL')} WHERE checkpoint_id = {_sqlite_checkpoint('OLD')}; "
            f"INSERT INTO {METRICS_TABLE} (checkpoint_id) SELECT mvec.checkpoint_id FROM metric_vectors mvec "
            f"WHERE mvec.id = NEW.vector_id AND {PAPER_VECTOR} ON CONFLICT (checkpoint_id) DO NOTHING; "
            f"UPDATE {METRICS_TABLE} SET {_sqlite_set('NEW', 'NEW.value')} WHERE checkpoint_id = {_sqlite_checkpoint('NEW')};",
        ),
        (
            "paper_v1_metrics_delete",
            "AFTER DELETE ON metric_values",
            "OLD",
            f"UPDATE {METRICS_TABLE} SET {_sqlite_set('OLD', 'NULL')} WHERE checkpoint_id = {_sqlite_checkpoint('OLD')};",
        ),
    )
) + (
    (
        "paper_v1_metrics_vector_delete",
        f"CREATE TRIGGER paper_v1_metrics_vector_delete AFTER DELETE ON metric_vectors "
        f"WHEN OLD.feature_set = 'paper' AND OLD.feature_set_version = 1 "
        f"BEGIN DELETE FROM {METRICS_TABLE} WHERE checkpoint_id = OLD.checkpoint_id; END",
    ),
)

# This revision's view: the same columns and values as 0001's; metrics by one join on paper_v1_metrics'
# primary key; properties by one join on each of two small pivots grouped by their key (a variant's
# measurements, a checkpoint's labels). One join per property instead would leave PostgreSQL 15 relations
# to order, and planning them costs more than running the query (about 100 ms measured).
PROPERTY_PIVOT = ", ".join(f"MAX(CASE WHEN property = '{p}' THEN value END) AS {p}" for p in PROPERTIES)
NEW_VIEW = (
    "CREATE VIEW checkpoint_features AS SELECT "
    + ", ".join(
        list(BASE_COLUMNS)
        + [f"COALESCE(lab.{p}, pmv.{p}) AS {p}" for p in PROPERTIES]
        + [f"pw.{m} AS {m}" for m in PAPER_METRICS]
    )
    + BASE_JOINS
    + (
        f" LEFT JOIN {METRICS_TABLE} pw ON pw.checkpoint_id = c.id"
        f" LEFT JOIN (SELECT variant_id, {PROPERTY_PIVOT} FROM property_measurements GROUP BY variant_id) pmv ON pmv.variant_id = v.id"
        f" LEFT JOIN (SELECT checkpoint_id, {PROPERTY_PIVOT} FROM checkpoint_labels GROUP BY checkpoint_id) lab ON lab.checkpoint_id = c.id"
    )
)

# SQLite cannot drop a join on a grouped sub-query, so there the pivots would cost every query that does not
# read a property (a count per architecture looks up each row's run, variant and pivots): SQLite keeps
# 0001's correlated sub-selects for the four properties (it evaluates them only for rows and columns a query
# reads) and joins paper_v1_metrics for the metrics. Same columns and values (tests/zoo/db/test_feature_view.py).
SQLITE_VIEW = (
    "CREATE VIEW checkpoint_features AS SELECT "
    + ", ".join(
        list(BASE_COLUMNS)
        + [
            f"COALESCE((SELECT l.value FROM checkpoint_labels l WHERE l.checkpoint_id = c.id AND l.property = '{p}'), "
            f"(SELECT pm.value FROM property_measurements pm WHERE pm.variant_id = v.id AND pm.property = '{p}')) AS {p}"
            for p in PROPERTIES
        ]
        + [f"pw.{m} AS {m}" for m in PAPER_METRICS]
    )
    + BASE_JOINS
    + f" LEFT JOIN {METRICS_TABLE} pw ON pw.checkpoint_id = c.id"
)
NEW_VIEWS = {"postgresql": NEW_VIEW, "sqlite": SQLITE_VIEW}

INDEXES = (("metric_values", "ix_metric_values_metric_value", ["metric", "value", "vector_id"]),)


def upgrade() -> None:
    op.execute("DROP VIEW checkpoint_features")
    # SQLite rebuilds the table for a NOT NULL change (batch mode); the view is dropped meanwhile.
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.alter_column("learned_tensor_id", existing_type=sa.Integer(), nullable=True)
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    op.create_table(
        METRICS_TABLE,
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        *(sa.Column(m, sa.Float(), nullable=True) for m in PAPER_METRICS),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["checkpoints.id"],
            name=op.f(f"fk_{METRICS_TABLE}_checkpoint_id_checkpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("checkpoint_id", name=op.f(f"pk_{METRICS_TABLE}")),
    )
    for m in PAPER_METRICS:
        op.create_index(f"ix_{METRICS_TABLE}_{m}", METRICS_TABLE, [m], unique=False)
    op.execute(BACKFILL)
    if op.get_bind().dialect.name == "postgresql":
        for function in PG_FUNCTIONS:
            op.execute(function)
        for name, _, event, function in PG_TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} {event} FOR EACH STATEMENT EXECUTE FUNCTION {function}()")
    else:
        for _, create in SQLITE_TRIGGERS:
            op.execute(create)
    op.execute(NEW_VIEWS[op.get_bind().dialect.name])


def _tensor_sha256(array: np.ndarray) -> str:
    """Frozen copy of zoo.checkpoints.tensor_sha256 (float32, little-endian)."""
    header = f"<f4|{'x'.join(map(str, array.shape))}|".encode()
    return hashlib.sha256(header + np.ascontiguousarray(array, dtype="<f4").tobytes()).hexdigest()


def _store_derived_learned() -> None:
    """learned = reference + delta for each checkpoint without a learned tensor, stored as 0001-0003 did."""
    conn = op.get_bind()
    tensors = sa.table(
        "tensors",
        sa.column("id"),
        sa.column("sha256"),
        sa.column("dtype"),
        sa.column("shape", sa.JSON),
        sa.column("nbytes"),
        sa.column("data", sa.LargeBinary),
    )
    missing = conn.execute(
        sa.text(
            "SELECT c.id, rt.data, rt.shape, dt.data, dt.shape FROM checkpoints c "
            "JOIN reference_weights rw ON rw.id = c.reference_id JOIN tensors rt ON rt.id = rw.tensor_id "
            "JOIN tensors dt ON dt.id = c.delta_tensor_id WHERE c.learned_tensor_id IS NULL"
        )
    ).all()
    for checkpoint_id, ref_data, ref_shape, delta_data, delta_shape in missing:
        ref_shape = ref_shape if isinstance(ref_shape, list) else json.loads(ref_shape)
        delta_shape = delta_shape if isinstance(delta_shape, list) else json.loads(delta_shape)
        learned = (
            np.frombuffer(ref_data, dtype="<f4").reshape(ref_shape)
            + np.frombuffer(delta_data, dtype="<f4").reshape(delta_shape)
        ).astype("<f4")
        sha = _tensor_sha256(learned)
        tensor_id = conn.execute(sa.select(tensors.c.id).where(tensors.c.sha256 == sha)).scalar()
        if tensor_id is None:
            conn.execute(
                tensors.insert().values(
                    sha256=sha,
                    dtype="float32",
                    shape=list(learned.shape),
                    nbytes=learned.nbytes,
                    data=learned.tobytes(),
                )
            )
            tensor_id = conn.execute(sa.select(tensors.c.id).where(tensors.c.sha256 == sha)).scalar_one()
        conn.execute(
            sa.text("UPDATE checkpoints SET learned_tensor_id = :t WHERE id = :c"), {"t": tensor_id, "c": checkpoint_id}
        )


def downgrade() -> None:
    op.execute("DROP VIEW checkpoint_features")
    if op.get_bind().dialect.name == "postgresql":
        for name, table, _, _ in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute("DROP FUNCTION zoo_paper_v1_metrics_refresh()")
        op.execute("DROP FUNCTION zoo_paper_v1_metrics_vector_gone()")
    else:
        for name, _ in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    for m in PAPER_METRICS:
        op.drop_index(f"ix_{METRICS_TABLE}_{m}", table_name=METRICS_TABLE)
    op.drop_table(METRICS_TABLE)
    for table, name, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    _store_derived_learned()
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.alter_column("learned_tensor_id", existing_type=sa.Integer(), nullable=False)
    op.execute(OLD_VIEW)
