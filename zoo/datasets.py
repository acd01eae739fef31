"""Base datasets, their variants, and the measured image properties of each variant.

A base dataset is decoded once, at registration, into a uint8 array stored in the artifact store (file
first, then the row); every worker reads those exact pixels. Each base gets the paper's 20 variants.
Measurements are stored per variant with their method and version, and are redone only when the
method's version changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import exc, select
from sqlalchemy.orm import Session

from zoo.catalog import Catalog
from zoo.db.models import BaseDataset, DatasetVariant, PropertyMeasurement
from zoo.errors import InvalidInput, NotFound
from zoo.images.sources import load_source
from zoo.records import DatasetRecord, MeasurementRecord, VariantRecord, from_row

DEFAULT_SAMPLES = 2000
MEASURE_CHUNK = 256


def _variant_record(variant: DatasetVariant, measurements: list[PropertyMeasurement]) -> VariantRecord:
    return from_row(
        VariantRecord,
        variant,
        measurements=tuple(from_row(MeasurementRecord, m) for m in sorted(measurements, key=lambda m: m.property)),
    )


def _dataset_record(session: Session, base: BaseDataset) -> DatasetRecord:
    variants = session.scalars(
        select(DatasetVariant).where(DatasetVariant.base_dataset_id == base.id).order_by(DatasetVariant.id)
    ).all()
    by_variant: dict[int, list[PropertyMeasurement]] = {}
    for m in session.scalars(
        select(PropertyMeasurement).where(PropertyMeasurement.variant_id.in_([v.id for v in variants]))
    ):
        by_variant.setdefault(m.variant_id, []).append(m)
    return from_row(DatasetRecord, base, variants=tuple(_variant_record(v, by_variant.get(v.id, [])) for v in variants))


def _same_settings(base: BaseDataset, source: str, params: dict[str, Any], image_size: int, seed: int) -> bool:
    return (base.source_kind, base.source_params, base.image_size, base.seed) == (source, params, image_size, seed)


def dataset_noise(dataset: DatasetRecord) -> str:
    """How the dataset's noise variants draw their noise: ``"per-step"`` or ``"fixed"`` (saved to disk)."""
    from zoo.images.transforms import noise_draw

    return next((noise_draw(v.params) for v in dataset.variants if v.kind == "noise"), "per-step")


def get_dataset(catalog: Catalog, name: str) -> DatasetRecord:
    with catalog.session() as session:
        base = session.scalars(select(BaseDataset).where(BaseDataset.name == name)).first()
        if base is None:
            known = ", ".join(session.scalars(select(BaseDataset.name).order_by(BaseDataset.name))) or "none yet"
            raise NotFound(f"no dataset named {name!r} (known: {known}); add it with `zoo datasets add`")
        return _dataset_record(session, base)


def get_variant(catalog: Catalog, variant_id: int) -> tuple[DatasetRecord, VariantRecord]:
    """The variant with this id and the base dataset it belongs to (with all its variants)."""
    with catalog.session() as session:
        variant = session.get(DatasetVariant, variant_id)
        if variant is None:
            raise NotFound(f"no dataset variant with id {variant_id}; list the datasets with `zoo datasets list`")
        dataset = _dataset_record(session, session.get_one(BaseDataset, variant.base_dataset_id))
    return dataset, next(v for v in dataset.variants if v.id == variant_id)


def list_datasets(catalog: Catalog) -> list[DatasetRecord]:
    with catalog.session() as session:
        return [
            _dataset_record(session, base) for base in session.scalars(select(BaseDataset).order_by(BaseDataset.id))
        ]


def _check_name(name: str) -> None:
    if not name or len(name) > 128 or not all(c.isalnum() or c in "-_." for c in name):
        raise InvalidInput(f"dataset name {name!r} must be 1-128 letters, digits, '-', '_' or '.'")


def add_dataset(
    catalog: Catalog,
    name: str,
    source: str,
    params: dict[str, Any] | None = None,
    *,
    image_size: int = 224,
    seed: int = 0,
    noise: str = "per-step",
) -> tuple[DatasetRecord, bool]:
    """Register a base dataset and its 20 paper variants; returns (record, created).

    ``noise`` says how the noise variants draw their noise: ``"per-step"`` (fresh every batch, the
    default) or ``"fixed"`` (once per image, clipped, 8-bit: a noisy dataset saved to disk); it is
    stored in those variants' parameters. Adding the same name with the same settings again returns the
    existing record; with other settings it is refused (names identify datasets in grids and queries).
    """
    from zoo.images.transforms import paper_variants

    variants = paper_variants(noise)

    _check_name(name)
    params = dict(params or {})
    if image_size < 8:
        raise InvalidInput("image size must be at least 8 pixels")
    with catalog.session() as session:
        existing = session.scalars(select(BaseDataset).where(BaseDataset.name == name)).first()
        if existing is not None:
            record = _dataset_record(session, existing)
            if not _same_settings(existing, source, params, image_size, seed) or dataset_noise(record) != noise:
                raise InvalidInput(
                    f"dataset {name!r} already exists with other settings ({existing.source_kind}, "
                    f"{existing.image_size}px, {existing.source_params}, {dataset_noise(record)} noise); choose another name"
                )
            return record, False
    images = load_source(source, image_size=image_size, seed=seed, **params)
    images_sha = catalog.store.put_arrays(images=images.images, labels=images.labels)  # file first, then the row
    try:
        with catalog.session(write=True) as session:
            base = BaseDataset(
                name=name,
                source_kind=source,
                source_params=params,
                image_size=image_size,
                n_images=int(images.images.shape[0]),
                n_classes=len(images.class_names),
                class_names=list(images.class_names),
                grayscale=bool(images.grayscale),
                object_scale=images.object_scale,
                seed=seed,
                images_sha256=images_sha,
                skipped=[list(s) for s in images.skipped],
            )
            session.add(base)
            session.flush()
            session.add_all(
                DatasetVariant(base_dataset_id=base.id, name=v.name, kind=v.kind, params=dict(v.params), seed=seed + i)
                for i, v in enumerate(variants)
            )
    except exc.IntegrityError:  # another process registered it meanwhile
        return get_dataset(catalog, name), False
    return get_dataset(catalog, name), True


