"""Datasets in the catalog: registration, 20 variants, idempotent measurement, previews, bad folders."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from clirunner import run_zoo
from zoo.catalog import Catalog
from zoo.datasets import add_dataset, get_dataset, measure_dataset
from zoo.db.models import BaseDataset, PropertyMeasurement
from zoo.errors import InvalidInput, UnsafeInput


def test_adding_a_dataset_registers_20_measured_variants(zoo_env, catalog: Catalog) -> None:  # type: ignore[no-untyped-def]
    run_zoo(
        "datasets",
        "add",
        "nat",
        "--source",
        "natural",
        "--image-size",
        "16",
        "--param",
        "n_per_class=2",
        "--samples",
        "10",
    )
    [listed] = json.loads(run_zoo("datasets", "list", "--json").output)
    assert listed["n_images"] == 20 and len(listed["variants"]) == 20
    by_name = {v["name"]: {m["property"]: m for m in v["measurements"]} for v in listed["variants"]}
    assert by_name["blur-k7-s2"]["sharpness"]["value"] < by_name["original"]["sharpness"]["value"]
    assert by_name["noise-0.5"]["noisiness"]["value"] > by_name["original"]["noisiness"]["value"]
    assert by_name["original"]["sharpness"]["n_samples"] == 10
    assert all(m["method_version"] >= 1 and m["method"] for v in by_name.values() for m in v.values())


def test_measuring_again_only_redoes_what_a_new_method_version_changed(catalog: Catalog, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    add_dataset(catalog, "nat", "natural", {"n_per_class": 2}, image_size=16)
    first = measure_dataset(catalog, "nat", n_samples=8)
    assert (first.variants_measured, first.variants_current) == (20, 0)
    again = measure_dataset(catalog, "nat", n_samples=8)
    assert (again.variants_measured, again.variants_current) == (0, 20)
    import zoo.images.properties as properties

    newer = replace(properties._PROPERTIES["sharpness"], version=2)
    monkeypatch.setitem(properties._PROPERTIES, "sharpness", newer)
    assert measure_dataset(catalog, "nat", n_samples=8).variants_measured == 20
    with catalog.session() as session:
        versions = session.scalars(
            select(PropertyMeasurement.method_version).where(PropertyMeasurement.property == "sharpness")
        ).all()
        assert set(versions) == {2} and len(versions) == 20


def test_shapes_variants_carry_the_known_object_scale(catalog: Catalog) -> None:
    add_dataset(catalog, "shapes", "shapes", {"n_per_class": 2, "scale": 0.5}, image_size=16)
    measure_dataset(catalog, "shapes", n_samples=12)
    variants = {v.name: v for v in get_dataset(catalog, "shapes").variants}
    assert variants["original"].property("object_scale") == pytest.approx(0.5)
    assert variants["dilate-2"].property("object_scale") == pytest.approx(1.0)
    assert variants["blur-k7-s2"].property("object_scale") == pytest.approx(0.5)


def test_same_name_with_other_settings_is_refused(catalog: Catalog) -> None:
    add_dataset(catalog, "nat", "natural", {"n_per_class": 2}, image_size=16)
    assert add_dataset(catalog, "nat", "natural", {"n_per_class": 2}, image_size=16)[1] is False
    with pytest.raises(InvalidInput, match="already exists"):
        add_dataset(catalog, "nat", "natural", {"n_per_class": 3}, image_size=16)


def _write_image(path: Path, gray: bool = False) -> None:
    rng = np.random.default_rng(len(str(path)))
    array = rng.integers(0, 255, size=(20, 20) if gray else (20, 20, 3), dtype=np.uint8)
    Image.fromarray(array).save(path)


def test_folder_with_bad_files_is_added_with_skips_reported(zoo_env, catalog: Catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "data"
    for name in ("cats", "dogs"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            _write_image(root / name / f"{i}.png")
    (root / "empty").mkdir()
    (root / "cats" / "broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    (root / "dogs" / "notes.txt").write_text("not an image")
    result = run_zoo(
        "datasets", "add", "pets", "--source", "folder", "--root", str(root), "--image-size", "16", "--samples", "4"
    )
    assert "6 images" in result.output and "skipped" in result.output
    dataset = get_dataset(catalog, "pets")
    skipped = " ".join(path for path, _ in dataset.skipped)
    assert "broken.jpg" in skipped and "notes.txt" in skipped and "empty" in skipped


def test_folder_outside_the_allowed_root_writes_nothing(zoo_env, catalog: Catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path / "outside" / "cls"
    outside.mkdir(parents=True)
    _write_image(outside / "a.png")
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    result = run_zoo(
        "datasets",
        "add",
        "escape",
        "--source",
        "folder",
        "--root",
        str(outside.parent),
        "--allowed-root",
        str(allowed),
        expect=1,
    )
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: ") and f"outside the allowed root {allowed.resolve()}; refusing to read it" in line
    with catalog.session() as session:
        assert session.scalar(select(func.count()).select_from(BaseDataset)) == 0
    assert not (tmp_path / "artifacts").exists() or not any(p.is_file() for p in (tmp_path / "artifacts").rglob("*"))


def test_symlink_escaping_the_root_is_refused(catalog: Catalog, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    _write_image(secret / "s.png")
    root = tmp_path / "data" / "cls"
    root.mkdir(parents=True)
    _write_image(root / "ok.png")
    (root / "link.png").symlink_to(secret / "s.png")
    with pytest.raises(UnsafeInput):
        add_dataset(
            catalog, "linked", "folder", {"root": str(root.parent), "allowed_root": str(root.parent)}, image_size=16
        )


def test_preview_writes_one_row_per_variant(zoo_env, catalog: Catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_dataset(catalog, "nat", "natural", {"n_per_class": 2}, image_size=16)
    png = tmp_path / "preview.png"
    run_zoo("datasets", "preview", "nat", "--png", str(png), "--per-variant", "4")
    image = np.asarray(Image.open(png).convert("RGB"))
    assert image.shape[0] == 20 * (16 + 4) + 4 and image.std() > 10
