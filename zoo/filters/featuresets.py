"""Registries of filter metrics and of named, versioned feature sets, and the functions that featurize banks.

A *metric* is one decorated function written for a validated batch of filter banks::

    @register_metric("filter_variance")
    def filter_variance(banks):  # (B, N, 3, n, n) float64 -> (B,) float64
        ...

The decorator stores that batched kernel in the registry and returns a public function that accepts a single
bank ``(N, 3, n, n)`` (returns a float) or a batch ``(B, N, 3, n, n)`` (returns ``(B,)``), validating first.
Metrics that share one computation (the bands of a power spectrum) are registered together with
:func:`register_metric_group`: one kernel returns ``(B, M)``, and featurizing calls it once per batch.
A metric registered with ``grayscale=True`` also measures ``C = 1`` banks, as the RGB bank with the channel
repeated (``np.repeat(bank, 3, axis=1)``); a feature set takes grayscale banks when all its metrics do.

A *feature set* is an ordered tuple of metric names under a name and a version (``paper-v1``). A metric vector
stored in the catalog is only meaningful together with the key of the feature set that produced it, so a set
is never changed in place: a different choice of metrics is a new version.

This module never imports the metric implementations; :mod:`zoo.filters` imports them, which registers them
(the same plugin pattern as timm's model registry).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from zoo.errors import InvalidInput, NotFound
from zoo.vocabulary import PAPER_V1_METRICS

__all__ = [
    "DEFAULT_FEATURE_SET",
    "PAPER_V1",
    "FeatureSet",
    "MetricKernel",
    "as_bank_batch",
    "feature_set_names",
    "featurize",
    "featurize_many",
    "get_feature_set",
    "get_metric",
    "metric_names",
    "register_feature_set",
    "register_metric",
    "register_metric_group",
    "takes_grayscale",
]

MetricKernel = Callable[[np.ndarray], np.ndarray]
"""A metric on a validated float64 batch ``(B, N, 3, n, n)``, returning ``(B,)`` float64."""

RGB_CHANNELS = 3
# Elements per chunk in featurize_many: ~8 MB of float64 keeps the temporaries small (timed: 1e6 to 2e6 is best).
_CHUNK_ELEMENTS = 1_000_000


@dataclass(frozen=True)
class _Registered:
    """One registered metric: column ``column`` of ``kernel`` (``None``: the kernel returns ``(B,)``)."""

    kernel: Callable[[np.ndarray], np.ndarray]
    column: int | None
    grayscale: bool

    def values(self, batch: np.ndarray) -> np.ndarray:
        out = self.kernel(batch)
        return out if self.column is None else out[:, self.column]


_METRICS: dict[str, _Registered] = {}
_FEATURE_SETS: dict[str, FeatureSet] = {}


# ---------------------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------------------


def _check_bank_shape(shape: tuple[int, ...], what: str = "filter bank", grayscale: bool = False) -> None:
    """Raise :class:`InvalidInput` unless ``shape`` is ``(N, 3, n, n)`` (or ``C = 1`` if ``grayscale``),
    ``N >= 1`` and ``n >= 2``."""
    if len(shape) != 4:
        raise InvalidInput(f"{what} must have shape (N, C, n, n), got shape {shape}")
    n_filters, channels, height, width = shape
    if channels != RGB_CHANNELS and not (grayscale and channels == 1):
        raise InvalidInput(
            f"{what} has C={channels} input channels; the paper's filter metrics are defined for RGB "
            f"first layers (C=3). For a grayscale model, replicate its channel with "
            f"np.repeat(bank, 3, axis=1) to measure it as a colourless RGB bank, or use feature set paper-v2, "
            f"which measures grayscale banks directly."
        )
    if height != width or height < 2:
        raise InvalidInput(f"{what} must have square n x n kernels with n >= 2, got {height} x {width}")
    if n_filters < 1:
        raise InvalidInput(f"{what} holds no filters (N=0)")


def as_bank_batch(banks: ArrayLike, labels: np.ndarray | None = None, grayscale: bool = False) -> np.ndarray:
    """Validate filter banks and convert them once to a float64 batch.

    Parameters
    ----------
    banks : array_like, shape (N, 3, n, n) or (B, N, 3, n, n)
        One filter bank or a batch of banks of equal shape; real numbers, all finite.
    labels : ndarray of int, shape (B,), optional
        Index of each bank in the caller's collection, used only in error messages.
    grayscale : bool, default False
        Accept ``C = 1`` banks too, and return them with the channel repeated three times.

    Returns
    -------
    batch : ndarray, shape (B, N, 3, n, n), float64
        ``B = 1`` for a single bank.

    Raises
    ------
    InvalidInput
        Wrong number of dimensions or channels, non-square or 1x1 kernels, no filters, non-real dtype,
        NaN or infinite values.
    """
    try:
        array = np.asarray(banks)
    except ValueError as error:  # ragged nested sequences
        raise InvalidInput(f"filter banks must form a regular array: {error}") from None
    if array.dtype.kind not in "fiu":
        raise InvalidInput(f"filter banks must hold real numbers, got dtype {array.dtype}")
    if array.ndim not in (4, 5):
        raise InvalidInput(f"expected a filter bank (N, C, n, n) or a batch (B, N, C, n, n), got shape {array.shape}")
    _check_bank_shape(array.shape[-4:], grayscale=grayscale)
    batch = array.astype(np.float64, copy=False).reshape((-1, *array.shape[-4:]))
    if batch.shape[2] == 1:
        batch = np.repeat(batch, RGB_CHANNELS, axis=2)
    if not np.isfinite(batch).all():
        bad = np.flatnonzero(~np.isfinite(batch).reshape(batch.shape[0], -1).all(axis=1))
        where = bad if labels is None else np.asarray(labels)[bad]
        raise InvalidInput(f"filter bank(s) at index {where[:5].tolist()} contain NaN or infinite values")
    return batch


# ---------------------------------------------------------------------------------------------------------
# Metric registry
# ---------------------------------------------------------------------------------------------------------


def register_metric(
    name: str, *, grayscale: bool = False
) -> Callable[[MetricKernel], Callable[[ArrayLike], float | np.ndarray]]:
    """Register a batched metric kernel under ``name`` and return its validating public form.

    Parameters
    ----------
    name : str
        Unique metric name, used in feature sets and as a column name.
    grayscale : bool, default False
        The metric also measures ``C = 1`` banks (given to the kernel with the channel repeated).

    Returns
    -------
    decorator : callable
        Takes a kernel ``(B, N, 3, n, n) float64 -> (B,) float64`` and returns ``metric(bank)``, which
        validates ``bank`` and returns a float for one ``(N, 3, n, n)`` bank or ``(B,)`` for a batch.

    Raises
    ------
    ValueError
        If ``name`` is already registered (two metrics must never share a column name).
    """

    def decorator(kernel: MetricKernel) -> Callable[[ArrayLike], float | np.ndarray]:
        _add_metrics((name,), kernel, grouped=False, grayscale=grayscale)

        @functools.wraps(kernel)
        def metric(bank: ArrayLike) -> float | np.ndarray:
            batch = as_bank_batch(bank, grayscale=grayscale)
            values = kernel(batch)
            return float(values[0]) if np.ndim(bank) == 4 else values

        return metric

    return decorator


def register_metric_group(
    names: Sequence[str], *, grayscale: bool = False
) -> Callable[[Callable[[np.ndarray], np.ndarray]], Callable[[ArrayLike], np.ndarray]]:
    """Register one kernel that computes several metrics at once, column ``j`` being ``names[j]``.

    Parameters
    ----------
    names : sequence of str
        Unique metric names, in the kernel's column order.
    grayscale : bool, default False
        As for :func:`register_metric`.

    Returns
    -------
    decorator : callable
        Takes a kernel ``(B, N, 3, n, n) float64 -> (B, len(names)) float64`` and returns its validating
        public form: ``(len(names),)`` for one bank, ``(B, len(names))`` for a batch.

    Raises
    ------
    ValueError
        If a name is already registered or repeated.
    """
    names = tuple(names)

    def decorator(kernel: Callable[[np.ndarray], np.ndarray]) -> Callable[[ArrayLike], np.ndarray]:
        _add_metrics(names, kernel, grouped=True, grayscale=grayscale)

        @functools.wraps(kernel)
        def metrics(bank: ArrayLike) -> np.ndarray:
            values = kernel(as_bank_batch(bank, grayscale=grayscale))
            return values[0] if np.ndim(bank) == 4 else values

        return metrics

    return decorator


def _add_metrics(names: tuple[str, ...], kernel: Callable, *, grouped: bool, grayscale: bool) -> None:
    taken = [name for name in names if name in _METRICS]
    if taken or len(set(names)) != len(names):
        raise ValueError(f"a filter metric named {(taken or list(names))[0]!r} is already registered")
    for column, name in enumerate(names):
        _METRICS[name] = _Registered(kernel, column if grouped else None, grayscale)


def get_metric(name: str) -> MetricKernel:
    """Return the batched kernel ``(B, N, 3, n, n) -> (B,)`` registered as ``name``.

    Raises
    ------
    NotFound
        If no metric has that name; the message lists the valid names.
    """
    try:
        registered = _METRICS[name]
    except KeyError:
        raise NotFound(f"unknown filter metric {name!r}; valid metrics: {', '.join(metric_names())}") from None
    return registered.kernel if registered.column is None else registered.values


def takes_grayscale(feature_set: str | FeatureSet) -> bool:
    """Whether every metric of ``feature_set`` measures ``C = 1`` banks."""
    return all(_registered(name).grayscale for name in get_feature_set(feature_set).metrics)


def _registered(name: str) -> _Registered:
    get_metric(name)  # raises NotFound with the list of names
    return _METRICS[name]


def metric_names() -> tuple[str, ...]:
    """Names of all registered metrics, in registration order."""
    return tuple(_METRICS)


# ---------------------------------------------------------------------------------------------------------
# Feature sets
# ---------------------------------------------------------------------------------------------------------

_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.]*(?:-(?!v\d+$)[a-z0-9_.]+)*")


@dataclass(frozen=True)
class FeatureSet:
    """An ordered, named and versioned choice of filter metrics.

    Attributes
    ----------
    name : str
        Lower-case name, e.g. ``"paper"``; must not itself end in ``-v<digits>``.
    version : int
        Version number, >= 1. Changing the metrics of a set means registering a new version.
    metrics : tuple of str
        Metric names, unique, in column order.
    """

    name: str
    version: int
    metrics: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_PATTERN.fullmatch(self.name):
            raise InvalidInput(
                f"feature set name {self.name!r} must be lower-case letters, digits, '_', '.' or '-' "
                f"and must not end in '-v<number>'"
            )
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise InvalidInput(f"feature set version must be an integer >= 1, got {self.version!r}")
        metrics = tuple(self.metrics)
        if not metrics or len(set(metrics)) != len(metrics):
            raise InvalidInput(f"feature set {self.name!r} needs a non-empty list of distinct metrics")
        object.__setattr__(self, "metrics", metrics)

    @property
    def key(self) -> str:
        """The catalog key, ``"<name>-v<version>"``, e.g. ``"paper-v1"``."""
        return f"{self.name}-v{self.version}"


def register_feature_set(feature_set: FeatureSet) -> FeatureSet:
    """Register ``feature_set`` under its key and return it.

    Registering an identical set again is a no-op. Metric names are resolved when the set is used, so a set
    may be declared before its metrics are imported.

    Raises
    ------
    ValueError
        If a different set is already registered under the same key (versions are immutable).
    """
    existing = _FEATURE_SETS.get(feature_set.key)
    if existing is not None and existing != feature_set:
        raise ValueError(f"feature set {feature_set.key!r} is already registered with other metrics")
    _FEATURE_SETS[feature_set.key] = feature_set
    return feature_set


def feature_set_names() -> tuple[str, ...]:
    """Keys of all registered feature sets (``"paper-v1"``, ...), sorted."""
    return tuple(sorted(_FEATURE_SETS))


def get_feature_set(key_or_name: str | FeatureSet) -> FeatureSet:
    """Look up a feature set by key (``"paper-v1"``) or by name (``"paper"``: its highest version).

    A :class:`FeatureSet` instance is returned as is, so ad-hoc sets need no registration.

    Raises
    ------
    NotFound
        If no registered set matches; the message lists the valid keys.
    """
    if isinstance(key_or_name, FeatureSet):
        return key_or_name
    if key_or_name in _FEATURE_SETS:
        return _FEATURE_SETS[key_or_name]
    versions = [fs for fs in _FEATURE_SETS.values() if fs.name == key_or_name]
    if versions:
        return max(versions, key=lambda fs: fs.version)
    raise NotFound(f"unknown feature set {key_or_name!r}; valid feature sets: {', '.join(feature_set_names())}")


def _kernels(feature_set: str | FeatureSet) -> tuple[FeatureSet, list[_Registered]]:
    resolved = get_feature_set(feature_set)
    return resolved, [_registered(name) for name in resolved.metrics]


def _featurize_batch(batch: np.ndarray, kernels: list[_Registered]) -> np.ndarray:
    """``(B, N, 3, n, n)`` float64 -> ``(B, M)``; a group kernel runs once for all its metrics."""
    computed: dict[int, np.ndarray] = {}
    columns = []
    for entry in kernels:
        if id(entry.kernel) not in computed:
            computed[id(entry.kernel)] = entry.kernel(batch)
        out = computed[id(entry.kernel)]
        columns.append(out if entry.column is None else out[:, entry.column])
    return np.stack(columns, axis=1)


def _grayscale(kernels: list[_Registered]) -> bool:
    return all(entry.grayscale for entry in kernels)


def featurize(bank: ArrayLike, feature_set: str | FeatureSet = "paper-v1") -> dict[str, float]:
    """Metric vector of one filter bank.

    Parameters
    ----------
    bank : array_like, shape (N, 3, n, n)
        One first-layer filter bank (usually the delta learned - reference).
    feature_set : str or FeatureSet, default "paper-v1"
        Key, name or instance of the feature set.

    Returns
    -------
    features : dict of str to float
        Metric name to value, in the feature set's order.
    """
    if np.ndim(bank) != 4:
        raise InvalidInput(
            f"featurize takes one bank (N, C, n, n), got shape {np.shape(bank)}; use featurize_many for several"
        )
    resolved, kernels = _kernels(feature_set)
    row = _featurize_batch(as_bank_batch(bank, grayscale=_grayscale(kernels)), kernels)[0]
    return dict(zip(resolved.metrics, row.tolist(), strict=True))


def featurize_many(banks: Sequence[ArrayLike] | np.ndarray, feature_set: str | FeatureSet = "paper-v1") -> np.ndarray:
    """Metric vectors of many filter banks, batching banks of equal shape.

    Parameters
    ----------
    banks : sequence of array_like (N_b, 3, n_b, n_b), or ndarray (B, N, 3, n, n)
        Banks may differ in shape (e.g. ResNet 64x3x7x7 and ConvNeXt 96x3x4x4); banks of equal shape are
        computed together in chunks.
    feature_set : str or FeatureSet, default "paper-v1"

    Returns
    -------
    features : ndarray, shape (B, M), float64
        Row ``b`` is the metric vector of ``banks[b]``; columns follow ``get_feature_set(feature_set).metrics``.
    """
    _, kernels = _kernels(feature_set)
    grayscale = _grayscale(kernels)
    is_batch_array = isinstance(banks, np.ndarray) and banks.ndim == 5
    if is_batch_array:
        _check_bank_shape(banks.shape[1:], grayscale=grayscale)
        groups = {banks.shape[1:]: np.arange(banks.shape[0])}
    else:
        groups = _indices_by_shape(banks, grayscale)
    out = np.empty((len(banks), len(kernels)), dtype=np.float64)
    for shape, indices in groups.items():
        step = max(1, _CHUNK_ELEMENTS // int(np.prod(shape)))
        for start in range(0, len(indices), step):
            chunk = indices[start : start + step]
            members = banks[chunk[0] : chunk[-1] + 1] if is_batch_array else [banks[i] for i in chunk]
            batch = as_bank_batch(np.asarray(members), labels=chunk, grayscale=grayscale)
            out[chunk] = _featurize_batch(batch, kernels)
    return out


def _indices_by_shape(banks: Sequence[ArrayLike], grayscale: bool) -> dict[tuple[int, ...], np.ndarray]:
    """Group bank indices by shape, validating each shape (the error names the offending index)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, bank in enumerate(banks):
        shape = np.shape(bank)
        _check_bank_shape(shape, what=f"filter bank {index}", grayscale=grayscale)
        groups.setdefault(shape, []).append(index)
    return {shape: np.asarray(indices) for shape, indices in groups.items()}


PAPER_V1 = register_feature_set(
    FeatureSet(
        name="paper",
        version=1,
        metrics=PAPER_V1_METRICS,
    )
)
"""The eight metrics of Jorgenson et al., section 3.2, in the paper's order."""

DEFAULT_FEATURE_SET = PAPER_V1.key
