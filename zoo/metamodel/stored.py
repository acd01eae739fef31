"""Stored fits: listing them, and predicting from metric vectors with their forests.

A prediction from a stored fit is the mean over the trees of every seed (in the fitting space, then back
to the target's units), with a prediction interval from the spread of those trees and an
applicability-domain score of the feature vector against the fit's training set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import insert, select

from zoo.catalog import Catalog
from zoo.db.models import Fit, Prediction
from zoo.errors import NotFound
from zoo.metamodel.features import check_target, describe
from zoo.metamodel.fitting import PredictionRecord
from zoo.metamodel.forest import apply_scaler, domain_edge, domain_scores, load_forest, predict_trees
from zoo.metamodel.predictor import Calibration, is_predictor, widen_beyond_domain
from zoo.selection import Selection

INTERVAL_PERCENTILES = (5.0, 95.0)  # the prediction interval: these percentiles of the trees' predictions


@dataclass(frozen=True)
class FitRecord:
    """A stored fit, as ``zoo fits`` lists it (selections in their text form, metric conditions included).

    Fits stored before scores were extended have ``split`` "run" (or "selections") and None scores.
    """

    id: int
    created_at: datetime
    target: str
    feature_set: str
    train_selection: str
    test_selection: str
    test_fraction: float | None
    split: str
    log_target: bool
    n_estimators: int
    seeds: tuple[int, ...]
    n_train: int
    n_test: int
    r2_mean: float | None
    r2_std: float | None
    r2_scores: tuple[float, ...]
    r2_bootstrap_std: float | None
    r2_log: float | None
    spearman: float | None
    r2_by_kind: dict[str, float]
    n_reference_left_out: int | None
    reference_kinds: tuple[str, ...]
    importances: dict[str, float]
    model_sha256: str | None
    label: str | None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def r2_space(self) -> str:
        return "log" if self.log_target else "raw"


def _wheres(details: Mapping[str, Any], key: str) -> tuple[tuple[str, str, float], ...]:
    return tuple((str(c), str(op), float(v)) for c, op, v in details.get(key) or ())


def fit_record(row: Fit) -> FitRecord:
    details = dict(row.details or {})
    split = details.get("split") or ("run" if row.test_fraction else "selections")
    return FitRecord(
        id=row.id,
        created_at=row.created_at,
        target=row.target,
        feature_set=f"{row.feature_set}-v{row.feature_set_version}",
        train_selection=describe(Selection.from_dict(row.train_selection), _wheres(details, "train_where")),
        test_selection=describe(Selection.from_dict(row.test_selection), _wheres(details, "test_where")),
        test_fraction=row.test_fraction,
        split=split,
        log_target=row.log_target,
        n_estimators=row.n_estimators,
        seeds=tuple(row.seeds),
        n_train=row.n_train,
        n_test=row.n_test,
        r2_mean=row.r2_mean,
        r2_std=row.r2_std,
        r2_scores=tuple(row.r2_scores),
        r2_bootstrap_std=details.get("r2_bootstrap_std"),
        r2_log=details.get("r2_log"),
        spearman=details.get("spearman"),
        r2_by_kind=dict(details.get("r2_by_kind") or {}),
        n_reference_left_out=details.get("n_reference_left_out"),
        reference_kinds=tuple(details.get("reference_kinds") or ()),
        importances=dict(row.importances),
        model_sha256=row.model_sha256,
        label=row.label,
        details=details,
    )


def store_fit(catalog: Catalog, columns: Mapping[str, Any], predictions: Sequence[Mapping[str, Any]]) -> int:
    """Store a fit in one write transaction: its row (``columns`` of the fits table) and its test predictions
    (``checkpoint_id``, ``seed``, ``y_true``, ``y_pred`` each); returns the fit's id."""
    with catalog.session(write=True) as session:
        fit = Fit(**columns)
        session.add(fit)
        session.flush()
        if predictions:
            session.execute(insert(Prediction.__table__), [{"fit_id": fit.id, **p} for p in predictions])
        return fit.id


def list_fits(catalog: Catalog, target: str | None = None) -> list[FitRecord]:
    """Stored fits, newest first (optionally of one target)."""
    query = select(Fit).order_by(Fit.id.desc())
    if target is not None:
        query = query.where(Fit.target == check_target(target))
    with catalog.session() as session:
        return [fit_record(row) for row in session.scalars(query)]


def get_fit(catalog: Catalog, fit_id: int) -> FitRecord:
    """One stored fit; :class:`NotFound` names ``zoo fits`` if it does not exist."""
    with catalog.session() as session:
        row = session.get(Fit, fit_id)
        if row is None:
            raise NotFound(f"there is no fit {fit_id}; list them with `zoo fits`")
        return fit_record(row)


def latest_fit(catalog: Catalog, target: str, feature_set: str | None = None) -> FitRecord | None:
    """The most recent stored fit of ``target`` that kept its forest (of ``feature_set`` when given), or None."""
    query = select(Fit).where(Fit.target == check_target(target), Fit.model_sha256.is_not(None)).order_by(Fit.id.desc())
    if feature_set is not None:
        from zoo.filters import get_feature_set

        fs = get_feature_set(feature_set)
        query = query.where(Fit.feature_set == fs.name, Fit.feature_set_version == fs.version)
    with catalog.session() as session:
        row = session.scalars(query.limit(1)).first()
        return None if row is None else fit_record(row)


