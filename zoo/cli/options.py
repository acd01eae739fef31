"""Option types shared by several commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table (for scripts).")]
AsCsv = Annotated[bool, typer.Option("--csv", help="Print CSV with a header row instead of a table.")]


def parse_assignments(items: list[str]) -> dict[str, object]:
    """``["a=1", "b=x"]`` → ``{"a": 1, "b": "x"}`` (numbers and true/false are converted)."""
    from zoo.errors import InvalidInput

    result: dict[str, object] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{item!r} is not KEY=VALUE")
        result[key.strip()] = _convert(raw.strip())
    return result


def _convert(raw: str) -> object:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw
