"""Artifacts are content-addressed, written atomically and verified on read."""

from __future__ import annotations

import os

import numpy as np
import pytest

from zoo.errors import IntegrityError, NotFound
from zoo.store import ArtifactStore, sha256_bytes


def test_round_trip_returns_the_same_bytes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ArtifactStore(tmp_path)
    sha = store.put_bytes(b"first-layer filters")
    assert sha == sha256_bytes(b"first-layer filters")
    assert store.get_bytes(sha) == b"first-layer filters"
    assert store.put_bytes(b"first-layer filters") == sha  # idempotent


def test_put_file_and_arrays_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ArtifactStore(tmp_path / "store")
    source = tmp_path / "weights.bin"
    source.write_bytes(os.urandom(3 << 20))
    sha = store.put_file(source)
    assert store.get_bytes(sha) == source.read_bytes()
    images = np.arange(24, dtype=np.uint8).reshape(2, 2, 2, 3)
    arrays = store.get_arrays(store.put_arrays(images=images))
    np.testing.assert_array_equal(arrays["images"], images)


def test_a_flipped_byte_is_detected(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ArtifactStore(tmp_path)
    sha = store.put_bytes(b"x" * 1000)
    path = store.path(sha)
    data = bytearray(path.read_bytes())
    data[500] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="corrupt"):
        store.get_bytes(sha)


def test_crash_between_temp_write_and_rename_leaves_no_visible_artifact(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store = ArtifactStore(tmp_path)

    def crash(*_args: object) -> None:
        raise KeyboardInterrupt("killed before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        store.put_bytes(b"half written")
    sha = sha256_bytes(b"half written")
    assert not store.exists(sha)
    with pytest.raises(NotFound):
        store.get_bytes(sha)
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == []


def test_missing_artifact_and_bad_id_raise_not_found(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ArtifactStore(tmp_path)
    with pytest.raises(NotFound, match="missing"):
        store.get_bytes("0" * 64)
    with pytest.raises(NotFound, match="not an artifact id"):
        store.get_bytes("../../etc/passwd")


def test_fsspec_memory_store_round_trips() -> None:
    store = ArtifactStore("memory://zoo-test-store")
    sha = store.put_bytes(b"shared between workers")
    assert store.exists(sha)
    assert store.get_bytes(sha) == b"shared between workers"
