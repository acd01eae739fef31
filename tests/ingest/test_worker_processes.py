"""Workers end to end, on SQLite and Postgres: a grid trained, many processes on one queue, crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from clirunner import run_zoo
from gridfiles import write_grid
from zoo import queue
from zoo.catalog import Catalog
from zoo.db.models import Checkpoint, MetricVector, Run
from zoo.sql import run_query

pytestmark = pytest.mark.slow
# Long enough (several seconds at 16 px, 4 steps an epoch) that a worker is still training when the test
# stops or kills it; checkpoints at epochs 0 and LONG_RUN_EPOCHS.
LONG_RUN_EPOCHS = 250


def _zoo_process(db_url: str, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "ZOO_DATABASE_URL": db_url, "ZOO_ARTIFACTS": str(tmp_path / "artifacts"),
           "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "zoo", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(condition, timeout: float = 120.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _checkpoints_per_run(catalog: Catalog) -> dict[int, int]:
    with catalog.session() as session:
        return dict(session.execute(select(Checkpoint.run_id, func.count()).group_by(Checkpoint.run_id)).all())


def test_a_2x2_grid_trains_end_to_end(zoo_env, catalog: Catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    grid = write_grid(tmp_path, archs=["resnet18", "mobilenetv3_large_100"])
    result = run_zoo("ingest", "--run-grid", str(grid), "--samples", "8")
    assert "4 runs queued" in result.output
    assert queue.status_counts(catalog) == {"queued": 0, "running": 0, "done": 4, "failed": 0}
    assert set(_checkpoints_per_run(catalog).values()) == {3}  # epochs 0, 1, 2
    rows = run_query(catalog, "SELECT epoch, spatial_roughness, laplacian_variance, sharpness, val_accuracy FROM checkpoint_features ORDER BY checkpoint_id").rows
    assert sorted({r[0] for r in rows}) == [0, 1, 2]
    trained = [r for r in rows if r[0] > 0]
    assert all(r[1] > 0 and r[2] > 0 for r in trained), "deltas after training must be non-zero"
    assert all(r[3] is not None and r[4] is not None for r in rows)
    with catalog.session() as session:
        assert session.scalar(select(func.count()).select_from(MetricVector)) == 12
    assert "4 already known" in run_zoo("ingest", "--run-grid", str(grid), "--samples", "8").output


def test_four_worker_processes_execute_every_run_exactly_once(zoo_env, catalog: Catalog, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    grid = write_grid(tmp_path, variants=("original", "blur-k7-s2", "noise-0.5", "resize-0.5"), trials=2, steps_per_epoch=1, epochs=1)
    run_zoo("ingest", "--run-grid", str(grid), "--enqueue-only", "--samples", "8")
    workers = [_zoo_process(db_url, tmp_path, "worker", "--quiet", "--name", f"w{i}") for i in range(4)]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    assert queue.status_counts(catalog)["done"] == 8
    with catalog.session() as session:
        attempts = session.scalars(select(Run.attempts)).all()
    assert attempts == [1] * 8, "every run was claimed exactly once"
    assert set(_checkpoints_per_run(catalog).values()) == {2}


def _running_run(catalog: Catalog) -> int | None:
    running = queue.list_runs(catalog, status="running")
    return running[0].id if running else None


def test_a_killed_worker_run_is_finished_by_another_with_one_set_of_checkpoints(zoo_env, catalog: Catalog, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    grid = write_grid(tmp_path, variants=("original",), epochs=LONG_RUN_EPOCHS, checkpoint_every=LONG_RUN_EPOCHS)
    run_zoo("ingest", "--run-grid", str(grid), "--enqueue-only", "--samples", "8")
    doomed = _zoo_process(db_url, tmp_path, "worker", "--quiet", "--grace", "2")
    _wait_for(lambda: _running_run(catalog) is not None, what="the first worker to claim the run")
    time.sleep(1.0)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    assert queue.status_counts(catalog)["running"] == 1  # abandoned mid-run
    rescuer = _zoo_process(db_url, tmp_path, "worker", "--quiet", "--grace", "2")
    assert rescuer.wait(timeout=300) == 0, rescuer.stdout.read()
    [run] = queue.list_runs(catalog)
    assert run.status == "done" and run.attempts == 2
    assert _checkpoints_per_run(catalog) == {run.id: 2}


def test_a_stale_worker_resumed_after_losing_its_claim_writes_nothing(zoo_env, catalog: Catalog, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    grid = write_grid(tmp_path, variants=("original",), epochs=LONG_RUN_EPOCHS, checkpoint_every=LONG_RUN_EPOCHS)
    run_zoo("ingest", "--run-grid", str(grid), "--enqueue-only", "--samples", "8")
    stale = _zoo_process(db_url, tmp_path, "worker", "--quiet", "--grace", "2", "--name", "stale")
    _wait_for(lambda: _running_run(catalog) is not None, what="the first worker to claim the run")
    time.sleep(1.0)
    stale.send_signal(signal.SIGSTOP)
    try:
        assert queue.status_counts(catalog)["running"] == 1, "the run finished before the worker was stopped"
        time.sleep(2.5)  # past the grace period: the claim is up for grabs
        rescuer = _zoo_process(db_url, tmp_path, "worker", "--quiet", "--grace", "2", "--name", "rescuer")
        assert rescuer.wait(timeout=300) == 0, rescuer.stdout.read()
    finally:
        stale.send_signal(signal.SIGCONT)
    output = stale.communicate(timeout=120)[0]
    assert stale.returncode == 0, output
    assert "lost 1" in output
    [run] = queue.list_runs(catalog)
    assert run.status == "done" and run.worker == "rescuer"
    assert _checkpoints_per_run(catalog) == {run.id: 2}


def test_sigterm_leaves_the_current_run_requeueable(zoo_env, catalog: Catalog, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    grid = write_grid(tmp_path, variants=("original",), epochs=LONG_RUN_EPOCHS, checkpoint_every=LONG_RUN_EPOCHS)
    run_zoo("ingest", "--run-grid", str(grid), "--enqueue-only", "--samples", "8")
    worker = _zoo_process(db_url, tmp_path, "worker", "--quiet")
    _wait_for(lambda: _running_run(catalog) is not None, what="the worker to claim the run")
    time.sleep(1.0)
    worker.send_signal(signal.SIGTERM)
    output = worker.communicate(timeout=120)[0]
    assert worker.returncode == 130, output
    [run] = queue.list_runs(catalog)
    assert run.status == "queued" and run.attempts == 0
    assert _checkpoints_per_run(catalog) == {}
