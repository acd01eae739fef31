"""The compiled split-Bregman sweeps equal skimage's kernel, and the Bregman metric is unchanged by them."""

from __future__ import annotations

import numpy as np
import pytest

import zoo.filters as zf
from zoo.filters import metrics, split_bregman
from zoo.filters.split_bregman import FRAMES, tv_denoise, tv_denoise_skimage

RELATIVE = 1e-9  # the promise: the fast path changes results by rounding only


def relative_difference(fast: np.ndarray, reference: np.ndarray) -> float:
    return float(np.max(np.abs(fast - reference)) / np.max(np.abs(reference)))


@pytest.mark.parametrize("size", (2, 3, 4, 7, 16))
@pytest.mark.parametrize("count", (1, 48, 64, 65, 300))
def test_compiled_sweeps_equal_skimages_kernel(size, count):
    rng = np.random.default_rng(size * 1000 + count)
    images = rng.standard_normal((count, size, size)) * 10.0 ** rng.uniform(-4, 1, size=(count, 1, 1))
    fast = tv_denoise(images, weight=5.0, sweeps=40)
    assert fast.shape == images.shape
    assert relative_difference(fast, tv_denoise_skimage(images, weight=5.0, sweeps=40)) < RELATIVE


def test_compiled_sweeps_follow_weight_and_sweep_count():
    images = np.random.default_rng(3).standard_normal((10, 7, 7))
    for weight, sweeps in ((0.5, 1), (20.0, 7)):
        expected = tv_denoise_skimage(images, weight=weight, sweeps=sweeps)
        assert relative_difference(tv_denoise(images, weight=weight, sweeps=sweeps), expected) < RELATIVE


@pytest.mark.parametrize("size", (3, 4, 7, 16))
def test_fast_bregman_distance_equals_the_skimage_reference_on_random_banks(size):
    rng = np.random.default_rng(size)
    batch = zf.as_bank_batch(rng.standard_normal((6, 24, 3, size, size)) * 10.0 ** rng.uniform(-4, 0, (6, 1, 1, 1, 1)))
    fast = zf.get_metric("bregman_distance")(batch)
    np.testing.assert_allclose(fast, metrics.bregman_distance_skimage(batch), rtol=RELATIVE, atol=0)


def test_edge_frame_keeps_a_constant_image_constant():
    """With the edge-repeating frame a constant image has no variation to remove, whatever its size."""
    images = np.full((3, 5, 5), 0.7)
    np.testing.assert_allclose(tv_denoise(images, 5.0, 40, frame="edge"), images, rtol=1e-12)


def test_denoising_lowers_total_variation():
    images = np.random.default_rng(5).standard_normal((8, 7, 7))
    denoised = tv_denoise(images, 1.0, 40, frame="edge")

    def variation(x: np.ndarray) -> float:
        return float(np.abs(np.diff(x, axis=1)).sum() + np.abs(np.diff(x, axis=2)).sum())

    assert variation(denoised) < 0.5 * variation(images)


def test_unknown_frame_is_refused():
    with pytest.raises(ValueError, match="frame"):
        tv_denoise(np.zeros((1, 3, 3)), 5.0, 1, frame="wrap")


@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize("count", (1, 9, 30))
def test_several_blocks_give_the_result_of_one(monkeypatch, frame, count):
    """Images are denoised independently: splitting them into blocks of 8 (4 and more blocks, the last
    partly padded) changes nothing, not even rounding."""
    images = np.random.default_rng(count).standard_normal((count, 5, 5))
    whole = tv_denoise(images, 5.0, 40, frame=frame)
    monkeypatch.setattr(split_bregman, "_MAX_BLOCK", 8)
    np.testing.assert_array_equal(tv_denoise(images, 5.0, 40, frame=frame), whole)
    if frame == "skimage":
        assert relative_difference(whole, tv_denoise_skimage(images, 5.0, 40)) < RELATIVE


def test_non_contiguous_and_float32_images_give_the_result_of_their_float64_copy():
    images = np.random.default_rng(4).standard_normal((12, 7, 7)).astype(np.float32)
    expected = tv_denoise(np.array(images[::2], dtype=np.float64), 5.0, 40)
    np.testing.assert_array_equal(tv_denoise(images[::2], 5.0, 40), expected)
