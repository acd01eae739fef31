"""No module under zoo/ or ingest/ grows past MAX_LINES: a longer one holds more than one reason to change.

docs/ARCHITECTURE.md maps where each concern lives; split a module along those lines before it reaches the
limit. Nothing is exempt.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 500
PACKAGES = ("zoo", "ingest")


def line_counts() -> dict[str, int]:
    """Lines of every ``.py`` module under the packages, by path relative to the repository."""
    return {
        path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def test_the_count_sees_every_package() -> None:
    counted = line_counts()
    assert "zoo/cli/main.py" in counted and "ingest/worker.py" in counted
    assert counted["zoo/cli/main.py"] == len((ROOT / "zoo/cli/main.py").read_text().splitlines())


def test_no_module_is_over_the_limit() -> None:
    over = {path: lines for path, lines in line_counts().items() if lines > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines (split them by reason to change): " + ", ".join(
        f"{path} ({lines})" for path, lines in sorted(over.items())
    )
