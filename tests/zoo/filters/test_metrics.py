"""The vectorized filter metrics agree with a per-filter oracle and have the properties the paper relies on."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

import zoo.filters as zf
from zoo.errors import InvalidInput
from zoo.filters.compiled_metrics import sorting_network
from zoo.filters.numpy_reference import NUMPY_REFERENCE

sys.path.insert(0, str(Path(__file__).parent))
from oracle_metrics import ORACLE, oracle_featurize  # noqa: E402

METRICS = zf.PAPER_V1.metrics
KERNEL_SIZES = (3, 4, 7, 16)  # MobileNetV3, ConvNeXt, ResNet, ViT patch embedding
SCALE_FREE = ("convex_hull_volume", "dist_to_gaussian", "spatial_roughness")
SCALE_POWER = {"filter_variance": 2, "laplacian_variance": 2, "wavelet_noise_sigma": 1, "channel_saturation": -2}


def random_bank(seed: int, n_filters: int = 12, size: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_filters, 3, size, size)) * 10.0 ** rng.uniform(-3, 1)


def filter_norms(bank: np.ndarray) -> np.ndarray:
    return np.sqrt(np.square(bank).sum(axis=(1, 2, 3)))


def blurred(bank: np.ndarray) -> np.ndarray:
    """Gaussian-blur every channel, then give each filter back its norm (blurring alone also shrinks it)."""
    out = ndimage.gaussian_filter(bank, sigma=(0, 0, 1, 1), mode="reflect")
    return out * (filter_norms(bank) / filter_norms(out))[:, None, None, None]


def evaluate(name: str, bank: np.ndarray) -> float:
    return getattr(zf, name)(bank)


# --------------------------------------------------------------------------------------------------------
# Agreement with the oracle
# --------------------------------------------------------------------------------------------------------


def test_oracle_covers_every_paper_v1_metric():
    assert set(METRICS) == set(ORACLE)


@pytest.mark.parametrize("size", KERNEL_SIZES)
@pytest.mark.parametrize("name", METRICS)
def test_vectorized_metric_matches_per_filter_oracle(name, size):
    for seed in range(2):
        bank = random_bank(seed * 100 + size, n_filters=5 + 4 * seed, size=size)
        np.testing.assert_allclose(evaluate(name, bank), ORACLE[name](bank), rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", METRICS)
def test_batched_metric_matches_oracle_bank_by_bank(name):
    batch = np.stack([random_bank(seed, n_filters=6, size=4) for seed in range(5)])
    expected = [ORACLE[name](bank) for bank in batch]
    values = evaluate(name, batch)
    assert values.shape == (5,)
    np.testing.assert_allclose(values, expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", METRICS)
def test_single_bank_gives_a_float_and_batch_an_array(name):
    bank = random_bank(1, size=3)
    single = evaluate(name, bank)
    assert isinstance(single, float)
    np.testing.assert_allclose(evaluate(name, bank[None]), [single], rtol=1e-12)


def test_float32_banks_give_the_float64_result_of_the_same_values():
    bank = random_bank(3).astype(np.float32)
    np.testing.assert_allclose(
        list(zf.featurize(bank).values()), list(oracle_featurize(bank.astype(np.float64)).values()), rtol=1e-6
    )


# --------------------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["spatial_roughness", "laplacian_variance", "dist_to_gaussian"])
@pytest.mark.parametrize("size", (4, 7, 16))
def test_blurring_the_filters_lowers_sharpness_metrics(name, size):
    bank = np.random.default_rng(size).standard_normal((16, 3, size, size))
    assert evaluate(name, blurred(bank)) < 0.8 * evaluate(name, bank)


@pytest.mark.parametrize("size", (4, 7, 16))
def test_adding_noise_raises_the_wavelet_noise_estimate(size):
    rng = np.random.default_rng(size)
    smooth = blurred(rng.standard_normal((16, 3, size, size)))
    noisy = smooth + 0.5 * rng.standard_normal(smooth.shape)
    assert zf.wavelet_noise_sigma(noisy) > zf.wavelet_noise_sigma(smooth)


def test_more_noise_gives_a_larger_wavelet_noise_estimate():
    rng = np.random.default_rng(7)
    smooth, noise = blurred(rng.standard_normal((32, 3, 16, 16))), rng.standard_normal((32, 3, 16, 16))
    sigmas = [zf.wavelet_noise_sigma(smooth + level * noise) for level in (0.1, 0.3, 1.0)]
    assert sigmas == sorted(sigmas)


def test_filters_with_equal_channels_have_zero_saturation_and_a_flat_hull():
    gray = np.random.default_rng(0).standard_normal((8, 1, 7, 7))
    bank = np.repeat(gray, 3, axis=1)
    assert zf.channel_saturation(bank) == 0.0
    assert zf.convex_hull_volume(bank) == 0.0
    assert zf.channel_saturation(bank + [[[[0.0]], [[1.0]], [[0.0]]]]) > 0.0


def test_saturation_is_zero_when_either_adjacent_channel_pair_agrees_as_printed():
    """The printed formula multiplies |f'[0] - f'[1]| by |f'[1] - f'[2]|: one equal pair zeroes it."""
    gray = np.repeat(np.random.default_rng(0).standard_normal((8, 1, 7, 7)), 3, axis=1)
    assert zf.channel_saturation(gray + [[[[0.0]], [[0.0]], [[1.0]]]]) == 0.0
    assert zf.channel_saturation(gray + [[[[1.0]], [[0.0]], [[0.0]]]]) == 0.0


def test_colour_difference_raises_channel_saturation():
    rng = np.random.default_rng(1)
    base = np.repeat(rng.standard_normal((8, 1, 7, 7)), 3, axis=1)
    tint = rng.standard_normal((8, 3, 7, 7))
    values = [zf.channel_saturation(base + weight * tint) for weight in (0.1, 0.3, 1.0)]
    assert values == sorted(values)


@pytest.mark.parametrize("scale", (1e-3, 0.5, 7.5))
@pytest.mark.parametrize("name", SCALE_FREE)
def test_scaling_the_bank_leaves_normalised_metrics_unchanged(name, scale):
    bank = random_bank(11, size=7)
    np.testing.assert_allclose(evaluate(name, scale * bank), evaluate(name, bank), rtol=1e-9)


@pytest.mark.parametrize("scale", (1e-3, 7.5))
@pytest.mark.parametrize("name", sorted(SCALE_POWER))
def test_scaling_the_bank_scales_unnormalised_metrics_by_a_power(name, scale):
    bank = random_bank(12, size=7)
    np.testing.assert_allclose(
        evaluate(name, scale * bank), scale ** SCALE_POWER[name] * evaluate(name, bank), rtol=1e-9
    )


def test_every_paper_metric_has_a_stated_scaling_behaviour():
    assert set(SCALE_FREE) | set(SCALE_POWER) | {"bregman_distance"} == set(zf.PAPER_V1.metrics)


def test_bregman_distance_depends_on_scale_as_documented():
    bank = random_bank(13)
    assert zf.bregman_distance(1e-2 * bank) != pytest.approx(zf.bregman_distance(bank), rel=1e-3)


@pytest.mark.parametrize("name", METRICS)
def test_permuting_the_filters_changes_nothing(name):
    bank = random_bank(21, n_filters=10, size=4)
    order = np.random.default_rng(0).permutation(len(bank))
    np.testing.assert_allclose(evaluate(name, bank[order]), evaluate(name, bank), rtol=1e-10)


def test_bregman_on_a_stack_equals_bregman_filter_by_filter():
    """The batched skimage call over all channels gives exactly the per-filter calls' result."""
    bank = random_bank(5, n_filters=4, size=7)
    batch_value = zf.bregman_distance(np.stack([bank, bank[::-1], 2 * bank]))
    single_values = [zf.bregman_distance(b) for b in (bank, bank[::-1], 2 * bank)]
    np.testing.assert_allclose(batch_value, single_values, rtol=1e-12)


