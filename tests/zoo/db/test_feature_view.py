"""Revision 0004: checkpoint_features by joins (same columns and values as 0001's sub-selects), and the
learned tensor derived from reference + delta instead of stored; its downgrade restores both."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import select

from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.checkpoints import get_tensor, learned_weights, reference_weight
from zoo.db.migrate import current_revision, downgrade, head_revision, upgrade
from zoo.db.models import Checkpoint, ReferenceWeights, Tensor
from zoo.query import query_checkpoints
from zoo.selection import VIEW_COLUMNS, Selection

VERSIONS = Path(__file__).resolve().parents[3] / "migrations" / "versions"
README_COLUMNS = (  # the view's columns as README.md lists them; users' SQL depends on them
    "checkpoint_id",
    "source",
    "arch",
    "epoch",
    "step",
    "val_accuracy",
    "train_loss",
    "run_id",
    "grid",
    "trial",
    "optimizer",
    "lr",
    "image_size",
    "base_dataset",
    "variant",
    "variant_kind",
    "variant_params",
    "grayscale",
    "reference",
    "origin",
    "sharpness",
    "noisiness",
    "object_scale",
    "saturation",
    "channel_saturation",
    "convex_hull_volume",
    "dist_to_gaussian",
    "filter_variance",
    "spatial_roughness",
    "bregman_distance",
    "laplacian_variance",
    "wavelet_noise_sigma",
)


def _revision_0004() -> Any:
    path = next(VERSIONS.glob("0004_*.py"))
    spec = importlib.util.spec_from_file_location("revision_0004", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(engine: sa.Engine, where: str = "") -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.exec_driver_sql(
                f"SELECT {', '.join(README_COLUMNS)} FROM checkpoint_features {where} ORDER BY checkpoint_id"
            )
        ]


def _swap_view(engine: sa.Engine, create_sql: str) -> None:
    with engine.connect().execution_options(zoo_write=True) as conn, conn.begin():
        conn.exec_driver_sql("DROP VIEW checkpoint_features")
        conn.exec_driver_sql(create_sql)


@pytest.fixture
def small(catalog: Catalog) -> Catalog:
    """Runs of two architectures, labelled external checkpoints, and the cases the joins must keep NULL:
    a checkpoint without a paper-v1 vector, one whose vector lacks a metric, a run without a grid."""
    built = build_catalog(catalog, n_variants=4, trials=1, epochs=2, n_external=2)
    ids = built.trained_ids
    with catalog.engine.connect().execution_options(zoo_write=True) as conn, conn.begin():
        conn.execute(
            sa.text("DELETE FROM metric_vectors WHERE checkpoint_id = :c AND feature_set = 'paper'"), {"c": ids[0]}
        )
        conn.execute(
            sa.text(
                "DELETE FROM metric_values WHERE metric = 'dist_to_gaussian' AND vector_id IN "
                "(SELECT id FROM metric_vectors WHERE checkpoint_id = :c AND feature_set = 'paper')"
            ),
            {"c": ids[1]},
        )
        conn.execute(
            sa.text("UPDATE runs SET grid_id = NULL WHERE id = (SELECT run_id FROM checkpoints WHERE id = :c)"),
            {"c": ids[2]},
        )
        conn.execute(
            sa.text(
                "UPDATE metric_values SET value = 123.5 WHERE metric = 'filter_variance' AND vector_id IN "
                "(SELECT id FROM metric_vectors WHERE checkpoint_id = :c AND feature_set = 'paper')"
            ),
            {"c": ids[3]},
        )
        conn.execute(sa.text("DELETE FROM checkpoints WHERE id = :c"), {"c": ids[4]})
    return catalog


def test_view_keeps_the_readme_columns(small: Catalog) -> None:
    assert VIEW_COLUMNS == README_COLUMNS
    names = [c["name"] for c in sa.inspect(small.engine).get_columns("checkpoint_features")]
    assert names == list(README_COLUMNS)


def test_joined_view_returns_what_the_sub_select_view_returned(small: Catalog) -> None:
    revision = _revision_0004()
    wheres = (
        "",
        "WHERE sharpness < 0.01",
        "WHERE dist_to_gaussian > 0",
        "WHERE noisiness >= 0.1 AND epoch >= 1",
        "WHERE channel_saturation IS NULL",
        "WHERE arch = 'convnext_tiny'",
    )
    after = {w: _rows(small.engine, w) for w in wheres}
    _swap_view(small.engine, revision.OLD_VIEW)
    before = {w: _rows(small.engine, w) for w in wheres}
    _swap_view(small.engine, revision.NEW_VIEWS[small.dialect])
    assert len(after[""]) == 4 * 2 * 2 + 2 - 1
    assert sum(row[README_COLUMNS.index("filter_variance")] == 123.5 for row in after[""]) == 1  # an updated value
    for where in wheres:
        assert after[where] == before[where], where
    by_id = {row[0]: dict(zip(README_COLUMNS, row)) for row in after[""]}
    nulls = [r for r in by_id.values() if r["channel_saturation"] is None]
    assert len(nulls) == 1 and nulls[0]["dist_to_gaussian"] is None  # the checkpoint without a paper-v1 vector
    partial = [r for r in by_id.values() if r["dist_to_gaussian"] is None and r["channel_saturation"] is not None]
    assert len(partial) == 1  # the vector that lacks one metric keeps its others
    external = [r for r in by_id.values() if r["source"] == "file"]
    assert len(external) == 2 and all(
        r["sharpness"] is not None and r["object_scale"] is None and r["variant"] is None for r in external
    )
    assert (
        sum(r["grid"] is None for r in by_id.values()) == 2 + 2
    )  # external checkpoints and both of the run without a grid


def test_paper_v1_metrics_follows_metric_values_through_triggers(small: Catalog) -> None:
    """One row per checkpoint with a paper-v1 vector, equal to the pivot of metric_values, after inserts
    (building), an update, a deleted value, a deleted vector and a deleted checkpoint."""
    pivot = ", ".join(f"MAX(CASE WHEN mval.metric = '{m}' THEN mval.value END)" for m in README_COLUMNS[-8:])
    with small.engine.connect() as conn:
        stored = conn.exec_driver_sql(
            f"SELECT checkpoint_id, {', '.join(README_COLUMNS[-8:])} FROM paper_v1_metrics ORDER BY checkpoint_id"
        ).all()
        expected = conn.exec_driver_sql(
            f"SELECT mvec.checkpoint_id, {pivot} FROM metric_vectors mvec JOIN metric_values mval ON mval.vector_id = mvec.id "
            "WHERE mvec.feature_set = 'paper' AND mvec.feature_set_version = 1 GROUP BY mvec.checkpoint_id ORDER BY mvec.checkpoint_id"
        ).all()
    assert [tuple(r) for r in stored] == [tuple(r) for r in expected] and len(stored) == 4 * 2 * 2 + 2 - 2


def test_query_filters_through_the_view_match_a_python_filter(small: Catalog) -> None:
    rows = query_checkpoints(small, limit=None, columns=["checkpoint_id", "sharpness", "dist_to_gaussian"]).rows
    threshold = float(np.median([r[2] for r in rows if r[2] is not None]))
    table = query_checkpoints(
        small,
        Selection(wheres=(("dist_to_gaussian", ">", threshold), ("sharpness", "<", 0.05))),
        limit=None,
        columns=["checkpoint_id"],
    )
    expected = [r[0] for r in rows if r[2] is not None and r[2] > threshold and r[1] is not None and r[1] < 0.05]
    assert [r[0] for r in table.rows] == expected and table.total == len(expected) > 0


def test_new_checkpoints_store_the_delta_only_and_learned_is_derived(small: Catalog) -> None:
    with small.session() as session:
        checkpoints = session.scalars(select(Checkpoint)).all()
        assert checkpoints and all(c.learned_tensor_id is None for c in checkpoints)
        n_tensors = session.scalar(select(sa.func.count()).select_from(Tensor))
        for checkpoint in checkpoints:
            expected = reference_weight(session, checkpoint.reference_id) + get_tensor(
                session, checkpoint.delta_tensor_id
            )
            np.testing.assert_array_equal(learned_weights(session, checkpoint), expected.astype(np.float32))
    # 3 references and the distinct deltas (epoch-0 deltas are all zero: one tensor), one of them the
    # deleted checkpoint's (tensors outlive their checkpoints); no learned tensor beside them
    assert n_tensors == 3 + len({c.delta_tensor_id for c in checkpoints}) + 1


def test_downgrade_stores_derived_learned_tensors_and_restores_the_old_view(small: Catalog) -> None:
    engine = small.engine
    rows = _rows(engine)
    with small.session() as session:
        derived = {c.id: learned_weights(session, c) for c in session.scalars(select(Checkpoint))}
    downgrade(engine, "0003")
    assert current_revision(engine) == "0003"
    assert _rows(engine) == rows
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT c.id, t.data, t.shape FROM checkpoints c JOIN tensors t ON t.id = c.learned_tensor_id")
        ).all()
        definition = (
            conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'checkpoint_features'").scalar_one()
            if engine.dialect.name == "sqlite"
            else conn.exec_driver_sql("SELECT pg_get_viewdef('checkpoint_features'::regclass)").scalar_one()
        )
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("metric_values")}
    assert "ix_metric_values_metric_value" not in indexes
    assert "SELECT l.value" in definition.replace("\n", " ").replace("  ", " ")  # 0001's sub-selects are back
    assert len(stored) == len(derived)
    for checkpoint_id, data, shape in stored:
        shape = shape if isinstance(shape, list) else __import__("json").loads(shape)
        np.testing.assert_array_equal(np.frombuffer(data, "<f4").reshape(shape), derived[checkpoint_id])
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert _rows(engine) == rows
    with small.session() as session:  # rows written before 0004 keep and read their stored learned tensor
        checkpoints = session.scalars(select(Checkpoint)).all()
        assert all(c.learned_tensor_id is not None for c in checkpoints)
        for checkpoint in checkpoints:
            np.testing.assert_array_equal(learned_weights(session, checkpoint), derived[checkpoint.id])


def test_a_stored_learned_tensor_is_read_as_stored(small: Catalog) -> None:
    from zoo.checkpoints import put_tensor

    with small.session(write=True) as session:
        checkpoint = session.scalars(select(Checkpoint).where(Checkpoint.epoch == 1)).first()
        assert checkpoint is not None
        marker = np.full(get_tensor(session, checkpoint.delta_tensor_id).shape, 7.0, np.float32)
        checkpoint.learned_tensor_id = put_tensor(session, marker)
    with small.session() as session:
        checkpoint = session.get(Checkpoint, checkpoint.id)
        np.testing.assert_array_equal(learned_weights(session, checkpoint), marker)
        assert session.scalar(select(sa.func.count()).select_from(ReferenceWeights)) == 3
