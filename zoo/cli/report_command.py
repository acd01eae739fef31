"""``zoo report``: the paper's Table 1 for whatever the catalog holds, plus figures and a markdown file."""

from __future__ import annotations

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
    TrialOpt,
    VariantOpt,
    WhereOpt,
    feature_set_option,
)
from zoo.cli.render import console, emit_json, emit_rows, note, say
from zoo.cli.scores import fit_summary, print_matrix
from zoo.cli.selections import selection_with_metrics
from zoo.cli.state import open_catalog

# zoo.report, the meta-model and the catalog (SQLAlchemy, scikit-learn) load inside report_command, so
# `zoo report --help` starts without them.


def report_command(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option(help="Folder for report.md, report.json and the Figure 3 / Figure 4 PNGs.")
    ] = Path("report"),
    repeats: Annotated[int, typer.Option(help="Random-forest seeds per row (the paper: 5).")] = 5,
    trees: Annotated[int, typer.Option(help="Trees per forest (the paper: 30).")] = 30,
    seed: Annotated[int, typer.Option(help="First seed, e.g. --seed 0.")] = 0,
    feature_set: Annotated[str, feature_set_option("Feature set of every row and matrix")] = "paper-v1",
    compare_feature_set: Annotated[
        Optional[str],
        typer.Option(
            "--compare-feature-set",
            help="Fit Table 1 again on this feature set and add a sensitivity table (how much the reading of the "
            "paper's metrics moves the figures; run `zoo featurize --feature-set NAME` first), "
            "e.g. --compare-feature-set paper-literal.",
        ),
    ] = None,
    matrix: Annotated[
        bool,
        typer.Option(
            "--matrix/--no-matrix",
            help="Also fit the generalization matrices (zoo evaluate) for sharpness and noisiness, e.g. --no-matrix to skip them.",
        ),
    ] = True,
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
    as_json: AsJson = False,
) -> None:
    """Fit the paper's Table 1 experiments on the catalog and print the table (resnet50 → resnet18 for
    sharpness, noisiness, object scale; others → held-out architecture for sharpness and noisiness; log-target
    rows beside), then the generalization matrix of sharpness and noisiness (log target: leave one
    architecture, base dataset, optimizer, learning rate, image size out, and k folds of base dataset ×
    variant groups), each row explained in words; then write the report folder. The selection options
    narrow every experiment (trained checkpoints only: epochs >= 1); the output says which grids, image
    sizes and architectures were pooled.

    Examples: zoo report --out report --feature-set paper-v2; zoo report --grid demo --base natural-32;
    zoo report --compare-feature-set paper-literal
    """
    from zoo.cli.progress import make_progress
    from zoo.metamodel.fitting import check_forest_settings

    check_forest_settings(trees, repeats, seed=seed)  # before the progress line starts
    from zoo.metamodel.evaluate import AXES
    from zoo.report import build_report
    from zoo.report_write import report_json, write_report

    chosen, metric_wheres = selection_with_metrics(
        None, feature_set, arch, base, variant, kind, optimizer, grid, source, trial, epoch, min_epoch, max_epoch, where
    )
    catalog = open_catalog(ctx)
    # Rich bars on a terminal; plain lines (each tenth, at least every 15 s) in a log: Table 1 rows, then matrix cells.
    with make_progress() as progress:
        task = progress.add_task("report: Table 1 fits, generalization-matrix cells, predictors", total=None, info="")
        report = build_report(
            catalog,
            repeats=repeats,
            n_estimators=trees,
            seed=seed,
            feature_set=feature_set,
            matrix=matrix,
            selection=chosen,
            metric_wheres=metric_wheres,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            compare_feature_set=compare_feature_set,
        )
        progress.update(task, info="writing the figures and report.md")
        written = write_report(catalog, report, out)
        progress.update(task, info=f"wrote {len(written)} files")
    if as_json:  # Table 1's rows, as before; report.json in the folder also holds the selection, pooled and matrices
        emit_json(report_json(report)["rows"])
        return
    say(f"selection: {report.selection}; pooled {report.pooled.describe()}")
    columns = ["experiment", "target", "R² on", "train", "test", "test R²", "paper"]
    rows = [
        [
            r.experiment,
            r.target,
            r.space,
            r.n_train,
            r.n_test,
            "—" if r.r2_mean is None else f"{r.r2_mean:.3f} ± {r.r2_std:.3f}",
            r.paper or "—",
        ]
        for r in report.rows
    ]
    if any(r.note for r in report.rows):  # rows the catalog could not support say why
        columns.append("not fitted because")
        rows = [row + [r.note] for row, r in zip(rows, report.rows)]
    emit_rows(columns, rows, title=f"Table 1 (this catalog, {report.feature_set})")
    if report.compare_feature_set is not None:
        emit_rows(
            ["experiment", "target", "R² on", report.feature_set, report.compare_feature_set, "difference"],
            [
                [
                    report.rows[i].experiment, report.rows[i].target, report.rows[i].space,
                    "—" if report.rows[i].r2_mean is None else f"{report.rows[i].r2_mean:.3f}",
                    "—" if r2 is None else f"{r2:.3f} ± {std:.3f}",
                    why or ("—" if r2 is None or report.rows[i].r2_mean is None else f"{r2 - report.rows[i].r2_mean:+.3f}"),
                ]
                for i, r2, std, why in report.compare_rows
            ],
            title=f"Sensitivity: Table 1 with {report.compare_feature_set}",
        )  # fmt: skip
    for generalization in report.matrices:
        print_matrix(generalization)
        for axis in generalization.axes:
            say(f"  {axis}: {AXES[axis][1]}")
    for text in report.matrix_notes:
        note(f"generalization matrix not fitted for {text}")
    for fit in report.predictors:
        say(fit_summary(fit, "made for zoo predict"))
    for text in report.predictor_notes:
        note(f"predictor not fitted for {text}")
    console.print(f"wrote {len(written)} files to {out}/ (report.md, figures)")
