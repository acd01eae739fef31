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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from zoo.catalog import Catalog
from zoo.checkpoints import catalog_reference_kinds
from zoo.errors import InvalidInput
from zoo.filters import get_feature_set
from zoo.grids import parse_reference
from zoo.metamodel.features import TARGETS, check_target
from zoo.metamodel.fitting import fit_meta_model
from zoo.metamodel.predictor import DEFAULT_PREDICT_FEATURE_SET, DEFAULT_TARGETS, fit_predictor
from zoo.metamodel.stored import FitRecord, get_fit, latest_predictor, predict_from_features
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
    chosen: str  # "given" (--fit), "latest" (most recent predictor of the target) or "new" (fitted just now)
    reference_ok: bool = True  # False: the model shows no trace of the reference (see check_reference)

    @property
    def verdict(self) -> str:
        if not self.reference_ok:
            return "wrong reference"
        return "—" if self.in_domain is None else "in domain" if self.in_domain else "extrapolating"


REFERENCE_Z = 4.0  # a model that started from the reference keeps a correlation this many standard errors above 0
REFERENCE_SHARE = 0.5  # below this RMS(reference) / RMS(delta), the reference hardly shapes the delta anyway


@dataclass(frozen=True)
class ReferenceCheck:
    """Whether a model's first layer still carries its reference.

    ``correlation`` is the Pearson correlation of the learned weights with the reference's, ``z`` that
    correlation over its standard error for unrelated weights (``1 / sqrt(n)``, n weights: two independent
    initialisations correlate at 0 ± 1/sqrt(n)); ``share`` is RMS(reference) / RMS(delta). Training moves
    filters away from their start but does not erase it, so a model that started from the reference keeps
    ``z`` well above :data:`REFERENCE_Z`. When it does not *and* the reference is a large part of the delta
    (``share`` ≥ :data:`REFERENCE_SHARE`), the delta is mostly the difference of two unrelated weight sets,
    not a training update, and every feature read from it (the scale-free ones above all) describes nothing
    the model learned. A very long training can erase its start; its delta is then dominated by what it
    learned (small ``share``) and passes.
    """

    correlation: float
    z: float
    share: float

    @property
    def matches(self) -> bool:
        return self.z >= REFERENCE_Z or self.share < REFERENCE_SHARE

    def note(self, reference: str) -> str:
        return (
            f"the model's first layer shows no trace of the reference {reference} (correlation "
            f"{self.correlation:.3f}, {self.z:.1f} standard errors from zero; a model that started from it keeps "
            f"at least {REFERENCE_Z:g}): it did not start there, so its delta is not what training changed and the "
            "predictions read nothing it learned. Give --reference file:PATH (with --force if the catalog's "
            "references are of another kind) or hub:ORG/NAME with the weights it started from"
        )


RANDOM_STD_RATIO = (0.7, 1.4)  # a random init's first-layer std within this factor of timm's own init
RANDOM_SMOOTHNESS = 0.15  # |neighbouring-weight correlation| of a random init stays below this (or 4 SE)


def looks_like_random_init(weight: np.ndarray, timm_init: np.ndarray) -> tuple[bool, str]:
    """Whether a reference file's first layer ``weight`` looks like a random initialisation of the same
    scheme as ``timm_init`` (timm's own init of the architecture): its standard deviation within
    :data:`RANDOM_STD_RATIO` of the init's, and no spatial structure (the correlation of horizontally and
    vertically neighbouring weights below :data:`RANDOM_SMOOTHNESS`, or 4 standard errors for small
    kernels); trained and pretrained filters are smooth (0.3-0.9). Returns the verdict and the figures."""
    w = np.asarray(weight, dtype=np.float64)
    ratio = float(w.std() / max(float(np.asarray(timm_init, dtype=np.float64).std()), 1e-30))
    pairs = [(w[..., :, :-1], w[..., :, 1:]), (w[..., :-1, :], w[..., 1:, :])]
    a = np.concatenate([x.ravel() for x, _ in pairs])
    b = np.concatenate([y.ravel() for _, y in pairs])
    smooth = float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 and a.std() > 0 and b.std() > 0 else 0.0
    limit = max(RANDOM_SMOOTHNESS, 4 / np.sqrt(max(len(a), 1)))
    ok = RANDOM_STD_RATIO[0] <= ratio <= RANDOM_STD_RATIO[1] and abs(smooth) < limit
    return ok, f"std {ratio:.2f}× timm's random init, neighbouring-weight correlation {smooth:.2f}"


