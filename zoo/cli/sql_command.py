"""``zoo sql``: read-only ad hoc SQL."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from zoo.cli.options import AsCsv, AsJson
from zoo.cli.render import emit_rows, note
from zoo.cli.state import open_catalog
from zoo.sql import DEFAULT_LIMIT, DEFAULT_TIMEOUT_S, run_query


def sql_command(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="One SELECT / WITH / VALUES / EXPLAIN statement; - reads it from standard input.")],
    limit: Annotated[int, typer.Option(help="Most rows to print; a note says when there were more.")] = DEFAULT_LIMIT,
    timeout: Annotated[float, typer.Option(help="Seconds before the query is stopped.")] = DEFAULT_TIMEOUT_S,
    as_json: AsJson = False,
    as_csv: AsCsv = False,
) -> None:
    """Run a read-only SQL query on the catalog (tables and the checkpoint_features view: see README).

    Examples: zoo sql "SELECT arch, count(*) FROM checkpoints GROUP BY arch"; zoo sql - < query.sql
    """
    if query == "-":
        query = sys.stdin.read()
    result = run_query(open_catalog(ctx), query, limit=limit, timeout_s=timeout)
    emit_rows(result.columns, result.rows, as_json=as_json, as_csv=as_csv)
    if result.truncated:
        note(f"[yellow]showing the first {limit} rows; there are more (raise --limit)[/]")
