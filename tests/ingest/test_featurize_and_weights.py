"""Re-featurizing the catalog from stored deltas, and keeping full weights of grid checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import load
from sqlalchemy import select

from clirunner import run_zoo
from gridfiles import write_grid
from ingest.worker import WorkerOptions, work
from zoo.catalog import Catalog
from zoo.checkpoints import get_tensor, learned_weights
from zoo.db.models import Checkpoint
from zoo.enqueue import enqueue_grid
from zoo.filters import FeatureSet, featurize, register_feature_set
from zoo.grids import load_grid

EXTRA = FeatureSet("roughness-only", 1, ("spatial_roughness", "laplacian_variance"))


def _train_tiny(catalog: Catalog, tmp_path: Path, **settings) -> None:  # type: ignore[no-untyped-def]
    enqueue_grid(catalog, load_grid(write_grid(tmp_path, **settings)), n_samples=8)
    assert work(catalog, WorkerOptions(device="cpu")).done == 2


def test_featurize_computes_a_new_feature_set_from_stored_deltas_once(
    zoo_env, catalog: Catalog, tmp_path: Path, scratch_registries
) -> None:  # type: ignore[no-untyped-def]
    _train_tiny(catalog, tmp_path)
    register_feature_set(EXTRA)
    assert "computed 6 metric vectors" in run_zoo("featurize", "--feature-set", EXTRA.key).output
    assert "computed 0 metric vectors" in run_zoo("featurize", "--feature-set", EXTRA.key).output
    with catalog.session() as session:
        checkpoint = session.scalars(select(Checkpoint).order_by(Checkpoint.id.desc())).first()
        delta = get_tensor(session, checkpoint.delta_tensor_id)
    from zoo.sql import run_query

    rows = run_query(
        catalog,
        (
            "SELECT mvec.checkpoint_id, mval.metric, mval.value FROM metric_values mval "
            "JOIN metric_vectors mvec ON mvec.id = mval.vector_id WHERE mvec.feature_set = 'roughness-only'"
        ),
    ).rows
    stored = {metric: value for checkpoint_id, metric, value in rows if checkpoint_id == checkpoint.id}
    expected = featurize(delta, EXTRA)
    assert stored.keys() == expected.keys()
    assert all(np.isclose(stored[k], expected[k], rtol=1e-9) for k in expected)


def test_unknown_feature_set_lists_the_valid_ones(zoo_env) -> None:  # type: ignore[no-untyped-def]
    result = run_zoo("featurize", "--feature-set", "nonesuch", expect=1)
    assert "paper-v1" in result.output and "Traceback" not in result.output


def test_keep_weights_stores_full_safetensors_weights_per_checkpoint(catalog: Catalog, tmp_path: Path) -> None:
    _train_tiny(catalog, tmp_path, keep_weights=True)
    with catalog.session() as session:
        checkpoints = session.scalars(select(Checkpoint)).all()
        learned = {c.id: learned_weights(session, c) for c in checkpoints}
    assert len(checkpoints) == 6 and all(c.weights_sha256 for c in checkpoints)
    for checkpoint in checkpoints:
        weights = load(catalog.store.get_bytes(checkpoint.weights_sha256))
        # learned = reference + delta, derived on read: the trained weights to float32 rounding
        np.testing.assert_allclose(weights[checkpoint.layer_name], learned[checkpoint.id], rtol=1e-6, atol=1e-7)
