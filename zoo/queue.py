"""The run queue, shared by any number of workers through the catalog database.

Claims take one queued row under a lock (Postgres ``FOR UPDATE SKIP LOCKED``; SQLite ``BEGIN IMMEDIATE``,
which serialises writers). A claim carries a random token; heartbeats, completion and failure are fenced
on it, so a worker that lost its claim (its heartbeat went stale and the run was re-queued) writes nothing.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from zoo.catalog import Catalog
from zoo.db.models import RUN_STATUSES, Grid, Run
from zoo.errors import InvalidInput, ZooError
from zoo.grids import GridSpec, RunSpec
from zoo.records import RunRecord, from_row

DEFAULT_GRACE_S = 300.0


class ClaimLost(ZooError):
    """This worker's claim on a run was taken away (stale heartbeat); its results were not written."""


@dataclass(frozen=True)
class EnqueueResult:
    grid_id: int
    added: int
    existing: int


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _record(run: Run) -> RunRecord:
    return from_row(RunRecord, run)


def _upsert_grid(session: Session, grid: GridSpec, spec_sha256: str) -> int:
    row = session.scalars(select(Grid).where(Grid.name == grid.name)).first()
    if row is None:
        row = Grid(name=grid.name, spec=grid.to_dict(), spec_sha256=spec_sha256)
        session.add(row)
        session.flush()
    elif row.spec_sha256 != spec_sha256:
        row.spec, row.spec_sha256, row.updated_at = grid.to_dict(), spec_sha256, _now()
    return row.id


def enqueue(
    catalog: Catalog, grid: GridSpec, spec_sha256: str, runs: Iterable[tuple[RunSpec, int]]
) -> EnqueueResult:
    """Add the runs not queued yet (matched by key); ``runs`` pairs each spec with its variant id."""
    runs = list(runs)
    with catalog.session(write=True) as session:
        grid_id = _upsert_grid(session, grid, spec_sha256)
        keys = [spec.key for spec, _ in runs]
        known: set[str] = set()
        for start in range(0, len(keys), 500):
            known |= set(session.scalars(select(Run.run_key).where(Run.run_key.in_(keys[start:start + 500]))))
        new = [(spec, variant_id) for spec, variant_id in runs if spec.key not in known]
        session.add_all(
            Run(
                run_key=spec.key, grid_id=grid_id, variant_id=variant_id, arch=spec.arch,
                reference_spec=spec.reference, optimizer=spec.optimizer, lr=spec.lr, epochs=spec.epochs,
                checkpoint_every=spec.checkpoint_every, batch_size=spec.batch_size,
                steps_per_epoch=spec.steps_per_epoch, image_size=spec.image_size, trial=spec.trial,
                seed=spec.seed, keep_weights=grid.keep_weights, max_attempts=grid.max_attempts,
            )
            for spec, variant_id in new
        )
    return EnqueueResult(grid_id=grid_id, added=len(new), existing=len(runs) - len(new))


def _local_pid(worker: str | None) -> int | None:
    """The pid of a default-named worker (``host:pid``) running on this host, else None."""
    host, _, pid = (worker or "").rpartition(":")
    return int(pid) if host == socket.gethostname() and pid.isdigit() else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_local_claims(session: Session) -> list[int]:
    """Running runs claimed by a worker process of this host that no longer exists (no need to wait)."""
    running = session.execute(select(Run.id, Run.worker).where(Run.status == "running")).all()
    return [run_id for run_id, worker in running if (pid := _local_pid(worker)) is not None and not _pid_alive(pid)]


def requeue_stale(session: Session, grace_s: float) -> int:
    """Return runs whose worker stopped heartbeating (or died on this host) to the queue, or fail them
    when out of attempts."""
    cutoff = _now() - timedelta(seconds=grace_s)
    stale = (Run.status == "running") & ((Run.heartbeat_at < cutoff) | Run.id.in_(_dead_local_claims(session)))
    message = "worker stopped heartbeating"
    failed = session.execute(
        update(Run).where(stale & (Run.attempts >= Run.max_attempts))
        .values(status="failed", claim_token=None, error=message + "; out of attempts", finished_at=_now())
        .execution_options(synchronize_session=False)
    ).rowcount
    requeued = session.execute(
        update(Run).where(stale).values(status="queued", claim_token=None, error=message)
        .execution_options(synchronize_session=False)
    ).rowcount
    return failed + requeued


