"""Specifications of the image sources: folder, natural (scikit-image photos), shapes and plankton (rendered)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoo.errors import InvalidInput, NotFound, UnsafeInput
from zoo.images.properties import sharpness
from zoo.images.sources import SHAPE_CLASSES, SHAPE_SCALES, ImageSet, load_source, render_shapes, source_kinds


def write_png(path: Path, size: tuple[int, int] = (20, 30), gray: bool = False, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if gray else (size[1], size[0], 3)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """allowed/data with: cats (2 RGB + corrupt png + notes.txt), dogs (2 gray), empty/, stray.txt."""
    root = tmp_path / "allowed" / "data"
    for name in ("cats", "dogs", "empty"):
        (root / name).mkdir(parents=True)
    write_png(root / "cats" / "a.png", seed=1)
    write_png(root / "cats" / "b.jpg", seed=2)
    (root / "cats" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (root / "cats" / "notes.txt").write_text("not an image")
    write_png(root / "dogs" / "c.png", gray=True, seed=3)
    write_png(root / "dogs" / "d.png", size=(40, 12), gray=True, seed=4)
    (root / "stray.txt").write_text("not in a class folder")
    return root


def folder(root: Path, **params) -> ImageSet:
    params.setdefault("allowed_root", root.parent)
    return load_source("folder", root=root, image_size=16, seed=0, **params)


# ----------------------------------------------------------------------------------------------------
# Registry-wide properties


SOURCE_PARAMS = {
    "natural": {"n_per_class": 2, "photos": ("astronaut", "camera", "coffee")},
    "shapes": {"n_per_class": 2},
    "plankton": {"n_per_class": 2},
}


@pytest.mark.parametrize("kind", source_kinds())
def test_every_source_builds_a_valid_deterministic_image_set(kind: str, dataset: Path) -> None:
    params = SOURCE_PARAMS.get(kind, {"root": dataset, "allowed_root": dataset.parent})
    first = load_source(kind, image_size=24, seed=5, **params)
    again = load_source(kind, image_size=24, seed=5, **params)
    assert first.images.dtype == np.uint8 and first.images.shape[1:] == (24, 24, 3)
    assert first.labels.dtype == np.int64 and first.labels.shape == first.images.shape[:1]
    assert set(first.labels.tolist()) == set(range(len(first.class_names)))
    assert np.array_equal(first.images, again.images) and np.array_equal(first.labels, again.labels)
    assert not first.images.flags.writeable


def test_every_registered_source_is_covered_by_the_parametrized_test() -> None:
    assert set(source_kinds()) == set(SOURCE_PARAMS) | {"folder"}


def test_unknown_kind_is_not_found_and_lists_the_valid_kinds() -> None:
    with pytest.raises(NotFound, match="natural"):
        load_source("imagenet", image_size=32, seed=0)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"image_size": 32, "seed": 0, "colour": "red"}, "unknown"),
        ({"image_size": 32}, "missing"),
        ({"image_size": 4, "seed": 0}, "image_size"),
        ({"image_size": 32.0, "seed": 0}, "image_size"),
        ({"image_size": 32, "seed": -1}, "seed"),
        ({"image_size": 32, "seed": 0, "scale": 0.0}, "scale"),
        ({"image_size": 32, "seed": 0, "n_per_class": 0}, "n_per_class"),
    ],
)
def test_bad_shapes_parameters_are_invalid_input(params: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_source("shapes", **params)


def test_importing_sources_does_not_import_torch() -> None:
    code = "import sys, zoo.images.sources; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------------------------------
# natural


def test_natural_gives_one_class_per_photo_and_n_per_class_crops() -> None:
    crops = load_source("natural", image_size=32, seed=0, n_per_class=3, photos=("astronaut", "camera"))
    assert crops.class_names == ("astronaut", "camera")
    assert crops.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert crops.grayscale is False and crops.object_scale is None and crops.skipped == ()
    camera = crops.images[crops.labels == 1]
    assert (camera[..., 0] == camera[..., 1]).all()  # a grayscale photo stays grayscale


def test_natural_crops_change_with_the_seed() -> None:
    first = load_source("natural", image_size=32, seed=0, n_per_class=2, photos=("coffee",))
    other = load_source("natural", image_size=32, seed=1, n_per_class=2, photos=("coffee",))
    assert not np.array_equal(first.images, other.images)


def test_natural_only_grayscale_photos_make_a_grayscale_set() -> None:
    assert load_source("natural", image_size=16, seed=0, n_per_class=1, photos=("camera", "brick")).grayscale


def test_natural_accepts_photos_as_a_comma_separated_string() -> None:
    crops = load_source("natural", image_size=16, seed=0, n_per_class=1, photos="coffee, camera")
    assert crops.class_names == ("coffee", "camera")


def test_natural_rejects_photos_that_are_not_bundled() -> None:
    with pytest.raises(InvalidInput, match="astronaut"):
        load_source("natural", image_size=16, seed=0, photos=("kidney",))


# ----------------------------------------------------------------------------------------------------
# shapes


def test_shapes_has_six_balanced_classes_and_reports_its_scale() -> None:
    shapes = load_source("shapes", image_size=32, seed=0, n_per_class=3, scale=SHAPE_SCALES[1])
    assert shapes.class_names == SHAPE_CLASSES == ("sphere", "cube", "triangular_prism", "cylinder", "cone", "torus")
    assert np.bincount(shapes.labels).tolist() == [3] * 6
    assert shapes.object_scale == SHAPE_SCALES[1] and shapes.grayscale is False
    assert len(SHAPE_SCALES) == 5 and list(SHAPE_SCALES) == sorted(SHAPE_SCALES)


def test_shapes_change_with_the_seed() -> None:
    first = load_source("shapes", image_size=32, seed=0, n_per_class=1)
    other = load_source("shapes", image_size=32, seed=1, n_per_class=1)
    assert not np.array_equal(first.images, other.images)


def test_larger_scales_cover_more_pixels_but_keep_sharpness_within_a_factor_of_1_5() -> None:
    shape_ids = np.repeat(np.arange(6), 10)  # 60 images per scale
    areas, sharp = [], []
    for scale in SHAPE_SCALES:
        images, coverage = render_shapes(shape_ids, scale, 32, np.random.default_rng(9))
        areas.append(coverage.sum(axis=(1, 2)).mean())
        sharp.append(sharpness(images).mean())
    assert all(later > 1.2 * earlier for earlier, later in zip(areas, areas[1:])), areas
    assert max(sharp) / min(sharp) < 1.5, sharp


def test_rendered_coverage_is_a_fraction_and_the_object_fits_in_the_frame() -> None:
    _, coverage = render_shapes(np.arange(6), SHAPE_SCALES[-1], 32, np.random.default_rng(0))
    assert coverage.dtype == np.float32 and coverage.min() >= 0 and coverage.max() <= 1
    edges = np.concatenate([coverage[:, 0], coverage[:, -1], coverage[:, :, 0], coverage[:, :, -1]], axis=1)
    assert (coverage.sum(axis=(1, 2)) > 0).all() and edges.max() == 0


# ----------------------------------------------------------------------------------------------------
# plankton


def test_plankton_is_a_grayscale_set_of_six_balanced_classes_with_no_known_scale() -> None:
    plankton = load_source("plankton", image_size=32, seed=0, n_per_class=4)
    assert plankton.class_names == ("diatom", "chain", "radiolarian", "copepod", "ciliate", "dinoflagellate")
    assert np.bincount(plankton.labels).tolist() == [4] * 6
    assert plankton.grayscale is True and plankton.object_scale is None
    assert not np.array_equal(plankton.images, load_source("plankton", image_size=32, seed=1, n_per_class=4).images)


def test_plankton_is_a_dark_field_image_with_bright_thin_structure() -> None:
    images = load_source("plankton", image_size=48, seed=3, n_per_class=5).images[..., 0].astype(np.float64) / 255
    border = np.concatenate([images[:, :2].reshape(len(images), -1), images[:, -2:].reshape(len(images), -1)], axis=1)
    assert np.median(border) < 0.2 and (images.max(axis=(1, 2)) > 0.45).all()  # dark field, bright organism
    assert (images > 0.3).mean() < 0.35  # the organism fills a minority of the frame
    # Its fine structure (rims, spines, striae) makes it sharper than scikit-image's photographs at this size.
    photos = load_source("natural", image_size=48, seed=3, n_per_class=3).images
    assert sharpness(np.repeat(images[..., None], 3, axis=3)).mean() > sharpness(photos.astype(np.float64) / 255).mean()


def test_plankton_classes_differ_in_their_mean_image_statistics() -> None:
    plankton = load_source("plankton", image_size=32, seed=0, n_per_class=12)
    bright = np.array([(plankton.images[plankton.labels == k, ..., 0] > 80).mean() for k in range(6)])
    assert len(np.unique(np.round(bright, 3))) == 6 and bright.max() > 1.5 * bright.min()


# ----------------------------------------------------------------------------------------------------
# folder


def test_folder_reads_classes_and_reports_every_skipped_input(dataset: Path) -> None:
    images = folder(dataset)
    assert images.class_names == ("cats", "dogs")
    assert images.labels.tolist() == [0, 0, 1, 1]
    skipped = dict(images.skipped)
    assert set(skipped) == {"cats/broken.png", "cats/notes.txt", "empty", "stray.txt"}
    assert "not a readable image" in skipped["cats/broken.png"] and "no usable images" in skipped["empty"]
    assert images.grayscale is False  # mixed colour and grayscale


def test_folder_of_grayscale_images_stays_grayscale(dataset: Path) -> None:
    gray = folder(dataset / "dogs" / "..", allowed_root=dataset)  # `..` inside the allowed root is fine
    dogs = gray.images[gray.labels == gray.class_names.index("dogs")]
    assert (dogs[..., 0] == dogs[..., 1]).all() and (dogs[..., 1] == dogs[..., 2]).all()
    only_gray = dataset.parent / "gray"
    (only_gray / "plankton").mkdir(parents=True)
    write_png(only_gray / "plankton" / "p.png", gray=True)
    assert folder(only_gray).grayscale is True


def test_folder_resizes_shorter_side_and_centre_crops(dataset: Path) -> None:
    assert folder(dataset).images.shape == (4, 16, 16, 3)


def test_folder_caps_each_class_with_max_per_class(dataset: Path) -> None:
    capped = folder(dataset, max_per_class=1)
    assert np.bincount(capped.labels).tolist() == [1, 1]


def test_symlink_escaping_the_allowed_root_is_refused(dataset: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.png"
    write_png(outside)
    os.symlink(outside, dataset / "cats" / "link.png")
    with pytest.raises(UnsafeInput, match="outside the allowed root"):
        folder(dataset)


def test_symlinked_class_folder_escaping_the_allowed_root_is_refused(dataset: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", dataset / "birds")
    with pytest.raises(UnsafeInput):
        folder(dataset)


def test_root_outside_the_allowed_root_is_refused(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(UnsafeInput):
        load_source("folder", root=dataset, allowed_root=tmp_path / "allowed" / "data" / "cats", image_size=16, seed=0)
    with pytest.raises(UnsafeInput):
        load_source("folder", root=dataset / ".." / "..", allowed_root=dataset.parent, image_size=16, seed=0)


def test_folder_without_usable_images_is_invalid_input(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    (root / "a" / "x.txt").write_text("nope")
    with pytest.raises(InvalidInput, match="no usable images"):
        folder(root)


def test_missing_root_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a directory"):
        folder(tmp_path / "missing", allowed_root=tmp_path)


def test_registering_a_kind_twice_fails_at_import_time() -> None:
    from zoo.images.sources import register_source

    with pytest.raises(ValueError, match="already registered"):
        register_source("shapes")(lambda *, image_size, seed: None)


def test_a_builder_without_image_size_and_seed_is_refused() -> None:
    from zoo.images.sources import _SOURCES, register_source

    with pytest.raises(ValueError, match="image_size and seed"):
        register_source("sizeless")(lambda *, seed: None)
    assert "sizeless" not in _SOURCES
