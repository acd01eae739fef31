"""``zoo query``, ``zoo fit``, ``zoo fits``, ``zoo predict``, ``zoo show``: reading the catalog.

Each command parses options, calls one function of :mod:`zoo.query`, :mod:`zoo.metamodel` or
:mod:`zoo.plots`, and renders what it returns. Selections use one language everywhere (:mod:`zoo.selection`):
the options below, or the text form ``arch=resnet50|resnet18,min_epoch=1,sharpness<0.01``.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.text import Text

from zoo.cli.options import (
    SELECTION_SYNTAX,
    ArchOpt,
    AsCsv,
    AsJson,
    BaseOpt,
    EpochOpt,
    FeatureSetOpt,
    GridOpt,
    KindOpt,
    MaxEpochOpt,
    MinEpochOpt,
    OptimizerOpt,
    SourceOpt,
    Target,
    TrialOpt,
    VariantOpt,
    WhereOpt,
)
from zoo.cli.render import emit_json, emit_rows, note, plural, say, showing, status
from zoo.cli.state import open_catalog
from zoo.errors import InvalidInput

if TYPE_CHECKING:  # SQLAlchemy loads when a command runs, not at `zoo query --help`
    from zoo.selection import Selection

QueryFeatureSetOpt = Annotated[
    Optional[str],
    typer.Option(
        "--feature-set",
        help="Show this feature set's metrics instead of the view's paper-v1 columns, and let --where compare them, e.g. --feature-set paper-v2.",
    ),
]
SplitOpt = Annotated[
    Optional[str],
    typer.Option(
        "--split",
        help="How --test-fraction holds out groups: variant (base dataset × variant; default: no test target value is seen in training), run, or base (whole base datasets), e.g. --split run.",
    ),
]


def shared_selection(
    arch: list[str] | None,
    base: list[str] | None,
    variant: list[str] | None,
    kind: list[str] | None,
    optimizer: list[str] | None,
    grid: list[str] | None,
    source: list[str] | None,
    trial: list[int] | None,
    epoch: int | None,
    min_epoch: int | None,
    max_epoch: int | None,
    where: list[str] | None,
) -> Selection:
    """The selection the shared options describe (empty options select everything)."""
    from zoo.selection import Selection

    return Selection(
        archs=tuple(arch or ()),
        bases=tuple(base or ()),
        variants=tuple(variant or ()),
        variant_kinds=tuple(kind or ()),
        optimizers=tuple(optimizer or ()),
        grids=tuple(grid or ()),
        sources=tuple(source or ()),
        trials=tuple(trial or ()),
        epoch=epoch,
        min_epoch=min_epoch,
        max_epoch=max_epoch,
        wheres=tuple(where or ()),
    )


# What `zoo query` shows in a terminal unless --columns says otherwise (--json and --csv get every default column).
SLIM_COLUMNS = ("checkpoint_id", "arch", "base_dataset", "variant", "epoch", "sharpness", "noisiness")


def _fmt_r2(mean: float | None, std: float | None) -> str:
    return "—" if mean is None else f"{mean:.3f} ± {std or 0:.3f}"


# --- zoo query -------------------------------------------------------------------------------------------


def query_command(
    ctx: typer.Context,
    selection: Annotated[
        Optional[str], typer.Argument(help=f"Selection in text form ({SELECTION_SYNTAX}). Default: all.")
    ] = None,
    arch: ArchOpt = None,
    base: BaseOpt = None,
    variant: VariantOpt = None,
    kind: KindOpt = None,
    optimizer: OptimizerOpt = None,
    grid: GridOpt = None,
    source: SourceOpt = None,
    trial: TrialOpt = None,
    epoch: EpochOpt = None,
    min_epoch: MinEpochOpt = None,
    max_epoch: MaxEpochOpt = None,
    where: WhereOpt = None,
    columns: Annotated[
        Optional[str],
        typer.Option(
            "--columns",
            help="Comma-separated columns to show, named as --where and `zoo sql` name them, e.g. --columns checkpoint_id,arch,lr,wavelet_noise_sigma. Default in a terminal: "
            + ", ".join(SLIM_COLUMNS)
            + "; with --json/--csv: also optimizer, object_scale, saturation and the metrics.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Most checkpoints to print (0: all), e.g. --limit 100.")] = 20,
    offset: Annotated[int, typer.Option("--offset", help="Checkpoints to skip first (paging), e.g. --offset 20.")] = 0,
    count_by: Annotated[
        str,
        typer.Option(
            "--count-by",
            help="Summarise the selection per arch, base_dataset, variant_kind, optimizer or source, e.g. --count-by base_dataset.",
        ),
    ] = "arch",
    feature_set: QueryFeatureSetOpt = None,
    as_json: AsJson = False,
    as_csv: AsCsv = False,
) -> None:
    """List the checkpoints of a selection with their properties and metrics, and count them.

    Examples: zoo query --arch resnet18 --min-epoch 1; zoo query 'arch=resnet*,base=natural-32,sharpness<0.01' --csv;
    zoo query --where 'noisiness>=0.1' --columns checkpoint_id,arch,noisiness,wavelet_noise_sigma --json;
    zoo query --feature-set paper-v2 --where 'corner_power_log_ratio>-0.5' --limit 10
    """
    from zoo.query import query_checkpoints

    chosen, metric_wheres = _selection_with_metrics(
        selection,
        feature_set or "paper-v1",
        arch,
        base,
        variant,
        kind,
        optimizer,
        grid,
        source,
        trial,
        epoch,
        min_epoch,
        max_epoch,
        where,
    )
    wanted = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    table_only = not (as_json or as_csv)
    if wanted is None and table_only:
        wanted = list(SLIM_COLUMNS)
        if feature_set:  # the set's metrics are what was asked for: show them after the slim columns
            from zoo.filters import get_feature_set

            wanted += list(get_feature_set(feature_set).metrics)
    table = query_checkpoints(
        open_catalog(ctx),
        chosen,
        columns=wanted,
        limit=limit or None,
        offset=offset,
        count_by=count_by,
        feature_set=feature_set,
        metric_wheres=metric_wheres,
    )
    if not table.total:
        note(
            f"no checkpoints match {chosen}"
            + ("" if str(chosen) == "all" else "; `zoo query --count-by arch` shows what the catalog holds")
        )
        if table_only:
            return
    if not table_only:
        emit_rows(table.columns, table.rows, as_json=as_json, as_csv=as_csv)
    else:
        emit_rows(table.columns, table.rows, title=f"checkpoints: {chosen}", one_line=True)
    if table.total:
        summary = ", ".join(f"{name} {n:,}" for name, n in table.counts)
        note(
            showing(len(table.rows), table.total, "checkpoint", offset=offset)
            + (f"; by {table.count_by}: {summary}" if summary else "")
        )


def _selection_with_metrics(text: str | None, feature_set: str, *shared: Any) -> tuple[Selection, tuple[Any, ...]]:
    """The selection of a text form and the shared options, with conditions on the feature set's metrics split off."""
    from zoo.metamodel import parse_selection_with_metrics, split_metric_wheres

    *options, where = shared
    view_where, metric_where = split_metric_wheres(where, feature_set)
    chosen, text_where = parse_selection_with_metrics(text, feature_set)
    return chosen.narrowed(shared_selection(*options, list(view_where))), text_where + metric_where


