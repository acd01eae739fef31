"""Files zoo writes (PNGs, reports, artifacts) get the mode a plain open() would: 0o666 less the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from clirunner import run_zoo
from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.files import TEMP_PREFIX, write_atomically
from zoo.store import ArtifactStore


@pytest.fixture(params=[0o022, 0o077, 0o002], ids=["umask-022", "umask-077", "umask-002"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _plain_open_mode(folder: Path) -> int:
    probe = folder / "probe"
    with open(probe, "wb"):
        pass
    mode = _mode(probe)
    probe.unlink()
    return mode


def test_atomic_write_gives_the_mode_of_a_plain_open(umask: int, tmp_path: Path) -> None:
    target = write_atomically(tmp_path / "report.md", lambda handle: handle.write(b"# report\n"))
    assert _mode(target) == 0o666 & ~umask == _plain_open_mode(tmp_path)
    assert target.read_bytes() == b"# report\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_atomic_overwrite_takes_the_current_umask(umask: int, tmp_path: Path) -> None:
    target = tmp_path / "figure.png"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    write_atomically(target, lambda handle: handle.write(b"new"))
    assert _mode(target) == 0o666 & ~umask and target.read_bytes() == b"new"


def test_failed_atomic_write_leaves_no_temp_file(umask: int, tmp_path: Path) -> None:
    def fail(handle) -> None:  # type: ignore[no-untyped-def]
        handle.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomically(tmp_path / "x.bin", fail)
    assert list(tmp_path.iterdir()) == []


def test_artifacts_get_the_mode_of_a_plain_open(umask: int, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    sha = store.put_bytes(b"forest bytes")
    assert _mode(store.path(sha)) == 0o666 & ~umask


def test_png_written_by_the_cli_gets_the_mode_of_a_plain_open(
    umask: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"sqlite:///{tmp_path / 'catalog.db'}"
    catalog = Catalog.open(db, artifacts=str(tmp_path / "artifacts"))
    build_catalog(catalog, archs=("resnet18",), n_variants=1, trials=1, epochs=1, n_external=0)
    catalog.close()
    png = tmp_path / "filters.png"
    run_zoo("--db", db, "show", "1", "--png", str(png))
    assert _mode(png) == 0o666 & ~umask
