"""Specifications of the paper's dataset variants (section 4.1) in numpy."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

import numpy as np
import pytest

from zoo.errors import InvalidInput, NotFound
from zoo.images.properties import noise_sigma, sharpness
from zoo.images.transforms import (
    PAPER_VARIANTS,
    apply_transform,
    is_saved_noise,
    noise_draw,
    object_scale_factor,
    paper_variants,
    saved_noise_images,
    separable_matrices,
    transform_kind,
    transform_kinds,
)

BY_NAME = {v.name: v for v in PAPER_VARIANTS}


def variant_by_name(name: str):  # type: ignore[no-untyped-def]
    return BY_NAME[name]


@lru_cache(maxsize=1)
def _textured() -> np.ndarray:
    """Real photo crops (scikit-image's bundled astronaut, coffee, chelsea) as float (3, 48, 48, 3)."""
    import skimage.data

    photos = [skimage.data.astronaut()[150:246, 150:246], skimage.data.coffee()[100:196, 300:396]]
    photos.append(skimage.data.chelsea()[60:156, 150:246])
    # 2x2 box downsample keeps the crops sharp and makes them 48 px.
    crops = np.stack(photos).astype(np.float32).reshape(3, 48, 2, 48, 2, 3).mean(axis=(2, 4)) / 255
    crops.flags.writeable = False
    return crops


def textured() -> np.ndarray:
    return _textured().copy()


def variants_of(kind: str) -> list:
    return [v for v in PAPER_VARIANTS if v.kind == kind]


def measured_after(variants: list, measure, seed: int = 0) -> list[float]:
    """Mean measured property of the textured batch after each variant, in order."""
    out = [apply_transform(v.kind, v.params, textured(), np.random.default_rng(seed)) for v in variants]
    return [float(measure(images).mean()) for images in out]


def test_there_are_exactly_the_papers_twenty_variants_with_unique_names() -> None:
    assert len(PAPER_VARIANTS) == 20
    assert len({v.name for v in PAPER_VARIANTS}) == 20
    assert Counter(v.kind for v in PAPER_VARIANTS) == {"identity": 1, "dilate": 5, "resize": 4, "blur": 5, "noise": 5}
    assert {v.kind for v in PAPER_VARIANTS} == set(transform_kinds())


def test_variant_names_follow_the_documented_pattern_and_round_trip() -> None:
    assert variant_by_name("blur-k7-s2").params == {"kernel": 7, "sigma": 2.0}
    assert variant_by_name("resize-0.1").params == {"factor": 0.1}
    assert variant_by_name("noise-0.25").params == {"sigma": 0.25}
    assert variant_by_name("dilate-1.25").params == {"factor": 1.25}
    assert variant_by_name("original").kind == "identity"
    assert len(BY_NAME) == len(PAPER_VARIANTS) == 20  # names are unique


def test_an_unknown_kind_is_not_found_and_lists_the_valid_ones() -> None:
    with pytest.raises(NotFound, match="dilate"):
        apply_transform("sharpen", {}, textured())


def test_more_blur_gives_lower_sharpness() -> None:
    values = measured_after([variant_by_name("original"), *variants_of("blur")], sharpness)
    assert all(later < earlier for earlier, later in zip(values, values[1:])), values


def test_smaller_down_up_factor_gives_lower_sharpness() -> None:
    resizes = sorted(variants_of("resize"), key=lambda v: -v.params["factor"])  # 0.75, 0.5, 0.25, 0.1
    values = measured_after([variant_by_name("original"), *resizes], sharpness)
    assert all(later < earlier for earlier, later in zip(values, values[1:])), values


def test_more_noise_gives_higher_measured_noisiness_close_to_sigma() -> None:
    values = measured_after([variant_by_name("original"), *variants_of("noise")], noise_sigma)
    assert all(later > earlier for earlier, later in zip(values, values[1:])), values
    for variant, value in zip(variants_of("noise"), values[1:]):
        assert value == pytest.approx(variant.params["sigma"], rel=0.15)


def test_dilation_multiplies_object_scale_by_its_factor_and_nothing_else_does() -> None:
    factors = [object_scale_factor(v.kind, v.params) for v in variants_of("dilate")]
    assert factors == [1.25, 1.5, 2.0, 2.5, 3.0]
    others = [object_scale_factor(v.kind, v.params) for v in PAPER_VARIANTS if v.kind != "dilate"]
    assert others == [1.0] * 15


def test_dilation_zooms_into_the_centre() -> None:
    images = np.zeros((1, 32, 32, 3), np.float32)
    images[:, 12:20, 12:20] = 1.0  # an 8 px centred square
    zoomed = apply_transform("dilate", {"factor": 2.0}, images)
    assert (zoomed[0, ..., 0] > 0.5).sum() == pytest.approx(4 * 64, rel=0.1)


@pytest.mark.parametrize("variant", PAPER_VARIANTS, ids=lambda v: v.name)
def test_every_variant_keeps_shape_gives_float32_and_leaves_input_untouched(variant) -> None:
    images = textured()
    before = images.copy()
    out = apply_transform(variant.kind, variant.params, images, np.random.default_rng(1))
    assert out.shape == images.shape and out.dtype == np.float32
    assert np.array_equal(images, before)
    assert np.isfinite(out).all()


LINEAR_VARIANTS = [v for v in PAPER_VARIANTS if v.kind in ("dilate", "resize", "blur")]


@pytest.mark.parametrize("variant", LINEAR_VARIANTS, ids=lambda v: v.name)
def test_resampling_and_blur_preserve_constant_images_and_stay_in_range(variant) -> None:
    rows, cols = separable_matrices(variant.kind, variant.params, 17, 23)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(cols.sum(axis=1), 1.0, atol=1e-6)
    assert (rows >= 0).all() and (cols >= 0).all()  # convex weights: no ringing outside [0, 1]
    flat = np.full((1, 17, 23, 3), 0.3, np.float32)
    np.testing.assert_allclose(apply_transform(variant.kind, variant.params, flat), 0.3, atol=1e-6)


def test_blur_works_on_images_smaller_than_its_kernel() -> None:
    tiny = np.random.default_rng(2).random((2, 4, 5, 3)).astype(np.float32)
    out = apply_transform("blur", {"kernel": 19, "sigma": 5}, tiny)
    assert out.shape == tiny.shape and out.std() < tiny.std()


def test_noise_is_deterministic_given_the_seed_and_differs_across_seeds() -> None:
    spec = variant_by_name("noise-0.5")
    first = apply_transform(spec.kind, spec.params, textured(), np.random.default_rng(7))
    again = apply_transform(spec.kind, spec.params, textured(), np.random.default_rng(7))
    other = apply_transform(spec.kind, spec.params, textured(), np.random.default_rng(8))
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_noise_is_unclipped_zero_mean_with_the_requested_sigma() -> None:
    images = np.full((4, 32, 32, 3), 0.5, np.float32)
    out = apply_transform("noise", {"sigma": 1.0}, images, np.random.default_rng(3))
    added = out - images
    assert added.std() == pytest.approx(1.0, rel=0.05) and abs(added.mean()) < 0.05
    assert out.min() < 0.0 and out.max() > 1.0


def test_deterministic_kinds_need_no_rng_but_noise_does() -> None:
    assert apply_transform("blur", {"kernel": 3, "sigma": 1}, textured()).shape == (3, 48, 48, 3)
    with pytest.raises(InvalidInput, match="Generator"):
        apply_transform("noise", {"sigma": 0.1}, textured())


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("blur", {"kernel": 4, "sigma": 1}, "odd"),
        ("blur", {"kernel": 3, "sigma": 0}, "sigma"),
        ("blur", {"kernel": 3.5, "sigma": 1}, "integer"),
        ("blur", {"kernel": 3}, "missing"),
        ("noise", {"sigma": -0.1}, "sigma"),
        ("noise", {"sigma": float("nan")}, "finite"),
        ("noise", {"sigma": "0.1"}, "number"),
        ("noise", {"sigma": True}, "number"),
        ("resize", {"factor": 0.0}, "factor"),
        ("resize", {"factor": 1.5}, "factor"),
        ("dilate", {"factor": 0.5}, "factor"),
        ("dilate", {"factor": 2, "centre": 1}, "unknown"),
        ("identity", {"anything": 1}, "unknown"),
    ],
)
def test_bad_parameters_are_invalid_input_naming_the_problem(kind: str, params: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        apply_transform(kind, params, textured(), np.random.default_rng(0))
    with pytest.raises(InvalidInput):
        object_scale_factor(kind, params)


@pytest.mark.parametrize(
    "images", [np.zeros((2, 8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.float32)], ids=["uint8", "3d"]
)
def test_images_must_be_a_float_batch(images: np.ndarray) -> None:
    with pytest.raises(InvalidInput):
        apply_transform("identity", {}, images)


@pytest.mark.parametrize("kind", transform_kinds())
def test_every_registered_kind_has_a_known_category_and_a_paper_variant(kind: str) -> None:
    assert transform_kind(kind).category in ("identity", "separable", "additive_noise")
    assert variants_of(kind)


# ----------------------------------------------------------------------------------------------------
# Noise as a dataset on disk (draw = "fixed")


def test_fixed_noise_variants_differ_from_the_papers_only_in_their_noise_draw() -> None:
    fixed = paper_variants("fixed")
    assert paper_variants() is PAPER_VARIANTS and [v.name for v in fixed] == [v.name for v in PAPER_VARIANTS]
    for ours, paper in zip(fixed, PAPER_VARIANTS):
        expected = {**paper.params, "draw": "fixed"} if paper.kind == "noise" else paper.params
        assert ours.kind == paper.kind and ours.params == expected
    assert noise_draw(fixed[-1].params) == "fixed" and noise_draw(PAPER_VARIANTS[-1].params) == "per-step"
    # The default is left out of stored parameters, so per-step variants keep the parameters they had.
    assert transform_kind("noise").validate({"sigma": 0.5, "draw": "per-step"}) == {"sigma": 0.5}
    with pytest.raises(InvalidInput, match="draw"):
        transform_kind("noise").validate({"sigma": 0.5, "draw": "sometimes"})
    with pytest.raises(InvalidInput, match="noise must be one of"):
        paper_variants("sometimes")


def test_fixed_noise_is_clipped_to_the_unit_range_and_stored_in_8_bits() -> None:
    out = apply_transform("noise", {"sigma": 0.5, "draw": "fixed"}, textured(), np.random.default_rng(0))
    assert out.dtype == np.float32 and out.min() == 0.0 and out.max() == 1.0
    np.testing.assert_allclose(out * 255, np.rint(out * 255), atol=1e-4)
    assert is_saved_noise("noise", {"sigma": 0.5, "draw": "fixed"}) and not is_saved_noise("noise", {"sigma": 0.5})
    assert not is_saved_noise("blur", {"kernel": 3, "sigma": 1.0})


def test_saved_noise_gives_each_image_one_draw_whatever_the_chunking_and_matches_the_batch_form() -> None:
    images = np.rint(textured() * 255).astype(np.uint8)
    saved = saved_noise_images(images, 0.25, seed=7)
    assert saved.dtype == np.uint8 and saved.shape == images.shape
    assert np.array_equal(saved, saved_noise_images(images, 0.25, seed=7, chunk=1))
    assert not np.array_equal(saved, saved_noise_images(images, 0.25, seed=8))
    batch = apply_transform(
        "noise", {"sigma": 0.25, "draw": "fixed"}, images / np.float32(255), np.random.default_rng(7)
    )
    np.testing.assert_allclose(saved / np.float32(255), batch, atol=1e-6)
    with pytest.raises(InvalidInput, match="uint8"):
        saved_noise_images(images.astype(np.float32), 0.25, seed=7)


def test_clipping_makes_a_saved_noisy_dataset_measure_less_noisy_than_per_step_noise() -> None:
    fresh = apply_transform("noise", {"sigma": 1.0}, textured(), np.random.default_rng(0))
    saved = apply_transform("noise", {"sigma": 1.0, "draw": "fixed"}, textured(), np.random.default_rng(0))
    assert float(noise_sigma(saved).mean()) < 0.7 * float(noise_sigma(fresh).mean())
