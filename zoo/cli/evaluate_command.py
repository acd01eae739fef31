"""``zoo evaluate``: the generalization matrix, how well a meta-model transfers to what it never saw.

It parses options, calls :func:`zoo.metamodel.evaluate_generalization` and prints the matrix with
:func:`zoo.cli.scores.print_matrix` (or writes it as JSON or a heatmap).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer

from zoo.cli.options import (
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
    Target,
    TrialOpt,
    VariantOpt,
    WhereOpt,
    feature_set_option,
)
from zoo.cli.render import emit_json, note
from zoo.cli.scores import print_matrix
from zoo.cli.selections import selection_with_metrics
from zoo.cli.state import open_catalog

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
    feature_set: Annotated[str, feature_set_option("Feature set (metric vector) the forests read")] = "paper-v1",
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

    chosen, metric_wheres = selection_with_metrics(
        None, feature_set, arch, base, variant, kind, optimizer, grid, source, trial, epoch, min_epoch, max_epoch, where
    )
    from zoo.cli.progress import make_progress
    from zoo.metamodel.fitting import check_forest_settings

    check_forest_settings(trees, repeats, folds, seed=seed)  # before the progress line starts
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
