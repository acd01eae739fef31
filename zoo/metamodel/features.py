"""Meta-model inputs: the selected checkpoints' metric vectors, targets and grouping columns, and group splits.

Rows come from the ``checkpoint_features`` view (target and grouping columns) and from ``metric_values``
(the chosen feature set, any registered one, in its own metric order). Two rules apply to every fit:

* **Reference checkpoints are left out.** An epoch-0 checkpoint of a training run *is* its reference
  (delta = 0), so unless a selection bounds the epoch itself (``epoch`` or ``min_epoch``, e.g.
  ``--min-epoch 0``) rows with ``epoch = 0`` are dropped and counted. External checkpoints have no epoch
  and stay.
* **Splits are by group.** A test fraction holds out whole groups: by default a base dataset × variant
  (so no test target value was seen in training), or a training run, or a whole base dataset.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select

from zoo.catalog import Catalog
from zoo.db.models import (
    BaseDataset,
    Checkpoint,
    DatasetVariant,
    MetricValue,
    MetricVector,
    ReferenceWeights,
    Run,
    Tensor,
)
from zoo.errors import InvalidInput
from zoo.filters import DEFAULT_FEATURE_SET, FeatureSet, get_feature_set
from zoo.selection import Selection, parse_selection, select_checkpoints
from zoo.vocabulary import PROPERTY_NAMES, SELECTION_KEYS

TARGETS: tuple[str, ...] = PROPERTY_NAMES  # the fit targets are the measured properties
SPLITS: tuple[str, ...] = ("variant", "run", "base")
DEFAULT_SPLIT = "variant"
# Columns of the view kept with every row: what splits, the generalization matrix and scores group by.
META_COLUMNS: tuple[str, ...] = (
    "arch",
    "base_dataset",
    "variant",
    "variant_kind",
    "optimizer",
    "lr",
    "image_size",
    "epoch",
)

MetricWhere = tuple[str, str, float]
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "!=": operator.ne,
}
_CONDITION = re.compile(r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_.]*)\s*(?P<op><=|>=|!=|==|=|<|>)\s*(?P<value>.*?)\s*$")


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise InvalidInput(f"unknown target {target!r}; targets: {', '.join(TARGETS)}")
    return target


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise InvalidInput(
            f"unknown split {split!r}; choose one of {', '.join(SPLITS)} (variant: base dataset × variant)"
        )
    return split


# --- conditions on a feature set's metrics ---------------------------------------------------------------


def _metric_condition(text: str, fs: FeatureSet) -> MetricWhere | None:
    """``(metric, op, value)`` when ``text`` compares a metric of ``fs``; None for anything else."""
    match = _CONDITION.match(text)
    if match is None or match["name"] not in fs.metrics or match["name"] in SELECTION_KEYS:
        return None
    try:
        value = float(match["value"])
    except ValueError:
        raise InvalidInput(
            f"condition {text!r}: {match['value']!r} is not a number (write e.g. {match['name']}<0.5)"
        ) from None
    if not math.isfinite(value):
        raise InvalidInput(f"condition {text!r}: the value must be finite")
    return match["name"], "=" if match["op"] == "==" else match["op"], value


def split_metric_wheres(
    wheres: list[str] | tuple[str, ...] | None, feature_set: str | FeatureSet
) -> tuple[tuple[str, ...], tuple[MetricWhere, ...]]:
    """Sort ``--where`` texts into view conditions and conditions on the chosen feature set's metrics.

    A condition whose column is a metric of ``feature_set`` is read as that metric (of that set, whatever
    paper-v1's view column of the same name holds); anything else is left to :class:`Selection`.
    """
    fs = get_feature_set(feature_set)
    view, metric = [], []
    for text in wheres or ():
        condition = _metric_condition(text, fs)
        if condition is None:
            view.append(text)
        else:
            metric.append(condition)
    return tuple(view), tuple(metric)


def parse_selection_with_metrics(
    text: str | None, feature_set: str | FeatureSet
) -> tuple[Selection, tuple[MetricWhere, ...]]:
    """:func:`zoo.selection.parse_selection`, where terms comparing a metric of ``feature_set`` are split off."""
    if text is None:
        return Selection(), ()
    fs = get_feature_set(feature_set)
    terms, metric = [], []
    for term in (t for t in text.split(",") if t.strip()):
        condition = _metric_condition(term, fs)
        if condition is None:
            terms.append(term)
        else:
            metric.append(condition)
    return parse_selection(",".join(terms) if terms else None), tuple(metric)


def describe(selection: Selection, metric_wheres: tuple[MetricWhere, ...] | list[Any] = ()) -> str:
    """A selection's text form with its metric conditions appended."""
    terms = [f"{c}{op}{float(v)!r}" for c, op, v in metric_wheres]
    text = str(selection)
    return ",".join(([] if text == "all" and terms else [text]) + terms)


def metric_mask(X: np.ndarray, metrics: tuple[str, ...], wheres: tuple[MetricWhere, ...]) -> np.ndarray:
    """Rows of ``X`` (columns named ``metrics``) meeting every condition; NaN never meets one."""
    keep = np.ones(len(X), dtype=bool)
    for metric, op, value in wheres:
        column = X[:, metrics.index(metric)]
        with np.errstate(invalid="ignore"):
            keep &= np.isfinite(column) & _OPERATORS[op](column, value)
    return keep


# --- rows ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """Selected checkpoints as arrays, aligned by position.

    ``X`` holds the feature set's metrics (NaN where missing), ``y`` the target (NaN where missing),
    ``meta`` the view's :data:`META_COLUMNS` plus ``image_family`` (the source kind of the run's base dataset:
    natural, plankton, shapes, folder...; object arrays, None where the checkpoint has none) and
    ``kernel_size`` (the first layer's kernel side in pixels, from the stored delta's shape: 7 for a
    ResNet, 3 for a MobileNetV3, 4 for a ConvNeXt, 16 for a ViT-*/16; None where unknown), and
    ``reference_kinds`` each checkpoint's reference kind (random, timm, hub, file).
    """

    ids: np.ndarray
    run_ids: np.ndarray
    X: np.ndarray
    y: np.ndarray
    meta: dict[str, np.ndarray] = field(default_factory=dict)
    reference_kinds: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))

    def take(self, index: np.ndarray) -> Rows:
        return Rows(
            self.ids[index],
            self.run_ids[index],
            self.X[index],
            self.y[index],
            {k: v[index] for k, v in self.meta.items()},
            self.reference_kinds[index],
        )

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class LoadedRows:
    """Complete rows and what was left out: reference checkpoints, rows lacking the target or a metric,
    rows failing a metric condition."""

    rows: Rows
    n_reference: int
    n_incomplete: int
    n_filtered: int


def kernel_size(shape: Any) -> int | None:
    """The kernel side of a first-layer bank of ``shape`` (filters, channels, kh, kw): the larger of kh and kw;
    None for anything else."""
    if not isinstance(shape, (list, tuple)) or len(shape) != 4:
        return None
    return int(max(shape[2], shape[3]))


def kernel_sizes(rows: Rows) -> tuple[int, ...]:
    """The distinct first-layer kernel sizes among ``rows`` (those a fit trained on), ascending."""
    return tuple(sorted({int(k) for k in rows.meta.get("kernel_size", ()) if k is not None}))


def keeps_reference_checkpoints(selection: Selection) -> bool:
    """True when the selection bounds the epoch itself (then epoch-0 checkpoints are taken as selected)."""
    return selection.epoch is not None or selection.min_epoch is not None


def load_rows(
    catalog: Catalog, selection: Selection, target: str, fs: FeatureSet, metric_wheres: tuple[MetricWhere, ...] = ()
) -> LoadedRows:
    """Every usable selected checkpoint with target, metrics and grouping columns (see the module notes)."""
    columns = ("checkpoint_id", "run_id", check_target(target), *META_COLUMNS)
    rows_query = select_checkpoints(selection, catalog.dialect, columns)
    chosen = select_checkpoints(selection, catalog.dialect).order_by(None)
    metrics_query = (
        select(MetricVector.checkpoint_id, MetricValue.metric, MetricValue.value)
        .join(MetricValue, MetricValue.vector_id == MetricVector.id)
        .where(
            MetricVector.feature_set == fs.name,
            MetricVector.feature_set_version == fs.version,
            MetricVector.checkpoint_id.in_(chosen),
            MetricValue.metric.in_(fs.metrics),
        )
    )
    kinds_query = (
        select(Checkpoint.id, ReferenceWeights.kind)
        .join(ReferenceWeights, ReferenceWeights.id == Checkpoint.reference_id)
        .where(Checkpoint.id.in_(chosen))
    )
    family_query = (  # the source a run's base dataset was made from: natural, plankton, shapes, folder, ...
        select(Checkpoint.id, BaseDataset.source_kind)
        .join(Run, Run.id == Checkpoint.run_id)
        .join(DatasetVariant, DatasetVariant.id == Run.variant_id)
        .join(BaseDataset, BaseDataset.id == DatasetVariant.base_dataset_id)
        .where(Checkpoint.id.in_(chosen))
    )
    shape_query = (  # the delta's stored shape (filters, channels, kh, kw): the first layer's kernel size
        select(Checkpoint.id, Tensor.shape)
        .join(Tensor, Tensor.id == Checkpoint.delta_tensor_id)
        .where(Checkpoint.id.in_(chosen))
    )
    with catalog.session() as session:
        found = session.execute(rows_query).all()
        values = session.execute(metrics_query).all()
        kind_of = dict(session.execute(kinds_query).all())
        family_of = dict(session.execute(family_query).all())
        kernel_of = {int(i): kernel_size(shape) for i, shape in session.execute(shape_query).all()}
    ids = np.array([r[0] for r in found], dtype=np.int64)
    run_ids = np.array([-1 if r[1] is None else r[1] for r in found], dtype=np.int64)
    y = np.array([np.nan if r[2] is None else r[2] for r in found], dtype=np.float64)
    meta = {name: np.array([r[3 + j] for r in found], dtype=object) for j, name in enumerate(META_COLUMNS)}
    meta["image_family"] = np.array([family_of.get(int(i)) for i in ids], dtype=object)
    meta["kernel_size"] = np.array([kernel_of.get(int(i)) for i in ids], dtype=object)
    X = np.full((len(ids), len(fs.metrics)), np.nan)
    if values:
        column = {name: j for j, name in enumerate(fs.metrics)}
        checkpoint, metric, value = zip(*values)
        X[np.searchsorted(ids, np.array(checkpoint, dtype=np.int64)), [column[m] for m in metric]] = np.array(
            value, dtype=np.float64
        )
    rows = Rows(ids, run_ids, X, y, meta, np.array([kind_of.get(int(i)) for i in ids], dtype=object))
    reference = (
        np.array([e == 0 for e in meta["epoch"]], dtype=bool)
        if not keeps_reference_checkpoints(selection)
        else np.zeros(len(ids), bool)
    )
    complete = np.isfinite(y) & np.isfinite(X).all(axis=1)
    passes = metric_mask(X, fs.metrics, metric_wheres)
    keep = ~reference & complete & passes
    return LoadedRows(
        rows.take(np.flatnonzero(keep)),
        int(reference.sum()),
        int((~reference & ~complete).sum()),
        int((~reference & complete & ~passes).sum()),
    )


def load_feature_matrix(
    catalog: Catalog, selection: Selection, target: str, feature_set: str | FeatureSet = DEFAULT_FEATURE_SET
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """The meta-model's inputs for a selection: checkpoints that have the target and every metric.

    Reference (epoch-0) checkpoints are left out unless the selection bounds the epoch (module notes).

    Parameters
    ----------
    catalog : Catalog
    selection : Selection
    target : str
        One of :data:`TARGETS` (labels of external checkpoints override measured values).
    feature_set : str or FeatureSet, default "paper-v1"
        Any registered feature set.

    Returns
    -------
    ids : ndarray (n,) int64
        Checkpoint ids, ascending.
    run_ids : ndarray (n,) int64
        Training run of each checkpoint; -1 for external (hub/file) checkpoints.
    X : ndarray (n, m) float64
        Metric vectors, columns in ``feature_names`` order.
    y : ndarray (n,) float64
        The target.
    feature_names : tuple of str
        The feature set's metrics.
    """
    fs = get_feature_set(feature_set)
    rows = load_rows(catalog, selection, target, fs).rows
    return rows.ids, rows.run_ids, rows.X, rows.y, fs.metrics


# --- groups and splits -----------------------------------------------------------------------------------


def split_groups(rows: Rows, split: str) -> np.ndarray:
    """One group label per row: its base dataset × variant, its run, or its base dataset.

    An external checkpoint (no run, no variant) is a group of its own.
    """
    check_split(split)
    own = np.array([f"checkpoint {i}" for i in rows.ids], dtype=object)
    if split == "run":
        return np.where(rows.run_ids >= 0, np.array([f"run {r}" for r in rows.run_ids], dtype=object), own)
    bases, variants = rows.meta.get("base_dataset"), rows.meta.get("variant")
    if bases is None or variants is None:
        return own
    labels = [
        own[i] if b is None else (f"{b}" if split == "base" else f"{b} × {v}")
        for i, (b, v) in enumerate(zip(bases, variants))
    ]
    return np.array(labels, dtype=object)


def split_by_group(groups: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/test split that keeps each group on one side.

    Returns
    -------
    train_index, test_index : ndarray of int
        About ``test_fraction`` of the groups are test: at least two where there are three or more (one
        base × variant group has one target value, on which R² is undefined), at least one, never all.
    """
    if not 0 < test_fraction < 1:
        raise InvalidInput(
            f"`test_fraction` must be between 0 and 1 (exclusive), got {test_fraction}", param="test_fraction"
        )
    unique = np.array(sorted(set(groups.tolist())), dtype=object)
    if len(unique) < 2:
        raise InvalidInput(
            f"cannot split {len(unique)} group(s) into train and test; select more, or choose another `split`",
            mentions=("split",),
        )
    n_test = int(np.clip(round(test_fraction * len(unique)), min(2, len(unique) - 1), len(unique) - 1))
    test_groups = set(np.random.default_rng(seed).permutation(len(unique))[:n_test].tolist())
    is_test = np.isin(np.searchsorted(unique, groups), list(test_groups))
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def split_by_run(
    ids: np.ndarray, run_ids: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/test split by training run (an external checkpoint is its own group)."""
    groups = np.array([f"run {r}" if r >= 0 else f"checkpoint {i}" for i, r in zip(ids, run_ids)], dtype=object)
    return split_by_group(groups, test_fraction, seed)


def check_metric_names(wheres: tuple[MetricWhere, ...], fs: FeatureSet) -> None:
    unknown = [c for c, _, _ in wheres if c not in fs.metrics]
    if unknown:
        raise InvalidInput(f"{', '.join(unknown)} is not a metric of {fs.key}; its metrics: {', '.join(fs.metrics)}")


__all__ = [
    "DEFAULT_SPLIT",
    "META_COLUMNS",
    "SPLITS",
    "TARGETS",
    "LoadedRows",
    "MetricWhere",
    "Rows",
    "check_split",
    "check_target",
    "describe",
    "keeps_reference_checkpoints",
    "load_feature_matrix",
    "load_rows",
    "metric_mask",
    "parse_selection_with_metrics",
    "split_by_group",
    "split_by_run",
    "split_groups",
    "split_metric_wheres",
]
