"""Every `zoo ...` command in the README's shell blocks runs, as written, on a small catalog built here.

The commands are read from the README's ```bash blocks (comments stripped), so an example that stops
working, or a new one, is tested without editing this file. A few need what a test machine lacks; each is
listed in SKIPPED with the reason, and that list must stay short. The rest run in order, in-process, on one
synthetic catalog (tests/synthetic_catalog.py), and each must exit 0. Slow ones get cheaper settings through
options they already accept (CHEAPER); `pytest -s` prints each command's time.
"""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

import pytest

from clirunner import run_zoo
from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.db.models import Grid

README = Path(__file__).resolve().parents[1] / "README.md"

# Command prefix -> why it is not run here.
SKIPPED = {
    "zoo datasets add my-photos": "needs the user's own image folder",
    "zoo ingest --run-grid": "trains or registers a grid (tiny: minutes of torch training; paper: ImageNette and "
    "WHOI-Plankton folders); covered by tests/ingest and scripts/demo.sh",
    "zoo ingest --hf": "needs the Hugging Face hub",
    "zoo ingest --checkpoint": "needs a model file and the hub (--reference timm); covered by tests/ingest/test_external_ingest.py",
    "zoo predict mystery.safetensors": "needs a model file nobody documented; covered by tests/ingest/test_predict_model_file.py",
    "zoo serve": "serves until stopped; covered by tests/web",
    "zoo --db postgresql://": "needs the PostgreSQL server named in the example",
    "zoo db create-reader": "creates a PostgreSQL role; covered by tests/zoo/db/test_sql_reader.py",
}

# Command prefix -> options the command already accepts, appended here so it runs in a fraction of a second
# on the tiny catalog (fewer trees, seeds and measured images); a later option overrides the README's value.
CHEAPER = {
    "zoo report": ("--trees", "3", "--repeats", "1"),
    "zoo evaluate": ("--trees", "3", "--repeats", "1"),
    "zoo fit ": ("--trees", "3", "--repeats", "1"),
    "zoo datasets add": ("--samples", "16"),
}


def readme_commands() -> list[str]:
    """The `zoo ...` lines of the README's bash blocks, comments stripped, in order."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "zoo":
                commands.append(shlex.join(words))
    return commands


def skip_reason(command: str) -> str | None:
    return next((why for prefix, why in SKIPPED.items() if command.startswith(prefix)), None)


def test_the_readme_has_commands_and_few_are_skipped() -> None:
    commands = readme_commands()
    skipped = [c for c in commands if skip_reason(c)]
    assert len(commands) >= 30
    assert len(skipped) <= 12, skipped
    assert all(any(c.startswith(p) for c in commands) for p in SKIPPED), (
        "a SKIPPED entry matches no README command: remove it"
    )


@pytest.fixture(scope="module")
def readme_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("readme")
    with Catalog.open(str(folder / "catalog.db"), artifacts=str(folder / "artifacts")) as catalog:
        build_catalog(
            catalog,
            archs=("resnet18", "resnet50", "mobilenetv3_large_100", "convnext_tiny"),
            n_variants=9,
            trials=2,
            epochs=2,
            n_external=0,
        )
        with catalog.session(write=True) as session:  # the grids the README names (their runs are the synthetic ones)
            session.add_all(
                Grid(name=name, spec={}, spec_sha256=f"{i:064x}") for i, name in enumerate(("demo", "paper"), start=1)
            )
    return folder


def test_every_readme_command_runs(readme_catalog: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_DATABASE_URL", str(readme_catalog / "catalog.db"))
    monkeypatch.setenv("ZOO_ARTIFACTS", str(readme_catalog / "artifacts"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(readme_catalog)
    ran, timings = [], []
    for command in readme_commands():
        if skip_reason(command):
            continue
        args = shlex.split(command)[1:]
        args = [a.replace("~", str(readme_catalog)) for a in args]
        args += next((list(extra) for prefix, extra in CHEAPER.items() if command.startswith(prefix)), [])
        start = time.perf_counter()
        result = run_zoo(*args, expect=None)
        timings.append((time.perf_counter() - start, command))
        assert result.exit_code == 0, f"README command failed: {command}\n{result.output}"
        ran.append(command)
    assert len(ran) >= 20, ran
    print("README commands, slowest first (seconds):")  # shown with pytest -s
    for took, command in sorted(timings, reverse=True):
        print(f"  {took:6.2f}  {command}")
