"""Turning a grid spec into registered datasets, measured variants and queued runs.

Torch-free: it needs only the image sources, the transforms and the queue, so ``zoo ingest --run-grid GRID
--enqueue-only`` works without the ``ingest`` extra and leaves the training to ``zoo worker`` processes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from zoo import queue
from zoo.catalog import Catalog
from zoo.datasets import add_dataset, measure_dataset
from zoo.errors import InvalidInput
from zoo.grids import DatasetSpec, GridSpec
from zoo.records import DatasetRecord


def _variant_names(spec: DatasetSpec, dataset: DatasetRecord) -> tuple[str, ...]:
    available = [v.name for v in dataset.variants]
    if spec.variants == ("all",):
        return tuple(available)
    unknown = [name for name in spec.variants if name not in available]
    if unknown:
        raise InvalidInput(
            f"dataset {spec.name}: unknown variant(s) {', '.join(unknown)}; valid: {', '.join(available)}"
        )
    return spec.variants


def spec_sha256(grid: GridSpec) -> str:
    return hashlib.sha256(json.dumps(grid.to_dict(), sort_keys=True).encode()).hexdigest()


def enqueue_grid(
    catalog: Catalog, grid: GridSpec, *, n_samples: int = 2000, progress: Callable[[str], None] | None = None
) -> queue.EnqueueResult:
    """Register and measure the grid's datasets, then queue the runs not queued before (idempotent)."""
    datasets: dict[str, DatasetRecord] = {}
    for spec in grid.datasets:
        if progress is not None:
            progress(f"dataset {spec.name}")
        dataset, _ = add_dataset(
            catalog,
            spec.name,
            spec.source,
            spec.params,
            image_size=grid.dataset_image_size(spec),
            seed=spec.seed,
            noise=grid.dataset_noise(spec),
        )
        measure_dataset(catalog, spec.name, n_samples=n_samples)
        datasets[spec.name] = dataset
    names = {spec.name: _variant_names(spec, datasets[spec.name]) for spec in grid.datasets}
    variant_ids = {(d.name, v.name): v.id for d in datasets.values() for v in d.variants}
    runs = [(run, variant_ids[(run.dataset, run.variant)]) for run in grid.runs(names)]
    return queue.enqueue(catalog, grid, spec_sha256(grid), runs)
