"""Catalog benchmark: ``zoo query`` (with and without ``--where``) and ``zoo fit`` on a large synthetic catalog.

Bulk-loads a catalog of ``--checkpoints`` (default 100,000) run checkpoints with *distinct* delta tensors of
each architecture's real first-layer shape (resnet18/50 64x3x7x7, mobilenetv3 16x3x3x3, convnext_tiny
96x3x4x4, float32; an epoch-0 checkpoint's delta is zero, shared per shape as content addressing does),
8 paper-v1 metric values each, 60 dataset variants with measured sharpness and noisiness. SQLite gets
``executemany`` on the driver, PostgreSQL binary ``COPY``. Both run in the same invocation: SQLite in a temp
folder, PostgreSQL (``ZOO_TEST_POSTGRES_URL`` or 127.0.0.1:5432) in a fresh schema dropped afterwards.

Printed per database, each as before -> after measured in this run on the same data (before: revision
0003's state, 0001's ``checkpoint_features`` view with one correlated sub-select per property and metric
column and row and no ``metric_values`` (metric, value) index, put back for the measurement; after: revision
0004's view and indexes; all before, then all after):

* ``zoo query --arch resnet18 --limit 20`` (the real CLI in-process, catalog opened each time; best of 5);
* ``zoo query --where 'dist_to_gaussian>Q' --limit 20`` (a metric of the default feature set: the CLI's
  metric-condition path) and the same comparison on the view's column (``Selection(wheres=...)``, as notebooks
  and fit selections do), and ``--where 'sharpness<Q'`` (a property); Q picks about 10% of the checkpoints;
* a fit of sharpness on N/10 train (resnet50, epochs 1-2) and N/10 test (resnet18) checkpoints, default
  settings, stored (100k/100k at a million checkpoints);
* the catalog's size and bytes per checkpoint; and, on a small catalog of ``--bytes-checkpoints`` loaded
  twice, bytes per checkpoint with the learned tensor stored beside the delta (as before 0004) and without.

Goals (issue): --arch --limit 20 <= 0.5 s, --where on a metric <= 0.1 s at 100k and <= 1 s at a million,
fit 100k/100k <= 60 s. Figures only, never pass/fail. Run:
``.venv/bin/python benchmarks/bench_catalog.py [--checkpoints 100000] [--no-sqlite] [--no-postgres]``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from zoo.catalog import Catalog
from zoo.db import models
from zoo.filters import PAPER_V1
from zoo.metamodel import fit_meta_model
from zoo.query import query_checkpoints
from zoo.selection import Selection

ARCHS = ("resnet18", "resnet50", "mobilenetv3_large_100", "convnext_tiny")
SHAPES = {
    "resnet18": (64, 3, 7, 7),
    "resnet50": (64, 3, 7, 7),
    "mobilenetv3_large_100": (16, 3, 3, 3),
    "convnext_tiny": (96, 3, 4, 4),
}
BASES = ("imagenette", "whoi-plankton", "blendershapes")
VARIANTS_PER_BASE = 20
EPOCHS_PER_RUN = 5  # checkpoints at epochs 0..4; epoch 0 is the reference (delta = 0)
CHUNK = 5_000  # checkpoints generated and written at a time (about 120 MB of tensors)
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
WHERE_METRIC = "dist_to_gaussian"
VERSIONS = Path(__file__).resolve().parents[1] / "migrations" / "versions"


def _revision(prefix: str) -> Any:
    path = next(VERSIONS.glob(f"{prefix}_*.py"))
    spec = importlib.util.spec_from_file_location(f"bench_revision_{prefix}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- bulk loading -----------------------------------------------------------------------------------------


def _sha(array: np.ndarray) -> str:
    """zoo.checkpoints.tensor_sha256 for a C-contiguous little-endian float32 array."""
    return hashlib.sha256(f"<f4|{'x'.join(map(str, array.shape))}|".encode() + array.tobytes()).hexdigest()


class Writer:
    """Bulk rows into one table: driver executemany on SQLite, binary COPY on PostgreSQL."""

    PG_TYPES = {
        int: "int4",
        float: "float8",
        str: "text",
        bytes: "bytea",
        bool: "bool",
        "json": "json",
        "time": "timestamptz",
    }

    def __init__(self, conn: sa.Connection, now: Any) -> None:
        self.conn, self.now = conn, now
        self.sqlite = conn.dialect.name == "sqlite"
        self.sqlite_now = now.strftime("%Y-%m-%d %H:%M:%S.%f")

    def rows(self, table: str, columns: Sequence[tuple[str, Any]], rows: Iterable[Sequence[Any]]) -> None:
        """``columns``: (name, python type or "json"/"time"); rows hold plain values (json: a list/dict)."""
        kinds = [kind for _, kind in columns]
        names = ", ".join(name for name, _ in columns)
        if self.sqlite:

            def convert(row: Sequence[Any]) -> tuple[Any, ...]:
                return tuple(
                    json.dumps(v) if k == "json" and v is not None else self.sqlite_now if k == "time" else v
                    for v, k in zip(row, kinds)
                )

            cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", map(convert, rows)
            )
            return
        from psycopg.types.json import Json

        raw = self.conn.connection.dbapi_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:  # type: ignore[union-attr]
            copy.set_types([self.PG_TYPES[k] for k in kinds])
            for row in rows:
                copy.write_row(
                    [
                        Json(v) if k == "json" and v is not None else self.now if k == "time" else v
                        for v, k in zip(row, kinds)
                    ]
                )


TENSOR_COLUMNS = (("id", int), ("sha256", str), ("dtype", str), ("shape", "json"), ("nbytes", int), ("data", bytes))


def bulk_load(engine: sa.Engine, n_checkpoints: int, seed: int = 0, *, store_learned: bool = False) -> dict[str, float]:
    """Fill an empty, migrated catalog with ``n_checkpoints`` run checkpoints (explicit ids).

    Each checkpoint after epoch 0 has its own random delta tensor; ``store_learned`` also stores
    reference + delta as a learned tensor per checkpoint, as zoo did before revision 0004.
    Returns the thresholds that select about 10% of the checkpoints (``dist_to_gaussian>``, ``sharpness<``).
    """
    rng = np.random.default_rng(seed)
    n_variants = len(BASES) * VARIANTS_PER_BASE
    sharpness = 10 ** rng.uniform(-3, -1, n_variants)
    noisiness = rng.uniform(0.005, 0.2, n_variants)
    now = models.utcnow()
    n_runs = -(-n_checkpoints // EPOCHS_PER_RUN)
    references = {arch: (0.1 * rng.standard_normal(SHAPES[arch], dtype=np.float32)) for arch in ARCHS}
    zeros = {shape: np.zeros(shape, np.float32) for shape in set(SHAPES.values())}
    tensor_ids: dict[str, int] = {}
    tensor_rows: list[tuple[Any, ...]] = []

    def tensor(array: np.ndarray) -> int:  # content addressing, as put_tensor does
        sha = _sha(array)
        if sha not in tensor_ids:
            tensor_ids[sha] = len(tensor_ids) + 1
            tensor_rows.append((tensor_ids[sha], sha, "float32", list(array.shape), array.nbytes, array.tobytes()))
        return tensor_ids[sha]

    with engine.begin() as conn:
        write = Writer(conn, now)
        reference_tensor = {arch: tensor(references[arch]) for arch in ARCHS}
        for array in zeros.values():  # epoch-0 deltas, one per shape
            tensor(array)
        write.rows("tensors", TENSOR_COLUMNS, tensor_rows)
        tensor_rows.clear()
        conn.execute(
            sa.insert(models.Grid.__table__),
            [{"id": 1, "name": "bench", "spec": {}, "spec_sha256": "0" * 64, "created_at": now, "updated_at": now}],
        )
        conn.execute(
            sa.insert(models.BaseDataset.__table__),
            [
                {
                    "id": b + 1,
                    "name": name,
                    "source_kind": "folder",
                    "source_params": {},
                    "image_size": 224,
                    "n_images": 10_000,
                    "n_classes": 10,
                    "class_names": [],
                    "grayscale": False,
                    "object_scale": None,
                    "seed": 0,
                    "images_sha256": "0" * 64,
                    "skipped": [],
                    "created_at": now,
                }
                for b, name in enumerate(BASES)
            ],
        )
        conn.execute(
            sa.insert(models.DatasetVariant.__table__),
            [
                {
                    "id": v + 1,
                    "base_dataset_id": v // VARIANTS_PER_BASE + 1,
                    "name": f"v{v % VARIANTS_PER_BASE:02d}",
                    "kind": ("identity", "blur", "noise", "resize")[v % 4],
                    "params": {},
                    "seed": 0,
                    "created_at": now,
                }
                for v in range(n_variants)
            ],
        )
        conn.execute(
            sa.insert(models.PropertyMeasurement.__table__),
            [
                {
                    "variant_id": v + 1,
                    "property": name,
                    "value": float(values[v]),
                    "spread": 0.0,
                    "n_samples": 2000,
                    "method": "bench",
                    "method_version": 1,
                    "measured_at": now,
                }
                for v in range(n_variants)
                for name, values in (("sharpness", sharpness), ("noisiness", noisiness))
            ],
        )
        conn.execute(
            sa.insert(models.ReferenceWeights.__table__),
            [
                {
                    "id": a + 1,
                    "key": f"timm:{arch}",
                    "kind": "timm",
                    "arch": arch,
                    "source": arch,
                    "layer_name": "conv1.weight",
                    "tensor_id": reference_tensor[arch],
                    "created_at": now,
                }
                for a, arch in enumerate(ARCHS)
            ],
        )
        write.rows(
            "runs",
            (
                ("id", int),
                ("run_key", str),
                ("grid_id", int),
                ("variant_id", int),
                ("arch", str),
                ("reference_spec", str),
                ("reference_id", int),
                ("optimizer", str),
                ("lr", float),
                ("epochs", int),
                ("checkpoint_every", int),
                ("batch_size", int),
                ("image_size", int),
                ("trial", int),
                ("seed", int),
                ("keep_weights", bool),
                ("status", str),
                ("attempts", int),
                ("max_attempts", int),
                ("created_at", "time"),
            ),
            (
                (
                    r + 1,
                    f"run-{r}",
                    1,
                    r % n_variants + 1,
                    ARCHS[r % len(ARCHS)],
                    "timm",
                    r % len(ARCHS) + 1,
                    ("adam", "sgd-cosine")[r // n_variants % 2],
                    1e-4,
                    EPOCHS_PER_RUN - 1,
                    1,
                    64,
                    224,
                    r // (2 * n_variants * len(ARCHS)),
                    r,
                    False,
                    "done",
                    1,
                    3,
                    now,
                )
                for r in range(n_runs)
            ),
        )
        q_metric: list[float] = []
        for start in range(0, n_checkpoints, CHUNK):
            ids = np.arange(start, min(start + CHUNK, n_checkpoints))
            checkpoints = []
            for c in ids:
                run = c // EPOCHS_PER_RUN
                arch, epoch = ARCHS[run % len(ARCHS)], int(c % EPOCHS_PER_RUN)
                shape = SHAPES[arch]
                delta = zeros[shape] if epoch == 0 else 0.01 * epoch * rng.standard_normal(shape, dtype=np.float32)
                delta_id = tensor(delta)
                learned_id = tensor(references[arch] + delta) if store_learned else None
                checkpoints.append(
                    (
                        int(c) + 1,
                        "run",
                        int(run) + 1,
                        arch,
                        int(run % len(ARCHS)) + 1,
                        epoch,
                        epoch * 100,
                        "conv1.weight",
                        learned_id,
                        delta_id,
                        0.5,
                        1.0,
                        now,
                    )
                )
            write.rows("tensors", TENSOR_COLUMNS, tensor_rows)
            tensor_rows.clear()
            write.rows(
                "checkpoints",
                (
                    ("id", int),
                    ("source", str),
                    ("run_id", int),
                    ("arch", str),
                    ("reference_id", int),
                    ("epoch", int),
                    ("step", int),
                    ("layer_name", str),
                    ("learned_tensor_id", int),
                    ("delta_tensor_id", int),
                    ("val_accuracy", float),
                    ("train_loss", float),
                    ("created_at", "time"),
                ),
                checkpoints,
            )
            write.rows(
                "metric_vectors",
                (
                    ("id", int),
                    ("checkpoint_id", int),
                    ("feature_set", str),
                    ("feature_set_version", int),
                    ("computed_at", "time"),
                ),
                ((int(c) + 1, int(c) + 1, PAPER_V1.name, PAPER_V1.version, now) for c in ids),
            )
            values = _metric_values(ids, n_variants, sharpness, noisiness, rng)
            if start == 0:
                q_metric = [float(np.quantile(values[:, PAPER_V1.metrics.index(WHERE_METRIC)], 0.9))]
            write.rows(
                "metric_values",
                (("vector_id", int), ("metric", str), ("value", float)),
                (
                    (int(c) + 1, name, float(values[i, m]))
                    for i, c in enumerate(ids)
                    for m, name in enumerate(PAPER_V1.metrics)
                ),
            )
        if not write.sqlite:  # explicit ids leave the serial sequences behind
            for table in (
                "tensors",
                "grids",
                "base_datasets",
                "dataset_variants",
                "reference_weights",
                "runs",
                "checkpoints",
                "metric_vectors",
            ):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":  # what autovacuum does to insert-only tables: index-only scans work
            conn.exec_driver_sql("VACUUM (ANALYZE) runs, checkpoints, metric_vectors, metric_values")
        conn.exec_driver_sql("ANALYZE")
    # ~10% of the variants (and so of the checkpoints) have a sharpness below this.
    return {WHERE_METRIC: q_metric[0], "sharpness": float(np.quantile(sharpness, 0.1)) * 1.0001}


def _metric_values(
    ids: np.ndarray, n_variants: int, sharpness: np.ndarray, noisiness: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    variant = (ids // EPOCHS_PER_RUN) % n_variants
    ls, nz = np.log10(sharpness[variant]), noisiness[variant]
    columns = [
        np.exp(rng.normal(size=len(ids))),
        0.5 + 0.1 * ls,
        0.2 - 0.05 * ls + 0.5 * nz,
        1e-6 * 10 ** (0.5 * ls),
        2.0 - 0.3 * ls + 2.0 * nz,
        0.8 + 0.1 * ls,
        sharpness[variant],
        nz,
    ]
    return np.stack(columns, axis=1) * (1 + 0.05 * rng.normal(size=(len(ids), len(columns))))


# --- measuring --------------------------------------------------------------------------------------------


def _timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def _database_size(engine: sa.Engine, schema: str | None) -> int:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            return Path(str(engine.url.database)).stat().st_size
        return int(
            conn.execute(
                sa.text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = :schema AND c.relkind IN ('r', 'm')"
                ),
                {"schema": schema},
            ).scalar_one()
        )


def _use_schema(engine: sa.Engine, revision: Any, before: bool) -> None:
    """Put the catalog in its 0003 state (0001's view, no metric_values index) or its 0004 state, for a
    before/after measurement on the same rows (paper_v1_metrics stays: 0003's view does not read it)."""
    with engine.connect().execution_options(zoo_write=True) as conn, conn.begin():
        conn.exec_driver_sql("DROP VIEW checkpoint_features")
        if before:
            conn.exec_driver_sql("DROP INDEX ix_metric_values_metric_value")
            conn.exec_driver_sql(revision.OLD_VIEW)
        else:
            conn.exec_driver_sql(
                "CREATE INDEX ix_metric_values_metric_value ON metric_values (metric, value, vector_id)"
            )
            conn.exec_driver_sql(revision.NEW_VIEWS[engine.dialect.name])
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE metric_values")


def _best(function: Callable[[], Any], repeats: int) -> float:
    return min(_timed(function)[0] for _ in range(repeats))


def bench(url: str, artifacts: str, n_checkpoints: int, schema: str | None, repeats: int) -> None:
    from typer.testing import CliRunner

    from zoo.cli.main import app

    catalog = Catalog.open(url, artifacts=artifacts)
    load_s, q = _timed(lambda: bulk_load(catalog.engine, n_checkpoints))
    n_values = 8 * n_checkpoints
    print(
        f"  bulk load of {n_checkpoints:,} checkpoints (distinct deltas, {n_values:,} metric values): {load_s:.1f} s "
        f"({n_checkpoints / load_s:,.0f} checkpoints/s)"
    )
    runner = CliRunner()

    def cli(*args: str) -> Callable[[], Any]:
        def run() -> Any:
            result = runner.invoke(
                app,
                ["--db", url, "--artifacts", artifacts, "query", *args],
                catch_exceptions=False,
                env={"COLUMNS": "200"},
            )
            assert result.exit_code == 0, result.output
            return result

        return run

    metric_where = f"{WHERE_METRIC}>{q[WHERE_METRIC]:.6g}"
    property_where = f"sharpness<{q['sharpness']:.6g}"
    metric_condition = ((WHERE_METRIC, ">", float(f"{q[WHERE_METRIC]:.6g}")),)
    # (what, CLI arguments or None, the query function call the CLI makes)
    cases: list[tuple[str, tuple[str, ...] | None, Callable[[], Any]]] = [
        (
            "--arch resnet18 --limit 20",
            ("--arch", "resnet18", "--limit", "20"),
            lambda: query_checkpoints(catalog, Selection(archs=("resnet18",)), limit=20),
        ),
        (
            f"--where '{metric_where}' --limit 20 (metric_values)",
            ("--where", metric_where, "--limit", "20"),
            lambda: query_checkpoints(catalog, Selection(), limit=20, metric_wheres=metric_condition),
        ),
        (
            f"Selection(wheres=['{metric_where}']), limit 20 (the view's column)",
            None,
            lambda: query_checkpoints(catalog, Selection(wheres=(metric_where,)), limit=20),
        ),
        (
            f"--where '{property_where}' --limit 20",
            ("--where", property_where, "--limit", "20"),
            lambda: query_checkpoints(catalog, Selection(wheres=(property_where,)), limit=20),
        ),
    ]
    revision = _revision("0004")
    totals = (
        query_checkpoints(catalog, Selection(wheres=(metric_where,)), limit=1).total,
        query_checkpoints(catalog, Selection(wheres=(property_where,)), limit=1).total,
    )
    print(f"  selected by the where: {totals[0]:,} ({metric_where}), {totals[1]:,} ({property_where})")
    figures: dict[str, list[float]] = {label: [] for label, _, _ in cases}
    for before in (True, False):
        _use_schema(catalog.engine, revision, before)
        for label, args, function in cases:
            function()  # warm
            figures[label].append(_best(function, repeats))
            if args is not None:
                figures[label].append(_best(cli(*args), repeats))
    print(
        f"  query (page of 20 + counts per arch), best of {repeats}, before (0003: 0001's view, no metric_values index) -> after (0004):"
    )
    for label, args, _ in cases:
        f = figures[label]
        line = f"    {label}: query_checkpoints {f[0]:.3f} s -> {f[-2 if args else -1]:.3f} s ({f[0] / f[-2 if args else -1]:.1f}x)"
        if args is not None:
            line += f"; zoo query (CLI in-process, catalog opened each time) {f[1]:.3f} s -> {f[3]:.3f} s"
        print(line)
    fit_sides = (
        Selection(archs=("resnet50",), min_epoch=1, max_epoch=2),
        Selection(archs=("resnet18",), min_epoch=1, max_epoch=2),
    )
    fit_s, fit = _timed(lambda: fit_meta_model(catalog, "sharpness", *fit_sides))
    model_bytes = len(catalog.store.get_bytes(fit.model_sha256))
    print(
        f"  fit sharpness, {fit.n_train:,} train / {fit.n_test:,} test, {len(fit.seeds)} seeds x {fit.n_estimators} trees, stored: "
        f"{fit_s:.1f} s (R² {fit.r2_mean:.3f} ± {fit.r2_std:.3f}; forest artifact {model_bytes / 1e3:.0f} KB)"
    )
    size = _database_size(catalog.engine, schema)
    print(f"  catalog size: {size / 1e6:,.1f} MB, {size / n_checkpoints:,.0f} bytes per checkpoint")
    catalog.close()


def bytes_per_checkpoint(make_url: Callable[[str], tuple[str, str | None, Callable[[], None]]], n: int) -> None:
    """Catalog bytes per checkpoint at schema 0003 with the learned tensor stored beside the delta, as zoo
    wrote it before 0004, and at 0004 (delta only; paper_v1_metrics and the metric_values index added)."""
    from zoo.db.engine import make_engine
    from zoo.db.migrate import upgrade

    figures = []
    for before in (True, False):
        url, schema, cleanup = make_url("before" if before else "after")
        try:
            engine = make_engine(url)
            upgrade(engine, "0003" if before else "head")
            bulk_load(engine, n, store_learned=before)
            figures.append(_database_size(engine, schema) / n)
            engine.dispose()
        finally:
            cleanup()
    print(
        f"  catalog bytes per checkpoint ({n:,} checkpoints): 0003, learned + delta stored {figures[0]:,.0f} -> 0004, delta only "
        f"{figures[1]:,.0f} ({figures[1] / figures[0]:.2f}x)"
    )


def _postgres_base() -> str | None:
    import psycopg

    url = os.environ.get("ZOO_TEST_POSTGRES_URL") or LOCAL_POSTGRES
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error:
        return None
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


class PostgresSchemas:
    """Fresh schemas on the server, each dropped when done."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")

    def make(self) -> tuple[str, str, Callable[[], None]]:
        schema = f"zb_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')

        def drop() -> None:
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')

        separator = "&" if "?" in self.base else "?"
        return f"{self.base}{separator}options=-csearch_path%3D{schema}", schema, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=int, default=100_000, help="catalog size, e.g. --checkpoints 1000000")
    parser.add_argument(
        "--bytes-checkpoints", type=int, default=5_000, help="size of the before/after bytes catalogs (0: skip)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timings are the best of this many")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {options.checkpoints:,} checkpoints")
    if not options.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            print("SQLite:")
            bench(f"sqlite:///{folder}/catalog.db", f"{folder}/artifacts", options.checkpoints, None, options.repeats)
            if options.bytes_checkpoints:
                bytes_per_checkpoint(
                    lambda name: (f"sqlite:///{folder}/{name}.db", None, lambda: None), options.bytes_checkpoints
                )
    base = None if options.no_postgres else _postgres_base()
    if base is None:
        print(
            "PostgreSQL: skipped (no server answers)"
            if not options.no_postgres
            else "PostgreSQL: skipped (--no-postgres)"
        )
        return
    schemas = PostgresSchemas(base)
    url, schema, drop = schemas.make()
    try:
        with tempfile.TemporaryDirectory() as folder:
            print(f"PostgreSQL (schema {schema}, dropped afterwards):")
            bench(url, f"{folder}/artifacts", options.checkpoints, schema, options.repeats)
    finally:
        drop()
    if options.bytes_checkpoints:
        bytes_per_checkpoint(lambda name: schemas.make(), options.bytes_checkpoints)
    schemas.admin.dispose()


if __name__ == "__main__":
    main()
