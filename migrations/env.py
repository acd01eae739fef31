"""Alembic environment: runs on a Connection or an Engine handed in by the caller, or on the configured URL.

``config.attributes["connection"]`` may hold

* a ``Connection``: zoo's own ``upgrade``/``downgrade`` pass one that is already inside their migration
  transaction (one writer at a time, SQLite foreign-key actions off); the migrations run on it as is;
* an ``Engine`` (the Alembic cookbook's convention, and what pytest-alembic passes): a migration
  connection is opened on it the way zoo's own upgrade opens one, and the engine stays the caller's;
* nothing: an engine is made from ``sqlalchemy.url`` or zoo's database setting (``--db``,
  ``ZOO_DATABASE_URL``), as when ``alembic`` itself is run from a checkout.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine

from zoo.db.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(**kwargs: object) -> None:
    context.configure(target_metadata=target_metadata, compare_type=True, **kwargs)


def run_offline() -> None:
    from zoo.config import database_url

    url = config.get_main_option("sqlalchemy.url") or database_url()
    _configure(url=url, literal_binds=True, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connectable = config.attributes.get("connection")
    if isinstance(connectable, Connection):
        _run_on(connectable)
        return
    if connectable is not None and not isinstance(connectable, Engine):
        raise TypeError(
            'config.attributes["connection"] must be a SQLAlchemy Connection or Engine, '
            f"not {type(connectable).__name__}"
        )
    from zoo.db.migrate import migration_connection

    if connectable is not None:
        with migration_connection(connectable) as conn:
            _run_on(conn)
        return
    from zoo.config import database_url
    from zoo.db.engine import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url") or database_url())
    try:
        with migration_connection(engine) as conn:
            _run_on(conn)
    finally:
        engine.dispose()


def _run_on(connection: Connection) -> None:
    # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
