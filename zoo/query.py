"""Checkpoints of a selection, as plain rows: what ``zoo query`` shows and notebooks load.

The page of rows and the per-architecture counts are two queries over the ``checkpoint_features`` view.
Both databases inline the view, so the correlated property and metric sub-selects run only for the rows of
the page (and, for counting, only when the selection compares one of those columns). ``zoo report``'s
counts and its Figure 3 checkpoint are queries over the same view (:func:`arch_counts`, :func:`drawn_counts`,
:func:`showcase_checkpoint`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, true

from zoo.catalog import Catalog
from zoo.errors import InvalidInput, NotFound, ZooError
from zoo.selection import (
    CHECKPOINT_FEATURES,
    PAPER_METRIC_COLUMNS,
    PROPERTY_COLUMNS,
    VIEW_COLUMNS,
    WHERE_OPERATORS,
    Selection,
    bounded_int,
    check_columns,
    select_checkpoints,
    selection_clause,
)

DEFAULT_COLUMNS: tuple[str, ...] = (
    "checkpoint_id",
    "arch",
    "base_dataset",
    "variant",
    "optimizer",
    "epoch",
    *PROPERTY_COLUMNS,
    *PAPER_METRIC_COLUMNS,
)
COUNT_KEYS = ("arch", "base_dataset", "variant_kind", "optimizer", "source")


@dataclass(frozen=True)
class CheckpointTable:
    """One page of selected checkpoints.

    Attributes
    ----------
    columns : tuple of str
        Column names of ``rows`` (columns of the ``checkpoint_features`` view).
    rows : tuple of tuple
        The page, ordered by checkpoint id.
    total : int
        How many checkpoints the selection holds in all.
    counts : tuple of (str, int)
        Checkpoints per value of ``count_by`` (default: per architecture), largest first.
    count_by : str
        The column that ``counts`` groups by.
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    total: int
    counts: tuple[tuple[str, int], ...]
    count_by: str = "arch"

    @property
    def truncated(self) -> bool:
        """True when the selection holds more checkpoints than the page."""
        return self.total > len(self.rows)

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts keyed by column name."""
        return [dict(zip(self.columns, row)) for row in self.rows]


def query_checkpoints(
    catalog: Catalog,
    selection: Selection | None = None,
    *,
    columns: Sequence[str] | None = None,
    limit: int | None = 100,
    offset: int = 0,
    count_by: str = "arch",
    feature_set: str | None = None,
    metric_wheres: Sequence[tuple[str, str, float]] = (),
) -> CheckpointTable:
    """Select checkpoints and return a page of their rows plus counts.

    Parameters
    ----------
    catalog : Catalog
    selection : Selection, optional
        Which checkpoints; default all.
    columns : sequence of str, optional
        Columns of the ``checkpoint_features`` view to return; default :data:`DEFAULT_COLUMNS`.
    limit : int or None, default 100
        Most rows to return (None: all).
    offset : int, default 0
        Rows to skip first (for paging).
    count_by : str, default "arch"
        Column to count the selection by: one of :data:`COUNT_KEYS`.
    feature_set : str, optional
        A registered feature set: its metrics replace the view's paper-v1 columns (by default and when
        named in ``columns``), read from ``metric_values``.
    metric_wheres : sequence of (metric, op, value)
        Conditions on metrics of ``feature_set`` (default paper-v1), e.g. from
        :func:`zoo.metamodel.split_metric_wheres`; a checkpoint without the metric never matches.

    Returns
    -------
    CheckpointTable

    Raises
    ------
    InvalidInput
        For an unknown column, a limit or offset below 0 or above 2**31-1.
    """
    selection = selection or Selection()
    if feature_set is not None or metric_wheres:
        return _query_with_feature_set(
            catalog, selection, columns, limit, offset, count_by, feature_set, tuple(metric_wheres)
        )
    columns = check_columns(tuple(columns) if columns else DEFAULT_COLUMNS)
    if limit is not None:
        bounded_int(limit, param="limit")
    bounded_int(offset, param="offset")
    if count_by not in COUNT_KEYS:
        raise InvalidInput(f"cannot count by {count_by!r}; choose one of {', '.join(COUNT_KEYS)}")
    page = select_checkpoints(selection, catalog.dialect, columns).limit(limit).offset(offset)
    group = CHECKPOINT_FEATURES.c[count_by]
    counting = select(group, func.count()).where(selection_clause(selection, catalog.dialect)).group_by(group)
    with catalog.session() as session:
        rows = tuple(tuple(row) for row in session.execute(page))
        counts = sorted(
            ((str(k) if k is not None else "—", int(n)) for k, n in session.execute(counting)),
            key=lambda kv: (-kv[1], kv[0]),
        )
    return CheckpointTable(columns, rows, sum(n for _, n in counts), tuple(counts), count_by)


def metric_condition(feature_set: Any, metric: str, op: str, value: float) -> ColumnElement[bool]:
    """``checkpoint_id IN (checkpoints whose metric of feature_set satisfies OP value)``; value bound."""
    from zoo.db.models import MetricValue, MetricVector

    if metric not in feature_set.metrics:
        raise InvalidInput(
            f"{metric!r} is not a metric of {feature_set.key}; its metrics: {', '.join(feature_set.metrics)}"
        )
    if op not in WHERE_OPERATORS:
        raise InvalidInput(f"unknown operator {op!r}; operators: {' '.join(WHERE_OPERATORS)}")
    matching = (
        select(MetricVector.checkpoint_id)
        .join(MetricValue, MetricValue.vector_id == MetricVector.id)
        .where(
            MetricVector.feature_set == feature_set.name,
            MetricVector.feature_set_version == feature_set.version,
            MetricValue.metric == metric,
            WHERE_OPERATORS[op](MetricValue.value, float(value)),
        )
    )
    return CHECKPOINT_FEATURES.c.checkpoint_id.in_(matching)


def _query_with_feature_set(
    catalog: Catalog,
    selection: Selection,
    columns: Sequence[str] | None,
    limit: int | None,
    offset: int,
    count_by: str,
    feature_set: str | None,
    metric_wheres: tuple[tuple[str, str, float], ...],
) -> CheckpointTable:
    """:func:`query_checkpoints` with a feature set's metrics as columns and conditions (pivoted from metric_values)."""
    from zoo.db.models import MetricValue, MetricVector
    from zoo.filters import DEFAULT_FEATURE_SET, get_feature_set

    fs = get_feature_set(feature_set or DEFAULT_FEATURE_SET)
    shown_metrics = fs.metrics if feature_set is not None else ()
    wanted = (
        tuple(columns)
        if columns
        else tuple(c for c in DEFAULT_COLUMNS if c not in PAPER_METRIC_COLUMNS) + shown_metrics
    )
    metric_columns = [c for c in wanted if c in shown_metrics]
    view_columns = check_columns([c for c in wanted if c not in metric_columns] or ["checkpoint_id"])
    if limit is not None:
        bounded_int(limit, param="limit")
    bounded_int(offset, param="offset")
    if count_by not in COUNT_KEYS:
        raise InvalidInput(f"cannot count by {count_by!r}; choose one of {', '.join(COUNT_KEYS)}")
    extra = and_(true(), *(metric_condition(fs, m, op, v) for m, op, v in metric_wheres))
    fetched = ("checkpoint_id", *[c for c in view_columns if c != "checkpoint_id"])
    page = select_checkpoints(selection, catalog.dialect, fetched).where(extra).limit(limit).offset(offset)
    group = CHECKPOINT_FEATURES.c[count_by]
    counting = select(group, func.count()).where(selection_clause(selection, catalog.dialect), extra).group_by(group)
    with catalog.session() as session:
        found = [tuple(row) for row in session.execute(page)]
        counts = sorted(
            ((str(k) if k is not None else "—", int(n)) for k, n in session.execute(counting)),
            key=lambda kv: (-kv[1], kv[0]),
        )
        values: dict[tuple[int, str], float] = {}
        if metric_columns and found:
            query = (
                select(MetricVector.checkpoint_id, MetricValue.metric, MetricValue.value)
                .join(MetricValue, MetricValue.vector_id == MetricVector.id)
                .where(
                    MetricVector.feature_set == fs.name,
                    MetricVector.feature_set_version == fs.version,
                    MetricVector.checkpoint_id.in_([r[0] for r in found]),
                    MetricValue.metric.in_(metric_columns),
                )
            )
            values = {(c, m): v for c, m, v in session.execute(query)}
    index = {name: i for i, name in enumerate(fetched)}
    rows = tuple(
        tuple(values.get((row[0], c)) if c in metric_columns else row[index[c]] for c in wanted) for row in found
    )
    return CheckpointTable(tuple(wanted), rows, sum(n for _, n in counts), tuple(counts), count_by)


