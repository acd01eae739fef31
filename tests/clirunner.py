"""Run the ``zoo`` CLI in-process for tests."""

from __future__ import annotations

from typer.testing import CliRunner

from zoo.cli.main import app


def run_zoo(*args: str, expect: int | None = 0):  # type: ignore[no-untyped-def]
    """Invoke ``zoo ARGS``; assert the exit code unless ``expect`` is None; return the result."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    if expect is not None:
        assert result.exit_code == expect, f"zoo {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return result
