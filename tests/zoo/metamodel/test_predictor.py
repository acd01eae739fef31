"""Predictors (zoo.metamodel.predictor): the fits `zoo predict` uses: trained on everything, scored on
held-out architectures, recipes and datasets, with an interval calibrated on those held-out residuals."""

from __future__ import annotations

import numpy as np
import pytest

from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.errors import InvalidInput
from zoo.filters import get_feature_set
from zoo.metamodel import fit_meta_model, get_fit, load_feature_matrix, plan_prediction, predict_from_features
from zoo.metamodel.predict import make_missing_fits
from zoo.metamodel.predictor import (
    COVERAGE,
    DEFAULT_PREDICT_FEATURE_SET,
    Calibration,
    conformal_quantiles,
    fit_predictor,
    widen_beyond_domain,
)
from zoo.metamodel.stored import latest_predictor
from zoo.selection import Selection

ARCHS = ("resnet18", "resnet50", "mobilenetv3_large_100")


@pytest.fixture
def built(catalog: Catalog):  # type: ignore[no-untyped-def]
    return build_catalog(catalog, archs=ARCHS, n_variants=8, trials=2, epochs=2, n_external=0)


def test_conformal_quantiles_take_the_corrected_order_statistics() -> None:
    residuals = np.arange(1, 20, dtype=float)  # 19 values: ranks ceil(20 * 0.95) = 19 and 20 - 19 = 1
    assert conformal_quantiles(residuals, 0.90) == (1.0, 19.0)
    assert conformal_quantiles(np.arange(1, 200, dtype=float), 0.90) == (10.0, 190.0)
    with pytest.raises(InvalidInput, match="no out-of-group residuals"):
        conformal_quantiles(np.array([]))


def test_conformal_interval_covers_new_draws_at_its_level() -> None:
    rng = np.random.default_rng(0)
    low, high = conformal_quantiles(rng.standard_t(3, size=400), COVERAGE)
    fresh = rng.standard_t(3, size=20_000)
    covered = np.mean((fresh >= low) & (fresh <= high))
    assert COVERAGE - 0.02 <= covered <= COVERAGE + 0.05


def test_the_interval_is_calibrated_per_bin_of_predicted_value() -> None:
    """Residuals ten times wider at high predicted values: each bin gets its own width, and covers its own."""
    from zoo.metamodel.predictor import calibrate

    rng = np.random.default_rng(1)
    predicted = rng.uniform(-5, 5, size=800)
    spread = np.where(predicted > 0, 1.0, 0.1)
    made = calibrate(rng.normal(size=800) * spread, predicted, ("architecture",))
    assert len(made.bins) == 4 and len(made.edges) == 3
    narrow, wide = made.quantiles(-4.0), made.quantiles(4.0)
    assert (wide[1] - wide[0]) > 5 * (narrow[1] - narrow[0])
    fresh = rng.uniform(-5, 5, size=20_000)
    residual = rng.normal(size=fresh.size) * np.where(fresh > 0, 1.0, 0.1)
    bounds = np.array([made.quantiles(c) for c in fresh])
    inside = (residual >= bounds[:, 0]) & (residual <= bounds[:, 1])
    for part in (fresh < 0, fresh > 0):
        assert 0.86 <= inside[part].mean() <= 0.96
    assert calibrate(rng.normal(size=60), rng.normal(size=60), ("architecture",)).bins == ()  # too few to bin


def test_widening_beyond_the_domain_stretches_the_interval_around_the_value() -> None:
    assert widen_beyond_domain(2.0, 1.0, 4.0, 0.5, log_target=True) == (1.0, 4.0)  # inside: unchanged
    assert widen_beyond_domain(2.0, 1.0, 4.0, None, log_target=True) == (1.0, 4.0)
    low, high = widen_beyond_domain(2.0, 1.0, 4.0, 3.0, log_target=True)
    assert low == pytest.approx(2.0 / 2**3) and high == pytest.approx(2.0 * 2**3)  # three times as wide in log
    assert widen_beyond_domain(2.0, 1.0, 4.0, 2.0, log_target=False) == (0.0, 6.0)


