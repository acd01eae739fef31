"""The compiled exact hull agrees with Qhull, and leaves to Qhull every cloud it cannot decide."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.spatial import ConvexHull

import zoo.filters as zf
from zoo.filters import metrics
from zoo.filters.hull import MIN_SEED_VOLUME, hull_volumes

RELATIVE = 1e-9  # the promise: the compiled hull changes volumes by rounding only


def batch(rng: np.random.Generator, count: int, shape: tuple[int, ...] = (64, 3, 7, 7)) -> np.ndarray:
    """Random banks at scales 1e-4..1, shifted, with channels scaled apart (anisotropic clouds)."""
    scales = 10.0 ** rng.uniform(-4, 0, (count, 1, 1, 1, 1))
    channels = rng.uniform(0.2, 1.0, (count, 1, 3, 1, 1))
    return scales * (channels * rng.standard_normal((count, *shape)) + rng.standard_normal((count, 1, 1, 1, 1)))


def points_bank(points: np.ndarray) -> np.ndarray:
    """A 2x2-kernel bank ``(1, P/4, 3, 2, 2)`` whose RGB vectors are ``points`` ``(P, 3)`` (first repeated)."""
    padded = np.concatenate([points, np.repeat(points[:1], -len(points) % 4, axis=0)])
    return padded.reshape(-1, 2, 2, 3).transpose(0, 3, 1, 2)[None]


def qhull_volume(bank: np.ndarray) -> float:
    """Qhull on every normalised point, no filtering: the plain definition."""
    points = np.moveaxis(bank, 1, -1).reshape(-1, 3)
    return ConvexHull((points - bank.min()) / (bank.max() - bank.min())).volume


@pytest.mark.parametrize("shape", [(64, 3, 7, 7), (16, 3, 3, 3), (96, 3, 4, 4), (8, 3, 16, 16), (1, 3, 5, 5)])
def test_compiled_hull_equals_qhull_on_random_banks(shape):
    rng = np.random.default_rng(sum(shape))
    banks = batch(rng, 12, shape)
    fast = hull_volumes(banks)
    assert not np.isnan(fast).any()
    np.testing.assert_allclose(fast, metrics.convex_hull_volume_qhull(banks), rtol=RELATIVE, atol=0)
    np.testing.assert_allclose(fast[:3], [qhull_volume(bank) for bank in banks[:3]], rtol=RELATIVE, atol=0)


@pytest.mark.parametrize(
    "transform",
    [np.square, lambda x: x**3, np.exp, lambda x: np.sign(x) * np.abs(x) ** 0.2],
    ids=["square", "cube", "exp", "root"],
)
def test_compiled_hull_equals_qhull_on_skewed_and_heavy_tailed_clouds(transform):
    banks = transform(batch(np.random.default_rng(7), 8) * 3)
    np.testing.assert_allclose(hull_volumes(banks), metrics.convex_hull_volume_qhull(banks), rtol=RELATIVE)


def test_correlated_channels_give_a_thin_cloud_that_is_still_exact():
    rng = np.random.default_rng(3)
    gray = rng.standard_normal((10, 64, 1, 7, 7))
    banks = gray + 0.05 * rng.standard_normal((10, 64, 3, 7, 7))  # a cigar along (1, 1, 1)
    fast = hull_volumes(banks)
    decided = ~np.isnan(fast)
    assert decided.any()
    np.testing.assert_allclose(fast[decided], metrics.convex_hull_volume_qhull(banks[decided]), rtol=RELATIVE)


def test_a_constant_bank_has_volume_zero():
    assert hull_volumes(np.full((2, 4, 3, 3, 3), 0.5)).tolist() == [0.0, 0.0]


def test_flat_clouds_are_left_to_qhull_which_gives_zero():
    gray = np.random.default_rng(0).standard_normal((1, 8, 1, 7, 7))
    equal_channels = np.repeat(gray, 3, axis=2)
    plane = np.concatenate([gray, -gray, 2 * gray], axis=2)  # every point on one plane through 0
    for bank in (equal_channels, plane):
        assert np.isnan(hull_volumes(bank)).all()
        assert zf.get_metric("convex_hull_volume")(bank).tolist() == [0.0]


def test_nearly_flat_clouds_below_the_seed_volume_are_left_to_qhull():
    rng = np.random.default_rng(1)
    gray = np.repeat(rng.standard_normal((1, 64, 1, 7, 7)), 3, axis=2)
    bank = gray + 1e-6 * rng.standard_normal(gray.shape)
    expected = metrics.convex_hull_volume_qhull(bank)
    assert 0.0 < expected[0] < MIN_SEED_VOLUME
    assert np.isnan(hull_volumes(bank)).all()
    np.testing.assert_array_equal(zf.get_metric("convex_hull_volume")(bank), expected)


CUBE = np.array(list(itertools.product([0.0, 1.0], repeat=3)))
FACE_CENTRES = np.array([[0.5, 0.5, 0], [0.5, 0.5, 1], [0.5, 0, 0.5], [0.5, 1, 0.5], [0, 0.5, 0.5], [1, 0.5, 0.5]])


@pytest.mark.parametrize(
    "points",
    [
        CUBE,
        np.concatenate([CUBE, FACE_CENTRES]),
        np.concatenate([FACE_CENTRES, CUBE, np.random.default_rng(0).uniform(0.1, 0.9, (40, 3))]),
        np.array(list(itertools.product(np.linspace(0, 1, 5), repeat=3))),
        np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0.2, 0.2, 0.2], [0.3, 0.2, 0.1]]),
    ],
    ids=["cube", "cube+faces", "faces+cube+inside", "grid", "tetrahedron+coplanar"],
)
def test_points_on_the_planes_of_the_hull_are_left_to_qhull(points):
    """Four or more points on one plane of the hull make some side test undecidable: Qhull answers."""
    bank = points_bank(points)
    assert np.isnan(hull_volumes(bank)).all()
    np.testing.assert_array_equal(zf.get_metric("convex_hull_volume")(bank), metrics.convex_hull_volume_qhull(bank))


def test_repeated_points_and_zero_filters_do_not_disturb_the_hull():
    rng = np.random.default_rng(5)
    banks = batch(rng, 6)
    banks[:, :20] = 0.0  # zero filters: one point repeated 980 times
    banks[:, 30:40] = banks[:, 40:50]  # repeated filters, hull vertices included
    fast = hull_volumes(banks)
    assert not np.isnan(fast).any()
    np.testing.assert_allclose(fast, metrics.convex_hull_volume_qhull(banks), rtol=RELATIVE)


def test_the_registered_metric_mixes_decided_and_undecided_banks_in_order():
    rng = np.random.default_rng(9)
    banks = batch(rng, 5)
    banks[1] = np.repeat(banks[1][:, :1], 3, axis=1)  # flat: Qhull's QhullError, volume 0
    banks[3] = 0.25  # constant
    values = zf.get_metric("convex_hull_volume")(banks)
    np.testing.assert_allclose(values, metrics.convex_hull_volume_qhull(banks), rtol=RELATIVE, atol=0)
    assert values[1] == 0.0 and values[3] == 0.0 and (values[[0, 2, 4]] > 0).all()


def test_the_volume_is_unchanged_by_scaling_and_shifting_the_bank():
    bank = batch(np.random.default_rng(11), 1)
    values = hull_volumes(np.concatenate([bank, 1e-3 * bank, 7.5 * bank + 2.0]))
    np.testing.assert_allclose(values, values[0], rtol=1e-12)
