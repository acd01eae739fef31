"""Queue semantics in-process, on SQLite and Postgres: claims, fencing, per-claim grace, stale re-queue,
frozen lock holders, retries, and a worker that survives a failing run."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select, update

from clirunner import run_zoo
from gridfiles import write_grid
from zoo import queue
from zoo.catalog import Catalog
from zoo.checkpoints import ReferenceInfo, put_reference
from zoo.datasets import get_dataset, get_variant
from zoo.db.models import Run
from zoo.enqueue import enqueue_grid
from zoo.errors import InvalidInput, NotFound
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
    extended = load_grid(
        write_grid(
            tmp_path, archs=["resnet18", "mobilenetv3_large_100"], variants=("original", "blur-k7-s2", "noise-0.5")
        )
    )
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
        session.execute(
            update(Run).where(Run.id == first.id).values(heartbeat_at=datetime.now(UTC) - timedelta(hours=1))
        )
    second = queue.claim_next(catalog, "fresh-worker", grace_s=60)
    assert second is not None and second.id == first.id and second.claim_token != first.claim_token
    assert second.attempts == 2
    assert not queue.heartbeat(catalog, first)
    wrote: list[str] = []
    with pytest.raises(queue.ClaimLost):
        queue.complete(
            catalog, first, lambda session: wrote.append("rows"), device="cpu", train_seconds=1, images_per_second=1
        )
    assert wrote == []
    assert queue.get_run(catalog, first.id).status == "running"  # still the fresh worker's
    queue.fail(catalog, first, "late failure")  # fenced too: changes nothing
    assert queue.get_run(catalog, first.id).error is None


def test_a_stale_run_out_of_attempts_is_marked_failed(catalog: Catalog, queued) -> None:  # type: ignore[no-untyped-def]
    run = queue.claim_next(catalog, "w")
    with catalog.session(write=True) as session:
        session.execute(
            update(Run).where(Run.id == run.id).values(attempts=3, heartbeat_at=datetime.now(UTC) - timedelta(hours=1))
        )
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


def test_completion_stores_the_reference_the_results_were_measured_from(catalog: Catalog, queued) -> None:  # type: ignore[no-untyped-def]
    run = queue.claim_next(catalog, "w")
    assert queue.get_run(catalog, run.id).reference_id is None
    info = ReferenceInfo(
        key="random:resnet18:0", kind="random", arch="resnet18", source="timm", layer_name="conv1.weight", seed=0
    )
    queue.complete(
        catalog,
        run,
        lambda session: put_reference(session, info, np.ones((4, 3, 3, 3), np.float32)),
        device="cpu",
        train_seconds=1,
        images_per_second=1,
    )
    done = queue.get_run(catalog, run.id)
    assert done.status == "done" and done.reference_id is not None
    other = queue.claim_next(catalog, "w")
    queue.complete(catalog, other, lambda session: None, device="cpu", train_seconds=1, images_per_second=1)
    assert queue.get_run(catalog, other.id).reference_id is None  # nothing returned, nothing stored


def test_a_run_finds_its_variant_and_dataset_as_records(catalog: Catalog, queued) -> None:  # type: ignore[no-untyped-def]
    run = queue.claim_next(catalog, "w")
    dataset, variant = get_variant(catalog, run.variant_id)
    assert variant.id == run.variant_id and variant in dataset.variants
    assert get_dataset(catalog, dataset.name) == dataset
    with pytest.raises(NotFound, match="no dataset variant with id 9999"):
        get_variant(catalog, 9999)


def _age_heartbeat(catalog: Catalog, run_id: int, seconds: float) -> None:
    with catalog.session(write=True) as session:
        session.execute(
            update(Run).where(Run.id == run_id).values(heartbeat_at=datetime.now(UTC) - timedelta(seconds=seconds))
        )


def _claim_terms(catalog: Catalog, run_id: int) -> tuple[float | None, float | None, str | None]:
    with catalog.session() as session:
        run = session.get(Run, run_id)
        return run.claim_grace_s, run.claim_heartbeat_s, run.claim_process


def test_a_claim_stores_its_workers_grace_heartbeat_and_process(catalog: Catalog, queued) -> None:  # type: ignore[no-untyped-def]
    default = queue.claim_next(catalog, "default")
    quick = queue.claim_next(catalog, "quick", grace_s=8, heartbeat_s=1)
    assert _claim_terms(catalog, default.id) == (300.0, 75.0, str(queue.current_process()))
    assert _claim_terms(catalog, quick.id)[:2] == (8.0, 1.0)


def test_a_short_grace_worker_does_not_take_a_healthy_default_workers_run(catalog: Catalog, queued) -> None:  # type: ignore[no-untyped-def]
    healthy = queue.claim_next(catalog, "default-worker")  # grace 300 s, heartbeat every 75 s
    _age_heartbeat(catalog, healthy.id, 10)
    impatient = queue.claim_next(catalog, "impatient", grace_s=5)
    assert impatient is not None and impatient.id != healthy.id
    record = queue.get_run(catalog, healthy.id)
    assert (record.status, record.worker, record.attempts, record.claim_token) == (
        "running",
        "default-worker",
        1,
        healthy.claim_token,
    )
    assert queue.heartbeat(catalog, healthy)


def test_a_run_whose_own_short_grace_elapsed_is_requeued_by_a_default_worker(catalog: Catalog, queued) -> None:  # type: ignore[no-untyped-def]
    quick = queue.claim_next(catalog, "quick", grace_s=5)
    _age_heartbeat(catalog, quick.id, 10)
    patient = queue.claim_next(catalog, "patient")  # its own grace is 300 s, but the claim said 5
    assert patient is not None and patient.id == quick.id and patient.attempts == 2
    assert not queue.heartbeat(catalog, quick)


def test_claims_from_before_the_grace_column_are_judged_by_the_default_grace(catalog: Catalog, queued) -> None:  # type: ignore[no-untyped-def]
    old = queue.claim_next(catalog, "old-zoo")
    with catalog.session(write=True) as session:
        session.execute(
            update(Run).where(Run.id == old.id).values(claim_grace_s=None, claim_heartbeat_s=None, claim_process=None)
        )
    _age_heartbeat(catalog, old.id, 200)
    assert queue.claim_next(catalog, "quick", grace_s=5).id != old.id
    _age_heartbeat(catalog, old.id, 400)
    assert queue.claim_next(catalog, "quick", grace_s=5).id == old.id


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan")])
def test_a_grace_that_is_not_a_positive_number_is_refused(catalog: Catalog, queued, bad: float) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="grace_s must be a positive number of seconds, e.g. grace_s=300") as refused:
        queue.claim_next(catalog, "w", grace_s=bad)
    assert refused.value.param == "grace_s"  # the CLI writes it as --grace
    assert queue.status_counts(catalog)["running"] == 0


def test_grace_errors_are_one_line_in_the_cli(zoo_env) -> None:  # type: ignore[no-untyped-def]
    for command in (["worker", "--grace", "0"], ["ingest", "--run-grid", "tiny", "--grace", "-5"]):
        result = run_zoo(*command, expect=1)
        assert "--grace must be a positive number" in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_a_device_that_cannot_be_used_names_the_parameter_and_the_flag(zoo_env) -> None:  # type: ignore[no-untyped-def]
    import torch

    from ingest.train import pick_device

    with pytest.raises(InvalidInput) as unknown:
        pick_device("gpu0")
    assert (str(unknown.value), unknown.value.param) == ("unknown device 'gpu0'; use cpu, cuda or cuda:N", "device")
    if torch.cuda.is_available():
        return  # the rest is about a machine without a GPU
    with pytest.raises(InvalidInput) as missing:
        pick_device("cuda")
    assert str(missing.value) == "device=cuda was asked for but no CUDA GPU is available"
    lines = run_zoo("worker", "--device", "cuda:1", expect=1).output.strip().splitlines()
    assert lines[-1] == "Error: --device cuda:1 was asked for but no CUDA GPU is available"


def _finished_pid() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def test_a_run_of_a_dead_worker_in_this_pid_namespace_is_requeued_without_waiting(catalog: Catalog, queued) -> None:  # type: ignore[no-untyped-def]
    here = queue.current_process()
    dead = queue.claim_next(catalog, "dead", process=replace(here, pid=_finished_pid()))
    again = queue.claim_next(catalog, "next", grace_s=3600)
    assert again is not None and again.id == dead.id and again.attempts == 2
    alive = queue.claim_next(catalog, "alive")  # this very process: alive
    queue.claim_next(catalog, "another", grace_s=3600)
    assert queue.get_run(catalog, alive.id).worker == "alive"


@pytest.mark.parametrize("elsewhere", ["pid namespace", "boot", "host"])
def test_a_same_named_worker_in_another_container_or_boot_is_judged_by_its_heartbeat(
    catalog: Catalog, queued, elsewhere: str
) -> None:  # type: ignore[no-untyped-def]
    """A container sharing this host name but not its PID namespace: its pid means nothing here."""
    here, pid = queue.current_process(), _finished_pid()
    forged = {
        "pid namespace": replace(here, pid=pid, pid_namespace="pid:[4026599999]"),
        "boot": replace(here, pid=pid, boot_id="00000000-0000-4000-8000-000000000000"),
        "host": replace(here, pid=pid, host="other-host"),
    }[elsewhere]
    theirs = queue.claim_next(catalog, f"{socket.gethostname()}:{pid}", process=forged)  # the old host:pid name
    mine = queue.claim_next(catalog, "next", grace_s=3600)
    assert mine is not None and mine.id != theirs.id
    assert queue.get_run(catalog, theirs.id).status == "running"
    _age_heartbeat(catalog, theirs.id, 301)  # the heartbeat still decides
    assert queue.claim_next(catalog, "next").id == theirs.id


def test_process_identity_reads_boot_id_and_pid_namespace() -> None:
    here = queue.current_process()
    assert queue.ProcessIdentity.parse(str(here)) == here
    assert queue.ProcessIdentity.parse("host:123") is None and queue.ProcessIdentity.parse(None) is None
    if sys.platform.startswith("linux"):
        assert here.boot_id and here.pid_namespace.startswith("pid:[")
        assert here.shares_pids_with(replace(here, pid=1))
        assert not replace(here, boot_id="").shares_pids_with(replace(here, boot_id=""))  # unknown: no shortcut


# A worker frozen inside a transaction (SIGSTOP, a debugger, a hung NFS read) keeps its row locks. On
# Postgres the queue skips those rows and waits on none for long; on SQLite writers serialise on BEGIN
# IMMEDIATE (documented in zoo.queue), so this is a Postgres test.


@pytest.fixture
def pg_queue(postgres_url: str, tmp_path):  # type: ignore[no-untyped-def]
    catalog = Catalog.open(postgres_url, artifacts=str(tmp_path / "artifacts"))
    grid = load_grid(write_grid(tmp_path, archs=["resnet18", "mobilenetv3_large_100"]))
    enqueue_grid(catalog, grid, n_samples=8)
    yield catalog
    catalog.close()


def _within(seconds: float, call):  # type: ignore[no-untyped-def]
    """Run ``call`` in a thread; its result, or AssertionError if it is still waiting after ``seconds``."""
    done: list[object] = []
    thread = threading.Thread(target=lambda: done.append(_outcome(call)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert done, f"still blocked after {seconds} s"
    if isinstance(done[0], BaseException):
        raise done[0]
    return done[0]


def _outcome(call):  # type: ignore[no-untyped-def]
    try:
        return call()
    except Exception as error:  # handed to the test thread
        return error


@contextmanager
def _frozen_worker(catalog: Catalog, run_id: int):  # type: ignore[no-untyped-def]
    """Another connection that holds run ``run_id``'s row lock until the block ends."""
    connection = catalog.engine.connect()
    transaction = connection.begin()
    try:
        connection.execute(select(Run.id).where(Run.id == run_id).with_for_update()).one()
        yield
    finally:
        transaction.rollback()
        connection.close()


