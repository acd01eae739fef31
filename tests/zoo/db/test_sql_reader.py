"""`zoo db create-reader` makes a role that can only read the catalog; `zoo sql` uses it and warns about superusers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from pgroles import drop_role

from clirunner import run_zoo
from zoo.config import READER_URL_ENV, reader_database_url
from zoo.sql import SUPERUSER_WARNING


@pytest.fixture
def reader_name(postgres_url: str) -> Iterator[str]:
    """A unique role name; the role (a cluster-wide object) is dropped afterwards."""
    name = f"zt_reader_{uuid.uuid4().hex[:10]}"
    yield name
    drop_role(postgres_url, name)


@pytest.fixture
def pg_env(postgres_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> str:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ZOO_DATABASE_URL", postgres_url)
    monkeypatch.setenv("ZOO_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(READER_URL_ENV, raising=False)
    run_zoo("db", "upgrade")
    return postgres_url


def test_superuser_url_gets_a_one_line_warning_on_stderr(pg_env: str) -> None:
    result = run_zoo("sql", "SELECT 1 AS one", "--csv")
    assert result.stdout.splitlines() == ["one", "1"]
    assert "superuser" in result.stderr and "create-reader" in result.stderr
    assert SUPERUSER_WARNING.split(":")[0] in result.stderr


def test_reader_role_reads_only_the_catalog(pg_env: str, reader_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    made = json.loads(run_zoo("db", "create-reader", reader_name, "--json").stdout)
    assert made["created"] and made["relations"] >= 10
    url = made["url"]
    assert url.startswith(f"postgresql://{reader_name}@") and "search_path" in url

    # zoo sql through --reader-url: reads, no superuser warning, and server files are out of reach.
    result = run_zoo("sql", "SELECT count(*) AS n FROM runs", "--csv", "--reader-url", url)
    assert result.stdout.splitlines() == ["n", "0"] and "superuser" not in result.stderr
    denied = run_zoo("sql", "SELECT pg_read_file('/etc/hostname')", "--reader-url", url, expect=1)
    assert "permission denied" in denied.stderr

    # ZOO_READER_URL does the same, and the lookup is a plain function zoo serve can call.
    monkeypatch.setenv(READER_URL_ENV, url)
    assert reader_database_url() == url.replace("postgresql://", "postgresql+psycopg://", 1)
    assert "superuser" not in run_zoo("sql", "SELECT 1").stderr

    # Even outside zoo sql, the role cannot write, and its sessions start read-only.
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE runs SET error = 'x'")


def test_create_reader_is_repeatable_and_takes_its_password_from_the_environment(
    pg_env: str, reader_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_zoo("db", "create-reader", reader_name)
    monkeypatch.setenv("READER_SECRET", "s3cret'; DROP ROLE postgres; --")
    again = run_zoo("db", "create-reader", reader_name, "--password-env", "READER_SECRET")
    assert "refreshed grants" in again.stdout and "${READER_SECRET}" in again.stdout
    assert "s3cret" not in again.output
    assert "not set" in run_zoo("db", "create-reader", reader_name, "--password-env", "NO_SUCH_VAR_X", expect=1).stderr
    assert "letters" in run_zoo("db", "create-reader", 'x"; DROP ROLE postgres', expect=1).stderr


def test_create_reader_refuses_sqlite_in_one_line(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ZOO_DATABASE_URL", f"sqlite:///{tmp_path / 'catalog.db'}")
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    result = run_zoo("db", "create-reader", "zoo_reader", expect=1)
    assert "needs a PostgreSQL catalog" in result.stderr and len(result.stderr.strip().splitlines()) == 1
