"""Predicting training-data properties of a model outside the catalog, and saying how far to trust it.

* **Reference kind.** A fit learned deltas measured from one kind of starting point (a seeded random
  init, timm's pretrained weights, a hub repo, a file). A delta measured from another kind measures
  something else, so the model's delta is measured from the fit's kind by default and a mismatch is
  refused (``force=True`` overrides, and the result says so).
* **Interval.** Each prediction comes with the spread of the trees of all the fit's seeds.
* **Applicability domain.** Each prediction says whether the model's features lie inside the fit's
  training set ("in domain") or outside it ("extrapolating").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from zoo.catalog import Catalog
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
    """A predicted property of a model file, with its interval, its applicability domain, and the fit."""

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
class ModelPrediction:
    """What :func:`predict_model` read and predicted, and what the user should know about it."""

    arch: str
    origin: str
    file_sha256: str
    reference: str
    reference_kind: str
    fit_reference_kinds: tuple[str, ...]
    forced: bool
    notes: tuple[str, ...]
    features: dict[str, dict[str, float]]  # feature set key -> metric -> value
    predictions: tuple[PropertyPrediction, ...]


def choose_fits(catalog: Catalog, fit_ids: Sequence[int], targets: Sequence[str], feature_set: str | None = None) -> list[tuple[str, FitRecord | None, str]]:
    """(target, fit or None to fit anew, how chosen) for each requested prediction; checked before any work."""
    plan: list[tuple[str, FitRecord | None, str]] = []
    for fit_id in fit_ids:
        fit = get_fit(catalog, fit_id)
        plan.append((fit.target, fit, "given"))
    if not targets and not fit_ids:
        targets = [t for t in TARGETS if latest_fit(catalog, t, feature_set) is not None]
        if not targets:
            raise InvalidInput("no fits are stored yet; pass --target PROPERTY (a fit is made on the whole catalog) or run `zoo fit`")
    for target in targets:
        latest = latest_fit(catalog, check_target(target), feature_set)
        plan.append((target, latest, "latest" if latest is not None else "new"))
    return plan


def fit_whole_catalog(catalog: Catalog, target: str, feature_set: str | None = None, log_target: bool = True) -> FitRecord:
    """A stored fit of ``target`` on every trained checkpoint: log target (raw if asked), split by variant."""
    made = fit_meta_model(catalog, target, Selection(), feature_set=feature_set or DEFAULT_FEATURE_SET, log_target=log_target,
                          label=f"zoo predict: {target} on the whole catalog")
    assert made.id is not None
    return get_fit(catalog, made.id)


def resolve_reference_spec(reference: str | None, fit_kinds: set[str], fit_names: Sequence[str], force: bool) -> tuple[str, bool]:
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
        raise InvalidInput(f"fit {fits} learned deltas from {kinds} references; say which starting weights this model "
                           f"had with --reference ({' or '.join(f'{k}:...' if k in ('hub', 'file') else k for k in sorted(fit_kinds))})")
    kind, _ = parse_reference(reference)
    if fit_kinds and kind not in fit_kinds:
        if not force:
            raise InvalidInput(f"fit {fits} learned deltas measured from {' and '.join(sorted(fit_kinds))} references, not {kind}: "
                               f"a delta from another starting point measures something else; use --reference "
                               f"{sorted(fit_kinds)[0]}, or --force to predict anyway")
        return reference, True
    return reference, False


def predict_model(
    catalog: Catalog,
    source: str,
    ref: str,
    arch: str,
    reference: str | None = None,
    *,
    fit_ids: Sequence[int] = (),
    targets: Sequence[str] = (),
    feature_set: str | None = None,
    log_target: bool = True,
    force: bool = False,
    allow_pickle: bool = False,
) -> ModelPrediction:
    """Predict training-data properties of a model that is not in the catalog (nothing about it is stored).

    Parameters
    ----------
    catalog : Catalog
    source, ref : str
        ``"file"`` and a path, or ``"hub"`` and ``ORG/NAME[@REV]`` (read by :func:`ingest.external.read_external`).
    arch : str
        timm architecture of the weights.
    reference : str, optional
        What the delta is measured from: ``random[:SEED]``, ``timm``, ``hub:ORG/NAME[@REV]``, ``file:PATH``.
        Default: the kind the fits were trained on (``random`` or ``timm``; hub and file need naming).
    fit_ids : sequence of int
        Stored fits to apply.
    targets : sequence of str
        Properties to predict with the most recent fit of each (of ``feature_set`` when given); a target
        without one gets a fit made on the whole catalog (log target unless ``log_target=False``) and
        stored. With neither ``fit_ids`` nor ``targets``: every target that has a fit.
    feature_set : str, optional
        Only fits of this feature set are chosen, and new ones use it.
    force : bool, default False
        Predict even when the reference kind differs from the fits' (the result's ``forced`` says so).
    allow_pickle : bool, default False
        Also read pickle checkpoints (``torch.load(weights_only=True)``).

    Returns
    -------
    ModelPrediction
        The model's metric vectors are exactly those ``zoo ingest --checkpoint`` would store.
    """
    from ingest.external import read_external  # torch and timm load only here
    from zoo.checkpoints import compute_metrics

    if feature_set is not None:
        feature_set = get_feature_set(feature_set).key
    plan = choose_fits(catalog, fit_ids, targets, feature_set)
    known = {k for _, fit, _ in plan if fit is not None for k in fit.reference_kinds}
    if any(fit is None for _, fit, _ in plan) or not known:  # a fit still to be made, or fits stored before kinds were kept
        known |= set(_catalog_reference_kinds(catalog))
    named = [str(fit.id) for _, fit, _ in plan if fit is not None] + [f"of {t} (to be made on the whole catalog)" for t, fit, _ in plan if fit is None]
    spec, forced = resolve_reference_spec(reference, known, named, force)
    model = read_external(source, ref, arch, spec, allow_pickle=allow_pickle)
    fits = [(target, fit if fit is not None else fit_whole_catalog(catalog, target, feature_set, log_target), how) for target, fit, how in plan]
    kinds = tuple(sorted({k for _, fit, _ in fits for k in fit.reference_kinds}))
    notes = _notes(model.reference.info.kind, spec, kinds, forced)
    vectors = compute_metrics(model.delta, sorted({fit.feature_set for _, fit, _ in fits}))
    features = {f"{name}-v{version}": values for (name, version), values in vectors.items()}
    predictions = []
    for target, fit, how in fits:
        metrics = get_feature_set(fit.feature_set).metrics
        [made] = predict_from_features(catalog, fit, np.array([[features[fit.feature_set][m] for m in metrics]]))
        predictions.append(PropertyPrediction(
            target, made.value, made.low, made.high, made.in_domain, made.domain_score, made.nn_distance, fit.id,
            fit.r2_mean, fit.r2_std, fit.spearman, fit.r2_space, fit.feature_set, fit.split, how))
    return ModelPrediction(arch, model.origin, model.file_sha256, model.reference.info.key, model.reference.info.kind, kinds,
                           forced, notes, features, tuple(predictions))


def _catalog_reference_kinds(catalog: Catalog) -> list[str]:
    from sqlalchemy import select

    from zoo.db.models import Checkpoint, ReferenceWeights

    query = select(ReferenceWeights.kind).join(Checkpoint, Checkpoint.reference_id == ReferenceWeights.id).distinct()
    with catalog.session() as session:
        return sorted(session.scalars(query))


def _notes(kind: str, spec: str, fit_kinds: tuple[str, ...], forced: bool) -> tuple[str, ...]:
    notes = []
    if forced:
        notes.append(f"--force: the delta is measured from a {kind} reference but the fits learned deltas from "
                     f"{' and '.join(fit_kinds)} references; the predictions are not comparable to the fits' scores")
    if kind == "random":
        notes.append(UNKNOWN_INIT_NOTE.format(spec=spec))
    return tuple(notes)
