"""The run queue, shared by any number of workers through the catalog database.

Claims take one queued row under a lock (Postgres ``FOR UPDATE SKIP LOCKED``; SQLite ``BEGIN IMMEDIATE``,
which serialises writers). A claim carries a random token; heartbeats, completion and failure are fenced
on it, so a worker that lost its claim (its heartbeat went stale and the run was re-queued) writes nothing.

A claim also stores the claimant's own terms: its heartbeat interval and its grace, the seconds without a
heartbeat after which any worker may re-queue the run. Every worker judges a run by the grace stored on
its claim, never by its own, so workers started with different ``--grace`` values share one queue safely.
The claiming process is recorded as host, boot id, PID namespace and pid; a worker that shares all but
the pid with it re-queues the run at once when that process no longer exists.

On Postgres, staleness scans and claims skip rows another transaction holds (a worker stopped inside a
transaction holds its run's row until it resumes or its connection ends), and every queue transaction
carries ``lock_timeout``, so no queue call waits on one frozen process for long: a statement that would
wait longer raises :class:`QueueBusy` (claims retry first). On SQLite, writers take the one database
write lock with ``BEGIN IMMEDIATE``; a process stopped inside a write transaction makes the others wait
up to the busy timeout, then fail with "database is locked". Queue transactions are a few statements long.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, exc, func, select, text, update
from sqlalchemy.orm import Session

from zoo.catalog import Catalog
from zoo.db.models import Grid, Run
from zoo.errors import DatabaseError, InvalidInput, ZooError
from zoo.grids import GridSpec, RunSpec
from zoo.records import RunRecord, from_row
from zoo.vocabulary import RUN_STATUSES

DEFAULT_GRACE_S = 300.0
# Postgres: the longest one queue statement waits for a row lock held by another transaction.
LOCK_TIMEOUT_S = 5.0
# Claims that hit the lock timeout try again this many times in all before raising QueueBusy.
CLAIM_TRIES = 3
LOCK_NOT_AVAILABLE = "55P03"  # Postgres SQLSTATE of a lock_timeout


class ClaimLost(ZooError):
    """This worker's claim on a run was taken away (stale heartbeat); its results were not written."""


class QueueBusy(DatabaseError):
    """A queue statement waited longer than the lock timeout for a row another transaction holds."""


def heartbeat_interval(grace_s: float, heartbeat_s: float | None = None) -> float:
    """Seconds between heartbeats: ``heartbeat_s``, or a quarter of the grace (at least 0.2 s)."""
    return heartbeat_s or max(0.2, grace_s / 4)


def check_grace(grace_s: float, heartbeat_s: float | None = None) -> None:
    """Refuse a grace that is not a positive number of seconds longer than the heartbeat interval."""
    if not (isinstance(grace_s, (int, float)) and math.isfinite(grace_s) and grace_s > 0):
        raise InvalidInput(
            f"`grace_s` must be a positive number of seconds, e.g. `grace_s=300` (got {grace_s!r})", param="grace_s"
        )
    if heartbeat_s is not None and not (math.isfinite(heartbeat_s) and 0 < heartbeat_s < grace_s):
        raise InvalidInput(
            f"the heartbeat interval ({heartbeat_s!r} s) must be positive and shorter than the grace ({grace_s} s)"
        )


@dataclass(frozen=True)
class ProcessIdentity:
    """Where a claiming process runs: host name, boot id, PID namespace and pid.

    A pid means something only within one PID namespace of one boot of one machine; containers may share a
    host name without sharing pids. Empty boot id or namespace: unknown (not Linux, or /proc unreadable).
    """

    host: str
    boot_id: str
    pid_namespace: str
    pid: int

    def __str__(self) -> str:
        return f"{self.host} {self.boot_id or '-'} {self.pid_namespace or '-'} {self.pid}"

    @classmethod
    def parse(cls, value: str | None) -> ProcessIdentity | None:
        parts = (value or "").split(" ")
        if len(parts) != 4 or not parts[3].isdigit():
            return None
        host, boot_id, namespace, pid = parts
        return cls(host, "" if boot_id == "-" else boot_id, "" if namespace == "-" else namespace, int(pid))

    def shares_pids_with(self, other: ProcessIdentity) -> bool:
        """True when a pid of ``other`` names the same process here: same host, boot and PID namespace,
        all known (off Linux, where there is neither boot id nor PID namespace, the host name decides)."""
        same = (self.host, self.boot_id, self.pid_namespace) == (other.host, other.boot_id, other.pid_namespace)
        return same and (bool(self.boot_id and self.pid_namespace) or not sys.platform.startswith("linux"))


def _read_proc(path: str, link: bool = False) -> str:
    try:
        value = os.readlink(path) if link else Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return ""
    return value.strip().replace(" ", "")


def current_process() -> ProcessIdentity:
    """This process's identity (boot id from /proc/sys/kernel/random/boot_id, namespace from /proc/self/ns/pid)."""
    return ProcessIdentity(
        host=socket.gethostname().replace(" ", ""),
        boot_id=_read_proc("/proc/sys/kernel/random/boot_id"),
        pid_namespace=_read_proc("/proc/self/ns/pid", link=True),
        pid=os.getpid(),
    )


