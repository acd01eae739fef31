"""The generalization matrix on the web: computed on demand, kept while the catalog's rows stay the same.

The catalog stores no matrix (``zoo report`` writes its matrices to report.json in a folder the server
does not know, and ``zoo evaluate`` stores nothing), so ``/evaluate`` fits one with
:func:`zoo.metamodel.evaluate_generalization` when a page asks, with ``zoo evaluate``'s defaults and
bounded settings, one matrix at a time. A matrix is kept under a hash of its settings and of the rows it is
fitted from (the same :func:`zoo.metamodel.features.load_rows` call the fit makes: checkpoint ids, target,
metric values and grouping columns), so it is fitted again exactly when a checkpoint, a metric or a measured
property it depends on changes, and asking again is free otherwise.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.catalog import Catalog
from zoo.errors import InvalidInput, NotFound
from zoo.filters import DEFAULT_FEATURE_SET, get_feature_set
from zoo.metamodel import GeneralizationMatrix, evaluate_generalization, parse_selection_with_metrics
from zoo.metamodel.evaluate import DEFAULT_EVALUATE_REPEATS, DEFAULT_FOLDS
from zoo.metamodel.features import check_target, load_rows

# zoo evaluate's defaults (zoo/cli/evaluate_command.py), so /evaluate?target=X equals zoo evaluate --target X.
DEFAULT_TREES = 30
MAX_TREES = 200
MAX_REPEATS = 10
MAX_FOLDS = 20
MAX_SEED = 2**31 - 1
CACHE_ENTRIES = 32
TRUE_WORDS, FALSE_WORDS = ("1", "true", "on", "yes"), ("", "0", "false", "off", "no")


@dataclass(frozen=True)
class MatrixSettings:
    """What a matrix is fitted with: ``zoo evaluate``'s options, the selection in the ``zoo query`` language."""

    target: str
    feature_set: str = DEFAULT_FEATURE_SET
    selection: str = ""
    raw_target: bool = False
    trees: int = DEFAULT_TREES
    repeats: int = DEFAULT_EVALUATE_REPEATS
    folds: int = DEFAULT_FOLDS
    seed: int = 0

    def query(self) -> dict[str, str]:
        """The settings as query parameters (for the heatmap's URL and links)."""
        params = {
            "target": self.target,
            "feature_set": self.feature_set,
            "q": self.selection,
            "trees": str(self.trees),
            "repeats": str(self.repeats),
            "folds": str(self.folds),
            "seed": str(self.seed),
        }
        return params | ({"raw_target": "1"} if self.raw_target else {})

    def command(self) -> str | None:
        """The ``zoo evaluate`` command fitting the same matrix (None with a selection: the command line
        spells selections as options such as --arch and --where)."""
        if self.selection.strip():
            return None
        return (
            f"zoo evaluate --target {self.target} --feature-set {self.feature_set}"
            + (" --raw-target" if self.raw_target else "")
            + f" --trees {self.trees} --repeats {self.repeats} --folds {self.folds} --seed {self.seed}"
        )


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}")
    return value


def settings_from(params: Mapping[str, str]) -> MatrixSettings | None:
    """The settings of a request's query parameters; None when no target was asked for (the form only)."""
    target = params.get("target", "").strip()
    raw = params.get("raw_target", "").strip().lower()
    if raw not in TRUE_WORDS + FALSE_WORDS:
        raise InvalidInput(f"raw_target must be 1 or 0, not {raw!r}")
    try:
        feature_set = get_feature_set(params.get("feature_set", "").strip() or DEFAULT_FEATURE_SET).key
    except NotFound as error:  # a bad parameter, not a missing page
        raise InvalidInput(str(error)) from None
    trees = _int(params, "trees", DEFAULT_TREES, 1, MAX_TREES)
    repeats = _int(params, "repeats", DEFAULT_EVALUATE_REPEATS, 1, MAX_REPEATS)
    folds = _int(params, "folds", DEFAULT_FOLDS, 2, MAX_FOLDS)
    seed = _int(params, "seed", 0, 0, MAX_SEED)
    if not target:
        return None
    check_target(target)
    return MatrixSettings(
        target, feature_set, params.get("q", "").strip(), raw in TRUE_WORDS, trees, repeats, folds, seed
    )


@dataclass(frozen=True)
class Computed:
    matrix: GeneralizationMatrix
    key: str  # hash of the settings and the rows fitted on
    cached: bool  # True: served from the cache, nothing was fitted
    seconds: float  # how long the fit took (when it was fitted, by this request or the one that cached it)


def _rows_digest(catalog: Catalog, settings: MatrixSettings) -> str:
    """A hash of the settings and of every input the matrix is fitted from."""
    fs = get_feature_set(settings.feature_set)
    selection, metric_wheres = parse_selection_with_metrics(settings.selection or None, fs)
    loaded = load_rows(catalog, selection, settings.target, fs, metric_wheres)
    rows = loaded.rows
    sha = hashlib.sha256(json.dumps(settings.query(), sort_keys=True).encode())
    for array in (rows.ids, rows.run_ids, rows.X, rows.y):
        sha.update(np.ascontiguousarray(array).tobytes())
    meta = {name: [None if v is None else str(v) for v in values] for name, values in sorted(rows.meta.items())}
    sha.update(json.dumps([meta, [str(k) for k in rows.reference_kinds], loaded.n_reference]).encode())
    return sha.hexdigest()


class MatrixCache:
    """Matrices by settings and rows; fits one at a time (a fit uses every core), bounded, thread-safe."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self._items: OrderedDict[str, tuple[GeneralizationMatrix, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._fitting = threading.Lock()
        self.fitted = 0  # how many matrices were actually fitted (for tests and curiosity)

    def _cached(self, key: str) -> Computed | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            matrix, seconds = self._items[key]
            return Computed(matrix, key, True, seconds)

    def get(self, catalog: Catalog, settings: MatrixSettings) -> Computed:
        key = _rows_digest(catalog, settings)
        found = self._cached(key)
        if found is not None:
            return found
        with self._fitting:
            found = self._cached(key)  # fitted by another request while this one waited
            if found is not None:
                return found
            started = time.perf_counter()
            matrix = fit_matrix(catalog, settings)
            seconds = time.perf_counter() - started
            self.fitted += 1
            if _rows_digest(catalog, settings) == key:  # the rows did not change during the fit: keep it
                with self._lock:
                    self._items[key] = (matrix, seconds)
                    while len(self._items) > self.entries:
                        self._items.popitem(last=False)
        return Computed(matrix, key, False, seconds)


def fit_matrix(catalog: Catalog, settings: MatrixSettings) -> GeneralizationMatrix:
    """:func:`zoo.metamodel.evaluate_generalization` with the settings, as ``zoo evaluate`` calls it."""
    selection, metric_wheres = parse_selection_with_metrics(settings.selection or None, settings.feature_set)
    return evaluate_generalization(
        catalog,
        settings.target,
        selection,
        feature_set=settings.feature_set,
        log_target=not settings.raw_target,
        n_estimators=settings.trees,
        repeats=settings.repeats,
        folds=settings.folds,
        seed=settings.seed,
        metric_wheres=metric_wheres,
    )


def matrix_records(matrix: GeneralizationMatrix) -> dict[str, Any]:
    """The JSON twin: what ``zoo evaluate --json`` prints."""
    from dataclasses import asdict

    return asdict(matrix)