def _fmt_score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


# --- zoo fit / zoo fits ----------------------------------------------------------------------------------


def _sides(
    train_text: str | None,
    test_text: str | None,
    train_arch: list[str] | None,
    test_arch: list[str] | None,
    shared: Selection,
    shared_where: tuple[Any, ...],
    feature_set: str,
) -> tuple[Selection, Selection | None, tuple[Any, ...], tuple[Any, ...]]:
    """Train and test selections (test None: split the train side), each with its metric conditions."""
    from zoo.metamodel import parse_selection_with_metrics
    from zoo.selection import Selection

    train, train_where = parse_selection_with_metrics(train_text, feature_set)
    train = shared.narrowed(train).narrowed(Selection(archs=tuple(train_arch or ())))
    if test_text is None and not test_arch:
        return train, None, shared_where + train_where, ()
    test, test_where = parse_selection_with_metrics(test_text, feature_set)
    test = shared.narrowed(test).narrowed(Selection(archs=tuple(test_arch or ())))
    return train, test, shared_where + train_where, shared_where + test_where


SPLIT_WORDS = {
    "variant": "base dataset × variant",
    "run": "training run",
    "base": "base dataset",
    "selections": "selection",
}


def _print_fit(result: Any) -> None:
    where = f"fit {result.id}" if result.id is not None else "fit (not stored)"
    space = ", log space" if result.log_target else ""
    say(
        Text.assemble(
            (where, "bold"),
            f": {result.target} from {result.feature_set}, test R² = ",
            (_fmt_r2(result.r2_mean, result.r2_std), "bold"),
            f" over {len(result.seeds)} seeds{space}",
        )
    )
    split = (
        f" (split by {SPLIT_WORDS[result.split]}, test fraction {result.test_fraction:g})"
        if result.test_fraction
        else ""
    )
    say(
        f"train: {result.train_selection} → {result.n_train} checkpoints; test: {result.test_selection} → {result.n_test}{split}"
    )
    boot = (
        f", ± {result.r2_bootstrap_std:.3f} over bootstrap resamples of the test runs"
        if result.r2_bootstrap_std is not None
        else ""
    )
    say(
        f"R² {result.r2_space} {_fmt_r2(result.r2_mean, result.r2_std)} over seeds{boot}; R² log target {_fmt_score(result.r2_log)}; "
        f"Spearman ρ {_fmt_score(result.spearman)}"
    )
    if result.r2_by_kind:
        say(
            "R² per variant kind: "
            + ", ".join(f"{k} {v:.3f} (n={result.n_by_kind.get(k, 0)})" for k, v in result.r2_by_kind.items())
        )
    if result.n_reference_left_out:
        say(
            f"{result.n_reference_left_out} reference (epoch-0, delta = 0) checkpoints were left out; --min-epoch 0 keeps them"
        )
    if result.n_dropped:
        say(
            f"{result.n_dropped} selected checkpoints were left out: no {result.target} or no {result.feature_set} metrics",
            "yellow",
        )
    if result.n_shared_runs:
        say(
            f"{result.n_shared_runs} training runs have checkpoints on both sides; use --test-fraction to split by run",
            "yellow",
        )
    ranked = sorted(result.importances.items(), key=lambda kv: -kv[1])
    emit_rows(["metric", "importance"], ranked, title="feature importances (mean over seeds)")


