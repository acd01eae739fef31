"""Compiled (numba) kernels of the paper-v1 metrics: a few passes over each bank, no Python per bank.

:mod:`zoo.filters.metrics` defines the metrics; the vectorized numpy kernels are the reference
(:data:`zoo.filters.numpy_reference.NUMPY_REFERENCE`); the registered metrics call these kernels instead.
On one 64x3x7x7 bank the numpy kernels spent most of their time in the overhead of some thirty small array operations each.

Layout. Each kernel first copies a bank to ``(3, n, n, N)``: weight-major, filter-minor. Every loop over a
filter's weights then runs with the N filters side by side in the innermost loop, where the compiler
vectorizes it, and each per-filter sum is a separate running total in weight order (no long chain of
dependent additions).

Arithmetic. Every kernel repeats the numpy kernel's element-wise arithmetic in the same order (the reflect-
padded stencils, ``(a + 2b + c) / 4``, ``(x - min) / span``, ...), so exact zeros stay exact zeros; only
the order of the sums over filters and weights differs, which changes results by rounding only (tested to 1e-9 relative; observed ~1e-15). Each kernel
takes a C-contiguous ``(B, N, 3, n, n)`` float64 batch and writes ``(B,)`` values; zero filters and an
all-zero bank follow the module notes of :mod:`zoo.filters.metrics`.

numba is imported on first use, as in :mod:`zoo.filters.split_bregman`; each kernel is compiled on its
first call and cached on disk. Compiling all of paper-v1's kernels (these, the hull's and split Bregman's)
takes 10 to 20 s of CPU once per machine; loading them from the cache takes about half a second.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable

import numpy as np

__all__ = ["compiled", "sorting_network"]


@functools.lru_cache(maxsize=32)
def sorting_network(size: int) -> np.ndarray:
    """Comparator pairs ``(i, j)``, ``i < j``, of Batcher's odd-even merge sort of ``size`` entries.

    Applying ``(x[i], x[j]) = (min, max)`` for each pair in order sorts any ``x`` (tested on all 0/1
    inputs, which suffices by the 0-1 principle). Returns an int64 array ``(pairs, 2)``.
    """
    pairs = []
    span = 1
    while span < size:
        step = span
        while step >= 1:
            for start in range(step % span, size - step, 2 * step):
                for offset in range(min(step, size - start - step)):
                    if (offset + start) // (2 * span) == (offset + start + step) // (2 * span):
                        pairs.append((offset + start, offset + start + step))
            step //= 2
        span *= 2
    network = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    network.setflags(write=False)
    return network


def _reflect(index: int, size: int) -> int:  # pragma: no cover
    """Index ``-1`` -> 0 and ``size`` -> ``size - 1``: scipy.ndimage's ``reflect`` border of one pixel."""
    if index < 0:
        return 0
    if index >= size:
        return size - 1
    return index


def _ratio(numerator: float, denominator: float) -> float:  # pragma: no cover
    """``numerator / denominator`` where the denominator is positive, else 0 (``metrics._safe_divide``)."""
    return numerator / denominator if denominator > 0.0 else 0.0


