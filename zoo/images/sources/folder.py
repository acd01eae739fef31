"""The ``folder`` source: a class-per-subfolder tree of image files (ImageNette / WHOI-Plankton layout)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from zoo.errors import InvalidInput, UnsafeInput
from zoo.images.sources import register_source
from zoo.images.sources.common import ImageSet, int_param, square_crop, stacked_image_set

_HIGH_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")
#: What PIL's plugins raise on corrupt or non-image data (UnidentifiedImageError is an OSError).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError)


def _decode_rgb(path: Path) -> np.ndarray:
    """Decode an image file to uint8 (h, w, 3); grayscale becomes three equal channels."""
    with Image.open(path) as image:
        image.load()
        if image.mode in _HIGH_BIT_MODES:  # 16-bit / float grayscale: rescale to 8 bit, keep gray
            values = np.asarray(image, dtype=np.float64)
            peak = 65535.0 if values.max(initial=0) > 255 else 255.0
            gray = np.clip(np.round(values * (255.0 / peak)), 0, 255).astype(np.uint8)
            return np.repeat(gray[..., None], 3, axis=2)
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _inside(path: Path, allowed: Path, shown: str) -> Path:
    """``path`` fully resolved (symlinks, ``..``); :class:`UnsafeInput` if that leaves ``allowed``.

    The path may not exist (a dangling link resolves to its target's name); callers check existence.
    """
    resolved = path.resolve(strict=False)
    if not resolved.is_relative_to(allowed):
        raise UnsafeInput(f"{shown} resolves to {resolved}, outside the allowed root {allowed}; refusing to read it")
    return resolved


def _class_files(class_dir: Path, rng: np.random.Generator, max_per_class: int | None) -> list[Path]:
    """Files of one class folder, sorted, or a seeded random subset's order when capped."""
    files = sorted(p for p in class_dir.iterdir())
    if max_per_class is not None:
        files = [files[i] for i in rng.permutation(len(files))]
    return files


@register_source("folder")
def _folder_source(
    *,
    image_size: int,
    seed: int,
    root: str | os.PathLike[str],
    allowed_root: str | os.PathLike[str] | None = None,
    max_per_class: int | None = None,
) -> ImageSet:
    """Class-per-subfolder images under ``root``, which must lie inside ``allowed_root``.

    ``allowed_root`` defaults to ``$ZOO_DATA_ROOT`` when set, else to ``root`` itself (so symlinks that
    leave the dataset are refused either way).

    Class names are the sorted subfolder names. Unreadable or non-image files, nested folders, files
    outside a class folder and class folders without a usable image are skipped and reported. Every
    path is resolved first; one that leaves ``allowed_root`` (symlink or ``..``) raises UnsafeInput.
    With ``max_per_class`` a seeded random subset of each class's files is read until it has that many
    images.
    """
    if max_per_class is not None:
        max_per_class = int_param("max_per_class", max_per_class, low=1, high=10**9)
    if allowed_root is None:
        allowed_root = os.environ.get("ZOO_DATA_ROOT") or root
    try:
        allowed = Path(allowed_root).resolve(strict=True)
        base = _inside(Path(root), allowed, "root")
    except (OSError, TypeError) as exc:
        raise InvalidInput(f"cannot use allowed_root {allowed_root!r} / root {root!r}: {exc}") from None
    if not base.is_dir():
        raise InvalidInput(f"root {str(root)!r} is not a directory; expected one subfolder per class")
    rng = np.random.default_rng(seed)
    images, labels, names, skipped = [], [], [], []
    for entry in sorted(base.iterdir()):
        shown = entry.relative_to(base).as_posix()
        real = _inside(entry, allowed, shown)
        if entry.name.startswith(".") or not real.is_dir():
            skipped.append((shown, "hidden entry" if entry.name.startswith(".") else "not inside a class folder"))
            continue
        class_images = _read_class(entry, base, allowed, image_size, rng, max_per_class, skipped)
        if not class_images:
            skipped.append((shown, "class folder has no usable images"))
            continue
        labels += [len(names)] * len(class_images)
        images += class_images
        names.append(entry.name)
    if not images:
        raise InvalidInput(f"no usable images under {str(root)!r}; expected <root>/<class>/<image files>")
    return stacked_image_set(images, labels, tuple(names), skipped=tuple(skipped))


def _read_class(
    class_dir: Path,
    base: Path,
    allowed: Path,
    image_size: int,
    rng: np.random.Generator,
    max_per_class: int | None,
    skipped: list[tuple[str, str]],
) -> list[np.ndarray]:
    """Decoded, squared images of one class folder; appends what it skips to ``skipped``."""
    out: list[np.ndarray] = []
    for path in _class_files(class_dir, rng, max_per_class):
        if max_per_class is not None and len(out) >= max_per_class:
            break
        shown = path.relative_to(base).as_posix()
        real = _inside(path, allowed, shown)
        if real.is_dir() or not real.exists():
            skipped.append((shown, "nested folder inside a class folder" if real.is_dir() else "dangling link"))
            continue
        try:
            out.append(square_crop(_decode_rgb(real), image_size))
        except _DECODE_ERRORS as exc:
            skipped.append((shown, f"not a readable image: {type(exc).__name__}: {exc}"[:200]))
    return out
