"""Alembic upgrade logic: Alembic is the only way the catalog's schema changes.

A brand-new empty database is migrated to head on first use. A catalog at an older revision is refused
with one line naming ``zoo db upgrade``; one from a newer zoo is refused too.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

from zoo.errors import DatabaseError, SchemaOutOfDate

# Any fixed number: every zoo process that migrates a Postgres catalog takes this advisory lock first.
PG_MIGRATION_LOCK = 0x7A6F6F


def migrations_dir() -> Path:
    """The Alembic script folder: ``migrations/`` in a checkout, ``zoo/migrations`` in an installed wheel."""
    checkout = Path(__file__).resolve().parents[2] / "migrations"
    if (checkout / "env.py").is_file():
        return checkout
    spec = importlib.util.find_spec("zoo.migrations")
    if spec is None or spec.origin is None:
        raise DatabaseError("zoo's migration scripts are missing from this installation; reinstall zoo")
    return Path(spec.origin).parent


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations folder has no revisions"
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


NEWER_ZOO = "written by a newer zoo; upgrade zoo"


def is_newer(revision: str | None) -> bool:
    """True when ``revision`` is none of this zoo's migrations: a newer zoo wrote the catalog."""
    return revision is not None and revision not in known_revisions()


def refuse_unknown_revision(revision: str | None) -> None:
    """Raise :class:`DatabaseError` for a catalog at a revision this zoo does not know (a newer zoo's)."""
    if is_newer(revision):
        raise DatabaseError(f"the catalog is at schema revision {revision}, which this zoo does not know: {NEWER_ZOO}")


def schema_status(revision: str | None) -> str:
    """How a catalog at ``revision`` stands against this zoo, in words (``zoo db current``)."""
    if revision is None:
        return "empty"
    if is_newer(revision):
        return NEWER_ZOO
    return "up to date" if revision == head_revision() else "run `zoo db upgrade`"


def _has_foreign_tables(engine: Engine) -> bool:
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    return bool(tables)


def ensure_schema(engine: Engine) -> None:
    """Create a new catalog at head, accept one at head, refuse anything else with a one-line fix."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        if _has_foreign_tables(engine):
            raise DatabaseError(
                f"{engine.url.render_as_string(hide_password=True)} holds tables but is not a zoo catalog; "
                "point `url` at an empty or zoo database",
                param="url",
            )
        upgrade(engine)
        return
    refuse_unknown_revision(current)
    raise SchemaOutOfDate(
        f"the catalog schema is at revision {current} but this zoo needs {head}; run `zoo db upgrade`"
    )


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection fit for migrating: one writer at a time, foreign-key actions off on SQLite.

    SQLite batch mode rebuilds a table by copy-drop-rename; with foreign keys on, the DROP would cascade
    into child tables, so they are switched off for the migration and checked afterwards.
    """
    with engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = OFF")  # type: ignore[union-attr]
        try:
            with conn.execution_options(zoo_write=True).begin():
                if not sqlite:
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")
                yield conn
                if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise DatabaseError("migration left rows with dangling foreign keys; rolled back")
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = ON")  # type: ignore[union-attr]


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the catalog up to ``revision`` in one transaction (SQLite and Postgres both have transactional DDL).

    A catalog at a revision this zoo does not know (written by a newer zoo) is refused, not touched.
    """
    with migration_connection(engine) as conn:
        refuse_unknown_revision(MigrationContext.configure(conn).get_current_revision())
        command.upgrade(alembic_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with migration_connection(engine) as conn:
        command.downgrade(alembic_config(conn), revision)
