"""What each page shows, gathered with the library's functions and returned as plain records.

Every function returns a :class:`Page`: the template to render, its context, and ``data``, the page's JSON
twin (the same records the matching CLI command prints with ``--json``). Nothing here knows about HTTP;
query parameters arrive as strings and bad ones raise :class:`zoo.errors.InvalidInput`.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from zoo import queue
from zoo.catalog import Catalog
from zoo.datasets import get_dataset, list_datasets
from zoo.errors import InvalidInput, NotFound
from zoo.metamodel import fit_predictions, get_fit, list_fits
from zoo.query import get_checkpoint, query_checkpoints
from zoo.selection import PAPER_METRIC_COLUMNS, PROPERTY_COLUMNS, Selection, parse_selection
from zoo.sql import DEFAULT_LIMIT, DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_S, run_query
from zoo.run_stats import queue_health

# The records of `zoo runs --json` (see zoo/cli/ingest_commands.py).
RUN_COLUMNS = ("id", "status", "arch", "optimizer", "trial", "attempts", "worker", "device", "images_per_second", "error")
RUNS_PER_PAGE = 100
CHECKPOINTS_PER_PAGE = 50
MAX_PER_PAGE = 1000
SQL_MAX_LIMIT = 10_000
SQL_MAX_TIMEOUT_S = 30.0
DATASET_PROPERTIES = ("sharpness", "noisiness", "saturation", "object_scale")
EXAMPLE_SQL = "SELECT arch, count(*) AS checkpoints, avg(sharpness) AS sharpness\nFROM checkpoint_features GROUP BY arch ORDER BY arch"


@dataclass(frozen=True)
class Page:
    template: str
    context: dict[str, Any]
    data: Any = field(default=None)


# --- parameters ------------------------------------------------------------------------------------------


def int_param(params: Mapping[str, str], name: str, default: int, *, low: int = 1, high: int | None = None) -> int:
    """``params[name]`` as a whole number in ``[low, high]``; :class:`InvalidInput` otherwise."""
    raw = params.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, not {raw!r}") from None
    if value < low or (high is not None and value > high):
        raise InvalidInput(f"{name} must be between {low} and {high}" if high is not None else f"{name} must be at least {low}")
    return value


def float_param(params: Mapping[str, str], name: str, default: float, *, high: float) -> float:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a number of seconds, not {raw!r}") from None
    if not (0 < value <= high):
        raise InvalidInput(f"{name} must be more than 0 and at most {high:g}")
    return value


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int
    total: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def paging(params: Mapping[str, str], default_per_page: int) -> tuple[int, int]:
    return int_param(params, "page", 1), int_param(params, "per_page", default_per_page, high=MAX_PER_PAGE)


# --- pages -----------------------------------------------------------------------------------------------


def overview(catalog: Catalog) -> Page:
    datasets = list_datasets(catalog)
    checkpoints = query_checkpoints(catalog, limit=0, count_by="source")
    health = queue_health(catalog)
    data = {
        "catalog": catalog.url,
        "datasets": len(datasets),
        "variants": sum(len(d.variants) for d in datasets),
        "runs": {"queued": health.queued, "running": health.running, "done": health.done, "failed": health.failed},
        "checkpoints": checkpoints.total,
        "checkpoints_by_source": dict(checkpoints.counts),
        "fits": len(list_fits(catalog)),
        "queue": asdict(health),
    }
    return Page("overview.html", {"summary": data, "health": health}, data)


def queue_panel(catalog: Catalog) -> Page:
    health = queue_health(catalog)
    return Page("queue.html", {"health": health}, asdict(health))


def datasets_page(catalog: Catalog) -> Page:
    datasets = list_datasets(catalog)
    return Page("datasets.html", {"datasets": datasets, "properties": DATASET_PROPERTIES}, [asdict(d) for d in datasets])


def dataset_page(catalog: Catalog, name: str) -> Page:
    dataset = get_dataset(catalog, name)
    return Page("dataset.html", {"dataset": dataset, "properties": DATASET_PROPERTIES}, asdict(dataset))


def _run_row(run: Any) -> dict[str, Any]:
    error = run.error.splitlines()[0][:80] if run.error else None
    return {c: error if c == "error" else getattr(run, c) for c in RUN_COLUMNS}


def runs_page(catalog: Catalog, params: Mapping[str, str]) -> Page:
    status = params.get("status", "").strip() or None
    arch = params.get("arch", "").strip() or None
    grid = int_param(params, "grid", 0, low=0) or None
    page, per_page = paging(params, RUNS_PER_PAGE)
    runs = [r for r in queue.list_runs(catalog, status=status)
            if (arch is None or fnmatch.fnmatchcase(r.arch, arch)) and (grid is None or r.grid_id == grid)]
    pages = Paging(page, per_page, len(runs))
    shown = [_run_row(r) for r in runs[pages.offset:pages.offset + per_page]]
    filters = {"status": status or "", "arch": arch or "", "grid": grid or ""}
    context = {"runs": shown, "columns": RUN_COLUMNS, "paging": pages, "filters": filters,
               "statuses": queue.status_counts(catalog), "archs": sorted({r.arch for r in runs})}
    return Page("runs.html", context, shown)


def run_page(catalog: Catalog, run_id: int) -> Page:
    run = queue.get_run(catalog, run_id)
    if run is None:
        raise NotFound(f"there is no run {run_id}; list them with `zoo runs`")
    table = query_checkpoints(catalog, Selection(wheres=(("run_id", "=", run_id),)), limit=None)
    data = {"run": asdict(run), "checkpoints": table.records()}
    return Page("run.html", {"run": run, "table": table}, data)


def checkpoints_page(catalog: Catalog, params: Mapping[str, str]) -> Page:
    text = params.get("q", "").strip()
    selection = parse_selection(text or None)
    count_by = params.get("count_by", "").strip() or "arch"
    page, per_page = paging(params, CHECKPOINTS_PER_PAGE)
    table = query_checkpoints(catalog, selection, limit=per_page, offset=(page - 1) * per_page, count_by=count_by)
    context = {"table": table, "q": text, "selection": str(selection), "count_by": count_by,
               "paging": Paging(page, per_page, table.total)}
    return Page("checkpoints.html", context, table.records())


def checkpoint_page(catalog: Catalog, checkpoint_id: int) -> Page:
    row = get_checkpoint(catalog, checkpoint_id)
    groups = {
        "properties of the training data": {k: row[k] for k in PROPERTY_COLUMNS},
        "metrics of the delta (paper-v1)": {k: row[k] for k in PAPER_METRIC_COLUMNS},
    }
    shown = set(PROPERTY_COLUMNS) | set(PAPER_METRIC_COLUMNS)
    groups = {"checkpoint": {k: v for k, v in row.items() if k not in shown}, **groups}
    return Page("checkpoint.html", {"row": row, "groups": groups, "checkpoint_id": checkpoint_id}, row)


def fits_page(catalog: Catalog, params: Mapping[str, str]) -> Page:
    target = params.get("target", "").strip() or None
    fits = list_fits(catalog, target)
    return Page("fits.html", {"fits": fits, "target": target or ""}, [asdict(f) for f in fits])


def fit_page(catalog: Catalog, fit_id: int) -> Page:
    fit = get_fit(catalog, fit_id)
    predictions = fit_predictions(catalog, fit_id)
    importances = sorted(fit.importances.items(), key=lambda kv: -kv[1])
    data = {**asdict(fit), "predictions": [asdict(p) for p in predictions]}
    return Page("fit.html", {"fit": fit, "importances": importances, "n_predictions": len(predictions)}, data)


def sql_page(catalog: Catalog, params: Mapping[str, str], *, require_query: bool = False,
             max_bytes: int = DEFAULT_MAX_BYTES) -> Page:
    """The query box; with ``q`` (or ``require_query``), the result of :func:`zoo.sql.run_query` on ``catalog``
    (the reader role's connection when ``zoo serve`` has one), stopped past ``max_bytes`` of values."""
    text = params.get("q", "")
    limit = int_param(params, "limit", DEFAULT_LIMIT, high=SQL_MAX_LIMIT)
    timeout = float_param(params, "timeout", DEFAULT_TIMEOUT_S, high=SQL_MAX_TIMEOUT_S)
    context: dict[str, Any] = {"q": text, "limit": limit, "timeout": timeout, "result": None, "example": EXAMPLE_SQL, "warnings": ()}
    if not text.strip() and not require_query:
        return Page("sql.html", context, None)
    result = run_query(catalog, text, limit=limit, timeout_s=timeout, max_bytes=max_bytes)
    context["result"], context["warnings"] = result, result.warnings
    return Page("sql.html", context, [dict(zip(result.columns, row)) for row in result.rows])