def get_checkpoint(catalog: Catalog, checkpoint_id: int) -> dict[str, Any]:
    """Every column of the ``checkpoint_features`` view for one checkpoint; :class:`NotFound` if absent."""
    selection = Selection(wheres=(("checkpoint_id", "=", checkpoint_id),))
    with catalog.session() as session:
        row = session.execute(select_checkpoints(selection, catalog.dialect, VIEW_COLUMNS)).first()
    if row is None:
        raise NotFound(f"there is no checkpoint {checkpoint_id}; find ids with `zoo query`")
    return dict(zip(VIEW_COLUMNS, row))


def to_dataframe(records: CheckpointTable | Iterable[Any]) -> Any:
    """A pandas DataFrame of a :class:`CheckpointTable`, or of records (dataclasses or mappings).

    pandas is imported here, only when asked for; it is not a dependency of zoo.

    Raises
    ------
    ZooError
        If pandas is not installed (the message says how to install it).
    """
    try:
        import pandas as pd
    except ImportError:
        raise ZooError("to_dataframe needs pandas, which is not installed; run: pip install pandas") from None
    if isinstance(records, CheckpointTable):
        return pd.DataFrame(list(records.rows), columns=list(records.columns))
    return pd.DataFrame([_as_mapping(r) for r in records])