def check_reference(learned: np.ndarray, reference: np.ndarray) -> ReferenceCheck:
    """How strongly ``learned`` still carries ``reference`` (both the same shape); see :class:`ReferenceCheck`."""
    learned64 = np.asarray(learned, dtype=np.float64).ravel()
    reference64 = np.asarray(reference, dtype=np.float64).ravel()
    delta_rms = float(np.sqrt(np.mean((learned64 - reference64) ** 2)))
    share = float(np.sqrt(np.mean(reference64**2))) / delta_rms if delta_rms > 0 else 0.0
    a, b = learned64 - learned64.mean(), reference64 - reference64.mean()
    denominator = float(np.sqrt((a @ a) * (b @ b)))
    if denominator == 0:  # a constant layer: nothing to correlate; an unchanged one trivially matches
        return ReferenceCheck(1.0 if delta_rms == 0 else 0.0, math.inf if delta_rms == 0 else 0.0, share)
    correlation = float(a @ b) / denominator
    return ReferenceCheck(correlation, correlation * math.sqrt(len(a)), share)


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
    # A file: reference for fits of random references: accepted if the file's first layer looks like a
    # random initialisation (checked once it is read, see looks_like_random_init).
    file_as_random: bool = False


def choose_fits(
    catalog: Catalog,
    fit_ids: Sequence[int],
    targets: Sequence[str],
    feature_set: str | None = None,
    log_target: bool = True,
) -> list[tuple[str, FitRecord | None, str]]:
    """(target, fit or None to make, how chosen) for each requested prediction; checked before any work.

    A fit named by id is used as it is ("given"). A target gets the most recent *predictor* of the feature
    set ("latest"; experiment fits of ``zoo fit`` and ``zoo report`` are never picked), or None: one is to
    be made ("new"). With neither ids nor targets: every target with a predictor, else
    :data:`DEFAULT_TARGETS`. ``log_target=False`` asks for raw-target fits, which are experiment fits made
    on the whole catalog (their interval is the trees' spread, not calibrated).
    """
    fs = get_feature_set(feature_set or DEFAULT_PREDICT_FEATURE_SET).key
    plan: list[tuple[str, FitRecord | None, str]] = []
    for fit_id in fit_ids:
        fit = get_fit(catalog, fit_id)
        plan.append((fit.target, fit, "given"))
    if not targets and not fit_ids:
        targets = [t for t in TARGETS if latest_predictor(catalog, t, fs) is not None] or list(DEFAULT_TARGETS)
    for target in targets:
        latest = latest_predictor(catalog, check_target(target), fs) if log_target else None
        plan.append((target, latest, "latest" if latest is not None else "new"))
    return plan


