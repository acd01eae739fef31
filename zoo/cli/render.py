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
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from zoo.display import cell_text


def _console(**options: Any) -> Console:
    """A console that prints text literally and reads $COLUMNS when it prints, not once at import.

    Rich copies $COLUMNS into a fixed width when the console is made; these consoles live as long as the
    process (a notebook, a test session), so a later $COLUMNS must still count."""
    made = Console(markup=False, emoji=False, **options)
    made._width = None  # Rich's size property reads $COLUMNS and the terminal when _width is None
    return made


console = _console()
err_console = _console(stderr=True)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return f"<{len(value)} bytes>"
    return value


format_cell = cell_text  # one rule for the CLI's tables and the web pages


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
    one_line: bool = False,
) -> None:
    """Print rows as a Rich table, a JSON list of objects, or CSV with a header.

    The table never breaks a word: cells wrap at spaces, and a word too long for its column ends in an
    ellipsis (``one_line=True``: every row stays one line, for listings). Numbers and id columns keep their
    full width, so the id is always readable.
    """
    if as_json:
        emit_json([{c: _plain(v) for c, v in zip(columns, row)} for row in rows])
    elif as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_plain(v) for v in row] for row in rows)
    else:
        console.print(table_of(columns, list(rows), title=title, one_line=one_line))


ID_COLUMNS = ("id", "checkpoint_id", "run_id", "fit")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def table_of(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    one_line: bool = True,
    width: int | None = None,
) -> Table:
    """A compact Rich table (no vertical rules) that fits ``width`` (default: the terminal's) by shortening text.

    Numbers and id columns keep their full width and are right-aligned; text columns shrink first and end in
    an ellipsis, whole words wrapping onto a new line unless ``one_line``. When even that is too wide, columns
    are left out from the right (never an id column) and the caption names them.
    """
    from rich import box

    width = width or console.width
    cells = [[format_cell(v) for v in row] for row in rows]
    specs = []
    for index, column in enumerate(columns):
        values = [row[index] for row in rows]
        numeric = bool(values) and all(v is None or _is_number(v) for v in values)
        widest = max((len(row[index]) for row in cells), default=0)
        keep = numeric or column in ID_COLUMNS
        specs.append(
            (index, column, numeric, keep, max(widest, len(column)) if keep else min(max(widest, len(column)), 6))
        )
    hidden: list[str] = []
    while len(specs) > 1 and sum(s[4] for s in specs) + 3 * (len(specs) - 1) > width:
        drop = next((s for s in reversed(specs) if s[1] not in ID_COLUMNS), None)
        if drop is None:
            break
        specs.remove(drop)
        hidden.insert(0, drop[1])
    # Text columns share what the kept columns leave, each capped at the same width (water-filling), so Rich
    # shortens them with an ellipsis instead of cropping the table's right edge.
    room = width - 3 * (len(specs) - 1) - 2 - sum(s[4] for s in specs if s[3])
    natural = {s[0]: max([len(s[1])] + [len(row[s[0]]) for row in cells]) for s in specs if not s[3]}
    cap = max(natural.values(), default=0)
    while cap > 3 and sum(min(n, cap) for n in natural.values()) > room:
        cap -= 1
    caption = f"not shown at this width: {', '.join(hidden)} (widen the terminal, or see --json)" if hidden else None
    table = Table(
        title=None if title is None else plain_text(title),
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        header_style="bold",
        title_justify="left",
        caption=None if caption is None else plain_text(caption),
        caption_justify="left",
    )
    for index, column, numeric, keep, least in specs:
        table.add_column(
            plain_text(column),
            justify="right" if numeric else "left",
            no_wrap=one_line or keep,
            overflow="ellipsis",
            min_width=least if keep else None,
            max_width=None if keep else min(natural[index], cap),
        )
    for row in cells:
        table.add_row(*(plain_text(row[index]) for index, *_ in specs))
    return table


def plural(n: int, noun: str, plural_form: str | None = None) -> str:
    """``1 checkpoint``, ``25,000 checkpoints`` (``plural_form`` for irregular nouns)."""
    return f"{n:,} {noun if n == 1 else (plural_form or noun + 's')}"


def showing(shown: int, total: int, noun: str, *, offset: int = 0) -> str:
    """``showing 20 of 25,000 checkpoints (24,980 more; use --limit N or --limit 0 for all, --offset to page)``."""
    if shown >= total and offset == 0:
        return plural(total, noun)
    first = f" from #{offset + 1:,}" if offset else ""
    more = total - offset - shown
    tail = f" ({more:,} more; use --limit N, --limit 0 for all, or --offset {offset + shown})" if more > 0 else ""
    return f"showing {shown:,}{first} of {plural(total, noun)}{tail}"


def say(message: str | Text, style: str = "") -> None:
    """A result line on stdout, printed literally (optionally in one ``style``, e.g. ``"yellow"``)."""
    console.print(plain_text(message, style), soft_wrap=True)


def note(message: str | Text, style: str = "") -> None:
    """A remark for people, on stderr so that ``--json``/``--csv`` output stays clean; printed literally."""
    err_console.print(plain_text(message, style), soft_wrap=True)


def print_error(message: str) -> None:
    """The CLI's one-line error: ``Error: <message>`` on stderr, the message printed literally."""
    err_console.print(Text.assemble(("Error:", "bold red"), " ", message), highlight=False, soft_wrap=True)


def status(message: str) -> AbstractContextManager[Any]:
    """A spinner with ``message`` (Rich's spinner would read a plain string as markup)."""
    return console.status(plain_text(message))
