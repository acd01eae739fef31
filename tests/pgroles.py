"""Dropping the PostgreSQL roles tests make, in turn with ``zoo db create-reader``.

Roles and their grants live in cluster-wide catalogs: a ``DROP OWNED BY`` racing a ``GRANT`` from another
xdist worker fails with "tuple concurrently updated". Both take the advisory lock ``create_reader`` takes.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from zoo.sql_reader import ROLE_DDL_LOCK


def drop_role(url: str, name: str) -> None:
    """Drop role ``name`` and what it owns or was granted, if it exists."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):  # an identifier cannot be bound: whitelist its shape
        raise ValueError(f"not a role name a test makes: {name!r}")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(%(key)s))", {"key": ROLE_DDL_LOCK})
            if conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = %(n)s", {"n": name}).first():
                conn.exec_driver_sql(f'DROP OWNED BY "{name}"')
                conn.exec_driver_sql(f'DROP ROLE "{name}"')
    finally:
        engine.dispose()
