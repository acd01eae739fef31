"""`zoo predict` on a model file (ingest.predict_file): the same features as ingesting that file, and a fit
chosen or made; and the torch-free half it calls (zoo.metamodel.predict: prediction from metric vectors)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clirunner import run_zoo
from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.errors import InvalidInput
from zoo.metamodel import (
    fit_meta_model,
    get_fit,
    list_fits,
    load_feature_matrix,
    plan_prediction,
    predict_properties,
    predict_with_fit,
)
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
        fit = fit_meta_model(
            catalog,
            "sharpness",
            Selection(archs=("resnet50",)),
            Selection(archs=("resnet18",)),
            n_estimators=5,
            repeats=1,
        )
    run_zoo("ingest", "--checkpoint", str(model_file), "--arch", "resnet18", "--reference", "random:0")
    predicted = json.loads(
        run_zoo(
            "predict", str(model_file), "--arch", "resnet18", "--reference", "random:0", "--fit", str(fit.id), "--json"
        ).stdout
    )
    with _open(zoo_env) as catalog:
        stored = query_checkpoints(catalog, Selection(sources=("file",)), columns=PAPER_METRIC_COLUMNS).records()
        assert len(stored) == 1  # predict stored nothing of its own
        assert predicted["features"]["paper-v1"] == stored[0]
        vector = np.array([[stored[0][m] for m in PAPER_METRIC_COLUMNS]])
        [prediction] = predicted["predictions"]
        assert prediction["value"] == pytest.approx(predict_with_fit(catalog, fit.id, vector)[0], abs=1e-12)  # type: ignore[arg-type]
    assert (
        prediction["fit_id"] == fit.id
        and prediction["chosen"] == "given"
        and prediction["fit_r2_mean"] == pytest.approx(fit.r2_mean)
    )
    assert predicted["reference"] == "random:resnet18:seed=0" and predicted["origin"] == str(model_file.resolve())


def test_a_target_without_a_fit_gets_one_made_on_the_whole_catalog(zoo_env: dict[str, str], model_file: Path) -> None:
    with _open(zoo_env) as catalog:
        build_catalog(catalog, n_variants=4, trials=2, epochs=2, n_external=0)
    first = run_zoo(
        "predict", str(model_file), "--arch", "resnet18", "--reference", "random:0", "--target", "noisiness"
    )
    assert "made predictor 1 on the whole catalog" in first.output and "noisiness" in first.output
    assert "90%, calibrated on held-out" in first.output
    again = json.loads(
        run_zoo("predict", str(model_file), "--arch", "resnet18", "--reference", "random:0", "--json").stdout
    )
    assert [(p["target"], p["fit_id"], p["chosen"]) for p in again["predictions"]] == [("noisiness", 1, "latest")]
    with _open(zoo_env) as catalog:
        [made] = list_fits(catalog)
        # A predictor: trained on everything, scored on held-out groups, log target (scale-like property).
        assert made.train_selection == "all" and made.test_fraction is None and made.n_estimators == 30
        assert made.split == "out-of-group" and made.log_target and made.details["purpose"] == "predict"
        assert made.feature_set == "paper-v3" and made.details["calibration"]["coverage"] == 0.9


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--arch", "resnet18"), "give a model file or --hf"),
        (("model.safetensors", "--hf", "timm/resnet18.a1_in1k", "--arch", "resnet18"), "not both"),
        (("model.safetensors", "--arch", "resnet18"), "no predictor is stored and the catalog holds no checkpoints"),
        (("model.safetensors", "--arch", "resnet18", "--fit", "9"), "there is no fit 9"),
        (("model.safetensors", "--arch", "resnet18", "--target", "colour"), "unknown target"),
    ],
)
def test_predict_refuses_bad_requests_before_reading_any_model(
    zoo_env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    result = run_zoo("predict", *args, expect=1)
    assert message in result.output and "Traceback" not in result.output


@pytest.fixture
def far_model_file(tmp_path: Path) -> Path:
    """A resnet18 whose first layer moved about 100 times farther from its random:0 start than any catalog delta."""
    import safetensors.torch
    import torch

    from ingest.weights import random_init_model

    model = random_init_model("resnet18", 0, num_classes=10)
    with torch.no_grad():
        model.conv1.weight += 1.0 * torch.randn(model.conv1.weight.shape, generator=torch.Generator().manual_seed(1))
    path = tmp_path / "far.safetensors"
    safetensors.torch.save_file(model.state_dict(), str(path))
    return path


def _stored_fit(env: dict[str, str]) -> int:
    with _open(env) as catalog:
        build_catalog(catalog, n_variants=6, trials=2, epochs=2, n_external=0)
        return fit_meta_model(
            catalog,
            "sharpness",
            Selection(archs=("resnet50",)),
            Selection(archs=("resnet18",)),
            n_estimators=5,
            repeats=2,
            log_target=True,
        ).id  # type: ignore[return-value]


def test_a_model_far_outside_the_catalog_is_flagged_extrapolating(
    zoo_env: dict[str, str], far_model_file: Path
) -> None:
    fit = _stored_fit(zoo_env)
    data = json.loads(run_zoo("predict", str(far_model_file), "--arch", "resnet18", "--fit", str(fit), "--json").stdout)
    [p] = data["predictions"]
    assert (
        data["reference"] == "random:resnet18:seed=0" and data["reference_kind"] == "random"
    )  # the fit's kind, by default
    assert p["in_domain"] is False and p["domain_score"] == 100.0 and p["verdict"] == "extrapolating"
    assert p["low"] <= p["high"]
    table = run_zoo("predict", str(far_model_file), "--arch", "resnet18", "--fit", str(fit))
    assert "extrapolating" in table.output and "initialisation" in table.output


def test_a_model_inside_the_catalog_is_in_domain_and_gets_an_interval(catalog: Catalog) -> None:
    build_catalog(catalog, n_variants=6, trials=2, epochs=3, n_external=0)
    fit = fit_meta_model(
        catalog,
        "sharpness",
        Selection(archs=("resnet50",)),
        Selection(archs=("resnet18",)),
        n_estimators=5,
        repeats=2,
        log_target=True,
    )
    from zoo.metamodel import load_feature_matrix, predict_from_features

    _, _, X, y, _ = load_feature_matrix(catalog, Selection(archs=("resnet18",)), "sharpness")
    inside = predict_from_features(catalog, fit.id, X)  # type: ignore[arg-type]
    assert np.mean([p.in_domain for p in inside]) >= 0.9  # another architecture's checkpoints, same kind of deltas
    assert all(p.low <= p.high and p.domain_score is not None for p in inside)
    assert (
        np.mean([p.low <= p.value <= p.high for p in inside]) >= 0.9
    )  # the trees' mean sits inside their 5-95% spread
    outside = predict_from_features(catalog, fit.id, X[:4] * 1e3)  # type: ignore[arg-type]
    assert not any(p.in_domain for p in outside) and all(p.domain_score == 100.0 for p in outside)


def test_a_file_reference_must_look_like_the_random_starts_the_fits_learned_from(
    zoo_env: dict[str, str], model_file: Path, tmp_path: Path
) -> None:
    """Fits of random references accept a file holding a random init (a model trained elsewhere from its own
    seed); a file with smooth (trained-looking) filters is refused in one line unless --force."""
    import safetensors.torch
    import torch

    from ingest.weights import random_init_model

    fit = _stored_fit(zoo_env)
    start = tmp_path / "start.safetensors"  # model_file's own start: seed 123, 10 classes
    torch.manual_seed(123)
    import timm

    safetensors.torch.save_file(timm.create_model("resnet18", num_classes=10).state_dict(), str(start))
    accepted = json.loads(
        run_zoo(
            "predict",
            str(model_file),
            "--arch",
            "resnet18",
            "--fit",
            str(fit),
            "--reference",
            f"file:{start}",
            "--json",
        ).stdout
    )
    assert accepted["forced"] is False and accepted["reference_kind"] == "file" and accepted["reference_matches"]
    assert any("looks like a random initialisation" in n for n in accepted["notes"])
    smooth = random_init_model("resnet18", 5, num_classes=10)
    with torch.no_grad():  # a 3x3 box blur of every filter: trained-looking, spatially smooth weights
        w = smooth.conv1.weight
        w.copy_(torch.nn.functional.avg_pool2d(w, 3, stride=1, padding=1, count_include_pad=False) * 3)
    pretrained_like = tmp_path / "smooth.safetensors"
    safetensors.torch.save_file(smooth.state_dict(), str(pretrained_like))
    args = (
        "predict",
        str(model_file),
        "--arch",
        "resnet18",
        "--fit",
        str(fit),
        "--reference",
        f"file:{pretrained_like}",
    )
    refused = run_zoo(*args, expect=1)
    assert "does not look like a random initialisation" in refused.output and "--force" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    forced = json.loads(run_zoo(*args, "--force", "--json").stdout)
    assert (
        forced["forced"] is True and forced["reference_kind"] == "file" and any("--force" in n for n in forced["notes"])
    )


def test_prediction_from_metric_vectors_needs_no_model_file(catalog: Catalog) -> None:
    """zoo's half of zoo predict: a plan (fit, reference) and a prediction from a feature dict, no torch involved."""
    build_catalog(catalog, n_variants=6, trials=2, epochs=2, n_external=0)
    made = fit_meta_model(
        catalog,
        "sharpness",
        Selection(archs=("resnet50",)),
        Selection(archs=("resnet18",)),
        n_estimators=5,
        repeats=1,
        log_target=True,
    )
    plan = plan_prediction(catalog, fit_ids=[made.id])  # type: ignore[list-item]
    assert (
        plan.reference == "random"
        and not plan.forced
        and [(t, how) for t, _, how in plan.fits] == [("sharpness", "given")]
    )
    _, _, X, _, names = load_feature_matrix(catalog, Selection(archs=("resnet18",)), "sharpness")
    fit = get_fit(catalog, made.id)  # type: ignore[arg-type]
    features = {fit.feature_set: dict(zip(names, X[3]))}
    [p] = predict_properties(catalog, [("sharpness", fit, "given")], features)
    assert p.value == pytest.approx(predict_with_fit(catalog, fit, X[3:4])[0], rel=1e-12)
    assert (p.target, p.fit_id, p.chosen, p.feature_set) == ("sharpness", fit.id, "given", fit.feature_set)
    del features[fit.feature_set][names[-1]]
    with pytest.raises(InvalidInput, match=names[-1]):
        predict_properties(catalog, [("sharpness", fit, "given")], features)
    with pytest.raises(
        InvalidInput, match="random references, not timm.*use reference=random, or force=True"
    ) as refused:
        plan_prediction(catalog, "timm", fit_ids=[fit.id])
    assert (refused.value.param, refused.value.params) == ("reference", ("reference", "force"))
    assert plan_prediction(catalog, "timm", fit_ids=[fit.id], force=True).forced


