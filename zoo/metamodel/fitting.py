"""Fitting meta-models (paper §5): random forests from metric vectors to a training-data property.

A fit trains ``repeats`` forests (seeds ``seed, seed+1, ...``) of ``n_estimators`` trees on the metric
vectors of a train selection and scores them on a test selection. The test side is its own selection
(which must not share a checkpoint with the train side) or a seeded fraction of the one selection's
*groups*: base dataset × variant by default (``split="variant"``), or training runs, or base datasets.

Features are scaled inside the fit (:mod:`zoo.metamodel.forest`); reference (epoch-0) checkpoints are
left out unless the selection bounds the epoch (:mod:`zoo.metamodel.features`). A stored fit keeps its
selections, split, seeds, every score, importances, per-seed test predictions, and one ``.npz`` with the
trees of every seed, the scaling and the applicability domain, so ``zoo predict`` needs no pickle.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from zoo.catalog import Catalog
from zoo.errors import InvalidInput
from zoo.filters import DEFAULT_FEATURE_SET, FeatureSet, get_feature_set
from zoo.metamodel.features import (
    DEFAULT_SPLIT,
    LoadedRows,
    MetricWhere,
    Rows,
    check_metric_names,
    check_split,
    check_target,
    describe,
    kernel_sizes,
    load_rows,
    split_by_group,
    split_groups,
)
from zoo.metamodel.forest import DOMAIN_PERCENTILE, apply_scaler, domain_arrays, fit_scaler, forests_arrays, save_forest
from zoo.metamodel.scores import Scores, score_predictions
from zoo.selection import Selection

DEFAULT_TREES = 30  # the paper's forests
DEFAULT_REPEATS = 5  # the paper's five training runs per forest
DEFAULT_TEST_FRACTION = 0.25  # used when a fit names no test selection


@dataclass(frozen=True)
class PredictionRecord:
    """A test checkpoint's truth and its prediction averaged over the seeds (in the target's units)."""

    checkpoint_id: int
    run_id: int | None
    y_true: float
    y_pred: float


@dataclass(frozen=True)
class FitResult:
    """The outcome of :func:`fit_meta_model`.

    ``r2_*`` are measured in the fitting space: the raw target, or its logarithm when ``log_target``
    (``r2_space`` says which); ``r2_std`` is over forest seeds, ``r2_bootstrap_std`` over bootstrap
    resamples of the test runs. ``r2_log`` is R² on the log target whatever the space, ``spearman`` the
    rank correlation, ``r2_by_kind`` R² per variant kind with at least two test checkpoints. ``split`` is
    ``variant``, ``run`` or ``base`` for a test fraction and ``selections`` for two selections.
    ``n_dropped`` counts selected checkpoints lacking the target or a metric, ``n_reference_left_out`` the
    epoch-0 (reference) checkpoints left out, ``n_shared_runs`` training runs with checkpoints on both
    sides. ``id`` and ``model_sha256`` are None when the fit was not stored.
    """

    id: int | None
    target: str
    feature_set: str
    train_selection: str
    test_selection: str
    test_fraction: float | None
    split: str
    log_target: bool
    r2_space: str
    n_estimators: int
    seeds: tuple[int, ...]
    n_train: int
    n_test: int
    n_dropped: int
    n_reference_left_out: int
    n_shared_runs: int
    r2_mean: float
    r2_std: float
    r2_scores: tuple[float, ...]
    r2_bootstrap_std: float | None
    r2_log: float | None
    r2_log_std: float | None
    spearman: float | None
    spearman_std: float | None
    r2_by_kind: dict[str, float]
    n_by_kind: dict[str, int]
    importances: dict[str, float]
    reference_kinds: tuple[str, ...]
    predictions: tuple[PredictionRecord, ...]
    model_sha256: str | None
    label: str | None
    kernel_sizes: tuple[int, ...] = ()  # first-layer kernel sides of the training checkpoints


# --- training on arrays ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainedForests:
    """Forests of every seed trained on scaled features, and their test predictions in the fitting space."""

    forests: tuple[Any, ...]
    scaler: dict[str, np.ndarray]
    predictions: np.ndarray  # (seeds, n_test), fitting space
    importances: np.ndarray  # (m,), mean over seeds


def train_forests(
    X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, n_estimators: int, seeds: tuple[int, ...]
) -> TrainedForests:
    """One random forest per seed (the paper's settings otherwise) on scaled features.

    ``y_train`` is already in the fitting space. Scaling (:func:`zoo.metamodel.forest.fit_scaler`) is fitted
    on ``X_train`` and applied to both sides, so a feature of any magnitude (``filter_variance`` ~1e-8)
    can be split on.
    """
    from sklearn.ensemble import RandomForestRegressor

    scaler = fit_scaler(X_train)
    Z_train, Z_test = apply_scaler(scaler, X_train), apply_scaler(scaler, X_test)
    forests, predictions, importances = [], np.empty((len(seeds), len(X_test))), []
    for i, seed in enumerate(seeds):
        forest = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=-1).fit(Z_train, y_train)
        # Predict on one thread: with n_jobs=-1 the trees are summed in the order threads finish, so tied
        # predictions break differently from run to run and Spearman's rho is not reproducible.
        predictions[i] = forest.set_params(n_jobs=1).predict(Z_test) if len(X_test) else []
        importances.append(forest.feature_importances_)
        forests.append(forest)
    return TrainedForests(tuple(forests), scaler, predictions, np.mean(importances, axis=0))


def fit_space(log_target: bool) -> tuple[Any, Any]:
    """(forward, back) maps between the target's units and the fitting space."""
    return (np.log, np.exp) if log_target else (np.asarray, np.asarray)


def fit_and_score(
    train: Rows, test: Rows, n_estimators: int, seeds: tuple[int, ...], log_target: bool, seed: int
) -> tuple[TrainedForests, Scores]:
    """Train on ``train``, score on ``test`` (bootstrap over the test side's runs)."""
    forward, back = fit_space(log_target)
    trained = train_forests(train.X, forward(train.y), test.X, n_estimators, seeds)
    scores = score_predictions(
        test.y,
        back(trained.predictions),
        log_target=log_target,
        kinds=test.meta.get("variant_kind"),
        groups=split_groups(test, "run"),
        seed=seed,
    )
    return trained, scores


# --- fitting from the catalog ----------------------------------------------------------------------------


MAX_TREES = 10_000  # per forest; the paper uses 30
MAX_REPEATS = 1_000  # forests (seeds) per fit or cell
MAX_SEED = 2**32 - 1  # numpy's and scikit-learn's seeds are 32-bit


def check_forest_settings(n_estimators: int, repeats: int, folds: int | None = None, seed: int | None = None) -> None:
    """Refuse fewer than one tree or forest (and, for a cross-validation, fewer than two folds), more than
    :data:`MAX_TREES` trees or :data:`MAX_REPEATS` forests, and a seed outside 0..2**32-1."""
    for name, value, least in (("n_estimators", n_estimators, 1), ("repeats", repeats, 1), ("folds", folds, 2)):
        if value is not None and value < least:
            raise InvalidInput(f"`{name}` must be at least {least}, got {value}", param=name)
    for name, value, most in (("n_estimators", n_estimators, MAX_TREES), ("repeats", repeats, MAX_REPEATS)):
        if value > most:
            raise InvalidInput(f"`{name}` must be at most {most:,}, got {value:,}", param=name)
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise InvalidInput(f"`seed` must be in 0..{MAX_SEED}, got {seed}", param="seed")


def check_settings(
    n_estimators: int, repeats: int, test: Selection | None, test_fraction: float | None, split: str | None
) -> tuple[float | None, str]:
    """Validate the settings; returns the test fraction in force (None with a test selection) and the split."""
    check_forest_settings(n_estimators, repeats)
    if test is not None and test_fraction is not None:
        raise InvalidInput("give either a test selection or `test_fraction`, not both", param="test_fraction")
    if test is not None and split is not None:
        raise InvalidInput(
            "`split` chooses how `test_fraction` holds out groups; with a test selection there is nothing to split",
            param="split",
            mentions=("test_fraction",),
        )
    fraction = None if test is not None else DEFAULT_TEST_FRACTION if test_fraction is None else test_fraction
    if fraction is not None and not 0 < fraction < 1:
        raise InvalidInput(
            f"`test_fraction` must be between 0 and 1 (exclusive), got {fraction}", param="test_fraction"
        )
    return fraction, "selections" if test is not None else check_split(split or DEFAULT_SPLIT)


@dataclass(frozen=True)
class Sides:
    train: Rows
    test: Rows
    n_dropped: int
    n_reference: int


def _sides(
    catalog: Catalog,
    target: str,
    train: Selection,
    test: Selection | None,
    fraction: float | None,
    split: str,
    seed: int,
    fs: FeatureSet,
    train_where: tuple[MetricWhere, ...],
    test_where: tuple[MetricWhere, ...],
) -> Sides:
    if test is None:
        loaded = load_rows(catalog, train, target, fs, train_where)
        train_index, test_index = split_by_group(
            split_groups(loaded.rows, split), fraction or DEFAULT_TEST_FRACTION, seed
        )
        return Sides(
            loaded.rows.take(train_index), loaded.rows.take(test_index), loaded.n_incomplete, loaded.n_reference
        )
    a, b = load_rows(catalog, train, target, fs, train_where), load_rows(catalog, test, target, fs, test_where)
    overlap = np.intersect1d(a.rows.ids, b.rows.ids).size
    if overlap:
        raise InvalidInput(
            f"the train and test selections share {overlap} checkpoints; make them disjoint "
            "(e.g. train on resnet50 and test on resnet18) or split one selection with `test_fraction`",
            mentions=("test_fraction",),
        )
    return Sides(a.rows, b.rows, a.n_incomplete + b.n_incomplete, a.n_reference + b.n_reference)


def check_sizes(sides: Sides, target: str, log_target: bool) -> None:
    for name, rows in (("train", sides.train), ("test", sides.test)):
        if len(rows) < 2:
            reference = (
                f", {sides.n_reference} reference (epoch-0) checkpoints left out: `min_epoch=0` keeps them"
                if sides.n_reference
                else ""
            )
            raise InvalidInput(
                f"the {name} side has {len(rows)} usable checkpoints (need 2; {sides.n_dropped} selected "
                f"checkpoints lack {target} or a metric{reference}); widen the selection or run `zoo featurize`",
                mentions=("min_epoch",),
            )
    if np.ptp(sides.test.y) == 0:
        raise InvalidInput(
            f"{target} takes one value ({sides.test.y[0]:g}) on every test checkpoint, so R² is undefined; "
            f"widen the test selection to checkpoints whose training data differ in {target}"
        )
    if log_target and (sides.train.y.min() <= 0 or sides.test.y.min() <= 0):
        bad = int((sides.train.y <= 0).sum() + (sides.test.y <= 0).sum())
        raise InvalidInput(
            f"a log target needs positive {target}; {bad} checkpoints have {target} <= 0 (use the raw target)"
        )


def fit_meta_model(
    catalog: Catalog,
    target: str,
    train: Selection,
    test: Selection | None = None,
    *,
    test_fraction: float | None = None,
    split: str | None = None,
    feature_set: str | FeatureSet = DEFAULT_FEATURE_SET,
    n_estimators: int = DEFAULT_TREES,
    repeats: int = DEFAULT_REPEATS,
    log_target: bool = False,
    seed: int = 0,
    label: str | None = None,
    store: bool = True,
    train_where: tuple[MetricWhere, ...] = (),
    test_where: tuple[MetricWhere, ...] = (),
) -> FitResult:
    """Fit random forests from metric vectors to ``target`` and score them on a test side.

    Parameters
    ----------
    catalog : Catalog
    target : str
        Image property to predict: one of :data:`zoo.metamodel.TARGETS`.
    train : Selection
        Checkpoints to train on. Epoch-0 (reference) checkpoints are left out unless it bounds the epoch.
    test : Selection, optional
        Checkpoints to test on; must share no checkpoint with ``train``. Without it, ``train`` is split
        by group with ``test_fraction`` (default :data:`DEFAULT_TEST_FRACTION`).
    test_fraction : float, optional
        Fraction of the groups of ``train`` held out for testing (seeded by ``seed``).
    split : {"variant", "run", "base"}, optional
        The groups of a test fraction: base dataset × variant (default), training run, base dataset.
    feature_set : str or FeatureSet, default "paper-v1"
        Any registered feature set.
    n_estimators : int, default 30
        Trees per forest.
    repeats : int, default 5
        Forests trained, with seeds ``seed .. seed + repeats - 1``.
    log_target : bool, default False
        Fit on ``log(target)`` and report ``r2_*`` in log space (predictions are in the target's units).
    seed : int, default 0
    label : str, optional
        A note stored with the fit.
    store : bool, default True
        Store the fit, its predictions and its forests (one ``.npz``, then one write transaction).
    train_where, test_where : tuple of (metric, op, value)
        Conditions on the feature set's own metrics (see :func:`zoo.metamodel.split_metric_wheres`).

    Returns
    -------
    FitResult

    Raises
    ------
    InvalidInput
        Unknown target or split, overlapping selections (with the overlap count), too few usable
        checkpoints, non-positive values with ``log_target``, bad settings.
    """
    check_target(target)
    check_forest_settings(n_estimators, repeats, seed=seed)
    fraction, split_in_force = check_settings(n_estimators, repeats, test, test_fraction, split)
    fs = get_feature_set(feature_set)
    check_metric_names(train_where + test_where, fs)
    sides = _sides(catalog, target, train, test, fraction, split_in_force, seed, fs, train_where, test_where)
    check_sizes(sides, target, log_target)
    seeds = tuple(seed + i for i in range(repeats))
    trained, scores = fit_and_score(sides.train, sides.test, n_estimators, seeds, log_target, seed)
    _, back = fit_space(log_target)
    mean_prediction = back(trained.predictions.mean(axis=0))
    result = FitResult(
        id=None,
        target=target,
        feature_set=fs.key,
        train_selection=describe(train, train_where),
        test_selection=describe(test if test is not None else train, test_where if test is not None else train_where),
        test_fraction=fraction,
        split=split_in_force,
        log_target=log_target,
        r2_space="log" if log_target else "raw",
        n_estimators=n_estimators,
        seeds=seeds,
        n_train=len(sides.train),
        n_test=len(sides.test),
        n_dropped=sides.n_dropped,
        n_reference_left_out=sides.n_reference,
        n_shared_runs=int(np.intersect1d(sides.train.run_ids[sides.train.run_ids >= 0], sides.test.run_ids).size),
        r2_mean=scores.r2_mean,
        r2_std=scores.r2_std,
        r2_scores=scores.r2_scores,
        r2_bootstrap_std=scores.r2_bootstrap_std,
        r2_log=scores.r2_log,
        r2_log_std=scores.r2_log_std,
        spearman=scores.spearman,
        spearman_std=scores.spearman_std,
        r2_by_kind=scores.r2_by_kind,
        n_by_kind=scores.n_by_kind,
        importances=dict(zip(fs.metrics, trained.importances.tolist())),
        reference_kinds=tuple(sorted({str(k) for k in sides.train.reference_kinds if k is not None})),
        kernel_sizes=kernel_sizes(sides.train),
        predictions=tuple(
            PredictionRecord(int(c), None if r < 0 else int(r), float(t), float(p))
            for c, r, t, p in zip(sides.test.ids, sides.test.run_ids, sides.test.y, mean_prediction)
        ),
        model_sha256=None,
        label=label,
    )
    if not store:
        return result
    arrays = forests_arrays(trained.forests, fs.metrics) | trained.scaler
    arrays |= domain_arrays(apply_scaler(trained.scaler, sides.train.X), split_groups(sides.train, "run"), seed)
    sha = save_forest(catalog.store, arrays)  # the artifact first, then the rows naming it
    fit_id = _store_fit(
        catalog, result, fs, train, test, sha, sides.test, back(trained.predictions), train_where, test_where
    )
    return replace(result, id=fit_id, model_sha256=sha)


def fit_details(
    result: FitResult, train_where: tuple[MetricWhere, ...], test_where: tuple[MetricWhere, ...]
) -> dict[str, Any]:
    """What a stored fit keeps beside its columns (the ``details`` JSON)."""
    return {
        "split": result.split,
        "n_dropped": result.n_dropped,
        "n_reference_left_out": result.n_reference_left_out,
        "r2_bootstrap_std": result.r2_bootstrap_std,
        "r2_log": result.r2_log,
        "r2_log_std": result.r2_log_std,
        "spearman": result.spearman,
        "spearman_std": result.spearman_std,
        "r2_by_kind": result.r2_by_kind,
        "n_by_kind": result.n_by_kind,
        "reference_kinds": list(result.reference_kinds),
        "kernel_sizes": list(result.kernel_sizes),
        "train_where": [list(w) for w in train_where],
        "test_where": [list(w) for w in test_where],
        "domain_percentile": DOMAIN_PERCENTILE,
    }


def _store_fit(
    catalog: Catalog,
    result: FitResult,
    fs: FeatureSet,
    train: Selection,
    test: Selection | None,
    sha: str,
    test_rows: Rows,
    predicted: np.ndarray,
    train_where: tuple[MetricWhere, ...],
    test_where: tuple[MetricWhere, ...],
) -> int:
    """The fit row and a prediction row per (test checkpoint, seed), stored in one transaction."""
    from zoo.metamodel.stored import store_fit  # zoo.metamodel.stored imports this module's records

    columns = dict(
        target=result.target,
        feature_set=fs.name,
        feature_set_version=fs.version,
        train_selection=train.to_dict(),
        test_selection=(test if test is not None else train).to_dict(),
        test_fraction=result.test_fraction,
        log_target=result.log_target,
        n_estimators=result.n_estimators,
        seeds=list(result.seeds),
        n_train=result.n_train,
        n_test=result.n_test,
        r2_mean=_finite(result.r2_mean),
        r2_std=result.r2_std,
        r2_scores=[_finite(s) for s in result.r2_scores],
        importances=result.importances,
        model_sha256=sha,
        label=result.label,
        details=fit_details(result, train_where, test_where if test is not None else train_where),
    )
    predictions = [
        {"checkpoint_id": int(c), "seed": s, "y_true": float(t), "y_pred": float(p)}
        for s, row in zip(result.seeds, predicted)
        for c, t, p in zip(test_rows.ids, test_rows.y, row)
    ]
    return store_fit(catalog, columns, predictions)


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


__all__ = [
    "DEFAULT_REPEATS",
    "DEFAULT_TEST_FRACTION",
    "DEFAULT_TREES",
    "FitResult",
    "LoadedRows",
    "PredictionRecord",
    "TrainedForests",
    "check_forest_settings",
    "check_settings",
    "fit_and_score",
    "fit_meta_model",
    "fit_space",
    "train_forests",
]
