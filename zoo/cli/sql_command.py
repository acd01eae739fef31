"""``zoo sql``: read-only ad hoc SQL."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from zoo.cli.options import SQL_DEFAULT_LIMIT as DEFAULT_LIMIT
from zoo.cli.options import SQL_DEFAULT_MAX_BYTES as DEFAULT_MAX_BYTES
from zoo.cli.options import SQL_DEFAULT_TIMEOUT_S as DEFAULT_TIMEOUT_S
from zoo.cli.options import AsCsv, AsJson
from zoo.cli.render import console, emit_rows, err_console, format_cell
from zoo.cli.state import open_catalog, state
from zoo.config import READER_URL_ENV, reader_database_url

if TYPE_CHECKING:  # SQLAlchemy loads when the query runs, not at `zoo sql --help`
    from zoo.sql import QueryResult


def sql_command(
    ctx: typer.Context,
    query: Annotated[
        str, typer.Argument(help="One SELECT / WITH / VALUES / EXPLAIN statement; - reads it from standard input.")
    ],
    limit: Annotated[
        int, typer.Option(help="Most rows to print; a note says when there were more. Example: --limit 50")
    ] = DEFAULT_LIMIT,
    timeout: Annotated[
        float, typer.Option(help="Seconds before the query is stopped. Example: --timeout 30")
    ] = DEFAULT_TIMEOUT_S,
    max_bytes: Annotated[
        str,
        typer.Option(
            "--max-bytes",
            help="Most bytes of values to fetch before stopping with an error. Example: --max-bytes 256MiB",
        ),
    ] = f"{DEFAULT_MAX_BYTES // (1 << 20)}MiB",
    reader_url: Annotated[
        Optional[str],
        typer.Option(
            "--reader-url",
            envvar=READER_URL_ENV,
            show_envvar=True,
            help="Connect as a read-only role instead of the catalog URL (see zoo db create-reader). "
            "Example: --reader-url postgresql://zoo_reader@db.example/zoo",
        ),
    ] = None,
    as_json: AsJson = False,
    as_csv: AsCsv = False,
) -> None:
    """Run a read-only SQL query on the catalog (tables and the checkpoint_features view: see README).

    Examples: zoo sql "SELECT arch, count(*) FROM checkpoints GROUP BY arch"; zoo sql - < query.sql
    """
    from zoo.catalog import Catalog
    from zoo.sql import parse_size, run_query

    if query == "-":
        query = sys.stdin.read()
    url = reader_database_url(reader_url)
    if url is None:
        result = run_query(open_catalog(ctx), query, limit=limit, timeout_s=timeout, max_bytes=parse_size(max_bytes))
    else:
        with Catalog.open(url, artifacts=state(ctx).artifacts) as reader:
            result = run_query(reader, query, limit=limit, timeout_s=timeout, max_bytes=parse_size(max_bytes))
    for warning in result.warnings:
        err_console.print(Text("Warning: " + warning, style="yellow"), soft_wrap=True)
    if as_json or as_csv:
        emit_rows(result.columns, result.rows, as_json=as_json, as_csv=as_csv)
    else:
        _print_table(result)
    if result.truncated:
        err_console.print(Text(f"showing the first {limit} rows; there are more (raise --limit)", style="yellow"))


def _print_table(result: QueryResult) -> None:
    """Values and column names are the user's text: Rich Text, so '[/]' or ':x:' print as typed."""
    table = Table(header_style="bold")
    for column in result.columns:
        table.add_column(Text(column), overflow="fold")
    for row in result.rows:
        table.add_row(*(Text(format_cell(value)) for value in row))
    console.print(table)
