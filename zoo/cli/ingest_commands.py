"""``zoo ingest``, ``zoo worker``, ``zoo runs``, ``zoo featurize``: filling the catalog.

The commands that train or read models import :mod:`ingest` (torch, timm) lazily, so the rest of the CLI
starts fast and works without a deep-learning stack.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from zoo import queue
from zoo.catalog import Catalog
from zoo.cli.options import AsCsv, AsJson, parse_assignments
from zoo.cli.progress import RunProgress, make_progress
from zoo.cli.render import console, emit_json, emit_rows, note, status
from zoo.cli.state import open_catalog, state
from zoo.errors import InvalidInput
from zoo.selection import bounded_int

Device = Annotated[Optional[str], typer.Option(help="Training device: cpu, cuda, cuda:1 ... Default: CUDA when available.")]
Grace = Annotated[float, typer.Option(help="Seconds without a heartbeat after which other workers may re-queue this worker's runs; stored on each claim, so every worker judges a run by its own claimant's grace. Example: --grace 600.")]
AllowPickle = Annotated[bool, typer.Option("--allow-pickle", help="Also read .pth/.bin files, with torch.load(weights_only=True). Off: safetensors only.")]
Reference = Annotated[str, typer.Option(help="Where deltas are measured from: random or random:SEED, timm (pretrained via the hub), hub:ORG/NAME or hub:ORG/NAME@REVISION, file:PATH. The default, timm, needs the Hugging Face hub or its weights in the local hub cache (HF_HUB_OFFLINE=1); offline, use e.g. --reference random:0.")]


def _grid(name_or_path: str | None) -> tuple[Any, Path]:
    from zoo.grids import builtin_grid_path, load_grid

    if name_or_path is None:
        name_or_path = "demo"
    path = Path(name_or_path)
    if not path.exists() and not name_or_path.endswith(".toml"):
        path = builtin_grid_path(name_or_path)
    return load_grid(path), path


def _threads_for(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


def work_in_process(catalog: Catalog, options: Any, total: int | None) -> Any:
    from ingest.worker import work

    with make_progress() as progress:
        return work(catalog, options, RunProgress(progress, total))


def _spawn_workers(ctx: typer.Context, count: int, grid_id: int, grace: float, device: str | None) -> list[subprocess.Popen[bytes]]:
    current = state(ctx)
    env = {**os.environ, "OMP_NUM_THREADS": str(_threads_for(count))}
    base = [sys.executable, "-m", "zoo"]
    if current.db:
        base += ["--db", current.db]
    if current.artifacts:
        base += ["--artifacts", current.artifacts]
    command = base + ["worker", "--grid-id", str(grid_id), "--grace", str(grace), "--quiet"] + (["--device", device] if device else [])
    return [subprocess.Popen(command, env=env) for _ in range(count)]


def _watch(catalog: Catalog, grid_id: int, children: list[subprocess.Popen[bytes]]) -> dict[str, int]:
    """Show the grid's progress from the database while worker processes drain the queue."""
    with make_progress() as progress:
        counts = queue.status_counts(catalog, grid_id)
        task = progress.add_task("runs", total=sum(counts.values()), info="")
        while True:
            counts, last = queue.status_counts(catalog, grid_id), queue.latest_done(catalog, grid_id)
            info = f"running {counts['running']}  failed {counts['failed']}"
            if last is not None and last.images_per_second:
                info += f"  last: {last.arch} {last.images_per_second:.0f} img/s"
            progress.update(task, completed=counts["done"], info=info)
            if all(child.poll() is not None for child in children):
                return counts
            time.sleep(1.0)


def _run_worker_processes(ctx: typer.Context, catalog: Catalog, workers: int, grid_id: int, grace: float, device: str | None) -> dict[str, int]:
    """Start worker processes and watch them; SIGTERM or Ctrl-C here stops them, their runs go back to the queue."""
    children = _spawn_workers(ctx, workers, grid_id, grace, device)
    stopped: list[bool] = []

    def stop_children(*_args: object) -> None:
        stopped.append(True)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, stop_children)
    try:
        counts = _watch(catalog, grid_id, children)
        if stopped:
            note("stopped: unfinished runs went back to the queue; run the same command again to resume")
            raise typer.Exit(code=143)
        return counts
    except KeyboardInterrupt:
        stop_children()  # they usually got the Ctrl-C too; make sure
        raise
    finally:
        for child in children:
            child.wait()
        signal.signal(signal.SIGTERM, previous)


