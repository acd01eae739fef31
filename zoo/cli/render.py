"""Rendering of command results: Rich tables for people, ``--json`` and ``--csv`` for scripts."""

from __future__ import annotations

import csv
import json
import math
import sys
from datetime import datetime
from typing import Any, Iterable, Sequence

from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return f"<{len(value)} bytes>"
    return value


def format_cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(_plain(value))


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=_plain, indent=2) + "\n")


def emit_rows(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    as_json: bool = False,
    as_csv: bool = False,
    title: str | None = None,
) -> None:
    """Print rows as a Rich table, a JSON list of objects, or CSV with a header."""
    if as_json:
        emit_json([{c: _plain(v) for c, v in zip(columns, row)} for row in rows])
    elif as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_plain(v) for v in row] for row in rows)
    else:
        table = Table(title=title, header_style="bold")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(format_cell(v) for v in row))
        console.print(table)


def note(message: str) -> None:
    """A remark for people, on stderr so that ``--json``/``--csv`` output stays clean."""
    err_console.print(message)
