"""Grids that vary the training recipe, the image size and the noise draw, and what the worker makes of them."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from ingest.references import resolve_reference
from ingest.worker import ReferenceCache, WorkerOptions, work
from zoo import queue
from zoo.datasets import get_dataset, load_images, variant_images
from zoo.enqueue import enqueue_grid
from zoo.errors import InvalidInput
from zoo.grids import builtin_grid_path, load_grid, parse_grid
from zoo.images.transforms import PAPER_VARIANTS

BASE = {"archs": ["resnet18", "mobilenetv3_large_100"], "datasets": [{"name": "d", "source": "natural"}]}


def all_variants(grid) -> dict[str, tuple[str, ...]]:  # type: ignore[no-untyped-def]
    every = tuple(v.name for v in PAPER_VARIANTS)
    return {d.name: every if d.variants == ("all",) else d.variants for d in grid.datasets}


def test_existing_grids_keep_their_run_keys() -> None:
    # Keys computed by the release before recipes, per-dataset image sizes and the noise draw existed.
    runs = load_grid(builtin_grid_path("tiny")).runs({"natural-16": ("original", "blur-k7-s2")})
    assert runs[0].key == "01973ca58d52f8ac19b78ab892a265a94425ede527290ddc6fd05a15a0b141c1"
    assert runs[-1].key == "9d86ec466dff28709f59d184669bbbac90a108fcea4ea47fc66eace4ee593f97"
    spec = load_grid(builtin_grid_path("tiny")).to_dict()
    assert not {"recipes", "recipe_assignment", "noise"} & set(spec) and "image_size" not in spec["datasets"][0]


def test_rotated_recipes_give_every_architecture_and_variant_every_recipe_once_per_cell() -> None:
    recipes = [
        {"lr": 1e-4, "steps_per_epoch": 2},
        {"lr": 3e-4, "steps_per_epoch": 1},
        {"optimizer": "sgd-cosine", "lr": 0.05, "batch_size": 8},
    ]
    grid = parse_grid(
        {**BASE, "recipes": recipes, "recipe_assignment": "rotate", "steps_per_epoch": 5, "batch_size": 16}
    )
    runs = grid.runs(all_variants(grid))
    assert len(runs) == 20 * 2  # one recipe per (variant, arch): no multiplication
    recipe_of = lambda r: (r.optimizer, r.lr, r.steps_per_epoch, r.batch_size)  # noqa: E731
    assert set(map(recipe_of, runs)) == {("adam", 1e-4, 2, 16), ("adam", 3e-4, 1, 16), ("sgd-cosine", 0.05, 5, 8)}
    for arch in BASE["archs"]:
        assert len({recipe_of(r) for r in runs if r.arch == arch}) == 3
    assert all(len({recipe_of(r) for r in runs if r.variant == v}) == 2 for v in all_variants(grid)["d"])
    crossed = parse_grid({**BASE, "recipes": recipes}).runs(all_variants(grid))
    assert len(crossed) == 20 * 2 * 3 and len({r.key for r in crossed}) == len(crossed)


def test_datasets_can_have_their_own_image_size_and_noise_draw_and_only_the_new_setting_changes_keys() -> None:
    datasets = [
        {"name": "d", "source": "natural"},
        {"name": "e", "source": "natural", "image_size": 48, "noise": "fixed"},
    ]
    grid = parse_grid({**BASE, "datasets": datasets, "image_size": 24})
    runs = grid.runs({"d": ("noise-0.5",), "e": ("noise-0.5",)})
    assert Counter((r.dataset, r.image_size, r.noise) for r in runs) == {
        ("d", 24, "per-step"): 2,
        ("e", 48, "fixed"): 2,
    }
    plain = parse_grid({**BASE, "image_size": 24}).runs({"d": ("noise-0.5",)})
    assert [r.key for r in runs[:2]] == [r.key for r in plain]
    fixed = parse_grid({**BASE, "image_size": 24, "noise": "fixed"}).runs({"d": ("noise-0.5",)})
    assert not {r.key for r in fixed} & {r.key for r in plain}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"recipes": [{"lr": 1e-4}], "optimizers": ["adam"]}, "either optimizers or recipes"),
        ({"recipes": [{"lr": 1e-4, "momentum": 0.9}]}, "unknown key"),
        ({"recipes": [{"lr": 1e-4}, {"lr": 1e-4}]}, "must differ"),
        ({"recipes": [{"optimizer": "lion"}]}, "unknown optimizer"),
        ({"recipes": [{"lr": 1e-4, "steps_per_epoch": 0}]}, "steps_per_epoch"),
        ({"recipe_assignment": "shuffle"}, "recipe_assignment"),
        ({"noise": "sometimes"}, "noise must be one of"),
        ({"datasets": [{"name": "d", "source": "natural", "image_size": 4}]}, "image_size"),
    ],
)
def test_bad_recipe_image_size_and_noise_settings_are_refused_naming_the_key(extra: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_grid({**BASE, **extra})


def test_the_demo_grid_varies_recipes_image_sizes_scales_and_noise_within_its_budget() -> None:
    grid = load_grid(builtin_grid_path("demo"))
    runs = grid.runs(all_variants(grid))
    assert len(runs) <= 480 and grid.trials == 1
    assert len({(r.optimizer, r.lr, r.steps_per_epoch) for r in runs}) == 4 and {r.image_size for r in runs} == {32, 48}
    assert {r.optimizer for r in runs} == {"adam", "sgd-cosine"}  # zoo evaluate can leave one optimizer out
    kernels = {"resnet18": 7, "resnet50": 7, "mobilenetv3_large_100": 3, "regnetx_002": 3}
    kernels |= {"convnext_tiny": 4, "edgenext_xx_small": 4}
    assert set(grid.archs) == set(kernels)  # two networks of each first-layer kernel size
    assert {r.noise for r in runs} == {"per-step", "fixed"}
    sources = Counter(d.source for d in grid.datasets)
    assert sources["plankton"] >= 1 and len({d.params["scale"] for d in grid.datasets if d.source == "shapes"}) >= 4


def test_a_cached_reference_is_the_model_a_fresh_resolution_builds() -> None:
    cache = ReferenceCache(size=1)
    for arch in ("resnet18", "resnet18", "mobilenetv3_large_100"):
        torch.manual_seed(11)
        cached = cache.get("random", arch, num_classes=5, default_seed=2)
        torch.manual_seed(11)
        fresh = resolve_reference("random", arch, num_classes=5, default_seed=2)
        assert cached.info == fresh.info and np.array_equal(cached.weight, fresh.weight)
        assert all(
            torch.equal(a, b) for a, b in zip(cached.model.state_dict().values(), fresh.model.state_dict().values())
        )
    assert cache.get("random", "mobilenetv3_large_100", num_classes=5, default_seed=2).model is not cached.model
    assert list(cache.items) == [("random", "mobilenetv3_large_100", 2)]


def test_a_saved_noise_dataset_is_measured_and_trained_on_its_clipped_8_bit_images(catalog) -> None:  # type: ignore[no-untyped-def]
    grid = parse_grid(
        {
            "name": "saved",
            "archs": ["resnet18"],
            "image_size": 16,
            "batch_size": 8,
            "steps_per_epoch": 1,
            "epochs": 1,
            "datasets": [
                {
                    "name": "noisy",
                    "source": "natural",
                    "noise": "fixed",
                    "params": {"n_per_class": 2},
                    "variants": ["noise-1"],
                }
            ],
        }
    )
    enqueue_grid(catalog, grid, n_samples=20)
    dataset = get_dataset(catalog, "noisy")
    variant = next(v for v in dataset.variants if v.name == "noise-1")
    assert variant.params == {"sigma": 1.0, "draw": "fixed"}
    images = variant_images(load_images(catalog, dataset)[0], variant)
    assert images.min() == 0.0 and images.max() == 1.0  # clipped, unlike per-step noise
    assert 0.1 < variant.property("noisiness") < 0.7  # clipping takes a sigma of 1 well below 1
    summary = work(catalog, WorkerOptions(grid_id=None, grace_s=30))
    assert summary.done == 1 and queue.status_counts(catalog)["done"] == 1
    with pytest.raises(InvalidInput, match=r"fixed noise\); choose another name"):
        from zoo.datasets import add_dataset

        add_dataset(catalog, "noisy", "natural", {"n_per_class": 2}, image_size=16)
