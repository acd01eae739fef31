"""Meta-models (paper §5): random forests from first-layer metric vectors to training-data properties.

A fit trains ``repeats`` forests (seeds ``seed, seed+1, ...``) of ``n_estimators`` trees on the metric
vectors of a train selection and scores each on a test selection (R², Table 1's mean ± std). The test side
is either its own selection, which must not share a checkpoint with the train side, or a seeded fraction
of the one selection, split by training run so that no run has checkpoints on both sides.

Every stored fit keeps its selections, seeds, scores, importances and per-seed test predictions, and the
forest of its first seed as plain arrays (an ``.npz`` in the artifact store, read back without pickle), so
``zoo predict`` can apply it to a model file with a vectorized numpy traversal of the trees.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Sequence

import numpy as np
from sqlalchemy import insert, select

from zoo.catalog import Catalog
from zoo.db.models import Fit, MetricValue, MetricVector, Prediction
from zoo.errors import InvalidInput, NotFound
from zoo.filters import DEFAULT_FEATURE_SET, FeatureSet, get_feature_set
from zoo.selection import PROPERTY_COLUMNS, Selection, select_checkpoints
from zoo.store import ArtifactStore

TARGETS: tuple[str, ...] = PROPERTY_COLUMNS
DEFAULT_TREES = 30  # the paper's forests
DEFAULT_REPEATS = 5  # the paper's five training runs per forest
DEFAULT_TEST_FRACTION = 0.25  # used when a fit names no test selection


# --- records ---------------------------------------------------------------------------------------------


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

    ``r2_*`` are measured on the raw target, or on its logarithm when ``log_target`` (``r2_space`` says
    which). ``n_dropped`` counts selected checkpoints left out for lacking the target or a metric;
    ``n_shared_runs`` counts training runs with checkpoints on both sides (possible with two selections).
    ``id`` and ``model_sha256`` are None when the fit was not stored.
    """

    id: int | None
    target: str
    feature_set: str
    train_selection: str
    test_selection: str
    test_fraction: float | None
    log_target: bool
    r2_space: str
    n_estimators: int
    seeds: tuple[int, ...]
    n_train: int
    n_test: int
    n_dropped: int
    n_shared_runs: int
    r2_mean: float
    r2_std: float
    r2_scores: tuple[float, ...]
    importances: dict[str, float]
    predictions: tuple[PredictionRecord, ...]
    model_sha256: str | None
    label: str | None


@dataclass(frozen=True)
class FitRecord:
    """A stored fit, as ``zoo fits`` lists it (selections in their text form)."""

    id: int
    created_at: datetime
    target: str
    feature_set: str
    train_selection: str
    test_selection: str
    test_fraction: float | None
    log_target: bool
    n_estimators: int
    seeds: tuple[int, ...]
    n_train: int
    n_test: int
    r2_mean: float | None
    r2_std: float | None
    r2_scores: tuple[float, ...]
    importances: dict[str, float]
    model_sha256: str | None
    label: str | None

    @property
    def r2_space(self) -> str:
        return "log" if self.log_target else "raw"


def _fit_record(row: Fit) -> FitRecord:
    return FitRecord(
        id=row.id, created_at=row.created_at, target=row.target, feature_set=f"{row.feature_set}-v{row.feature_set_version}",
        train_selection=str(Selection.from_dict(row.train_selection)), test_selection=str(Selection.from_dict(row.test_selection)),
        test_fraction=row.test_fraction, log_target=row.log_target, n_estimators=row.n_estimators, seeds=tuple(row.seeds),
        n_train=row.n_train, n_test=row.n_test, r2_mean=row.r2_mean, r2_std=row.r2_std, r2_scores=tuple(row.r2_scores),
        importances=dict(row.importances), model_sha256=row.model_sha256, label=row.label,
    )


# --- feature matrices ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rows:
    ids: np.ndarray  # (n,) int64, ascending
    run_ids: np.ndarray  # (n,) int64, -1 for external checkpoints
    X: np.ndarray  # (n, m) float64, NaN where a metric is missing
    y: np.ndarray  # (n,) float64, NaN where the target is missing

    def take(self, index: np.ndarray) -> "_Rows":
        return _Rows(self.ids[index], self.run_ids[index], self.X[index], self.y[index])


def _check_target(target: str) -> str:
    if target not in TARGETS:
        raise InvalidInput(f"unknown target {target!r}; targets: {', '.join(TARGETS)}")
    return target


