"""Predicting training-data properties from a metric vector with stored fits, and saying how far to trust it.

This is the torch-free half of ``zoo predict``; reading a model file and measuring its delta is
:mod:`ingest.predict_file`, which calls the functions here in this order: :func:`plan_prediction` (fits
chosen and the reference decided before any file is read), :func:`make_missing_fits`, then
:func:`predict_properties` on the model's metric vectors.

* **Reference kind.** A fit learned deltas measured from one kind of starting point (a seeded random
  init, timm's pretrained weights, a hub repo, a file). A delta measured from another kind measures
  something else, so the model's delta is measured from the fit's kind by default and a mismatch is
  refused (``force=True`` overrides, and the result says so).
* **Interval.** Each prediction comes with the spread of the trees of all the fit's seeds.
* **Applicability domain.** Each prediction says whether the model's features lie inside the fit's
  training set ("in domain") or outside it ("extrapolating").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from zoo.catalog import Catalog
from zoo.checkpoints import catalog_reference_kinds
from zoo.errors import InvalidInput
from zoo.filters import DEFAULT_FEATURE_SET, get_feature_set
from zoo.grids import parse_reference
from zoo.metamodel.features import TARGETS, check_target
from zoo.metamodel.fitting import fit_meta_model
from zoo.metamodel.stored import FitRecord, get_fit, latest_fit, predict_from_features
from zoo.selection import Selection

DEFAULT_REFERENCE = {"random": "random", "timm": "timm"}  # kinds zoo can rebuild without being told where from

UNKNOWN_INIT_NOTE = (
    "the delta is measured from timm's seeded random initialisation ({spec}); it is this model's real update "
    "only if the model started from that initialisation. For a model trained from scratch from an unknown "
    "initialisation zoo cannot recover the delta, and the prediction reads the learned filters against an "
    "unrelated random init: give --reference file:PATH or hub:ORG/NAME with the real starting weights if you "
    "have them. (A feature set on the learned filters themselves would not need the initialisation; zoo has none yet.)"
)


@dataclass(frozen=True)
class PropertyPrediction:
    """A predicted property of a model, with its interval, its applicability domain, and the fit."""

    target: str
    value: float
    low: float
    high: float
    in_domain: bool | None
    domain_score: float | None
    nn_distance: float | None
    fit_id: int
    fit_r2_mean: float | None
    fit_r2_std: float | None
    fit_spearman: float | None
    r2_space: str
    feature_set: str
    fit_split: str
    chosen: str  # "given" (--fit), "latest" (most recent fit of the target) or "new" (fitted just now)

    @property
    def verdict(self) -> str:
        return "—" if self.in_domain is None else "in domain" if self.in_domain else "extrapolating"


@dataclass(frozen=True)
class PredictionPlan:
    """What a prediction will use, decided before any model is read.

    ``fits`` holds (target, stored fit or None for one still to be made on the whole catalog, how chosen);
    ``reference`` is the spec the model's delta is to be measured from, ``forced`` whether it differs from
    the fits' kind by ``force``; new fits use ``feature_set``.
    """

    fits: tuple[tuple[str, FitRecord | None, str], ...]
    reference: str
    forced: bool
    feature_set: str


def choose_fits(
    catalog: Catalog, fit_ids: Sequence[int], targets: Sequence[str], feature_set: str | None = None
) -> list[tuple[str, FitRecord | None, str]]:
    """(target, fit or None to fit anew, how chosen) for each requested prediction; checked before any work."""
    plan: list[tuple[str, FitRecord | None, str]] = []
    for fit_id in fit_ids:
        fit = get_fit(catalog, fit_id)
        plan.append((fit.target, fit, "given"))
    if not targets and not fit_ids:
        targets = [t for t in TARGETS if latest_fit(catalog, t, feature_set) is not None]
        if not targets:
            raise InvalidInput(
                "no fits are stored yet; pass --target PROPERTY (a fit is made on the whole catalog) or run `zoo fit`"
            )
    for target in targets:
        latest = latest_fit(catalog, check_target(target), feature_set)
        plan.append((target, latest, "latest" if latest is not None else "new"))
    return plan


def fit_whole_catalog(
    catalog: Catalog, target: str, feature_set: str | None = None, log_target: bool = True
) -> FitRecord:
    """A stored fit of ``target`` on every trained checkpoint: log target (raw if asked), split by variant."""
    made = fit_meta_model(
        catalog,
        target,
        Selection(),
        feature_set=feature_set or DEFAULT_FEATURE_SET,
        log_target=log_target,
        label=f"zoo predict: {target} on the whole catalog",
    )
    assert made.id is not None
    return get_fit(catalog, made.id)


def resolve_reference_spec(
    reference: str | None, fit_kinds: set[str], fit_names: Sequence[str], force: bool
) -> tuple[str, bool]:
    """The reference to measure the delta from, and whether it was forced past a mismatch.

    Raises
    ------
    InvalidInput
        A reference kind the fits never saw (without ``force``), or no default for the fits' kind.
    """
    fits = ", ".join(fit_names)
    if reference is None:
        if len(fit_kinds) == 1 and next(iter(fit_kinds)) in DEFAULT_REFERENCE:
            return DEFAULT_REFERENCE[next(iter(fit_kinds))], False
        if not fit_kinds:
            return "random", False
        kinds = " and ".join(sorted(fit_kinds))
        raise InvalidInput(
            f"fit {fits} learned deltas from {kinds} references; say which starting weights this model "
            f"had with --reference ({' or '.join(f'{k}:...' if k in ('hub', 'file') else k for k in sorted(fit_kinds))})"
        )
    kind, _ = parse_reference(reference)
    if fit_kinds and kind not in fit_kinds:
        if not force:
            raise InvalidInput(
                f"fit {fits} learned deltas measured from {' and '.join(sorted(fit_kinds))} references, not {kind}: "
                f"a delta from another starting point measures something else; use --reference "
                f"{sorted(fit_kinds)[0]}, or --force to predict anyway"
            )
        return reference, True
    return reference, False


def plan_prediction(
    catalog: Catalog,
    reference: str | None = None,
    *,
    fit_ids: Sequence[int] = (),
    targets: Sequence[str] = (),
    feature_set: str | None = None,
    force: bool = False,
) -> PredictionPlan:
    """Choose the fits and the reference of a prediction, refusing bad requests before anything is read.

    ``fit_ids`` are stored fits to apply; each of ``targets`` gets the most recent fit of that target (of
    ``feature_set`` when given), or one to be made on the whole catalog. With neither: every target that
    has a fit. ``reference`` defaults to the kind the fits (or, for fits still to be made, the catalog's
    checkpoints) were measured from; see :func:`resolve_reference_spec`.
    """
    if feature_set is not None:
        feature_set = get_feature_set(feature_set).key
    chosen = choose_fits(catalog, fit_ids, targets, feature_set)
    known = {k for _, fit, _ in chosen if fit is not None for k in fit.reference_kinds}
    if (
        any(fit is None for _, fit, _ in chosen) or not known
    ):  # a fit still to be made, or fits stored before kinds were kept
        known |= set(catalog_reference_kinds(catalog))
    named = [str(fit.id) for _, fit, _ in chosen if fit is not None] + [
        f"of {t} (to be made on the whole catalog)" for t, fit, _ in chosen if fit is None
    ]
    spec, forced = resolve_reference_spec(reference, known, named, force)
    return PredictionPlan(tuple(chosen), spec, forced, feature_set or DEFAULT_FEATURE_SET)


def make_missing_fits(
    catalog: Catalog, plan: PredictionPlan, log_target: bool = True
) -> list[tuple[str, FitRecord, str]]:
    """The plan's fits, those still to be made fitted now on the whole catalog (log target unless told)."""
    return [
        (target, fit if fit is not None else fit_whole_catalog(catalog, target, plan.feature_set, log_target), how)
        for target, fit, how in plan.fits
    ]