def test_a_predictor_trains_on_everything_and_scores_out_of_group(catalog: Catalog, built) -> None:  # type: ignore[no-untyped-def]
    made = fit_predictor(catalog, "sharpness", "paper-v2", n_estimators=8, repeats=1, cv_repeats=1)
    fit = get_fit(catalog, made.id)
    trained = len(built.trained_ids)
    assert fit.n_train == made.n_train == trained  # nothing held out of the final forests
    details = fit.details
    assert details["purpose"] == "predict" and fit.split == "out-of-group" and fit.log_target
    axes = [a["axis"] for a in details["axis_scores"]]
    assert axes == ["architecture", "learning rate", "image size", "base dataset"]
    by_axis = {a["axis"]: a for a in details["axis_scores"]}
    assert by_axis["architecture"]["cells"] == 3 and by_axis["learning rate"]["cells"] == 2
    assert all(a["n"] == trained for a in details["axis_scores"])  # every checkpoint held out once per axis
    calibration = Calibration.from_details(details)
    assert calibration is not None and calibration.n_residuals == 4 * trained == fit.n_test
    assert calibration.q_low < 0 < calibration.q_high and calibration.coverage == COVERAGE
    # The scores are what held-out data measured: a learnable synthetic property ranks well.
    assert details["spearman"] > 0.8 and fit.r2_mean is not None


def test_predict_uses_the_latest_predictor_never_a_newer_experiment_fit(catalog: Catalog, built) -> None:  # type: ignore[no-untyped-def]
    predictor = fit_predictor(
        catalog, "sharpness", DEFAULT_PREDICT_FEATURE_SET, n_estimators=5, repeats=1, cv_repeats=1
    )
    experiment = fit_meta_model(
        catalog, "sharpness", Selection(archs=("resnet50",)), Selection(archs=("resnet18",)),
        feature_set=DEFAULT_PREDICT_FEATURE_SET, n_estimators=5, repeats=1,
    )  # fmt: skip
    assert experiment.id > predictor.id
    plan = plan_prediction(catalog, "random:0", targets=["sharpness", "noisiness"])
    assert [(t, f.id if f else None, how) for t, f, how in plan.fits] == [
        ("sharpness", predictor.id, "latest"),
        ("noisiness", None, "new"),
    ]
    assert latest_predictor(catalog, "sharpness", "paper-v1") is None  # another feature set has none
    made = make_missing_fits(catalog, plan)
    assert made[1][1].details["purpose"] == "predict" and made[1][1].target == "noisiness"
    # With no target named: every target that has a predictor.
    assert [t for t, _, _ in plan_prediction(catalog, "random:0").fits] == ["sharpness", "noisiness"]


def test_the_interval_is_the_calibrated_one_and_widens_when_extrapolating(catalog: Catalog, built) -> None:  # type: ignore[no-untyped-def]
    made = fit_predictor(catalog, "sharpness", "paper-v2", n_estimators=8, repeats=1, cv_repeats=1)
    fit = get_fit(catalog, made.id)
    calibration = Calibration.from_details(fit.details)
    fs = get_feature_set("paper-v2")
    _, _, X, _, _ = load_feature_matrix(catalog, Selection(archs=("resnet18",), min_epoch=1), "sharpness", fs)
    inside = predict_from_features(catalog, fit, X[:3])
    assert len(calibration.bins) == 3 and len(calibration.edges) == 2  # 192 residuals: 3 bins of >= 50
    for p in inside:
        assert p.in_domain
        q_low, q_high = calibration.quantiles(np.log(p.value))
        assert np.log(p.low / p.value) == pytest.approx(q_low, abs=1e-9)
        assert np.log(p.high / p.value) == pytest.approx(q_high, abs=1e-9)
    [far] = predict_from_features(catalog, fit, X[:1] * 1000 + 50)
    assert not far.in_domain
    assert np.log(far.high / far.low) > 2 * (calibration.q_high - calibration.q_low)


def test_held_out_architecture_falls_inside_the_interval_about_as_often_as_claimed(catalog: Catalog, built) -> None:  # type: ignore[no-untyped-def]
    """A predictor that never saw mobilenetv3: its intervals cover most of that architecture's truths."""
    made = fit_predictor(
        catalog,
        "sharpness",
        "paper-v2",
        Selection(archs=("resnet18", "resnet50")),
        n_estimators=8,
        repeats=1,
        cv_repeats=1,
    )
    fs = get_feature_set("paper-v2")
    _, _, X, y, _ = load_feature_matrix(
        catalog, Selection(archs=("mobilenetv3_large_100",), min_epoch=1), "sharpness", fs
    )
    predicted = predict_from_features(catalog, made.id, X)
    covered = np.mean([p.low <= t <= p.high for p, t in zip(predicted, y)])
    assert covered >= 0.75


def test_predictors_refuse_what_they_cannot_calibrate(catalog: Catalog, built) -> None:  # type: ignore[no-untyped-def]
    for selection in (Selection(archs=("vgg16",)), Selection(archs=("resnet18",), bases=("natural-32",), trials=(0,))):
        with pytest.raises(InvalidInput, match="needs at least 8 trained checkpoints with paper-v2 metrics"):
            fit_predictor(catalog, "sharpness", "paper-v2", selection, n_estimators=3, repeats=1, cv_repeats=1)


