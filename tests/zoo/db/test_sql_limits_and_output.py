"""`zoo sql` stops at a byte budget with one line, and prints values and names literally (no Rich markup)."""

from __future__ import annotations

import tracemalloc

import pytest

from clirunner import run_zoo
from zoo.catalog import Catalog
from zoo.errors import InvalidInput
from zoo.sql import ResultTooLarge, parse_size, run_query


def _huge_rows(dialect: str) -> str:
    """100 rows of 100 MB each: 10 GB if fetched whole."""
    if dialect == "sqlite":
        return (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100) "
            "SELECT zeroblob(100000000) FROM c"
        )
    return "SELECT repeat('x', 100000000) FROM generate_series(1, 100)"


def test_huge_rows_stop_at_the_byte_budget_with_little_memory(catalog: Catalog) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ResultTooLarge, match="64 MiB byte budget after 0 rows"):
            run_query(catalog, _huge_rows(catalog.dialect))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 350 * 2**20  # at most about one 100 MB row was held, never the 10 GB result


def test_budget_counts_across_rows_and_batches(catalog: Catalog) -> None:
    rows = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300) SELECT x, '{}' AS pad FROM c"
    query = rows.format("y" * 1000)
    assert len(run_query(catalog, query, max_bytes=1_000_000).rows) == 300
    with pytest.raises(ResultTooLarge, match=r"after 9\d rows"):
        run_query(catalog, query, max_bytes=100_000)


def test_cli_reports_the_budget_in_one_line(zoo_env: dict[str, str]) -> None:
    result = run_zoo("sql", "SELECT 'abcdefghij' AS a UNION ALL SELECT 'klmnopqrst'", "--max-bytes", "15", expect=1)
    assert "byte budget after 1 rows" in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--max-bytes" in run_zoo("sql", "SELECT 1", "--max-bytes", "lots", expect=1).stderr


def test_sizes_take_binary_units() -> None:
    assert parse_size("64MiB") == 64 * 2**20 and parse_size("1g") == 2**30 and parse_size("500") == 500
    for bad in ("", "-1", "1.5M", "12XB", "9" * 40):
        with pytest.raises(InvalidInput):
            parse_size(bad)


@pytest.mark.parametrize("text", ["[/]", "root:x:0", "[bold red]not bold[/]", "[link=file:///etc/passwd]x[/link]"])
def test_values_and_column_names_print_literally(zoo_env: dict[str, str], text: str) -> None:
    quoted = text.replace("'", "''")
    result = run_zoo("sql", f"SELECT '{quoted}' AS \"{text}\"")
    assert result.stdout.count(text) == 2, result.stdout  # the header and the value
    assert "❌" not in result.stdout


def test_error_text_with_markup_is_one_literal_line(zoo_env: dict[str, str]) -> None:
    result = run_zoo("sql", 'SELECT * FROM "[/]"', expect=1)
    assert "[/]" in result.stderr and "Traceback" not in result.output