def _load_rows(catalog: Catalog, selection: Selection, target: str, fs: FeatureSet) -> _Rows:
    """Every selected checkpoint with its target and its metric vector of ``fs`` (NaN where missing)."""
    rows_query = select_checkpoints(selection, catalog.dialect, ("checkpoint_id", "run_id", _check_target(target)))
    chosen = select_checkpoints(selection, catalog.dialect).order_by(None)
    metrics_query = (
        select(MetricVector.checkpoint_id, MetricValue.metric, MetricValue.value)
        .join(MetricValue, MetricValue.vector_id == MetricVector.id)
        .where(MetricVector.feature_set == fs.name, MetricVector.feature_set_version == fs.version,
               MetricVector.checkpoint_id.in_(chosen), MetricValue.metric.in_(fs.metrics))
    )
    with catalog.session() as session:
        rows = session.execute(rows_query).all()
        values = session.execute(metrics_query).all()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    run_ids = np.array([-1 if r[1] is None else r[1] for r in rows], dtype=np.int64)
    y = np.array([np.nan if r[2] is None else r[2] for r in rows], dtype=np.float64)
    X = np.full((len(ids), len(fs.metrics)), np.nan)
    if values:
        column = {name: j for j, name in enumerate(fs.metrics)}
        checkpoint, metric, value = zip(*values)
        X[np.searchsorted(ids, np.array(checkpoint, dtype=np.int64)), [column[m] for m in metric]] = value
    return _Rows(ids, run_ids, X, y)


def _complete(rows: _Rows) -> tuple[_Rows, int]:
    keep = np.isfinite(rows.y) & np.isfinite(rows.X).all(axis=1)
    return rows.take(np.flatnonzero(keep)), int((~keep).sum())


