"""Models trained elsewhere come in from the hub (offline cache here) or from files, safely."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save, save_file
from sqlalchemy import func, select

from clirunner import run_zoo
from hubcache import make_hub_repo, save_timm_weights, use_hub_cache
from zoo.catalog import Catalog
from zoo.db.models import Checkpoint
from zoo.sql import run_query


def _resnet18_bytes(seed: int = 1) -> bytes:
    torch.manual_seed(seed)
    return save(timm.create_model("resnet18", num_classes=10).state_dict())


def _count(catalog: Catalog) -> int:
    with catalog.session() as session:
        return session.scalar(select(func.count()).select_from(Checkpoint))


def test_hub_model_is_catalogued_offline_with_repo_revision_and_hash(
    zoo_env, catalog: Catalog, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    cache = use_hub_cache(monkeypatch, tmp_path / "hf" / "hub")
    save_timm_weights(cache, "resnet18")
    commit = make_hub_repo(cache, "acme/resnet18-blurry", {"model.safetensors": _resnet18_bytes()})
    result = run_zoo(
        "ingest",
        "--hf",
        "acme/resnet18-blurry",
        "--arch",
        "resnet18",
        "--reference",
        "timm",
        "--property",
        "sharpness=0.002",
    )
    assert "catalogued checkpoint" in result.output
    row = run_query(
        catalog, "SELECT source, origin, reference, sharpness, spatial_roughness FROM checkpoint_features"
    ).rows[0]
    assert row[0] == "hub" and row[1] == "acme/resnet18-blurry" and row[2].startswith("timm:resnet18")
    assert row[3] == pytest.approx(0.002) and row[4] > 0
    with catalog.session() as session:
        checkpoint = session.scalars(select(Checkpoint)).one()
        assert checkpoint.revision == commit and len(checkpoint.file_sha256) == 64
    again = run_zoo("ingest", "--hf", f"acme/resnet18-blurry@{commit}", "--arch", "resnet18", "--reference", "timm")
    assert "already catalogued" in again.output and _count(catalog) == 1


def test_hub_repo_missing_from_the_offline_cache_is_one_line(
    zoo_env, catalog: Catalog, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    use_hub_cache(monkeypatch, tmp_path / "hf" / "hub")
    result = run_zoo(
        "ingest", "--hf", "acme/never-downloaded", "--arch", "resnet18", "--reference", "random:0", expect=1
    )
    assert "not in the local hub cache" in result.output and "Traceback" not in result.output
    assert _count(catalog) == 0


def test_safetensors_file_is_catalogued_against_a_seeded_random_reference(
    zoo_env, catalog: Catalog, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "mine.safetensors"
    path.write_bytes(_resnet18_bytes())
    run_zoo("ingest", "--checkpoint", str(path), "--arch", "resnet18", "--reference", "random:0")
    row = run_query(catalog, "SELECT source, reference, laplacian_variance FROM checkpoint_features").rows[0]
    assert row[0] == "file" and row[1] == "random:resnet18:seed=0" and row[2] > 0


def test_pickle_files_need_the_flag(zoo_env, catalog: Catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    path = tmp_path / "model.pth"
    torch.save(timm.create_model("resnet18", num_classes=10).state_dict(), path)
    refused = run_zoo("ingest", "--checkpoint", str(path), "--arch", "resnet18", "--reference", "random:0", expect=1)
    assert "--allow-pickle" in refused.output and _count(catalog) == 0
    run_zoo("ingest", "--checkpoint", str(path), "--arch", "resnet18", "--reference", "random:0", "--allow-pickle")
    assert _count(catalog) == 1


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_runs_code_is_refused_even_with_the_flag(zoo_env, catalog: Catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker, path = tmp_path / "pwned", tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"conv1.weight": _Exploit(marker)}))
    result = run_zoo(
        "ingest", "--checkpoint", str(path), "--arch", "resnet18", "--reference", "random:0", "--allow-pickle", expect=1
    )
    assert "refused" in result.output and not marker.exists() and _count(catalog) == 0


def test_weights_that_do_not_fit_the_architecture_are_refused(zoo_env, catalog: Catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "r18.safetensors"
    path.write_bytes(_resnet18_bytes())
    result = run_zoo("ingest", "--checkpoint", str(path), "--arch", "resnet50", "--reference", "random:0", expect=1)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "resnet50" in lines[0]
    assert _count(catalog) == 0


def test_unknown_property_label_is_refused(zoo_env, catalog: Catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "m.safetensors"
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
        "prettiness=3",
        expect=1,
    )
    assert "unknown property" in result.output and _count(catalog) == 0
