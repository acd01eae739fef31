"""Queue semantics in-process, on SQLite and Postgres: claims, fencing, stale re-queue, retries."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from gridfiles import write_grid
from ingest.grids import enqueue_grid
from zoo import queue
from zoo.catalog import Catalog
from zoo.db.models import Run
from zoo.grids import load_grid


@pytest.fixture
def queued(catalog: Catalog, tmp_path):  # type: ignore[no-untyped-def]
    grid = load_grid(write_grid(tmp_path, archs=["resnet18", "mobilenetv3_large_100"]))
    result = enqueue_grid(catalog, grid, n_samples=8)
    assert (result.added, result.existing) == (4, 0)
    return grid


def test_enqueueing_the_same_grid_twice_adds_nothing(catalog: Catalog, queued, tmp_path) -> None:  # type: ignore[no-untyped-def]
    again = enqueue_grid(catalog, queued, n_samples=8)
    assert (again.added, again.existing) == (0, 4)


def test_an_extended_grid_adds_only_the_new_runs(catalog: Catalog, queued, tmp_path) -> None:  # type: ignore[no-untyped-def]
    extended = load_grid(write_grid(tmp_path, archs=["resnet18", "mobilenetv3_large_100"], variants=("original", "blur-k7-s2", "noise-0.5")))
    result = enqueue_grid(catalog, extended, n_samples=8)
    assert (result.added, result.existing) == (2, 4)
    assert sum(queue.status_counts(catalog).values()) == 6


def test_each_claim_takes_a_different_run_until_none_is_left(catalog: Catalog, queued) -> None:  # type: ignore[no-untyped-def]
    claims = [queue.claim_next(catalog, f"w{i}") for i in range(5)]
    ids = [c.id for c in claims if c is not None]
    assert len(ids) == 4 and len(set(ids)) == 4 and claims[4] is None
    assert all(c.status == "running" and c.attempts == 1 for c in claims if c is not None)


def test_a_worker_that_lost_its_claim_writes_nothing(catalog: Catalog, queued) -> None:  # type: ignore[no-untyped-def]
    first = queue.claim_next(catalog, "slow-worker")
    assert first is not None
    with catalog.session(write=True) as session:  # its heartbeat went stale long ago
        session.execute(update(Run).where(Run.id == first.id).values(heartbeat_at=datetime.now(timezone.utc) - timedelta(hours=1)))
    second = queue.claim_next(catalog, "fresh-worker", grace_s=60)
    assert second is not None and second.id == first.id and second.claim_token != first.claim_token
    assert second.attempts == 2
    assert not queue.heartbeat(catalog, first)
    wrote: list[str] = []
    with pytest.raises(queue.ClaimLost):
        queue.complete(catalog, first, lambda session: wrote.append("rows"), device="cpu", train_seconds=1, images_per_second=1)
    assert wrote == []
    assert queue.get_run(catalog, first.id).status == "running"  # still the fresh worker's
    queue.fail(catalog, first, "late failure")  # fenced too: changes nothing
    assert queue.get_run(catalog, first.id).error is None


def test_a_stale_run_out_of_attempts_is_marked_failed(catalog: Catalog, queued) -> None:  # type: ignore[no-untyped-def]
    run = queue.claim_next(catalog, "w")
    with catalog.session(write=True) as session:
        session.execute(update(Run).where(Run.id == run.id).values(attempts=3, heartbeat_at=datetime.now(timezone.utc) - timedelta(hours=1)))
    queue.claim_next(catalog, "other", grace_s=60)
    record = queue.get_run(catalog, run.id)
    assert record.status == "failed" and "heartbeat" in record.error


def test_failures_retry_until_the_attempt_limit_then_fail(catalog: Catalog, queued) -> None:  # type: ignore[no-untyped-def]
    statuses = []
    for _ in range(3):
        run = queue.claim_next(catalog, "w", grid_id=None)
        while run is not None and run.id != 1:
            queue.release(catalog, run)
            run = queue.claim_next(catalog, "w")
        statuses.append(queue.fail(catalog, run, "boom"))
    assert statuses == ["queued", "queued", "failed"]
    assert queue.get_run(catalog, 1).error == "boom"
    assert queue.retry_failed(catalog) == 1
    assert queue.get_run(catalog, 1).status == "queued"


def test_release_requeues_without_counting_the_attempt(catalog: Catalog, queued) -> None:  # type: ignore[no-untyped-def]
    run = queue.claim_next(catalog, "w")
    queue.release(catalog, run)
    record = queue.get_run(catalog, run.id)
    assert record.status == "queued" and record.attempts == 0 and record.claim_token is None


def test_completion_writes_results_in_the_same_transaction(catalog: Catalog, queued) -> None:  # type: ignore[no-untyped-def]
    run = queue.claim_next(catalog, "w")

    def explode(session) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        queue.complete(catalog, run, explode, device="cpu", train_seconds=1, images_per_second=1)
    assert queue.get_run(catalog, run.id).status == "running"  # rolled back together


def test_a_run_of_a_dead_worker_on_this_host_is_requeued_without_waiting(catalog: Catalog, queued) -> None:  # type: ignore[no-untyped-def]
    import socket
    import subprocess

    finished = subprocess.Popen(["true"])
    finished.wait()
    dead = queue.claim_next(catalog, f"{socket.gethostname()}:{finished.pid}")
    again = queue.claim_next(catalog, "next", grace_s=3600)
    assert again is not None and again.id == dead.id and again.attempts == 2
    alive = queue.claim_next(catalog, queue.default_worker_name())  # this very process: alive
    queue.claim_next(catalog, "another", grace_s=3600)
    assert queue.get_run(catalog, alive.id).worker == queue.default_worker_name()
