"""Every library error reaches the user as one line on stderr and exit status 1; anything else is a bug and
keeps its traceback. Checked for each ZooError subclass zoo and ingest define, through the CLI's own group."""

from __future__ import annotations

import importlib

import pytest
import typer
from typer.testing import CliRunner

from zoo.cli.main import ZooGroup
from zoo.errors import ZooError

# Every module that defines a ZooError subclass; the test below fails when one is missing from this list.
ERROR_MODULES = (
    "zoo.errors",
    "zoo.extras",
    "zoo.queue",
    "zoo.sql",
    "ingest.first_conv",
    "ingest.train",
    "ingest.weights.hub",
)
MESSAGE = (
    "the [bold]grid[/] 'x' is wrong; run `zoo db upgrade` \\ then retry"  # markup and backslashes, printed as typed
)


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found | {sub for child in found for sub in _subclasses(child)}


for _module in ERROR_MODULES:
    importlib.import_module(_module)
ERRORS = sorted(_subclasses(ZooError) | {ZooError}, key=lambda e: (e.__module__, e.__name__))


def _app(error: BaseException) -> typer.Typer:
    app = typer.Typer(cls=ZooGroup)

    @app.command()
    def fail() -> None:
        raise error

    @app.command()
    def other() -> None:  # a second command keeps typer from collapsing the group into one command
        pass

    return app


def test_every_error_class_is_collected() -> None:
    names = {e.__name__ for e in ERRORS if e.__module__.split(".")[0] in ("zoo", "ingest")}
    assert {
        "NoFirstConvError",
        "HubUnavailable",
        "MissingExtra",
        "QueueBusy",
        "ClaimLost",
        "QueryTimeout",
        "UnsafeInput",
        "SchemaOutOfDate",
        "Interrupted",
    } <= names
    assert all(e.__module__ in ERROR_MODULES for e in ERRORS if e.__module__.split(".")[0] in ("zoo", "ingest"))


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: e.__name__)
def test_each_library_error_is_one_line_and_exit_status_1(error: type[ZooError]) -> None:
    result = CliRunner().invoke(_app(error(MESSAGE)), ["fail"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"Error: {MESSAGE}"] and result.stdout == ""


def test_a_programming_error_is_not_dressed_up_as_a_user_error() -> None:
    result = CliRunner().invoke(_app(KeyError("bug")), ["fail"])
    assert isinstance(result.exception, KeyError) and "Error: " not in result.stderr
