"""The demo's distance from its compute floor: wall time of a slice of a grid against its runs' training time.

Registers and measures the slice's datasets in a fresh SQLite catalog, queues a slice of the grid (a few
variants of each dataset, one trial), then starts ``--workers`` worker processes exactly as
``zoo ingest --run-grid --workers N`` does (``python -m zoo worker``, ``OMP_NUM_THREADS = cores //
workers``) and times them from spawn to exit. The floor is the sum of the runs' own ``train_seconds``
divided by the workers; the ratio wall / floor is what the run loop costs beyond training (interpreter
and torch start, model creation, dataset loading, variant preparation, metrics, database writes, idle
workers at the end). Also printed: the per-run overhead (claim to finish minus training) by architecture.

Usage: python benchmarks/bench_demo.py [--grid demo] [--variants original,blur-k7-s2,noise-0.5,dilate-2]
       [--datasets NAME,...] [--workers 2] [--keep FOLDER]
Figures only; nothing passes or fails.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from zoo.catalog import Catalog
from zoo.db.models import Run
from zoo.enqueue import enqueue_grid
from zoo.grids import GridSpec, builtin_grid_path, load_grid
from zoo.queue import DEFAULT_GRACE_S
from zoo.worker_pool import threads_per_worker, worker_command

DEFAULT_VARIANTS = "original,blur-k7-s2,noise-0.5,dilate-2,resize-0.5"


def sliced_grid(grid: GridSpec, variants: list[str], datasets: list[str] | None) -> GridSpec:
    """``grid`` restricted to ``variants`` of each (selected) dataset, one trial, under a new name."""
    kept = []
    for dataset in grid.datasets:
        if datasets and dataset.name not in datasets:
            continue
        own = [v for v in variants if dataset.variants == ("all",) or v in dataset.variants]
        if own:
            kept.append(replace(dataset, variants=tuple(own)))
    return replace(grid, name=f"{grid.name}-slice", datasets=tuple(kept), trials=1)


def run_workers(db: str, artifacts: str, grid_id: int, workers: int) -> float:
    """Spawn to exit of ``workers`` worker processes, started as ``zoo ingest --workers N`` starts them."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads_per_worker(workers))}
    command = worker_command(grid_id, DEFAULT_GRACE_S, db=db, artifacts=artifacts)
    started = time.perf_counter()
    children = [subprocess.Popen(command, env=env) for _ in range(workers)]
    for child in children:
        child.wait()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default="demo", help="built-in grid name or TOML path")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS, help="comma-separated variant names per dataset")
    parser.add_argument("--datasets", default="", help="comma-separated dataset names (default: all of the grid's)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", default=None, help="folder for the catalog (default: a temporary one)")
    args = parser.parse_args()
    path = Path(args.grid) if Path(args.grid).exists() else builtin_grid_path(args.grid)
    grid = sliced_grid(load_grid(path), args.variants.split(","), [d for d in args.datasets.split(",") if d])
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        db, artifacts = f"sqlite:///{folder}/bench.db", str(folder / "artifacts")
        catalog = Catalog.open(db, artifacts=artifacts)
        started = time.perf_counter()
        result = enqueue_grid(catalog, grid)
        setup = time.perf_counter() - started
        wall = run_workers(db, artifacts, result.grid_id, args.workers)
        with catalog.session() as session:
            runs = session.execute(
                select(Run.arch, Run.status, Run.train_seconds, Run.claimed_at, Run.finished_at).where(
                    Run.grid_id == result.grid_id
                )
            ).all()
        catalog.close()
    done = [r for r in runs if r.status == "done"]
    train = sum(r.train_seconds for r in done)
    floor = train / args.workers
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}; grid {path.name} sliced: "
        f"{len(grid.datasets)} datasets x variants {args.variants}, {len(grid.archs)} archs, 1 trial"
    )
    print(
        f"runs: {len(done)} done of {len(runs)}; {args.workers} workers, OMP_NUM_THREADS={threads_per_worker(args.workers)}"
    )
    print(f"register + measure datasets     : {setup:8.1f} s (once per catalog)")
    print(f"workers' wall time               : {wall:8.1f} s")
    print(f"sum of train_seconds / workers   : {floor:8.1f} s  ({train:.1f} s over {len(done)} runs)")
    print(f"ratio wall / floor               : {wall / max(floor, 1e-9):8.3f}   (goal <= 1.10)")
    overhead: dict[str, list[float]] = defaultdict(list)
    trained: dict[str, list[float]] = defaultdict(list)
    for r in done:
        overhead[r.arch].append((r.finished_at - r.claimed_at).total_seconds() - r.train_seconds)
        trained[r.arch].append(r.train_seconds)
    for arch in sorted(overhead):
        print(
            f"  {arch:24s} train {statistics.mean(trained[arch]):6.2f} s/run, overhead (claim→finish − train) "
            f"{statistics.mean(overhead[arch]):6.2f} s/run over {len(overhead[arch])} runs"
        )


if __name__ == "__main__":
    main()
