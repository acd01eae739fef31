"""Plain progress lines where stderr is not a terminal (a log file, a CI log, a cluster job's output)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.progress import Progress

from clirunner import run_zoo
from zoo.catalog import Catalog
from zoo.cli.progress import PlainProgress, RunProgress, make_progress
from zoo.metamodel import evaluate_generalization
from zoo.metamodel.evaluate import POOLED_AXIS
from zoo.report import MATRIX_TARGETS, build_report


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _log() -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    return Console(file=stream, width=80), stream


def test_a_non_terminal_gets_plain_lines_and_a_terminal_gets_rich_bars() -> None:
    console, _ = _log()
    assert isinstance(make_progress(console), PlainProgress)
    terminal = make_progress(Console(file=io.StringIO(), force_terminal=True))
    assert isinstance(terminal, Progress) and not isinstance(terminal, PlainProgress)


def test_a_line_at_each_tenth_with_done_total_rate_and_time_left() -> None:
    console, stream = _log()
    clock = Clock()
    progress = PlainProgress(console, clock=clock, tick_s=3600)
    with progress:
        task = progress.add_task("featurizing (paper-v1)", total=200, info="")
        for _ in range(200):
            clock.now += 0.5
            progress.advance(task)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "featurizing (paper-v1): 0/200 (0%)  0s elapsed"
    assert len(lines) == 11  # the start, then 10%, 20%, ... 100%
    assert lines[1] == "featurizing (paper-v1): 20/200 (10%)  2.0/s  1m30s left  10s elapsed"
    assert lines[-1].startswith("featurizing (paper-v1): 200/200 (100%)  2.0/s  1m40s elapsed")
    assert "\x1b" not in stream.getvalue()  # no terminal control codes in a log


def test_a_line_every_interval_while_a_slow_task_makes_progress() -> None:
    console, stream = _log()
    clock = Clock()
    progress = PlainProgress(console, clock=clock, interval_s=15, tick_s=3600)
    with progress:
        task = progress.add_task("runs", total=1000, info="")
        for _ in range(6):  # 60 s, 6 runs: far from the next tenth
            clock.now += 10
            progress.advance(task)
            progress.poll()
    lines = stream.getvalue().splitlines()
    assert [line.split("  ")[0] for line in lines] == [
        "runs: 0/1000 (0%)",
        "runs: 2/1000 (0%)",
        "runs: 4/1000 (0%)",
        "runs: 6/1000 (1%)",
    ]
    assert "6.0/min" in lines[-1] and "2h45m left" in lines[-1]


def test_the_ticker_prints_while_nothing_reports() -> None:
    console, stream = _log()
    progress = PlainProgress(console, interval_s=0.05, tick_s=0.01)
    with progress:
        progress.add_task("measuring natural-32", total=20, info="")
        deadline = time.monotonic() + 10
        while stream.getvalue().count("\n") < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert stream.getvalue().count("measuring natural-32: 0/20 (0%)") >= 3


def test_runs_lines_show_outcomes_and_the_current_run_without_lines_of_its_own() -> None:
    console, stream = _log()
    clock = Clock()
    progress = PlainProgress(console, clock=clock, interval_s=15, tick_s=3600)
    with progress:
        runs = RunProgress(progress, 4)
        for index, status in enumerate(("done", "failed", "done", "done", "done")):
            runs.run_started(None, f"resnet18 blur-{index}", 8)
            for step in range(1, 9):
                clock.now += 1
                runs.step(1, step, 2.25, 40.0)
                progress.poll()
            runs.run_finished(None, status, "")
    text = stream.getvalue()
    assert "runs: 4/4 (100%)" in text and "done 4  failed 1" in text
    assert "| now: resnet18 blur-2 epoch 1  loss 2.250  40 img/s" in text  # the 15 s line names the current run
    assert not any(line.startswith("resnet18") for line in text.splitlines())


# --- the library's progress callbacks and the commands' lines in a log ---------------------------------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Catalog, dict[str, str]]]:
    """A small synthetic SQLite catalog (trained checkpoints with metrics) and the environment naming it."""
    from synthetic_catalog import build_catalog

    folder = tmp_path_factory.mktemp("progress")
    url = f"sqlite:///{folder / 'catalog.db'}"
    catalog = Catalog.open(url, artifacts=str(folder / "artifacts"))
    build_catalog(catalog, n_variants=4, trials=1, epochs=2)
    yield (
        catalog,
        {"ZOO_DATABASE_URL": url, "ZOO_ARTIFACTS": str(folder / "artifacts"), "ZOO_HOME": str(folder / "home")},
    )
    catalog.close()


@pytest.fixture
def synthetic_env(synthetic: tuple[Catalog, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> Catalog:
    for key, value in synthetic[1].items():
        monkeypatch.setenv(key, value)
    return synthetic[0]


def _fitted_cells(matrix: Any) -> int:
    return sum(cell.axis != POOLED_AXIS or cell.held_out.startswith("fold") for cell in matrix.cells)


def test_evaluate_generalization_reports_each_cell(synthetic) -> None:
    calls: list[tuple[int, int]] = []
    matrix = evaluate_generalization(
        synthetic[0], "sharpness", n_estimators=3, repeats=1, on_progress=lambda d, t: calls.append((d, t))
    )
    cells = _fitted_cells(matrix)
    assert cells >= 4 and calls == [(done, cells) for done in range(cells + 1)]  # 0/N first, then one call per cell


def test_build_report_counts_table_rows_then_matrix_cells(synthetic) -> None:
    calls: list[tuple[int, int]] = []
    report = build_report(
        synthetic[0], repeats=1, n_estimators=3, store=False, on_progress=lambda d, t: calls.append((d, t))
    )
    assert calls[0] == (0, len(report.rows) + len(MATRIX_TARGETS))  # each matrix counts one until its cells are known
    total = len(report.rows) + sum(_fitted_cells(m) for m in report.matrices) + len(report.matrix_notes)
    assert calls[-1] == (total, total) and len(report.matrices) == 2
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))  # done never goes back
    assert all(done <= of for done, of in calls)
    assert len(calls) > len(report.rows) + 2  # cells report one by one


def _progress_lines(stderr: str, description: str) -> list[str]:
    assert "\x1b" not in stderr  # plain text: stderr is not a terminal here
    return [line for line in stderr.splitlines() if line.startswith(description + ": ")]


def test_zoo_evaluate_prints_progress_lines_off_a_terminal(synthetic_env) -> None:
    result = run_zoo("evaluate", "--target", "sharpness", "--trees", "3", "--repeats", "1", "--json")
    cells = _fitted_cells(evaluate_generalization(synthetic_env, "sharpness", n_estimators=3, repeats=1))
    lines = _progress_lines(result.stderr, "generalization matrix of sharpness: cells")
    assert json.loads(result.stdout)["target"] == "sharpness"  # stdout stays JSON
    assert lines[0].startswith("generalization matrix of sharpness: cells: 0 done") or lines[0].startswith(
        f"generalization matrix of sharpness: cells: 0/{cells} "
    )
    assert lines[-1].startswith(f"generalization matrix of sharpness: cells: {cells}/{cells} (100%)")
    assert len(lines) >= 5  # the start, tenths along the way, the end


def test_zoo_report_prints_progress_lines_off_a_terminal(synthetic_env, tmp_path: Path) -> None:
    result = run_zoo("report", "--out", str(tmp_path / "report"), "--repeats", "1", "--trees", "3")
    lines = _progress_lines(result.stderr, "report: Table 1 fits, generalization-matrix cells, predictors")
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert len(lines) >= 5, result.stderr  # the start, tenths along the way, the end
    # Table 1 rows, one step per matrix until its cells are known, one per predictor (sharpness, noisiness)
    assert f"0/{len(report['rows']) + 2 + 2} (0%)" in "\n".join(lines)
    assert [p["target"] for p in report["predictors"]] == ["sharpness", "noisiness"]
    assert (
        "(100%)" in lines[-1]
        and "finished" in lines[-1]
        and lines[-1].endswith(f"wrote {len(list((tmp_path / 'report').iterdir()))} files")
    )
    assert "Table 1" in result.stdout


def test_ingest_run_grid_prints_a_line_per_dataset_off_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gridfiles import write_grid

    monkeypatch.setenv("ZOO_DATABASE_URL", f"sqlite:///{tmp_path / 'catalog.db'}")
    monkeypatch.setenv("ZOO_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    grid = write_grid(tmp_path, variants=("original",))
    second = grid.read_text().split("[[datasets]]")[1].replace('name = "natural-16"', 'name = "natural-16b"')
    grid.write_text(grid.read_text() + "\n[[datasets]]" + second)
    result = run_zoo("ingest", "--run-grid", str(grid), "--enqueue-only", "--samples", "8")
    lines = _progress_lines(result.stderr, "registering and measuring the datasets of grid test")
    assert lines[0].startswith("registering and measuring the datasets of grid test: 0/2 (0%)")
    assert any(
        line.startswith("registering and measuring the datasets of grid test: 1/2 (50%)")
        and "dataset natural-16b" in line
        for line in lines
    ), lines
    assert lines[-1].startswith("registering and measuring the datasets of grid test: 2/2 (100%)") and lines[
        -1
    ].endswith("runs queued")
    assert "2 runs queued" in result.stdout


def test_datasets_measure_prints_a_line_per_variant_off_a_terminal(zoo_env) -> None:  # type: ignore[no-untyped-def]
    run_zoo(
        "datasets", "add", "natural-16", "--source", "natural", "--image-size", "16",
        "--param", "n_per_class=2", "--no-measure",
    )  # fmt: skip
    result = run_zoo("datasets", "measure", "natural-16", "--samples", "4")
    lines = _progress_lines(result.stderr, "measuring natural-16")
    assert lines[0].startswith("measuring natural-16: 0/20 (0%)"), lines
    assert any(line.startswith("measuring natural-16: 10/20 (50%)") for line in lines), lines  # each tenth
    assert lines[-1].startswith("measuring natural-16: 20/20 (100%)") and lines[-1].endswith("noise-1"), lines
    assert "natural-16: measured 20 variants" in result.stdout


def test_featurize_prints_progress_lines_off_a_terminal(synthetic_env, scratch_registries) -> None:  # type: ignore[no-untyped-def]
    from zoo.filters import FeatureSet, register_feature_set

    extra = register_feature_set(FeatureSet("roughness-progress", 1, ("spatial_roughness",)))
    result = run_zoo("featurize", "--feature-set", extra.key)
    done = int(result.stdout.split("computed ")[1].split()[0])
    lines = _progress_lines(result.stderr, f"featurizing ({extra.key})")
    assert done > 10 and lines[0].startswith(f"featurizing ({extra.key}): 0/{done} (0%)"), lines
    assert lines[-1].startswith(f"featurizing ({extra.key}): {done}/{done} (100%)"), lines  # chunks commit as they go