def _run_grid(ctx: typer.Context, catalog: Catalog, grid_ref: str | None, enqueue_only: bool, workers: int, grace: float,
              device: str | None, samples: int, keep_weights: bool) -> None:
    from dataclasses import replace

    from ingest.grids import enqueue_grid
    from ingest.worker import WorkerOptions

    grid, path = _grid(grid_ref)
    if keep_weights:
        grid = replace(grid, keep_weights=True)
    with status(f"registering and measuring the datasets of grid {grid.name} ({path})"):
        result = enqueue_grid(catalog, grid, n_samples=samples)
    console.print(f"grid {grid.name}: {result.added} runs queued, {result.existing} already known")
    if enqueue_only:
        return
    counts = queue.status_counts(catalog, result.grid_id)
    todo = counts["queued"] + counts["running"]
    if workers > 1:
        counts = _run_worker_processes(ctx, catalog, workers, result.grid_id, grace, device)
    else:
        options = WorkerOptions(device=device, grace_s=grace, grid_id=result.grid_id)
        work_in_process(catalog, options, todo)
        counts = queue.status_counts(catalog, result.grid_id)
    console.print("runs: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _ingest_external(catalog: Catalog, source: str, ref: str, arch: str | None, reference: str, properties: list[str], allow_pickle: bool, keep_weights: bool) -> None:
    from ingest.external import check_labels, ingest_external, read_external

    if not arch:
        raise InvalidInput("--arch is required with --hf / --checkpoint (the timm architecture name, e.g. resnet18)")
    labels = check_labels(parse_assignments(properties))
    with status(f"reading {ref}"):
        model = read_external(source, ref, arch, reference, allow_pickle=allow_pickle)
        checkpoint_id, created = ingest_external(catalog, model, labels=labels, keep_weights=keep_weights)
    verb = "catalogued" if created else "already catalogued:"
    console.print(f"{verb} checkpoint {checkpoint_id}: {arch} from {model.origin}"
                  + (f"@{model.revision[:12]}" if model.revision else "") + f" (sha256 {model.file_sha256[:12]})")


def ingest_command(
    ctx: typer.Context,
    grid: Annotated[Optional[str], typer.Argument(help="With --run-grid: a grid TOML file or a built-in grid (demo, tiny, paper). Default: demo.")] = None,
    run_grid: Annotated[bool, typer.Option("--run-grid", help="Queue the runs of GRID (idempotent) and work them off.")] = False,
    enqueue_only: Annotated[bool, typer.Option(help="Only queue the runs; leave them to `zoo worker` processes.")] = False,
    workers: Annotated[int, typer.Option(help="Worker processes to start for the grid (1: train in this process).")] = 1,
    hf: Annotated[Optional[str], typer.Option("--hf", help="Catalogue a Hugging Face hub model: ORG/NAME or ORG/NAME@REVISION, e.g. --hf timm/resnet18.a1_in1k. Needs the hub, or the repo in the local hub cache (HF_HUB_OFFLINE=1).")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option(help="Catalogue a local model file (.safetensors; .pth/.bin with --allow-pickle).")] = None,
    arch: Annotated[Optional[str], typer.Option(help="timm architecture of the --hf / --checkpoint model, e.g. resnet50.")] = None,
    reference: Reference = "timm",
    prop: Annotated[Optional[list[str]], typer.Option("--property", help="Known training-data property of the model, NAME=VALUE (repeatable), e.g. sharpness=0.01.")] = None,
    allow_pickle: AllowPickle = False,
    keep_weights: Annotated[bool, typer.Option(help="Also store full weights as safetensors in the artifact store (for a grid: its newly queued runs, at every checkpoint).")] = False,
    device: Device = None,
    grace: Grace = queue.DEFAULT_GRACE_S,
    samples: Annotated[int, typer.Option(help="Images per variant measured when datasets are registered.")] = 2000,
) -> None:
    """Fill the catalog: train a grid of models, or catalogue a hub model or a model file.

    Examples: zoo ingest --run-grid (the demo grid); zoo ingest --run-grid grids/tiny.toml;
    zoo ingest --run-grid grids/paper.toml --enqueue-only; zoo ingest --hf timm/resnet18.a1_in1k --arch resnet18;
    zoo ingest --checkpoint model.safetensors --arch resnet50 --reference timm --property sharpness=0.02
    """
    modes = [run_grid, hf is not None, checkpoint is not None]
    if sum(modes) != 1:
        raise InvalidInput("choose exactly one of --run-grid [GRID], --hf REPO, --checkpoint FILE")
    if grid is not None and not run_grid:
        raise InvalidInput(f"{grid!r}: a grid argument goes with --run-grid")
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
    forever: Annotated[bool, typer.Option(help="Keep polling for new runs instead of stopping when the queue is empty.")] = False,
    poll: Annotated[float, typer.Option(help="Seconds between polls with --forever.")] = 5.0,
    grace: Grace = queue.DEFAULT_GRACE_S,
    max_runs: Annotated[Optional[int], typer.Option(help="Stop after this many finished runs.")] = None,
    grid_id: Annotated[Optional[int], typer.Option(help="Only take runs of this grid id.")] = None,
    name: Annotated[Optional[str], typer.Option(help="Worker name recorded on claimed runs. Default: host:pid.")] = None,
    device: Device = None,
    quiet: Annotated[bool, typer.Option(help="No progress display (for batch schedulers and log files).")] = False,
) -> None:
    """Claim queued runs from the catalog and train them until none is left (or --forever).

    Start as many as you like, on as many machines, against one Postgres catalog and one artifact store.
    Example: ZOO_DATABASE_URL=postgresql://zoo@db/zoo ZOO_ARTIFACTS=/shared/zoo zoo worker --forever
    """
    from ingest.worker import SilentReporter, WorkerOptions, work

    if grid_id is not None:
        bounded_int(grid_id, "--grid-id")
    options = WorkerOptions(device=device, grace_s=grace, poll_s=poll, forever=forever, max_runs=max_runs, grid_id=grid_id)
    if name:
        options.name = name
    catalog = open_catalog(ctx)
    if quiet:
        summary = work(catalog, options, SilentReporter())
    else:
        summary = work_in_process(catalog, options, queue.status_counts(catalog, grid_id)["queued"])
    note(f"worker {options.name}: done {summary.done}, failed {summary.failed}, retried {summary.retried}, lost {summary.lost}"
         + (" (interrupted; the current run was re-queued)" if summary.interrupted else ""))
    if summary.interrupted:
        raise typer.Exit(code=130)


