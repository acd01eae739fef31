"""Specifications of the per-image quality measurements (paper section 3.1)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage
from skimage import img_as_float
from skimage.color import rgb2hsv
from skimage.restoration import estimate_sigma

from zoo.errors import InvalidInput, NotFound
from zoo.images.properties import (
    Measurement,
    mean_saturation,
    measure_properties,
    noise_sigma,
    property_method,
    property_names,
    register_property,
    sharpness,
)

LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)


def smooth_images(count: int, size: int, seed: int) -> np.ndarray:
    """Clean, smooth float images in [0.2, 0.8]: heavily blurred random fields, (count, size, size, 3)."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.random((count, size, size, 3)), sigma=(0, 6, 6, 0))
    low, high = field.min(axis=(1, 2, 3), keepdims=True), field.max(axis=(1, 2, 3), keepdims=True)
    return (0.2 + 0.6 * (field - low) / (high - low)).astype(np.float32)


def photo_like_uint8(count: int, size: int, seed: int) -> np.ndarray:
    """uint8 images with texture, flat patches, saturated and exactly-zero regions (the hard cases)."""
    rng = np.random.default_rng(seed)
    images = (ndimage.gaussian_filter(rng.random((count, size, size, 3)), (0, 1, 1, 0)) * 255).astype(np.uint8)
    images[:, : size // 4, : size // 3] = 0
    images[:, size // 2 :, size // 2 :] = 200
    return images


def skimage_sigma(image: np.ndarray) -> float:
    return float(estimate_sigma(img_as_float(image), channel_axis=-1, average_sigmas=True))


def plain_laplacian_variance(image: np.ndarray) -> float:
    """Reference: per-channel scipy convolution, valid region, variance, mean over channels."""
    image = img_as_float(image)
    return float(np.mean([ndimage.convolve(image[..., c], LAPLACIAN)[1:-1, 1:-1].var() for c in range(3)]))


@pytest.mark.parametrize("sigma", [0.02, 0.05, 0.1])
def test_noise_sigma_recovers_known_noise_on_smooth_image_within_10_percent(sigma: float) -> None:
    clean = smooth_images(4, 64, seed=1)
    noisy = clean + sigma * np.random.default_rng(2).standard_normal(clean.shape).astype(np.float32)
    np.testing.assert_allclose(noise_sigma(noisy), sigma, rtol=0.10)


@pytest.mark.filterwarnings("ignore:image is size 3 on the last axis")  # skimage on a 3x3 channel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 16, 16), (2, 17, 23), (2, 3, 3), (1, 4, 9), (2, 31, 32)])
def test_noise_sigma_equals_skimage_estimate_sigma_image_by_image(shape: tuple[int, int, int], dtype: type) -> None:
    images = np.random.default_rng(3).random((*shape, 3)).astype(dtype)
    expected = [skimage_sigma(image) for image in images]
    np.testing.assert_allclose(noise_sigma(images), expected, rtol=1e-6)


@pytest.mark.parametrize("as_float32", [False, True])
def test_noise_sigma_equals_skimage_on_images_with_zero_and_flat_regions(as_float32: bool) -> None:
    # Flat patches are where skimage's "exactly zero" mask depends on float rounding (200/255 gives
    # 0.0, 210/255 gives 1e-30): the vectorized form must reproduce that bit for bit.
    images = photo_like_uint8(3, 41, seed=4)
    images[:, 5:15, 20:40] = np.array([210, 30, 150], dtype=np.uint8)
    if as_float32:
        images = images.astype(np.float32) / 255
    np.testing.assert_allclose(noise_sigma(images), [skimage_sigma(i) for i in images], rtol=1e-6)


def test_sharpness_equals_plain_per_image_loop() -> None:
    images = np.concatenate([photo_like_uint8(2, 33, seed=5), (smooth_images(2, 33, seed=6) * 255).astype(np.uint8)])
    np.testing.assert_allclose(sharpness(images), [plain_laplacian_variance(i) for i in images], rtol=1e-5)


@pytest.mark.parametrize("level", [0.0, 0.5, 1.0])
def test_flat_images_measure_zero_noise_and_zero_sharpness_not_nan(level: float) -> None:
    flat = np.full((2, 16, 16, 3), level, dtype=np.float32)
    assert np.array_equal(noise_sigma(flat), [0.0, 0.0])
    assert np.array_equal(sharpness(flat), [0.0, 0.0])


def test_uint8_and_float_copies_measure_the_same_in_unit_pixel_scale() -> None:
    images = photo_like_uint8(2, 32, seed=7)
    as_float = images.astype(np.float32) / 255
    np.testing.assert_allclose(sharpness(images), sharpness(as_float), rtol=1e-5)
    np.testing.assert_allclose(noise_sigma(images), noise_sigma(as_float), rtol=1e-5)


def test_sharper_and_noisier_images_measure_higher() -> None:
    clean = smooth_images(3, 32, seed=8)
    noisy = clean + 0.05 * np.random.default_rng(9).standard_normal(clean.shape).astype(np.float32)
    assert (sharpness(noisy) > sharpness(clean)).all()
    assert (noise_sigma(noisy) > noise_sigma(clean)).all()


def test_mean_saturation_equals_skimage_hsv_and_is_guarded_on_black() -> None:
    rng = np.random.default_rng(11)
    images = rng.random((3, 8, 8, 3)).astype(np.float32)
    images[2] = 0.0  # black: max == 0 must give 0, not NaN
    expected = [rgb2hsv(image)[..., 1].mean() for image in images]
    np.testing.assert_allclose(mean_saturation(images), expected, rtol=1e-5, atol=1e-7)


def test_mean_saturation_is_zero_for_gray_and_one_for_pure_colours() -> None:
    gray = np.full((1, 4, 4, 3), 0.4, dtype=np.float32)
    red = np.zeros((1, 4, 4, 3), dtype=np.uint8)
    red[..., 0] = 255
    assert mean_saturation(gray)[0] == 0.0
    assert mean_saturation(red)[0] == 1.0


def test_measure_properties_reports_mean_and_spread_of_per_image_values() -> None:
    images = photo_like_uint8(5, 24, seed=12)
    result = measure_properties(images, ["sharpness", "noisiness"], batch_size=2)
    per_image = sharpness(images)
    assert result["sharpness"] == Measurement(
        "sharpness",
        pytest.approx(per_image.mean()),
        pytest.approx(per_image.std()),
        5,
        property_method("sharpness").method,
        property_method("sharpness").version,
    )
    assert result["noisiness"].value == pytest.approx(noise_sigma(images).mean())


@pytest.mark.parametrize("batch_size", [1, 3, 64])
@pytest.mark.parametrize("workers", [1, 2])
def test_measure_properties_does_not_depend_on_chunking(batch_size: int, workers: int) -> None:
    images = photo_like_uint8(7, 20, seed=13)
    reference = measure_properties(images, batch_size=7, workers=1)
    result = measure_properties(images, batch_size=batch_size, workers=workers)
    assert result.keys() == reference.keys() == set(property_names())
    for name, measurement in result.items():
        assert measurement.value == pytest.approx(reference[name].value, rel=1e-9)


def test_object_scale_is_passed_through_not_measured() -> None:
    images = photo_like_uint8(4, 16, seed=14)
    result = measure_properties(images, ["sharpness", "object_scale"], object_scale=0.65)
    assert result["object_scale"].value == 0.65
    assert result["object_scale"].spread == 0.0 and result["object_scale"].n_samples == 4
    with pytest.raises(InvalidInput, match="object_scale"):
        measure_properties(images, ["object_scale"])


@pytest.mark.parametrize("name", property_names())
def test_every_registered_property_gives_finite_nonnegative_values(name: str) -> None:
    result = measure_properties(photo_like_uint8(3, 16, seed=15), [name])[name]
    assert result.property == name and result.n_samples == 3
    assert np.isfinite(result.value) and result.value >= 0 and result.spread >= 0


def test_unknown_property_is_not_found_and_lists_valid_names() -> None:
    with pytest.raises(NotFound, match="sharpness"):
        measure_properties(photo_like_uint8(1, 8, seed=0), ["blurriness"])


def test_registering_a_property_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_property("sharpness", method="other", version=2)


@pytest.mark.parametrize(
    "images",
    [
        np.zeros((2, 8, 8), np.uint8),
        np.zeros((2, 8, 8, 4), np.uint8),
        np.zeros((2, 8, 8, 3), np.int32),
        np.zeros((2, 2, 8, 3), np.float32),
        np.full((1, 8, 8, 3), np.nan, np.float32),
        [[[[0, 0, 0]]]],
    ],
    ids=["no-channels", "four-channels", "int32", "too-small", "nan", "list"],
)
def test_invalid_images_are_rejected_with_invalid_input(images: object) -> None:
    with pytest.raises(InvalidInput):
        sharpness(images)


def test_measure_properties_rejects_empty_batch_and_bad_batch_size() -> None:
    with pytest.raises(InvalidInput, match="at least one"):
        measure_properties(np.zeros((0, 8, 8, 3), np.uint8))
    with pytest.raises(InvalidInput, match="batch_size"):
        measure_properties(np.zeros((1, 8, 8, 3), np.uint8), batch_size=0)


def test_importing_zoo_images_does_not_import_torch() -> None:
    code = "import sys, zoo.images.properties, zoo.images.transforms, zoo.images.preview; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
