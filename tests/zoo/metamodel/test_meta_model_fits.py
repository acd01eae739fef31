"""Meta-model fits (paper §5): cross-architecture R², splits by run, refused overlaps, stored fits."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sqlalchemy as sa

from clirunner import run_zoo
from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.errors import InvalidInput, NotFound
from zoo.metamodel import fit_meta_model, get_fit, latest_fit, list_fits, load_feature_matrix, split_by_run
from zoo.selection import Selection

R50 = Selection(archs=("resnet50",))
R18 = Selection(archs=("resnet18",))
QUICK = {"n_estimators": 10, "repeats": 2}
SHAPE_METRICS = (
    "spatial_roughness",
    "bregman_distance",
    "dist_to_gaussian",
)  # paper-v1 smoothness metrics (nearly) unchanged by scaling the delta


def _count(catalog: Catalog, table: str) -> int:
    with catalog.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


@pytest.mark.parametrize("target", ["sharpness", "noisiness"])
def test_properties_encoded_in_the_metrics_transfer_from_resnet50_to_resnet18(catalog: Catalog, target: str) -> None:
    build_catalog(catalog)
    result = fit_meta_model(catalog, target, R50, R18, store=False)
    assert (
        result.n_train == result.n_test == 48 and len(result.r2_scores) == 5
    )  # 24 epoch-0 checkpoints per side left out
    assert result.n_reference_left_out == 48
    assert (
        result.r2_mean > {"sharpness": 0.9, "noisiness": 0.35}[target]
    )  # the synthetic deltas mix noise into smoothness
    importance = result.importances
    assert importance["channel_saturation"] < 0.05  # no property of the synthetic data touches colour
    # The synthetic properties set the delta's shape (smoothness, white-noise share) at a size that differs by
    # architecture and epoch, so the metrics of shape carry them across architectures; those of size cannot.
    assert sum(importance[m] for m in SHAPE_METRICS) > {"sharpness": 0.9, "noisiness": 0.4}[target]
    assert max(importance, key=importance.get) in SHAPE_METRICS


def test_shuffled_targets_are_not_learnable(catalog: Catalog) -> None:
    build_catalog(catalog, shuffled=True)
    result = fit_meta_model(catalog, "sharpness", R50, R18, store=False)
    assert result.r2_mean < 0.2


def test_log_target_scores_in_log_space_and_predicts_in_units(catalog: Catalog) -> None:
    build_catalog(catalog)
    result = fit_meta_model(catalog, "sharpness", R50, R18, log_target=True, store=False, **QUICK)
    assert result.r2_space == "log" and result.r2_mean > 0.9
    truth = np.array([p.y_true for p in result.predictions])
    predicted = np.array([p.y_pred for p in result.predictions])
    assert truth.min() > 0 and np.corrcoef(np.log(truth), np.log(predicted))[0, 1] > 0.9


def test_split_by_run_keeps_every_run_on_one_side(catalog: Catalog) -> None:
    build_catalog(catalog)
    ids, run_ids, *_ = load_feature_matrix(catalog, Selection(), "sharpness")
    train, test = split_by_run(ids, run_ids, 0.25, seed=3)
    assert not set(run_ids[train][run_ids[train] >= 0]) & set(run_ids[test][run_ids[test] >= 0])
    assert len(train) + len(test) == len(ids) and set(ids[train]).isdisjoint(ids[test])
    groups = len(set(run_ids[run_ids >= 0])) + int((run_ids < 0).sum())
    test_groups = len(set(run_ids[test][run_ids[test] >= 0])) + int((run_ids[test] < 0).sum())
    assert test_groups == round(0.25 * groups)
    assert np.array_equal(split_by_run(ids, run_ids, 0.25, seed=3)[1], test)  # seeded
    assert not np.array_equal(split_by_run(ids, run_ids, 0.25, seed=4)[1], test)


def test_a_fit_with_test_fraction_never_tests_on_a_training_run(catalog: Catalog) -> None:
    built = build_catalog(catalog)
    selected, *_ = load_feature_matrix(catalog, Selection(min_epoch=1), "sharpness")
    result = fit_meta_model(catalog, "sharpness", Selection(min_epoch=1), test_fraction=0.3, store=False, **QUICK)
    test_runs = {p.run_id for p in result.predictions}
    train_ids = set(selected.tolist()) - {p.checkpoint_id for p in result.predictions}
    assert len(train_ids) == result.n_train and None not in test_runs
    assert test_runs.isdisjoint({built.run_of[i] for i in train_ids})
    assert result.n_shared_runs == 0 and result.test_fraction == 0.3


def test_overlapping_selections_are_refused_with_the_overlap_count(catalog: Catalog) -> None:
    build_catalog(catalog)
    with pytest.raises(InvalidInput, match="share 24 checkpoints"):
        fit_meta_model(catalog, "sharpness", R18, Selection(archs=("resnet*",), epoch=2))
    assert _count(catalog, "fits") == 0


def test_checkpoints_missing_the_target_are_dropped_and_counted(catalog: Catalog) -> None:
    build_catalog(catalog)  # the two file checkpoints have no object_scale label
    result = fit_meta_model(
        catalog,
        "object_scale",
        Selection(sources=("run", "file"), trials=(0,)),
        Selection(trials=(1,)),
        store=False,
        **QUICK,
    )
    assert result.n_dropped == 0  # trial= excludes external checkpoints (no trial)
    result = fit_meta_model(
        catalog, "object_scale", Selection(archs=("resnet50", "convnext_tiny")), R18, store=False, **QUICK
    )
    assert result.n_dropped == 2 and result.n_train == 48


@pytest.mark.parametrize(
    ("kwargs", "message", "param"),
    [
        ({"target": "colourfulness"}, "unknown target", None),
        (
            {"target": "sharpness", "test_fraction": 0.2},
            "^give either a test selection or test_fraction, not both$",
            "test_fraction",
        ),
        ({"target": "sharpness", "n_estimators": 0}, "^n_estimators must be at least 1, got 0$", "n_estimators"),
        ({"target": "sharpness", "repeats": 0}, "^repeats must be at least 1, got 0$", "repeats"),
        ({"target": "sharpness", "split": "run"}, "^split chooses how test_fraction holds out groups", "split"),
        (
            {"target": "sharpness", "test": None, "test_fraction": 1.5},
            "^test_fraction must be between 0 and 1",
            "test_fraction",
        ),
        (
            {"target": "sharpness", "test": None, "test_fraction": 0.0},
            "^test_fraction must be between 0 and 1",
            "test_fraction",
        ),
    ],
)
def test_bad_fit_settings_are_refused_before_any_work(
    catalog: Catalog, kwargs: dict, message: str, param: str | None
) -> None:
    """Refused naming the parameter as the library spells it (the CLI writes the flags, see below)."""
    with pytest.raises(InvalidInput, match=message) as refused:
        fit_meta_model(catalog, **{"train": R50, "test": R18, **kwargs})
    assert refused.value.param == param


def test_an_empty_side_is_refused_with_a_hint(catalog: Catalog) -> None:
    build_catalog(catalog, n_variants=2, trials=1, epochs=2)
    with pytest.raises(InvalidInput, match="test side has 0 usable checkpoints"):
        fit_meta_model(catalog, "sharpness", R50, Selection(archs=("vit*",)))


def test_a_stored_fit_keeps_selections_scores_and_every_seed_prediction(catalog: Catalog) -> None:
    build_catalog(catalog)
    result = fit_meta_model(
        catalog, "noisiness", Selection(archs=("resnet50",), min_epoch=1), R18, label="paper R50→R18", **QUICK
    )
    assert result.id is not None and result.model_sha256 and catalog.store.exists(result.model_sha256)
    assert _count(catalog, "predictions") == result.n_test * 2
    record = get_fit(catalog, result.id)
    assert record.train_selection == "arch=resnet50,min_epoch=1" and record.test_selection == "arch=resnet18"
    assert record.seeds == (0, 1) and record.r2_scores == pytest.approx(result.r2_scores)
    assert record.importances == pytest.approx(result.importances) and record.label == "paper R50→R18"
    assert [f.id for f in list_fits(catalog)] == [result.id] and list_fits(catalog, "sharpness") == []
    assert latest_fit(catalog, "noisiness") == record
    with pytest.raises(NotFound, match="zoo fits"):
        get_fit(catalog, result.id + 1)


def test_fit_without_target_fits_sharpness_the_papers_first_row(zoo_env: dict[str, str]) -> None:
    with Catalog.open(zoo_env["ZOO_DATABASE_URL"], artifacts=zoo_env["ZOO_ARTIFACTS"]) as catalog:
        build_catalog(catalog, n_variants=6, trials=1, epochs=3, n_external=0)
    out = run_zoo("fit", "--train-arch", "resnet50", "--test-arch", "resnet18").output  # the literal form
    assert "fit 1: sharpness from paper-v1" in out
    (fit,) = json.loads(run_zoo("fits", "--json").stdout)
    assert (fit["target"], fit["train_selection"], fit["test_selection"]) == (
        "sharpness",
        "arch=resnet50",
        "arch=resnet18",
    )


def test_fit_cli_uses_the_paper_shorthand_and_shared_options(zoo_env: dict[str, str]) -> None:
    with Catalog.open(zoo_env["ZOO_DATABASE_URL"], artifacts=zoo_env["ZOO_ARTIFACTS"]) as catalog:
        build_catalog(catalog)
    out = run_zoo(
        "fit",
        "--target",
        "sharpness",
        "--train-arch",
        "resnet50",
        "--test-arch",
        "resnet18",
        "--min-epoch",
        "1",
        "--trees",
        "10",
        "--repeats",
        "2",
        "--label",
        "cli",
    ).output
    assert "fit 1" in out and "test R² = 0.9" in out and "48 checkpoints" in out and "laplacian_variance" in out
    data = json.loads(
        run_zoo(
            "fit",
            "--target",
            "noisiness",
            "--train",
            "arch=resnet50|convnext*",
            "--test",
            "arch=resnet18",
            "--where",
            "epoch>=1",
            "--trees",
            "5",
            "--repeats",
            "1",
            "--json",
        ).stdout
    )
    assert data["n_train"] == 48  # epoch>=1 also drops the two file checkpoints: they have no epoch
    assert data["n_test"] == 48 and data["id"] == 2 and len(data["predictions"]) == 48
    fits = json.loads(run_zoo("fits", "--json").stdout)
    assert [f["id"] for f in fits] == [2, 1] and fits[1]["label"] == "cli"
    assert (
        fits[1]["train_selection"] == "arch=resnet50,min_epoch=1"
        and fits[0]["train_selection"] == "arch=resnet50|convnext*,epoch>=1.0"
    )
    assert "meta-model fits" in run_zoo("fits").output
    refused = run_zoo("fit", "--target", "sharpness", "--train-arch", "resnet*", "--test-arch", "resnet18", expect=1)
    assert "share 48 checkpoints" in refused.output and "split one selection with --test-fraction" in refused.output


TRAIN_TEST = ("--train-arch", "resnet50", "--test-arch", "resnet18")


@pytest.mark.parametrize(
    ("options", "line"),
    [
        ([*TRAIN_TEST, "--trees", "0"], "Error: --trees must be at least 1, got 0"),
        ([*TRAIN_TEST, "--repeats", "0"], "Error: --repeats must be at least 1, got 0"),
        ([*TRAIN_TEST, "--test-fraction", "0.2"], "Error: give either a test selection or --test-fraction, not both"),
        (
            [*TRAIN_TEST, "--split", "run"],
            "Error: --split chooses how --test-fraction holds out groups; with a test selection there is nothing to split",
        ),
        (
            ["--arch", "resnet50", "--test-fraction", "1.5"],
            "Error: --test-fraction must be between 0 and 1 (exclusive), got 1.5",
        ),
    ],
)
def test_fit_cli_errors_name_the_flags(zoo_env: dict[str, str], options: list[str], line: str) -> None:
    """The library's parameter names (n_estimators, test_fraction ...) reach the CLI user as the flags."""
    with Catalog.open(zoo_env["ZOO_DATABASE_URL"], artifacts=zoo_env["ZOO_ARTIFACTS"]) as catalog:
        build_catalog(catalog, n_variants=2, trials=1, epochs=2)
    assert run_zoo("fit", "--target", "sharpness", *options, expect=1).output.strip() == line
