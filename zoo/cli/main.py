"""The ``zoo`` command: global options, sub-commands, and one-line errors."""

from __future__ import annotations

import importlib
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from zoo import __version__
from zoo.cli import (
    datasets_commands,
    db_commands,
    evaluate_command,
    fit_commands,
    ingest_commands,
    predict_command,
    query_commands,
    runs_commands,
)
from zoo.cli.flags import cli_message
from zoo.cli.lazy_coercion import child_context, defer_coercion
from zoo.cli.render import print_error
from zoo.cli.sql_command import sql_command
from zoo.cli.state import state
from zoo.config import ARTIFACTS_ENV, DATABASE_URL_ENV
from zoo.errors import ZooError

# Commands whose modules import the analysis or web stack at load: imported only when run or asked for --help.
# Each has its module, its function and the one line `zoo --help` lists it with (its docstring's first
# paragraph, which `zoo COMMAND --help` shows, is longer than one line).
LAZY_COMMANDS = {
    "report": (
        "zoo.cli.report_command",
        "report_command",
        "Fit the paper's Table 1 and generalization matrices on the catalog; print them, write a report folder.",
    ),
    "serve": (
        "zoo.cli.serve_command",
        "serve_command",
        "Serve a read-only web view of the catalog: runs, checkpoints, fits, matrices, SQL; pages also as JSON.",
    ),
}


class ZooGroup(TyperGroup):
    """Turns library errors into one line on stderr and exit code 1 instead of a traceback; loads the
    commands of :data:`LAZY_COMMANDS` only when they are used (``zoo --help`` lists them with their line from
    there); converts option values that need no conversion without Pydantic (:mod:`zoo.cli.lazy_coercion`)."""

    _listing = False

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        defer_coercion(self, ctx)  # here, not in __init__: typer adds --install-completion after it
        return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZooError as error:
            print_error(cli_message(error))  # the library's parameter names as the flags the user typed
            raise typer.Exit(code=1) from None

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in LAZY_COMMANDS if name not in self.commands)]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in LAZY_COMMANDS:
            return found
        module, function, summary = LAZY_COMMANDS[cmd_name]
        if self._listing:  # `zoo --help` lists it: a stand-in with its summary, nothing imported
            return TyperCommand(cmd_name, short_help=summary)
        single = typer.Typer()
        single.command(cmd_name, short_help=summary)(getattr(importlib.import_module(module), function))
        command = typer.main.get_command(single)
        self.add_command(command, cmd_name)
        defer_coercion(command, child_context(command, cmd_name, ctx))
        return command

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    cls=ZooGroup,
    name="zoo",
    help="A model-zoo catalog that reads training-data properties (sharpness, noise, object scale) "
    "out of CNN first-layer filters.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"zoo {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        Optional[str],
        typer.Option(
            "--db",
            envvar=DATABASE_URL_ENV,
            help="Catalog database: a SQLite path or URL (sqlite:///x.db) or postgresql://user@host/db. "
            "Default: $ZOO_HOME/catalog.db (ZOO_HOME defaults to ./.zoo).",
            show_envvar=True,
        ),
    ] = None,
    artifacts: Annotated[
        Optional[str],
        typer.Option(
            "--artifacts",
            envvar=ARTIFACTS_ENV,
            help="Artifact store: a folder or fsspec URL shared by all workers. "
            "Default: artifacts/ beside a SQLite catalog, else $ZOO_HOME/artifacts.",
            show_envvar=True,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Global options apply to every command, e.g. zoo --db postgresql://postgres@127.0.0.1/test query."""
    current = state(ctx)
    current.db, current.artifacts = db, artifacts


app.add_typer(db_commands.app, name="db")
app.add_typer(datasets_commands.app, name="datasets")
app.command("ingest")(ingest_commands.ingest_command)
app.command("worker")(ingest_commands.worker_command)
app.add_typer(runs_commands.runs_app, name="runs")
app.command("featurize")(ingest_commands.featurize_command)
app.command("sql")(sql_command)
app.command("query")(query_commands.query_command)
app.command("fit")(fit_commands.fit_command)
app.command("fits")(fit_commands.fits_command)
app.command("predict")(predict_command.predict_command)
app.command("evaluate")(evaluate_command.evaluate_command)
app.command("show")(query_commands.show_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