def test_a_selection_that_varies_nothing_a_user_model_varies_is_refused(catalog: Catalog) -> None:
    build_catalog(catalog, archs=("resnet18",), n_variants=30, trials=1, epochs=2, n_external=0)
    with pytest.raises(InvalidInput, match="varies none of"):
        fit_predictor(
            catalog, "sharpness", "paper-v2", Selection(bases=("natural-32",)), n_estimators=3, repeats=1, cv_repeats=1
        )


def test_a_model_that_did_not_start_from_the_reference_is_caught() -> None:
    from zoo.metamodel.predict import check_reference

    rng = np.random.default_rng(0)
    start = rng.normal(0, 0.1, size=(64, 3, 7, 7))
    other_start = rng.normal(0, 0.1, size=start.shape)
    short = start + rng.normal(0, 0.01, size=start.shape)  # a short training from `start`
    # A long one: weight decay shrank the start to 5 %, what it learned is five times the start's size.
    long = 0.05 * start + rng.normal(0, 0.5, size=start.shape)
    assert check_reference(short, start).matches and check_reference(short, start).correlation > 0.99
    assert check_reference(start, start).matches  # nothing trained yet
    unrelated = check_reference(other_start + (short - start), start)  # same update, another init
    assert not unrelated.matches and abs(unrelated.z) < 4 and unrelated.share > 0.5
    assert check_reference(long, start).matches  # its start is erased, but the delta is what it learned
    assert "no trace of the reference random:resnet18:seed=0" in unrelated.note("random:resnet18:seed=0")


def test_image_families_are_held_out_whole(catalog: Catalog, built) -> None:  # type: ignore[no-untyped-def]
    """With two image sources (natural; shapes_32 and shapesX32 rendered from one), zoo evaluate holds each
    source out with its sibling datasets, and a predictor calibrates on that instead of on base datasets."""
    from sqlalchemy import update

    from zoo.db.models import BaseDataset
    from zoo.metamodel import evaluate_generalization

    with catalog.session(write=True) as session:
        session.execute(update(BaseDataset).where(BaseDataset.name.like("shapes%")).values(source_kind="shapes"))
    matrix = evaluate_generalization(catalog, "sharpness", n_estimators=3, repeats=1, folds=2)
    family = matrix.row("image family")
    assert [(c.held_out, c.n_test) for c in family] == [("natural", 18), ("shapes", 30)]
    made = fit_predictor(catalog, "sharpness", "paper-v2", n_estimators=3, repeats=1, cv_repeats=1)
    axes = [a["axis"] for a in get_fit(catalog, made.id).details["axis_scores"]]
    assert axes == ["architecture", "learning rate", "image size", "image family"]


def test_zoo_fit_predictor_makes_the_predictor_zoo_predict_uses(zoo_env: dict[str, str]) -> None:
    import json

    from clirunner import run_zoo

    with Catalog.open(zoo_env["ZOO_DATABASE_URL"], artifacts=zoo_env["ZOO_ARTIFACTS"]) as catalog:
        build_catalog(catalog, archs=ARCHS, n_variants=8, trials=2, epochs=2, n_external=0)
    quick = ("--trees", "3", "--repeats", "1")
    made = json.loads(
        run_zoo("fit", "--target", "sharpness", "--predictor", "--arch", "resnet*", *quick, "--json").stdout
    )
    assert made["details"]["purpose"] == "predict" and made["feature_set"] == "paper-v3"
    assert made["train_selection"] == "arch=resnet*" and made["n_train"] == 32
    assert [a["axis"] for a in made["details"]["axis_scores"]] == [
        "architecture",
        "learning rate",
        "image size",
        "base dataset",
    ]
    table = run_zoo("fit", "--target", "noisiness", "--predictor", "--where", "saturation_rms>0", *quick).output
    assert "held out" in table and "90% interval (calibrated on" in table and "Traceback" not in table
    for extra in (("--test-arch", "resnet18"), ("--test-fraction", "0.2"), ("--no-store",)):
        refused = run_zoo("fit", "--target", "sharpness", "--predictor", *extra, expect=1).output
        assert f"drop {extra[0]}" in refused and len(refused.strip().splitlines()) == 1
    with Catalog.open(zoo_env["ZOO_DATABASE_URL"], artifacts=zoo_env["ZOO_ARTIFACTS"]) as catalog:
        plan = plan_prediction(catalog, "random:0")
        assert [(t, f.id, how) for t, f, how in plan.fits] == [
            ("sharpness", made["id"], "latest"),
            ("noisiness", made["id"] + 1, "latest"),
        ]
