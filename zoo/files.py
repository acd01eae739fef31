"""Crash-safe file writes: a temp file in the target folder, fsync, rename, fsync the folder.

A reader (or a crash) sees either the previous file or the complete new one, never a partial write. The file
gets the mode a plain ``open()`` would give it (``0o666`` less the umask), not a temp file's private ``0o600``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from zoo.errors import InvalidInput

TEMP_PREFIX = ".tmp-"


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_temp(folder: Path) -> tuple[int, str]:
    """A new, empty temp file in ``folder``, opened for writing with mode ``0o666`` so the kernel applies the
    umask (and any default ACL) exactly as for ``open(path, "wb")``; ``tempfile.mkstemp`` would force 0o600."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temp = str(folder / f"{TEMP_PREFIX}{secrets.token_hex(8)}")
        try:
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {folder}")


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(handle)`` on a temp file beside ``path``, fsync it, rename it over ``path``."""
    target = Path(path)
    if not target.parent.is_dir():
        raise InvalidInput(f"folder {str(target.parent)!r} does not exist; create it before writing {target.name}")
    fd, temp = _create_temp(target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return target
