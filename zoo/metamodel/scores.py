"""Scores of a meta-model on its test side: R² (chosen space and log), Spearman ρ, per variant kind, bootstrap.

All functions take plain arrays and return floats (NaN where a score is undefined, e.g. a constant truth),
so they serve ``zoo fit``, ``zoo evaluate`` and notebooks alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BOOTSTRAP_RESAMPLES = 200
MIN_KIND_SAMPLES = 2  # R² per variant kind needs at least this many test checkpoints of the kind


def r2(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot``; NaN for fewer than 2 samples or a constant truth."""
    truth, predicted = np.asarray(truth, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    if len(truth) < 2:
        return float("nan")
    total = float(((truth - truth.mean()) ** 2).sum())
    if total <= 0:
        return float("nan")
    return 1.0 - float(((truth - predicted) ** 2).sum()) / total


def spearman(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when either side is constant."""
    from scipy.stats import rankdata

    truth, predicted = np.asarray(truth, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    if len(truth) < 2 or np.ptp(truth) == 0 or np.ptp(predicted) == 0:
        return float("nan")
    return float(np.corrcoef(rankdata(truth), rankdata(predicted))[0, 1])


def r2_log(truth: np.ndarray, predicted: np.ndarray) -> float:
    """R² between the logarithms of truth and prediction (in the target's units); NaN unless all are positive."""
    truth, predicted = np.asarray(truth, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    if len(truth) == 0 or truth.min() <= 0 or predicted.min() <= 0:
        return float("nan")
    return r2(np.log(truth), np.log(predicted))


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    finite = [v for v in values if np.isfinite(v)]
    if not finite:
        return None, None
    return float(np.mean(finite)), float(np.std(finite))


@dataclass(frozen=True)
class Scores:
    """A fit's test scores. Means and stds are over forest seeds; ``r2_bootstrap_std`` is the std of R²
    (of the seed-averaged prediction) over bootstrap resamples of the test groups; ``r2_by_kind`` is R² per
    variant kind with at least :data:`MIN_KIND_SAMPLES` test checkpoints (``n_by_kind`` counts them)."""

    r2_scores: tuple[float, ...]
    r2_mean: float
    r2_std: float
    r2_bootstrap_std: float | None
    r2_log: float | None
    r2_log_std: float | None
    spearman: float | None
    spearman_std: float | None
    r2_by_kind: dict[str, float] = field(default_factory=dict)
    n_by_kind: dict[str, int] = field(default_factory=dict)


def score_predictions(
    truth: np.ndarray,
    predicted: np.ndarray,
    *,
    log_target: bool,
    kinds: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    seed: int = 0,
) -> Scores:
    """Score per-seed predictions.

    Parameters
    ----------
    truth : ndarray (n,)
        Test targets in the target's units.
    predicted : ndarray (seeds, n)
        Predictions in the target's units.
    log_target : bool
        Whether the chosen space (``r2_scores``) is the log of the target.
    kinds : ndarray (n,) of str or None, optional
        Variant kind of each test checkpoint.
    groups : ndarray (n,), optional
        Group of each test checkpoint (its run): the bootstrap resamples groups, not checkpoints.
    seed : int
        Seed of the bootstrap.
    """
    truth = np.asarray(truth, dtype=np.float64)
    predicted = np.atleast_2d(np.asarray(predicted, dtype=np.float64))
    space = (lambda v: np.log(np.maximum(v, 1e-300))) if log_target else (lambda v: v)
    per_seed = [r2(space(truth), space(p)) for p in predicted]
    mean_space = space(predicted).mean(axis=0)
    r2_mean, r2_std = _mean_std(per_seed)
    log_mean, log_std = _mean_std([r2_log(truth, p) for p in predicted])
    rho_mean, rho_std = _mean_std([spearman(truth, p) for p in predicted])
    by_kind, n_by_kind = {}, {}
    if kinds is not None:
        for kind in sorted({k for k in kinds if k is not None}):
            mask = kinds == kind
            n_by_kind[str(kind)] = int(mask.sum())
            if mask.sum() >= MIN_KIND_SAMPLES:
                value = r2(space(truth[mask]), mean_space[mask])
                if np.isfinite(value):
                    by_kind[str(kind)] = value
    return Scores(
        r2_scores=tuple(per_seed),
        r2_mean=float("nan") if r2_mean is None else r2_mean,
        r2_std=r2_std or 0.0,
        r2_bootstrap_std=bootstrap_r2_std(space(truth), mean_space, groups, seed),
        r2_log=log_mean,
        r2_log_std=log_std,
        spearman=rho_mean,
        spearman_std=rho_std,
        r2_by_kind=by_kind,
        n_by_kind=n_by_kind,
    )


def bootstrap_r2_std(
    truth: np.ndarray,
    predicted: np.ndarray,
    groups: np.ndarray | None,
    seed: int = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> float | None:
    """Std of R² over resamples (with replacement) of the test groups; None with fewer than 2 groups."""
    labels = np.unique(
        np.asarray(groups if groups is not None else np.arange(len(truth))).astype(str), return_inverse=True
    )[1]
    n_groups = labels.max() + 1 if len(labels) else 0
    if n_groups < 2:
        return None
    members = [np.flatnonzero(labels == g) for g in range(n_groups)]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        index = np.concatenate([members[g] for g in rng.integers(n_groups, size=n_groups)])
        value = r2(truth[index], predicted[index])
        if np.isfinite(value):
            values.append(value)
    return float(np.std(values)) if len(values) >= 2 else None
