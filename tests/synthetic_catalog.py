"""Synthetic catalogs for analysis tests: metric vectors generated from known image properties.

Each dataset variant gets a sharpness, noisiness, object scale and saturation. Every checkpoint trained on
it gets a paper-v1 metric vector computed from its variant's sharpness and noisiness plus a little seeded
noise (and a small per-architecture shift), so a meta-model learns sharpness and noisiness from the metrics
across architectures. ``shuffled=True`` computes each checkpoint's metrics from a randomly drawn variant's
properties instead, so no property is learnable at all.

Rows go in through the storage layer (:func:`zoo.checkpoints.add_checkpoint`) and plain ORM rows for
datasets and runs, as the real ingest does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zoo.catalog import Catalog
from zoo.checkpoints import ReferenceInfo, add_checkpoint, put_reference
from zoo.db.models import BaseDataset, DatasetVariant, Grid, PropertyMeasurement, Run
from zoo.filters import PAPER_V1

BASES = ("natural-32", "shapes_32", "shapesX32")  # '_' and 'X' catch an unescaped LIKE wildcard
KINDS = ("identity", "blur", "noise", "resize")
ARCH_SHIFT = {"resnet18": 0.0, "resnet50": 0.004, "mobilenetv3_large_100": -0.003, "convnext_tiny": 0.005}


def variant_properties(n_variants: int, seed: int) -> list[dict[str, float]]:
    """Seeded properties per variant: sharpness log-uniform in [1e-3, 1e-1], the others uniform."""
    rng = np.random.default_rng(seed)
    return [
        {
            "sharpness": float(10 ** rng.uniform(-3, -1)),
            "noisiness": float(rng.uniform(0.005, 0.2)),
            "object_scale": float(rng.uniform(0.25, 1.0)),
            "saturation": float(rng.uniform(0.0, 0.5)),
        }
        for _ in range(n_variants)
    ]


def synthetic_metrics(props: dict[str, float], arch: str, rng: np.random.Generator, noise: float = 0.02) -> dict[str, float]:
    """A paper-v1 metric vector that encodes sharpness and noisiness (not object scale or saturation)."""
    ls, nz = np.log10(props["sharpness"]), props["noisiness"]
    shift = ARCH_SHIFT.get(arch, 0.0)
    base = {
        "channel_saturation": float(np.exp(rng.normal())),  # carries no property
        "convex_hull_volume": 0.5 + 0.1 * ls + shift,
        "dist_to_gaussian": 0.2 - 0.05 * ls + 0.5 * nz + shift,
        "filter_variance": 1e-6 * 10 ** (0.5 * ls) * (1 + shift),
        "spatial_roughness": 2.0 - 0.3 * ls + 2.0 * nz + shift,
        "bregman_distance": 0.8 + 0.1 * ls - shift,
        "laplacian_variance": props["sharpness"],  # the architecture-independent carriers
        "wavelet_noise_sigma": nz,
    }
    assert tuple(base) == PAPER_V1.metrics
    return {k: float(v * (1 + noise * rng.normal())) for k, v in base.items()}


@dataclass
class SyntheticCatalog:
    """What was built: checkpoint ids per architecture, their runs, and the external checkpoints."""

    by_arch: dict[str, list[int]] = field(default_factory=dict)
    run_of: dict[int, int] = field(default_factory=dict)
    external: list[int] = field(default_factory=list)
    variant_ids: list[int] = field(default_factory=list)
    properties: list[dict[str, float]] = field(default_factory=list)

    @property
    def all_ids(self) -> list[int]:
        return sorted(i for ids in self.by_arch.values() for i in ids)


def _bank(rng: np.random.Generator, sharpness: float) -> np.ndarray:
    """A small (8, 3, 5, 5) delta bank, smoother for blurrier data (just so that figures look plausible)."""
    bank = rng.normal(size=(8, 3, 5, 5)).astype(np.float32)
    weight = float(np.clip(-np.log10(sharpness) - 1, 0, 2)) / 2
    smooth = (bank + np.roll(bank, 1, -1) + np.roll(bank, 1, -2) + np.roll(bank, (1, 1), (-2, -1))) / 4
    return ((1 - weight) * bank + weight * smooth).astype(np.float32) * 1e-2


def build_catalog(
    catalog: Catalog,
    *,
    archs: tuple[str, ...] = ("resnet18", "resnet50"),
    n_variants: int = 12,
    trials: int = 2,
    epochs: int = 3,
    n_external: int = 2,
    shuffled: bool = False,
    seed: int = 0,
) -> SyntheticCatalog:
    """Fill ``catalog`` with ``len(archs) * n_variants * trials`` runs of ``epochs`` checkpoints (epoch 0..),
    plus ``n_external`` labelled ``file`` checkpoints (convnext_tiny). Deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    props = variant_properties(n_variants, seed)
    built = SyntheticCatalog(properties=props)
    with catalog.session(write=True) as session:
        grid = Grid(name=f"synthetic-{seed}", spec={}, spec_sha256="0" * 64)
        bases = [BaseDataset(name=name, source_kind="natural", source_params={}, image_size=32, n_images=60, n_classes=6,
                             class_names=list("abcdef"), grayscale=False, seed=0, images_sha256="0" * 64, skipped=[])
                 for name in BASES]
        session.add_all([grid, *bases])
        session.flush()
        variants = []
        for v, p in enumerate(props):
            variant = DatasetVariant(base_dataset_id=bases[v % len(BASES)].id, name=f"v{v:02d}", kind=KINDS[v % len(KINDS)], params={"v": v}, seed=0)
            session.add(variant)
            session.flush()
            session.add_all(PropertyMeasurement(variant_id=variant.id, property=k, value=x, spread=0.0, n_samples=10,
                                                method="synthetic", method_version=1) for k, x in p.items())
            variants.append(variant.id)
        built.variant_ids = variants
        for arch in archs:
            info = ReferenceInfo(key=f"synthetic:{arch}:seed={seed}", kind="random", arch=arch, source="synthetic", layer_name="conv1.weight", seed=0)
            reference_weight = rng.normal(size=(8, 3, 5, 5)).astype(np.float32)
            reference = put_reference(session, info, reference_weight)
            for v, variant_id in enumerate(variants):
                for trial in range(trials):
                    run = Run(run_key=f"{arch}-{v}-{trial}-{seed}", grid_id=grid.id, variant_id=variant_id, arch=arch,
                              reference_spec="random:0", reference_id=reference, optimizer=("adam", "sgd-cosine")[trial % 2],
                              lr=(1e-4, 0.1)[trial % 2], epochs=epochs - 1, checkpoint_every=1, batch_size=16, image_size=32,
                              trial=trial, seed=trial, status="done")
                    session.add(run)
                    session.flush()
                    for epoch in range(epochs):
                        delta = _bank(rng, props[v]["sharpness"])
                        checkpoint = add_checkpoint(
                            session, source="run", arch=arch, reference=reference, layer_name="conv1.weight",
                            learned=reference_weight + delta, delta=delta,
                            metrics={(PAPER_V1.name, PAPER_V1.version): synthetic_metrics(props[rng.integers(n_variants) if shuffled else v], arch, rng)},
                            run_id=run.id, epoch=epoch, step=epoch * 10, val_accuracy=0.1 + 0.1 * epoch, train_loss=2.0 - 0.1 * epoch,
                        )
                        built.by_arch.setdefault(arch, []).append(checkpoint)
                        built.run_of[checkpoint] = run.id
        if n_external:
            info = ReferenceInfo(key=f"synthetic:convnext_tiny:seed={seed}", kind="random", arch="convnext_tiny", source="synthetic", layer_name="stem.0.weight", seed=0)
            reference_weight = rng.normal(size=(8, 3, 5, 5)).astype(np.float32)
            reference = put_reference(session, info, reference_weight)
            for e in range(n_external):
                label = props[e % n_variants]
                delta = _bank(rng, label["sharpness"])
                checkpoint = add_checkpoint(
                    session, source="file", arch="convnext_tiny", reference=reference, layer_name="stem.0.weight",
                    learned=reference_weight + delta, delta=delta,
                    metrics={(PAPER_V1.name, PAPER_V1.version): synthetic_metrics(label, "convnext_tiny", rng)},
                    labels={"sharpness": label["sharpness"], "noisiness": label["noisiness"]},
                    origin=f"/models/external-{e}.safetensors", file_sha256=f"{e:064x}",
                )
                built.external.append(checkpoint)
                built.by_arch.setdefault("convnext_tiny", []).append(checkpoint)
    return built
