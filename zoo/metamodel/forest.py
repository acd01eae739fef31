"""Forests, feature scaling and the applicability domain as plain arrays (a pickle-free ``.npz``).

* **Scaling.** scikit-learn's trees treat a feature whose range is below 1e-7 as constant, and paper-v1's
  ``filter_variance`` lives near 1e-8. Every feature is therefore mapped, inside the fit, by a signed
  log-magnitude ``asinh(x / c)`` (``c``: the training median of ``|x|``) and then robustly standardised
  (median, IQR / 1.349). Both steps are monotone, so a tree sees the same order of the values; the
  parameters are stored with the forest and applied again at prediction.
* **Forests.** The trees of every seed's forest are concatenated into global node arrays; ``predict_trees``
  walks all samples and trees at once.
* **Applicability domain.** The scaled training points (at most :data:`DOMAIN_POINTS`) and their
  leave-one-group-out nearest-neighbour distances (the distance from each point to the nearest point of
  another run, sorted) are stored too; a new feature vector's nearest-neighbour distance is scored as the
  percentile of those distances it reaches.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.errors import InvalidInput
from zoo.store import ArtifactStore

DOMAIN_POINTS = 4000  # training points kept for the applicability domain (seeded subsample beyond this)
DOMAIN_PERCENTILE = 99.0  # a model farther than this percentile of the training set's own NN distances extrapolates
_TINY = 1e-300


# --- scaling ---------------------------------------------------------------------------------------------


def fit_scaler(X: np.ndarray) -> dict[str, np.ndarray]:
    """Scaling parameters for the columns of a finite training matrix ``X`` ``(n, m)``.

    Returns
    -------
    dict with ``scale_ref``, ``scale_center``, ``scale_width`` : ndarray (m,) float64
        ``z = (asinh(x / scale_ref) - scale_center) / scale_width``; every entry is finite and the
        reference and width are positive, whatever the column holds (constant columns map to 0).
    """
    X = np.asarray(X, dtype=np.float64)
    magnitude = np.abs(X)
    ref = np.median(magnitude, axis=0)
    ref = np.where(ref > _TINY, ref, magnitude.mean(axis=0))
    ref = np.where(ref > _TINY, ref, 1.0)
    squashed = np.arcsinh(X / ref)
    center = np.median(squashed, axis=0)
    q75, q25 = np.percentile(squashed, [75, 25], axis=0)
    width = (q75 - q25) / 1.349
    width = np.where(width > 1e-12, width, squashed.std(axis=0))
    width = np.where(width > 1e-12, width, 1.0)
    return {"scale_ref": ref, "scale_center": center, "scale_width": width}


def apply_scaler(params: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Map features with :func:`fit_scaler`'s parameters (``X`` ``(n, m)``, finite); returns float64."""
    X = np.asarray(X, dtype=np.float64)
    return (np.arcsinh(X / params["scale_ref"]) - params["scale_center"]) / params["scale_width"]


# --- forests as arrays -----------------------------------------------------------------------------------


def forest_arrays(forest: Any, feature_names: Sequence[str]) -> dict[str, np.ndarray]:
    """Flatten a fitted single-output ``RandomForestRegressor`` into arrays (no pickle needed).

    Node arrays of all trees are concatenated; child indices are global (``-1`` marks a leaf) and
    ``roots[t]`` is tree ``t``'s first node. ``value`` is each node's mean target.
    """
    return forests_arrays([forest], feature_names)


def forests_arrays(forests: Sequence[Any], feature_names: Sequence[str]) -> dict[str, np.ndarray]:
    """:func:`forest_arrays` for several forests (one per seed): their trees concatenated in order;
    ``tree_forest[t]`` says which forest tree ``t`` came from."""
    trees = [estimator.tree_ for forest in forests for estimator in forest.estimators_]
    if any(tree.n_outputs != 1 for tree in trees):
        raise InvalidInput("only single-output forests can be stored")
    offsets = np.concatenate([[0], np.cumsum([tree.node_count for tree in trees])]).astype(np.int64)

    def joined(get: Any, dtype: Any) -> np.ndarray:
        return np.concatenate([get(tree, int(offset)) for tree, offset in zip(trees, offsets)]).astype(dtype)

    return {
        "roots": offsets[:-1],
        "tree_forest": np.concatenate([np.full(len(f.estimators_), i, dtype=np.int64) for i, f in enumerate(forests)]),
        "children_left": joined(lambda t, o: np.where(t.children_left >= 0, t.children_left + o, -1), np.int64),
        "children_right": joined(lambda t, o: np.where(t.children_right >= 0, t.children_right + o, -1), np.int64),
        "feature": joined(lambda t, o: t.feature, np.int64),
        "threshold": joined(lambda t, o: t.threshold, np.float64),
        "value": joined(lambda t, o: t.value[:, 0, 0], np.float64),
        "feature_names": np.array(list(feature_names), dtype=np.str_),
    }