def claim_next(catalog: Catalog, worker: str, *, grace_s: float = DEFAULT_GRACE_S, grid_id: int | None = None) -> RunRecord | None:
    """Claim the oldest queued run (re-queueing stale ones first); None when the queue is empty."""
    with catalog.session(write=True) as session:
        requeue_stale(session, grace_s)
        query: Select[tuple[Run]] = select(Run).where(Run.status == "queued").order_by(Run.id).limit(1)
        if grid_id is not None:
            query = query.where(Run.grid_id == grid_id)
        if catalog.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        run = session.scalars(query).first()
        if run is None:
            return None
        now = _now()
        run.status, run.worker, run.claim_token = "running", worker, uuid.uuid4().hex
        run.attempts, run.claimed_at, run.heartbeat_at, run.error = run.attempts + 1, now, now, None
        session.flush()
        return _record(run)


def _fenced(run: RunRecord) -> object:
    return (Run.id == run.id) & (Run.claim_token == run.claim_token) & (Run.status == "running")


def heartbeat(catalog: Catalog, run: RunRecord) -> bool:
    """Refresh the claim; False when it was lost (the worker must stop and write nothing)."""
    with catalog.session(write=True) as session:
        return session.execute(
            update(Run).where(_fenced(run)).values(heartbeat_at=_now()).execution_options(synchronize_session=False)
        ).rowcount == 1


def complete(
    catalog: Catalog,
    run: RunRecord,
    write_results: Callable[[Session], None],
    *,
    device: str,
    train_seconds: float,
    images_per_second: float,
) -> None:
    """Mark the run done and write its results in the same transaction, or raise :class:`ClaimLost`."""
    with catalog.session(write=True) as session:
        done = session.execute(
            update(Run).where(_fenced(run)).values(
                status="done", finished_at=_now(), device=device, train_seconds=train_seconds,
                images_per_second=images_per_second, error=None, claim_token=None,
            ).execution_options(synchronize_session=False)
        ).rowcount
        if done != 1:
            raise ClaimLost(f"run {run.id}: this worker's claim was lost; another worker owns it now")
        write_results(session)


def fail(catalog: Catalog, run: RunRecord, error: str) -> str:
    """Record an error; re-queue for another attempt or mark failed. Returns the new status."""
    status = "failed" if run.attempts >= run.max_attempts else "queued"
    with catalog.session(write=True) as session:
        session.execute(
            update(Run).where(_fenced(run)).values(
                status=status, error=error[:4000], claim_token=None,
                finished_at=_now() if status == "failed" else None,
            ).execution_options(synchronize_session=False)
        )
    return status


def release(catalog: Catalog, run: RunRecord) -> None:
    """Give the run back untouched (SIGTERM, Ctrl-C): queued again, this attempt not counted."""
    with catalog.session(write=True) as session:
        session.execute(
            update(Run).where(_fenced(run)).values(
                status="queued", claim_token=None, attempts=Run.attempts - 1, error="interrupted; re-queued",
            ).execution_options(synchronize_session=False)
        )


def retry_failed(catalog: Catalog, grid_id: int | None = None) -> int:
    """Queue failed runs again with a fresh attempt budget."""
    where = Run.status == "failed"
    if grid_id is not None:
        where = where & (Run.grid_id == grid_id)
    with catalog.session(write=True) as session:
        return session.execute(
            update(Run).where(where).values(status="queued", attempts=0, error=None, finished_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount


def status_counts(catalog: Catalog, grid_id: int | None = None) -> dict[str, int]:
    """Runs per status (every status present, zero included)."""
    query = select(Run.status, func.count()).group_by(Run.status)
    if grid_id is not None:
        query = query.where(Run.grid_id == grid_id)
    with catalog.session() as session:
        counts = {status: count for status, count in session.execute(query)}
    return {status: counts.get(status, 0) for status in RUN_STATUSES}


def list_runs(catalog: Catalog, *, status: str | None = None, limit: int | None = None) -> list[RunRecord]:
    if status is not None and status not in RUN_STATUSES:
        raise InvalidInput(f"unknown run status {status!r}; choose from {', '.join(RUN_STATUSES)}")
    query = select(Run).order_by(Run.id)
    if status is not None:
        query = query.where(Run.status == status)
    if limit is not None:
        query = query.limit(limit)
    with catalog.session() as session:
        return [_record(run) for run in session.scalars(query)]


def latest_done(catalog: Catalog, grid_id: int | None = None) -> RunRecord | None:
    """The most recently finished successful run (for progress displays)."""
    query = select(Run).where(Run.status == "done").order_by(Run.finished_at.desc(), Run.id.desc()).limit(1)
    if grid_id is not None:
        query = query.where(Run.grid_id == grid_id)
    with catalog.session() as session:
        run = session.scalars(query).first()
        return None if run is None else _record(run)


def get_run(catalog: Catalog, run_id: int) -> RunRecord | None:
    with catalog.session() as session:
        run = session.get(Run, run_id)
        return None if run is None else _record(run)
