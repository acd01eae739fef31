"""Tiny grid files for tests: 16 px natural crops, resnet18, a handful of steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return str(value)


def write_grid(
    folder: Path,
    name: str = "test",
    *,
    variants=("original", "blur-k7-s2"),
    dataset: str = "natural-16",
    dataset_params: dict[str, Any] | None = None,
    **settings: Any,
) -> Path:
    grid = {
        "name": name,
        "archs": ["resnet18"],
        "optimizers": ["adam"],
        "epochs": 2,
        "checkpoint_every": 1,
        "trials": 1,
        "image_size": 16,
        "batch_size": 8,
        "steps_per_epoch": 2,
        "reference": "random",
    }
    grid.update(settings)
    lines = [f"{key} = {_toml_value(value)}" for key, value in grid.items()]
    lines += [
        "",
        "[[datasets]]",
        f'name = "{dataset}"',
        'source = "natural"',
        f"params = {_toml_value(dataset_params or {'n_per_class': 3})}",
        f"variants = {_toml_value(list(variants))}",
    ]
    path = folder / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path
