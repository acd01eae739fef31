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

Every key is checked for its type and range before anything is queued (:func:`parse_grid`): whole numbers
from 1 to ``MAX_EPOCHS`` (10,000) epochs, ``MAX_TRIALS`` (1,000) trials, 8 to 4,096 px images, batches up
to 65,536, learning rates above 0 and at most 10, ``keep_weights`` a real TOML boolean, dataset sources
among the registered image sources, and architecture names by the ``check_arch`` the caller passes (the CLI
passes ``ingest.weights.check_architecture``, timm's registry, where the ``ingest`` extra is installed;
this module never imports timm). A grid has no ``seed`` key: each run is seeded from its key,
so ``trials`` makes seeded replicates; ``seed`` in a ``[[datasets]]`` table seeds that dataset's images.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import InvalidInput, ZooError
from zoo.vocabulary import REFERENCE_KINDS

# The paper's two optimisers: Adam at 1e-4, and SGD with cosine annealing from 0.1.
OPTIMIZER_DEFAULT_LR = {"adam": 1e-4, "sgd-cosine": 0.1}
GRID_KEYS = {
    "name",
    "description",
    "datasets",
    "archs",
    "optimizers",
    "epochs",
    "checkpoint_every",
    "trials",
    "image_size",
    "batch_size",
    "steps_per_epoch",
    "reference",
    "keep_weights",
    "max_attempts",
    "noise",
    "recipes",
    "recipe_assignment",
}
DATASET_KEYS = {"name", "source", "params", "variants", "epochs", "seed", "image_size", "noise"}
RECIPE_KEYS = {"optimizer", "lr", "steps_per_epoch", "batch_size"}
# How noise variants draw noise: fresh every batch (the default; the paper's reading) or once per image,
# clipped and 8-bit, as a noisy dataset saved to disk (zoo.images.transforms.NOISE_DRAWS).
NOISE_MODES = ("per-step", "fixed")
# "cross": every recipe for every (trial, dataset, variant, arch), as optimizers always did; "rotate": one
# recipe each, cycled over variants and architectures so every architecture and variant meets every recipe.
RECIPE_ASSIGNMENTS = ("cross", "rotate")
OPTIMIZER_KEYS = {"name", "lr"}

# Ranges every grid is checked against before anything is queued. They are far beyond any sensible grid
# (the paper trains 30 epochs at 224 px) and keep every value inside the catalog's 32-bit integer columns.
MAX_EPOCHS = 10_000
MAX_TRIALS = 1_000
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 8, 4_096
MAX_BATCH_SIZE = 65_536
MAX_STEPS_PER_EPOCH = 1_000_000
MAX_ATTEMPTS = 100
MAX_LR = 10.0
MAX_SEED = 2**31 - 1
GRID_SEED_HINT = (
    "seed is not a grid setting: every run is seeded from its key (trial, variant, architecture, ...), so "
    'runs differ and repeat exactly; use trials = N for seeded replicates, reference = "random:SEED" for one '
    "fixed initialisation, or seed in a [[datasets]] table for that dataset's crops and noise"
)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    source: str
    params: dict[str, Any] = field(default_factory=dict)
    variants: tuple[str, ...] = ("all",)
    epochs: int | None = None
    seed: int = 0
    image_size: int | None = None  # None: the grid's
    noise: str | None = None  # None: the grid's


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    lr: float


