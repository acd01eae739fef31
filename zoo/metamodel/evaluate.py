"""``zoo evaluate``: the generalization matrix of a meta-model.

For one target and one selection, each *axis* holds out one value of a catalog field at a time, trains
on everything else and tests on the held-out checkpoints. A cell reports n_train, n_test, R² in the
fitting space (the log target by default: scale-like properties span orders of magnitude), R² on the log
target and Spearman ρ, each the mean over forest seeds. Axes (those with at least two values):

* ``architecture``: leave one architecture out (does it transfer to an unseen network?);
* ``base dataset``: leave one base dataset out (to an unseen dataset; its siblings rendered or cropped
  from the same source may stay in training);
* ``image family``: leave one image source out (natural, plankton, shapes, ...): the unseen kind of data;
* ``optimizer``, ``learning rate``, ``image size``: leave one training recipe value out;
* ``variant (k-fold)``: k folds over base dataset × variant groups (to unseen property values of known
  data and networks: the honest version of a random split). Besides one cell per fold, the last cell
  scores the folds' predictions pooled (a cross-validated score: one fold holds few distinct targets).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.catalog import Catalog
from zoo.errors import InvalidInput
from zoo.filters import DEFAULT_FEATURE_SET, FeatureSet, get_feature_set
from zoo.metamodel.features import (
    MetricWhere,
    Rows,
    check_metric_names,
    check_target,
    describe,
    load_rows,
    split_groups,
)
from zoo.metamodel.fitting import check_forest_settings, fit_and_score, fit_space
from zoo.metamodel.scores import Scores, score_predictions
from zoo.selection import Selection

DEFAULT_FOLDS = 5
POOLED_AXIS = "variant (k-fold)"
DEFAULT_EVALUATE_REPEATS = 3
# axis name -> (column of the rows' meta, what holding one value out measures)
AXES: dict[str, tuple[str | None, str]] = {
    "architecture": (
        "arch",
        "trained on every other architecture, tested on the held-out one: transfer to an unseen network",
    ),
    "base dataset": (
        "base_dataset",
        "trained on every other base dataset, tested on the held-out one: transfer to an unseen dataset (datasets "
        "made from the same source, e.g. other render scales, may stay in training)",
    ),
    "image family": (
        "image_family",
        "trained on every other image source (natural photographs, plankton, shapes, a folder...), tested on "
        "the held-out one: transfer to an unseen kind of data (its sibling datasets held out with it)",
    ),
    "optimizer": (
        "optimizer",
        "trained on runs of the other optimizers, tested on the held-out one: transfer across training recipes",
    ),
    "learning rate": (
        "lr",
        "trained on runs of the other learning rates, tested on the held-out one: transfer to another delta size",
    ),
    "image size": (
        "image_size",
        "trained on runs at other image sizes, tested on the held-out size: transfer across input resolution",
    ),
    "variant (k-fold)": (
        None,
        "k folds over base dataset × variant groups: each test property value is unseen in training, "
        "architectures and datasets are shared",
    ),
}


@dataclass(frozen=True)
class MatrixCell:
    """One held-out split. Scores are means over forest seeds (None when undefined or not fitted)."""

    axis: str
    held_out: str
    n_train: int
    n_test: int
    r2: float | None
    r2_std: float | None
    r2_log: float | None
    spearman: float | None
    note: str = ""


@dataclass(frozen=True)
class GeneralizationMatrix:
    """Every cell of every axis the selection supports, with what it was fitted on."""

    target: str
    feature_set: str
    selection: str
    log_target: bool
    r2_space: str
    n_checkpoints: int
    n_reference_left_out: int
    n_estimators: int
    repeats: int
    folds: int
    axes: tuple[str, ...]
    cells: tuple[MatrixCell, ...]

    def row(self, axis: str) -> list[MatrixCell]:
        return [cell for cell in self.cells if cell.axis == axis]


def _label(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _holdouts(rows: Rows, folds: int, seed: int) -> list[tuple[str, str, np.ndarray]]:
    """(axis, held-out label, test mask) for every cell."""
    cells = []
    for axis, (column, _) in AXES.items():
        if column is None:
            continue
        values = rows.meta[column]
        distinct = sorted({v for v in values if v is not None}, key=lambda v: (str(type(v)), v))
        if len(distinct) >= 2:
            cells += [(axis, _label(v), np.array([x == v for x in values], dtype=bool)) for v in distinct]
    groups = split_groups(rows, "variant")
    unique = np.array(sorted(set(groups.tolist())), dtype=object)
    k = min(folds, len(unique))
    if k >= 2:
        order = np.random.default_rng(seed).permutation(len(unique))
        fold_of = {unique[g]: i % k for i, g in enumerate(order)}
        for fold in range(k):
            cells.append(
                ("variant (k-fold)", f"fold {fold + 1}/{k}", np.array([fold_of[g] == fold for g in groups], dtype=bool))
            )
    return cells


def _cell(
    axis: str,
    held_out: str,
    rows: Rows,
    test: np.ndarray,
    n_estimators: int,
    seeds: tuple[int, ...],
    log_target: bool,
    seed: int,
) -> tuple[MatrixCell, np.ndarray | None]:
    """A cell, and its test predictions per seed in the target's units (None when not fitted)."""
    train_rows, test_rows = rows.take(np.flatnonzero(~test)), rows.take(np.flatnonzero(test))
    if len(train_rows) < 2 or len(test_rows) < 2:
        return MatrixCell(
            axis,
            held_out,
            len(train_rows),
            len(test_rows),
            None,
            None,
            None,
            None,
            "fewer than 2 checkpoints on a side",
        ), None
    trained, scores = fit_and_score(train_rows, test_rows, n_estimators, seeds, log_target, seed)
    return _scored(axis, held_out, len(train_rows), len(test_rows), scores), fit_space(log_target)[1](
        trained.predictions
    )


