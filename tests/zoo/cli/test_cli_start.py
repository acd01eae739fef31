"""`zoo --help` starts without the heavy stack; the defaults its help shows are the library's.

The names it shows come from zoo.vocabulary, which the library imports too (tests/test_vocabulary.py).
"""

from __future__ import annotations

import enum
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from zoo.cli import options


def test_importing_the_cli_loads_no_heavy_package() -> None:
    code = (
        "import sys, zoo.cli.main; "
        "print(' '.join(m for m in ('scipy', 'sklearn', 'matplotlib', 'torch', 'sqlalchemy', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_help_defaults_are_the_library_defaults() -> None:
    from zoo import datasets, queue, sql

    assert options.DEFAULT_GRACE_S == queue.DEFAULT_GRACE_S
    assert options.DEFAULT_SAMPLES == datasets.DEFAULT_SAMPLES
    assert (options.SQL_DEFAULT_LIMIT, options.SQL_DEFAULT_TIMEOUT_S, options.SQL_DEFAULT_MAX_BYTES) == (
        sql.DEFAULT_LIMIT,
        sql.DEFAULT_TIMEOUT_S,
        sql.DEFAULT_MAX_BYTES,
    )


HEAVY = ("pydantic", "scipy", "sklearn", "torch", "sqlalchemy", "numpy")

# Runs `zoo PATH --help` for every command path of the tree (lazy commands included) in one interpreter and
# prints, per path, the heavy packages that were imported by then; the paths come from the command tree.
EVERY_HELP = f"""
import contextlib, io, json, sys
import typer
import zoo.cli.main as main

HEAVY = {HEAVY!r}
loaded = lambda: [m for m in HEAVY if m in sys.modules]
found = {{"import": loaded()}}

def paths(command, ctx, prefix):
    yield prefix
    for name in getattr(command, "list_commands", lambda ctx: [])(ctx):
        sub = command.get_command(ctx, name)
        yield from paths(sub, typer.Context(sub, parent=ctx, info_name=name), [*prefix, name])

root = typer.main.get_command(main.app)
for path in list(paths(root, typer.Context(root, info_name="zoo"), [])):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            main.app([*path, "--help"], prog_name="zoo")
        except SystemExit as exit:
            assert exit.code == 0, (path, out.getvalue())
    assert "Usage: zoo" in out.getvalue(), (path, out.getvalue())
    found[" ".join(path)] = loaded()
print(json.dumps(found))
"""


def test_every_command_help_loads_no_pydantic_or_heavy_package() -> None:
    """typer converts option values with Pydantic; `--help` must not pay for it (zoo.cli.lazy_coercion)."""
    out = subprocess.run([sys.executable, "-c", EVERY_HELP], capture_output=True, text=True, check=True).stdout
    found = json.loads(out)
    assert {"", "query", "fit", "sql", "ingest", "worker", "runs retry", "db upgrade", "report", "serve"} <= set(found)
    assert {path: heavy for path, heavy in found.items() if heavy} == {}


def test_command_list_shows_one_line_per_command_and_command_help_the_whole_text() -> None:
    env = {**os.environ, "COLUMNS": "120"}
    listing = subprocess.run(
        [sys.executable, "-m", "zoo", "--help"], capture_output=True, text=True, check=True, env=env
    ).stdout
    panel = listing.split("─ Commands ")[1].split("╰")[0].splitlines()[1:]
    names = [line.strip("│ ").split()[0] for line in panel]
    assert all(not line.startswith("│  ") for line in panel), listing  # no wrapped continuation lines
    assert {"query", "fit", "sql", "runs", "db", "report", "serve"} <= set(names)
    assert len(names) == len(set(names))

    from zoo.cli.report_command import report_command

    whole = " ".join((report_command.__doc__ or "").split("\n\n")[0].split())
    shown = subprocess.run(
        [sys.executable, "-m", "zoo", "report", "--help"], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert whole in " ".join(shown.replace("│", " ").split())


class Colour(enum.Enum):
    red = "red"
    blue = "blue"


def _echo_app(group: type) -> typer.Typer:
    """Options of every kind the CLI declares; the command prints what it receives."""
    app = typer.Typer(cls=group)

    @app.callback()
    def top(db: Annotated[Optional[str], typer.Option("--db")] = None) -> None:
        typer.echo(f"db={db!r}")

    @app.command()
    def echo(
        name: Annotated[str, typer.Argument()],
        text: Annotated[Optional[str], typer.Option()] = None,
        count: Annotated[int, typer.Option()] = 3,
        ratio: Annotated[float, typer.Option()] = 0.5,
        bounded: Annotated[int, typer.Option(min=1, max=9)] = 5,
        epoch: Annotated[Optional[int], typer.Option()] = None,
        arch: Annotated[Optional[list[str]], typer.Option()] = None,
        trial: Annotated[Optional[list[int]], typer.Option()] = None,
        out: Annotated[Path, typer.Option()] = Path("report"),
        colour: Annotated[Colour, typer.Option()] = Colour.red,
        flag: Annotated[bool, typer.Option("--flag/--no-flag")] = False,
    ) -> None:
        typer.echo(repr((name, text, count, ratio, bounded, epoch, arch, trial, out, colour, flag)))

    return app


@pytest.mark.parametrize(
    "args",
    [
        ["echo", "x"],
        ["--db", "a.db", "echo", "x", "--text", "t", "--count", "7", "--ratio", "2", "--epoch", "0"],
        ["echo", "x", "--arch", "resnet18", "--arch", "vgg*", "--trial", "1", "--trial", "2"],
        ["echo", "x", "--out", "folder", "--colour", "blue", "--flag", "--bounded", "9"],
        ["echo", "x", "--count", "seven"],
        ["echo", "x", "--ratio", "half"],
        ["echo", "x", "--bounded", "10"],
        ["echo", "x", "--trial", "one"],
        ["echo", "x", "--colour", "green"],
        ["echo"],
        ["echo", "--help"],
    ],
)
def test_deferred_coercion_gives_what_typer_gives(args: list[str]) -> None:
    """Values that skip Pydantic come out as typer's coercion makes them; the others and every error are typer's."""
    from zoo.cli.main import ZooGroup

    runner = CliRunner()
    plain = runner.invoke(_echo_app(TyperGroup), args, env={"COLUMNS": "100"})
    deferred = runner.invoke(_echo_app(ZooGroup), args, env={"COLUMNS": "100"})
    assert (deferred.exit_code, deferred.output) == (plain.exit_code, plain.output)