def make_predictor(catalog: Catalog, target: str, feature_set: str | None = None, log_target: bool = True) -> FitRecord:
    """A stored predictor of ``target`` on every trained checkpoint (see :mod:`zoo.metamodel.predictor`);
    with ``log_target=False`` a raw-target experiment fit on the whole catalog, split by variant."""
    fs = feature_set or DEFAULT_PREDICT_FEATURE_SET
    if log_target:
        made = fit_predictor(catalog, target, fs)
    else:
        made = fit_meta_model(
            catalog, target, Selection(), feature_set=fs, log_target=False,
            label=f"zoo predict: {target} on the whole catalog (raw target)",
        )  # fmt: skip
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
            f"had with `reference` ({' or '.join(f'{k}:...' if k in ('hub', 'file') else k for k in sorted(fit_kinds))})",
            param="reference",
        )
    kind, _ = parse_reference(reference)
    if fit_kinds and kind not in fit_kinds:
        if kind == "file" and "random" in fit_kinds:
            return reference, force  # a file holding the model's own random start: checked once read, unless forced
        if not force:
            raise InvalidInput(
                f"fit {fits} learned deltas measured from {' and '.join(sorted(fit_kinds))} references, not {kind}: "
                f"a delta from another starting point measures something else; use "
                f"`reference={sorted(fit_kinds)[0]}`, or `force=True` to predict anyway",
                param="reference",
                mentions=("force",),
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
    log_target: bool = True,
) -> PredictionPlan:
    """Choose the fits and the reference of a prediction, refusing bad requests before anything is read.

    ``fit_ids`` are stored fits to apply; each of ``targets`` gets the most recent predictor of that target
    in ``feature_set`` (default :data:`DEFAULT_PREDICT_FEATURE_SET`), or one to be made on the whole
    catalog (see :func:`choose_fits`). ``reference`` defaults to the kind the fits (or, for fits still to be made, the catalog's
    checkpoints) were measured from; see :func:`resolve_reference_spec`.
    """
    if feature_set is not None:
        feature_set = get_feature_set(feature_set).key
    chosen = choose_fits(catalog, fit_ids, targets, feature_set, log_target)
    known = {k for _, fit, _ in chosen if fit is not None for k in fit.reference_kinds}
    if (
        any(fit is None for _, fit, _ in chosen) or not known
    ):  # a fit still to be made, or fits stored before kinds were kept
        catalog_kinds = set(catalog_reference_kinds(catalog))
        if not catalog_kinds and any(fit is None for _, fit, _ in chosen):
            raise InvalidInput(
                "no predictor is stored and the catalog holds no checkpoints to make one from; "
                "run `zoo ingest --run-grid` first (or pass a stored fit's id in `fit_ids`)",
                mentions=("fit_ids",),
            )
        known |= catalog_kinds
    named = [str(fit.id) for _, fit, _ in chosen if fit is not None] + [
        f"of {t} (to be made on the whole catalog)" for t, fit, _ in chosen if fit is None
    ]
    spec, forced = resolve_reference_spec(reference, known, named, force)
    file_as_random = parse_reference(spec)[0] == "file" and "file" not in known and "random" in known and not force
    return PredictionPlan(tuple(chosen), spec, forced, feature_set or DEFAULT_PREDICT_FEATURE_SET, file_as_random)


def make_missing_fits(
    catalog: Catalog, plan: PredictionPlan, log_target: bool = True
) -> list[tuple[str, FitRecord, str]]:
    """The plan's fits, those still to be made fitted now on the whole catalog (log target unless told)."""
    return [
        (target, fit if fit is not None else make_predictor(catalog, target, plan.feature_set, log_target), how)
        for target, fit, how in plan.fits
    ]


def kernel_outside(fit: FitRecord, kernel: int | None) -> bool:
    """Whether a model's first-layer kernel side ``kernel`` lies outside the range of those ``fit`` trained on.

    Distances in feature space do not see the kernel size (paper-v2's shape metrics are built to be free of
    it), so a model whose kernel is far from every training one can sit "in domain" by its features alone:
    16x16 ViT patch filters against a catalog of 3x3 to 7x7 stems do (benchmarks/transfer_check.py). A kernel
    between the smallest and the largest the fit saw counts as inside; fits stored before kernel sizes were
    kept (no ``kernel_sizes`` in their details) never flag.
    """
    seen = [int(k) for k in fit.details.get("kernel_sizes") or ()]
    return kernel is not None and bool(seen) and not min(seen) <= kernel <= max(seen)


def kernel_note(fits: Sequence[FitRecord], kernel: int) -> str:
    """Why predictions of a model with a ``kernel``-pixel first layer are marked extrapolating."""
    seen = sorted({int(k) for fit in fits for k in fit.details.get("kernel_sizes") or ()})
    sizes = ", ".join(f"{k}×{k}" for k in seen)
    return (
        f"the model's first layer has {kernel}×{kernel} kernels and fit {', '.join(str(f.id) for f in fits)} "
        f"trained on {sizes} only: every prediction is marked extrapolating, whatever its features' distance "
        "(the features are built to be free of the kernel size, but nothing in the catalog shows that they are "
        "at this one); add runs of an architecture with such kernels to the catalog to cover it"
    )


def predict_properties(
    catalog: Catalog,
    fits: Sequence[tuple[str, FitRecord, str]],
    features: Mapping[str, Mapping[str, float]],
    kernel: int | None = None,
) -> tuple[PropertyPrediction, ...]:
    """Each fit applied to one model's metric vectors (``features``: feature set key -> metric -> value).

    ``kernel`` is the model's first-layer kernel side; outside the range of a fit's training kernels the
    prediction is "extrapolating" (see :func:`kernel_outside`).

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
        if kernel_outside(fit, kernel):
            made = replace(made, in_domain=False)
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
