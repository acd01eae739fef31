"""Catalog benchmark: ``zoo query`` and ``zoo fit`` on a synthetic catalog of 100,000 checkpoints.

Bulk-loads the catalog with Core ``insert`` executemany (datasets, runs, checkpoints, metric vectors and
their 800,000 values), on SQLite in a temp folder and, when a server answers (``ZOO_TEST_POSTGRES_URL`` or
127.0.0.1:5432), on PostgreSQL in a fresh schema that is dropped afterwards. Then prints:

* the wall time of ``zoo query --arch resnet18 --limit 20``, run through the real CLI in-process (opening
  the catalog included; the best of 5, and the first), and of the query function alone;
* the time of a fit with 20,000 train (resnet50) and 20,000 test (resnet18) checkpoints, default settings
  (5 seeds x 30 trees), storing the fit, its 100,000 predictions and the forest;
* the database size (all checkpoints share one stored tensor here: a real catalog adds two 64x3x7x7
  float32 tensors, 2 x 37.7 KB, per checkpoint).

Goals: query <= 0.5 s, fit <= 15 s. Figures only, never pass/fail. Run:
``.venv/bin/python benchmarks/bench_catalog.py [--checkpoints 100000] [--no-postgres]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import sqlalchemy as sa

from zoo.catalog import Catalog
from zoo.checkpoints import tensor_sha256
from zoo.db import models
from zoo.filters import PAPER_V1
from zoo.metamodel import fit_meta_model
from zoo.query import query_checkpoints
from zoo.selection import Selection

ARCHS = ("resnet18", "resnet50", "mobilenetv3_large_100", "convnext_tiny")
BASES = ("imagenette", "whoi-plankton", "blendershapes")
VARIANTS_PER_BASE = 20
EPOCHS_PER_RUN = 5  # checkpoints at epochs 0..4; min_epoch=1 keeps 4 of them
CHUNK = 20_000
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _insert(conn: sa.Connection, model: Any, rows: Iterator[dict[str, Any]]) -> None:
    for batch in _chunks(rows):
        conn.execute(sa.insert(model.__table__), batch)


def bulk_load(engine: sa.Engine, n_checkpoints: int, seed: int = 0) -> None:
    """Fill an empty, migrated catalog with ``n_checkpoints`` synthetic run checkpoints (explicit ids)."""
    rng = np.random.default_rng(seed)
    n_variants = len(BASES) * VARIANTS_PER_BASE
    sharpness = 10 ** rng.uniform(-3, -1, n_variants)
    noisiness = rng.uniform(0.005, 0.2, n_variants)
    tensor = rng.normal(size=(64, 3, 7, 7)).astype(np.float32)
    now = models.utcnow()
    n_runs = -(-n_checkpoints // EPOCHS_PER_RUN)
    with engine.begin() as conn:
        conn.execute(sa.insert(models.Tensor.__table__), [{"id": 1, "sha256": tensor_sha256(tensor), "dtype": "float32", "shape": list(tensor.shape), "nbytes": tensor.nbytes, "data": tensor.tobytes()}])
        conn.execute(sa.insert(models.Grid.__table__), [{"id": 1, "name": "bench", "spec": {}, "spec_sha256": "0" * 64, "created_at": now, "updated_at": now}])
        conn.execute(sa.insert(models.BaseDataset.__table__), [
            {"id": b + 1, "name": name, "source_kind": "folder", "source_params": {}, "image_size": 224, "n_images": 10_000, "n_classes": 10,
             "class_names": [], "grayscale": False, "object_scale": None, "seed": 0, "images_sha256": "0" * 64, "skipped": [], "created_at": now}
            for b, name in enumerate(BASES)])
        conn.execute(sa.insert(models.DatasetVariant.__table__), [
            {"id": v + 1, "base_dataset_id": v // VARIANTS_PER_BASE + 1, "name": f"v{v % VARIANTS_PER_BASE:02d}",
             "kind": ("identity", "blur", "noise", "resize")[v % 4], "params": {}, "seed": 0, "created_at": now} for v in range(n_variants)])
        conn.execute(sa.insert(models.PropertyMeasurement.__table__), [
            {"variant_id": v + 1, "property": name, "value": float(values[v]), "spread": 0.0, "n_samples": 2000, "method": "bench", "method_version": 1, "measured_at": now}
            for v in range(n_variants) for name, values in (("sharpness", sharpness), ("noisiness", noisiness))])
        conn.execute(sa.insert(models.ReferenceWeights.__table__), [
            {"id": a + 1, "key": f"timm:{arch}", "kind": "timm", "arch": arch, "source": arch, "layer_name": "conv1.weight", "tensor_id": 1, "created_at": now}
            for a, arch in enumerate(ARCHS)])
        _insert(conn, models.Run, (
            {"id": r + 1, "run_key": f"run-{r}", "grid_id": 1, "variant_id": r % n_variants + 1, "arch": ARCHS[r % len(ARCHS)],
             "reference_spec": "timm", "reference_id": r % len(ARCHS) + 1, "optimizer": ("adam", "sgd-cosine")[r // n_variants % 2],
             "lr": 1e-4, "epochs": EPOCHS_PER_RUN - 1, "checkpoint_every": 1, "batch_size": 64, "image_size": 224,
             "trial": r // (2 * n_variants * len(ARCHS)), "seed": r, "keep_weights": False, "status": "done", "attempts": 1,
             "max_attempts": 3, "created_at": now} for r in range(n_runs)))
        _insert(conn, models.Checkpoint, (
            {"id": c + 1, "source": "run", "run_id": c // EPOCHS_PER_RUN + 1, "arch": ARCHS[(c // EPOCHS_PER_RUN) % len(ARCHS)],
             "reference_id": (c // EPOCHS_PER_RUN) % len(ARCHS) + 1, "epoch": c % EPOCHS_PER_RUN, "step": c % EPOCHS_PER_RUN * 100,
             "layer_name": "conv1.weight", "learned_tensor_id": 1, "delta_tensor_id": 1, "val_accuracy": 0.5, "train_loss": 1.0, "created_at": now}
            for c in range(n_checkpoints)))
        _insert(conn, models.MetricVector, (
            {"id": c + 1, "checkpoint_id": c + 1, "feature_set": PAPER_V1.name, "feature_set_version": PAPER_V1.version, "computed_at": now}
            for c in range(n_checkpoints)))
        _insert(conn, models.MetricValue, _metric_values(n_checkpoints, n_variants, sharpness, noisiness, rng))
        if engine.dialect.name == "postgresql":  # explicit ids leave the serial sequences behind
            for model in (models.Tensor, models.Grid, models.BaseDataset, models.DatasetVariant, models.ReferenceWeights, models.Run, models.Checkpoint, models.MetricVector):
                table = model.__tablename__
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def _metric_values(n: int, n_variants: int, sharpness: np.ndarray, noisiness: np.ndarray, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
    variant = (np.arange(n) // EPOCHS_PER_RUN) % n_variants
    ls, nz = np.log10(sharpness[variant]), noisiness[variant]
    columns = [np.exp(rng.normal(size=n)), 0.5 + 0.1 * ls, 0.2 - 0.05 * ls + 0.5 * nz, 1e-6 * 10 ** (0.5 * ls),
               2.0 - 0.3 * ls + 2.0 * nz, 0.8 + 0.1 * ls, sharpness[variant], nz]
    values = np.stack(columns, axis=1) * (1 + 0.05 * rng.normal(size=(n, len(columns))))
    for c in range(n):
        for m, name in enumerate(PAPER_V1.metrics):
            yield {"vector_id": c + 1, "metric": name, "value": float(values[c, m])}


def _timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def _database_size(catalog: Catalog, schema: str | None) -> int:
    with catalog.engine.connect() as conn:
        if catalog.dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            return Path(str(catalog.engine.url.database)).stat().st_size
        return int(conn.execute(sa.text(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relkind IN ('r', 'm')"), {"schema": schema}).scalar_one())


def bench(url: str, artifacts: str, n_checkpoints: int, schema: str | None = None) -> None:
    from typer.testing import CliRunner

    from zoo.cli.main import app

    catalog = Catalog.open(url, artifacts=artifacts)
    load_s, _ = _timed(lambda: bulk_load(catalog.engine, n_checkpoints))
    print(f"  bulk load of {n_checkpoints:,} checkpoints ({8 * n_checkpoints:,} metric values): {load_s:.1f} s")
    args = ["--db", url, "--artifacts", artifacts, "query", "--arch", "resnet18", "--limit", "20"]
    runner = CliRunner()
    cli_times = []
    for _ in range(5):
        seconds, result = _timed(lambda: runner.invoke(app, args, catch_exceptions=False, env={"COLUMNS": "200"}))
        assert result.exit_code == 0, result.output
        cli_times.append(seconds)
    function_s, table = _timed(lambda: query_checkpoints(catalog, Selection(archs=("resnet18",)), limit=20))
    print(f"  zoo query --arch resnet18 --limit 20 (CLI in-process, catalog opened each time): best {min(cli_times):.3f} s, first {cli_times[0]:.3f} s")
    print(f"  query_checkpoints alone: {function_s:.3f} s ({len(table.rows)} rows of {table.total:,})")
    train, test = Selection(archs=("resnet50",), min_epoch=1), Selection(archs=("resnet18",), min_epoch=1)
    fit_s, fit = _timed(lambda: fit_meta_model(catalog, "sharpness", train, test))
    model_bytes = len(catalog.store.get_bytes(fit.model_sha256))
    print(f"  fit sharpness, {fit.n_train:,} train / {fit.n_test:,} test, {len(fit.seeds)} seeds x {fit.n_estimators} trees, stored: "
          f"{fit_s:.1f} s (R² {fit.r2_mean:.3f} ± {fit.r2_std:.3f}; forest artifact {model_bytes / 1e3:.0f} KB)")
    print(f"  database size: {_database_size(catalog, schema) / 1e6:.1f} MB")
    catalog.close()


def _postgres_base() -> str | None:
    import psycopg

    url = os.environ.get("ZOO_TEST_POSTGRES_URL") or LOCAL_POSTGRES
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error:
        return None
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=int, default=100_000)
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as folder:
        print("SQLite:")
        bench(f"sqlite:///{folder}/catalog.db", f"{folder}/artifacts", options.checkpoints)
    base = None if options.no_postgres else _postgres_base()
    if base is None:
        print("PostgreSQL: skipped (no server answers)" if not options.no_postgres else "PostgreSQL: skipped (--no-postgres)")
        return
    schema = f"zb_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        with tempfile.TemporaryDirectory() as folder:
            print(f"PostgreSQL (schema {schema}, dropped afterwards):")
            separator = "&" if "?" in base else "?"
            bench(f"{base}{separator}options=-csearch_path%3D{schema}", f"{folder}/artifacts", options.checkpoints, schema)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


if __name__ == "__main__":
    main()
