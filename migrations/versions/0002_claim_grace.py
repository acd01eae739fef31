"""runs: the claimant's grace, heartbeat interval and process identity stored on each claim

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COLUMNS = ("claim_heartbeat_s", "claim_grace_s", "claim_process")


def upgrade() -> None:
    # Plain nullable columns, no constraints: SQLite adds them in place (ALTER TABLE ADD COLUMN). Claims
    # made before this revision keep NULL and are judged by the default grace.
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_heartbeat_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("claim_grace_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("claim_process", sa.String(length=512), nullable=True))


def downgrade() -> None:
    # recreate="never": SQLite (3.35+) drops the columns in place (ALTER TABLE DROP COLUMN) instead of
    # rebuilding `runs`, which the checkpoint_features view and the checkpoints' foreign keys refer to.
    with op.batch_alter_table("runs", schema=None, recreate="never") as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
