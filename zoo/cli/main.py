"""The ``zoo`` command: global options, sub-commands, and one-line errors."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from zoo import __version__
from zoo.cli import analysis_commands, datasets_commands, db_commands, ingest_commands
from zoo.cli.render import print_error
from zoo.cli.sql_command import sql_command
from zoo.cli.state import state
from zoo.config import ARTIFACTS_ENV, DATABASE_URL_ENV
from zoo.errors import ZooError

# Commands whose modules import the analysis or web stack at load: imported only when run or asked for --help.
LAZY_COMMANDS = {
    "report": ("zoo.cli.report_command", "report_command"),
    "serve": ("zoo.cli.serve_command", "serve_command"),
}


def _summary(module: str, function: str) -> str:
    """The first paragraph of a command function's docstring, read from its source without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return ""
    with open(spec.origin, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return " ".join((ast.get_docstring(node) or "").split("\n\n")[0].split())
    return ""


class ZooGroup(TyperGroup):
    """Turns library errors into one line on stderr and exit code 1 instead of a traceback; loads the
    commands of :data:`LAZY_COMMANDS` only when they are used (their summary in ``zoo --help`` is read from
    their source)."""

    _listing = False

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZooError as error:
            print_error(str(error))
            raise typer.Exit(code=1) from None

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in LAZY_COMMANDS if name not in self.commands)]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in LAZY_COMMANDS:
            return found
        module, function = LAZY_COMMANDS[cmd_name]
        if self._listing:  # `zoo --help` lists it: a stand-in with its summary, nothing imported
            return TyperCommand(cmd_name, help=_summary(module, function))
        single = typer.Typer()
        single.command(cmd_name)(getattr(importlib.import_module(module), function))
        command = typer.main.get_command(single)
        self.add_command(command, cmd_name)
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
app.add_typer(ingest_commands.runs_app, name="runs")
app.command("featurize")(ingest_commands.featurize_command)
app.command("sql")(sql_command)
app.command("query")(analysis_commands.query_command)
app.command("fit")(analysis_commands.fit_command)
app.command("fits")(analysis_commands.fits_command)
app.command("predict")(analysis_commands.predict_command)
app.command("evaluate")(analysis_commands.evaluate_command)
app.command("show")(analysis_commands.show_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
