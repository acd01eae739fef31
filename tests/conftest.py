"""Shared fixtures. Database tests run on SQLite and on PostgreSQL.

PostgreSQL comes from ``ZOO_TEST_POSTGRES_URL`` (``.ci/run`` and ``scripts/test.sh`` set it to the local
server). Each test gets its own Postgres schema, so tests can run in parallel and leave nothing behind.
With ``ZOO_TEST_REQUIRE_POSTGRES=1`` (CI) an unreachable server fails the Postgres tests instead of
skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa


def pytest_configure(config: pytest.Config) -> None:
    """Compile the numba filter kernels into their on-disk cache once, in the main process, before the test
    workers (and the worker processes tests start) exist: on a fresh clone each would otherwise compile them
    at the same time, about 20 s of CPU apiece."""
    if hasattr(config, "workerinput"):  # an xdist worker: the controller has done it
        return
    from zoo.filters import compile_kernels

    compile_kernels()


POSTGRES_ENV = "ZOO_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "ZOO_TEST_REQUIRE_POSTGRES"


def _postgres_base_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(f"{REQUIRE_POSTGRES_ENV}=1 but {POSTGRES_ENV} is not set")
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (scripts/test.sh sets it when a server is up)")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def private_postgres_schema() -> Iterator[str]:
    """A Postgres URL whose search_path is a fresh, private schema, dropped on exit (skips, or fails in CI,
    when the server is unreachable)."""
    base = _postgres_base_url()
    schema = f"zt_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as error:
        admin.dispose()
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(f"PostgreSQL at {base} is unreachable: {error.orig}")
        pytest.skip(f"PostgreSQL at {base} is unreachable")
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose search_path is a fresh, private schema; dropped afterwards."""
    with private_postgres_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every database test runs once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def catalog(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    from zoo.catalog import Catalog

    opened = Catalog.open(db_url, artifacts=str(tmp_path / "artifacts"))
    yield opened
    opened.close()


@pytest.fixture
def zoo_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for CLI tests: the catalog and artifact store under test, ZOO_HOME in tmp."""
    env = {
        "ZOO_DATABASE_URL": db_url,
        "ZOO_ARTIFACTS": str(tmp_path / "artifacts"),
        "ZOO_HOME": str(tmp_path / "home"),
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def scratch_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations a test makes (metrics, feature sets, properties, transforms, image sources) go into
    copies of the registries, discarded afterwards, so no test sees another's."""
    from zoo.filters import featuresets
    from zoo.images import properties, sources, transforms

    for module, name in (
        (featuresets, "_METRICS"),
        (featuresets, "_FEATURE_SETS"),
        (properties, "_PROPERTIES"),
        (transforms, "_KINDS"),
        (sources, "_SOURCES"),
    ):
        monkeypatch.setattr(module, name, dict(getattr(module, name)))