def _first_line(text: str | None, width: int = 80) -> str | None:
    return text.splitlines()[0][:width] if text else None


RUN_COLUMNS = ("id", "status", "arch", "optimizer", "trial", "attempts", "worker", "device", "images_per_second", "error")


def runs_command(
    ctx: typer.Context,
    status: Annotated[Optional[str], typer.Option(help="Only runs with this status: queued, running, done, failed.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Most runs to list, e.g. --limit 20.")] = None,
    retry_failed: Annotated[bool, typer.Option(help="Queue every failed run again with a fresh attempt budget.")] = False,
    as_json: AsJson = False,
    as_csv: AsCsv = False,
) -> None:
    """List training runs by status, with counts.

    Example: zoo runs --status failed
    """
    if limit is not None:
        bounded_int(limit, "--limit")
    catalog = open_catalog(ctx)
    if retry_failed:
        console.print(f"re-queued {queue.retry_failed(catalog)} failed runs")
    runs = queue.list_runs(catalog, status=status, limit=limit)
    rows = [[_first_line(r.error) if c == "error" else getattr(r, c) for c in RUN_COLUMNS] for r in runs]
    if as_json:
        emit_json([dict(zip(RUN_COLUMNS, row)) for row in rows])
        return
    emit_rows(RUN_COLUMNS, rows, as_csv=as_csv, title="runs")
    if not as_csv:
        counts = queue.status_counts(catalog)
        console.print("  ".join(f"{k}: {v}" for k, v in counts.items()))


def featurize_command(
    ctx: typer.Context,
    feature_set: Annotated[str, typer.Option(help="Feature set name or key (paper, paper-v1, ...).")] = "paper-v1",
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
    console.print(f"{fs.key}: computed {done} metric vectors" + ("" if done else " (all checkpoints already had it)"))
