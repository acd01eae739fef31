"""Alembic environment: runs on a connection handed in by zoo, or on the configured database URL."""

from __future__ import annotations

from alembic import context

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
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    from zoo.config import database_url
    from zoo.db.engine import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url") or database_url())
    with engine.connect() as conn:
        _run_on(conn)
    engine.dispose()


def _run_on(connection) -> None:  # type: ignore[no-untyped-def]
    # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
