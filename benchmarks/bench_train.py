"""Training throughput of the worker's loop against a bare timm loop, and the catalog's per-checkpoint cost.

Both loops train the same timm model, on the same uint8 images resident on the same device, with the same
batch size and optimiser. The worker's loop (``ingest.train.Trainer``) also applies the dataset variant on
the device every batch (here a 7x7 Gaussian blur), normalises, and on CUDA runs bf16 autocast with
channels_last; the bare loop only converts and normalises. The ratio is worker / bare images per second,
measured in this run, interleaved to share the machine's state. Then the catalog's own work per checkpoint
(first-layer extraction, paper-v1 metrics, the database write) is timed on a SQLite catalog.

Usage: python benchmarks/bench_train.py [--arch resnet18] [--size 32] [--batch 32] [--steps 40] [--device cpu]
Figures only; nothing passes or fails.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import tempfile
import time

import numpy as np
import timm
import torch
import torch.nn.functional as F

from ingest.first_conv import first_conv_weight
from ingest.train import IMAGENET_MEAN, IMAGENET_STD, TrainConfig, Trainer, pick_device, to_device
from zoo.catalog import Catalog
from zoo.checkpoints import ReferenceInfo, add_checkpoint, compute_metrics, put_reference
from zoo.images.sources import load_source

WARMUP = 3


def bare_loop(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, steps: int) -> float:
    """Images per second of the plainest timm loop: gather, to float, normalise, forward, backward, step."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    generator = torch.Generator().manual_seed(0)
    model.train()

    def step() -> None:
        index = torch.randint(0, len(y), (batch,), generator=generator).to(x.device)
        loss = F.cross_entropy(model((x[index].float() / 255.0 - mean) / std), y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(WARMUP):
        step()
    _sync(x.device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(x.device)
    return steps * batch / (time.perf_counter() - start)


def worker_loop(model: torch.nn.Module, data, batch: int, steps: int, device: torch.device) -> float:  # type: ignore[no-untyped-def]
    """Images per second of the worker's Trainer (variant applied on the device every batch)."""
    epochs = math.ceil(steps / math.ceil(len(data.train_y) / batch))  # whole epochs covering `steps`
    config = TrainConfig(
        optimizer="adam",
        lr=1e-4,
        epochs=epochs,
        checkpoint_every=epochs,
        batch_size=batch,
        seed=0,
        variant_kind="blur",
        variant_params={"kernel": 7, "sigma": 2.0},
    )
    trainer = Trainer(model, data, config, device)
    for _ in range(WARMUP):
        trainer.train_step(data.train_x[:batch], data.train_y[:batch])
    stats = trainer.run(lambda snapshot: None)  # snapshots are the catalog's work, timed separately below
    return stats.images_per_second


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def per_checkpoint_seconds(model: torch.nn.Module, repeats: int) -> list[float]:
    """Extract the first layer, compute paper-v1, write the checkpoint row: the catalog's cost per checkpoint."""
    reference = first_conv_weight(model)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        catalog = Catalog.open(f"sqlite:///{folder}/bench.db", artifacts=f"{folder}/artifacts")
        with catalog.session(write=True) as session:
            ref_id = put_reference(
                session,
                ReferenceInfo(key="bench", kind="random", arch="bench", source="bench", layer_name="conv1.weight"),
                reference,
            )
        times = []
        for epoch in range(repeats):
            with torch.no_grad():
                model.conv1.weight.add_(torch.from_numpy(rng.normal(0, 1e-3, reference.shape).astype(np.float32)))
            start = time.perf_counter()
            learned = first_conv_weight(model)
            metrics = compute_metrics(learned - reference, ("paper-v1",))
            with catalog.session(write=True) as session:
                add_checkpoint(
                    session,
                    source="file",
                    arch="bench",
                    reference=ref_id,
                    layer_name="conv1.weight",
                    learned=learned,
                    delta=learned - reference,
                    metrics=metrics,
                    epoch=epoch,
                )
            times.append(time.perf_counter() - start)
        catalog.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = pick_device(args.device)
    images = load_source("natural", image_size=args.size, seed=0, n_per_class=40)
    data = to_device(images.images, images.labels, image_size=args.size, seed=0, device=device)
    print(f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, device {device}")
    print(f"{args.arch}, {args.size} px, batch {args.batch}, {args.steps} steps per measurement, {args.rounds} rounds")
    bare, worker = [], []

    def measure_bare() -> None:
        torch.manual_seed(0)
        bare.append(
            bare_loop(
                timm.create_model(args.arch, num_classes=data.num_classes).to(device),
                data.train_x,
                data.train_y,
                args.batch,
                args.steps,
            )
        )

    def measure_worker() -> None:
        torch.manual_seed(0)
        worker.append(
            worker_loop(
                timm.create_model(args.arch, num_classes=data.num_classes), data, args.batch, args.steps, device
            )
        )

    for round_ in range(args.rounds):  # interleaved, alternating who goes first, so both see the same machine
        for measure in (measure_bare, measure_worker) if round_ % 2 == 0 else (measure_worker, measure_bare):
            measure()
    b, w = statistics.median(bare), statistics.median(worker)
    print(f"bare timm loop      : {b:8.1f} images/s  (rounds: {', '.join(f'{v:.0f}' for v in bare)})")
    print(f"worker's loop       : {w:8.1f} images/s  (rounds: {', '.join(f'{v:.0f}' for v in worker)})")
    print(f"ratio worker / bare : {w / b:8.3f}   (goal >= 0.95)")
    times = per_checkpoint_seconds(timm.create_model(args.arch, num_classes=10), repeats=50)
    print(
        f"catalog work per checkpoint (extract + paper-v1 metrics + SQLite write): median {statistics.median(times) * 1000:.1f} ms, "
        f"p90 {np.percentile(times, 90) * 1000:.1f} ms over {len(times)}   (goal <= 50 ms)"
    )


if __name__ == "__main__":
    main()
