"""Model files under odd folder names are catalogued; bad --property values are one line naming them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file
from sqlalchemy import func, select

from clirunner import run_zoo
from zoo.catalog import Catalog
from zoo.db.models import Checkpoint


def _count(catalog: Catalog) -> int:
    with catalog.session() as session:
        return session.scalar(select(func.count()).select_from(Checkpoint))


def test_model_file_under_a_folder_with_markup_and_emoji_codes_is_catalogued(
    zoo_env, catalog: Catalog, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "a[" / "b]" / "[bold]root:x:0"  # the path .../a[/b]/[bold]root:x:0/
    folder.mkdir(parents=True)
    path = folder / "model:x:.safetensors"
    torch.manual_seed(0)
    save_file(timm.create_model("resnet18", num_classes=10).state_dict(), path)
    result = run_zoo(
        "ingest",
        "--checkpoint",
        str(path),
        "--arch",
        "resnet18",
        "--reference",
        "random:0",
        "--property",
        "sharpness=0.01",
    )
    assert f"resnet18 from {path}" in result.output.replace("\n", "") and "❌" not in result.output
    assert _count(catalog) == 1
    assert json.loads(run_zoo("show", "1", "--json").output)["origin"] == str(path.resolve())
    assert "[bold]root:x:0" in run_zoo("show", "1").output  # the table prints it as typed


@pytest.mark.parametrize(
    ("value", "shown"),
    [("abc", "abc"), ("inf", "inf"), ("nan", "nan"), ("true", "True"), ("", "")],
)
def test_property_that_is_not_a_finite_number_is_one_line(
    zoo_env, catalog: Catalog, tmp_path: Path, value: str, shown: str
) -> None:  # type: ignore[no-untyped-def]
    result = run_zoo(
        "ingest",
        "--checkpoint",
        str(tmp_path / "never-read.safetensors"),
        "--arch",
        "resnet18",
        "--reference",
        "random:0",
        "--property",
        f"sharpness={value}",
        expect=None,
    )
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and "Traceback" not in result.output and len(lines) == 1, result.output
    assert lines[0] == f"Error: --property sharpness={shown}: the value must be a finite number, e.g. sharpness=0.01"
    assert _count(catalog) == 0
