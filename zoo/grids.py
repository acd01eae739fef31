"""Grid specs: a TOML file naming datasets, variants, architectures, optimizers and schedule.

A grid expands into one :class:`RunSpec` per (dataset variant × architecture × optimizer × trial). Each
run has a stable key (a hash of everything that defines it), so enqueueing the same grid twice adds
nothing and an extended grid adds only its new runs.

Example (``grids/tiny.toml``)::

    name = "tiny"
    archs = ["resnet18"]
    optimizers = ["adam"]
    epochs = 2
    checkpoint_every = 1
    image_size = 16

    [[datasets]]
    name = "natural-tiny"
    source = "natural"
    variants = ["original", "blur-k7-s2"]
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import InvalidInput

# The paper's two optimisers: Adam at 1e-4, and SGD with cosine annealing from 0.1.
OPTIMIZER_DEFAULT_LR = {"adam": 1e-4, "sgd-cosine": 0.1}
REFERENCE_KINDS = ("random", "timm", "hub", "file")
GRID_KEYS = {
    "name", "description", "datasets", "archs", "optimizers", "epochs", "checkpoint_every", "trials",
    "image_size", "batch_size", "steps_per_epoch", "reference", "keep_weights", "seed", "max_attempts",
}
DATASET_KEYS = {"name", "source", "params", "variants", "epochs", "seed"}


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    source: str
    params: dict[str, Any] = field(default_factory=dict)
    variants: tuple[str, ...] = ("all",)
    epochs: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    lr: float


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one training run; :attr:`key` identifies it across enqueues."""

    dataset: str
    variant: str
    arch: str
    reference: str
    optimizer: str
    lr: float
    epochs: int
    checkpoint_every: int
    batch_size: int
    steps_per_epoch: int | None
    image_size: int
    trial: int

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()

    @property
    def seed(self) -> int:
        """Data order and noise seed, derived from the key so every run differs but repeats exactly."""
        return int(self.key[:8], 16) & 0x7FFFFFFF


@dataclass(frozen=True)
class GridSpec:
    name: str
    datasets: tuple[DatasetSpec, ...]
    archs: tuple[str, ...]
    optimizers: tuple[OptimizerSpec, ...]
    epochs: int = 2
    checkpoint_every: int = 1
    trials: int = 1
    image_size: int = 32
    batch_size: int = 32
    steps_per_epoch: int | None = None
    reference: str = "random"
    keep_weights: bool = False
    seed: int = 0
    max_attempts: int = 3
    description: str = ""

    def runs(self, variant_names: dict[str, tuple[str, ...]]) -> list[RunSpec]:
        """Expand the grid; ``variant_names`` maps each dataset to its resolved variant names."""
        return [
            RunSpec(
                dataset=dataset.name, variant=variant, arch=arch, reference=self.reference,
                optimizer=optimizer.name, lr=optimizer.lr, epochs=dataset.epochs or self.epochs,
                checkpoint_every=self.checkpoint_every, batch_size=self.batch_size,
                steps_per_epoch=self.steps_per_epoch, image_size=self.image_size, trial=trial,
            )
            for trial in range(self.trials)
            for dataset in self.datasets
            for variant in variant_names[dataset.name]
            for arch in self.archs
            for optimizer in self.optimizers
        ]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidInput(message)


def _positive_int(data: dict[str, Any], key: str, default: int | None, where: str) -> int | None:
    value = data.get(key, default)
    if value is None:
        return None
    _require(isinstance(value, int) and not isinstance(value, bool) and value > 0, f"{where}: {key} must be a positive integer, got {value!r}")
    return int(value)


