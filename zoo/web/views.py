"""What each page shows, gathered with the library's functions and returned as plain records.

Every function returns a :class:`Page`: the template to render, its context, and ``data``, the page's JSON
twin (the same records the matching CLI command prints with ``--json``). Nothing here knows about HTTP;
query parameters arrive as strings and bad ones raise :class:`zoo.errors.InvalidInput`.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode

from zoo import queue
from zoo.catalog import Catalog
from zoo.datasets import get_dataset, list_datasets
from zoo.errors import InvalidInput, NotFound
from zoo.filters import feature_set_names
from zoo.metamodel import AXES, TARGETS, fit_predictions, get_fit, list_fits
from zoo.query import get_checkpoint, query_checkpoints, run_table
from zoo.run_stats import list_grids, queue_health
from zoo.selection import PAPER_METRIC_COLUMNS, PROPERTY_COLUMNS, Selection, parse_selection
from zoo.sql import DEFAULT_LIMIT, DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_S, run_query
from zoo.vocabulary import PROPERTY_NAMES
from zoo.web.matrices import MatrixCache, MatrixSettings, matrix_records, settings_from

RUNS_PER_PAGE = 100
CHECKPOINTS_PER_PAGE = 50
MAX_PER_PAGE = 1000
SQL_MAX_LIMIT = 10_000
SQL_MAX_TIMEOUT_S = 30.0
DATASET_PROPERTIES = PROPERTY_NAMES
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
        raise InvalidInput(
            f"{name} must be between {low} and {high}" if high is not None else f"{name} must be at least {low}"
        )
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
    return Page(
        "datasets.html", {"datasets": datasets, "properties": DATASET_PROPERTIES}, [asdict(d) for d in datasets]
    )


def dataset_page(catalog: Catalog, name: str) -> Page:
    dataset = get_dataset(catalog, name)
    return Page("dataset.html", {"dataset": dataset, "properties": DATASET_PROPERTIES}, asdict(dataset))


def runs_page(catalog: Catalog, params: Mapping[str, str]) -> Page:
    status = params.get("status", "").strip() or None
    arch = params.get("arch", "").strip() or None
    grid = params.get("grid", "").strip() or None  # a grid's name, as in zoo runs --grid NAME
    page, per_page = paging(params, RUNS_PER_PAGE)
    table = run_table(catalog, status=status, grid=grid, limit=None)  # the records of zoo runs --json
    runs = [r for r in table.records() if arch is None or fnmatch.fnmatchcase(r["arch"], arch)]
    pages = Paging(page, per_page, len(runs))
    shown = runs[pages.offset : pages.offset + per_page]
    filters = {"status": status or "", "arch": arch or "", "grid": grid or ""}
    context = {
        "runs": shown,
        "columns": table.columns,
        "paging": pages,
        "filters": filters,
        "statuses": dict(table.counts),
        "grids": [g.name for g in list_grids(catalog)],
        "archs": sorted({r["arch"] for r in runs}),
    }
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
    context = {
        "table": table,
        "q": text,
        "selection": str(selection),
        "count_by": count_by,
        "paging": Paging(page, per_page, table.total),
    }
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


def sql_page(
    catalog: Catalog, params: Mapping[str, str], *, require_query: bool = False, max_bytes: int = DEFAULT_MAX_BYTES
) -> Page:
    """The query box; with ``q`` (or ``require_query``), the result of :func:`zoo.sql.run_query` on ``catalog``
    (the reader role's connection when ``zoo serve`` has one), stopped past ``max_bytes`` of values."""
    text = params.get("q", "")
    limit = int_param(params, "limit", DEFAULT_LIMIT, high=SQL_MAX_LIMIT)
    timeout = float_param(params, "timeout", DEFAULT_TIMEOUT_S, high=SQL_MAX_TIMEOUT_S)
    context: dict[str, Any] = {
        "q": text,
        "limit": limit,
        "timeout": timeout,
        "result": None,
        "example": EXAMPLE_SQL,
        "warnings": (),
    }
    if not text.strip() and not require_query:
        return Page("sql.html", context, None)
    result = run_query(catalog, text, limit=limit, timeout_s=timeout, max_bytes=max_bytes)
    context["result"], context["warnings"] = result, result.warnings
    return Page("sql.html", context, [dict(zip(result.columns, row)) for row in result.rows])


def evaluate_form(params: Mapping[str, str]) -> dict[str, Any]:
    """The selection form of /evaluate as the user filled it (or zoo evaluate's defaults)."""
    defaults = MatrixSettings(target="sharpness").query()
    form = {name: params.get(name, default) for name, default in defaults.items()}
    form["raw_target"] = params.get("raw_target", "").strip().lower() in ("1", "true", "on", "yes")
    return {"form": form, "targets": TARGETS, "feature_sets": feature_set_names(), "computed": None, "error": None}


def evaluate_page(
    catalog: Catalog, params: Mapping[str, str], matrices: MatrixCache, *, require_target: bool = False
) -> Page:
    """The form; with ``target``, the generalization matrix (fitted on demand, or from ``matrices``), its
    heatmap and what each row measures. The JSON twin is what ``zoo evaluate --json`` prints."""
    context = evaluate_form(params)
    settings = settings_from(params)
    if settings is None:
        if require_target:
            raise InvalidInput("target is required, e.g. /evaluate?target=sharpness&format=json")
        return Page("evaluate.html", context, None)
    computed = matrices.get(catalog, settings)
    matrix = computed.matrix
    context.update(
        settings=settings,
        computed=computed,
        matrix=matrix,
        command=settings.command(),
        axes=[(axis, AXES[axis][1], matrix.row(axis)) for axis in matrix.axes],
        png_url="/evaluate/matrix.png?" + urlencode(settings.query()),
    )
    return Page("evaluate.html", context, matrix_records(matrix))