def _is_lock_timeout(error: BaseException) -> bool:
    seen: BaseException | None = error
    for _ in range(8):  # the driver error sits a few causes down: DatabaseError <- OperationalError <- psycopg
        if seen is None:
            return False
        orig = seen.orig if isinstance(seen, exc.DBAPIError) else seen
        if getattr(orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextmanager
def _transaction(catalog: Catalog, what: str) -> Iterator[Session]:
    """A writing queue transaction; on Postgres with ``lock_timeout``, whose expiry raises QueueBusy."""
    try:
        with catalog.session(write=True) as session:
            if catalog.dialect == "postgresql":
                session.execute(text(f"SET LOCAL lock_timeout = {max(1, int(LOCK_TIMEOUT_S * 1000))}"))
            yield session
    except (DatabaseError, exc.OperationalError) as error:
        if _is_lock_timeout(error):
            raise QueueBusy(
                f"{what}: a row stayed locked by another transaction for over {LOCK_TIMEOUT_S:g} s (a stopped or "
                "hung process inside a transaction?); try again, or end that database session"
            ) from error
        raise


@dataclass(frozen=True)
class EnqueueResult:
    grid_id: int
    added: int
    existing: int


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _now() -> datetime:
    return datetime.now(UTC)


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


def enqueue(catalog: Catalog, grid: GridSpec, spec_sha256: str, runs: Iterable[tuple[RunSpec, int]]) -> EnqueueResult:
    """Add the runs not queued yet (matched by key); ``runs`` pairs each spec with its variant id."""
    runs = list(runs)
    with _transaction(catalog, f"queueing grid {grid.name}") as session:
        grid_id = _upsert_grid(session, grid, spec_sha256)
        keys = [spec.key for spec, _ in runs]
        known: set[str] = set()
        for start in range(0, len(keys), 500):
            known |= set(session.scalars(select(Run.run_key).where(Run.run_key.in_(keys[start : start + 500]))))
        new = [(spec, variant_id) for spec, variant_id in runs if spec.key not in known]
        session.add_all(
            Run(
                run_key=spec.key,
                grid_id=grid_id,
                variant_id=variant_id,
                arch=spec.arch,
                reference_spec=spec.reference,
                optimizer=spec.optimizer,
                lr=spec.lr,
                epochs=spec.epochs,
                checkpoint_every=spec.checkpoint_every,
                batch_size=spec.batch_size,
                steps_per_epoch=spec.steps_per_epoch,
                image_size=spec.image_size,
                trial=spec.trial,
                seed=spec.seed,
                keep_weights=grid.keep_weights,
                max_attempts=grid.max_attempts,
            )
            for spec, variant_id in new
        )
    return EnqueueResult(grid_id=grid_id, added=len(new), existing=len(runs) - len(new))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite returns stored UTC times without their zone."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _is_stale(row: Any, now: datetime, me: ProcessIdentity, default_grace_s: float) -> bool:
    """By the claimant's own grace (``default_grace_s`` for claims older than that column), or at once
    when the claimant is a process of this very PID namespace that no longer exists."""
    grace = row.claim_grace_s if row.claim_grace_s is not None else default_grace_s
    heartbeat = _utc(row.heartbeat_at)
    if heartbeat is None or heartbeat < now - timedelta(seconds=grace):
        return True
    claimant = ProcessIdentity.parse(row.claim_process)
    return (
        claimant is not None
        and claimant.shares_pids_with(me)
        and claimant.pid != me.pid
        and not _pid_alive(claimant.pid)
    )


_STALE_COLUMNS = (Run.id, Run.heartbeat_at, Run.claim_grace_s, Run.claim_process, Run.attempts, Run.max_attempts)


def requeue_stale(session: Session, *, default_grace_s: float = DEFAULT_GRACE_S) -> int:
    """Return runs whose worker stopped heartbeating for longer than the grace stored on their claim (or
    died in this PID namespace) to the queue, or fail them when out of attempts.

    Rows another transaction holds are skipped on Postgres (the scan locks its candidates ``FOR UPDATE
    SKIP LOCKED`` and updates only the ids it locked), so one frozen process cannot stall the scan.
    """
    now, me = _now(), current_process()
    running = select(*_STALE_COLUMNS).where(Run.status == "running")
    stale = [row for row in session.execute(running) if _is_stale(row, now, me, default_grace_s)]
    if not stale:
        return 0
    if session.get_bind().dialect.name == "postgresql":  # lock what can be locked now, then look again
        locked = running.where(Run.id.in_([row.id for row in stale])).with_for_update(skip_locked=True)
        stale = [row for row in session.execute(locked) if _is_stale(row, now, me, default_grace_s)]
    # (SQLite: BEGIN IMMEDIATE, so this transaction already holds the only write lock.)
    message = "worker stopped heartbeating"
    out_of_attempts = [row.id for row in stale if row.attempts >= row.max_attempts]
    again = [row.id for row in stale if row.attempts < row.max_attempts]
    changed = 0
    if out_of_attempts:
        changed += session.execute(
            update(Run)
            .where(Run.id.in_(out_of_attempts), Run.status == "running")
            .values(status="failed", claim_token=None, error=message + "; out of attempts", finished_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    if again:
        changed += session.execute(
            update(Run)
            .where(Run.id.in_(again), Run.status == "running")
            .values(status="queued", claim_token=None, error=message)
            .execution_options(synchronize_session=False)
        ).rowcount
    return changed


def claim_next(
    catalog: Catalog,
    worker: str,
    *,
    grace_s: float = DEFAULT_GRACE_S,
    heartbeat_s: float | None = None,
    grid_id: int | None = None,
    process: ProcessIdentity | None = None,
) -> RunRecord | None:
    """Claim the oldest queued run (re-queueing stale ones first); None when the queue is empty.

    ``grace_s`` and the heartbeat interval are this worker's terms, stored on the claim for others to judge
    it by; ``process`` is the claiming process (default: this one).
    """
    check_grace(grace_s, heartbeat_s)
    identity = str(process or current_process())
    for attempt in range(1, CLAIM_TRIES + 1):
        try:
            return _claim(catalog, worker, grace_s, heartbeat_interval(grace_s, heartbeat_s), grid_id, identity)
        except QueueBusy:
            if attempt == CLAIM_TRIES:
                raise
    return None  # not reached


def _claim(
    catalog: Catalog, worker: str, grace_s: float, heartbeat_s: float, grid_id: int | None, identity: str
) -> RunRecord | None:
    with _transaction(catalog, "claiming a run") as session:
        requeue_stale(session)
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
        run.claim_grace_s, run.claim_heartbeat_s, run.claim_process = float(grace_s), float(heartbeat_s), identity
        session.flush()
        return _record(run)


def _fenced(run: RunRecord) -> object:
    return (Run.id == run.id) & (Run.claim_token == run.claim_token) & (Run.status == "running")


def heartbeat(catalog: Catalog, run: RunRecord) -> bool:
    """Refresh the claim; False when it was lost (the worker must stop and write nothing)."""
    with _transaction(catalog, f"heartbeat of run {run.id}") as session:
        return (
            session.execute(
                update(Run).where(_fenced(run)).values(heartbeat_at=_now()).execution_options(synchronize_session=False)
            ).rowcount
            == 1
        )


def complete(
    catalog: Catalog,
    run: RunRecord,
    write_results: Callable[[Session], int | None],
    *,
    device: str,
    train_seconds: float,
    images_per_second: float,
) -> None:
    """Mark the run done and write its results in the same transaction, or raise :class:`ClaimLost`.

    ``write_results`` writes the run's checkpoints with the storage functions on the session it is given
    and returns the id of the reference weights they were measured from (or None); it is stored on the run.
    """
    with _transaction(catalog, f"completing run {run.id}") as session:
        done = session.execute(
            update(Run)
            .where(_fenced(run))
            .values(
                status="done",
                finished_at=_now(),
                device=device,
                train_seconds=train_seconds,
                images_per_second=images_per_second,
                error=None,
                claim_token=None,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if done != 1:
            raise ClaimLost(f"run {run.id}: this worker's claim was lost; another worker owns it now")
        reference_id = write_results(session)
        if reference_id is not None:
            session.execute(
                update(Run)
                .where(Run.id == run.id)
                .values(reference_id=reference_id)
                .execution_options(synchronize_session=False)
            )


def fail(catalog: Catalog, run: RunRecord, error: str) -> str:
    """Record an error; re-queue for another attempt or mark failed. Returns the new status."""
    status = "failed" if run.attempts >= run.max_attempts else "queued"
    with _transaction(catalog, f"recording the failure of run {run.id}") as session:
        session.execute(
            update(Run)
            .where(_fenced(run))
            .values(
                status=status,
                error=error[:4000],
                claim_token=None,
                finished_at=_now() if status == "failed" else None,
            )
            .execution_options(synchronize_session=False)
        )
    return status


def release(catalog: Catalog, run: RunRecord) -> None:
    """Give the run back untouched (SIGTERM, Ctrl-C): queued again, this attempt not counted."""
    with _transaction(catalog, f"re-queueing run {run.id}") as session:
        session.execute(
            update(Run)
            .where(_fenced(run))
            .values(
                status="queued",
                claim_token=None,
                attempts=Run.attempts - 1,
                error="interrupted; re-queued",
            )
            .execution_options(synchronize_session=False)
        )


def retry_failed(catalog: Catalog, grid_id: int | None = None) -> int:
    """Queue failed runs again with a fresh attempt budget."""
    where = Run.status == "failed"
    if grid_id is not None:
        where = where & (Run.grid_id == grid_id)
    with _transaction(catalog, "re-queueing failed runs") as session:
        return session.execute(
            update(Run)
            .where(where)
            .values(status="queued", attempts=0, error=None, finished_at=None)
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
