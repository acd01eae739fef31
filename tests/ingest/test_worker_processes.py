"""Workers end to end, on SQLite and Postgres: a grid trained, many processes on one queue, crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from clirunner import run_zoo
from gridfiles import write_grid
from ingest.worker import HOLD_ENV
from zoo import queue
from zoo.catalog import Catalog
from zoo.db.models import Checkpoint, MetricVector, Run
from zoo.sql import run_query

pytestmark = pytest.mark.slow
# The bound on every wait: generous, for a loaded machine (a held run needs no more than process start-up
# and one training step, and a rescuer two short epochs).
WAIT_S = 300.0
_spawned: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_stray_workers():  # type: ignore[no-untyped-def]
    """A failed test leaves no worker process behind (stopped, held or training)."""
    yield
    while _spawned:
        process = _spawned.pop()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=WAIT_S)


def _zoo_process(db_url: str, tmp_path: Path, *args: str, hold: Path | None = None) -> subprocess.Popen[str]:
    """``zoo ARGS`` in a new process; with ``hold``, its runs stop after their first training step until
    ``hold``.release exists (the ZOO_TEST_HOLD_FILE hook), having written ``hold``.started."""
    env = {
        **os.environ,
        "ZOO_DATABASE_URL": db_url,
        "ZOO_ARTIFACTS": str(tmp_path / "artifacts"),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    env.pop(HOLD_ENV, None)
    if hold is not None:
        env[HOLD_ENV] = str(hold)
    process = subprocess.Popen(
        [sys.executable, "-m", "zoo", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    _spawned.append(process)
    return process


def _wait_for(
    condition, timeout: float = WAIT_S, what: str = "condition", process: subprocess.Popen[str] | None = None
) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the worker exited ({process.returncode}) before {what}:\n{process.stdout.read()}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _held_run(hold: Path, process: subprocess.Popen[str]) -> int:
    """Wait until the held worker is mid-training; its run id."""
    started = hold.with_name(hold.name + ".started")
    _wait_for(started.exists, what="the worker to start training", process=process)
    return int(started.read_text())


def _queue_one_run(tmp_path: Path) -> None:
    grid = write_grid(tmp_path, variants=("original",), epochs=2, checkpoint_every=2)  # checkpoints at epochs 0, 2
    run_zoo("ingest", "--run-grid", str(grid), "--enqueue-only", "--samples", "8")


def _checkpoints_per_run(catalog: Catalog) -> dict[int, int]:
    with catalog.session() as session:
        return dict(session.execute(select(Checkpoint.run_id, func.count()).group_by(Checkpoint.run_id)).all())


def _the_one_run(catalog: Catalog, run_id: int):  # type: ignore[no-untyped-def]
    assert sum(queue.status_counts(catalog).values()) == 1
    return queue.get_run(catalog, run_id)


def test_a_2x2_grid_trains_end_to_end(zoo_env, catalog: Catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    grid = write_grid(tmp_path, archs=["resnet18", "mobilenetv3_large_100"])
    result = run_zoo("ingest", "--run-grid", str(grid), "--samples", "8")
    assert "4 runs queued" in result.output
    assert queue.status_counts(catalog) == {"queued": 0, "running": 0, "done": 4, "failed": 0}
    assert set(_checkpoints_per_run(catalog).values()) == {3}  # epochs 0, 1, 2
    rows = run_query(
        catalog,
        "SELECT epoch, spatial_roughness, laplacian_variance, sharpness, val_accuracy FROM checkpoint_features ORDER BY checkpoint_id",
    ).rows
    assert sorted({r[0] for r in rows}) == [0, 1, 2]
    trained = [r for r in rows if r[0] > 0]
    assert all(r[1] > 0 and r[2] > 0 for r in trained), "deltas after training must be non-zero"
    assert all(r[3] is not None and r[4] is not None for r in rows)
    with catalog.session() as session:
        assert session.scalar(select(func.count()).select_from(MetricVector)) == 12
    assert "4 already known" in run_zoo("ingest", "--run-grid", str(grid), "--samples", "8").output


def test_four_worker_processes_execute_every_run_exactly_once(
    zoo_env, catalog: Catalog, db_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    grid = write_grid(
        tmp_path, variants=("original", "blur-k7-s2", "noise-0.5", "resize-0.5"), trials=2, steps_per_epoch=1, epochs=1
    )
    run_zoo("ingest", "--run-grid", str(grid), "--enqueue-only", "--samples", "8")
    workers = [_zoo_process(db_url, tmp_path, "worker", "--quiet", "--name", f"w{i}") for i in range(4)]
    outputs = [w.communicate(timeout=WAIT_S)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    assert queue.status_counts(catalog)["done"] == 8
    with catalog.session() as session:
        attempts = session.scalars(select(Run.attempts)).all()
    assert attempts == [1] * 8, "every run was claimed exactly once"
    assert set(_checkpoints_per_run(catalog).values()) == {2}


def _heartbeat_age(catalog: Catalog, run_id: int) -> float:
    with catalog.session() as session:
        beat = session.scalar(select(Run.heartbeat_at).where(Run.id == run_id))
    beat = beat if beat.tzinfo else beat.replace(tzinfo=UTC)
    return (datetime.now(UTC) - beat).total_seconds()


def test_a_killed_worker_run_is_finished_by_another_with_one_set_of_checkpoints(
    zoo_env, catalog: Catalog, db_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _queue_one_run(tmp_path)
    hold = tmp_path / "hold"
    doomed = _zoo_process(db_url, tmp_path, "worker", "--quiet", hold=hold)  # default grace: 300 s
    run_id = _held_run(hold, doomed)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=WAIT_S)
    assert queue.status_counts(catalog)["running"] == 1  # abandoned mid-run
    # A process of this PID namespace that no longer exists: re-queued at once, without waiting out its grace.
    rescuer = _zoo_process(db_url, tmp_path, "worker", "--quiet")
    assert rescuer.wait(timeout=WAIT_S) == 0, rescuer.stdout.read()
    run = _the_one_run(catalog, run_id)
    assert run.id == run_id and run.status == "done" and run.attempts == 2
    assert _checkpoints_per_run(catalog) == {run.id: 2}


def test_a_stale_worker_resumed_after_losing_its_claim_writes_nothing(
    zoo_env, catalog: Catalog, db_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _queue_one_run(tmp_path)
    hold = tmp_path / "hold"
    stale = _zoo_process(db_url, tmp_path, "worker", "--quiet", "--grace", "2", "--name", "stale", hold=hold)
    run_id = _held_run(hold, stale)
    stale.send_signal(signal.SIGSTOP)
    try:
        _wait_for(
            lambda: _heartbeat_age(catalog, run_id) > 2.5, what="the stopped worker's claim to outlive its 2 s grace"
        )
        rescuer = _zoo_process(
            db_url, tmp_path, "worker", "--quiet", "--name", "rescuer"
        )  # grace 300 s: judges by the claim's 2 s
        assert rescuer.wait(timeout=WAIT_S) == 0, rescuer.stdout.read()
    finally:
        stale.send_signal(signal.SIGCONT)
    output = stale.communicate(timeout=WAIT_S)[0]
    assert stale.returncode == 0, output
    assert "lost 1" in output
    run = _the_one_run(catalog, run_id)
    assert run.status == "done" and run.worker == "rescuer" and run.attempts == 2
    assert _checkpoints_per_run(catalog) == {run.id: 2}


def test_sigterm_leaves_the_current_run_requeueable(zoo_env, catalog: Catalog, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _queue_one_run(tmp_path)
    hold = tmp_path / "hold"
    worker = _zoo_process(db_url, tmp_path, "worker", "--quiet", hold=hold)
    run_id = _held_run(hold, worker)
    worker.send_signal(signal.SIGTERM)
    output = worker.communicate(timeout=WAIT_S)[0]
    assert worker.returncode == 130, output
    run = _the_one_run(catalog, run_id)
    assert run.status == "queued" and run.attempts == 0
    assert _checkpoints_per_run(catalog) == {}


def test_a_held_run_goes_on_once_released(zoo_env, catalog: Catalog, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The hook itself: the run waits mid-training (still heartbeating) until the release file appears."""
    _queue_one_run(tmp_path)
    hold = tmp_path / "hold"
    worker = _zoo_process(db_url, tmp_path, "worker", "--quiet", "--grace", "2", hold=hold)
    run_id = _held_run(hold, worker)
    _wait_for(lambda: _heartbeat_age(catalog, run_id) < 1.0, what="a heartbeat from the held worker", process=worker)
    assert queue.get_run(catalog, run_id).status == "running" and _checkpoints_per_run(catalog) == {}
    hold.with_name(hold.name + ".release").touch()
    assert worker.wait(timeout=WAIT_S) == 0, worker.stdout.read()
    assert queue.get_run(catalog, run_id).status == "done" and _checkpoints_per_run(catalog) == {run_id: 2}


