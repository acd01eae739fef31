"""Reading the run queue without changing it: its health (runs per status, pace, stale claims) and the grids
it holds. A storage module: it reads ``runs`` and ``grids`` and hands back frozen records; the queue's
writes (claims, heartbeats, completion) are :mod:`zoo.queue`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zoo import queue
from zoo.catalog import Catalog
from zoo.db.models import Grid, Run
from zoo.records import GridRecord, from_row

THROUGHPUT_WINDOW_S = 600.0  # runs finished in the last ten minutes give the current pace


@dataclass(frozen=True)
class QueueHealth:
    """How the run queue stands right now.

    ``finished_recently`` counts runs done in the last ``window_s`` seconds; ``runs_per_minute`` is that
    pace; ``images_per_second`` the mean training throughput of those runs. ``stale_claims`` counts running
    runs whose worker has not sent a heartbeat within its claim's grace (``grace_s`` where the catalog stores
    none); the next claim re-queues them.
    """

    queued: int
    running: int
    done: int
    failed: int
    finished_recently: int
    window_s: float
    runs_per_minute: float
    images_per_second: float | None
    stale_claims: int
    grace_s: float
    checked_at: datetime

    @property
    def total(self) -> int:
        return self.queued + self.running + self.done + self.failed

    @property
    def percent_done(self) -> float:
        return 100.0 * self.done / self.total if self.total else 0.0


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; the catalog stores UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _stale_claims(session: Session, now: datetime, grace_s: float) -> int:
    """Running runs whose last heartbeat is older than their claim's grace (``grace_s`` where none is stored)."""
    stale = 0
    for heartbeat, claim_grace in session.execute(
        select(Run.heartbeat_at, Run.claim_grace_s).where(Run.status == "running")
    ):
        if heartbeat is not None and (now - _aware(heartbeat)).total_seconds() > (claim_grace or grace_s):
            stale += 1
    return stale


def queue_health(
    catalog: Catalog, *, grace_s: float = queue.DEFAULT_GRACE_S, window_s: float = THROUGHPUT_WINDOW_S
) -> QueueHealth:
    """Read (never change) the queue: counts per status, pace over the last ``window_s``, stale claims."""
    counts = queue.status_counts(catalog)
    now = datetime.now(UTC)
    recent = select(func.count(), func.avg(Run.images_per_second)).where(
        Run.status == "done", Run.finished_at >= now - timedelta(seconds=window_s)
    )
    with catalog.session() as session:
        finished, images_per_second = session.execute(recent).one()
        stale_claims = _stale_claims(session, now, grace_s)
    return QueueHealth(
        queued=counts["queued"],
        running=counts["running"],
        done=counts["done"],
        failed=counts["failed"],
        finished_recently=int(finished),
        window_s=window_s,
        runs_per_minute=60.0 * int(finished) / window_s,
        images_per_second=None if images_per_second is None else float(images_per_second),
        stale_claims=stale_claims,
        grace_s=grace_s,
        checked_at=now,
    )


def list_grids(catalog: Catalog) -> list[GridRecord]:
    """Every grid submitted to the catalog, oldest first, with its spec as parsed."""
    with catalog.session() as session:
        return [from_row(GridRecord, row) for row in session.scalars(select(Grid).order_by(Grid.id))]
