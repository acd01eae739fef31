"""``zoo ingest``, ``zoo worker``, ``zoo featurize``: filling the catalog (``zoo runs`` lists what it queued:
:mod:`zoo.cli.runs_commands`).

The commands that train or read models import :mod:`ingest` (torch, timm) lazily, so the rest of the CLI
starts fast and works without a deep-learning stack.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from zoo.cli.options import (
    DEFAULT_GRACE_S,
    AllowPickle,
    Device,
    Grace,
    feature_set_option,
    option_given,
    parse_assignments,
    reference_option,
    refuse_unused,
)
from zoo.cli.progress import RunProgress, make_progress
from zoo.cli.render import console, note, plural, status
from zoo.cli.state import open_catalog, state
from zoo.errors import InvalidInput

if TYPE_CHECKING:  # the catalog and the queue (SQLAlchemy) load when a command runs, not at `zoo ingest --help`
    from zoo.catalog import Catalog


def _grid(name_or_path: str | None, training: bool) -> tuple[Any, Path]:
    from zoo.grids import builtin_grid_path, load_grid

    if name_or_path is None:
        name_or_path = "demo"
    path = Path(name_or_path)
    if not path.exists() and not name_or_path.endswith(".toml"):
        path = builtin_grid_path(name_or_path)
    return load_grid(path, check_arch=_architecture_check(training)), path


def _architecture_check(training: bool) -> Callable[[str], None] | None:
    """ingest's architecture check (timm's registry), so a misspelt name is refused before anything is queued.

    None (no check) only for --enqueue-only without the ``ingest`` extra: queueing needs no torch, and the
    worker reports an unknown architecture on each of its runs. Training without the extra stops here, in one
    line naming it (``ingest/__init__.py``).
    """
    from zoo.extras import missing_modules

    if not training and missing_modules("ingest"):
        return None
    from ingest.weights import check_architecture

    return check_architecture


def work_in_process(catalog: Catalog, options: Any, total: int | None) -> Any:
    from ingest.worker import work

    with make_progress() as progress:
        return work(catalog, options, RunProgress(progress, total))


def _run_worker_processes(
    ctx: typer.Context, catalog: Catalog, workers: int, grid_id: int, grace: float, device: str | None
) -> dict[str, int]:
    """Start worker processes and show the grid's progress; SIGTERM or Ctrl-C stops them, their runs go back to the queue."""
    from zoo import queue
    from zoo.worker_pool import run_worker_pool

    current = state(ctx)
    with make_progress() as progress:
        task = progress.add_task("runs", total=sum(queue.status_counts(catalog, grid_id).values()), info="")

        def show(counts: dict[str, int], last: Any) -> None:
            info = f"running {counts['running']}  failed {counts['failed']}"
            if last is not None and last.images_per_second:
                info += f"  last: {last.arch} {last.images_per_second:.0f} img/s"
            progress.update(task, completed=counts["done"], info=info)

        result = run_worker_pool(
            catalog,
            workers,
            grid_id,
            grace,
            device=device,
            db=current.db,
            artifacts=current.artifacts,
            on_progress=show,
        )
    if result.stopped:
        note("stopped: unfinished runs went back to the queue; run the same command again to resume")
        raise typer.Exit(code=143)
    return result.counts


