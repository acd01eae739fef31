"""Metric and feature-set registries, and featurizing one or many banks."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import zoo.filters as zf
from zoo.errors import InvalidInput, NotFound
from zoo.filters import featuresets

PAPER_ORDER = (
    "channel_saturation",
    "convex_hull_volume",
    "dist_to_gaussian",
    "filter_variance",
    "spatial_roughness",
    "bregman_distance",
    "laplacian_variance",
    "wavelet_noise_sigma",
)


def banks_of_mixed_shapes(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = [(64, 3, 7, 7), (16, 3, 3, 3), (96, 3, 4, 4), (64, 3, 7, 7), (8, 3, 16, 16), (16, 3, 3, 3)]
    return [rng.standard_normal(shape).astype(np.float32) for shape in shapes]


# --------------------------------------------------------------------------------------------------------
# Registries
# --------------------------------------------------------------------------------------------------------


def test_paper_v1_is_the_default_and_lists_the_eight_metrics_in_the_papers_order():
    assert zf.DEFAULT_FEATURE_SET == "paper-v1"
    paper = zf.get_feature_set("paper-v1")
    assert paper.key == "paper-v1" and paper.name == "paper" and paper.version == 1
    assert paper.metrics == PAPER_ORDER
    assert "paper-v1" in zf.feature_set_names()


def test_paper_v3_is_every_paper_v2_metric_and_the_predict_default():
    from zoo.filters.paper_v2 import ALL_METRICS
    from zoo.metamodel.predictor import DEFAULT_PREDICT_FEATURE_SET

    assert zf.PAPER_V3.key == "paper-v3" and zf.PAPER_V3.metrics == ALL_METRICS and len(set(ALL_METRICS)) == 20
    assert set(zf.PAPER_V2.metrics) < set(ALL_METRICS) and DEFAULT_PREDICT_FEATURE_SET == "paper-v3"


def test_a_bare_name_finds_its_highest_version(scratch_registries):
    assert zf.get_feature_set("paper") is zf.PAPER_V3
    newer = zf.register_feature_set(zf.FeatureSet("paper", 4, PAPER_ORDER[:3]))
    assert zf.get_feature_set("paper") is newer
    assert zf.get_feature_set("paper-v1") is zf.PAPER_V1
    assert zf.get_feature_set("paper-literal") is zf.PAPER_LITERAL


def test_a_feature_set_instance_is_used_as_is_without_registration():
    adhoc = zf.FeatureSet("adhoc", 1, ("filter_variance",))
    assert zf.get_feature_set(adhoc) is adhoc
    assert list(zf.featurize(np.ones((2, 3, 3, 3)), adhoc)) == ["filter_variance"]


def test_unknown_feature_set_fails_fast_listing_the_valid_ones():
    with pytest.raises(NotFound, match=r"unknown feature set 'paper-v9'.*paper-v1"):
        zf.get_feature_set("paper-v9")
    with pytest.raises(NotFound, match="paper-v1"):
        zf.featurize(np.ones((2, 3, 3, 3)), "nope")


def test_unknown_metric_fails_fast_listing_the_valid_ones():
    with pytest.raises(NotFound, match=r"unknown filter metric 'sharpness'.*filter_variance"):
        zf.get_metric("sharpness")
    with pytest.raises(NotFound, match="unknown filter metric 'sharpness'"):
        zf.featurize(np.ones((2, 3, 3, 3)), zf.FeatureSet("bad", 1, ("sharpness",)))


def test_every_registered_feature_set_uses_only_registered_metrics():
    for key in zf.feature_set_names():
        assert set(zf.get_feature_set(key).metrics) <= set(zf.metric_names()), key


def test_a_metric_added_with_the_decorator_is_usable_everywhere(scratch_registries):
    @zf.register_metric("mean_abs_weight")
    def mean_abs_weight(banks: np.ndarray) -> np.ndarray:
        """Mean absolute weight of each bank."""
        return np.abs(banks).mean(axis=(1, 2, 3, 4))

    bank = np.full((4, 3, 5, 5), -2.0)
    assert mean_abs_weight(bank) == 2.0
    assert mean_abs_weight.__doc__ == "Mean absolute weight of each bank."
    np.testing.assert_array_equal(mean_abs_weight(np.stack([bank, bank / 2])), [2.0, 1.0])
    custom = zf.register_feature_set(zf.FeatureSet("custom", 1, ("mean_abs_weight", "filter_variance")))
    assert zf.featurize(bank, "custom-v1") == {"mean_abs_weight": 2.0, "filter_variance": 0.0}
    assert zf.featurize_many([bank], custom).shape == (1, 2)


def test_metrics_added_in_a_test_are_gone_afterwards():
    assert "mean_abs_weight" not in zf.metric_names()
    assert "custom-v1" not in zf.feature_set_names()


def test_registering_a_metric_name_twice_is_refused(scratch_registries):
    with pytest.raises(ValueError, match="already registered"):
        zf.register_metric("filter_variance")(lambda banks: banks.sum(axis=(1, 2, 3, 4)))


def test_a_feature_set_version_cannot_be_changed_but_may_be_re_registered_identically(scratch_registries):
    assert zf.register_feature_set(zf.FeatureSet("paper", 1, PAPER_ORDER)) == zf.PAPER_V1
    with pytest.raises(ValueError, match="paper-v1"):
        zf.register_feature_set(zf.FeatureSet("paper", 1, PAPER_ORDER[:2]))


@pytest.mark.parametrize(
    ("name", "version", "metrics"),
    [
        ("paper-v2", 1, ("filter_variance",)),
        ("Paper", 1, ("filter_variance",)),
        ("", 1, ("filter_variance",)),
        ("ok", 0, ("filter_variance",)),
        ("ok", True, ("filter_variance",)),
        ("ok", 1, ()),
        ("ok", 1, ("filter_variance", "filter_variance")),
    ],
)
def test_malformed_feature_sets_are_refused(name, version, metrics):
    with pytest.raises(InvalidInput):
        zf.FeatureSet(name, version, metrics)


def test_feature_set_metrics_are_stored_as_a_tuple():
    assert zf.FeatureSet("listed", 3, ["filter_variance"]).metrics == ("filter_variance",)


# --------------------------------------------------------------------------------------------------------
# featurize and featurize_many
# --------------------------------------------------------------------------------------------------------


def test_featurize_returns_named_floats_in_feature_set_order():
    features = zf.featurize(banks_of_mixed_shapes()[0])
    assert tuple(features) == PAPER_ORDER
    assert all(isinstance(value, float) and np.isfinite(value) for value in features.values())


def test_featurize_refuses_a_batch():
    with pytest.raises(InvalidInput, match="featurize_many"):
        zf.featurize(np.ones((2, 4, 3, 3, 3)))


def test_featurize_many_equals_featurize_bank_by_bank_across_mixed_shapes():
    banks = banks_of_mixed_shapes()
    many = zf.featurize_many(banks)
    assert many.shape == (len(banks), len(PAPER_ORDER))
    for row, bank in zip(many, banks, strict=True):
        np.testing.assert_allclose(row, list(zf.featurize(bank).values()), rtol=1e-12)


def test_featurize_many_accepts_a_five_dimensional_array():
    batch = np.random.default_rng(1).standard_normal((5, 8, 3, 4, 4))
    expected = np.array([list(zf.featurize(bank).values()) for bank in batch])
    np.testing.assert_allclose(zf.featurize_many(batch), expected, rtol=1e-12)


def test_featurize_many_gives_the_same_rows_whatever_the_chunk_size(monkeypatch):
    banks = banks_of_mixed_shapes(2)
    whole = zf.featurize_many(banks)
    monkeypatch.setattr(featuresets, "_CHUNK_ELEMENTS", 1)
    np.testing.assert_allclose(zf.featurize_many(banks), whole, rtol=1e-12)
    np.testing.assert_allclose(zf.featurize_many(np.stack(banks[:1] + banks[3:4])), whole[[0, 3]], rtol=1e-12)


def test_featurize_many_of_nothing_is_an_empty_table():
    assert zf.featurize_many([]).shape == (0, len(PAPER_ORDER))


def test_featurize_many_names_the_bank_that_is_invalid():
    banks = banks_of_mixed_shapes()
    banks[4] = np.ones((8, 1, 16, 16))
    with pytest.raises(InvalidInput, match="filter bank 4 has C=1.*paper-v2"):
        zf.featurize_many(banks)
    banks[4] = np.full((8, 3, 16, 16), np.nan)
    with pytest.raises(InvalidInput, match=r"index \[4\]"):
        zf.featurize_many(banks)


def test_importing_zoo_filters_does_not_import_torch():
    code = "import sys, zoo, zoo.filters; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------------------------------------
# Metric groups and grayscale banks
# --------------------------------------------------------------------------------------------------------


def test_a_metric_group_runs_once_per_batch_and_each_metric_is_usable_alone(scratch_registries):
    calls = []

    @zf.register_metric_group(("group_mean", "group_max"))
    def mean_and_max(banks: np.ndarray) -> np.ndarray:
        calls.append(len(banks))
        return np.stack([banks.mean(axis=(1, 2, 3, 4)), banks.max(axis=(1, 2, 3, 4))], axis=1)

    bank = np.arange(2 * 3 * 3 * 3, dtype=float).reshape(2, 3, 3, 3)
    both = zf.FeatureSet("grouped", 1, ("group_max", "filter_variance", "group_mean"))
    assert zf.featurize(bank, both) == pytest.approx(
        {"group_max": 53.0, "filter_variance": zf.filter_variance(bank), "group_mean": 26.5}
    )
    assert calls == [1]
    np.testing.assert_array_equal(mean_and_max(bank), [26.5, 53.0])
    assert zf.get_metric("group_max")(bank[None].astype(float)).tolist() == [53.0]
    with pytest.raises(ValueError, match="already registered"):
        zf.register_metric_group(("group_mean", "other"))(mean_and_max)


def test_grayscale_banks_are_measured_as_their_repeated_rgb_bank_by_sets_that_allow_it():
    gray = np.random.default_rng(4).standard_normal((8, 1, 7, 7))
    assert zf.takes_grayscale("paper-v2") and not zf.takes_grayscale("paper-v1")
    assert zf.featurize(gray, "paper-v2") == zf.featurize(np.repeat(gray, 3, axis=1), "paper-v2")
    np.testing.assert_array_equal(
        zf.featurize_many([gray, gray[:4]], "paper-v2")[1], list(zf.featurize(gray[:4], "paper-v2").values())
    )
    with pytest.raises(InvalidInput, match="C=1"):
        zf.featurize(gray, "paper-v1")
    with pytest.raises(InvalidInput, match="C=2"):
        zf.featurize(np.ones((4, 2, 7, 7)), "paper-v2")


def test_paper_literal_differs_from_paper_v1_only_in_its_two_literal_readings():
    literal, paper = zf.PAPER_LITERAL.metrics, zf.PAPER_V1.metrics
    assert [(a, b) for a, b in zip(literal, paper, strict=True) if a != b] == [
        ("dist_to_gaussian_zero_pad", "dist_to_gaussian"),
        ("bregman_distance_skimage_default", "bregman_distance"),
    ]