def _filters_last(bank: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """Copy one bank ``(N, 3, n, n)`` to ``out`` ``(3, n, n, N)`` (both C-contiguous)."""
    n_filters = bank.shape[0]
    source = bank.reshape(n_filters, -1)
    target = out.reshape(-1, n_filters)
    for k in range(source.shape[1]):
        for i in range(n_filters):
            target[k, i] = source[i, k]


def _norms(weights: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """``out[i] = |f_i|`` for ``weights`` ``(K, N)``, filter ``i`` in column ``i``."""
    out[:] = 0.0
    for k in range(weights.shape[0]):
        for i in range(weights.shape[1]):
            out[i] += weights[k, i] * weights[k, i]
    for i in range(weights.shape[1]):
        out[i] = np.sqrt(out[i])


def _weighted_mean(values: np.ndarray, norms: np.ndarray) -> float:  # pragma: no cover
    """``(1/S) sum_i |f_i| m_i`` (``metrics._norm_weighted_mean``); 0 if S = 0."""
    numerator = 0.0
    total = 0.0
    for i in range(len(norms)):
        numerator += norms[i] * values[i]
        total += norms[i]
    return _ratio(numerator, total)


def _variances(weights: np.ndarray, means: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """Population variance of each column of ``weights`` ``(K, N)``, as numpy: the mean, then the mean
    squared deviation."""
    count = weights.shape[0]
    means[:] = 0.0
    for k in range(count):
        for i in range(weights.shape[1]):
            means[i] += weights[k, i]
    for i in range(weights.shape[1]):
        means[i] = means[i] / count
    out[:] = 0.0
    for k in range(count):
        for i in range(weights.shape[1]):
            deviation = weights[k, i] - means[i]
            out[i] += deviation * deviation
    for i in range(weights.shape[1]):
        out[i] = out[i] / count


def _channel_saturation(banks: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    n_filters, size = banks.shape[1], banks.shape[3]
    weights = np.empty((3, size, size, n_filters))
    flat = weights.reshape(-1, n_filters)
    norms, low, span = np.empty(n_filters), np.empty(n_filters), np.empty(n_filters)
    squares, diff_01, diff_12 = np.empty(n_filters), np.empty(n_filters), np.empty(n_filters)
    for b in range(banks.shape[0]):
        _filters_last(banks[b], weights)
        _norms(flat, norms)
        low[:] = flat[0]
        span[:] = flat[0]  # the maximum, for now
        for k in range(flat.shape[0]):
            for i in range(n_filters):
                value = flat[k, i]
                low[i] = value if value < low[i] else low[i]
                span[i] = value if value > span[i] else span[i]
        for i in range(n_filters):
            span[i] = span[i] - low[i]
        squares[:] = 0.0
        diff_01[:] = 0.0
        diff_12[:] = 0.0
        for r in range(size):
            for c in range(size):
                for i in range(n_filters):
                    # (f - min) / span, and 0 for a constant filter, as metrics._safe_divide
                    valid = span[i] > 0.0
                    divisor = span[i] if valid else 1.0
                    g0 = (weights[0, r, c, i] - low[i]) / divisor if valid else 0.0
                    g1 = (weights[1, r, c, i] - low[i]) / divisor if valid else 0.0
                    g2 = (weights[2, r, c, i] - low[i]) / divisor if valid else 0.0
                    squares[i] += g0 * g0 + g1 * g1 + g2 * g2
                    diff_01[i] += (g0 - g1) * (g0 - g1)
                    diff_12[i] += (g1 - g2) * (g1 - g2)
        numerator = 0.0
        total = 0.0
        for i in range(n_filters):
            numerator += np.sqrt(squares[i]) * np.sqrt(diff_01[i]) * np.sqrt(diff_12[i])
            total += norms[i]
        out[b] = _ratio(numerator, 2.0 * (total * total))


def _unit_distance(banks: np.ndarray, others: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """``(1/S) sum_i |f_i - (|f_i| / |g_i|) g_i|`` for ``g = others`` (``metrics._unit_distance_weighted``)."""
    n_filters, size = banks.shape[1], banks.shape[3]
    weights = np.empty((3, size, size, n_filters))
    other = np.empty((3, size, size, n_filters))
    flat, other_flat = weights.reshape(-1, n_filters), other.reshape(-1, n_filters)
    norms, scale, squares = np.empty(n_filters), np.empty(n_filters), np.empty(n_filters)
    for b in range(banks.shape[0]):
        _filters_last(banks[b], weights)
        _filters_last(others[b], other)
        _norms(flat, norms)
        _norms(other_flat, scale)
        for i in range(n_filters):
            scale[i] = _ratio(norms[i], scale[i])
        _distance(flat, other_flat, norms, scale, squares)
        out[b] = _distance_mean(norms, squares)


def _distance(weights, other, norms, scale, squares) -> None:  # pragma: no cover
    """``squares[i] = |f_i - scale_i g_i|^2`` for ``(K, N)`` weights ``f`` and ``g``."""
    squares[:] = 0.0
    for k in range(weights.shape[0]):
        for i in range(weights.shape[1]):
            difference = weights[k, i] - scale[i] * other[k, i]
            squares[i] += difference * difference


def _distance_mean(norms: np.ndarray, squares: np.ndarray) -> float:  # pragma: no cover
    """``(1/S) sum_i sqrt(squares_i)``; 0 if S = 0."""
    numerator = 0.0
    total = 0.0
    for i in range(len(norms)):
        numerator += np.sqrt(squares[i])
        total += norms[i]
    return _ratio(numerator, total)


def _dist_to_gaussian(banks: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """The 3x3 Gaussian blur of every channel (reflect border, rows then columns, as numpy), then
    :func:`_unit_distance` to it."""
    n_filters, size = banks.shape[1], banks.shape[3]
    weights = np.empty((3, size, size, n_filters))
    blurred = np.empty((3, size, size, n_filters))
    rows = np.empty((size, size + 2, n_filters))
    flat, blurred_flat = weights.reshape(-1, n_filters), blurred.reshape(-1, n_filters)
    norms, scale, squares = np.empty(n_filters), np.empty(n_filters), np.empty(n_filters)
    for b in range(banks.shape[0]):
        _filters_last(banks[b], weights)
        for channel in range(3):
            f = weights[channel]
            for r in range(size):
                above, below = _reflect(r - 1, size), _reflect(r + 1, size)
                for c in range(-1, size + 1):
                    column = _reflect(c, size)
                    for i in range(n_filters):
                        rows[r, c + 1, i] = (f[above, column, i] + 2.0 * f[r, column, i] + f[below, column, i]) / 4.0
            for r in range(size):
                for c in range(size):
                    for i in range(n_filters):
                        blurred[channel, r, c, i] = (rows[r, c, i] + 2.0 * rows[r, c + 1, i] + rows[r, c + 2, i]) / 4.0
        _norms(flat, norms)
        _norms(blurred_flat, scale)
        for i in range(n_filters):
            scale[i] = _ratio(norms[i], scale[i])
        _distance(flat, blurred_flat, norms, scale, squares)
        out[b] = _distance_mean(norms, squares)


def _filter_variance(banks: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    n_filters, size = banks.shape[1], banks.shape[3]
    weights = np.empty((3, size, size, n_filters))
    flat = weights.reshape(-1, n_filters)
    norms, means, variances = np.empty(n_filters), np.empty(n_filters), np.empty(n_filters)
    for b in range(banks.shape[0]):
        _filters_last(banks[b], weights)
        _norms(flat, norms)
        _variances(flat, means, variances)
        out[b] = _weighted_mean(variances, norms)


def _spatial_roughness(banks: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """Each neighbouring pair (right, down, down-right, down-left) once, weighted by its interior ends."""
    n_filters, size = banks.shape[1], banks.shape[3]
    weights = np.empty((3, size, size, n_filters))
    norms, totals = np.empty(n_filters), np.empty(n_filters)
    for b in range(banks.shape[0]):
        _filters_last(banks[b], weights)
        _norms(weights.reshape(-1, n_filters), norms)
        totals[:] = 0.0
        for r in range(size):
            for c in range(size):
                for direction in range(4):  # the pair (first, second), differenced "second - first"
                    if direction == 0:
                        r1, c1, r2, c2 = r, c, r, c + 1
                    elif direction == 1:
                        r1, c1, r2, c2 = r, c, r + 1, c
                    elif direction == 2:
                        r1, c1, r2, c2 = r, c, r + 1, c + 1
                    else:
                        r1, c1, r2, c2 = r, c + 1, r + 1, c
                    if r2 >= size or c2 >= size or c1 >= size:
                        continue
                    centres = 0.0
                    if 0 < r1 < size - 1 and 0 < c1 < size - 1:
                        centres += 1.0
                    if 0 < r2 < size - 1 and 0 < c2 < size - 1:
                        centres += 1.0
                    if centres == 0.0:
                        continue
                    for i in range(n_filters):
                        d0 = weights[0, r2, c2, i] - weights[0, r1, c1, i]
                        d1 = weights[1, r2, c2, i] - weights[1, r1, c1, i]
                        d2 = weights[2, r2, c2, i] - weights[2, r1, c1, i]
                        totals[i] += np.sqrt(d0 * d0 + d1 * d1 + d2 * d2) * centres
        numerator = 0.0
        total = 0.0
        for i in range(n_filters):
            numerator += totals[i]
            total += norms[i]
        out[b] = _ratio(numerator / 8.0, total)


def _laplacian_variance(banks: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    n_filters, size = banks.shape[1], banks.shape[3]
    weights = np.empty((3, size, size, n_filters))
    laplacian = np.empty((3, size, size, n_filters))
    norms, means, variances = np.empty(n_filters), np.empty(n_filters), np.empty(n_filters)
    for b in range(banks.shape[0]):
        _filters_last(banks[b], weights)
        for channel in range(3):
            f = weights[channel]
            for r in range(size):
                above, below = _reflect(r - 1, size), _reflect(r + 1, size)
                for c in range(size):
                    left, right = _reflect(c - 1, size), _reflect(c + 1, size)
                    for i in range(n_filters):
                        laplacian[channel, r, c, i] = (
                            f[above, c, i] + f[below, c, i] + f[r, left, i] + f[r, right, i] - 4.0 * f[r, c, i]
                        )
        _norms(weights.reshape(-1, n_filters), norms)
        _variances(laplacian.reshape(-1, n_filters), means, variances)
        out[b] = _weighted_mean(variances, norms)


def _wavelet_noise_sigma(
    banks: np.ndarray, details: np.ndarray, network: np.ndarray, mad_to_sigma: float, out: np.ndarray
) -> None:  # pragma: no cover
    """Norm-weighted mean over filters of the channel mean of ``median(non-zero |d|) / mad_to_sigma``.

    ``details`` ``(B, N, 3, m, m)`` are the detail coefficients ``d``, computed by the caller with numpy as
    before: which of them are exactly 0 decides what the median runs over, so they must be the same
    numbers, rounding included. The median sorts ``|d|`` of all filters at once with the sorting network
    ``network`` (zeros as +inf, as numpy's masked median did), then takes each filter's middle entries.
    """
    n_filters, size = banks.shape[1], banks.shape[3]
    m = details.shape[-1]
    weights = np.empty((3, size, size, n_filters))
    magnitudes = np.empty((3, m * m, n_filters))
    counts = np.empty(n_filters, dtype=np.int64)
    norms, sigmas = np.empty(n_filters), np.empty(n_filters)
    for b in range(banks.shape[0]):
        _filters_last(banks[b], weights)
        _norms(weights.reshape(-1, n_filters), norms)
        _filters_last(details[b], magnitudes.reshape(3, m, m, n_filters))
        sigmas[:] = 0.0
        for channel in range(3):
            entries = magnitudes[channel]
            counts[:] = 0
            for entry in range(m * m):
                for i in range(n_filters):
                    magnitude = abs(entries[entry, i])
                    counts[i] += magnitude > 0.0
                    entries[entry, i] = magnitude if magnitude > 0.0 else np.inf
            for pair in range(network.shape[0]):
                first, second = entries[network[pair, 0]], entries[network[pair, 1]]
                for i in range(n_filters):
                    a, z = first[i], second[i]
                    first[i] = a if a < z else z
                    second[i] = z if a < z else a
            for i in range(n_filters):
                count = counts[i]
                median = 0.0
                if count > 0:
                    median = (entries[(count - 1) // 2, i] + entries[count // 2, i]) / 2
                sigmas[i] += median / mad_to_sigma
        for i in range(n_filters):
            sigmas[i] = sigmas[i] / 3.0
        out[b] = _weighted_mean(sigmas, norms)


_HELPERS = (_reflect, _ratio, _filters_last, _norms, _weighted_mean, _variances, _distance, _distance_mean)
_KERNELS = (
    _channel_saturation,
    _unit_distance,
    _dist_to_gaussian,
    _filter_variance,
    _spatial_roughness,
    _laplacian_variance,
    _wavelet_noise_sigma,
)


@functools.cache
def compiled() -> types.SimpleNamespace:
    """The compiled kernels, by name without the leading underscore (``compiled().filter_variance``)."""
    import numba  # deferred: `import zoo` stays light, and only featurizing pays numba's import

    # Each function is compiled in a namespace where the helpers are the compiled ones. No fastmath:
    # operations keep their order and IEEE rounding.
    jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    namespace = dict(globals())
    kernels: dict[str, Callable] = {}
    for function in (*_HELPERS, *_KERNELS):
        name = function.__name__
        namespace[name] = jit(types.FunctionType(function.__code__, namespace, name))
        kernels[name.lstrip("_")] = namespace[name]
    return types.SimpleNamespace(**kernels)
