"""``zoo predict`` on a model outside the catalog: read the file (or hub repo), measure its first-layer delta
from the reference the fits learned from, and predict with :mod:`zoo.metamodel.predict` (torch-free).

Nothing about the model is stored; a target without a fit gets one made on the whole catalog, which is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ingest.external import ExternalModel, read_external
from ingest.first_conv import first_conv_weight
from ingest.weights import random_init_model
from zoo.catalog import Catalog
from zoo.checkpoints import compute_metrics
from zoo.errors import InvalidInput
from zoo.metamodel.features import kernel_size
from zoo.metamodel.predict import (
    PropertyPrediction,
    check_reference,
    kernel_note,
    kernel_outside,
    looks_like_random_init,
    make_missing_fits,
    plan_prediction,
    predict_properties,
    prediction_notes,
)


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
    reference_correlation: float  # of the learned first layer with the reference's (see check_reference)
    reference_matches: bool  # False: the model did not start from the reference; the predictions mean nothing


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
        Properties to predict with the most recent predictor of each (:mod:`zoo.metamodel.predictor`: trained
        on the whole catalog, interval calibrated on held-out architectures, recipes and datasets); a target
        without one gets one made and stored (with ``log_target=False``: a raw-target experiment fit). With
        neither ``fit_ids`` nor ``targets``: every target that has a predictor, else sharpness and noisiness.
    feature_set : str, optional
        The feature set of the predictors chosen or made (default
        :data:`zoo.metamodel.predictor.DEFAULT_PREDICT_FEATURE_SET`).
    force : bool, default False
        Predict even when the reference kind differs from the fits' (the result's ``forced`` says so).
    allow_pickle : bool, default False
        Also read pickle checkpoints (``torch.load(weights_only=True)``).

    Returns
    -------
    ModelPrediction
        The model's metric vectors are exactly those ``zoo ingest --checkpoint`` would store.

    Raises
    ------
    zoo.errors.InvalidInput, zoo.errors.NotFound
        A bad request (unknown fit or target, a reference kind the fits never saw), before the model is read.
    """
    plan = plan_prediction(
        catalog,
        reference,
        fit_ids=fit_ids,
        targets=targets,
        feature_set=feature_set,
        force=force,
        log_target=log_target,
    )
    model = read_external(source, ref, arch, plan.reference, allow_pickle=allow_pickle)  # before any fit is made
    random_file_note = _check_file_as_random(model, plan.reference) if plan.file_as_random else None
    fits = make_missing_fits(catalog, plan, log_target)
    kinds = tuple(sorted({k for _, fit, _ in fits for k in fit.reference_kinds}))
    vectors = compute_metrics(model.delta, sorted({fit.feature_set for _, fit, _ in fits}))
    features = {f"{name}-v{version}": values for (name, version), values in vectors.items()}
    check = check_reference(model.learned, model.reference.weight)
    notes = prediction_notes(model.reference.info.kind, plan.reference, kinds, plan.forced)
    if random_file_note:
        notes = (random_file_note, *notes)
    kernel = kernel_size(model.delta.shape)
    predictions = predict_properties(catalog, fits, features, kernel)
    outside = [fit for _, fit, _ in fits if kernel_outside(fit, kernel)]
    if outside and kernel is not None:
        notes = (kernel_note(outside, kernel), *notes)
    if not check.matches:
        notes = (check.note(model.reference.info.key), *notes)
        predictions = tuple(replace(p, reference_ok=False) for p in predictions)
    return ModelPrediction(
        arch,
        model.origin,
        model.file_sha256,
        model.reference.info.key,
        model.reference.info.kind,
        kinds,
        plan.forced,
        notes,
        features,
        predictions,
        check.correlation,
        check.matches,
    )


def _check_file_as_random(model: ExternalModel, spec: str) -> str:
    """A ``file:`` reference where the fits learned from random inits: refused unless it looks like one."""
    ok, figures = looks_like_random_init(model.reference.weight, first_conv_weight(random_init_model(model.arch, 0)))
    if not ok:
        raise InvalidInput(
            f"the reference {spec} does not look like a random initialisation ({figures}), and the fits learned "
            "deltas from random initialisations: a delta from another kind of start measures something else; "
            "give the weights the model started from, or `force=True` to predict anyway",
            param="reference",
            mentions=("force",),
        )
    return f"the reference file looks like a random initialisation ({figures}), the kind the fits learned from"
