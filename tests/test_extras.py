"""A command that needs a missing extra says which one, in one line, with the install command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gridfiles import write_grid
from zoo.extras import EXTRAS, MissingExtra, missing_modules, require_extra

ROOT = Path(__file__).resolve().parents[1]


def test_every_extra_is_installed_in_the_dev_environment() -> None:
    for extra in EXTRAS:
        assert missing_modules(extra) == (), extra
        require_extra(extra, "this test")


def test_a_missing_module_names_the_extra_and_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "timm", None)  # what an uninstalled module looks like to import
    assert missing_modules("ingest") == ("timm",)
    with pytest.raises(MissingExtra) as error:
        require_extra("ingest", "zoo ingest")
    assert str(error.value) == (
        "zoo ingest needs the 'ingest' extra (timm is not installed); run: pip install 'zoo[ingest]'"
    )


def test_an_unknown_extra_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown extra 'gpu'"):
        missing_modules("gpu")


def run_without(modules: list[str], args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``zoo ARGS`` in a fresh interpreter where ``modules`` cannot be imported, on a catalog in tmp_path."""
    code = (
        "import sys\n"
        "class Uninstalled:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {modules!r}:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Uninstalled())\n"
        f"sys.argv = ['zoo', *{args!r}]\n"
        "from zoo.cli.main import main\nmain()\n"
    )
    env = {**os.environ, "ZOO_HOME": str(tmp_path / "home"), "ZOO_DATABASE_URL": "", "ZOO_ARTIFACTS": ""}
    env = {k: v for k, v in env.items() if v != "" or k not in ("ZOO_DATABASE_URL", "ZOO_ARTIFACTS")}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )


@pytest.mark.parametrize(
    ("blocked", "args", "message"),
    [
        (
            ["torch"],
            ["ingest", "--checkpoint", "model.safetensors", "--arch", "resnet18"],
            "needs the 'ingest' extra (torch is not installed); run: pip install 'zoo[ingest]'",
        ),
        (
            ["uvicorn"],
            ["serve"],
            "zoo serve needs the 'serve' extra (uvicorn is not installed); run: pip install 'zoo[serve]'",
        ),
        (
            ["psycopg"],
            ["--db", "postgresql://nobody@127.0.0.1:1/none", "query"],
            "a PostgreSQL catalog needs the 'postgres' extra (psycopg is not installed); run: pip install 'zoo[postgres]'",
        ),
    ],
    ids=["ingest", "serve", "postgres"],
)
def test_a_command_without_its_extra_stops_with_one_line(
    blocked: list[str], args: list[str], message: str, tmp_path: Path
) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 16)
    result = run_without(blocked, args, tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stdout + result.stderr


INGEST_STACK = [*EXTRAS["ingest"], "torchvision"]


def test_enqueue_only_queues_a_grid_without_the_ingest_stack(tmp_path: Path) -> None:
    """Queueing needs no torch and no ingest package: the grid is registered and queued, the architecture name
    goes unchecked (resnet19 is no timm model; the worker reports that on its run) and nothing is wrong to say."""
    grid = write_grid(tmp_path, "lean", archs=["resnet19"], variants=["original"])
    args = ["ingest", "--run-grid", str(grid), "--enqueue-only", "--samples", "8"]
    result = run_without(["ingest", *INGEST_STACK], args, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "Error" not in result.stdout + result.stderr
    assert "grid lean: 1 run queued, 0 already known" in result.stdout
    listed = run_without(["ingest", *INGEST_STACK], ["runs", "--json"], tmp_path)
    runs = [(run["status"], run["grid"], run["arch"]) for run in json.loads(listed.stdout)]
    assert runs == [("queued", "lean", "resnet19")]


def test_training_a_grid_without_the_ingest_extra_stops_before_queueing(tmp_path: Path) -> None:
    grid = write_grid(tmp_path, "lean", variants=["original"])
    result = run_without(INGEST_STACK, ["ingest", "--run-grid", str(grid), "--samples", "8"], tmp_path)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, result.stdout + result.stderr
    assert "needs the 'ingest' extra" in lines[0] and "pip install 'zoo[ingest]'" in lines[0]
    assert json.loads(run_without(INGEST_STACK, ["runs", "--json"], tmp_path).stdout) == []


# The ingest, serve and postgres stacks: what `pip install zoo` (no extras) does not bring.
NOT_IN_THE_CORE = sorted({module for modules in EXTRAS.values() for module in modules} | {"torchvision"})


def test_query_fit_sql_and_report_run_with_the_core_install_alone(tmp_path: Path) -> None:
    """``pip install zoo`` without extras reads a catalog: query, fit, sql and report, with torch, timm,
    safetensors, huggingface_hub, starlette, jinja2, uvicorn and psycopg unimportable."""
    from synthetic_catalog import BASES, build_catalog
    from zoo.catalog import Catalog

    assert {"torch", "timm", "safetensors", "huggingface_hub", "starlette", "jinja2", "uvicorn", "psycopg"} <= set(
        NOT_IN_THE_CORE
    )
    home = tmp_path / "home"  # run_without's ZOO_HOME: the default catalog and artifact store live there
    home.mkdir()
    with Catalog.open(f"sqlite:///{home / 'catalog.db'}", artifacts=str(home / "artifacts")) as catalog:
        build_catalog(catalog, archs=("resnet18", "resnet50"), n_variants=4, trials=2, epochs=3, n_external=0)
    commands = {
        "query": ["query", "--arch", "resnet18"],
        "fit": [
            "fit",
            "--target",
            "sharpness",
            "--train-arch",
            "resnet50",
            "--test-arch",
            "resnet18",
            "--trees",
            "3",
            "--repeats",
            "1",
        ],
        "sql": ["sql", "SELECT arch, count(*) AS n FROM checkpoints GROUP BY arch ORDER BY arch"],
        "report": ["report", "--out", str(tmp_path / "report"), "--trees", "3", "--repeats", "1"],
    }
    outputs = {}
    for name, args in commands.items():
        result = run_without(NOT_IN_THE_CORE, args, tmp_path)
        assert result.returncode == 0, f"zoo {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr, result.stderr
        outputs[name] = result.stdout + result.stderr
    flat = {name: " ".join(output.split()) for name, output in outputs.items()}  # rich wraps to the width
    assert "by arch: resnet18 24" in flat["query"] and "resnet50" not in flat["query"]
    assert "train: arch=resnet50 → 16 checkpoints; test: arch=resnet18 → 16" in flat["fit"]
    assert "test R² = " in flat["fit"]
    assert [line.split() for line in outputs["sql"].splitlines() if "resnet" in line] == [
        ["│", "resnet18", "│", "24", "│"],  # 4 variants x 2 trials x epochs 0..2
        ["│", "resnet50", "│", "24", "│"],
    ]
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["rows"][0]["r2_mean"] is not None and saved["noise"] == dict.fromkeys(BASES, "per-step")
    written = {p.name for p in (tmp_path / "report").iterdir()}
    assert "report.md" in written and any(name.startswith("fig4-") for name in written)