def test_two_by_two_filters_have_no_interior_so_zero_roughness():
    assert zf.spatial_roughness(random_bank(2, size=2)) == 0.0


def test_wavelet_estimate_of_a_zero_channel_is_zero_not_nan():
    bank = random_bank(4, n_filters=3)
    bank[:, 2] = 0.0
    value = zf.wavelet_noise_sigma(bank)
    assert np.isfinite(value)
    np.testing.assert_allclose(value, ORACLE["wavelet_noise_sigma"](bank), rtol=1e-6)


# --------------------------------------------------------------------------------------------------------
# Degenerate and invalid banks
# --------------------------------------------------------------------------------------------------------

DEGENERATE = {
    "all_zero": np.zeros((64, 3, 7, 7)),
    "constant_bank": np.full((16, 3, 3, 3), 0.25),
    "constant_filters": np.arange(8.0)[:, None, None, None] * np.ones((8, 3, 4, 4)),
    "single_filter": random_bank(0, n_filters=1, size=7),
    "single_2x2_filter": random_bank(1, n_filters=1, size=2),
    "one_zero_filter": np.concatenate([np.zeros((1, 3, 7, 7)), random_bank(2, n_filters=3)]),
    "equal_channels": np.repeat(random_bank(3, n_filters=4)[:, :1], 3, axis=1),
    "single_nonzero_weight": np.pad(np.ones((1, 1, 1, 1)), ((0, 3), (1, 1), (3, 3), (3, 3))),
    "tiny_values": 1e-30 * random_bank(4),
    "checkerboard": np.tile(np.indices((7, 7)).sum(axis=0) % 2 * 2.0 - 1.0, (4, 3, 1, 1)),
}