def test_a_model_that_never_started_from_the_reference_gets_no_verdict_but_that(
    zoo_env: dict[str, str], model_file: Path, tmp_path: Path
) -> None:
    """model_file starts from seed 123, the reference is random:0: its delta is two unrelated inits."""
    import safetensors.torch
    import torch

    from ingest.weights import random_init_model

    fit = _stored_fit(zoo_env)
    args = ("--arch", "resnet18", "--reference", "random:0", "--fit", str(fit), "--json")
    wrong = json.loads(run_zoo("predict", str(model_file), *args).stdout)
    assert wrong["reference_matches"] is False and abs(wrong["reference_correlation"]) < 0.05
    assert [p["verdict"] for p in wrong["predictions"]] == ["wrong reference"]
    assert any("no trace of the reference random:resnet18:seed=0" in n for n in wrong["notes"])
    trained = random_init_model("resnet18", 0)  # started from random:0 (timm's default head), then moved a little
    with torch.no_grad():
        trained.conv1.weight += 0.01 * torch.randn(
            trained.conv1.weight.shape, generator=torch.Generator().manual_seed(2)
        )
    path = tmp_path / "from-seed-0.safetensors"
    safetensors.torch.save_file(trained.state_dict(), str(path))
    right = json.loads(run_zoo("predict", str(path), *args).stdout)
    assert right["reference_matches"] is True and right["reference_correlation"] > 0.9
    assert right["predictions"][0]["verdict"] != "wrong reference"