def _as_mapping(record: Any) -> Mapping[str, Any]:
    if is_dataclass(record) and not isinstance(record, type):
        return asdict(record)
    if isinstance(record, Mapping):
        return record
    raise InvalidInput(f"to_dataframe takes dataclass records or mappings, not {type(record).__name__}")


# --- counts and picks for zoo report ----------------------------------------------------------------------


def arch_counts(catalog: Catalog, selection: Selection) -> list[tuple[str, int]]:
    """(architecture, checkpoints) of ``selection``, most checkpoints first, then by name."""
    view = CHECKPOINT_FEATURES
    query = (
        select(view.c.arch, func.count())
        .where(selection_clause(selection, catalog.dialect))
        .group_by(view.c.arch)
        .order_by(func.count().desc(), view.c.arch)
    )
    with catalog.session() as session:
        return [(str(arch), int(n)) for arch, n in session.execute(query)]


def drawn_counts(
    catalog: Catalog, uses: Sequence[tuple[Selection, str]]
) -> list[tuple[str | None, int | None, str, str, int]]:
    """Checkpoints that any of ``uses`` draws on (in its selection, with a value of its property column),
    each counted once: (grid, training image size, arch, base dataset, checkpoints) per group. The grid is
    None for hub and file checkpoints, the image size None where it is unknown."""
    view = CHECKPOINT_FEATURES
    if not uses:
        return []
    check_columns([target for _, target in uses])
    used = or_(
        *(and_(selection_clause(chosen, catalog.dialect), view.c[target].isnot(None)) for chosen, target in uses)
    )
    groups = (view.c.grid, view.c.image_size, view.c.arch, view.c.base_dataset)
    query = select(*groups, func.count()).where(used).group_by(*groups)
    with catalog.session() as session:
        return [(grid, size, arch, base, int(n)) for grid, size, arch, base, n in session.execute(query)]


