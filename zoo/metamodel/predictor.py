"""Predictors: the fits ``zoo predict`` uses, trained on the whole selection and calibrated on shifts.

An experiment fit (``zoo fit``) answers "how well does a forest trained on A predict B". A model a user
brings comes from none of the catalog's recipes: another architecture, learning rate, image size or
kind of data. A *predictor* is made for that case:

* **Trained on everything** the selection holds (every architecture, recipe and dataset: the widest
  training set transfers best), log target (scale-like properties span orders of magnitude).
* **Scored out of group.** For each *shift axis* the selection varies (architecture, learning rate,
  image size, image family, or base dataset where there is one family; :data:`SHIFT_AXES`), every value
  is held out in turn: forests trained on the
  rest predict the held-out checkpoints. These out-of-group predictions are what the catalog can say
  about a model from elsewhere; their R² (log), Spearman ρ and median error factor per axis are stored.
* **Calibrated interval.** The signed log residuals of every out-of-group prediction, pooled over the
  axes, give the interval by split-conformal quantiles (:data:`COVERAGE` = 90 %, finite-sample
  corrected), per bin of predicted value (:class:`Calibration`): ``[prediction · e^q_low, prediction ·
  e^q_high]``. Unlike the spread of the trees, which
  says how much the forest's trees disagree on data like the training set, it says how far off the
  forest was when the architecture, recipe or data were new to it.
* **Beyond the domain.** Where the model's features lie beyond the training set's (the applicability
  domain of :mod:`zoo.metamodel.forest`), the interval is widened in proportion to how far past the
  domain's edge the model is (:func:`widen_beyond_domain`), and the prediction says "extrapolating".

What this does not do: the calibration holds for shifts of the size the catalog itself spans (one axis
at a time); a model unlike anything in the catalog in several ways at once can fall outside it, which
is what ``benchmarks/transfer_check.py`` measures on models trained outside zoo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.catalog import Catalog
from zoo.errors import InvalidInput
from zoo.filters import FeatureSet, get_feature_set
from zoo.metamodel.features import (
    MetricWhere,
    check_metric_names,
    check_target,
    describe,
    kernel_sizes,
    load_rows,
    split_groups,
)
from zoo.metamodel.fitting import (
    DEFAULT_REPEATS,
    DEFAULT_TREES,
    FitResult,
    PredictionRecord,
    check_forest_settings,
    train_forests,
)
from zoo.metamodel.forest import DOMAIN_PERCENTILE, apply_scaler, domain_arrays, forests_arrays, save_forest
from zoo.metamodel.scores import score_predictions
from zoo.selection import Selection

DEFAULT_PREDICT_FEATURE_SET = "paper-v3"  # measured by benchmarks/transfer_check.py (README, "Models from elsewhere")
DEFAULT_TARGETS = ("sharpness", "noisiness")  # what `zoo predict` predicts when no target has a predictor yet
PURPOSE = "predict"  # details["purpose"] of a predictor fit
SPLIT = "out-of-group"  # details["split"] of a predictor fit
COVERAGE = 0.90  # of the calibrated interval
# axis name (as zoo evaluate names it) -> column of the rows' meta
SHIFT_AXES: dict[str, str] = {
    "architecture": "arch",
    "learning rate": "lr",
    "image size": "image_size",
    "image family": "image_family",
    "base dataset": "base_dataset",  # only where the catalog has one image family
}
CV_REPEATS = 2  # forests per held-out cell (the final forests use the fit's repeats)
MIN_ROWS = 8


MAX_BINS = 4  # the interval is calibrated per bin of predicted value (Mondrian conformal) ...
MIN_BIN_RESIDUALS = 50  # ... with at least this many residuals per bin


@dataclass(frozen=True)
class Calibration:
    """Log-space quantiles of the out-of-group residuals (log truth − log prediction), per bin of predicted
    value, and what they came from.

    Errors differ along the range (noisiness is read well on noisy data and poorly near the clean floor),
    so the residuals are split into up to :data:`MAX_BINS` bins by predicted log value, each with at least
    :data:`MIN_BIN_RESIDUALS` residuals, and each bin gets its own split-conformal quantiles (Mondrian
    conformal: the coverage holds within each bin). ``edges`` are the interior bin edges (log space);
    ``q_low``/``q_high`` the quantiles pooled over every bin.
    """

    q_low: float
    q_high: float
    coverage: float
    n_residuals: int
    axes: tuple[str, ...]
    edges: tuple[float, ...] = ()
    bins: tuple[tuple[float, float], ...] = ()

    def quantiles(self, centre_log: float) -> tuple[float, float]:
        """(q_low, q_high) of the bin a prediction of log value ``centre_log`` falls in."""
        if not self.bins:
            return self.q_low, self.q_high
        return self.bins[int(np.searchsorted(np.asarray(self.edges), centre_log, side="right"))]

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "split conformal on out-of-group log residuals, per bin of predicted value",
            "q_low": self.q_low,
            "q_high": self.q_high,
            "coverage": self.coverage,
            "n_residuals": self.n_residuals,
            "axes": list(self.axes),
            "edges": list(self.edges),
            "bins": [list(b) for b in self.bins],
        }

    @classmethod
    def from_details(cls, details: dict[str, Any] | None) -> Calibration | None:
        raw = (details or {}).get("calibration")
        if not raw:
            return None
        return cls(
            float(raw["q_low"]),
            float(raw["q_high"]),
            float(raw["coverage"]),
            int(raw["n_residuals"]),
            tuple(raw["axes"]),
            tuple(float(e) for e in raw.get("edges") or ()),
            tuple((float(lo), float(hi)) for lo, hi in raw.get("bins") or ()),
        )


def calibrate(
    residuals: np.ndarray, predicted_log: np.ndarray, axes: tuple[str, ...], coverage: float = COVERAGE
) -> Calibration:
    """Pooled and per-bin conformal quantiles of ``residuals`` (binned by ``predicted_log``)."""
    q_low, q_high = conformal_quantiles(residuals, coverage)
    n_bins = min(MAX_BINS, len(residuals) // MIN_BIN_RESIDUALS)
    if n_bins < 2:
        return Calibration(q_low, q_high, coverage, len(residuals), axes)
    edges = tuple(float(e) for e in np.quantile(predicted_log, np.arange(1, n_bins) / n_bins))
    which = np.searchsorted(np.asarray(edges), predicted_log, side="right")
    bins = tuple(conformal_quantiles(residuals[which == b], coverage) for b in range(n_bins))
    return Calibration(q_low, q_high, coverage, len(residuals), axes, edges, bins)


def conformal_quantiles(residuals: np.ndarray, coverage: float = COVERAGE) -> tuple[float, float]:
    """Lower and upper split-conformal quantiles of signed residuals for a two-sided ``coverage`` interval.

    Each tail gets ``(1 - coverage) / 2``; the ranks are corrected for the finite sample (the
    ``ceil((n + 1) q)``-th order statistic), so with exchangeable residuals the interval covers at least
    ``coverage``. With too few residuals for the correction, the extremes are used.
    """
    r = np.sort(np.asarray(residuals, dtype=np.float64))
    n = len(r)
    if n == 0:
        raise InvalidInput("no out-of-group residuals to calibrate an interval on")
    tail = (1 - coverage) / 2
    high_rank = min(n, math.ceil((n + 1) * (1 - tail)))
    low_rank = max(1, n + 1 - high_rank)
    return float(r[low_rank - 1]), float(r[high_rank - 1])


def widen_beyond_domain(
    value: float, low: float, high: float, domain_ratio: float | None, log_target: bool
) -> tuple[float, float]:
    """The calibrated interval stretched by ``domain_ratio`` (distance to the training set / the domain's
    edge) where that exceeds 1, around ``value`` (in log space for a log target)."""
    if domain_ratio is None or not np.isfinite(domain_ratio) or domain_ratio <= 1:
        return low, high
    if log_target:
        centre = math.log(value)
        return math.exp(centre - (centre - math.log(low)) * domain_ratio), math.exp(
            centre + (math.log(high) - centre) * domain_ratio
        )
    return value - (value - low) * domain_ratio, value + (high - value) * domain_ratio


@dataclass(frozen=True)
class AxisScore:
    axis: str
    cells: int
    n: int
    r2_log: float | None
    spearman: float | None
    median_factor: float


def _out_of_group(
    X: np.ndarray, y_log: np.ndarray, column: np.ndarray, n_estimators: int, seeds: tuple[int, ...]
) -> tuple[np.ndarray, int]:
    """Each row predicted by forests trained without its value of ``column`` (NaN where a value holds
    every row); returns the predictions (log space) and the number of held-out cells."""
    predicted = np.full(len(y_log), np.nan)
    values = sorted({v for v in column if v is not None}, key=lambda v: (str(type(v)), v))
    cells = 0
    for value in values:
        test = np.array([v == value for v in column])
        train = ~test & np.array([v is not None for v in column])
        if train.sum() < MIN_ROWS // 2 or not test.any():
            continue
        trained = train_forests(X[train], y_log[train], X[test], n_estimators, seeds)
        predicted[test] = trained.predictions.mean(axis=0)
        cells += 1
    return predicted, cells


def fit_predictor(
    catalog: Catalog,
    target: str,
    feature_set: str | FeatureSet,
    selection: Selection | None = None,
    *,
    n_estimators: int = DEFAULT_TREES,
    repeats: int = DEFAULT_REPEATS,
    cv_repeats: int = CV_REPEATS,
    seed: int = 0,
    label: str | None = None,
    metric_wheres: tuple[MetricWhere, ...] = (),
) -> FitResult:
    """Fit and store a predictor of ``target`` on ``selection`` (default: every trained checkpoint).

    ``repeats`` forests of ``n_estimators`` trees make the predictor; each held-out cell trains
    ``cv_repeats`` forests of as many trees.

    Raises
    ------
    InvalidInput
        Too few usable checkpoints, non-positive target values, or no shift axis with two values (an
        interval cannot be calibrated on a catalog that never varies what a user's model varies).
    """
    check_target(target)
    check_forest_settings(n_estimators, repeats, seed=seed)
    check_forest_settings(n_estimators, cv_repeats)
    fs = get_feature_set(feature_set)
    selection = selection if selection is not None else Selection()
    check_metric_names(metric_wheres, fs)
    loaded = load_rows(catalog, selection, target, fs, metric_wheres)
    rows = loaded.rows
    if len(rows) < MIN_ROWS:
        raise InvalidInput(
            f"a predictor of {target} needs at least {MIN_ROWS} trained checkpoints with {fs.key} metrics; "
            f"the catalog has {len(rows)} (run `zoo ingest --run-grid`, then `zoo featurize --feature-set {fs.key}`)"
        )
    if rows.y.min() <= 0:
        raise InvalidInput(f"{int((rows.y <= 0).sum())} checkpoints have {target} <= 0; a predictor fits log({target})")
    y_log = np.log(rows.y)
    cv_seeds = tuple(seed + 100 + i for i in range(cv_repeats))
    residuals, axis_scores, pooled_truth, pooled_prediction = [], [], [], []
    per_row: list[np.ndarray] = []
    families = {f for f in rows.meta["image_family"] if f is not None}
    for axis, column in SHIFT_AXES.items():
        if axis == "base dataset" and len(families) > 1:
            continue  # kinds of data are held out whole; a base dataset's siblings would stay in training
        predicted, cells = _out_of_group(rows.X, y_log, rows.meta[column], n_estimators, cv_seeds)
        held = np.isfinite(predicted)
        if cells < 2 or held.sum() < 2:
            continue
        per_row.append(predicted)
        residuals.append(y_log[held] - predicted[held])
        pooled_truth.append(rows.y[held])
        pooled_prediction.append(np.exp(predicted[held]))
        scores = score_predictions(rows.y[held], np.exp(predicted[held])[None, :], log_target=True, seed=seed)
        axis_scores.append(
            AxisScore(
                axis, cells, int(held.sum()), scores.r2_log, scores.spearman,
                float(np.exp(np.median(np.abs(y_log[held] - predicted[held])))),
            )
        )  # fmt: skip
    if not residuals:
        raise InvalidInput(
            f"the selection varies none of {', '.join(SHIFT_AXES)} (each needs two values), so zoo cannot "
            "measure how predictions transfer; a predictor needs a catalog with at least two architectures, "
            "learning rates, image sizes or base datasets"
        )
    pooled = np.concatenate(residuals)
    truth, prediction = np.concatenate(pooled_truth), np.concatenate(pooled_prediction)
    calibration = calibrate(pooled, np.log(prediction), tuple(a.axis for a in axis_scores))
    overall = score_predictions(truth, prediction[None, :], log_target=True, seed=seed)

    seeds = tuple(seed + i for i in range(repeats))
    final = train_forests(rows.X, y_log, rows.X[:0], n_estimators, seeds)
    arrays = forests_arrays(final.forests, fs.metrics) | final.scaler
    arrays |= domain_arrays(apply_scaler(final.scaler, rows.X), split_groups(rows, "run"), seed)
    sha = save_forest(catalog.store, arrays)  # the artifact first, then the rows naming it

    # One out-of-group prediction per checkpoint for plots: the mean over the axes that held it out.
    stacked = np.vstack(per_row)
    with np.errstate(all="ignore"):
        mean_log = np.nanmean(np.where(np.isfinite(stacked), stacked, np.nan), axis=0)
    shown = np.isfinite(mean_log)
    details = {
        "purpose": PURPOSE,
        "split": SPLIT,
        "calibration": calibration.to_dict(),
        "axis_scores": [a.__dict__ for a in axis_scores],
        "r2_log": overall.r2_log,
        "spearman": overall.spearman,
        "median_factor": float(np.exp(np.median(np.abs(pooled)))),
        "n_reference_left_out": loaded.n_reference,
        "n_dropped": loaded.n_incomplete,
        "reference_kinds": sorted({str(k) for k in rows.reference_kinds if k is not None}),
        "kernel_sizes": list(kernel_sizes(rows)),
        "domain_percentile": DOMAIN_PERCENTILE,
        "train_where": [list(w) for w in metric_wheres],
        "test_where": [list(w) for w in metric_wheres],
    }
    label = label or f"zoo predict: {target} predictor on {describe(selection, metric_wheres)}"
    from zoo.metamodel.stored import store_fit

    fit_id = store_fit(
        catalog,
        dict(
            target=target,
            feature_set=fs.name,
            feature_set_version=fs.version,
            train_selection=selection.to_dict(),
            test_selection=selection.to_dict(),
            test_fraction=None,
            log_target=True,
            n_estimators=n_estimators,
            seeds=list(seeds),
            n_train=len(rows),
            n_test=len(pooled),
            r2_mean=_finite(overall.r2_mean),
            r2_std=None,
            r2_scores=[_finite(a.r2_log) for a in axis_scores],
            importances=dict(zip(fs.metrics, final.importances.tolist())),
            model_sha256=sha,
            label=label,
            details=details,
        ),
        [
            {"checkpoint_id": int(c), "seed": 0, "y_true": float(t), "y_pred": float(np.exp(p))}
            for c, t, p in zip(rows.ids[shown], rows.y[shown], mean_log[shown])
        ],
    )
    return FitResult(
        id=fit_id,
        target=target,
        feature_set=fs.key,
        train_selection=describe(selection, metric_wheres),
        test_selection=describe(selection, metric_wheres),
        test_fraction=None,
        split=SPLIT,
        log_target=True,
        r2_space="log",
        n_estimators=n_estimators,
        seeds=seeds,
        n_train=len(rows),
        n_test=len(pooled),
        n_dropped=loaded.n_incomplete,
        n_reference_left_out=loaded.n_reference,
        n_shared_runs=0,
        r2_mean=float(overall.r2_mean),
        r2_std=0.0,
        r2_scores=tuple(float(a.r2_log) if a.r2_log is not None else math.nan for a in axis_scores),
        r2_bootstrap_std=None,
        r2_log=overall.r2_log,
        r2_log_std=None,
        spearman=overall.spearman,
        spearman_std=None,
        r2_by_kind={},
        n_by_kind={},
        importances=dict(zip(fs.metrics, final.importances.tolist())),
        reference_kinds=tuple(details["reference_kinds"]),
        kernel_sizes=tuple(details["kernel_sizes"]),
        predictions=tuple(
            PredictionRecord(int(c), None if r < 0 else int(r), float(t), float(np.exp(p)))
            for c, r, t, p in zip(rows.ids[shown], rows.run_ids[shown], rows.y[shown], mean_log[shown])
        ),
        model_sha256=sha,
        label=label,
    )


def is_predictor(details: dict[str, Any] | None) -> bool:
    return (details or {}).get("purpose") == PURPOSE


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


__all__ = [
    "COVERAGE",
    "DEFAULT_PREDICT_FEATURE_SET",
    "DEFAULT_TARGETS",
    "PURPOSE",
    "SHIFT_AXES",
    "Calibration",
    "calibrate",
    "conformal_quantiles",
    "fit_predictor",
    "is_predictor",
    "widen_beyond_domain",
]
