"""Engines and sessions for SQLite (embedded default) and PostgreSQL (shared queue for many workers).

SQLite runs in WAL mode with foreign keys on and a busy timeout; writing transactions start with
``BEGIN IMMEDIATE`` so two writers never deadlock on a lock upgrade. PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from zoo.errors import ConfigError, DatabaseError
from zoo.extras import require_extra

SQLITE_BUSY_TIMEOUT_MS = 60_000
# Execution option carried by the writer engine; the "begin" hook reads it to pick the SQLite lock mode.
WRITE_OPTION = "zoo_write"


def describe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return url


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _check_sqlite_target(url: str) -> None:
    path = _sqlite_path(url)
    if path is None:
        return
    if path.is_dir():
        raise ConfigError(f"{path} is a folder, not a SQLite file; give a file path such as {path}/catalog.db")
    if not path.parent.exists():
        raise ConfigError(f"folder {path.parent} does not exist; create it or point `url` at another path", param="url")


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # Take transaction control away from the driver so the "begin" hook below decides the lock mode.
        dbapi_conn.isolation_level = None
        dbapi_conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        dbapi_conn.execute("PRAGMA foreign_keys = ON")
        if dbapi_conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            dbapi_conn.execute("PRAGMA journal_mode = WAL")
        dbapi_conn.execute("PRAGMA synchronous = NORMAL")

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        mode = "IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` and prove it connects; every failure becomes a one-line error."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        raise ConfigError(
            f"cannot parse database URL {url!r}; use sqlite:///path/to/catalog.db or postgresql://user@host/db"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"unsupported database {backend!r}; zoo runs on sqlite:/// or postgresql:// URLs")
    if backend == "sqlite":
        _check_sqlite_target(url)
    else:
        require_extra("postgres", "a PostgreSQL catalog")
    try:
        if backend == "sqlite":
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
            _install_sqlite_hooks(engine)
        else:
            engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    except exc.NoSuchModuleError:
        raise ConfigError(f"unknown database driver in {describe_url(url)}; use postgresql:// or sqlite:///") from None
    except ImportError as error:
        raise ConfigError(
            f"the database driver {error.name or ''} is not installed; zoo talks to PostgreSQL through psycopg 3: "
            "use a postgresql:// URL (pip install 'zoo[postgres]')"
        ) from None
    probe(engine)
    return engine


def probe(engine: Engine) -> None:
    """Open one connection and run a trivial query, translating failures into :class:`DatabaseError`."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(
                "SELECT 1" if engine.dialect.name != "sqlite" else "SELECT count(*) FROM sqlite_master"
            )
    except exc.DBAPIError as error:
        engine.dispose()
        raise DatabaseError(connection_message(engine, error), mentions=("url",)) from None


def connection_message(engine: Engine, error: exc.DBAPIError) -> str:
    where = describe_url(str(engine.url))
    first = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    if engine.dialect.name == "sqlite":
        if "not a database" in first:
            return f"{where} is not a SQLite database (it may be another kind of file); point `url` at another path"
        return f"cannot open {where}: {first}"
    return f"cannot connect to {where}: {first}; check that the server is running and the URL is right"


@contextmanager
def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error, always close.

    ``write=True`` starts SQLite transactions with ``BEGIN IMMEDIATE`` (take the write lock up front, so
    concurrent writers queue on the busy timeout instead of failing on a lock upgrade).
    """
    bind = engine.execution_options(**{WRITE_OPTION: True}) if write else engine
    session = Session(bind=bind, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except exc.OperationalError as error:
        session.rollback()
        raise DatabaseError(f"database error: {str(error.orig).strip().splitlines()[0]}") from error
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
