"""The training loop: a timm model on one dataset variant, with first-layer snapshots at checkpoints.

Images are decoded once to a uint8 tensor on the training device; each batch is gathered there, turned
into floats, transformed by the variant (blur, noise, resize, dilation) and normalised on the device.
On CUDA the loop runs in bf16 autocast with channels_last; on CPU in float32.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ingest.device_transforms import apply_transform_torch
from ingest.first_conv import first_conv_weight
from zoo.errors import InvalidInput, ZooError
from zoo.images.transforms import transform_kind

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VAL_FRACTION = 0.1
EVAL_BATCH = 256
PREPARED_BYTES = 256 * 2**20  # largest float copy of a training set prepared once and kept on the device


class Interrupted(ZooError):
    """Training stopped because the worker was asked to stop or lost its claim."""


def pick_device(requested: str | None = None) -> torch.device:
    """``requested`` if given, else CUDA when available, else CPU."""
    if requested:
        try:
            device = torch.device(requested)
        except RuntimeError:
            raise InvalidInput(f"unknown device {requested!r}; use cpu, cuda or cuda:N", param="device") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise InvalidInput(f"`device={requested}` was asked for but no CUDA GPU is available", param="device")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class DeviceData:
    """A dataset resident on the training device: uint8 images (N, 3, H, W) and int64 labels."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    num_classes: int


def split_indices(n: int, seed: int, val_fraction: float = VAL_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """A fixed train/validation split of ``n`` images (the same for every run on the dataset)."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(n * val_fraction))) if n >= 10 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def to_device(
    images: np.ndarray, labels: np.ndarray, *, image_size: int, seed: int, device: torch.device
) -> DeviceData:
    """Move a uint8 (N, H, W, 3) image set to ``device`` once, resized to ``image_size`` if needed."""
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise InvalidInput(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    x = torch.tensor(images, device=device).permute(0, 3, 1, 2).contiguous()  # a copy: sources are read-only
    if x.shape[-1] != image_size or x.shape[-2] != image_size:
        x = F.interpolate(
            x.float(), size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False
        )
        x = x.round_().clamp_(0, 255).to(torch.uint8)
    y = torch.from_numpy(labels.astype(np.int64)).to(device)
    train, val = (torch.from_numpy(i).to(device) for i in split_indices(len(labels), seed))
    return DeviceData(x[train], y[train], x[val], y[val], int(labels.max()) + 1)


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str
    lr: float
    epochs: int
    checkpoint_every: int
    batch_size: int
    seed: int
    variant_kind: str
    variant_params: dict[str, Any]
    steps_per_epoch: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """The model at a checkpoint: its first-layer weight and, when asked for, the full state dict."""

    epoch: int
    step: int
    first_layer: np.ndarray
    val_accuracy: float | None
    train_loss: float | None
    state_dict: dict[str, torch.Tensor] | None = None


@dataclass
class TrainStats:
    images: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0


def make_optimizer(name: str, model: nn.Module, lr: float, total_steps: int) -> tuple[torch.optim.Optimizer, Any]:
    """The paper's optimisers: Adam at a fixed rate, or SGD (momentum 0.9) annealed by a cosine per step."""
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr), None
    if name == "sgd-cosine":
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
    raise InvalidInput(f"unknown optimizer {name!r}; choose adam or sgd-cosine")


