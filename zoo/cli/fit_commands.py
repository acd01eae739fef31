"""``zoo fit`` and ``zoo fits``: a meta-model from first-layer metrics to a training-data property, and the
stored ones.

``fit`` parses options, calls :func:`zoo.metamodel.fit_meta_model` (or, with ``--predictor``,
:func:`zoo.metamodel.predictor.fit_predictor`) and prints the result with :mod:`zoo.cli.scores`.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from zoo.cli.options import (
    SELECTION_SYNTAX,
    ArchOpt,
    AsJson,
    BaseOpt,
    EpochOpt,
    GridOpt,
    KindOpt,
    MaxEpochOpt,
    MinEpochOpt,
    OptimizerOpt,
    SourceOpt,
    TrialOpt,
    VariantOpt,
    WhereOpt,
    feature_set_option,
    target_option,
)
from zoo.cli.render import emit_json, emit_rows, note, say, showing, status
from zoo.cli.scores import fit_summary, fmt_r2, fmt_score, print_fit
from zoo.cli.selections import require_match, selection_with_metrics, train_test_sides
from zoo.cli.state import open_catalog
from zoo.errors import InvalidInput

if TYPE_CHECKING:  # SQLAlchemy loads when a command runs, not at `zoo fit --help`
    from zoo.selection import Selection

SplitOpt = Annotated[
    Optional[str],
    typer.Option(
        "--split",
        help="How --test-fraction holds out groups: variant (base dataset × variant; default: no test target value is seen in training), run, or base (whole base datasets), e.g. --split run.",
    ),
]


# --- zoo fit / zoo fits ----------------------------------------------------------------------------------


def fit_command(
    ctx: typer.Context,
    target: Annotated[str, target_option("Default: sharpness, the paper's first Table 1 row.")] = "sharpness",
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
        feature_set_option("Feature set (metric vector) the forests read", "paper-v1 (paper-v2 with --predictor)"),
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
    target, Spearman ρ, R² per variant kind. --target defaults to sharpness. Examples:
    zoo fit --train-arch resnet50 --test-arch resnet18   (sharpness, the paper's first Table 1 row);
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
    from zoo.metamodel.fitting import check_forest_settings

    check_forest_settings(trees, repeats, seed=seed)  # settings first: before the catalog is read
    feature_set = feature_set or (DEFAULT_PREDICT_FEATURE_SET if predictor else DEFAULT_FEATURE_SET)
    shared, shared_where = selection_with_metrics(
        None, feature_set, arch, base, variant, kind, optimizer, grid, source, trial, epoch, min_epoch, max_epoch, where
    )
    train_selection, test_selection, train_where, test_where = train_test_sides(
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
        print_fit(result)


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
                fmt_score(a["r2_log"]),
                fmt_score(a["spearman"]),
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
            fmt_r2(f.r2_mean, f.r2_std),
            fmt_score(f.r2_log),
            fmt_score(f.spearman),
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
