"""The worker loop: claim a queued run, train it, write its checkpoints, repeat.

Any number of workers on any number of machines can share one catalog. A worker heartbeats while it
trains; if its heartbeat goes stale (the process died or hung) another worker re-queues and redoes the
run. Results are written in one transaction fenced on the claim, so a worker that lost its claim writes
nothing, and a run never ends up with two sets of checkpoints. SIGTERM or Ctrl-C puts the current run
back in the queue untouched. A run that raises anything else is recorded with its error (retried or
failed) and the worker goes on to the next one.

Test hook: with ``ZOO_TEST_HOLD_FILE=PATH`` a run writes ``PATH.started`` (its run id) after its first
training step and then waits until ``PATH.release`` exists, the worker is asked to stop or loses its claim,
or ``HOLD_LIMIT_S`` passes; process tests use it to act on a run that is surely mid-training.
"""

from __future__ import annotations

import copy
import os
import signal
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from sqlalchemy.orm import Session

from ingest.references import ResolvedReference, resolve_reference
from ingest.train import DeviceData, Interrupted, Snapshot, TrainConfig, Trainer, pick_device, to_device
from zoo import queue
from zoo.catalog import Catalog
from zoo.checkpoints import add_checkpoint, compute_metrics, put_reference
from zoo.datasets import get_variant, load_images, variant_is_saved, variant_uint8
from zoo.errors import ZooError
from zoo.filters import DEFAULT_FEATURE_SET
from zoo.grids import parse_reference
from zoo.records import DatasetRecord, RunRecord, VariantRecord


class Reporter(Protocol):
    """Progress callbacks; the CLI draws Rich progress bars, tests pass :class:`SilentReporter`."""

    def run_started(self, run: RunRecord, title: str, total_steps: int) -> None: ...
    def step(self, epoch: int, step: int, loss: float, images_per_second: float) -> None: ...
    def run_finished(self, run: RunRecord, status: str, detail: str) -> None: ...


class SilentReporter:
    def run_started(self, run: RunRecord, title: str, total_steps: int) -> None:
        pass

    def step(self, epoch: int, step: int, loss: float, images_per_second: float) -> None:
        pass

    def run_finished(self, run: RunRecord, status: str, detail: str) -> None:
        pass


@dataclass
class WorkerOptions:
    name: str = field(default_factory=queue.default_worker_name)
    device: str | None = None
    grace_s: float = queue.DEFAULT_GRACE_S
    heartbeat_s: float | None = None
    poll_s: float = 5.0
    forever: bool = False
    max_runs: int | None = None
    grid_id: int | None = None
    feature_sets: tuple[str, ...] = (DEFAULT_FEATURE_SET,)

    def __post_init__(self) -> None:
        queue.check_grace(self.grace_s, self.heartbeat_s)

    @property
    def heartbeat_interval(self) -> float:
        return queue.heartbeat_interval(self.grace_s, self.heartbeat_s)


@dataclass
class WorkerSummary:
    done: int = 0
    failed: int = 0
    retried: int = 0
    lost: int = 0
    interrupted: bool = False


SUMMARY_FIELD = {"done": "done", "failed": "failed", "queued": "retried", "lost": "lost"}