@pytest.mark.parametrize("case", sorted(DEGENERATE))
def test_degenerate_banks_give_finite_metrics(case):
    features = zf.featurize(DEGENERATE[case])
    assert all(np.isfinite(value) for value in features.values()), features


@pytest.mark.parametrize("case", ["all_zero", "constant_bank", "constant_filters"])
def test_featureless_banks_give_zero_for_every_shape_metric(case):
    features = zf.featurize(DEGENERATE[case])
    for name in (
        "channel_saturation",
        "convex_hull_volume",
        "dist_to_gaussian",
        "filter_variance",
        "spatial_roughness",
        "laplacian_variance",
    ):
        assert features[name] == pytest.approx(0.0, abs=1e-12), name
    assert features["bregman_distance"] == pytest.approx(0.0, abs=1e-9)
    assert features["wavelet_noise_sigma"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("case", ["single_filter", "single_2x2_filter", "one_zero_filter", "checkerboard"])
def test_degenerate_banks_agree_with_the_oracle(case):
    bank = DEGENERATE[case]
    expected = oracle_featurize(bank)
    for name, value in zf.featurize(bank).items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-6, atol=1e-12, err_msg=name)


def test_fewer_than_four_distinct_points_give_a_zero_hull():
    bank = np.zeros((1, 3, 2, 2))
    bank[0, :, 0, 0] = [1.0, 0.0, 0.0]
    bank[0, :, 1, 1] = [0.0, 1.0, 0.0]
    assert zf.convex_hull_volume(bank) == 0.0


@pytest.mark.parametrize("name", METRICS)
def test_single_channel_banks_are_refused_with_a_fix(name):
    with pytest.raises(InvalidInput, match=r"C=1.*np\.repeat"):
        evaluate(name, np.ones((4, 1, 7, 7)))


@pytest.mark.parametrize(
    ("bank", "message"),
    [
        (np.ones((3, 7, 7)), "shape"),
        (np.ones((2, 2, 4, 3, 7, 7)), "shape"),
        (np.ones((4, 3, 7, 5)), "square"),
        (np.ones((4, 3, 1, 1)), "n >= 2"),
        (np.ones((0, 3, 7, 7)), "no filters"),
        (np.full((4, 3, 7, 7), np.nan), "NaN"),
        (np.full((4, 3, 7, 7), np.inf), "infinite"),
        (np.full((4, 3, 7, 7), "a"), "real numbers"),
    ],
)
def test_invalid_banks_are_refused_with_a_clear_message(bank, message):
    with pytest.raises(InvalidInput, match=message):
        zf.filter_variance(bank)


