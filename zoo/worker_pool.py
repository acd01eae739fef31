"""Worker processes on this machine: ``zoo ingest --run-grid GRID --workers N`` starts N ``zoo worker``
processes for one grid and watches the queue from the database until they have drained it.

The pool owns the processes and their signals: SIGTERM to this process (or Ctrl-C, which the children get
from the terminal too) is forwarded to every worker as SIGTERM, and each puts its current run back in the
queue. Workers × torch threads never exceed the cores: each worker gets ``cores // workers`` threads.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from zoo import queue
from zoo.catalog import Catalog
from zoo.records import RunRecord

POLL_S = 1.0


def threads_per_worker(workers: int) -> int:
    """Torch threads for each of ``workers`` processes, so that workers × threads ≤ cores."""
    return max(1, (os.cpu_count() or 1) // workers)


@dataclass(frozen=True)
class PoolResult:
    counts: dict[str, int]  # the grid's runs by status when the pool ended
    stopped: bool  # SIGTERM reached the pool: the workers were stopped, their runs re-queued


def worker_command(
    grid_id: int, grace: float, *, device: str | None = None, db: str | None = None, artifacts: str | None = None
) -> list[str]:
    """The ``zoo worker`` command line of one pool worker (quiet: the pool reports progress)."""
    command = [sys.executable, "-m", "zoo"]
    if db:
        command += ["--db", db]
    if artifacts:
        command += ["--artifacts", artifacts]
    command += ["worker", "--grid-id", str(grid_id), "--grace", str(grace), "--quiet", "--no-summary"]
    return command + (["--device", device] if device else [])


def run_worker_pool(
    catalog: Catalog,
    count: int,
    grid_id: int,
    grace: float,
    *,
    device: str | None = None,
    db: str | None = None,
    artifacts: str | None = None,
    on_progress: Callable[[dict[str, int], RunRecord | None], None] | None = None,
) -> PoolResult:
    """Start ``count`` workers for grid ``grid_id`` and wait until all have exited.

    ``on_progress(counts, last_done)`` is called about once a second with the grid's runs by status and the
    last finished run. A KeyboardInterrupt stops the workers and propagates.
    """
    env = {**os.environ, "OMP_NUM_THREADS": str(threads_per_worker(count))}
    command = worker_command(grid_id, grace, device=device, db=db, artifacts=artifacts)
    children = [subprocess.Popen(command, env=env) for _ in range(count)]
    stopped: list[bool] = []

    def stop_children(*_args: object) -> None:
        stopped.append(True)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, stop_children)
    try:
        while True:
            counts = queue.status_counts(catalog, grid_id)
            if on_progress is not None:
                on_progress(counts, queue.latest_done(catalog, grid_id))
            if all(child.poll() is not None for child in children):
                return PoolResult(counts, bool(stopped))
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        stop_children()  # they usually got the Ctrl-C too; make sure
        raise
    finally:
        for child in children:
            child.wait()
        signal.signal(signal.SIGTERM, previous)
