"""Volume of the convex hull of a bank's RGB vectors, computed exactly without Qhull where that is certain.

:func:`hull_volumes` is the fast path of :func:`zoo.filters.metrics.convex_hull_volume`: a compiled (numba)
incremental 3-D hull over all banks of a batch, with no Python call per bank. It answers only where every
decision it took is certain; elsewhere it returns NaN and the caller uses Qhull, as before. The answers
agree with Qhull's to rounding (tested to 1e-9 relative; observed ~1e-15).

Per bank, after the min/max normalisation of :func:`~zoo.filters.metrics.convex_hull_volume` (the same
arithmetic, so the same points):

1. The points extreme along the 3 axes and 4 body diagonals of the cube, both signs (Akl-Toussaint),
   seed the hull: first a tetrahedron of four of them, then the others, one at a time.
2. Every point strictly inside that hull, by a margin, is dropped (usually all but about a hundred of the
   3136 points of a 64x3x7x7 bank): it cannot be a vertex of the final hull. A ball inside the hull
   settles most points of a round cloud with one distance each; the others face every facet.
3. The remaining points are added one at a time: a point outside some facets replaces those facets by
   the fan from the point to their boundary (the horizon); a point inside or on the hull is skipped.
4. The volume is the sum of the tetrahedra from an interior point to the triangular facets.

Certainty. Each side-of-facet test ``n . p - n . a`` is decided only when its magnitude exceeds
:data:`SIDE_MARGIN`, more than ten times a bound on its rounding error for points in the unit cube. NaN
is returned for a point outside the hull whose side of some other facet is undecided (points on a plane
of the hull, as in quantized or synthetic banks), a starting tetrahedron smaller than
:data:`MIN_SEED_VOLUME` (flat or nearly flat clouds, e.g. equal channels, which Qhull refuses or measures
less precisely), and a failed consistency check (the facets close up into a sphere, ``F = 2 V - 4``, and
face away from the interior). A point skipped as "inside or on" has a side of at most
:data:`SIDE_MARGIN` for every facet, and the tetrahedron it would add on a facet has a sixth of its side
as volume: at most 1.7e-14 per facet, against volumes of at least 1e-4 decided here (and in practice such
points are the hull's own vertices, repeated, with sides of exactly 0).

numba is imported on first use, as in :mod:`zoo.filters.split_bregman`; the compiled kernel is cached on
disk (compiling it takes 5 to 10 s of CPU, once per machine).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable

import numpy as np

__all__ = ["MIN_SEED_VOLUME", "SIDE_MARGIN", "hull_volumes"]

SIDE_MARGIN = 1e-13
"""Smallest ``|n . p - n . a|`` taken as a decided side of a facet (rounding error < 1e-14 in the unit cube)."""
MIN_SEED_VOLUME = 1e-4
"""Smallest volume of the starting tetrahedron (in the unit cube); flatter clouds are left to Qhull."""

# The 3 axes and 4 body diagonals of the cube, each used with both signs. (All 13 axis, face and body
# diagonals seed a closer hull, but finding their extremes costs more than the points they save.)
_DIRECTIONS = np.array(
    [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 1), (1, 1, -1), (1, -1, 1), (1, -1, -1)], dtype=np.float64
)
_N_EXTREMES = 2 * len(_DIRECTIONS)


def _interior_side(normals, offsets, facet, interior) -> float:  # pragma: no cover
    """``n . o - n . a`` of facet ``facet`` for the interior point ``o`` ``(3,)``: < 0 when it faces away."""
    return (
        normals[facet, 0] * interior[0] + normals[facet, 1] * interior[1] + normals[facet, 2] * interior[2]
    ) - offsets[facet]


def _set_plane(points, vertices, normals, offsets, facet) -> None:  # pragma: no cover
    """Normal ``(b - a) x (c - a)`` and offset ``n . a`` of the facet ``(a, b, c)`` of ``vertices[facet]``."""
    a, b, c = vertices[facet, 0], vertices[facet, 1], vertices[facet, 2]
    ux, uy, uz = points[0, b] - points[0, a], points[1, b] - points[1, a], points[2, b] - points[2, a]
    vx, vy, vz = points[0, c] - points[0, a], points[1, c] - points[1, a], points[2, c] - points[2, a]
    normals[facet, 0] = uy * vz - uz * vy
    normals[facet, 1] = uz * vx - ux * vz
    normals[facet, 2] = ux * vy - uy * vx
    offsets[facet] = (
        normals[facet, 0] * points[0, a] + normals[facet, 1] * points[1, a] + normals[facet, 2] * points[2, a]
    )


def _add_point(points, index, vertices, normals, offsets, count, interior, visible, horizon) -> int:  # pragma: no cover
    """Add ``points[:, index]`` to the hull of facets ``[0, count)``; return the new facet count, -1 if unsure.

    ``interior`` is ``(3,)``, a point strictly inside; ``visible`` and ``horizon`` are scratch arrays.
    """
    px, py, pz = points[0, index], points[1, index], points[2, index]
    n_visible = 0
    unsure = False
    for facet in range(count):
        side = (normals[facet, 0] * px + normals[facet, 1] * py + normals[facet, 2] * pz) - offsets[facet]
        if side > SIDE_MARGIN:
            visible[n_visible] = facet
            n_visible += 1
        elif side >= -SIDE_MARGIN:
            unsure = True
    if n_visible == 0:
        return count  # inside or on the hull
    if unsure:
        return -1
    # Horizon: edges (u, w) of visible facets whose reverse (w, u) is in no visible facet.
    n_horizon = 0
    for i in range(n_visible):
        f = visible[i]
        for e in range(3):
            u, w = vertices[f, e], vertices[f, (e + 1) % 3]
            shared = False
            for j in range(n_visible):
                g = visible[j]
                for k in range(3):
                    if vertices[g, k] == w and vertices[g, (k + 1) % 3] == u:
                        shared = True
            if not shared:
                horizon[n_horizon, 0] = u
                horizon[n_horizon, 1] = w
                n_horizon += 1
    # The horizon of a point outside a convex polytope is one cycle: each vertex starts exactly one edge.
    for i in range(n_horizon):
        starts = 0
        for j in range(n_horizon):
            if horizon[j, 0] == horizon[i, 0]:
                starts += 1
        if starts != 1:
            return -1
    # Drop the visible facets (compacting), then add the fan from the point to the horizon.
    keep = np.int64(0)  # not a literal: one compiled _set_plane
    next_visible = 0
    for facet in range(count):
        if next_visible < n_visible and visible[next_visible] == facet:
            next_visible += 1
            continue
        if keep != facet:
            for k in range(3):
                vertices[keep, k] = vertices[facet, k]
                normals[keep, k] = normals[facet, k]
            offsets[keep] = offsets[facet]
        keep += 1
    if keep + n_horizon > len(offsets):
        return -1
    for i in range(n_horizon):
        vertices[keep, 0] = horizon[i, 0]
        vertices[keep, 1] = horizon[i, 1]
        vertices[keep, 2] = index
        _set_plane(points, vertices, normals, offsets, keep)
        if not _interior_side(normals, offsets, keep, interior) < -SIDE_MARGIN:
            return -1
        keep += 1
    return keep


def _cloud_volume(points: np.ndarray) -> float:  # pragma: no cover
    """Exact hull volume of ``points`` ``(3, P)`` in the unit cube, or NaN where a decision is unsure."""
    n_points = points.shape[1]
    # 1. Extreme points along the 14 directions: for each direction, the first point of largest and of
    # smallest projection.
    best = np.empty(_N_EXTREMES, dtype=np.int64)
    for d in range(len(_DIRECTIONS)):
        cx, cy, cz = _DIRECTIONS[d, 0], _DIRECTIONS[d, 1], _DIRECTIONS[d, 2]
        high, low = -np.inf, np.inf
        at_high = at_low = 0
        for p in range(n_points):
            value = cx * points[0, p] + cy * points[1, p] + cz * points[2, p]
            if value > high:
                high, at_high = value, p
            if value < low:
                low, at_low = value, p
        best[2 * d], best[2 * d + 1] = at_high, at_low
    distinct = np.empty(_N_EXTREMES, dtype=np.int64)
    n_extremes = 0
    for i in range(_N_EXTREMES):
        new = True
        for j in range(n_extremes):
            if distinct[j] == best[i]:
                new = False
        if new:
            distinct[n_extremes] = best[i]
            n_extremes += 1
    extremes = distinct[:n_extremes]
    # Seed tetrahedron, from all points (the extremes can all sit at the two ends of a thin cloud): the
    # point farthest from the first extreme, the farthest from their line, the farthest from their plane.
    a = b = c = d = extremes[0]
    longest = 0.0
    for q in range(n_points):
        length = (points[0, q] - points[0, a]) ** 2 + (points[1, q] - points[1, a]) ** 2
        length += (points[2, q] - points[2, a]) ** 2
        if length > longest:
            longest, b = length, q
    ux, uy, uz = points[0, b] - points[0, a], points[1, b] - points[1, a], points[2, b] - points[2, a]
    widest = 0.0
    for q in range(n_points):
        vx, vy, vz = points[0, q] - points[0, a], points[1, q] - points[1, a], points[2, q] - points[2, a]
        area = (uy * vz - uz * vy) ** 2 + (uz * vx - ux * vz) ** 2 + (ux * vy - uy * vx) ** 2
        if area > widest:
            widest, c = area, q
    vx, vy, vz = points[0, c] - points[0, a], points[1, c] - points[1, a], points[2, c] - points[2, a]
    nx, ny, nz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
    tallest = 0.0
    for q in range(n_points):
        height = nx * (points[0, q] - points[0, a]) + ny * (points[1, q] - points[1, a])
        height += nz * (points[2, q] - points[2, a])
        if abs(height) > abs(tallest):
            tallest, d = height, q
    if not abs(tallest) >= 6.0 * MIN_SEED_VOLUME:  # |det| is 6 x the tetrahedron's volume
        return np.nan
    capacity = 2 * n_points + 16  # a hull of V vertices has 2 V - 4 facets
    vertices = np.empty((capacity, 3), dtype=np.int64)
    normals = np.empty((capacity, 3))
    offsets = np.empty(capacity)
    visible = np.empty(capacity, dtype=np.int64)
    horizon = np.empty((capacity, 2), dtype=np.int64)
    interior = np.empty(3)
    for k in range(3):
        interior[k] = (points[k, a] + points[k, b] + points[k, c] + points[k, d]) / 4.0
    # The four facets, each facing away from the interior: (a, b, c) if d is below it, else (a, c, b).
    if tallest < 0.0:
        a, b = b, a
    vertices[0, 0], vertices[0, 1], vertices[0, 2] = a, c, b
    vertices[1, 0], vertices[1, 1], vertices[1, 2] = a, b, d
    vertices[2, 0], vertices[2, 1], vertices[2, 2] = b, c, d
    vertices[3, 0], vertices[3, 1], vertices[3, 2] = a, d, c
    for facet in range(4):
        _set_plane(points, vertices, normals, offsets, facet)
        if not _interior_side(normals, offsets, facet, interior) < -SIDE_MARGIN:
            return np.nan
    # The extremes first; then (2.) the points not strictly inside their hull, which cannot be vertices of
    # the final one. One call site for _add_point keeps the compiled code small.
    count = np.int64(4)  # not a literal: one compiled _add_point
    order = extremes
    for stage in range(2):
        if stage == 1:
            # A ball around the extremes' centroid, inside every facet plane (shrunk far beyond rounding),
            # settles most points of a round cloud at once.
            centre = np.zeros(3)
            for i in range(n_extremes):
                for k in range(3):
                    centre[k] += points[k, extremes[i]]
            for k in range(3):
                centre[k] = centre[k] / n_extremes
            radius = np.inf
            for facet in range(count):
                length = np.sqrt(normals[facet, 0] ** 2 + normals[facet, 1] ** 2 + normals[facet, 2] ** 2)
                depth = offsets[facet] - (normals[facet, 0] * centre[0] + normals[facet, 1] * centre[1])
                depth -= normals[facet, 2] * centre[2]
                radius = min(radius, depth / length)
            inside = (radius * (1.0 - 1e-9)) ** 2 if radius > 0.0 else -1.0
            rest = np.empty(n_points, dtype=np.int64)
            n_rest = 0
            for p in range(n_points):
                distance = (points[0, p] - centre[0]) ** 2 + (points[1, p] - centre[1]) ** 2
                distance += (points[2, p] - centre[2]) ** 2
                rest[n_rest] = p
                n_rest += distance >= inside
            # The others: each one's largest side over the facets, facet by facet so that the loop vectorizes.
            xs, ys, zs = np.empty(n_rest), np.empty(n_rest), np.empty(n_rest)
            for i in range(n_rest):
                xs[i], ys[i], zs[i] = points[0, rest[i]], points[1, rest[i]], points[2, rest[i]]
            largest = np.empty(n_rest)
            for i in range(n_rest):
                largest[i] = -np.inf
            for facet in range(count):
                nx, ny, nz, offset = normals[facet, 0], normals[facet, 1], normals[facet, 2], offsets[facet]
                for i in range(n_rest):
                    side = (nx * xs[i] + ny * ys[i] + nz * zs[i]) - offset
                    largest[i] = side if side > largest[i] else largest[i]
            n_order = 0
            for i in range(n_rest):
                rest[n_order] = rest[i]
                n_order += largest[i] >= -SIDE_MARGIN
            order = rest[:n_order]
        # 3. Add them, one at a time.
        for i in range(len(order)):
            count = _add_point(points, order[i], vertices, normals, offsets, count, interior, visible, horizon)
            if count < 0:
                return np.nan
    # A closed triangulated sphere has F = 2 V - 4.
    used = np.zeros(n_points, dtype=np.int64)
    n_used = 0
    for facet in range(count):
        for k in range(3):
            if used[vertices[facet, k]] == 0:
                used[vertices[facet, k]] = 1
                n_used += 1
    if count != 2 * n_used - 4:
        return np.nan
    # 4. Volume: tetrahedra from the interior point to the facets.
    six_volume = 0.0
    for facet in range(count):
        p, q, r = vertices[facet, 0], vertices[facet, 1], vertices[facet, 2]
        px, py, pz = points[0, p] - interior[0], points[1, p] - interior[1], points[2, p] - interior[2]
        qx, qy, qz = points[0, q] - interior[0], points[1, q] - interior[1], points[2, q] - interior[2]
        rx, ry, rz = points[0, r] - interior[0], points[1, r] - interior[1], points[2, r] - interior[2]
        six_volume += px * (qy * rz - qz * ry) + py * (qz * rx - qx * rz) + pz * (qx * ry - qy * rx)
    return six_volume / 6.0


def _batch_kernel(banks: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """``out[b]`` = hull volume of bank ``b`` of ``(B, N, 3, n, n)``, 0 for a constant bank, NaN if unsure."""
    n_filters, pixels = banks.shape[1], banks.shape[3] * banks.shape[4]
    points = np.empty((3, n_filters * pixels))
    for b in range(banks.shape[0]):
        bank = banks[b].reshape(n_filters, 3, pixels)
        # min and max over the bank, in 4 independent running pairs
        low = np.empty(4)
        high = np.empty(4)
        for lane in range(4):
            low[lane] = high[lane] = bank[0, 0, 0]
        flat = bank.reshape(-1)
        for start in range(0, len(flat) - 3, 4):
            for lane in range(4):
                value = flat[start + lane]
                low[lane] = value if value < low[lane] else low[lane]
                high[lane] = value if value > high[lane] else high[lane]
        for value in flat[len(flat) - len(flat) % 4 :]:
            low[0] = min(low[0], value)
            high[0] = max(high[0], value)
        minimum, maximum = low[0], high[0]
        for lane in range(1, 4):
            minimum = min(minimum, low[lane])
            maximum = max(maximum, high[lane])
        span = maximum - minimum
        if not span > 0.0:
            out[b] = 0.0
            continue
        for channel in range(3):
            row = points[channel]
            for i in range(n_filters):
                for k in range(pixels):
                    row[i * pixels + k] = (bank[i, channel, k] - minimum) / span
        out[b] = _cloud_volume(points)


@functools.cache
def _compiled() -> Callable[[np.ndarray, np.ndarray], None]:
    import numba  # deferred: `import zoo` stays light

    # Each function is compiled in a namespace where the others are the compiled ones, so that they call
    # each other natively. No fastmath: the side tests keep IEEE rounding, which their margin is sized for.
    jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    namespace = dict(globals())
    for function in (_interior_side, _set_plane, _add_point, _cloud_volume, _batch_kernel):
        name = function.__name__
        namespace[name] = jit(types.FunctionType(function.__code__, namespace, name))
    return namespace["_batch_kernel"]


def hull_volumes(banks: np.ndarray) -> np.ndarray:
    """Convex hull volume of each normalised bank of ``(B, N, 3, n, n)`` float64; NaN where Qhull must decide.

    A constant bank gives 0. The points are ``(F - min F) / (max F - min F)``, min and max over the bank,
    as in :func:`zoo.filters.metrics.convex_hull_volume`.
    """
    banks = np.ascontiguousarray(banks, dtype=np.float64)
    out = np.empty(banks.shape[0])
    _compiled()(banks, out)
    return out
