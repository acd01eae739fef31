"""Every analysis command explains every option and shows an example; none of them imports torch to start."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from clirunner import run_zoo
from zoo.cli.main import app

COMMANDS = ("query", "fit", "fits", "predict", "show", "evaluate")


@pytest.mark.parametrize("name", COMMANDS)
def test_help_explains_every_option_and_gives_an_example(name: str) -> None:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    undocumented = [p.name for p in command.params if not getattr(p, "help", None)]
    assert undocumented == []
    text = run_zoo(name, "--help").output
    assert "Example" in text and f"zoo {name}" in text


def test_analysis_modules_load_without_torch() -> None:
    code = (
        "import sys, zoo.selection, zoo.query, zoo.metamodel, zoo.plots, zoo.cli.query_commands, zoo.cli.fit_commands, zoo.cli.predict_command, zoo.cli.evaluate_command, zoo.cli.main; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
