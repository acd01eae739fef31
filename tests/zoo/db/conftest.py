"""pytest-alembic's fixtures for the catalog's migration history, on SQLite and on PostgreSQL.

``alembic_config`` is zoo's own Alembic configuration (the migrations folder of this checkout or of the
installed wheel); ``alembic_engine`` is a zoo engine on the test's database: a fresh SQLite file, or a
private Postgres schema (see ``db_url`` and ``postgres_url`` in tests/conftest.py). pytest-alembic hands
the engine to ``migrations/env.py`` in ``config.attributes["connection"]``.

pytest-alembic's plugin is switched off (``-p no:pytest_alembic`` in pyproject.toml: the collector it
binds to tests/conftest.py fails on pytest 9), so ``alembic_runner``, the fixture its tests take, is
declared here the way the plugin declares it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.config import Config
from pytest_alembic import runner
from pytest_alembic.config import Config as PytestAlembicConfig
from pytest_alembic.runner import MigrationContext
from sqlalchemy import Engine


@pytest.fixture
def alembic_config() -> Config:
    from zoo.db.migrate import alembic_config as zoo_alembic_config

    return zoo_alembic_config()


@pytest.fixture
def alembic_engine(db_url: str) -> Iterator[Engine]:
    from zoo.db.engine import make_engine

    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def alembic_runner(alembic_config: Config, alembic_engine: Engine) -> Iterator[MigrationContext]:
    with runner(config=PytestAlembicConfig.from_raw_config(alembic_config), engine=alembic_engine) as context:
        yield context