def test_a_frozen_worker_holding_its_stale_runs_lock_does_not_stall_other_workers(pg_queue: Catalog) -> None:
    frozen = queue.claim_next(pg_queue, "frozen")
    _age_heartbeat(pg_queue, frozen.id, 3600)  # stale: every scan wants it, but it cannot be locked
    with _frozen_worker(pg_queue, frozen.id):
        claimed = [
            _within(10, lambda name=name: queue.claim_next(pg_queue, name, grace_s=60)) for name in ("w1", "w2", "w3")
        ]
        assert [c.id for c in claimed] == sorted({c.id for c in claimed}) and frozen.id not in [c.id for c in claimed]
        with pg_queue.session(write=True) as session:
            assert _within(10, lambda: queue.requeue_stale(session)) == 0
        assert _within(10, lambda: queue.claim_next(pg_queue, "w4")) is None  # nothing else is queued
    assert queue.get_run(pg_queue, frozen.id).status == "running"
    assert queue.claim_next(pg_queue, "later").id == frozen.id  # once released, the stale run is taken


def test_a_row_lock_held_too_long_ends_in_a_clear_error(pg_queue: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue, "LOCK_TIMEOUT_S", 0.2)
    run = queue.claim_next(pg_queue, "w")
    with _frozen_worker(pg_queue, run.id):
        with pytest.raises(queue.QueueBusy, match="locked by another transaction"):
            _within(10, lambda: queue.heartbeat(pg_queue, run))
        with pytest.raises(queue.QueueBusy, match=f"run {run.id}"):
            _within(10, lambda: queue.fail(pg_queue, run, "boom"))
    assert queue.heartbeat(pg_queue, run)