class StopRequested:
    """Set by SIGTERM; the training loop checks it between steps."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, *_args: Any) -> None:
        self.event.set()


class Heartbeat(threading.Thread):
    """Refreshes the claim every ``interval`` seconds; sets :attr:`lost` when the claim is gone."""

    def __init__(self, catalog: Catalog, run: RunRecord, interval: float) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{run.id}")
        self.catalog, self.run_record, self.interval = catalog, run, interval
        self.lost, self.stopped = threading.Event(), threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                if not queue.heartbeat(self.catalog, self.run_record):
                    self.lost.set()
                    return
            except Exception:  # a busy, locked or briefly unreachable database: try again next beat
                continue

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        self.join()


@dataclass(frozen=True)
class RunInputs:
    dataset: DatasetRecord
    variant: VariantRecord
    title: str

    @property
    def per_batch(self) -> tuple[str, dict[str, Any]]:
        """The transform applied every batch: none for a saved (fixed-noise) variant, whose images are made once."""
        return ("identity", {}) if variant_is_saved(self.variant) else (self.variant.kind, dict(self.variant.params))


def _run_inputs(catalog: Catalog, run: RunRecord) -> RunInputs:
    dataset, variant = get_variant(catalog, run.variant_id)
    title = f"run {run.id}: {run.arch} on {dataset.name}/{variant.name} ({run.optimizer}, trial {run.trial})"
    return RunInputs(dataset, variant, title)


class DataCache:
    """The last few datasets moved to the device, so consecutive runs on one dataset skip the upload.

    A saved (fixed-noise) variant is its own entry: its noisy uint8 images, made once here.
    """

    def __init__(self, size: int = 2) -> None:
        self.size, self.items = size, OrderedDict[tuple[Any, ...], DeviceData]()

    def get(
        self,
        catalog: Catalog,
        dataset: DatasetRecord,
        image_size: int,
        device: torch.device,
        variant: VariantRecord | None = None,
    ) -> DeviceData:
        saved = variant is not None and variant_is_saved(variant)
        key = (dataset.images_sha256, image_size, dataset.seed, str(device)) + ((variant.id,) if saved else ())  # type: ignore[union-attr]
        if key not in self.items:
            images, labels = load_images(catalog, dataset)
            if saved:
                images = variant_uint8(images, variant)  # type: ignore[arg-type]
            self.items[key] = to_device(images, labels, image_size=image_size, seed=dataset.seed, device=device)
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        self.items.move_to_end(key)
        return self.items[key]


class ReferenceCache:
    """Seeded random-init reference models, built once per (spec, arch, seed) and copied for each run.

    ``timm.create_model`` with its weight init costs a worker 0.1-0.3 s of CPU per run (a deep copy
    0.03-0.09 s); a demo grid reuses each (architecture, trial) reference for every run. A copy is exactly
    what :func:`resolve_reference` builds: the init draws from its own forked generator, and the resized
    classifier is drawn here, from the global generator, as there. Other reference kinds are not cached.
    """

    def __init__(self, size: int = 8) -> None:
        self.size, self.items = size, OrderedDict[tuple[str, str, int], ResolvedReference]()

    def get(self, spec: str, arch: str, *, num_classes: int, default_seed: int) -> ResolvedReference:
        if parse_reference(spec)[0] != "random":
            return resolve_reference(spec, arch, num_classes=num_classes, default_seed=default_seed)
        key = (spec, arch, default_seed)
        pristine = self.items.pop(key, None) or resolve_reference(spec, arch, default_seed=default_seed)
        self.items[key] = pristine  # most recently used last
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        model = copy.deepcopy(pristine.model)
        if getattr(model, "num_classes", num_classes) != num_classes:
            model.reset_classifier(num_classes)
        return ResolvedReference(model, pristine.info, pristine.weight)


def _weights_artifact(catalog: Catalog, state: dict[str, torch.Tensor] | None) -> str | None:
    if state is None:
        return None
    from safetensors.torch import save

    return catalog.store.put_bytes(save({k: v.contiguous() for k, v in state.items()}))


def _writer(
    run: RunRecord,
    reference: ResolvedReference,
    snapshots: list[Snapshot],
    metrics: list[Any],
    weights: list[str | None],
):  # type: ignore[no-untyped-def]
    def write(session: Session) -> int:
        reference_id = put_reference(session, reference.info, reference.weight)
        for snap, vectors, weights_sha in zip(snapshots, metrics, weights):
            add_checkpoint(
                session,
                source="run",
                arch=run.arch,
                reference=reference_id,
                layer_name=reference.info.layer_name,
                learned=snap.first_layer,
                delta=snap.first_layer - reference.weight,
                metrics=vectors,
                run_id=run.id,
                epoch=snap.epoch,
                step=snap.step,
                val_accuracy=snap.val_accuracy,
                train_loss=snap.train_loss,
                weights_sha256=weights_sha,
            )
        return reference_id  # stored on the run by queue.complete

    return write


HOLD_ENV = "ZOO_TEST_HOLD_FILE"
HOLD_LIMIT_S = 120.0


class HoldForTests:
    """The ``ZOO_TEST_HOLD_FILE`` hook (see the module docstring), wrapped around ``should_stop``."""

    def __init__(self, run: RunRecord, should_stop: Callable[[], bool], wait: Callable[[float], object]) -> None:
        path = os.environ.get(HOLD_ENV)
        self.path, self.run_id, self.should_stop, self.wait, self.calls = (
            Path(path) if path else None,
            run.id,
            should_stop,
            wait,
            0,
        )

    def __call__(self) -> bool:
        self.calls += 1
        if self.path is not None and self.calls == 2:  # asked before every step: the first step is done
            started = self.path.with_name(self.path.name + ".started")
            partial = started.with_name(started.name + ".tmp")
            partial.write_text(str(self.run_id))
            partial.replace(started)
            release, deadline = self.path.with_name(self.path.name + ".release"), time.monotonic() + HOLD_LIMIT_S
            while not release.exists() and not self.should_stop() and time.monotonic() < deadline:
                self.wait(0.05)
        return self.should_stop()


def _failed(catalog: Catalog, run: RunRecord, error: Exception) -> str:
    """Record an unexpected error on the run (retry or fail it); lost when even that cannot be written."""
    detail = f"{type(error).__name__}: {error}"
    if not isinstance(error, ZooError):
        detail += "\n" + "".join(traceback.format_exception(error, limit=-5))
    try:
        return queue.fail(catalog, run, detail)
    except Exception:  # the database is gone too: the claim goes stale and another worker re-queues it
        return "lost"


def execute_run(
    catalog: Catalog,
    run: RunRecord,
    options: WorkerOptions,
    cache: DataCache,
    stop: StopRequested,
    reporter: Reporter,
    device: torch.device | None = None,
    references: ReferenceCache | None = None,
) -> str:
    """Train one claimed run and write its results; returns done, queued (retry), failed, lost or interrupted.

    Any exception from the run (an ``AssertionError`` deep in timm as much as a ``ZooError``) is stored on
    it, with its type, and the run is retried or failed; only KeyboardInterrupt and SystemExit propagate,
    after giving the run back to the queue.
    """
    with Heartbeat(catalog, run, options.heartbeat_interval) as beat:
        try:
            device = device or pick_device(options.device)
            inputs = _run_inputs(catalog, run)
            torch.manual_seed(run.seed)
            data = cache.get(catalog, inputs.dataset, run.image_size, device, inputs.variant)
            references = references or ReferenceCache(size=0)
            reference = references.get(
                run.reference_spec, run.arch, num_classes=data.num_classes, default_seed=run.trial
            )
            config = TrainConfig(
                optimizer=run.optimizer,
                lr=run.lr,
                epochs=run.epochs,
                checkpoint_every=run.checkpoint_every,
                batch_size=run.batch_size,
                seed=run.seed,
                variant_kind=inputs.per_batch[0],
                variant_params=inputs.per_batch[1],
                steps_per_epoch=run.steps_per_epoch,
            )
            trainer = Trainer(reference.model, data, config, device)
            reporter.run_started(run, inputs.title, trainer.steps_per_epoch * run.epochs)
            snapshots: list[Snapshot] = []
            should_stop = HoldForTests(run, lambda: stop.event.is_set() or beat.lost.is_set(), stop.event.wait)
            stats = trainer.run(
                snapshots.append, keep_weights=run.keep_weights, on_step=reporter.step, should_stop=should_stop
            )
            metrics = [compute_metrics(s.first_layer - reference.weight, options.feature_sets) for s in snapshots]
            weights = [_weights_artifact(catalog, s.state_dict) for s in snapshots]  # files first, then rows
        except Interrupted:
            if beat.lost.is_set():
                return "lost"
            queue.release(catalog, run)
            return "interrupted"
        except (KeyboardInterrupt, SystemExit):
            queue.release(catalog, run)
            raise
        except Exception as error:
            return _failed(catalog, run, error)
    try:
        queue.complete(
            catalog,
            run,
            _writer(run, reference, snapshots, metrics, weights),
            device=str(device),
            train_seconds=stats.seconds,
            images_per_second=stats.images_per_second,
        )
    except queue.ClaimLost:
        return "lost"
    except (KeyboardInterrupt, SystemExit):
        queue.release(catalog, run)
        raise
    except Exception as error:
        return _failed(catalog, run, error)
    return "done"


def work(catalog: Catalog, options: WorkerOptions | None = None, reporter: Reporter | None = None) -> WorkerSummary:
    """Claim and execute runs until the queue is empty (or forever); returns what happened."""
    options, reporter = options or WorkerOptions(), reporter or SilentReporter()
    summary, cache, stop, references = WorkerSummary(), DataCache(), StopRequested(), ReferenceCache()
    device = pick_device(options.device)  # a bad --device stops the worker before it claims anything
    previous = signal.signal(signal.SIGTERM, stop) if threading.current_thread() is threading.main_thread() else None
    try:
        while not stop.event.is_set() and (
            options.max_runs is None or summary.done + summary.failed < options.max_runs
        ):
            run = queue.claim_next(
                catalog,
                options.name,
                grace_s=options.grace_s,
                heartbeat_s=options.heartbeat_interval,
                grid_id=options.grid_id,
            )
            if run is None:
                if not options.forever:
                    break
                stop.event.wait(options.poll_s)
                continue
            status = execute_run(catalog, run, options, cache, stop, reporter, device, references)
            reporter.run_finished(run, status, "")
            if status == "interrupted":
                summary.interrupted = True
                break
            counter = SUMMARY_FIELD[status]
            setattr(summary, counter, getattr(summary, counter) + 1)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return summary