def showcase_checkpoint(catalog: Catalog, selection: Selection, arch: str | None = None) -> tuple[int, str] | None:
    """(checkpoint id, arch) of the checkpoint of ``selection`` (of ``arch`` alone, when given) that shows its
    training best: on the unperturbed variant (``original``) if any, at its last epoch; None if there is none."""
    view = CHECKPOINT_FEATURES
    query = (
        select(view.c.checkpoint_id, view.c.arch)
        .where(selection_clause(selection, catalog.dialect))
        .order_by(view.c.variant != "original", view.c.epoch.desc(), view.c.checkpoint_id)
        .limit(1)
    )
    if arch is not None:
        query = query.where(view.c.arch == arch)
    with catalog.session() as session:
        found = session.execute(query).first()
    return None if found is None else (int(found[0]), str(found[1]))


# --- runs -------------------------------------------------------------------------------------------------

RUN_COLUMNS: tuple[str, ...] = (
    "id",
    "status",
    "grid",
    "arch",
    "base_dataset",
    "variant",
    "optimizer",
    "lr",
    "image_size",
    "trial",
    "attempts",
    "worker",
    "device",
    "images_per_second",
    "error",
)


@dataclass(frozen=True)
class RunTable:
    """One page of training runs with the names of their grid, base dataset and variant.

    ``total`` counts the runs the filters select; ``counts`` holds runs per status over the same filters
    (every status, zero included). ``error`` is the first line of the run's error.
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    total: int
    counts: tuple[tuple[str, int], ...]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


def run_table(
    catalog: Catalog, *, status: str | None = None, grid: str | None = None, limit: int | None = 20, offset: int = 0
) -> RunTable:
    """Runs in id order, optionally of one status and one grid (by name), a page of ``limit`` from ``offset``.

    Raises
    ------
    InvalidInput
        An unknown status, a limit or offset outside 0..2**31-1.
    NotFound
        No grid of that name (the message lists the grids there are).
    """
    from zoo.db.models import BaseDataset, DatasetVariant, Grid, Run
    from zoo.vocabulary import RUN_STATUSES

    if status is not None and status not in RUN_STATUSES:
        raise InvalidInput(f"unknown run status {status!r}; choose from {', '.join(RUN_STATUSES)}")
    if limit is not None:
        bounded_int(limit, param="limit")
    bounded_int(offset, param="offset")
    grid_id = grid_id_by_name(catalog, grid) if grid is not None else None
    filters = [true()]
    if grid_id is not None:
        filters.append(Run.grid_id == grid_id)
    counting = select(Run.status, func.count()).where(*filters).group_by(Run.status)
    if status is not None:
        filters.append(Run.status == status)
    page = (
        select(
            Run.id,
            Run.status,
            Grid.name,
            Run.arch,
            BaseDataset.name,
            DatasetVariant.name,
            Run.optimizer,
            Run.lr,
            Run.image_size,
            Run.trial,
            Run.attempts,
            Run.worker,
            Run.device,
            Run.images_per_second,
            Run.error,
        )
        .outerjoin(Grid, Grid.id == Run.grid_id)
        .join(DatasetVariant, DatasetVariant.id == Run.variant_id)
        .join(BaseDataset, BaseDataset.id == DatasetVariant.base_dataset_id)
        .where(*filters)
        .order_by(Run.id)
        .limit(limit)
        .offset(offset)
    )
    with catalog.session() as session:
        found = {s: int(n) for s, n in session.execute(counting)}
        rows = tuple((*row[:-1], row[-1].splitlines()[0] if row[-1] else None) for row in session.execute(page))
    counts = tuple((s, found.get(s, 0)) for s in RUN_STATUSES)
    total = found.get(status, 0) if status is not None else sum(found.values())
    return RunTable(RUN_COLUMNS, rows, total, counts)


def grid_id_by_name(catalog: Catalog, name: str) -> int:
    """The id of the grid called ``name``; :class:`NotFound` names the grids there are."""
    from zoo.db.models import Grid

    with catalog.session() as session:
        found = session.scalars(select(Grid.id).where(Grid.name == name)).first()
        if found is not None:
            return int(found)
        names = list(session.scalars(select(Grid.name).order_by(Grid.id)))
    known = (
        f"grids in the catalog: {', '.join(names)}"
        if names
        else "the catalog has no grids yet (`zoo ingest --run-grid demo`)"
    )
    raise NotFound(f"there is no grid {name!r}; {known}")