# A run that raises anything must not take its worker down (zoo worker / zoo ingest share work()).


def _explode_on_run(monkeypatch: pytest.MonkeyPatch, run_id: int, error: BaseException) -> None:
    from ingest import worker

    current: list[int] = []
    real_inputs, real_trainer = worker._run_inputs, worker.Trainer

    def recording_inputs(catalog, run):  # type: ignore[no-untyped-def]
        current[:] = [run.id]
        return real_inputs(catalog, run)

    def trainer(*args, **kwargs):  # type: ignore[no-untyped-def]
        if current == [run_id]:
            raise error
        return real_trainer(*args, **kwargs)

    monkeypatch.setattr(worker, "_run_inputs", recording_inputs)
    monkeypatch.setattr(worker, "Trainer", trainer)


def test_a_run_raising_an_unexpected_exception_is_recorded_and_the_worker_goes_on(
    zoo_env, catalog: Catalog, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    grid = write_grid(tmp_path, epochs=1, steps_per_epoch=1)
    run_zoo("ingest", "--run-grid", str(grid), "--enqueue-only", "--samples", "8")
    _explode_on_run(monkeypatch, 1, AssertionError("Input height (16) doesn't match model (224)."))
    result = run_zoo("worker", "--quiet")
    assert "done 1, failed 1, retried 2" in result.output
    failed, done = queue.get_run(catalog, 1), queue.get_run(catalog, 2)
    assert (failed.status, failed.attempts, failed.claim_token) == ("failed", 3, None)
    assert failed.error.startswith("AssertionError: Input height (16) doesn't match model (224).")
    assert "test_run_queue.py" in failed.error  # the traceback's last frames
    assert done.status == "done"


def test_keyboard_interrupt_still_stops_the_worker_and_gives_the_run_back(
    catalog: Catalog, queued, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from ingest.worker import WorkerOptions, work

    _explode_on_run(monkeypatch, 1, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        work(catalog, WorkerOptions(name="w"))
    record = queue.get_run(catalog, 1)
    assert (record.status, record.attempts, record.error) == ("queued", 0, "interrupted; re-queued")


def test_an_unknown_architecture_queued_unchecked_fails_its_run_naming_it(catalog: Catalog, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """zoo ingest --enqueue-only without the ingest extra queues names unchecked; the worker says per run."""
    from ingest.worker import WorkerOptions, work

    grid = load_grid(write_grid(tmp_path, archs=["resnet19"], variants=("original",), max_attempts=1))
    enqueue_grid(catalog, grid, n_samples=8)
    summary = work(catalog, WorkerOptions(name="w"))
    assert (summary.done, summary.failed) == (0, 1)
    failed = queue.get_run(catalog, 1)
    assert failed.status == "failed"
    assert failed.error.startswith("NotFound: timm has no architecture 'resnet19'; did you mean resnet18")
