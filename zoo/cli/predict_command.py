"""``zoo predict``: training-data properties of a model that is not in the catalog, from its first layer.

The model file or hub repo is read by :mod:`ingest.predict_file` (torch and timm load only when the command
runs); the predictors are the catalog's (:mod:`zoo.metamodel.predictor`).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer

from zoo.cli.options import AsJson, feature_set_option, reference_option
from zoo.cli.render import emit_json, emit_rows, note, say, status
from zoo.cli.scores import CHOSEN_WORDS, SPLIT_WORDS, fit_summary, fmt_r2, fmt_score
from zoo.cli.state import open_catalog
from zoo.errors import InvalidInput

# --- zoo predict -----------------------------------------------------------------------------------------


def predict_command(
    ctx: typer.Context,
    arch: Annotated[str, typer.Option("--arch", help="timm architecture of the weights, e.g. resnet18.")],
    model_file: Annotated[
        Optional[Path], typer.Argument(help="Model weights file (.safetensors; .pth/.bin with --allow-pickle).")
    ] = None,
    reference: Annotated[Optional[str], reference_option("the kind the fits were trained on (random or timm).")] = None,
    fit: Annotated[
        Optional[list[int]],
        typer.Option("--fit", help="Stored fit to apply (see `zoo fits`); repeatable, e.g. --fit 3."),
    ] = None,
    target: Annotated[
        Optional[list[str]],
        typer.Option(
            "--target",
            help="Property to predict with its most recent predictor (made on the whole catalog if there is none: log target, interval calibrated on held-out architectures, recipes and image families); repeatable, e.g. --target sharpness.",
        ),
    ] = None,
    feature_set: Annotated[
        Optional[str],
        feature_set_option(
            "Feature set of the predictors used or made",
            "paper-v3, which transfers best to models trained elsewhere",
            example="paper-v1",
        ),
    ] = None,
    raw_target: Annotated[
        bool,
        typer.Option(
            "--raw-target",
            help="Predict with an experiment fit of the raw property made on the whole catalog instead of a predictor (interval: the trees' spread, not calibrated), e.g. --raw-target.",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Predict even with a reference kind the fits never saw, or a file: reference that does not look like a random init (the output says so), e.g. --force.",
        ),
    ] = False,
    hf: Annotated[
        Optional[str],
        typer.Option(
            "--hf",
            help="Read a Hugging Face hub model ORG/NAME (or ORG/NAME@REVISION) instead of a file, e.g. --hf timm/resnet18.a1_in1k.",
        ),
    ] = None,
    allow_pickle: Annotated[
        bool,
        typer.Option(
            "--allow-pickle",
            help="Also read pickle checkpoints, with torch.load(weights_only=True). Off: safetensors only.",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Predict training-data properties of a model that is not in the catalog, from its first layer.

    A predictor (made on first use and stored) is trained on every checkpoint of the catalog; its scores are
    measured on architectures, learning rates, image sizes and image families it was not trained on, and its
    90% interval is calibrated on those held-out errors (wider beyond the catalog's domain). Each prediction
    gets a verdict: "in domain", "extrapolating" (the model's features lie farther from the catalog than 99%
    of the catalog's own nearest-neighbour distances) or "wrong reference" (the model's first layer shows no
    trace of the reference, so its delta is not what training changed). The delta is measured from the kind
    of reference the fits were trained on; for a model trained elsewhere from its own random start, give
    that start as --reference file:init.safetensors. Without --fit or --target: sharpness and noisiness (or
    every property with a predictor). Nothing is stored about the model. Examples: zoo predict
    model.safetensors --arch resnet18 --reference file:init.safetensors;
    zoo predict --hf timm/resnet18.a1_in1k --arch resnet18 --reference timm --fit 3 --json
    """
    from ingest.predict_file import predict_model  # torch and timm load only here
    from zoo.metamodel import get_fit
    from zoo.selection import bounded_int

    if (model_file is None) == (hf is None):
        raise InvalidInput("give a model file or --hf ORG/NAME, not both and not neither")
    for fit_id in fit or ():
        bounded_int(fit_id, "--fit")
    source, ref = ("hub", hf) if hf is not None else ("file", str(model_file))
    catalog = open_catalog(ctx)
    with status(f"reading {ref}"):
        result = predict_model(
            catalog,
            source,
            ref or "",
            arch,
            reference,
            fit_ids=fit or (),
            targets=target or (),
            feature_set=feature_set,
            log_target=not raw_target,
            force=force,
            allow_pickle=allow_pickle,
        )
    if as_json:
        emit_json(asdict(result) | {"predictions": [asdict(p) | {"verdict": p.verdict} for p in result.predictions]})
        return
    say(f"{result.arch} from {result.origin} (sha256 {result.file_sha256[:12]}), delta from {result.reference}")
    for text in result.notes:
        note(text, "yellow")
    for p in result.predictions:
        if p.chosen == "new" and p.fit_split == "out-of-group":
            note(
                f"no predictor of {p.target} was stored: made predictor {p.fit_id} on the whole catalog "
                f"({p.feature_set}, log target, scored and calibrated on held-out groups)"
            )
        elif p.chosen == "new":
            note(
                f"no fit of {p.target} was stored: fitted fit {p.fit_id} on the whole catalog ({p.r2_space} target, split by {SPLIT_WORDS.get(p.fit_split, p.fit_split)})"
            )
    for fit_id in dict.fromkeys(p.fit_id for p in result.predictions):
        say(
            fit_summary(
                get_fit(catalog, fit_id), CHOSEN_WORDS[next(p.chosen for p in result.predictions if p.fit_id == fit_id)]
            )
        )
    rows = [
        [
            p.target,
            f"{p.value:.4g}",
            f"{p.low:.4g} – {p.high:.4g}",
            p.verdict + ("" if p.domain_score is None else f" ({p.domain_score:.0f})"),
            p.fit_id,
            p.chosen,
            fmt_r2(p.fit_r2_mean, p.fit_r2_std) + (" (log)" if p.r2_space == "log" else ""),
            fmt_score(p.fit_spearman),
            p.feature_set,
        ]
        for p in result.predictions
    ]
    emit_rows(
        [
            "property",
            "predicted",
            "interval",
            "domain (percentile)",
            "fit",
            "fit chosen",
            "fit test R²",
            "fit ρ",
            "feature set",
        ],
        rows,
        title="predicted training-data properties",
    )
    note(
        "interval: "
        + "; ".join(
            dict.fromkeys(
                "90%, calibrated on held-out architectures, recipes and image families"
                if p.fit_split == "out-of-group"
                else "5–95% of the trees (how much they disagree, not how far off they may be)"
                for p in result.predictions
            )
        )
    )
    if not result.reference_matches:
        note(
            "wrong reference: the model did not start from the reference, so the predictions read nothing it learned",
            "yellow",
        )
    elif any(p.in_domain is False for p in result.predictions):
        note(
            "extrapolating: the model's features lie outside what the fit was trained on; treat those predictions as guesses",
            "yellow",
        )