def _unknown_keys(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    _require(not unknown, f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


REFERENCE_HELP = "random[:SEED], timm, hub:ORG/NAME[@REVISION] or file:PATH.safetensors"


def parse_reference(spec: str) -> tuple[str, str]:
    """Split ``kind[:detail]``: ``random[:seed]``, ``timm``, ``hub:org/name@rev``, ``file:path``.

    ``random`` without a seed means "seeded by the trial number" in grids.
    """
    kind, _, detail = spec.partition(":")
    valid = kind in REFERENCE_KINDS and (
        (kind in ("hub", "file") and bool(detail))
        or (kind == "timm" and not detail)
        or (kind == "random" and (not detail or detail.isdigit()))
    )
    _require(valid, f"reference {spec!r} is not valid; use {REFERENCE_HELP}")
    return kind, detail


def _optimizer(entry: Any, where: str) -> OptimizerSpec:
    if isinstance(entry, str):
        entry = {"name": entry}
    _require(isinstance(entry, dict) and "name" in entry, f"{where}: each optimizer is a name or {{name=..., lr=...}}")
    name = entry["name"]
    _require(name in OPTIMIZER_DEFAULT_LR, f"{where}: unknown optimizer {name!r}; choose from {', '.join(OPTIMIZER_DEFAULT_LR)}")
    lr = entry.get("lr", OPTIMIZER_DEFAULT_LR[name])
    _require(isinstance(lr, (int, float)) and lr > 0, f"{where}: lr must be positive")
    return OptimizerSpec(name=name, lr=float(lr))


def _dataset(entry: Any, index: int) -> DatasetSpec:
    where = f"datasets[{index}]"
    _require(isinstance(entry, dict), f"{where} must be a table with name and source")
    _unknown_keys(entry, DATASET_KEYS, where)
    _require(isinstance(entry.get("name"), str) and entry["name"], f"{where}: name is required")
    _require(isinstance(entry.get("source"), str), f"{where}: source is required (natural, shapes, folder)")
    variants = entry.get("variants", ["all"])
    variants = [variants] if isinstance(variants, str) else variants
    _require(isinstance(variants, list) and all(isinstance(v, str) for v in variants) and variants, f"{where}: variants must be a list of names or \"all\"")
    params = entry.get("params", {})
    _require(isinstance(params, dict), f"{where}: params must be a table")
    return DatasetSpec(
        name=entry["name"], source=entry["source"], params=params, variants=tuple(variants),
        epochs=_positive_int(entry, "epochs", None, where), seed=int(entry.get("seed", 0)),
    )


def parse_grid(data: dict[str, Any], default_name: str = "grid") -> GridSpec:
    """Validate a grid given as a dict (the parsed TOML); every problem is one clear message."""
    _unknown_keys(data, GRID_KEYS, "grid")
    datasets = data.get("datasets")
    _require(isinstance(datasets, list) and datasets, "grid: at least one [[datasets]] table is required")
    archs = data.get("archs")
    _require(isinstance(archs, list) and archs and all(isinstance(a, str) for a in archs), "grid: archs must be a non-empty list of timm model names")
    optimizers = data.get("optimizers", ["adam"])
    _require(isinstance(optimizers, list) and optimizers, "grid: optimizers must be a non-empty list")
    reference = data.get("reference", "random")
    parse_reference(reference)
    names = [d.get("name") for d in datasets if isinstance(d, dict)]
    _require(len(names) == len(set(names)), "grid: dataset names must be unique")
    grid = GridSpec(
        name=str(data.get("name", default_name)),
        datasets=tuple(_dataset(entry, i) for i, entry in enumerate(datasets)),
        archs=tuple(archs),
        optimizers=tuple(_optimizer(entry, "grid.optimizers") for entry in optimizers),
        epochs=_positive_int(data, "epochs", 2, "grid") or 2,
        checkpoint_every=_positive_int(data, "checkpoint_every", 1, "grid") or 1,
        trials=_positive_int(data, "trials", 1, "grid") or 1,
        image_size=_positive_int(data, "image_size", 32, "grid") or 32,
        batch_size=_positive_int(data, "batch_size", 32, "grid") or 32,
        steps_per_epoch=_positive_int(data, "steps_per_epoch", None, "grid"),
        reference=reference,
        keep_weights=bool(data.get("keep_weights", False)),
        seed=int(data.get("seed", 0)),
        max_attempts=_positive_int(data, "max_attempts", 3, "grid") or 3,
        description=str(data.get("description", "")),
    )
    _require(grid.image_size >= 8, "grid: image_size must be at least 8 pixels")
    return grid


def load_grid(path: str | Path) -> GridSpec:
    """Read and validate a grid TOML file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidInput(f"grid file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput(f"grid file {path} is not valid TOML: {error}") from None
    return parse_grid(data, default_name=path.stem)


def builtin_grid_path(name: str) -> Path:
    """A grid shipped with zoo (``grids/NAME.toml`` in a checkout, ``zoo/builtin_grids`` in a wheel)."""
    for folder in (Path(__file__).resolve().parents[1] / "grids", Path(__file__).resolve().parent / "builtin_grids"):
        candidate = folder / f"{name}.toml"
        if candidate.is_file():
            return candidate
    raise InvalidInput(f"no built-in grid named {name!r}; pass a path to a grid TOML file")
