"""``zoo query`` and ``zoo show``: the checkpoints of a selection, and one checkpoint in full.

Each command parses options, calls one function of :mod:`zoo.query` (or :mod:`zoo.plots`) and renders what
it returns. Selections use one language everywhere (:mod:`zoo.selection`): the options below, or the text
form ``arch=resnet50|resnet18,min_epoch=1,sharpness<0.01``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from zoo.cli.options import (
    SELECTION_SYNTAX,
    ArchOpt,
    AsCsv,
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
from zoo.cli.render import emit_json, emit_rows, note, showing
from zoo.cli.selections import selection_with_metrics
from zoo.cli.state import open_catalog

# What `zoo query` shows in a terminal unless --columns says otherwise (--json and --csv get every default column).
SLIM_COLUMNS = ("checkpoint_id", "arch", "base_dataset", "variant", "epoch", "sharpness", "noisiness")


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
    feature_set: Annotated[
        Optional[str],
        feature_set_option(
            "Show this feature set's metrics instead of the view's paper-v1 columns, and let --where compare them"
        ),
    ] = None,
    as_json: AsJson = False,
    as_csv: AsCsv = False,
) -> None:
    """List the checkpoints of a selection with their properties and metrics, and count them.

    Examples: zoo query --arch resnet18 --min-epoch 1; zoo query 'arch=resnet*,base=natural-32,sharpness<0.01' --csv;
    zoo query --where 'noisiness>=0.1' --columns checkpoint_id,arch,noisiness,wavelet_noise_sigma --json;
    zoo query --feature-set paper-v2 --where 'corner_power_log_ratio>-0.5' --limit 10
    """
    from zoo.query import query_checkpoints

    chosen, metric_wheres = selection_with_metrics(
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
