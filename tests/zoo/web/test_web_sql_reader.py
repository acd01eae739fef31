"""The SQL page runs as ``zoo sql`` does: through the read-only reader role when one is configured
(``zoo serve --reader-url`` / ``ZOO_READER_URL``), within the byte budget, with the superuser warning shown."""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import _postgres_base_url
from pgroles import drop_role

from clirunner import run_zoo
from zoo.catalog import Catalog
from zoo.config import READER_URL_ENV
from zoo.sql import SUPERUSER_WARNING


def _client(catalog: Catalog, **options: Any) -> Any:
    from starlette.testclient import TestClient

    from zoo.web.app import create_app

    return TestClient(create_app(catalog, **options), raise_server_exceptions=False)


def test_a_superuser_connection_shows_zoo_sqls_warning(client, catalog) -> None:
    page = client.get("/sql", params={"q": "SELECT 1 AS one"})
    as_json = client.get("/sql", params={"q": "SELECT 1 AS one", "format": "json"})
    as_csv = client.get("/sql", params={"q": "SELECT 1 AS one", "format": "csv"})
    assert page.status_code == as_json.status_code == as_csv.status_code == 200
    assert as_json.json() == [{"one": 1}] and as_csv.text.splitlines() == ["one", "1"]
    if catalog.dialect == "postgresql":  # the tests connect as the postgres superuser
        assert 'id="sql-warning"' in page.text and SUPERUSER_WARNING in html.unescape(page.text)
        assert as_json.headers["x-zoo-warning"] == as_csv.headers["x-zoo-warning"] == SUPERUSER_WARNING
    else:  # SQLite has no roles: nothing to warn about
        assert 'id="sql-warning"' not in page.text and "x-zoo-warning" not in as_json.headers
    assert "zoo db create-reader" in page.text  # how to give the server a reader role


def test_the_byte_budget_stops_a_query_with_zoo_sqls_message(catalog, web, zoo_env) -> None:
    query = "SELECT id, arch, status, error FROM runs ORDER BY id"
    with _client(catalog, sql_max_bytes=100) as small:
        refused = small.get("/sql", params={"q": query, "format": "json"})
        page = small.get("/sql", params={"q": query})
        assert "100 B of values" in page.text
    cli = run_zoo("sql", query, "--max-bytes", "100", expect=1)
    assert refused.status_code == 400 and "byte budget" in refused.json()["error"]
    # The same one-line message, its parameters spelled for each: the query string's limit and the server's
    # budget on the page, the flags in the CLI.
    shown = refused.json()["error"]
    assert shown.endswith("lower limit or raise the server's byte budget")
    cli_line = " ".join(cli.stderr.split())
    assert cli_line == "Error: " + shown.replace(
        "limit or raise the server's byte budget", "--limit or raise --max-bytes"
    )
    assert page.status_code == 400 and "byte budget" in html.unescape(page.text)
    with _client(catalog) as default:  # 64 MiB by default, as zoo sql
        assert len(default.get("/sql", params={"q": query, "format": "json"}).json()) == 8


# --- a reader connection ------------------------------------------------------------------------------------


@pytest.fixture
def reader(catalog: Catalog, tmp_path: Any) -> Iterator[Catalog]:
    """A catalog opened on a reader URL: a fresh empty SQLite catalog for SQLite (so answers show where the
    query ran), a role made by ``zoo db create-reader``'s function for PostgreSQL (dropped afterwards)."""
    if catalog.dialect == "sqlite":
        opened = Catalog.open(f"sqlite:///{tmp_path / 'reader.db'}", artifacts=str(tmp_path / "artifacts"))
        yield opened
        opened.close()
        return
    from zoo.sql_reader import create_reader

    name = f"zt_reader_{uuid.uuid4().hex[:10]}"
    made = create_reader(catalog, name)
    opened = Catalog.open(made.url, artifacts=str(catalog.store.location))
    try:
        yield opened
    finally:
        opened.close()
        drop_role(_postgres_base_url(), name)


def test_sql_runs_through_the_reader_and_other_pages_through_the_catalog(catalog, web, reader, row_counts) -> None:
    before = row_counts(catalog)
    with _client(catalog, reader=reader) as served:
        page = served.get("/sql", params={"q": "SELECT count(*) AS n FROM runs"})
        counted = served.get("/sql", params={"q": "SELECT count(*) AS n FROM runs", "format": "json"}).json()
        assert served.get("/?format=json").json()["runs"]["done"] == 6  # pages still read the catalog
        assert "read-only role of" in page.text and reader.url in html.unescape(page.text)
        assert 'id="sql-warning"' not in page.text  # a reader role is no superuser
        if catalog.dialect == "sqlite":
            assert counted == [{"n": 0}]  # the reader's (empty) file, not the catalog's 8 runs
        else:
            assert counted == [{"n": 8}]
            user = served.get("/sql", params={"q": "SELECT current_user AS who", "format": "json"}).json()
            assert user[0]["who"].startswith("zt_reader_")
            denied = served.get("/sql", params={"q": "SELECT pg_read_file('/etc/hostname')", "format": "json"})
            assert denied.status_code == 400 and "permission denied" in denied.json()["error"]
        for statement in ("DELETE FROM runs", "WITH x AS (DELETE FROM runs RETURNING id) SELECT * FROM x"):
            assert served.get("/sql", params={"q": statement}).status_code == 400
    assert row_counts(catalog) == before


class _Captured:
    app: Any = None

    def __call__(self, app: Any, **_options: Any) -> None:
        self.app = app


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> _Captured:
    """``uvicorn.run`` replaced: zoo serve builds its application and returns at once."""
    import uvicorn

    capture = _Captured()
    monkeypatch.setattr(uvicorn, "run", capture)
    return capture


@pytest.mark.parametrize("served", ["sqlite"], indirect=True)
def test_zoo_serve_takes_the_reader_url_like_zoo_sql(
    zoo_env, captured, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(READER_URL_ENV, raising=False)
    run_zoo("serve", "--max-bytes", "1KiB")
    assert captured.app.state.web.reader is None and captured.app.state.web.sql_max_bytes == 1024

    other = tmp_path / "reader.db"
    result = run_zoo("serve", "--reader-url", f"sqlite:///{other}")
    web_app = captured.app.state.web
    assert web_app.reader is not None and str(other) in web_app.reader.url and web_app.sql_catalog is web_app.reader
    assert "read-only role" in result.stderr and web_app.sql_max_bytes == 64 << 20

    monkeypatch.setenv(READER_URL_ENV, f"sqlite:///{other}")  # the environment variable of zoo sql
    run_zoo("serve")
    assert str(other) in captured.app.state.web.reader.url
    assert "--max-bytes" in run_zoo("serve", "--max-bytes", "lots", expect=1).stderr
