"""`zoo sql` runs read-only queries only, within a row limit and a time limit."""

from __future__ import annotations

import json

import pytest

from clirunner import run_zoo
from zoo.catalog import Catalog
from zoo.errors import InvalidInput, UnsafeInput
from zoo.sql import QueryTimeout, run_query, validate_select

REFUSED = [
    "INSERT INTO grids (name, spec, spec_sha256, created_at, updated_at) VALUES ('x', '{}', 'x', '2020-01-01', '2020-01-01')",
    "DELETE FROM grids",
    "DROP TABLE grids",
    "PRAGMA writable_schema = ON",
    "ATTACH DATABASE '/tmp/evil.db' AS evil",
    "SELECT 1; DROP TABLE grids",
    "SELECT 1; SELECT 2",
    "UPDATE grids SET name = 'y'",
    "CREATE TABLE evil (x int)",
    "VACUUM",
]


def _grid_names(catalog: Catalog) -> list[str]:
    return [row[0] for row in run_query(catalog, "SELECT name FROM grids ORDER BY name").rows]


def _seed(catalog: Catalog) -> None:
    from zoo.db.models import Grid

    with catalog.session(write=True) as session:
        session.add(Grid(name="kept", spec={}, spec_sha256="0" * 64))


@pytest.mark.parametrize("statement", REFUSED)
def test_writes_and_escapes_are_refused_and_catalog_unchanged(catalog: Catalog, statement: str) -> None:
    _seed(catalog)
    with pytest.raises((UnsafeInput, InvalidInput)):
        run_query(catalog, statement)
    assert _grid_names(catalog) == ["kept"]


def test_data_modifying_cte_is_refused(catalog: Catalog) -> None:
    _seed(catalog)
    with pytest.raises((UnsafeInput, InvalidInput)):
        run_query(catalog, "WITH gone AS (DELETE FROM grids RETURNING *) SELECT * FROM gone")
    assert _grid_names(catalog) == ["kept"]


def test_semicolons_inside_strings_and_comments_are_not_statements() -> None:
    assert validate_select("SELECT ';' AS x -- ; DROP\n;") == "SELECT ';' AS x"
    assert validate_select("/* DELETE; */ SELECT 1") == "SELECT 1"


def test_row_limit_reports_truncation(catalog: Catalog) -> None:
    result = run_query(
        catalog,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50) SELECT x FROM c",
        limit=10,
    )
    assert len(result.rows) == 10 and result.truncated
    assert not run_query(catalog, "SELECT 1", limit=10).truncated


def test_long_query_stops_at_the_time_limit(catalog: Catalog) -> None:
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    with pytest.raises(QueryTimeout, match="time limit"):
        run_query(catalog, endless, timeout_s=0.5)


def test_percent_signs_stay_literal(catalog: Catalog) -> None:
    assert run_query(catalog, "SELECT 'res%' LIKE 'res%%' AS x, 'a%b' AS y").rows[0][1] == "a%b"


def test_cli_prints_json_csv_and_one_line_errors(zoo_env: dict[str, str]) -> None:
    rows = json.loads(run_zoo("sql", "SELECT 1 AS one, 'two' AS two", "--json").stdout)
    assert rows == [{"one": 1, "two": "two"}]
    assert run_zoo("sql", "SELECT 1 AS one", "--csv").stdout.splitlines() == ["one", "1"]
    refused = run_zoo("sql", "DELETE FROM runs", expect=1)
    assert "read-only" in refused.output and "Traceback" not in refused.output
    truncated = run_zoo("sql", "VALUES (1), (2), (3)", "--limit", "2")
    assert "there are more" in truncated.output


def test_query_can_come_from_standard_input(zoo_env: dict[str, str]) -> None:
    from typer.testing import CliRunner

    from zoo.cli.main import app

    result = CliRunner().invoke(app, ["sql", "-", "--csv"], input="-- a comment first\nSELECT 2 AS two\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["two", "2"]