def load_images(catalog: Catalog, dataset: DatasetRecord) -> tuple[np.ndarray, np.ndarray]:
    """The decoded uint8 images (N, H, W, 3) and labels of a base dataset, hash-verified."""
    arrays = catalog.store.get_arrays(dataset.images_sha256)
    return arrays["images"], arrays["labels"]


def variant_images(images: np.ndarray, variant: VariantRecord, n: int | None = None) -> np.ndarray:
    """Float images of a variant: ``n`` samples drawn with the variant's seed (all when n is None or larger).

    A fixed-noise variant is the saved noisy dataset (:func:`variant_uint8`), sampled like the others.
    """
    from zoo.images.transforms import apply_transform

    kind, params = variant.kind, variant.params
    if variant_is_saved(variant):
        images, kind, params = variant_uint8(images, variant), "identity", {}
    rng = np.random.default_rng(variant.seed)
    if n is not None and n < len(images):
        images = images[np.sort(rng.choice(len(images), size=n, replace=False))]
    floats = images.astype(np.float32) / np.float32(255.0)
    return np.concatenate(
        [
            apply_transform(kind, params, floats[i : i + MEASURE_CHUNK], rng)
            for i in range(0, len(floats), MEASURE_CHUNK)
        ]
    )


def variant_is_saved(variant: VariantRecord) -> bool:
    """True when the variant's images are fixed per image (noise drawn once), not drawn per batch."""
    from zoo.images.transforms import is_saved_noise

    return is_saved_noise(variant.kind, variant.params)


def variant_uint8(images: np.ndarray, variant: VariantRecord) -> np.ndarray:
    """The uint8 images a fixed-noise variant trains and is measured on (seeded by the variant)."""
    from zoo.images.transforms import saved_noise_images

    return saved_noise_images(images, float(variant.params["sigma"]), variant.seed)


@dataclass(frozen=True)
class MeasureSummary:
    dataset: str
    variants_measured: int
    variants_current: int


def _stale_properties(variant: VariantRecord, wanted: dict[str, int]) -> list[str]:
    have = {m.property: m.method_version for m in variant.measurements}
    return [name for name, version in wanted.items() if have.get(name) != version]


def measure_dataset(
    catalog: Catalog, name: str, *, n_samples: int = DEFAULT_SAMPLES, progress: Callable[[str], None] | None = None
) -> MeasureSummary:
    """Measure every variant's properties that are missing or were made by an older method version."""
    from zoo.images.properties import OBJECT_SCALE, measure_properties, property_method, property_names
    from zoo.images.transforms import object_scale_factor

    if n_samples < 1:
        raise InvalidInput(f"`n_samples` must be at least 1, got {n_samples}", param="n_samples")
    dataset = get_dataset(catalog, name)
    wanted = {p: property_method(p).version for p in property_names()}
    if dataset.object_scale is not None:
        wanted[OBJECT_SCALE] = 1
    images, measured = None, 0
    for variant in dataset.variants:
        stale = _stale_properties(variant, wanted)
        if stale:
            images = load_images(catalog, dataset)[0] if images is None else images
            scale = (
                dataset.object_scale * object_scale_factor(variant.kind, variant.params)
                if dataset.object_scale
                else None
            )
            results = measure_properties(variant_images(images, variant, n_samples), names=stale, object_scale=scale)
            _store_measurements(catalog, variant.id, results.values())
            measured += 1
        if progress is not None:
            progress(variant.name)
    return MeasureSummary(name, measured, len(dataset.variants) - measured)


def _store_measurements(catalog: Catalog, variant_id: int, results: Any) -> None:
    with catalog.session(write=True) as session:
        current = {
            m.property: m
            for m in session.scalars(select(PropertyMeasurement).where(PropertyMeasurement.variant_id == variant_id))
        }
        for result in results:
            row = current.get(result.property) or PropertyMeasurement(variant_id=variant_id, property=result.property)
            row.value, row.spread, row.n_samples = result.value, result.spread, result.n_samples
            row.method, row.method_version = result.method, result.method_version
            session.add(row)


def preview_dataset(catalog: Catalog, name: str, path: str | Path, *, per_variant: int = 6) -> Path:
    """Write a PNG grid: one row of sample images per variant (the paper's Figure 2)."""
    from zoo.images.preview import variant_preview_grid

    if per_variant < 1:
        raise InvalidInput(f"`per_variant` must be at least 1, got {per_variant}", param="per_variant")
    dataset = get_dataset(catalog, name)
    images = load_images(catalog, dataset)[0]
    images = images[np.linspace(0, len(images) - 1, min(per_variant, len(images))).astype(int)]
    rows = [(v.name, np.clip(variant_images(images, v), 0.0, 1.0)) for v in dataset.variants]
    variant_preview_grid(rows, path, cols=per_variant)
    return Path(path)
