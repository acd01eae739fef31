"""The worker's Trainer prepares a deterministic variant's training set once instead of every batch
(ingest.train.Trainer._prepares_once): same batches, same training, and per-step noise still drawn per batch."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch

from ingest.train import TrainConfig, Trainer, to_device
from zoo.images.transforms import PAPER_VARIANTS


def variant_params_of(name: str) -> tuple[str, dict]:
    spec = next(v for v in PAPER_VARIANTS if v.name == name)
    return spec.kind, dict(spec.params)


def _trainer(kind: str, params: dict, *, steps: int, prepares_once: bool | None = None) -> Trainer:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(48, 16, 16, 3), dtype=np.uint8)
    data = to_device(images, rng.integers(0, 4, 48), image_size=16, seed=0, device=torch.device("cpu"))
    torch.manual_seed(0)
    model = timm.create_model("resnet18", num_classes=4)
    config = TrainConfig("adam", 1e-3, 2, 1, 8, 0, kind, params, steps_per_epoch=steps)
    trainer = Trainer(model, data, config, torch.device("cpu"))
    if prepares_once is not None:
        trainer.prepares_once = prepares_once
    return trainer


def _first_layers(trainer: Trainer) -> list[np.ndarray]:
    snapshots: list[np.ndarray] = []
    trainer.run(lambda snapshot: snapshots.append(snapshot.first_layer))
    return snapshots


def test_a_blurred_set_prepared_once_trains_exactly_as_batch_by_batch() -> None:
    kind, params = variant_params_of("blur-k7-s2")
    once = _trainer(kind, params, steps=6)
    assert once.prepares_once  # 2 epochs x 6 steps x 8 images >= the 38 training images
    batch_by_batch = _trainer(kind, params, steps=6, prepares_once=False)
    for a, b in zip(_first_layers(once), _first_layers(batch_by_batch)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    index = torch.arange(5)
    np.testing.assert_allclose(
        once._training_batch(index).numpy(),
        once.prepare(once.data.train_x[index], once.generator).numpy(),
        rtol=0,
        atol=1e-6,
    )


@pytest.mark.parametrize(
    ("variant", "steps", "expected"),
    [
        ("noise-0.5", 6, False),  # fresh noise every step: never prepared once
        ("blur-k7-s2", 1, False),  # 2 x 1 x 8 = 16 images trained on, fewer than the set holds
        ("original", 6, True),
        ("resize-0.5", 6, True),
    ],
)
def test_only_deterministic_variants_of_runs_that_see_the_whole_set_are_prepared_once(
    variant: str, steps: int, expected: bool
) -> None:
    kind, params = variant_params_of(variant)
    trainer = _trainer(kind, params, steps=steps)
    assert trainer.prepares_once is expected
    assert (trainer._training_batch(torch.arange(3)) is None) is not expected
