"""Option types shared by several commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table (for scripts).")]
AsCsv = Annotated[bool, typer.Option("--csv", help="Print CSV with a header row instead of a table.")]