def _check_features(arrays: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    n_features = len(arrays["feature_names"])
    if X.ndim != 2 or X.shape[1] != n_features or not np.isfinite(X).all():
        raise InvalidInput(f"features must be a finite (n, {n_features}) array, got shape {X.shape}")
    return X


def predict_trees(arrays: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Every tree's prediction for every sample: ``(n, n_trees)`` float64 (features already scaled).

    Inputs are rounded to float32 before comparing with the float64 thresholds, as scikit-learn does.
    """
    X = _check_features(arrays, X).astype(np.float32).astype(np.float64)
    left, right, feature, threshold = (arrays[k] for k in ("children_left", "children_right", "feature", "threshold"))
    nodes = np.broadcast_to(arrays["roots"], (len(X), len(arrays["roots"]))).copy()
    rows, cols = np.nonzero(left[nodes] >= 0)
    while len(rows):
        current = nodes[rows, cols]
        go_left = X[rows, feature[current]] <= threshold[current]
        nodes[rows, cols] = np.where(go_left, left[current], right[current])
        inner = left[nodes[rows, cols]] >= 0
        rows, cols = rows[inner], cols[inner]
    return arrays["value"][nodes]


def predict_forest(arrays: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Mean over trees of :func:`predict_trees` (summed in tree order, as scikit-learn's ``predict``).

    Parameters
    ----------
    arrays : dict of ndarray
        As made by :func:`forest_arrays` (or loaded from the artifact store).
    X : array_like, shape (n, m)
        Finite features, columns in ``arrays["feature_names"]`` order.

    Returns
    -------
    y : ndarray (n,) float64
    """
    per_tree = predict_trees(arrays, X)
    total = np.zeros(len(per_tree))
    for tree in range(per_tree.shape[1]):
        total += per_tree[:, tree]
    return total / per_tree.shape[1]


def save_forest(store: ArtifactStore, arrays: dict[str, np.ndarray]) -> str:
    """Store forest arrays as a compressed ``.npz`` in an artifact store; returns its sha256."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return store.put_bytes(buffer.getvalue())


def load_forest(store: ArtifactStore, sha: str) -> dict[str, np.ndarray]:
    """Load forest arrays from an artifact store (hash-verified, read with ``allow_pickle=False``)."""
    return store.get_arrays(sha)


# --- applicability domain --------------------------------------------------------------------------------


def _nearest(
    points: np.ndarray, queries: np.ndarray, exclude: np.ndarray | None = None, query_groups: np.ndarray | None = None
) -> np.ndarray:
    """Distance from each query to its nearest point (skipping points of the query's own group), in chunks."""
    out = np.empty(len(queries))
    for start in range(0, len(queries), 512):
        block = queries[start : start + 512]
        d2 = ((block[:, None, :] - points[None, :, :]) ** 2).sum(axis=2)
        if exclude is not None and query_groups is not None:
            d2[query_groups[start : start + 512, None] == exclude[None, :]] = np.inf
        out[start : start + 512] = np.sqrt(d2.min(axis=1))
    return out


def domain_arrays(Z: np.ndarray, groups: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """The applicability-domain reference of a scaled training matrix ``Z`` ``(n, m)``.

    ``groups`` (one label per row, e.g. the training run) keeps a point's near-duplicates (other epochs
    of its run) out of its own nearest-neighbour distance. Returns ``domain_points`` (float64 ``(k, m)``)
    and ``domain_nn`` (sorted leave-one-group-out NN distances, finite ones only).
    """
    Z = np.asarray(Z, dtype=np.float64)
    codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)[1]
    if len(Z) > DOMAIN_POINTS:
        keep = np.sort(np.random.default_rng(seed).choice(len(Z), DOMAIN_POINTS, replace=False))
        Z, codes = Z[keep], codes[keep]
    nn = _nearest(Z, Z, exclude=codes, query_groups=codes)
    if not np.isfinite(nn).any():  # one group only: fall back to plain leave-one-out
        nn = _nearest(Z, Z, exclude=np.arange(len(Z)), query_groups=np.arange(len(Z)))
    return {"domain_points": Z, "domain_nn": np.sort(nn[np.isfinite(nn)])}


@dataclass(frozen=True)
class DomainScore:
    """How far a feature vector lies from a fit's training set.

    ``distance`` is the Euclidean distance to the nearest training point in scaled features; ``score`` the
    percentile (0–100) of the training set's own leave-one-run-out NN distances that it reaches;
    ``in_domain`` is ``score <= DOMAIN_PERCENTILE``.
    """

    distance: float
    score: float
    in_domain: bool


def domain_edge(arrays: dict[str, np.ndarray]) -> float | None:
    """The domain's edge: the :data:`DOMAIN_PERCENTILE` of the training set's own NN distances (None if empty)."""
    reference = arrays["domain_nn"]
    if len(reference) == 0:
        return None
    edge = float(np.percentile(reference, DOMAIN_PERCENTILE))
    return edge if edge > 0 else None


def domain_scores(arrays: dict[str, np.ndarray], Z: np.ndarray) -> list[DomainScore]:
    """Score scaled feature vectors ``Z`` ``(n, m)`` against a stored domain (see :class:`DomainScore`)."""
    reference = arrays["domain_nn"]
    distances = _nearest(arrays["domain_points"], np.asarray(Z, dtype=np.float64))
    out = []
    for distance in distances:
        # the share of training distances below this one; beyond the largest it is 100
        score = 100.0 * np.searchsorted(reference, distance, side="right") / max(len(reference), 1)
        out.append(DomainScore(float(distance), float(score), bool(score <= DOMAIN_PERCENTILE)))
    return out