def fit_command(
    ctx: typer.Context,
    target: Target,
    train_arch: Annotated[
        Optional[list[str]],
        typer.Option(
            "--train-arch",
            help="Train on this architecture (glob); repeatable. The paper: --train-arch resnet50 --test-arch resnet18.",
        ),
    ] = None,
    test_arch: Annotated[
        Optional[list[str]], typer.Option("--test-arch", help="Test on this architecture (glob); repeatable.")
    ] = None,
    train: Annotated[
        Optional[str], typer.Option("--train", help=f"Train selection in text form ({SELECTION_SYNTAX}).")
    ] = None,
    test: Annotated[
        Optional[str],
        typer.Option(
            "--test",
            help="Test selection in text form, e.g. --test 'arch=convnext*'. Without --test/--test-arch the train selection is split by base dataset × variant (see --split).",
        ),
    ] = None,
    arch: ArchOpt = None,
    base: BaseOpt = None,
    variant: VariantOpt = None,
    kind: KindOpt = None,
    optimizer: OptimizerOpt = None,
    grid: GridOpt = None,
    source: SourceOpt = None,
    trial: TrialOpt = None,
    epoch: EpochOpt = None,
    min_epoch: MinEpochOpt = None,
    max_epoch: MaxEpochOpt = None,
    where: WhereOpt = None,
    test_fraction: Annotated[
        Optional[float],
        typer.Option(
            "--test-fraction",
            help="Hold out this fraction of the selection's groups (see --split) for testing, e.g. --test-fraction 0.25 (the default when no test selection is given).",
        ),
    ] = None,
    split: SplitOpt = None,
    repeats: Annotated[
        int,
        typer.Option("--repeats", help="Forests to train with seeds SEED, SEED+1, ...; R² is mean ± std over them."),
    ] = 5,
    trees: Annotated[int, typer.Option("--trees", help="Trees per random forest (paper: 30).")] = 30,
    feature_set: Annotated[
        Optional[str],
        typer.Option(
            "--feature-set",
            help="Feature set (metric vector) key or name, any registered one; default paper-v1 (paper-v2 with --predictor), e.g. --feature-set paper-v2.",
        ),
    ] = None,
    log_target: Annotated[
        bool, typer.Option("--log-target", help="Fit log(target); R² is then reported in log space, e.g. --log-target.")
    ] = False,
    predictor: Annotated[
        bool,
        typer.Option(
            "--predictor",
            help="Make a predictor, what zoo predict uses: trained on the whole selection, scored on held-out architectures, learning rates, image sizes and image families, 90% interval calibrated on those errors (log target), e.g. --predictor.",
        ),
    ] = False,
    seed: Annotated[
        int, typer.Option("--seed", help="First forest seed, and the seed of the --test-fraction split.")
    ] = 0,
    label: Annotated[Optional[str], typer.Option("--label", help="A note stored with the fit.")] = None,
    plot: Annotated[
        Optional[Path], typer.Option("--plot", help="Write the paper's Figure 4 for this fit to this PNG file.")
    ] = None,
    store: Annotated[
        bool,
        typer.Option("--store/--no-store", help="Store the fit, its predictions and its forest (for zoo predict)."),
    ] = True,
    as_json: AsJson = False,
) -> None:
    """Fit a random-forest meta-model from first-layer metrics to a training-data property and score it.

    The selection options (--arch, --min-epoch, --where, ...) apply to both sides. Epoch-0 (reference,
    delta = 0) checkpoints are left out unless the epoch is bounded (--min-epoch 0 keeps them). Scores:
    R² in the fitting space (± over seeds and over bootstrap resamples of the test runs), R² on the log
    target, Spearman ρ, R² per variant kind. Examples:
    zoo fit --target sharpness --train-arch resnet50 --test-arch resnet18 --min-epoch 1 --plot fig4.png;
    zoo fit --target noisiness --train 'arch=resnet*|mobilenet*' --test 'arch=convnext*';
    zoo fit --target sharpness --base imagenette --test-fraction 0.2 --log-target --json;
    zoo fit --target sharpness --predictor --arch 'resnet*'   (then zoo predict uses it)
    """
    from zoo.filters import DEFAULT_FEATURE_SET
    from zoo.metamodel import fit_meta_model
    from zoo.metamodel.predictor import DEFAULT_PREDICT_FEATURE_SET

    if predictor:
        _check_predictor_options(test, test_arch, train, train_arch, test_fraction, split, store)
    feature_set = feature_set or (DEFAULT_PREDICT_FEATURE_SET if predictor else DEFAULT_FEATURE_SET)
    shared, shared_where = _selection_with_metrics(
        None, feature_set, arch, base, variant, kind, optimizer, grid, source, trial, epoch, min_epoch, max_epoch, where
    )
    train_selection, test_selection, train_where, test_where = _sides(
        train, test, train_arch, test_arch, shared, shared_where, feature_set
    )
    catalog = open_catalog(ctx)
    for side, chosen in (("train", train_selection), ("test", test_selection)):
        if chosen is not None:
            require_match(catalog, chosen, side)
    if predictor:
        _fit_predictor(catalog, target, feature_set, shared, shared_where, trees, repeats, seed, label, plot, as_json)
        return
    with status(f"fitting {repeats} forests of {trees} trees for {target}"):
        result = fit_meta_model(
            catalog,
            target,
            train_selection,
            test_selection,
            test_fraction=test_fraction,
            split=split,
            feature_set=feature_set,
            n_estimators=trees,
            repeats=repeats,
            log_target=log_target,
            seed=seed,
            label=label,
            store=store,
            train_where=train_where,
            test_where=test_where,
        )
    if plot is not None:
        from zoo.plots import write_fit_figure

        note(f"wrote {write_fit_figure(result, plot)}")
    if as_json:
        emit_json(asdict(result))
    else:
        _print_fit(result)


