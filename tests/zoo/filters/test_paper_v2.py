"""paper-v2: its shape features do not see the delta's size, the filter count or (where promised) the kernel size,
and they move the right way when the pattern gets rougher."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import zoo.filters as zf
from zoo.filters import paper_v2

SIZES = (3, 4, 7, 16)  # MobileNetV3, ConvNeXt, ResNet, ViT patch embedding
# Every metric of the module, as one unregistered set, so the invariance tests cover the metrics that PAPER_V2 leaves out.
ALL = zf.FeatureSet(name="paper-all", version=2, metrics=paper_v2.ALL_METRICS)
SHAPE = tuple(name for name in ALL.metrics if name != "log10_delta_rms")
SPECTRAL = (*paper_v2.BAND_NAMES, "spectral_slope")

# Kernel-size tolerance, as |value(n) - value(16)| for n in 3, 4, 7, on banks cropped from one stationary field
# (the mean over 8 banks of 64 filters). Why not zero: a crop of n pixels estimates a per-pixel statistic from
# (n-1)^2 to n^2 positions, and a ratio of two such means (e.g. mean Laplacian^2 over mean f^2) is biased by
# about 1/(number of positions), which is largest at n = 3 (4 to 9 positions). Measured worst cases are about
# half of these bounds (laplacian 12%, noise 19%, the rest <= 5%; spectral bands 0.003 absolute).
RELATIVE_SIZE_TOLERANCE = {
    "roughness_mean": 0.08,
    "blur_residual": 0.08,
    "colour_isotropy": 0.05,
    "opponent_energy_fraction": 0.05,
    "blue_yellow_share": 0.08,
    "laplacian_energy_ratio": 0.25,
    "noise_to_signal": 0.30,
}
ABSOLUTE_SIZE_TOLERANCE = {name: 0.02 for name in paper_v2.BAND_NAMES} | {
    "spectral_slope": 0.08,
    "corner_power_log_ratio": 0.1,
}
# Scale- and count-free, but a property of the crop and not of the pattern alone, so size-dependent by nature:
# the spread of filter norms and the min/max range shrink as a crop sees more of the field, a crop's mean is
# a larger share of its energy when it is small, and TV denoising's border share falls with n.
SIZE_DEPENDENT = {"filter_norm_cv", "saturation_rms", "variance_fraction", "bregman_unit"}


def smooth_field(sigma: float, seed: int = 0, size: int = 160) -> np.ndarray:
    """Three channels of Gaussian-filtered white noise (correlation length ~sigma px), unit variance."""
    noise = np.random.default_rng(seed).standard_normal((3, size, size))
    field = ndimage.gaussian_filter(noise, sigma=(0, sigma, sigma), mode="wrap")
    return field / field.std()


def cropped_banks(field: np.ndarray, size: int, banks: int = 8, filters: int = 64, seed: int = 1) -> np.ndarray:
    """``(banks, filters, 3, size, size)`` crops of ``field`` at random positions."""
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, field.shape[1] - size, (banks * filters, 2))
    crops = [field[:, row : row + size, col : col + size] for row, col in corners]
    return np.stack(crops).reshape(banks, filters, 3, size, size)


def mean_features(field: np.ndarray, size: int) -> dict[str, float]:
    table = zf.featurize_many(cropped_banks(field, size), ALL)
    return dict(zip(ALL.metrics, table.mean(axis=0), strict=True))


@pytest.fixture(scope="module")
def by_size() -> dict[int, dict[str, float]]:
    field = smooth_field(1.5)
    return {size: mean_features(field, size) for size in SIZES}


def test_paper_v2_is_registered_beside_paper_v1_which_stays_the_default():
    assert zf.get_feature_set("paper-v2") is zf.PAPER_V2
    assert zf.DEFAULT_FEATURE_SET == "paper-v1"
    assert not set(zf.PAPER_V2.metrics) & set(zf.PAPER_V1.metrics)
    assert set(zf.PAPER_V2.metrics) <= set(ALL.metrics) and len(set(ALL.metrics)) == len(ALL.metrics)


def test_every_shape_feature_is_classed_as_size_free_or_size_dependent():
    assert set(RELATIVE_SIZE_TOLERANCE) | set(ABSOLUTE_SIZE_TOLERANCE) | SIZE_DEPENDENT == set(SHAPE)


def test_every_paper_v2_metric_is_documented_with_units_and_invariance():
    for name in ALL.metrics:
        doc = zf.get_metric(name).__doc__ or paper_v2.power_spectrum.__doc__
        assert "Returns" in doc and ("dimensionless" in doc or "units" in doc or "fraction" in doc.lower()), name


@pytest.mark.parametrize("size", SIZES)
def test_shape_features_ignore_the_size_of_the_delta(size):
    bank = cropped_banks(smooth_field(1.5), size, banks=1, filters=16)[0]
    reference = zf.featurize(bank, ALL)
    for scale in (1e-4, 1e-2, 1.0):
        scaled = zf.featurize(scale * bank, ALL)
        for name in SHAPE:
            assert scaled[name] == pytest.approx(reference[name], rel=1e-6, abs=1e-12), (name, scale)
        assert scaled["log10_delta_rms"] == pytest.approx(reference["log10_delta_rms"] + np.log10(scale), abs=1e-9)


def test_shape_features_ignore_the_number_and_order_of_filters():
    bank = cropped_banks(smooth_field(1.5), 7, banks=1, filters=32)[0]
    doubled = np.concatenate([bank, bank[::-1]])
    np.testing.assert_allclose(
        zf.featurize_many([doubled], ALL)[0], zf.featurize_many([bank], ALL)[0], rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("name", sorted(RELATIVE_SIZE_TOLERANCE))
def test_size_free_features_agree_across_kernel_sizes(by_size, name):
    for size in SIZES[:-1]:
        assert by_size[size][name] == pytest.approx(by_size[16][name], rel=RELATIVE_SIZE_TOLERANCE[name]), size


@pytest.mark.parametrize("name", sorted(ABSOLUTE_SIZE_TOLERANCE))
def test_spectral_features_agree_across_kernel_sizes(by_size, name):
    for size in SIZES[:-1]:
        assert by_size[size][name] == pytest.approx(by_size[16][name], abs=ABSOLUTE_SIZE_TOLERANCE[name]), size


@pytest.mark.parametrize("size", SIZES)
def test_more_high_frequency_content_moves_roughness_and_spectrum_the_right_way(size):
    rows = [mean_features(smooth_field(sigma), size) for sigma in (3.0, 1.5, 0.8, 0.4)]  # smooth -> rough
    for name in ("roughness_mean", "blur_residual", "laplacian_energy_ratio", "noise_to_signal", "spectral_slope"):
        values = [row[name] for row in rows]
        assert values == sorted(values), (name, values)
    above_02 = [sum(row[name] for name in paper_v2.BAND_NAMES[2:]) for row in rows]
    assert above_02 == sorted(above_02), above_02
    lowest = [row["power_00_10"] for row in rows]
    assert lowest == sorted(lowest, reverse=True), lowest


def test_white_noise_values_match_their_documented_references():
    bank = np.random.default_rng(9).standard_normal((256, 3, 16, 16))
    features = zf.featurize(bank, ALL)
    assert features["roughness_mean"] == pytest.approx(1.30, rel=0.03)
    assert features["blur_residual"] == pytest.approx(0.80, rel=0.03)
    assert features["laplacian_energy_ratio"] == pytest.approx(20.0, rel=0.05)
    assert features["noise_to_signal"] == pytest.approx(1.0, rel=0.05)
    assert features["opponent_energy_fraction"] == pytest.approx(2 / 3, rel=0.03)
    assert features["spectral_slope"] == pytest.approx(0.0, abs=0.1)


def test_colour_features_separate_luminance_red_green_and_blue_yellow():
    gray = np.random.default_rng(2).standard_normal((16, 1, 7, 7))
    luminance = zf.featurize(np.repeat(gray, 3, axis=1), ALL)
    red_green = zf.featurize(gray * np.array([1.0, -1.0, 0.0])[:, None, None], ALL)
    blue_yellow = zf.featurize(gray * np.array([1.0, 1.0, -2.0])[:, None, None], ALL)
    assert luminance["opponent_energy_fraction"] == pytest.approx(0.0, abs=1e-12)
    assert luminance["blue_yellow_share"] == 0.5 and luminance["colour_isotropy"] == pytest.approx(0.0, abs=1e-9)
    assert red_green["opponent_energy_fraction"] == pytest.approx(1.0)
    assert red_green["blue_yellow_share"] == pytest.approx(0.0, abs=1e-12)
    assert blue_yellow["blue_yellow_share"] == pytest.approx(1.0)


def test_grayscale_banks_get_the_documented_colour_values():
    features = zf.featurize(np.random.default_rng(3).standard_normal((8, 1, 3, 3)), ALL)
    assert features["opponent_energy_fraction"] == 0.0
    assert features["saturation_rms"] == 0.0
    assert features["colour_isotropy"] == 0.0
    assert features["blue_yellow_share"] == 0.5


@pytest.mark.parametrize("bank", [np.zeros((4, 3, 7, 7)), np.zeros((2, 1, 2, 2)), np.full((4, 3, 3, 3), 2.0)])
def test_featureless_banks_give_finite_documented_values(bank):
    features = zf.featurize(bank, ALL)
    assert all(np.isfinite(value) for value in features.values()), features
    if not bank.any():
        assert features["log10_delta_rms"] == paper_v2.LOG10_FLOOR
        assert {name: value for name, value in features.items() if name in SHAPE and value != 0} == {
            "blue_yellow_share": 0.5
        }


@pytest.mark.parametrize("size", (2, 3, 4, 7, 16))
def test_band_fractions_sum_to_one(size):
    features = zf.featurize(np.random.default_rng(size).standard_normal((8, 3, size, size)), ALL)
    assert sum(features[name] for name in paper_v2.BAND_NAMES) == pytest.approx(1.0)


def test_paper_literal_is_a_separate_set_whose_blur_reading_matters_on_small_kernels():
    bank = cropped_banks(smooth_field(1.5), 3, banks=1, filters=16)[0]
    literal, paper = zf.featurize(bank, "paper-literal"), zf.featurize(bank, "paper-v1")
    assert literal["dist_to_gaussian_zero_pad"] > paper["dist_to_gaussian"] + 0.05
    for name in set(literal) & set(paper):
        assert literal[name] == paper[name]


def test_skimage_default_stop_rule_makes_the_literal_bregman_depend_on_units():
    bank = cropped_banks(smooth_field(0.8), 7, banks=1, filters=8)[0]
    small, large = zf.featurize(1e-3 * bank, "paper-literal"), zf.featurize(bank, "paper-literal")
    assert small["bregman_distance_skimage_default"] != pytest.approx(
        large["bregman_distance_skimage_default"], rel=0.05
    )