def load_feature_matrix(
    catalog: Catalog, selection: Selection, target: str, feature_set: str | FeatureSet = DEFAULT_FEATURE_SET
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """The meta-model's inputs for a selection: checkpoints that have the target and every metric.

    Parameters
    ----------
    catalog : Catalog
    selection : Selection
    target : str
        One of :data:`TARGETS` (labels of external checkpoints override measured values).
    feature_set : str or FeatureSet, default "paper-v1"

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
    rows, _ = _complete(_load_rows(catalog, selection, target, fs))
    return rows.ids, rows.run_ids, rows.X, rows.y, fs.metrics


def split_by_run(ids: np.ndarray, run_ids: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/test split by training run (an external checkpoint is its own group).

    Returns
    -------
    train_index, test_index : ndarray of int
        Positions into ``ids``; about ``test_fraction`` of the groups (at least one, never all) are test.
    """
    if not 0 < test_fraction < 1:
        raise InvalidInput(f"--test-fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    groups = np.where(run_ids >= 0, run_ids, -ids - 1)  # runs are > 0, externals map to distinct negatives
    unique = np.unique(groups)
    if len(unique) < 2:
        raise InvalidInput(f"cannot split {len(unique)} training run(s) into train and test; select more runs")
    n_test = int(np.clip(round(test_fraction * len(unique)), 1, len(unique) - 1))
    test_groups = np.random.default_rng(seed).permutation(unique)[:n_test]
    is_test = np.isin(groups, test_groups)
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


# --- forests as plain arrays -----------------------------------------------------------------------------


def forest_arrays(forest: Any, feature_names: Sequence[str]) -> dict[str, np.ndarray]:
    """Flatten a fitted single-output ``RandomForestRegressor`` into arrays (no pickle needed).

    Node arrays of all trees are concatenated; child indices are global (``-1`` marks a leaf) and
    ``roots[t]`` is tree ``t``'s first node. ``value`` is each node's mean target.
    """
    trees = [estimator.tree_ for estimator in forest.estimators_]
    if any(tree.n_outputs != 1 for tree in trees):
        raise InvalidInput("only single-output forests can be stored")
    offsets = np.concatenate([[0], np.cumsum([tree.node_count for tree in trees])]).astype(np.int64)

    def joined(get: Any, dtype: Any) -> np.ndarray:
        return np.concatenate([get(tree, int(offset)) for tree, offset in zip(trees, offsets)]).astype(dtype)

    return {
        "roots": offsets[:-1],
        "children_left": joined(lambda t, o: np.where(t.children_left >= 0, t.children_left + o, -1), np.int64),
        "children_right": joined(lambda t, o: np.where(t.children_right >= 0, t.children_right + o, -1), np.int64),
        "feature": joined(lambda t, o: t.feature, np.int64),
        "threshold": joined(lambda t, o: t.threshold, np.float64),
        "value": joined(lambda t, o: t.value[:, 0, 0], np.float64),
        "feature_names": np.array(list(feature_names), dtype=np.str_),
    }


def predict_forest(arrays: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Predict with :func:`forest_arrays` output: all samples and trees walked at once.

    Parameters
    ----------
    arrays : dict of ndarray
        As made by :func:`forest_arrays` (or loaded from the artifact store).
    X : array_like, shape (n, m)
        Finite features, columns in ``arrays["feature_names"]`` order.

    Returns
    -------
    y : ndarray (n,) float64
        Mean over trees of the leaf values; equals sklearn's ``forest.predict`` (it too compares
        float32-rounded inputs against float64 thresholds, and sums the trees in order).
    """
    X = np.asarray(X, dtype=np.float64)
    n_features = len(arrays["feature_names"])
    if X.ndim != 2 or X.shape[1] != n_features or not np.isfinite(X).all():
        raise InvalidInput(f"features must be a finite (n, {n_features}) array, got shape {X.shape}")
    X = X.astype(np.float32).astype(np.float64)
    left, right, feature, threshold = (arrays[k] for k in ("children_left", "children_right", "feature", "threshold"))
    nodes = np.broadcast_to(arrays["roots"], (len(X), len(arrays["roots"]))).copy()
    rows, cols = np.nonzero(left[nodes] >= 0)
    while len(rows):
        current = nodes[rows, cols]
        go_left = X[rows, feature[current]] <= threshold[current]
        nodes[rows, cols] = np.where(go_left, left[current], right[current])
        inner = left[nodes[rows, cols]] >= 0
        rows, cols = rows[inner], cols[inner]
    total = np.zeros(len(X))
    for tree in range(nodes.shape[1]):
        total += arrays["value"][nodes[:, tree]]
    return total / nodes.shape[1]


def save_forest(store: ArtifactStore, arrays: dict[str, np.ndarray]) -> str:
    """Store forest arrays as a compressed ``.npz`` in an artifact store; returns its sha256."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return store.put_bytes(buffer.getvalue())


def load_forest(store: ArtifactStore, sha: str) -> dict[str, np.ndarray]:
    """Load forest arrays from an artifact store (hash-verified, read with ``allow_pickle=False``)."""
    return store.get_arrays(sha)


# --- fitting ---------------------------------------------------------------------------------------------


def _check_settings(n_estimators: int, repeats: int, test: Selection | None, test_fraction: float | None) -> float | None:
    """Validate the settings; returns the test fraction in force (None with a test selection)."""
    if n_estimators < 1 or repeats < 1:
        raise InvalidInput("--trees and --repeats must be at least 1")
    if test is not None and test_fraction is not None:
        raise InvalidInput("give either a test selection or --test-fraction, not both")
    fraction = None if test is not None else DEFAULT_TEST_FRACTION if test_fraction is None else test_fraction
    if fraction is not None and not 0 < fraction < 1:
        raise InvalidInput(f"--test-fraction must be between 0 and 1 (exclusive), got {fraction}")
    return fraction


def _sides(catalog: Catalog, target: str, train: Selection, test: Selection | None, fraction: float | None, seed: int, fs: FeatureSet) -> tuple[_Rows, _Rows, int]:
    """Train and test rows (complete ones only) and how many selected rows were dropped."""
    if test is None:
        rows, dropped = _complete(_load_rows(catalog, train, target, fs))
        train_index, test_index = split_by_run(rows.ids, rows.run_ids, fraction or DEFAULT_TEST_FRACTION, seed)
        return rows.take(train_index), rows.take(test_index), dropped
    train_rows, test_rows = _load_rows(catalog, train, target, fs), _load_rows(catalog, test, target, fs)
    overlap = np.intersect1d(train_rows.ids, test_rows.ids).size
    if overlap:
        raise InvalidInput(f"the train and test selections share {overlap} checkpoints; make them disjoint "
                           "(e.g. --train-arch resnet50 --test-arch resnet18) or split one selection with --test-fraction")
    (train_rows, dropped_train), (test_rows, dropped_test) = _complete(train_rows), _complete(test_rows)
    return train_rows, test_rows, dropped_train + dropped_test


def _check_sizes(train: _Rows, test: _Rows, dropped: int, target: str, log_target: bool) -> None:
    for name, rows, least in (("train", train, 2), ("test", test, 2)):
        if len(rows.ids) < least:
            raise InvalidInput(f"the {name} side has {len(rows.ids)} usable checkpoints (need {least}; {dropped} selected "
                               f"checkpoints lack {target} or a metric); widen the selection or run `zoo featurize`")
    if log_target and (train.y.min() <= 0 or test.y.min() <= 0):
        bad = int((train.y <= 0).sum() + (test.y <= 0).sum())
        raise InvalidInput(f"--log-target needs positive {target}; {bad} checkpoints have {target} <= 0")


def fit_meta_model(
    catalog: Catalog,
    target: str,
    train: Selection,
    test: Selection | None = None,
    *,
    test_fraction: float | None = None,
    feature_set: str | FeatureSet = DEFAULT_FEATURE_SET,
    n_estimators: int = DEFAULT_TREES,
    repeats: int = DEFAULT_REPEATS,
    log_target: bool = False,
    seed: int = 0,
    label: str | None = None,
    store: bool = True,
) -> FitResult:
    """Fit random forests from metric vectors to ``target`` and score them on a test selection.

    Parameters
    ----------
    catalog : Catalog
    target : str
        Image property to predict: one of :data:`TARGETS`.
    train : Selection
        Checkpoints to train on.
    test : Selection, optional
        Checkpoints to test on; must share no checkpoint with ``train``. Without it, ``train`` is split
        by run with ``test_fraction`` (default :data:`DEFAULT_TEST_FRACTION`).
    test_fraction : float, optional
        Fraction of the runs of ``train`` held out for testing (seeded by ``seed``).
    feature_set : str or FeatureSet, default "paper-v1"
    n_estimators : int, default 30
        Trees per forest.
    repeats : int, default 5
        Forests trained, with seeds ``seed .. seed + repeats - 1``; R² is reported as mean ± std.
    log_target : bool, default False
        Fit on ``log(target)`` and report R² in log space (predictions are returned in the target's units).
    seed : int, default 0
    label : str, optional
        A note stored with the fit.
    store : bool, default True
        Store the fit, its predictions and the first seed's forest (one write transaction).

    Returns
    -------
    FitResult

    Raises
    ------
    InvalidInput
        Unknown target, overlapping selections (with the overlap count), too few usable checkpoints,
        non-positive values with ``log_target``, bad settings.
    """
    _check_target(target)
    fraction = _check_settings(n_estimators, repeats, test, test_fraction)
    fs = get_feature_set(feature_set)
    train_rows, test_rows, dropped = _sides(catalog, target, train, test, fraction, seed, fs)
    _check_sizes(train_rows, test_rows, dropped, target, log_target)
    seeds = tuple(seed + i for i in range(repeats))
    forests = _train_forests(train_rows, test_rows, n_estimators, seeds, log_target)
    result = FitResult(
        id=None, target=target, feature_set=fs.key, train_selection=str(train), test_selection=str(test or train),
        test_fraction=fraction, log_target=log_target, r2_space="log" if log_target else "raw", n_estimators=n_estimators,
        seeds=seeds, n_train=len(train_rows.ids), n_test=len(test_rows.ids), n_dropped=dropped,
        n_shared_runs=int(np.intersect1d(train_rows.run_ids[train_rows.run_ids >= 0], test_rows.run_ids).size),
        r2_mean=float(np.mean(forests.scores)), r2_std=float(np.std(forests.scores)), r2_scores=forests.scores,
        importances=dict(zip(fs.metrics, forests.importances.tolist())),
        predictions=tuple(PredictionRecord(int(c), None if r < 0 else int(r), float(t), float(p)) for c, r, t, p
                          in zip(test_rows.ids, test_rows.run_ids, test_rows.y, forests.mean_prediction)),
        model_sha256=None, label=label,
    )
    if not store:
        return result
    sha = save_forest(catalog.store, forest_arrays(forests.first, fs.metrics))  # the artifact first, then the rows naming it
    fit_id = _store_fit(catalog, result, fs, train, test, sha, test_rows, forests.predictions)
    return replace(result, id=fit_id, model_sha256=sha)


@dataclass(frozen=True)
class _Forests:
    predictions: np.ndarray  # (repeats, n_test), in the target's units
    mean_prediction: np.ndarray  # (n_test,), mean over seeds in the fitting space, back in the target's units
    scores: tuple[float, ...]  # R² per seed, in the fitting space
    importances: np.ndarray  # (m,), mean over seeds
    first: Any  # the first seed's forest, kept for predict


def _train_forests(train: _Rows, test: _Rows, n_estimators: int, seeds: tuple[int, ...], log_target: bool) -> _Forests:
    """One random forest per seed (the paper's settings otherwise), scored on the test rows."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.metrics import r2_score

    forward, back = (np.log, np.exp) if log_target else (np.asarray, np.asarray)
    predicted = np.empty((len(seeds), len(test.ids)))
    scores, importances, first = [], [], None
    for i, seed in enumerate(seeds):
        forest = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=-1).fit(train.X, forward(train.y))
        predicted[i] = forest.predict(test.X)
        scores.append(float(r2_score(forward(test.y), predicted[i])))
        importances.append(forest.feature_importances_)
        if first is None:
            first = forest
    return _Forests(back(predicted), back(predicted.mean(axis=0)), tuple(scores), np.mean(importances, axis=0), first)


def _store_fit(catalog: Catalog, result: FitResult, fs: FeatureSet, train: Selection, test: Selection | None,
               sha: str, test_rows: _Rows, predicted: np.ndarray) -> int:
    """One write transaction: the fit row and a prediction row per (test checkpoint, seed)."""
    with catalog.session(write=True) as session:
        fit = Fit(
            target=result.target, feature_set=fs.name, feature_set_version=fs.version, train_selection=train.to_dict(),
            test_selection=(test if test is not None else train).to_dict(), test_fraction=result.test_fraction,
            log_target=result.log_target, n_estimators=result.n_estimators, seeds=list(result.seeds), n_train=result.n_train,
            n_test=result.n_test, r2_mean=result.r2_mean, r2_std=result.r2_std, r2_scores=list(result.r2_scores),
            importances=result.importances, model_sha256=sha, label=result.label,
        )
        session.add(fit)
        session.flush()
        session.execute(insert(Prediction.__table__), [
            {"fit_id": fit.id, "checkpoint_id": int(c), "seed": s, "y_true": float(t), "y_pred": float(p)}
            for s, row in zip(result.seeds, predicted) for c, t, p in zip(test_rows.ids, test_rows.y, row)
        ])
        return fit.id


# --- stored fits -----------------------------------------------------------------------------------------


def list_fits(catalog: Catalog, target: str | None = None) -> list[FitRecord]:
    """Stored fits, newest first (optionally of one target)."""
    query = select(Fit).order_by(Fit.id.desc())
    if target is not None:
        query = query.where(Fit.target == _check_target(target))
    with catalog.session() as session:
        return [_fit_record(row) for row in session.scalars(query)]


def get_fit(catalog: Catalog, fit_id: int) -> FitRecord:
    """One stored fit; :class:`NotFound` names ``zoo fits`` if it does not exist."""
    with catalog.session() as session:
        row = session.get(Fit, fit_id)
        if row is None:
            raise NotFound(f"there is no fit {fit_id}; list them with `zoo fits`")
        return _fit_record(row)


def latest_fit(catalog: Catalog, target: str) -> FitRecord | None:
    """The most recent stored fit of ``target`` that kept its forest, or None."""
    query = select(Fit).where(Fit.target == _check_target(target), Fit.model_sha256.is_not(None)).order_by(Fit.id.desc()).limit(1)
    with catalog.session() as session:
        row = session.scalars(query).first()
        return None if row is None else _fit_record(row)


def fit_predictions(catalog: Catalog, fit_id: int) -> list[PredictionRecord]:
    """A stored fit's test predictions, averaged over its seeds, by checkpoint id (``run_id`` left None)."""
    query = select(Prediction.checkpoint_id, Prediction.y_true, Prediction.y_pred).where(Prediction.fit_id == fit_id)
    with catalog.session() as session:
        rows = session.execute(query).all()
    by_checkpoint: dict[int, list[tuple[float, float]]] = {}
    for checkpoint, truth, prediction in rows:
        by_checkpoint.setdefault(checkpoint, []).append((truth, prediction))
    return [PredictionRecord(c, None, pairs[0][0], float(np.mean([p for _, p in pairs]))) for c, pairs in sorted(by_checkpoint.items())]


def predict_with_fit(catalog: Catalog, fit: FitRecord | int, X: np.ndarray) -> np.ndarray:
    """Apply a stored fit's forest (its first seed) to metric vectors; returns values in the target's units."""
    record = get_fit(catalog, fit) if isinstance(fit, int) else fit
    if record.model_sha256 is None:
        raise NotFound(f"fit {record.id} kept no forest; fit again with `zoo fit`")
    prediction = predict_forest(load_forest(catalog.store, record.model_sha256), X)
    return np.exp(prediction) if record.log_target else prediction


# --- models outside the catalog --------------------------------------------------------------------------


@dataclass(frozen=True)
class PropertyPrediction:
    """A predicted property of a model file, with the fit that made it and how that fit was chosen."""

    target: str
    value: float
    fit_id: int
    fit_r2_mean: float | None
    fit_r2_std: float | None
    r2_space: str
    feature_set: str
    chosen: str  # "given" (--fit), "latest" (most recent fit of the target) or "new" (fitted just now)


@dataclass(frozen=True)
class ModelPrediction:
    """What :func:`predict_model` read and predicted."""

    arch: str
    origin: str
    file_sha256: str
    reference: str
    features: dict[str, dict[str, float]]  # feature set key -> metric -> value
    predictions: tuple[PropertyPrediction, ...]


def _choose_fits(catalog: Catalog, fit_ids: Sequence[int], targets: Sequence[str]) -> list[tuple[str, FitRecord | None, str]]:
    """(target, fit or None to fit anew, how chosen) for each requested prediction; checked before any work."""
    plan: list[tuple[str, FitRecord | None, str]] = []
    for fit_id in fit_ids:
        fit = get_fit(catalog, fit_id)
        plan.append((fit.target, fit, "given"))
    if not targets and not fit_ids:
        targets = [t for t in TARGETS if latest_fit(catalog, t) is not None]
        if not targets:
            raise InvalidInput("no fits are stored yet; pass --target PROPERTY (a fit is made on the whole catalog) or run `zoo fit`")
    for target in targets:
        latest = latest_fit(catalog, _check_target(target))
        plan.append((target, latest, "latest" if latest is not None else "new"))
    return plan


def _fit_whole_catalog(catalog: Catalog, target: str) -> FitRecord:
    """A stored fit of ``target`` on every checkpoint, with the default settings (split by run)."""
    made = fit_meta_model(catalog, target, Selection())
    assert made.id is not None
    return get_fit(catalog, made.id)


def predict_model(
    catalog: Catalog,
    source: str,
    ref: str,
    arch: str,
    reference: str,
    *,
    fit_ids: Sequence[int] = (),
    targets: Sequence[str] = (),
    allow_pickle: bool = False,
) -> ModelPrediction:
    """Predict training-data properties of a model that is not in the catalog (nothing about it is stored).

    Parameters
    ----------
    catalog : Catalog
    source, ref : str
        ``"file"`` and a path, or ``"hub"`` and ``ORG/NAME[@REV]`` (read by :func:`ingest.external.read_external`).
    arch : str
        timm architecture of the weights.
    reference : str
        What the delta is measured from: ``random[:SEED]``, ``timm``, ``hub:ORG/NAME[@REV]``, ``file:PATH``.
    fit_ids : sequence of int
        Stored fits to apply.
    targets : sequence of str
        Properties to predict with the most recent fit of each; a target without a fit gets one, made on
        the whole catalog with the default settings and stored. With neither ``fit_ids`` nor ``targets``:
        every target that has a fit.
    allow_pickle : bool, default False
        Also read pickle checkpoints (``torch.load(weights_only=True)``).

    Returns
    -------
    ModelPrediction
        The model's metric vectors are exactly those ``zoo ingest --checkpoint`` would store.
    """
    from ingest.external import read_external  # torch and timm load only here
    from zoo.checkpoints import compute_metrics

    plan = _choose_fits(catalog, fit_ids, targets)
    model = read_external(source, ref, arch, reference, allow_pickle=allow_pickle)
    fits = [(target, fit if fit is not None else _fit_whole_catalog(catalog, target), how) for target, fit, how in plan]
    vectors = compute_metrics(model.delta, sorted({fit.feature_set for _, fit, _ in fits}))
    features = {f"{name}-v{version}": values for (name, version), values in vectors.items()}
    predictions = []
    for target, fit, how in fits:
        metrics = get_feature_set(fit.feature_set).metrics
        value = predict_with_fit(catalog, fit, np.array([[features[fit.feature_set][m] for m in metrics]]))[0]
        predictions.append(PropertyPrediction(target, float(value), fit.id, fit.r2_mean, fit.r2_std, fit.r2_space, fit.feature_set, how))
    return ModelPrediction(arch, model.origin, model.file_sha256, model.reference.info.key, features, tuple(predictions))
