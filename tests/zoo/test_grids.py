"""Grids are validated before anything is queued: one line naming the key, for every type and range."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from clirunner import run_zoo
from gridfiles import write_grid
from zoo.catalog import Catalog
from zoo.db.models import BaseDataset, Run
from zoo.errors import InvalidInput
from zoo.grids import GRID_SEED_HINT, RunSpec, builtin_grid_path, load_grid, parse_grid
from zoo.images.sources import source_kinds


def _grid(**settings: Any) -> dict[str, Any]:
    grid: dict[str, Any] = {"name": "g", "archs": ["resnet18"], "datasets": [{"name": "d", "source": "natural"}]}
    grid.update(settings)
    return {k: v for k, v in grid.items() if v is not None}


WHOLE = "must be a whole number from"
BAD_GRIDS = [
    ({"keep_weights": "false"}, "grid: keep_weights must be true or false (a TOML boolean, no quotes), got 'false'"),
    ({"keep_weights": 1}, "grid: keep_weights must be true or false (a TOML boolean, no quotes), got 1"),
    ({"seed": "abc"}, f"grid: {GRID_SEED_HINT}"),
    ({"seed": math.inf}, f"grid: {GRID_SEED_HINT}"),
    ({"seed": 3}, f"grid: {GRID_SEED_HINT}"),
    ({"epochs": 1_000_000_000}, f"grid: epochs {WHOLE} 1 to 10,000, got 1000000000"),
    ({"epochs": 0}, f"grid: epochs {WHOLE} 1 to 10,000, got 0"),
    ({"epochs": 2.5}, f"grid: epochs {WHOLE} 1 to 10,000, got 2.5"),
    ({"epochs": True}, f"grid: epochs {WHOLE} 1 to 10,000, got True"),
    ({"checkpoint_every": "1"}, f"grid: checkpoint_every {WHOLE} 1 to 10,000, got '1'"),
    ({"trials": 0}, f"grid: trials {WHOLE} 1 to 1,000, got 0"),
    ({"trials": -3}, f"grid: trials {WHOLE} 1 to 1,000, got -3"),
    ({"batch_size": 0}, f"grid: batch_size {WHOLE} 1 to 65,536, got 0"),
    ({"batch_size": -8}, f"grid: batch_size {WHOLE} 1 to 65,536, got -8"),
    ({"image_size": 0}, f"grid: image_size {WHOLE} 8 to 4,096, got 0"),
    ({"image_size": -32}, f"grid: image_size {WHOLE} 8 to 4,096, got -32"),
    ({"image_size": 100_000}, f"grid: image_size {WHOLE} 8 to 4,096, got 100000"),
    ({"steps_per_epoch": 0}, f"grid: steps_per_epoch {WHOLE} 1 to 1,000,000, got 0"),
    ({"max_attempts": 0}, f"grid: max_attempts {WHOLE} 1 to 100, got 0"),
    (
        {"optimizers": [{"name": "adam", "lr": math.inf}]},
        "grid.optimizers[0]: lr of adam must be a number above 0 and at most 10, got inf",
    ),
    (
        {"optimizers": [{"name": "adam", "lr": math.nan}]},
        "grid.optimizers[0]: lr of adam must be a number above 0 and at most 10, got nan",
    ),
    (
        {"optimizers": [{"name": "adam", "lr": 0}]},
        "grid.optimizers[0]: lr of adam must be a number above 0 and at most 10, got 0",
    ),
    (
        {"optimizers": ["adam", {"name": "sgd-cosine", "lr": -0.1}]},
        "grid.optimizers[1]: lr of sgd-cosine must be a number above 0 and at most 10, got -0.1",
    ),
    (
        {"optimizers": [{"name": "adam", "lr": "1e-4"}]},
        "grid.optimizers[0]: lr of adam must be a number above 0 and at most 10, got '1e-4'",
    ),
    (
        {"optimizers": [{"name": "adam", "lr": 1e-4, "momentum": 0.9}]},
        "grid.optimizers[0]: unknown key(s) momentum; allowed: lr, name",
    ),
    ({"archs": ["resnet18", ""]}, "grid: archs must be a non-empty list of timm model names, got ['resnet18', '']"),
    ({"archs": "resnet18"}, "grid: archs must be a non-empty list of timm model names, got 'resnet18'"),
    (
        {"reference": 5},
        "reference must be a string (random[:SEED], timm, hub:ORG/NAME[@REVISION] or file:PATH.safetensors), got 5",
    ),
    ({"reference": "random:99999999999"}, "reference 'random:99999999999' is not valid"),
    ({"name": 3}, "grid: name must be a non-empty string, got 3"),
    ({"description": ["x"]}, "grid: description must be a string, got ['x']"),
    (
        {"datasets": [{"name": "d", "source": "natural", "seed": "abc"}]},
        f"datasets[0]: seed {WHOLE} 0 to 2,147,483,647, got 'abc'",
    ),
    (
        {"datasets": [{"name": "d", "source": "natural", "seed": math.inf}]},
        f"datasets[0]: seed {WHOLE} 0 to 2,147,483,647, got inf",
    ),
    (
        {"datasets": [{"name": "d", "source": "natural", "epochs": 20_000}]},
        f"datasets[0]: epochs {WHOLE} 1 to 10,000, got 20000",
    ),
    (
        {"datasets": [{"name": "d", "source": "blender"}]},
        f"datasets[0]: source must be one of {', '.join(source_kinds())}, got 'blender'",
    ),
    ({"datasets": [{"name": "d"}]}, f"datasets[0]: source is required ({', '.join(source_kinds())})"),
]


@pytest.mark.parametrize(("settings", "message"), BAD_GRIDS, ids=[str(s) for s, _ in BAD_GRIDS])
def test_bad_grid_setting_is_refused_naming_the_key(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_grid(_grid(**settings))
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


def test_largest_settings_are_accepted() -> None:
    grid = parse_grid(
        _grid(
            epochs=10_000,
            trials=1_000,
            image_size=4_096,
            batch_size=65_536,
            steps_per_epoch=1_000_000,
            max_attempts=100,
            keep_weights=True,
            optimizers=[{"name": "adam", "lr": 10}],
        )
    )
    assert (grid.epochs, grid.trials, grid.image_size, grid.keep_weights, grid.optimizers[0].lr) == (
        10_000,
        1_000,
        4_096,
        True,
        10.0,
    )


@pytest.mark.parametrize("name", ["demo", "tiny", "paper"])
def test_built_in_grids_are_valid(name: str) -> None:
    assert load_grid(builtin_grid_path(name)).runs  # parses without complaint


def test_keep_weights_false_means_false() -> None:
    assert parse_grid(_grid(keep_weights=False)).keep_weights is False


@pytest.mark.usefixtures("scratch_registries")
def test_dataset_sources_are_the_registered_ones() -> None:
    from zoo.images.sources import register_source

    @register_source("scratch")
    def scratch(*, image_size: int, seed: int) -> Any:
        raise AssertionError("parsing a grid builds no images")

    assert parse_grid(_grid(datasets=[{"name": "d", "source": "scratch"}])).datasets[0].source == "scratch"
    with pytest.raises(InvalidInput) as refused:
        parse_grid(_grid(datasets=[{"name": "d", "source": "blender"}]))
    assert str(refused.value) == (
        "datasets[0]: source must be one of folder, natural, plankton, scratch, shapes, got 'blender'"
    )


def test_architectures_are_checked_by_the_check_the_caller_passes() -> None:
    from ingest.weights import check_architecture  # the one architecture check (timm's registry)

    with pytest.raises(InvalidInput) as refused:
        parse_grid(_grid(archs=["resnet18", "resnet19"]), check_arch=check_architecture)
    assert str(refused.value).startswith("grid: archs: timm has no architecture 'resnet19'; did you mean resnet18")
    tagged = parse_grid(_grid(archs=["resnet18.a1_in1k", "convnext_tiny"]), check_arch=check_architecture)
    assert tagged.archs == ("resnet18.a1_in1k", "convnext_tiny")


def test_without_a_check_any_architecture_name_passes() -> None:
    assert parse_grid(_grid(archs=["resnet19"])).archs == ("resnet19",)


def test_importing_grids_does_not_import_torch_or_timm() -> None:
    code = "import sys, zoo.grids; print('torch' in sys.modules or 'timm' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


def test_run_keys_of_existing_grids_are_unchanged() -> None:
    run = RunSpec(
        dataset="natural-16",
        variant="original",
        arch="resnet18",
        reference="random",
        optimizer="adam",
        lr=1e-4,
        epochs=2,
        checkpoint_every=1,
        batch_size=8,
        steps_per_epoch=2,
        image_size=16,
        trial=0,
    )
    assert run.key == "03df716eda9e4fab23424a730979cdb769c25da06d7faca55c283c6c0d71e2b4"  # as computed by zoo 0.1.0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"keep_weights": "false"},
            "Error: grid: keep_weights must be true or false (a TOML boolean, no quotes), got 'false'",
        ),
        ({"archs": ["resnet19"]}, "Error: grid: archs: timm has no architecture 'resnet19'; did you mean resnet18"),
        (
            {"optimizers": [{"name": "adam", "lr": math.inf}]},
            "Error: grid.optimizers[0]: lr of adam must be a number above 0",
        ),
        ({"epochs": 1_000_000_000}, f"Error: grid: epochs {WHOLE} 1 to 10,000, got 1000000000"),
        ({"seed": "abc"}, "Error: grid: seed is not a grid setting"),
    ],
)
def test_bad_grid_queues_nothing_and_says_one_line(
    zoo_env: dict[str, str], catalog: Catalog, tmp_path: Path, settings: dict[str, Any], message: str
) -> None:
    path = write_grid(tmp_path, "bad", **settings)
    result = run_zoo("ingest", "--run-grid", str(path), "--enqueue-only", "--samples", "8", expect=None)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith(message), result.output
    with catalog.session() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 0
        assert session.scalar(select(func.count()).select_from(BaseDataset)) == 0
