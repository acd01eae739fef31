"""Synthetic catalogs for analysis tests: delta banks generated from known image properties, metrics
computed from the stored deltas.

Each dataset variant gets a sharpness, noisiness, object scale and saturation. Every checkpoint trained on
it gets a first-layer delta bank ``(16, 3, 5, 5)`` drawn from them: a random field smoothed more for
blurrier data (Gaussian sigma from log sharpness), mixed with white noise in proportion to the noisiness,
scaled by the epoch and by a per-architecture gain. Epoch 0 is the reference itself (delta = 0), as in a
real catalog. The metric vectors are computed from those deltas by every registered feature set
(``paper-v1`` and whatever else is registered), exactly as ingest does, so no metric equals a target:
a meta-model has to read the properties out of the filters. ``shuffled=True`` draws each checkpoint's
delta from a randomly chosen variant's properties instead, so no property is learnable.

Runs vary the recipe with the trial: optimizer, learning rate and image size alternate (adam, 1e-4, 32 px
and sgd-cosine, 0.1, 64 px). Rows go in through the storage layer (:func:`zoo.checkpoints.add_checkpoint`)
and plain ORM rows for datasets and runs, as the real ingest does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter

from zoo.catalog import Catalog
from zoo.checkpoints import ReferenceInfo, add_checkpoint, put_reference
from zoo.db.models import BaseDataset, DatasetVariant, Grid, PropertyMeasurement, Run
from zoo.filters import feature_set_names, featurize_many, get_feature_set

BASES = ("natural-32", "shapes_32", "shapesX32")  # '_' and 'X' catch an unescaped LIKE wildcard
KINDS = ("identity", "blur", "noise", "resize")
ARCH_GAIN = {"resnet18": 1.0, "resnet50": 1.3, "mobilenetv3_large_100": 0.8, "convnext_tiny": 1.1}
BANK_SHAPE = (16, 3, 5, 5)
DELTA_SCALE = 1e-2  # a delta's RMS per epoch, before the architecture's gain
RECIPES = (("adam", 1e-4, 32), ("sgd-cosine", 0.1, 64))  # (optimizer, lr, image size) by trial parity


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


def delta_bank(props: dict[str, float], rng: np.random.Generator, scale: float) -> np.ndarray:
    """A ``BANK_SHAPE`` delta whose smoothness follows the sharpness and whose white-noise share follows
    the noisiness; RMS ``scale`` (0 gives the reference's zero delta)."""
    sigma = 0.4 + 0.6 * (-1.0 - np.log10(props["sharpness"]))  # 0.4 (sharp) .. 1.6 (blurred)
    n, c, k, _ = BANK_SHAPE
    field_ = gaussian_filter(rng.normal(size=(n, c, k + 8, k + 8)), sigma=(0, 0, sigma, sigma))[
        ..., 4 : 4 + k, 4 : 4 + k
    ]
    field_ /= field_.std()
    share = 2.5 * props["noisiness"]
    mixed = np.sqrt(1 - share**2) * field_ + share * rng.normal(size=field_.shape)
    return (scale * mixed / mixed.std()).astype(np.float32)


@dataclass
class SyntheticCatalog:
    """What was built: checkpoint ids per architecture, their runs, and the external checkpoints."""

    by_arch: dict[str, list[int]] = field(default_factory=dict)
    run_of: dict[int, int] = field(default_factory=dict)
    epoch_of: dict[int, int] = field(default_factory=dict)
    external: list[int] = field(default_factory=list)
    variant_ids: list[int] = field(default_factory=list)
    properties: list[dict[str, float]] = field(default_factory=list)

    @property
    def all_ids(self) -> list[int]:
        return sorted(i for ids in self.by_arch.values() for i in ids)

    @property
    def trained_ids(self) -> list[int]:
        """Checkpoints that are not a reference (epoch >= 1, or external)."""
        return sorted(i for i in self.all_ids if self.epoch_of.get(i) != 0)


def metric_vectors(deltas: list[np.ndarray]) -> list[dict[tuple[str, int], dict[str, float]]]:
    """Every registered feature set's metric vector of each delta (batched, as ``zoo featurize`` does)."""
    out: list[dict[tuple[str, int], dict[str, float]]] = [{} for _ in deltas]
    for key in feature_set_names():
        fs = get_feature_set(key)
        values = featurize_many(deltas, fs)
        for vectors, row in zip(out, values):
            vectors[(fs.name, fs.version)] = dict(zip(fs.metrics, map(float, row)))
    return out


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
    planned: list[tuple[str, int, int, int]] = []  # (arch, variant index, trial, epoch)
    deltas: list[np.ndarray] = []
    for arch in archs:
        for v in range(n_variants):
            for trial in range(trials):
                for epoch in range(epochs):
                    drawn = props[int(rng.integers(n_variants))] if shuffled else props[v]
                    deltas.append(delta_bank(drawn, rng, DELTA_SCALE * ARCH_GAIN.get(arch, 1.0) * epoch))
                    planned.append((arch, v, trial, epoch))
    external = [
        (props[e % n_variants], delta_bank(props[e % n_variants], rng, DELTA_SCALE * ARCH_GAIN["convnext_tiny"] * 2))
        for e in range(n_external)
    ]
    vectors = metric_vectors(deltas + [d for _, d in external])
    with catalog.session(write=True) as session:
        grid = Grid(name=f"synthetic-{seed}", spec={}, spec_sha256="0" * 64)
        bases = [
            BaseDataset(
                name=name,
                source_kind="natural",
                source_params={},
                image_size=32,
                n_images=60,
                n_classes=6,
                class_names=list("abcdef"),
                grayscale=False,
                seed=0,
                images_sha256="0" * 64,
                skipped=[],
            )
            for name in BASES
        ]
        session.add_all([grid, *bases])
        session.flush()
        for v, p in enumerate(props):
            variant = DatasetVariant(
                base_dataset_id=bases[v % len(BASES)].id,
                name=f"v{v:02d}",
                kind=KINDS[v % len(KINDS)],
                params={"v": v},
                seed=0,
            )
            session.add(variant)
            session.flush()
            session.add_all(
                PropertyMeasurement(
                    variant_id=variant.id,
                    property=k,
                    value=x,
                    spread=0.0,
                    n_samples=10,
                    method="synthetic",
                    method_version=1,
                )
                for k, x in p.items()
            )
            built.variant_ids.append(variant.id)
        references, runs = {}, {}
        for index, ((arch, v, trial, epoch), delta) in enumerate(zip(planned, deltas)):
            if arch not in references:
                info = ReferenceInfo(
                    key=f"synthetic:{arch}:seed={seed}",
                    kind="random",
                    arch=arch,
                    source="synthetic",
                    layer_name="conv1.weight",
                    seed=0,
                )
                weight = rng.normal(size=BANK_SHAPE).astype(np.float32)
                references[arch] = (put_reference(session, info, weight), weight)
            reference, weight = references[arch]
            if (arch, v, trial) not in runs:
                optimizer, lr, image_size = RECIPES[trial % 2]
                run = Run(
                    run_key=f"{arch}-{v}-{trial}-{seed}",
                    grid_id=grid.id,
                    variant_id=built.variant_ids[v],
                    arch=arch,
                    reference_spec="random:0",
                    reference_id=reference,
                    optimizer=optimizer,
                    lr=lr,
                    epochs=epochs - 1,
                    checkpoint_every=1,
                    batch_size=16,
                    image_size=image_size,
                    trial=trial,
                    seed=trial,
                    status="done",
                )
                session.add(run)
                session.flush()
                runs[(arch, v, trial)] = run.id
            checkpoint = add_checkpoint(
                session,
                source="run",
                arch=arch,
                reference=reference,
                layer_name="conv1.weight",
                learned=weight + delta,
                delta=delta,
                metrics=vectors[index],
                run_id=runs[(arch, v, trial)],
                epoch=epoch,
                step=epoch * 10,
                val_accuracy=0.1 + 0.1 * epoch,
                train_loss=2.0 - 0.1 * epoch,
            )
            built.by_arch.setdefault(arch, []).append(checkpoint)
            built.run_of[checkpoint] = runs[(arch, v, trial)]
            built.epoch_of[checkpoint] = epoch
        if n_external:
            info = ReferenceInfo(
                key=f"synthetic:convnext_tiny:seed={seed}",
                kind="random",
                arch="convnext_tiny",
                source="synthetic",
                layer_name="stem.0.weight",
                seed=0,
            )
            weight = rng.normal(size=BANK_SHAPE).astype(np.float32)
            reference = put_reference(session, info, weight)
            for e, (label, delta) in enumerate(external):
                checkpoint = add_checkpoint(
                    session,
                    source="file",
                    arch="convnext_tiny",
                    reference=reference,
                    layer_name="stem.0.weight",
                    learned=weight + delta,
                    delta=delta,
                    metrics=vectors[len(deltas) + e],
                    labels={"sharpness": label["sharpness"], "noisiness": label["noisiness"]},
                    origin=f"/models/external-{e}.safetensors",
                    file_sha256=f"{e:064x}",
                )
                built.external.append(checkpoint)
                built.by_arch.setdefault("convnext_tiny", []).append(checkpoint)
    return built