def predict_properties(
    catalog: Catalog, fits: Sequence[tuple[str, FitRecord, str]], features: Mapping[str, Mapping[str, float]]
) -> tuple[PropertyPrediction, ...]:
    """Each fit applied to one model's metric vectors (``features``: feature set key -> metric -> value).

    Raises
    ------
    InvalidInput
        ``features`` lacks the feature set or a metric one of the fits was trained on.
    """
    predictions = []
    for target, fit, how in fits:
        metrics = get_feature_set(fit.feature_set).metrics
        missing = [m for m in metrics if m not in features.get(fit.feature_set, {})]
        if missing:
            raise InvalidInput(
                f"fit {fit.id} needs {fit.feature_set} metrics the model has none of: {', '.join(missing)}"
            )
        [made] = predict_from_features(
            catalog, fit, np.array([[features[fit.feature_set][m] for m in metrics]], dtype=np.float64)
        )
        predictions.append(
            PropertyPrediction(
                target,
                made.value,
                made.low,
                made.high,
                made.in_domain,
                made.domain_score,
                made.nn_distance,
                fit.id,
                fit.r2_mean,
                fit.r2_std,
                fit.spearman,
                fit.r2_space,
                fit.feature_set,
                fit.split,
                how,
            )
        )
    return tuple(predictions)


def prediction_notes(kind: str, spec: str, fit_kinds: Sequence[str], forced: bool) -> tuple[str, ...]:
    """What the user should know about a prediction from a delta measured from a ``kind`` reference."""
    notes = []
    if forced:
        notes.append(
            f"--force: the delta is measured from a {kind} reference but the fits learned deltas from "
            f"{' and '.join(fit_kinds)} references; the predictions are not comparable to the fits' scores"
        )
    if kind == "random":
        notes.append(UNKNOWN_INIT_NOTE.format(spec=spec))
    return tuple(notes)
