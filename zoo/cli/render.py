"""Rendering of command results: Rich tables for people, ``--json`` and ``--csv`` for scripts.

Everything printed here is the user's text (names, paths, SQL values, error messages), so nothing is ever
read as Rich markup or emoji codes: the consoles are made with ``markup=False, emoji=False`` and styled
output goes through :func:`say`, :func:`note` and :func:`print_error`, which style whole ``Text`` objects.
A value like ``[/]`` or ``root:x:0`` prints exactly as typed.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from datetime import datetime
from typing import Any, ContextManager, Iterable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console(markup=False, emoji=False)
err_console = Console(stderr=True, markup=False, emoji=False)


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


def plain_text(message: str | Text, style: str = "") -> Text:
    """``message`` as a Rich ``Text`` that is printed literally (no markup, no emoji codes)."""
    return message if isinstance(message, Text) else Text(str(message), style=style)


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
        table = Table(title=None if title is None else plain_text(title), header_style="bold")
        for column in columns:
            table.add_column(plain_text(column), overflow="fold")
        for row in rows:
            table.add_row(*(plain_text(format_cell(v)) for v in row))
        console.print(table)


def say(message: str | Text, style: str = "") -> None:
    """A result line on stdout, printed literally (optionally in one ``style``, e.g. ``"yellow"``)."""
    console.print(plain_text(message, style), soft_wrap=True)


def note(message: str | Text, style: str = "") -> None:
    """A remark for people, on stderr so that ``--json``/``--csv`` output stays clean; printed literally."""
    err_console.print(plain_text(message, style), soft_wrap=True)


def print_error(message: str) -> None:
    """The CLI's one-line error: ``Error: <message>`` on stderr, the message printed literally."""
    err_console.print(Text.assemble(("Error:", "bold red"), " ", message), highlight=False, soft_wrap=True)


def status(message: str) -> ContextManager[Any]:
    """A spinner with ``message`` (Rich's spinner would read a plain string as markup)."""
    return console.status(plain_text(message))