def test_a_worker_pool_forwards_sigterm_and_its_run_goes_back_to_the_queue(  # type: ignore[no-untyped-def]
    zoo_env, catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``zoo ingest --workers N``'s pool: SIGTERM to the pool reaches the held worker, which re-queues its run."""
    from zoo.run_stats import list_grids
    from zoo.worker_pool import run_worker_pool

    _queue_one_run(tmp_path)
    hold = tmp_path / "hold"
    monkeypatch.setenv(HOLD_ENV, str(hold))
    started = hold.with_name(hold.name + ".started")
    seen: list[dict[str, int]] = []
    signalled: list[bool] = []
    deadline = time.monotonic() + WAIT_S

    def on_progress(counts: dict[str, int], _last: object) -> None:
        seen.append(counts)
        if started.exists() and not signalled:
            signalled.append(True)
            os.kill(os.getpid(), signal.SIGTERM)  # as a scheduler stopping `zoo ingest --workers N` would
        assert time.monotonic() < deadline, "the pool's worker never held its run"

    result = run_worker_pool(catalog, 1, list_grids(catalog)[0].id, 300.0, on_progress=on_progress)
    assert result.stopped and result.counts["queued"] == 1 and result.counts["done"] == 0
    assert any(c.get("running") == 1 for c in seen)  # the progress callback saw the run in training
    assert _checkpoints_per_run(catalog) == {}
