"""checkpoint_metrics: the long view of every feature set's metrics; fits.details: split, scores, domain

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# One row per (checkpoint, feature set, metric): ad hoc SQL sees every feature set, not only the paper-v1
# columns of checkpoint_features. feature_set is the key ("paper-v1"). Frozen here, like 0001's view.
CHECKPOINT_METRICS_VIEW = (
    "CREATE VIEW checkpoint_metrics AS SELECT mvec.checkpoint_id AS checkpoint_id, "
    "mvec.feature_set || '-v' || CAST(mvec.feature_set_version AS TEXT) AS feature_set, "
    "mval.metric AS metric, mval.value AS value "
    "FROM metric_values mval JOIN metric_vectors mvec ON mvec.id = mval.vector_id"
)


def upgrade() -> None:
    # A nullable JSON column added in place (no table rebuild on SQLite): fits made before it keep NULL.
    with op.batch_alter_table("fits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))
    op.execute(CHECKPOINT_METRICS_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW checkpoint_metrics")
    with op.batch_alter_table("fits", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("details")
