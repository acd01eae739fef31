"""Content-addressed artifact store: files named by the sha256 of their bytes.

Lives under ``$ZOO_HOME/artifacts`` or at any fsspec URL, so workers on several machines can share one.
Writes are atomic (a temp file in the target folder, fsync, rename, then the folder is fsynced): a crash at
any point leaves either the whole artifact or nothing under its name. Reads verify the hash.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

import numpy as np

from zoo.errors import IntegrityError, NotFound
from zoo.files import TEMP_PREFIX, write_atomically

CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sha(sha: str) -> str:
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise NotFound(f"{sha!r} is not an artifact id (expected 64 hex digits)")
    return sha


class ArtifactStore:
    """Immutable blobs keyed by sha256, on a local path or an fsspec URL (``s3://``, ``gs://``, ...)."""

    def __init__(self, location: str | os.PathLike[str]) -> None:
        location = str(location)
        self.location = location
        self._local = "://" not in location or location.startswith("file://")
        if self._local:
            self._root = Path(location.removeprefix("file://")).expanduser()
        else:
            import fsspec  # only remote stores need it

            self._fs, self._remote_root = fsspec.core.url_to_fs(location)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.location!r})"

    def _relative(self, sha: str) -> str:
        return f"{sha[:2]}/{sha[2:4]}/{sha}"

    def path(self, sha: str) -> Path:
        """The local path of an artifact (local stores only)."""
        if not self._local:
            raise NotFound(f"{self.location} is a remote store; use get_bytes()")
        return self._root / self._relative(_check_sha(sha))

    def exists(self, sha: str) -> bool:
        if self._local:
            return self.path(sha).is_file()
        return bool(self._fs.exists(f"{self._remote_root}/{self._relative(_check_sha(sha))}"))

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; returns its sha256. Storing the same bytes twice is a no-op."""
        sha = sha256_bytes(data)
        if not self.exists(sha):
            self._write(sha, io.BytesIO(data))
        return sha

    def put_file(self, source: str | os.PathLike[str]) -> str:
        """Copy a file into the store; returns its sha256."""
        sha = sha256_file(source)
        if not self.exists(sha):
            with open(source, "rb") as handle:
                self._write(sha, handle)
        return sha

    def _write(self, sha: str, stream: BinaryIO) -> None:
        if not self._local:
            final = f"{self._remote_root}/{self._relative(sha)}"
            temp = f"{final}{TEMP_PREFIX}{uuid.uuid4().hex}"
            with self._fs.open(temp, "wb") as out:
                shutil.copyfileobj(stream, out, CHUNK)
            self._fs.mv(temp, final)
            return
        final = self.path(sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(final, lambda out: shutil.copyfileobj(stream, out, CHUNK))

    def get_bytes(self, sha: str) -> bytes:
        """The artifact's bytes, after checking they still hash to ``sha``."""
        try:
            if self._local:
                data = self.path(sha).read_bytes()
            else:
                with self._fs.open(f"{self._remote_root}/{self._relative(_check_sha(sha))}", "rb") as handle:
                    data = handle.read()
        except FileNotFoundError:
            raise NotFound(f"artifact {sha[:12]} is missing from {self.location}") from None
        if sha256_bytes(data) != sha:
            raise IntegrityError(
                f"artifact {sha[:12]} in {self.location} is corrupt (its bytes no longer match its sha256); "
                "re-create it (re-run the command that made it)"
            )
        return data

    def put_arrays(self, **arrays: np.ndarray) -> str:
        """Store numpy arrays as an ``.npz`` (loaded back without pickle)."""
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return self.put_bytes(buffer.getvalue())

    def get_arrays(self, sha: str) -> dict[str, np.ndarray]:
        with np.load(io.BytesIO(self.get_bytes(sha)), allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
