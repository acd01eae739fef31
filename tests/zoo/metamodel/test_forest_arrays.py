"""Stored forests are plain arrays (no pickle) and predict exactly what sklearn predicts."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor

from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.errors import IntegrityError, InvalidInput
from zoo.metamodel import (
    apply_scaler,
    fit_meta_model,
    fit_scaler,
    forest_arrays,
    load_feature_matrix,
    load_forest,
    predict_forest,
    predict_with_fit,
    save_forest,
)
from zoo.selection import Selection
from zoo.store import ArtifactStore

NAMES = tuple(f"m{i}" for i in range(5))


def _forest(seed: int = 0, n: int = 300) -> tuple[RandomForestRegressor, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.lognormal(size=(n, len(NAMES))) * np.array([1e-7, 1.0, 1e3, 0.5, 10.0])
    y = np.log(X[:, 0]) + X[:, 1] ** 2 + 0.1 * rng.normal(size=n)
    return RandomForestRegressor(n_estimators=12, random_state=seed, n_jobs=1).fit(X, y), X


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_array_traversal_equals_sklearn_predict(seed: int) -> None:
    forest, X = _forest(seed)
    arrays = forest_arrays(forest, NAMES)
    fresh = np.random.default_rng(seed + 10).lognormal(size=(200, len(NAMES))) * np.array([1e-7, 1.0, 1e3, 0.5, 10.0])
    for features in (X, fresh, X[:1]):  # training rows sit exactly on thresholds' neighbours
        np.testing.assert_allclose(predict_forest(arrays, features), forest.predict(features), rtol=0, atol=1e-12)


def test_round_trip_through_the_artifact_store_needs_no_pickle(tmp_path) -> None:  # type: ignore[no-untyped-def]
    forest, X = _forest()
    store = ArtifactStore(tmp_path)
    sha = save_forest(store, forest_arrays(forest, NAMES))
    with zipfile.ZipFile(io.BytesIO(store.get_bytes(sha))) as archive:
        for name in archive.namelist():
            header = archive.read(name)[:128]
            assert b"'descr': '|O'" not in header  # no object arrays, so nothing to unpickle
    arrays = load_forest(store, sha)
    assert tuple(arrays["feature_names"]) == NAMES
    np.testing.assert_allclose(predict_forest(arrays, X), forest.predict(X), rtol=0, atol=1e-12)
    store.path(sha).write_bytes(b"tampered")
    with pytest.raises(IntegrityError):
        load_forest(store, sha)


def test_traversal_refuses_features_of_the_wrong_shape_or_nan() -> None:
    forest, X = _forest()
    arrays = forest_arrays(forest, NAMES)
    with pytest.raises(InvalidInput, match="finite"):
        predict_forest(arrays, X[:, :3])
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InvalidInput, match="finite"):
        predict_forest(arrays, bad)


def test_a_stored_fit_predicts_with_the_trees_of_every_seed_on_scaled_features(catalog: Catalog) -> None:
    build_catalog(catalog, n_variants=6, trials=2, epochs=2)
    train, test = Selection(archs=("resnet50",)), Selection(archs=("resnet18",))
    result = fit_meta_model(catalog, "sharpness", train, test, n_estimators=8, repeats=2, seed=7)
    _, _, X_train, y_train, _ = load_feature_matrix(catalog, train, "sharpness")
    _, _, X_test, _, _ = load_feature_matrix(catalog, test, "sharpness")
    scaler = fit_scaler(X_train)  # the fit scales features inside; predict_with_fit averages the trees of every seed
    again = [
        RandomForestRegressor(n_estimators=8, random_state=s, n_jobs=-1).fit(apply_scaler(scaler, X_train), y_train)
        for s in (7, 8)
    ]
    expected = np.mean([f.predict(apply_scaler(scaler, X_test)) for f in again], axis=0)
    np.testing.assert_allclose(predict_with_fit(catalog, result.id, X_test), expected, rtol=0, atol=1e-12)  # type: ignore[arg-type]