@pytest.fixture
def started_model_file(tmp_path: Path) -> Path:
    """A resnet18 that started from the random:0 reference and moved a little (a smooth 7x7 update)."""
    import safetensors.torch
    import torch

    from ingest.weights import random_init_model

    model = random_init_model("resnet18", 0)
    with torch.no_grad():
        ramp = torch.linspace(-1, 1, 7)
        model.conv1.weight += 1e-2 * (ramp[None, :] * ramp[:, None])  # the same smooth step on every filter
    path = tmp_path / "started.safetensors"
    safetensors.torch.save_file(model.state_dict(), str(path))
    return path


def test_a_kernel_size_the_fits_never_saw_is_extrapolating_and_the_notes_say_why(
    zoo_env: dict[str, str], started_model_file: Path
) -> None:
    model_file = started_model_file
    fit = _stored_fit(zoo_env)  # the synthetic catalog's banks are 5x5; the model file is a resnet18 (7x7)
    with _open(zoo_env) as catalog:
        assert get_fit(catalog, fit).details["kernel_sizes"] == [5]
    args = ("--arch", "resnet18", "--reference", "random:0", "--fit", str(fit))
    data = json.loads(run_zoo("predict", str(model_file), *args, "--json").stdout)
    [p] = data["predictions"]
    assert data["reference_matches"] is True and p["in_domain"] is False and p["verdict"] == "extrapolating"
    assert any("7×7 kernels" in note and "5×5 only" in note for note in data["notes"]), data["notes"]
    table = run_zoo("predict", str(model_file), *args)
    assert "extrapolating" in table.output and "7×7 kernels" in table.output


def test_kernels_inside_the_range_the_fits_saw_are_not_flagged() -> None:
    from dataclasses import replace

    from zoo.metamodel.features import kernel_size
    from zoo.metamodel.predict import kernel_outside
    from zoo.metamodel.stored import FitRecord

    fields = {name: None for name in FitRecord.__dataclass_fields__}
    record = FitRecord(**fields | {"details": {"kernel_sizes": [3, 4, 7]}})  # type: ignore[arg-type]
    assert [kernel_outside(record, k) for k in (3, 5, 7, 2, 16, None)] == [False, False, False, True, True, False]
    assert not kernel_outside(replace(record, details={}), 16)  # a fit stored before kernel sizes were kept
    assert kernel_size([64, 3, 7, 7]) == 7 and kernel_size([192, 3, 16, 16]) == 16 and kernel_size([3]) is None