@dataclass(frozen=True)
class RecipeSpec:
    """A training recipe: optimizer and learning rate, and optionally steps per epoch and batch size."""

    optimizer: str
    lr: float
    steps_per_epoch: int | None = None  # None: the grid's
    batch_size: int | None = None  # None: the grid's


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
    noise: str = NOISE_MODES[0]

    @property
    def key(self) -> str:
        """sha256 of every field; fields added later count only when set away from their default, so
        the runs of existing grids keep their keys."""
        fields = {k: v for k, v in asdict(self).items() if k not in _KEY_DEFAULTS or v != _KEY_DEFAULTS[k]}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

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
    max_attempts: int = 3
    description: str = ""
    noise: str = NOISE_MODES[0]
    recipes: tuple[RecipeSpec, ...] = ()  # empty: one recipe per optimizer, with the grid's steps and batch
    recipe_assignment: str = RECIPE_ASSIGNMENTS[0]

    def dataset_image_size(self, dataset: DatasetSpec) -> int:
        return dataset.image_size or self.image_size

    def dataset_noise(self, dataset: DatasetSpec) -> str:
        return dataset.noise or self.noise

    def _recipes(self) -> tuple[RecipeSpec, ...]:
        return self.recipes or tuple(RecipeSpec(o.name, o.lr) for o in self.optimizers)

    def runs(self, variant_names: dict[str, tuple[str, ...]]) -> list[RunSpec]:
        """Expand the grid; ``variant_names`` maps each dataset to its resolved variant names.

        With ``recipe_assignment = "rotate"`` run (trial t, dataset d, i-th variant, j-th arch) gets recipe
        ``(t + i + j + crc32(d)) mod len(recipes)``: stable when other datasets are added or removed.
        """
        recipes, out = self._recipes(), []
        for trial in range(self.trials):
            for dataset in self.datasets:
                offset = trial + zlib.crc32(dataset.name.encode())
                for i, variant in enumerate(variant_names[dataset.name]):
                    for j, arch in enumerate(self.archs):
                        chosen = (
                            recipes
                            if self.recipe_assignment == "cross"
                            else (recipes[(offset + i + j) % len(recipes)],)
                        )
                        out += [self._run(dataset, variant, arch, recipe, trial) for recipe in chosen]
        return out

    def _run(self, dataset: DatasetSpec, variant: str, arch: str, recipe: RecipeSpec, trial: int) -> RunSpec:
        return RunSpec(
            dataset=dataset.name,
            variant=variant,
            arch=arch,
            reference=self.reference,
            optimizer=recipe.optimizer,
            lr=recipe.lr,
            epochs=dataset.epochs or self.epochs,
            checkpoint_every=self.checkpoint_every,
            batch_size=recipe.batch_size or self.batch_size,
            steps_per_epoch=recipe.steps_per_epoch or self.steps_per_epoch,
            image_size=self.dataset_image_size(dataset),
            trial=trial,
            noise=self.dataset_noise(dataset),
        )

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data; settings added later are left out while at their defaults."""
        spec = asdict(self)
        for key, default in (("noise", NOISE_MODES[0]), ("recipes", ()), ("recipe_assignment", RECIPE_ASSIGNMENTS[0])):
            if spec[key] == default or spec[key] == list(default):
                del spec[key]
        for dataset in spec["datasets"]:
            for key in ("image_size", "noise"):
                if dataset[key] is None:
                    del dataset[key]
        return spec


#: RunSpec fields that enter the run key only when set away from these defaults (added after release).
_KEY_DEFAULTS: dict[str, Any] = {"noise": NOISE_MODES[0]}


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidInput(message)


def _whole(data: dict[str, Any], key: str, default: int | None, where: str, low: int, high: int) -> int | None:
    """``data[key]`` as an int in ``[low, high]`` (``default`` when absent); TOML booleans are not numbers."""
    value = data.get(key, default)
    if value is None:
        return None
    ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    _require(ok, f"{where}: {key} must be a whole number from {low} to {high:,}, got {value!r}")
    return int(value)


def _text(data: dict[str, Any], key: str, default: str | None, where: str) -> str:
    value = data.get(key, default)
    _require(
        isinstance(value, str) and bool(value.strip()), f"{where}: {key} must be a non-empty string, got {value!r}"
    )
    return str(value)


def _unknown_keys(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    _require(not unknown, f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


REFERENCE_HELP = "random[:SEED], timm, hub:ORG/NAME[@REVISION] or file:PATH.safetensors"


def parse_reference(spec: str) -> tuple[str, str]:
    """Split ``kind[:detail]``: ``random[:seed]``, ``timm``, ``hub:org/name@rev``, ``file:path``.

    ``random`` without a seed means "seeded by the trial number" in grids.
    """
    _require(isinstance(spec, str), f"reference must be a string ({REFERENCE_HELP}), got {spec!r}")
    kind, _, detail = spec.partition(":")
    valid = kind in REFERENCE_KINDS and (
        (kind in ("hub", "file") and bool(detail))
        or (kind == "timm" and not detail)
        or (kind == "random" and (not detail or (detail.isdigit() and int(detail) <= MAX_SEED)))
    )
    _require(valid, f"reference {spec!r} is not valid; use {REFERENCE_HELP}")
    return kind, detail


def _optimizer(entry: Any, where: str) -> OptimizerSpec:
    if isinstance(entry, str):
        entry = {"name": entry}
    _require(isinstance(entry, dict) and "name" in entry, f"{where}: each optimizer is a name or {{name=..., lr=...}}")
    _unknown_keys(entry, OPTIMIZER_KEYS, where)
    name = entry["name"]
    _require(
        name in OPTIMIZER_DEFAULT_LR,
        f"{where}: unknown optimizer {name!r}; choose from {', '.join(OPTIMIZER_DEFAULT_LR)}",
    )
    lr = entry.get("lr", OPTIMIZER_DEFAULT_LR[name])
    ok = isinstance(lr, (int, float)) and not isinstance(lr, bool) and math.isfinite(lr) and 0 < lr <= MAX_LR
    _require(ok, f"{where}: lr of {name} must be a number above 0 and at most {MAX_LR:g}, got {lr!r}")
    return OptimizerSpec(name=name, lr=float(lr))


def _dataset(entry: Any, index: int) -> DatasetSpec:
    where = f"datasets[{index}]"
    _require(isinstance(entry, dict), f"{where} must be a table with name and source")
    _unknown_keys(entry, DATASET_KEYS, where)
    _require(isinstance(entry.get("name"), str) and entry["name"], f"{where}: name is required")
    _source(entry.get("source"), where)
    variants = entry.get("variants", ["all"])
    variants = [variants] if isinstance(variants, str) else variants
    _require(
        isinstance(variants, list) and all(isinstance(v, str) for v in variants) and variants,
        f'{where}: variants must be a list of names or "all"',
    )
    params = entry.get("params", {})
    _require(isinstance(params, dict), f"{where}: params must be a table")
    return DatasetSpec(
        name=entry["name"],
        source=entry["source"],
        params=params,
        variants=tuple(variants),
        epochs=_whole(entry, "epochs", None, where, 1, MAX_EPOCHS),
        seed=_whole(entry, "seed", 0, where, 0, MAX_SEED) or 0,
        image_size=_whole(entry, "image_size", None, where, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE),
        noise=_choice(entry, "noise", None, where, NOISE_MODES),
    )


def _source(source: Any, where: str) -> None:
    """Refuse a missing or unregistered image source, naming the registered ones."""
    from zoo.images.sources import source_kinds  # numpy and PIL load here, not when zoo.grids is imported

    kinds = source_kinds()
    if source is None:
        raise InvalidInput(f"{where}: source is required ({', '.join(kinds)})")
    _require(source in kinds, f"{where}: source must be one of {', '.join(kinds)}, got {source!r}")


def _choice(data: dict[str, Any], key: str, default: str | None, where: str, options: tuple[str, ...]) -> str | None:
    value = data.get(key, default)
    _require(
        value is None or value in options,
        f"{where}: {key} must be one of {', '.join(repr(o) for o in options)}, got {value!r}",
    )
    return value


def _recipes(data: dict[str, Any]) -> tuple[RecipeSpec, ...]:
    """The ``recipes`` list: tables of optimizer (a name, default adam), lr, steps_per_epoch, batch_size."""
    recipes = data.get("recipes", [])
    _require(
        isinstance(recipes, list),
        'grid: recipes must be a list of tables like { optimizer = "adam", lr = 3e-4, steps_per_epoch = 2 }',
    )
    _require(
        not recipes or "optimizers" not in data,
        "grid: give either optimizers or recipes (a recipe names its optimizer)",
    )
    out = []
    for i, entry in enumerate(recipes):
        where = f"grid.recipes[{i}]"
        _require(isinstance(entry, dict), f'{where} must be a table like {{ optimizer = "adam", lr = 3e-4 }}')
        _unknown_keys(entry, RECIPE_KEYS, where)
        optimizer = _optimizer(
            {"name": entry.get("optimizer", "adam"), **({"lr": entry["lr"]} if "lr" in entry else {})}, where
        )
        out.append(
            RecipeSpec(
                optimizer.name,
                optimizer.lr,
                steps_per_epoch=_whole(entry, "steps_per_epoch", None, where, 1, MAX_STEPS_PER_EPOCH),
                batch_size=_whole(entry, "batch_size", None, where, 1, MAX_BATCH_SIZE),
            )
        )
    _require(len(set(out)) == len(out), "grid: recipes must differ from each other")
    return tuple(out)


#: An architecture check: returns for a name it knows, raises a :class:`ZooError` naming the problem otherwise.
ArchCheck = Callable[[str], None]


def _archs(data: dict[str, Any], check_arch: ArchCheck | None) -> tuple[str, ...]:
    archs = data.get("archs")
    ok = isinstance(archs, list) and bool(archs) and all(isinstance(a, str) and a.strip() for a in archs)
    _require(ok, f"grid: archs must be a non-empty list of timm model names, got {archs!r}")
    names = tuple(archs)  # type: ignore[arg-type]
    for arch in names if check_arch is not None else ():
        try:
            check_arch(arch)  # type: ignore[misc]
        except ZooError as error:  # NotFound from ingest's check: one line, under the key it is about
            raise InvalidInput(f"grid: archs: {error}") from None
    return names


def parse_grid(data: dict[str, Any], default_name: str = "grid", check_arch: ArchCheck | None = None) -> GridSpec:
    """Validate a grid given as a dict (the parsed TOML); every problem is one clear message naming its key.

    Types and ranges are checked for every key (see ``MAX_EPOCHS`` and friends), dataset sources against
    the registered image sources, and each architecture name with ``check_arch`` when one is given (its
    error becomes ``grid: archs: ...``), so a bad grid is refused before anything is queued. Without
    ``check_arch`` any name passes, and a worker reports an unknown architecture on each of its runs.
    """
    _require("seed" not in data, f"grid: {GRID_SEED_HINT}")
    _unknown_keys(data, GRID_KEYS, "grid")
    datasets = data.get("datasets")
    _require(isinstance(datasets, list) and datasets, "grid: at least one [[datasets]] table is required")
    optimizers = data.get("optimizers", ["adam"])
    _require(isinstance(optimizers, list) and optimizers, "grid: optimizers must be a non-empty list")
    reference = data.get("reference", "random")
    parse_reference(reference)
    keep_weights = data.get("keep_weights", False)
    _require(
        isinstance(keep_weights, bool),
        f"grid: keep_weights must be true or false (a TOML boolean, no quotes), got {keep_weights!r}",
    )
    names = [d.get("name") for d in datasets if isinstance(d, dict)]
    _require(len(names) == len(set(names)), "grid: dataset names must be unique")
    grid = GridSpec(
        name=_text(data, "name", default_name, "grid"),
        datasets=tuple(_dataset(entry, i) for i, entry in enumerate(datasets)),
        archs=_archs(data, check_arch),
        optimizers=tuple(_optimizer(entry, f"grid.optimizers[{i}]") for i, entry in enumerate(optimizers)),
        epochs=_whole(data, "epochs", 2, "grid", 1, MAX_EPOCHS) or 2,
        checkpoint_every=_whole(data, "checkpoint_every", 1, "grid", 1, MAX_EPOCHS) or 1,
        trials=_whole(data, "trials", 1, "grid", 1, MAX_TRIALS) or 1,
        image_size=_whole(data, "image_size", 32, "grid", MIN_IMAGE_SIZE, MAX_IMAGE_SIZE) or 32,
        batch_size=_whole(data, "batch_size", 32, "grid", 1, MAX_BATCH_SIZE) or 32,
        steps_per_epoch=_whole(data, "steps_per_epoch", None, "grid", 1, MAX_STEPS_PER_EPOCH),
        reference=reference,
        keep_weights=keep_weights,
        max_attempts=_whole(data, "max_attempts", 3, "grid", 1, MAX_ATTEMPTS) or 3,
        description=_description(data),
        noise=_choice(data, "noise", NOISE_MODES[0], "grid", NOISE_MODES) or NOISE_MODES[0],
        recipes=_recipes(data),
        recipe_assignment=_choice(data, "recipe_assignment", RECIPE_ASSIGNMENTS[0], "grid", RECIPE_ASSIGNMENTS)
        or RECIPE_ASSIGNMENTS[0],
    )
    return grid


def _description(data: dict[str, Any]) -> str:
    description = data.get("description", "")
    _require(isinstance(description, str), f"grid: description must be a string, got {description!r}")
    return str(description)


def load_grid(path: str | Path, check_arch: ArchCheck | None = None) -> GridSpec:
    """Read and validate a grid TOML file (see :func:`parse_grid` for ``check_arch``)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidInput(f"grid file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput(f"grid file {path} is not valid TOML: {error}") from None
    return parse_grid(data, default_name=path.stem, check_arch=check_arch)


def builtin_grid_path(name: str) -> Path:
    """A grid shipped with zoo (``grids/NAME.toml`` in a checkout, ``zoo/builtin_grids`` in a wheel)."""
    for folder in (Path(__file__).resolve().parents[1] / "grids", Path(__file__).resolve().parent / "builtin_grids"):
        candidate = folder / f"{name}.toml"
        if candidate.is_file():
            return candidate
    raise InvalidInput(f"no built-in grid named {name!r}; pass a path to a grid TOML file")