def _check_predictor_options(*values: Any) -> None:
    test, test_arch, train, train_arch, test_fraction, split, store = values
    given = [
        name
        for name, value in (
            ("--test", test), ("--test-arch", test_arch), ("--train", train), ("--train-arch", train_arch),
            ("--test-fraction", test_fraction), ("--split", split), ("--no-store", not store),
        )
        if value
    ]  # fmt: skip
    if given:
        raise InvalidInput(
            f"--predictor trains on the whole selection (--arch, --base, --where, ...) and holds groups out itself; "
            f"drop {', '.join(given)}"
        )


def _fit_predictor(
    catalog: Any,
    target: str,
    feature_set: str,
    selection: Selection,
    wheres: Any,
    trees: int,
    repeats: int,
    seed: int,
    label: str | None,
    plot: Path | None,
    as_json: bool,
) -> None:
    import math

    from zoo.metamodel import get_fit
    from zoo.metamodel.predictor import fit_predictor

    require_match(catalog, selection)
    with status(f"fitting a predictor of {target}: forests on held-out groups, then {repeats} on everything"):
        result = fit_predictor(
            catalog, target, feature_set, selection, n_estimators=trees, repeats=repeats, seed=seed, label=label,
            metric_wheres=tuple(wheres),
        )  # fmt: skip
    fit = get_fit(catalog, result.id)
    if plot is not None:
        from zoo.plots import write_fit_figure

        note(f"wrote {write_fit_figure(result, plot)}")
    if as_json:
        emit_json(asdict(result) | {"details": fit.details})
        return
    say(fit_summary(fit, "made just now"))
    emit_rows(
        ["held out", "cells", "predictions", "R² log", "Spearman ρ", "typical error ×/÷"],
        [
            [
                a["axis"],
                a["cells"],
                a["n"],
                _fmt_score(a["r2_log"]),
                _fmt_score(a["spearman"]),
                f"{a['median_factor']:.2f}",
            ]
            for a in fit.details["axis_scores"]
        ],
        title=f"predictor {fit.id}: {target} predicted for groups it was not trained on",
    )
    from zoo.report import interval_ranges

    calibration = fit.details["calibration"]
    note(
        f"90% interval (calibrated on {calibration['n_residuals']:,} held-out errors), by predicted {target}: "
        + "; ".join(
            f"{where}: ×{math.exp(lo):.2g} to ×{math.exp(hi):.2g}" for where, (lo, hi) in interval_ranges(calibration)
        )
    )