def _scored(axis: str, held_out: str, n_train: int, n_test: int, scores: Scores) -> MatrixCell:
    finite = bool(np.isfinite(scores.r2_mean))
    return MatrixCell(
        axis,
        held_out,
        n_train,
        n_test,
        float(scores.r2_mean) if finite else None,
        scores.r2_std if finite else None,
        scores.r2_log,
        scores.spearman,
        "" if finite else "R² undefined: the held-out target is constant",
    )


def _pooled(
    rows: Rows, folds: list[tuple[np.ndarray, np.ndarray | None]], log_target: bool, seed: int
) -> MatrixCell | None:
    """The k folds' test predictions scored together: a cross-validated score over every variant group."""
    fitted = [(mask, predicted) for mask, predicted in folds if predicted is not None]
    if len(fitted) < 2:
        return None
    index = np.concatenate([np.flatnonzero(mask) for mask, _ in fitted])
    predicted = np.concatenate([p for _, p in fitted], axis=1)
    test = rows.take(index)
    scores = score_predictions(
        test.y,
        predicted,
        log_target=log_target,
        kinds=test.meta.get("variant_kind"),
        groups=split_groups(test, "run"),
        seed=seed,
    )
    return _scored(POOLED_AXIS, "all folds, pooled", len(rows) - len(index) // len(fitted), len(index), scores)


def evaluate_generalization(
    catalog: Catalog,
    target: str,
    selection: Selection | None = None,
    *,
    feature_set: str | FeatureSet = DEFAULT_FEATURE_SET,
    log_target: bool = True,
    n_estimators: int = 30,
    repeats: int = DEFAULT_EVALUATE_REPEATS,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    metric_wheres: tuple[MetricWhere, ...] = (),
    on_progress: Callable[[int, int], None] | None = None,
) -> GeneralizationMatrix:
    """Fit and score every cell of the generalization matrix (nothing is stored).

    Parameters
    ----------
    catalog : Catalog
    target : str
        One of :data:`zoo.metamodel.TARGETS`.
    selection : Selection, optional
        Checkpoints to draw both sides from (default: all). Reference (epoch-0) checkpoints are left out
        unless it bounds the epoch.
    feature_set : str or FeatureSet, default "paper-v1"
        Any registered feature set.
    log_target : bool, default True
        Fit and score on ``log(target)`` (False: the raw target).
    n_estimators, repeats : int
        Trees per forest and forests (seeds ``seed ..``) per cell.
    folds : int, default 5
        k of the grouped leave-variant-out axis (at most the number of base × variant groups).
    seed : int
    metric_wheres : tuple of (metric, op, value)
        Conditions on the feature set's metrics.
    on_progress : callable, optional
        Called as ``on_progress(done, total)`` with the cells fitted so far and the cells to fit: once
        with ``done=0`` when the cells are known, then after each cell.

    Returns
    -------
    GeneralizationMatrix

    Raises
    ------
    InvalidInput
        Unknown target, bad settings, too few usable checkpoints, non-positive values with ``log_target``.
    """
    check_target(target)
    check_forest_settings(n_estimators, repeats, folds, seed=seed)
    fs = get_feature_set(feature_set)
    check_metric_names(metric_wheres, fs)
    selection = selection or Selection()
    loaded = load_rows(catalog, selection, target, fs, metric_wheres)
    rows = loaded.rows
    if len(rows) < 4:
        raise InvalidInput(
            f"the selection has {len(rows)} usable checkpoints with {target} and {fs.key} metrics (need 4); "
            "widen it or run `zoo featurize`"
        )
    if log_target and rows.y.min() <= 0:
        raise InvalidInput(
            f"a log target needs positive {target}; {int((rows.y <= 0).sum())} checkpoints have {target} <= 0 "
            "(use `log_target=False`)",
            mentions=("log_target",),
        )
    seeds = tuple(seed + i for i in range(repeats))
    holdouts = _holdouts(rows, folds, seed)
    cells, fold_predictions = [], []
    if on_progress is not None:
        on_progress(0, len(holdouts))
    for done, (axis, label, mask) in enumerate(holdouts, start=1):
        cell, predicted = _cell(axis, label, rows, mask, n_estimators, seeds, log_target, seed)
        cells.append(cell)
        if axis == POOLED_AXIS:
            fold_predictions.append((mask, predicted))
        if on_progress is not None:
            on_progress(done, len(holdouts))
    pooled = _pooled(rows, fold_predictions, log_target, seed)
    cells += [pooled] if pooled is not None else []
    axes = tuple(dict.fromkeys(cell.axis for cell in cells))
    return GeneralizationMatrix(
        target,
        fs.key,
        describe(selection, metric_wheres),
        log_target,
        "log" if log_target else "raw",
        len(rows),
        loaded.n_reference,
        n_estimators,
        repeats,
        folds,
        axes,
        tuple(cells),
    )


def axis_meaning(axis: str) -> str:
    """What holding out one value of ``axis`` measures, in words."""
    return AXES[axis][1]
