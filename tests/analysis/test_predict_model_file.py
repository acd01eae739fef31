"""`zoo predict` on a model file: the same features as ingesting that file, and a fit chosen or made."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clirunner import run_zoo
from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.metamodel import fit_meta_model, list_fits, predict_with_fit
from zoo.query import query_checkpoints
from zoo.selection import PAPER_METRIC_COLUMNS, Selection


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    """A resnet18 with a 10-class head, initialised with another seed than the random:0 reference."""
    import safetensors.torch
    import timm
    import torch

    torch.manual_seed(123)
    model = timm.create_model("resnet18", num_classes=10)
    path = tmp_path / "resnet18-10.safetensors"
    safetensors.torch.save_file(model.state_dict(), str(path))
    return path


def _open(env: dict[str, str]) -> Catalog:
    return Catalog.open(env["ZOO_DATABASE_URL"], artifacts=env["ZOO_ARTIFACTS"])


def test_predict_gives_the_features_the_ingested_file_gets(zoo_env: dict[str, str], model_file: Path) -> None:
    with _open(zoo_env) as catalog:
        build_catalog(catalog, n_variants=6, trials=1, epochs=2, n_external=0)
        fit = fit_meta_model(catalog, "sharpness", Selection(archs=("resnet50",)), Selection(archs=("resnet18",)), n_estimators=5, repeats=1)
    run_zoo("ingest", "--checkpoint", str(model_file), "--arch", "resnet18", "--reference", "random:0")
    predicted = json.loads(run_zoo("predict", str(model_file), "--arch", "resnet18", "--reference", "random:0", "--fit", str(fit.id), "--json").stdout)
    with _open(zoo_env) as catalog:
        stored = query_checkpoints(catalog, Selection(sources=("file",)), columns=PAPER_METRIC_COLUMNS).records()
        assert len(stored) == 1  # predict stored nothing of its own
        assert predicted["features"]["paper-v1"] == stored[0]
        vector = np.array([[stored[0][m] for m in PAPER_METRIC_COLUMNS]])
        [prediction] = predicted["predictions"]
        assert prediction["value"] == pytest.approx(predict_with_fit(catalog, fit.id, vector)[0], abs=1e-12)  # type: ignore[arg-type]
    assert prediction["fit_id"] == fit.id and prediction["chosen"] == "given" and prediction["fit_r2_mean"] == pytest.approx(fit.r2_mean)
    assert predicted["reference"] == "random:resnet18:seed=0" and predicted["origin"] == str(model_file.resolve())


def test_a_target_without_a_fit_gets_one_made_on_the_whole_catalog(zoo_env: dict[str, str], model_file: Path) -> None:
    with _open(zoo_env) as catalog:
        build_catalog(catalog, n_variants=4, trials=2, epochs=2, n_external=0)
    first = run_zoo("predict", str(model_file), "--arch", "resnet18", "--reference", "random:0", "--target", "noisiness")
    assert "fitted fit 1 on the whole catalog" in first.output and "noisiness" in first.output
    again = json.loads(run_zoo("predict", str(model_file), "--arch", "resnet18", "--reference", "random:0", "--json").stdout)
    assert [(p["target"], p["fit_id"], p["chosen"]) for p in again["predictions"]] == [("noisiness", 1, "latest")]
    with _open(zoo_env) as catalog:
        [made] = list_fits(catalog)
        assert made.train_selection == "all" and made.test_fraction == 0.25 and made.n_estimators == 30


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--arch", "resnet18"), "give a model file or --hf"),
        (("model.safetensors", "--hf", "timm/resnet18.a1_in1k", "--arch", "resnet18"), "not both"),
        (("model.safetensors", "--arch", "resnet18"), "no fits are stored yet"),
        (("model.safetensors", "--arch", "resnet18", "--fit", "9"), "there is no fit 9"),
        (("model.safetensors", "--arch", "resnet18", "--target", "colour"), "unknown target"),
    ],
)
def test_predict_refuses_bad_requests_before_reading_any_model(zoo_env: dict[str, str], args: tuple[str, ...], message: str) -> None:
    result = run_zoo("predict", *args, expect=1)
    assert message in result.output and "Traceback" not in result.output