def require_match(catalog: Any, chosen: Selection, side: str = "") -> None:
    """Refuse a selection that matches no checkpoint, in one line that names it and what the catalog holds."""
    from zoo.query import query_checkpoints

    if query_checkpoints(catalog, chosen, columns=["checkpoint_id"], limit=0).total:
        return
    held = query_checkpoints(catalog, None, columns=["checkpoint_id"], limit=0)
    have = ", ".join(name for name, _ in held.counts[:8]) or "none yet (`zoo ingest --run-grid demo`)"
    raise InvalidInput(
        f"no checkpoints match {chosen}"
        + (f" (the {side} selection)" if side else "")
        + f"; architectures in the catalog: {have}"
    )


# `zoo fits` in a terminal; --json has every field of each fit.
FIT_COLUMNS = ("id", "target", "train", "test", "n_train", "n_test", "r2", "r2_log", "spearman", "feature_set")


def fits_command(
    ctx: typer.Context,
    target: Annotated[
        Optional[str], typer.Option("--target", help="Only fits of this property, e.g. --target sharpness.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", help="Most fits to print, newest first (0: all), e.g. --limit 50.")
    ] = 20,
    as_json: AsJson = False,
) -> None:
    """List stored meta-model fits, newest first, with their selections and test R².

    The table shows each fit's id, target, train and test selections, sizes and scores (r2: mean ± std
    over seeds, in the fit's space; r2_log: on the log target); --json adds the split, the date, the label
    and everything else stored. Example: zoo fits --target sharpness --limit 5
    """
    from zoo.metamodel import list_fits
    from zoo.selection import bounded_int

    bounded_int(limit, "--limit")
    fits = list_fits(open_catalog(ctx), target)
    shown = fits[:limit] if limit else fits
    if as_json:
        emit_json([asdict(f) for f in shown])
        return
    rows = [
        [
            f.id,
            f.target + (" (log)" if f.log_target else ""),
            f.train_selection,
            f.test_selection if not f.test_fraction else f"{f.test_fraction:g} of {f.split} groups",
            f.n_train,
            f.n_test,
            _fmt_r2(f.r2_mean, f.r2_std),
            _fmt_score(f.r2_log),
            _fmt_score(f.spearman),
            f.feature_set,
        ]
        for f in shown
    ]
    if not fits:
        note(
            "no fits yet; make one with `zoo fit --target sharpness --train-arch resnet50 --test-arch resnet18 --min-epoch 1`"
        )
        return
    emit_rows(FIT_COLUMNS, rows, title="meta-model fits", one_line=True)
    note(showing(len(shown), len(fits), "fit"))