def latest_predictor(catalog: Catalog, target: str, feature_set: str) -> FitRecord | None:
    """The most recent predictor (:mod:`zoo.metamodel.predictor`) of ``target`` in ``feature_set``, or None.

    Predictors kept their forest by construction; experiment fits (``zoo fit``, ``zoo report``) are never
    returned, however recent.
    """
    from zoo.filters import get_feature_set

    fs = get_feature_set(feature_set)
    query = (
        select(Fit)
        .where(
            Fit.target == check_target(target),
            Fit.model_sha256.is_not(None),
            Fit.feature_set == fs.name,
            Fit.feature_set_version == fs.version,
        )
        .order_by(Fit.id.desc())
    )
    with catalog.session() as session:
        for row in session.scalars(query):
            if is_predictor(row.details):
                return fit_record(row)
    return None


def fit_predictions(catalog: Catalog, fit_id: int) -> list[PredictionRecord]:
    """A stored fit's test predictions, averaged over its seeds, by checkpoint id (``run_id`` left None)."""
    query = select(Prediction.checkpoint_id, Prediction.y_true, Prediction.y_pred).where(Prediction.fit_id == fit_id)
    with catalog.session() as session:
        rows = session.execute(query).all()
    by_checkpoint: dict[int, list[tuple[float, float]]] = {}
    for checkpoint, truth, prediction in rows:
        by_checkpoint.setdefault(checkpoint, []).append((truth, prediction))
    return [
        PredictionRecord(c, None, pairs[0][0], float(np.mean([p for _, p in pairs])))
        for c, pairs in sorted(by_checkpoint.items())
    ]


def _forest_of(catalog: Catalog, record: FitRecord) -> dict[str, np.ndarray]:
    if record.model_sha256 is None:
        raise NotFound(f"fit {record.id} kept no forest; fit again with `zoo fit`")
    return load_forest(catalog.store, record.model_sha256)


def _scaled(arrays: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    return (
        apply_scaler(arrays, X) if "scale_ref" in arrays else np.asarray(X, dtype=np.float64)
    )  # fits stored before scaling


def predict_with_fit(catalog: Catalog, fit: FitRecord | int, X: np.ndarray) -> np.ndarray:
    """Apply a stored fit to metric vectors ``X`` ``(n, m)``: the mean over the trees of every seed, in the
    fitting space, returned in the target's units."""
    record = get_fit(catalog, fit) if isinstance(fit, int) else fit
    arrays = _forest_of(catalog, record)
    prediction = predict_trees(arrays, _scaled(arrays, X)).mean(axis=1)
    return np.exp(prediction) if record.log_target else prediction


@dataclass(frozen=True)
class FeaturePrediction:
    """One feature vector's prediction by a stored fit.

    ``value`` is the mean over every tree of every seed; ``low``/``high`` the interval, in the target's
    units: for a predictor (:mod:`zoo.metamodel.predictor`) the one its out-of-group residuals calibrated,
    widened beyond the applicability domain; for an experiment fit the :data:`INTERVAL_PERCENTILES` of the
    trees' predictions (how much the trees disagree, not how far off they may be). ``domain_score`` is the percentile of the fit's
    own leave-one-run-out nearest-neighbour distances that this vector's distance to the training set
    reaches; ``in_domain`` is False ("extrapolating") above the fit's threshold. Fits stored without a
    domain give None for both.
    """

    value: float
    low: float
    high: float
    nn_distance: float | None
    domain_score: float | None
    in_domain: bool | None


def predict_from_features(catalog: Catalog, fit: FitRecord | int, X: np.ndarray) -> list[FeaturePrediction]:
    """Predict with a stored fit, with a prediction interval and an applicability-domain verdict per row."""
    record = get_fit(catalog, fit) if isinstance(fit, int) else fit
    arrays = _forest_of(catalog, record)
    Z = _scaled(arrays, X)
    per_tree = predict_trees(arrays, Z)
    back = np.exp if record.log_target else np.asarray
    centre = per_tree.mean(axis=1)
    value = back(centre)
    domain = domain_scores(arrays, Z) if "domain_points" in arrays else [None] * len(Z)
    calibration = Calibration.from_details(record.details)
    if calibration is None:
        low, high = (back(np.percentile(per_tree, q, axis=1)) for q in INTERVAL_PERCENTILES)
    else:  # a predictor: the interval its out-of-group residuals calibrated, wider beyond the domain
        q = np.array([calibration.quantiles(float(c)) for c in centre]).reshape(len(centre), 2)
        low, high = back(centre + q[:, 0]), back(centre + q[:, 1])
        edge = domain_edge(arrays) if "domain_nn" in arrays else None
        for i, d in enumerate(domain):
            ratio = d.distance / edge if d is not None and edge else None
            low[i], high[i] = widen_beyond_domain(
                float(value[i]), float(low[i]), float(high[i]), ratio, record.log_target
            )
    return [
        FeaturePrediction(
            float(v),
            float(lo),
            float(hi),
            d.distance if d else None,
            d.score if d else None,
            d.in_domain if d else None,
        )
        for v, lo, hi, d in zip(value, low, high, domain)
    ]
