"""``zoo runs`` and ``zoo runs retry``: the training runs a grid queued, and queueing failed ones again."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from zoo.cli.options import AsCsv, AsJson, option_given, refuse_unused
from zoo.cli.render import console, emit_json, emit_rows, note, plural, showing
from zoo.cli.state import open_catalog
from zoo.errors import InvalidInput
from zoo.vocabulary import RUN_STATUSES

runs_app = typer.Typer(
    help="List training runs (with their grid, dataset and variant) and re-queue failed ones.",
    invoke_without_command=True,
    no_args_is_help=False,
)
# What `zoo runs` shows in a terminal unless --columns says otherwise; --json and --csv get every column.
RUN_SLIM_COLUMNS = ("id", "status", "grid", "arch", "base_dataset", "variant", "optimizer", "trial", "error")


@runs_app.callback()
def runs_command(
    ctx: typer.Context,
    status: Annotated[
        Optional[str],
        typer.Option("--status", help=f"Only runs with this status: {', '.join(RUN_STATUSES)}, e.g. --status failed."),
    ] = None,
    grid: Annotated[
        Optional[str], typer.Option("--grid", help="Only runs of the grid of this name, e.g. --grid demo.")
    ] = None,
    columns: Annotated[
        Optional[str],
        typer.Option(
            "--columns",
            help="Comma-separated columns to show, e.g. --columns id,status,arch,images_per_second. All: id, status, grid, arch, base_dataset, variant, optimizer, lr, image_size, trial, attempts, worker, device, images_per_second, error.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Most runs to list (0: all), e.g. --limit 100.")] = 20,
    offset: Annotated[int, typer.Option("--offset", help="Runs to skip first (paging), e.g. --offset 20.")] = 0,
    as_json: AsJson = False,
    as_csv: AsCsv = False,
) -> None:
    """List training runs by status, with their grid, base dataset and variant, and counts per status.

    Examples: zoo runs --status failed; zoo runs --grid demo --limit 50; zoo runs retry --grid demo
    """
    if ctx.invoked_subcommand is not None:
        listing = {n: option_given(ctx, n) for n in ("status", "columns", "limit", "offset", "as_json", "as_csv")}
        refuse_unused(
            f"`zoo runs {ctx.invoked_subcommand}` (they are listing options; put --grid after the sub-command)",
            **{("json" if k == "as_json" else "csv" if k == "as_csv" else k): v for k, v in listing.items()},
            grid=grid is not None,
        )
        return
    from zoo.query import RUN_COLUMNS, run_table

    catalog = open_catalog(ctx)
    wanted = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    unknown = [c for c in wanted or () if c not in RUN_COLUMNS]
    if unknown:
        raise InvalidInput(f"unknown run column {', '.join(map(repr, unknown))}; columns: {', '.join(RUN_COLUMNS)}")
    table = run_table(catalog, status=status, grid=grid, limit=limit or None, offset=offset)
    shown = wanted or (list(RUN_COLUMNS) if as_json or as_csv else list(RUN_SLIM_COLUMNS))
    if not wanted and not (as_json or as_csv) and not any(row[-1] for row in table.rows):
        shown.remove("error")  # no run on this page failed: the column would be all dashes
    index = [RUN_COLUMNS.index(c) for c in shown]
    rows = [[row[i] for i in index] for row in table.rows]
    if as_json:
        emit_json([dict(zip(shown, row)) for row in rows])
        return
    emit_rows(
        shown,
        rows,
        as_csv=as_csv,
        title=None if as_csv else "runs" + (f" of grid {grid}" if grid else ""),
        one_line=True,
    )
    if not as_csv:
        what = " ".join(filter(None, [status, "run"]))
        note(
            showing(len(rows), table.total, what, offset=offset)
            + "; by status: "
            + ", ".join(f"{k} {v:,}" for k, v in table.counts)
        )


@runs_app.command("retry")
def retry_command(
    ctx: typer.Context,
    grid: Annotated[
        Optional[str], typer.Option("--grid", help="Only failed runs of the grid of this name, e.g. --grid demo.")
    ] = None,
) -> None:
    """Queue every failed run again (of one grid with --grid), with a fresh attempt budget.

    Then run `zoo worker` or `zoo ingest --run-grid GRID` to train them. Example: zoo runs retry --grid demo
    """
    from zoo import queue
    from zoo.query import grid_id_by_name

    catalog = open_catalog(ctx)
    grid_id = None if grid is None else grid_id_by_name(catalog, grid)
    count = queue.retry_failed(catalog, grid_id)
    console.print(f"re-queued {plural(count, 'failed run')}" + ("; `zoo worker` trains them" if count else ""))