# --- zoo predict -----------------------------------------------------------------------------------------


def predict_command(
    ctx: typer.Context,
    arch: Annotated[str, typer.Option("--arch", help="timm architecture of the weights, e.g. resnet18.")],
    model_file: Annotated[
        Optional[Path], typer.Argument(help="Model weights file (.safetensors; .pth/.bin with --allow-pickle).")
    ] = None,
    reference: Annotated[
        Optional[str],
        typer.Option(
            "--reference",
            help="Where the delta is measured from: random or random:SEED, timm (pretrained), hub:ORG/NAME[@REVISION], file:PATH. Default: the kind the fits were trained on (random or timm); timm and hub: need the Hugging Face hub or its weights in the local hub cache (HF_HUB_OFFLINE=1), e.g. --reference random:0.",
        ),
    ] = None,
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
        typer.Option(
            "--feature-set",
            help="Feature set of the predictors used or made (default paper-v2, which transfers best to models trained elsewhere), e.g. --feature-set paper-v1.",
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
            _fmt_r2(p.fit_r2_mean, p.fit_r2_std) + (" (log)" if p.r2_space == "log" else ""),
            _fmt_score(p.fit_spearman),
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


CHOSEN_WORDS = {"given": "given with --fit", "latest": "the latest predictor of its target", "new": "made just now"}


def fit_summary(fit: Any, how: str) -> str:
    """One line: which fit, how it was chosen, what it was trained and tested on, and its scores."""
    if fit.split == "out-of-group":
        held = fit.details.get("axis_scores") or []
        axes = ", ".join(f"{a['axis']} {_fmt_score(a['r2_log'])}" for a in held)
        return (
            f"predictor {fit.id} ({how}): {fit.target} from {fit.feature_set}, log target; trained on {fit.train_selection} "
            f"({plural(fit.n_train, 'checkpoint')}); held out one at a time, R² log {_fmt_score(fit.r2_log)} "
            f"({axes}), Spearman ρ {_fmt_score(fit.spearman)}, typical error ×/÷ {fit.details.get('median_factor', float('nan')):.2f}"
        )
    test = (
        fit.test_selection
        if not fit.test_fraction
        else f"{fit.test_fraction:g} of its {SPLIT_WORDS.get(fit.split, fit.split)} groups"
    )
    return (
        f"fit {fit.id} ({how}): {fit.target} from {fit.feature_set}, {fit.r2_space} target; train {fit.train_selection} "
        f"({plural(fit.n_train, 'checkpoint')}), test {test} ({fit.n_test:,}); test R² {_fmt_r2(fit.r2_mean, fit.r2_std)}, "
        f"R² log {_fmt_score(fit.r2_log)}, Spearman ρ {_fmt_score(fit.spearman)}"
    )


# --- zoo evaluate ----------------------------------------------------------------------------------------


def evaluate_command(
    ctx: typer.Context,
    target: Target,
    arch: ArchOpt = None,
    base: BaseOpt = None,
    variant: VariantOpt = None,
    kind: KindOpt = None,
    optimizer: OptimizerOpt = None,
    grid: GridOpt = None,
    source: SourceOpt = None,
    trial: TrialOpt = None,
    epoch: EpochOpt = None,
    min_epoch: MinEpochOpt = None,
    max_epoch: MaxEpochOpt = None,
    where: WhereOpt = None,
    feature_set: FeatureSetOpt = "paper-v1",
    raw_target: Annotated[
        bool,
        typer.Option(
            "--raw-target", help="Fit and score the raw property instead of its log (the default), e.g. --raw-target."
        ),
    ] = False,
    folds: Annotated[
        int,
        typer.Option(
            "--folds",
            help="k of the grouped leave-variant-out axis (folds over base dataset × variant groups), e.g. --folds 5.",
        ),
    ] = 5,
    repeats: Annotated[int, typer.Option("--repeats", help="Forest seeds per cell, e.g. --repeats 3.")] = 3,
    trees: Annotated[int, typer.Option("--trees", help="Trees per random forest (paper: 30), e.g. --trees 30.")] = 30,
    seed: Annotated[
        int, typer.Option("--seed", help="First forest seed, and the seed of the fold assignment, e.g. --seed 0.")
    ] = 0,
    png: Annotated[
        Optional[Path],
        typer.Option("--png", help="Write the matrix as a heatmap of R² to this PNG, e.g. --png matrix.png."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """The generalization matrix: how well a meta-model transfers to what it never saw.

    Rows hold out one architecture, one base dataset, one optimizer, one learning rate, one image size
    (each when the selection has several) and k folds of base dataset × variant groups; each cell trains
    on the rest and reports n_train, n_test, R² (log target unless --raw-target), R² on the log target
    and Spearman ρ (means over seeds). Epoch-0 (reference) checkpoints are left out unless the epoch is
    bounded. Nothing is stored. Examples: zoo evaluate --target sharpness --png matrix.png;
    zoo evaluate --target noisiness --arch 'resnet*' --feature-set paper-v2 --json
    """
    from zoo.metamodel import evaluate_generalization

    chosen, metric_wheres = _selection_with_metrics(
        None, feature_set, arch, base, variant, kind, optimizer, grid, source, trial, epoch, min_epoch, max_epoch, where
    )
    from zoo.cli.progress import make_progress

    with make_progress() as progress:  # Rich bars on a terminal, plain lines in a log
        task = progress.add_task(f"generalization matrix of {target}: cells", total=None, info="")
        matrix = evaluate_generalization(
            open_catalog(ctx),
            target,
            chosen,
            feature_set=feature_set,
            log_target=not raw_target,
            n_estimators=trees,
            repeats=repeats,
            folds=folds,
            seed=seed,
            metric_wheres=metric_wheres,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    if png is not None:
        from zoo.plots import write_matrix_figure

        note(f"wrote {write_matrix_figure(matrix, png)}")
    if as_json:
        emit_json(asdict(matrix))
        return
    print_matrix(matrix)


def print_matrix(matrix: Any) -> None:
    """The matrix as a Rich table, one row per cell, with the selection and what was left out."""
    rows = [
        [
            c.axis,
            c.held_out,
            c.n_train,
            c.n_test,
            _fmt_r2(c.r2, c.r2_std),
            _fmt_score(c.r2_log),
            _fmt_score(c.spearman),
            c.note,
        ]
        for c in matrix.cells
    ]
    emit_rows(
        ["held out", "value", "n_train", "n_test", f"R² ({matrix.r2_space})", "R² log", "Spearman ρ", "note"],
        rows,
        title=f"generalization matrix: {matrix.target} from {matrix.feature_set}",
    )
    say(
        f"{matrix.n_checkpoints} checkpoints of {matrix.selection}; {matrix.repeats} seeds of {matrix.n_estimators} trees per cell"
        + (
            f"; {matrix.n_reference_left_out} reference (epoch-0) checkpoints left out (--min-epoch 0 keeps them)"
            if matrix.n_reference_left_out
            else ""
        )
    )


# --- zoo show --------------------------------------------------------------------------------------------


def show_command(
    ctx: typer.Context,
    checkpoint: Annotated[int, typer.Argument(help="Checkpoint id (see `zoo query`).")],
    png: Annotated[
        Optional[Path],
        typer.Option(
            "--png",
            help="Write the reference, learned and delta filters side by side to this PNG (the paper's Figure 3).",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Show one checkpoint: where it came from, its data's properties and its metrics; optionally its filters.

    Example: zoo show 12 --png filters.png
    """
    from zoo.query import get_checkpoint

    catalog = open_catalog(ctx)
    row = get_checkpoint(catalog, checkpoint)
    if png is not None:
        from zoo.plots import write_filter_figure

        note(f"wrote {write_filter_figure(catalog, checkpoint, png)}")
    if as_json:
        emit_json(row)
    else:
        emit_rows(["field", "value"], list(row.items()), title=f"checkpoint {checkpoint}")
