"""The wheel carries every package, the Alembic migrations and the built-in grids."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def _package_folders() -> set[str]:
    found = set()
    for top in ("zoo", "ingest"):
        for init in (ROOT / top).rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(ROOT).parts))
    return found


def test_every_package_folder_is_listed_for_the_wheel() -> None:
    listed = set(SETUPTOOLS["packages"])
    assert _package_folders() <= listed
    for package, folder in SETUPTOOLS["package-dir"].items():
        assert package in listed and (ROOT / folder / "__init__.py").is_file()


def test_migrations_and_grids_are_shipped_as_package_data() -> None:
    mapped = {package: ROOT / folder for package, folder in SETUPTOOLS["package-dir"].items()}
    data = SETUPTOOLS["package-data"]
    for package, patterns in data.items():
        matched = [path for pattern in patterns for path in mapped[package].glob(pattern)]
        assert matched, f"{package}: {patterns} match no file"
    assert (mapped["zoo.migrations"] / "env.py").is_file()
    assert {p.stem for p in mapped["zoo.builtin_grids"].glob("*.toml")} >= {"demo", "tiny", "paper"}


def test_no_module_is_shadowed_by_a_mapped_package() -> None:
    for package in SETUPTOOLS["package-dir"]:
        module = ROOT.joinpath(*package.split(".")).with_suffix(".py")
        assert not module.exists(), f"{package} would shadow {module}"