def _run_grid(
    ctx: typer.Context,
    catalog: Catalog,
    grid_ref: str | None,
    enqueue_only: bool,
    workers: int,
    grace: float,
    device: str | None,
    samples: int,
    keep_weights: bool,
) -> None:
    from dataclasses import replace

    from zoo import queue
    from zoo.enqueue import enqueue_grid

    grid, path = _grid(grid_ref, training=not enqueue_only)
    if keep_weights:
        grid = replace(grid, keep_weights=True)
    with make_progress() as progress:  # Rich bars on a terminal, plain lines in a log
        task = progress.add_task(
            f"registering and measuring the datasets of grid {grid.name}", total=len(grid.datasets), info=str(path)
        )
        started: list[str] = []

        def next_dataset(what: str) -> None:  # called as each dataset starts: the ones before it are done
            started.append(what)
            progress.update(task, completed=len(started) - 1, info=what)

        result = enqueue_grid(catalog, grid, n_samples=samples, progress=next_dataset)
        progress.update(task, completed=len(grid.datasets), info="runs queued")
    console.print(f"grid {grid.name}: {plural(result.added, 'run')} queued, {result.existing:,} already known")
    if enqueue_only:
        return
    counts = queue.status_counts(catalog, result.grid_id)
    todo = counts["queued"] + counts["running"]
    if not todo:
        failed = (
            f"; {plural(counts['failed'], 'run')} failed (`zoo runs retry --grid {grid.name}` queues them again)"
            if counts["failed"]
            else ""
        )
        console.print(
            f"grid {grid.name}: nothing to do, {counts['done']:,} of {plural(sum(counts.values()), 'run')} done{failed}"
        )
        return
    if workers > 1:
        counts = _run_worker_processes(ctx, catalog, workers, result.grid_id, grace, device)
    else:
        from ingest.worker import WorkerOptions

        options = WorkerOptions(device=device, grace_s=grace, grid_id=result.grid_id)
        work_in_process(catalog, options, todo)
        counts = queue.status_counts(catalog, result.grid_id)
    console.print(f"grid {grid.name} runs: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))


def _ingest_external(
    catalog: Catalog,
    source: str,
    ref: str,
    arch: str | None,
    reference: str,
    properties: list[str],
    allow_pickle: bool,
    keep_weights: bool,
) -> None:
    from ingest.external import check_labels, ingest_external, read_external

    if not arch:
        raise InvalidInput("--arch is required with --hf / --checkpoint (the timm architecture name, e.g. resnet18)")
    labels = check_labels(parse_assignments(properties))
    with status(f"reading {ref}"):
        model = read_external(source, ref, arch, reference, allow_pickle=allow_pickle)
        checkpoint_id, created = ingest_external(catalog, model, labels=labels, keep_weights=keep_weights)
    verb = "catalogued" if created else "already catalogued:"
    console.print(
        f"{verb} checkpoint {checkpoint_id}: {arch} from {model.origin}"
        + (f"@{model.revision[:12]}" if model.revision else "")
        + f" (sha256 {model.file_sha256[:12]})"
    )


def ingest_command(
    ctx: typer.Context,
    grid: Annotated[
        Optional[str],
        typer.Argument(
            help="With --run-grid: a built-in grid name (demo, tiny, paper) or a grid TOML file, e.g. grids/tiny.toml. Default: demo."
        ),
    ] = None,
    run_grid: Annotated[
        bool,
        typer.Option("--run-grid", help="Queue the runs of GRID (idempotent) and work them off, e.g. --run-grid tiny."),
    ] = False,
    enqueue_only: Annotated[
        bool,
        typer.Option(
            "--enqueue-only",
            help="With --run-grid: only queue the runs and leave them to `zoo worker` processes (works without the ingest extra, which then leaves architecture names unchecked), e.g. --enqueue-only.",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", help="With --run-grid: worker processes to start (1: train in this process), e.g. --workers 4."
        ),
    ] = 1,
    hf: Annotated[
        Optional[str],
        typer.Option(
            "--hf",
            help="Catalogue a Hugging Face hub model: ORG/NAME or ORG/NAME@REVISION, e.g. --hf timm/resnet18.a1_in1k. Needs the hub, or the repo in the local hub cache (HF_HUB_OFFLINE=1).",
        ),
    ] = None,
    checkpoint: Annotated[
        Optional[Path],
        typer.Option(
            "--checkpoint",
            help="Catalogue a local model file (.safetensors; .pth/.bin with --allow-pickle), e.g. --checkpoint model.safetensors.",
        ),
    ] = None,
    arch: Annotated[
        Optional[str],
        typer.Option("--arch", help="With --hf / --checkpoint: the model's timm architecture, e.g. --arch resnet50."),
    ] = None,
    reference: Annotated[str, reference_option("timm, which needs the hub.")] = "timm",
    prop: Annotated[
        Optional[list[str]],
        typer.Option(
            "--property",
            help="With --hf / --checkpoint: a known training-data property of the model, NAME=VALUE (repeatable), e.g. --property sharpness=0.01.",
        ),
    ] = None,
    allow_pickle: AllowPickle = False,
    keep_weights: Annotated[
        bool,
        typer.Option(
            "--keep-weights",
            help="Also store full weights as safetensors in the artifact store (for a grid: its newly queued runs, at every checkpoint), e.g. --keep-weights.",
        ),
    ] = False,
    device: Device = None,
    grace: Grace = DEFAULT_GRACE_S,
    samples: Annotated[
        int,
        typer.Option(
            "--samples",
            help="With --run-grid: images per variant measured when datasets are registered, e.g. --samples 500.",
        ),
    ] = 2000,
) -> None:
    """Fill the catalog: train a grid of models, or catalogue a hub model or a model file.

    GRID is a built-in grid (demo: the CPU demo; tiny: a minute's smoke test; paper: 1,440 runs at 224 px,
    for GPUs) or a path to a grid TOML file. Examples: zoo ingest --run-grid (the demo grid);
    zoo ingest --run-grid tiny; zoo ingest --run-grid grids/paper.toml --enqueue-only;
    zoo ingest --hf timm/resnet18.a1_in1k --arch resnet18 --reference random:0;
    zoo ingest --checkpoint model.safetensors --arch resnet50 --reference timm --property sharpness=0.02
    """
    from zoo import queue

    modes = [run_grid, hf is not None, checkpoint is not None]
    if sum(modes) != 1:
        raise InvalidInput("choose exactly one of --run-grid [GRID], --hf REPO, --checkpoint FILE")
    if grid is not None and not run_grid:
        raise InvalidInput(f"{grid!r}: a grid argument goes with --run-grid")
    given = {
        name: option_given(ctx, name)
        for name in (
            "enqueue_only",
            "workers",
            "arch",
            "reference",
            "prop",
            "allow_pickle",
            "device",
            "grace",
            "samples",
        )
    }
    if run_grid:
        # the grid file sets each run's reference; its own key, not --reference, decides
        refuse_unused(
            "--run-grid",
            arch=given["arch"],
            reference=given["reference"],
            property=given["prop"],
            allow_pickle=given["allow_pickle"],
        )
        if enqueue_only:
            refuse_unused(
                "--enqueue-only (no run is trained here)",
                workers=given["workers"],
                device=given["device"],
                grace=given["grace"],
            )
    else:
        refuse_unused(
            "--hf" if hf is not None else "--checkpoint",
            enqueue_only=given["enqueue_only"],
            workers=given["workers"],
            device=given["device"],
            grace=given["grace"],
            samples=given["samples"],
        )
    if workers < 1:
        raise InvalidInput("--workers must be at least 1")
    queue.check_grace(grace)
    catalog = open_catalog(ctx)
    if run_grid:
        _run_grid(ctx, catalog, grid, enqueue_only, workers, grace, device, samples, keep_weights)
    else:
        source, ref = ("hub", hf) if hf is not None else ("file", str(checkpoint))
        _ingest_external(catalog, source, ref, arch, reference, prop or [], allow_pickle, keep_weights)


def worker_command(
    ctx: typer.Context,
    forever: Annotated[
        bool,
        typer.Option(
            "--forever", help="Keep polling for new runs instead of stopping when the queue is empty, e.g. --forever."
        ),
    ] = False,
    poll: Annotated[float, typer.Option("--poll", help="With --forever: seconds between polls, e.g. --poll 10.")] = 5.0,
    grace: Grace = DEFAULT_GRACE_S,
    max_runs: Annotated[
        Optional[int], typer.Option("--max-runs", help="Stop after this many finished runs, e.g. --max-runs 10.")
    ] = None,
    grid: Annotated[
        Optional[str],
        typer.Option("--grid", help="Only take runs of the grid of this name (see `zoo runs`), e.g. --grid demo."),
    ] = None,
    grid_id: Annotated[
        Optional[int], typer.Option("--grid-id", help="Only take runs of the grid of this id, e.g. --grid-id 1.")
    ] = None,
    name: Annotated[
        Optional[str],
        typer.Option("--name", help="Worker name recorded on claimed runs (default: host:pid), e.g. --name gpu0."),
    ] = None,
    device: Device = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="No progress display (for batch schedulers and log files), e.g. --quiet.")
    ] = False,
    summary_line: Annotated[
        bool,
        typer.Option(
            "--summary/--no-summary",
            hidden=True,
            help="Print the closing summary line (zoo ingest --workers turns it off).",
        ),
    ] = True,
) -> None:
    """Claim queued runs from the catalog and train them until none is left (or --forever).

    Start as many as you like, on as many machines, against one Postgres catalog and one artifact store.
    Examples: zoo worker --grid demo;
    ZOO_DATABASE_URL=postgresql://zoo@db/zoo ZOO_ARTIFACTS=/shared/zoo zoo worker --forever
    """
    from ingest.worker import SilentReporter, WorkerOptions, work
    from zoo import queue
    from zoo.selection import bounded_int

    if grid is not None and grid_id is not None:
        raise InvalidInput("give --grid NAME or --grid-id ID, not both")
    refuse_unused(
        "a worker that stops when the queue is empty (add --forever)", poll=option_given(ctx, "poll") and not forever
    )
    if grid_id is not None:
        bounded_int(grid_id, "--grid-id")
    catalog = open_catalog(ctx)
    if grid is not None:
        from zoo.query import grid_id_by_name

        grid_id = grid_id_by_name(catalog, grid)
    options = WorkerOptions(
        device=device, grace_s=grace, poll_s=poll, forever=forever, max_runs=max_runs, grid_id=grid_id
    )
    if name:
        options.name = name
    if quiet:
        summary = work(catalog, options, SilentReporter())
    else:
        summary = work_in_process(catalog, options, queue.status_counts(catalog, grid_id)["queued"])
    if summary_line:
        note(
            f"worker {options.name}: done {summary.done}, failed {summary.failed}, retried {summary.retried}, lost {summary.lost}"
            + (" (interrupted; the current run was re-queued)" if summary.interrupted else "")
        )
    if summary.interrupted:
        raise typer.Exit(code=130)


def featurize_command(
    ctx: typer.Context,
    feature_set: Annotated[str, feature_set_option("Feature set to compute")] = "paper-v1",
) -> None:
    """Compute a feature set for every stored first-layer delta that lacks it (no retraining; idempotent).

    Example: zoo featurize --feature-set paper-v1
    """
    from zoo.checkpoints import featurize_catalog, missing_vectors
    from zoo.filters import get_feature_set

    fs = get_feature_set(feature_set)
    catalog = open_catalog(ctx)
    total = len(missing_vectors(catalog, fs.key))
    with make_progress() as progress:
        task = progress.add_task(f"featurizing ({fs.key})", total=total, info="")
        done = featurize_catalog(catalog, fs.key, progress=lambda n: progress.advance(task, n))
    console.print(
        f"{fs.key}: computed {plural(done, 'metric vector')}" + ("" if done else " (all checkpoints already had it)")
    )
