"""Bad settings give one line saying what is wrong and what to do, a non-zero exit, and write nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clirunner import run_zoo


def _one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://root@localhost/zoo", "unsupported database"),
        ("postgresql://postgres@127.0.0.1:1/zoo", "cannot connect"),
        ("not a url://x", "cannot parse"),
        ("postgresql+asyncpg://postgres@127.0.0.1/test", "not installed"),
    ],
)
def test_bad_database_urls(url: str, expected: str, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    assert expected in _one_line_error(run_zoo("--db", url, "sql", "SELECT 1", expect=None))


def test_file_that_is_not_a_database_is_left_untouched(tmp_path: Path) -> None:
    impostor = tmp_path / "notes.db"
    impostor.write_text("these are my notes, not a database\n" * 100)
    before = impostor.read_bytes()
    line = _one_line_error(run_zoo("--db", str(impostor), "sql", "SELECT 1", expect=None))
    assert line.endswith("is not a SQLite database (it may be another kind of file); point --db at another path")
    assert impostor.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_missing_folder_is_reported(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "catalog.db"
    assert "does not exist" in _one_line_error(run_zoo("--db", str(target), "db", "current", expect=None))
    assert not (tmp_path / "nowhere").exists()


def test_importing_zoo_does_not_import_torch() -> None:
    code = "import sys, zoo, zoo.catalog, zoo.sql, zoo.cli.main; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