class Trainer:
    """Trains ``model`` on ``data`` under ``config``; calls back at every checkpoint epoch (0 included)."""

    def __init__(self, model: nn.Module, data: DeviceData, config: TrainConfig, device: torch.device) -> None:
        if len(data.train_y) == 0:
            raise InvalidInput("the dataset has no training images")
        self.model, self.data, self.config, self.device = model.to(device), data, config, device
        self.cuda = device.type == "cuda"
        if self.cuda:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
        self.generator = torch.Generator(device=device).manual_seed(config.seed)
        per_epoch = math.ceil(len(data.train_y) / config.batch_size)
        self.steps_per_epoch = min(per_epoch, config.steps_per_epoch) if config.steps_per_epoch else per_epoch
        total = self.steps_per_epoch * config.epochs
        self.optimizer, self.scheduler = make_optimizer(config.optimizer, self.model, config.lr, total)
        self._prepared: torch.Tensor | None = None  # the training set transformed once (see _prepares_once)
        self.prepares_once = self._prepares_once(total * config.batch_size)

    def _prepares_once(self, images_trained: int) -> bool:
        """Whether to transform and normalise the whole training set once instead of every batch: when the
        variant is deterministic (every kind but per-step noise), the run trains on at least as many images
        as the set holds, and its float copy fits in :data:`PREPARED_BYTES`. Each image is transformed on
        its own, so a batch cut from the prepared set equals the batch prepared alone."""
        x = self.data.train_x
        floats = x.numel() * 4
        deterministic = transform_kind(self.config.variant_kind).category != "additive_noise"
        return deterministic and len(x) > 0 and images_trained >= len(x) and floats <= PREPARED_BYTES

    def _training_batch(self, index: torch.Tensor) -> torch.Tensor | None:
        """The prepared training images at ``index``, or None where batches are prepared as they come."""
        if not self.prepares_once:
            return None
        if self._prepared is None:
            self._prepared = self.prepare(self.data.train_x, self.generator)
        return self._prepared[index]

    def prepare(self, x_uint8: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """uint8 batch → transformed, normalised float batch, all on the device."""
        x = x_uint8.float().div_(255.0)
        x = apply_transform_torch(self.config.variant_kind, self.config.variant_params, x, generator)
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.cuda else x

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.cuda):
            return self.model(x)

    def train_step(self, x_uint8: torch.Tensor, y: torch.Tensor, prepared: torch.Tensor | None = None) -> torch.Tensor:
        """One optimiser step on a uint8 batch (or on its ``prepared`` float twin, see :meth:`_prepares_once`)."""
        x = prepared if prepared is not None else self.prepare(x_uint8, self.generator)
        loss = F.cross_entropy(self._forward(x).float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return loss.detach()

    @torch.no_grad()
    def evaluate(self) -> float | None:
        """Accuracy on the validation split, under the same variant (noise drawn from a fixed seed)."""
        if len(self.data.val_y) == 0:
            return None
        self.model.eval()
        generator = torch.Generator(device=self.device).manual_seed(self.config.seed + 1)
        correct = torch.zeros((), device=self.device)
        for start in range(0, len(self.data.val_y), EVAL_BATCH):
            x = self.prepare(self.data.val_x[start : start + EVAL_BATCH], generator)
            correct += (self._forward(x).argmax(1) == self.data.val_y[start : start + EVAL_BATCH]).sum()
        self.model.train()
        return float(correct.item()) / len(self.data.val_y)

    def snapshot(self, epoch: int, step: int, loss: float | None, keep_weights: bool) -> Snapshot:
        state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()} if keep_weights else None
        return Snapshot(epoch, step, first_conv_weight(self.model), self.evaluate(), loss, state)

    def run(
        self,
        on_checkpoint: Callable[[Snapshot], None],
        *,
        keep_weights: bool = False,
        should_stop: Callable[[], bool] = lambda: False,
        on_step: Callable[[int, int, float, float], None] | None = None,
    ) -> TrainStats:
        """Train for ``epochs``; ``on_step(epoch, step, loss, images_per_second)`` reports progress."""
        self.model.train()
        stats, step = TrainStats(), 0
        on_checkpoint(self.snapshot(0, 0, None, keep_weights))
        order = torch.Generator().manual_seed(self.config.seed)
        n = len(self.data.train_y)
        batches: list[torch.Tensor] = []
        for epoch in range(1, self.config.epochs + 1):
            started, epoch_loss = time.perf_counter(), torch.zeros((), device=self.device)
            for _ in range(self.steps_per_epoch):
                if should_stop():
                    raise Interrupted("training stopped before the run finished")
                if not batches:
                    batches = list(torch.randperm(n, generator=order).to(self.device).split(self.config.batch_size))
                index = batches.pop(0)
                epoch_loss += self.train_step(
                    self.data.train_x[index], self.data.train_y[index], self._training_batch(index)
                )
                step += 1
                stats.images += len(index)
                if on_step is not None and step % 4 == 0:
                    elapsed = stats.seconds + time.perf_counter() - started
                    on_step(
                        epoch,
                        step,
                        float(epoch_loss.item()) / max(1, step - (epoch - 1) * self.steps_per_epoch),
                        stats.images / max(elapsed, 1e-9),
                    )
            if self.cuda:
                torch.cuda.synchronize()
            stats.seconds += time.perf_counter() - started
            mean_loss = float(epoch_loss.item()) / self.steps_per_epoch
            stats.losses.append(mean_loss)
            if epoch % self.config.checkpoint_every == 0 or epoch == self.config.epochs:
                on_checkpoint(self.snapshot(epoch, step, mean_loss, keep_weights))
        return stats