# --------------------------------------------------------------------------------------------------------
# The compiled kernels against the numpy kernels they replaced
# --------------------------------------------------------------------------------------------------------

COMPILED_RELATIVE = 1e-9  # the promise: compiling the kernels changes values by rounding only


def test_every_paper_v1_metric_keeps_its_numpy_reference():
    assert set(NUMPY_REFERENCE) == set(METRICS)


@pytest.mark.parametrize("size", (2, 3, 4, 7, 16))
@pytest.mark.parametrize("n_filters", (1, 5, 64))
def test_compiled_kernels_equal_the_numpy_kernels_on_random_banks(size, n_filters):
    rng = np.random.default_rng(size * 100 + n_filters)
    scales = 10.0 ** rng.uniform(-4, 0, (4, 1, 1, 1, 1))
    batch = zf.as_bank_batch(scales * rng.standard_normal((4, n_filters, 3, size, size)))
    for name in METRICS:
        np.testing.assert_allclose(
            zf.get_metric(name)(batch),
            NUMPY_REFERENCE[name](batch),
            rtol=COMPILED_RELATIVE,
            atol=0,
            err_msg=name,
        )


QUANTIZED = np.round(4 * np.random.default_rng(8).standard_normal((64, 3, 7, 7))) / 4


@pytest.mark.parametrize("case", [*sorted(DEGENERATE), "quantized"])
def test_compiled_kernels_equal_the_numpy_kernels_on_degenerate_banks(case):
    """Exact zeros stay exact zeros; quantized weights, whose wavelet details have exact zeros, keep their
    wavelet estimate (the details are the same numbers, so the non-zero entries are the same)."""
    batch = zf.as_bank_batch(QUANTIZED if case == "quantized" else DEGENERATE[case])
    for name in METRICS:
        new, old = zf.get_metric(name)(batch), NUMPY_REFERENCE[name](batch)
        assert (new == 0.0).tolist() == (old == 0.0).tolist(), name
        np.testing.assert_allclose(new, old, rtol=COMPILED_RELATIVE, atol=0, err_msg=name)


def test_compiled_kernels_take_non_contiguous_batches():
    batch = zf.as_bank_batch(np.random.default_rng(2).standard_normal((6, 8, 3, 5, 5)))[::2]
    for name in METRICS:
        np.testing.assert_allclose(
            zf.get_metric(name)(batch), NUMPY_REFERENCE[name](batch), rtol=COMPILED_RELATIVE, err_msg=name
        )


@pytest.mark.parametrize("size", range(1, 13))
def test_the_sorting_network_sorts_every_zero_one_input(size):
    """By the 0-1 principle, a comparator network that sorts all 0/1 inputs sorts every input."""
    network = sorting_network(size)
    inputs = (np.arange(2**size)[:, None] >> np.arange(size)) & 1
    for first, second in network:
        low, high = np.minimum(inputs[:, first], inputs[:, second]), np.maximum(inputs[:, first], inputs[:, second])
        inputs[:, first], inputs[:, second] = low, high
    assert (np.diff(inputs, axis=1) >= 0).all()


@pytest.mark.parametrize("size", (25, 81, 196))
def test_the_sorting_network_sorts_random_inputs_with_ties_and_infinities(size):
    rng = np.random.default_rng(size)
    values = rng.integers(0, 6, (200, size)).astype(float)
    values[rng.random(values.shape) < 0.2] = np.inf
    ordered = values.copy()
    for first, second in sorting_network(size):
        low, high = np.minimum(ordered[:, first], ordered[:, second]), np.maximum(ordered[:, first], ordered[:, second])
        ordered[:, first], ordered[:, second] = low, high
    np.testing.assert_array_equal(ordered, np.sort(values, axis=1))
