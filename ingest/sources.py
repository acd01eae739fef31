"""Image sources: a decorator registry of kinds, each producing an :class:`ImageSet` (numpy/PIL/skimage).

Every kind takes ``image_size`` (side of the square output) and ``seed`` plus its own parameters:

* ``folder``: a class-per-subfolder tree (ImageNette / WHOI-Plankton layout) under an ``allowed_root``.
* ``natural``: random crops of the photographs shipped inside scikit-image (offline), one class per photo.
* ``shapes``: a numpy-rendered stand-in for BlenderShapes: six shaded 3-D primitives at a known scale.

Square outputs are made the same way everywhere: the centred square of side ``min(h, w)`` (equivalent
to shorter-side resize then centre crop) resized with PIL's antialiased bilinear filter.
"""

from __future__ import annotations

import inspect
import math
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from zoo.errors import InvalidInput, NotFound, UnsafeInput

__all__ = [
    "DEFAULT_PHOTOS",
    "SHAPE_CLASSES",
    "SHAPE_SCALES",
    "ImageSet",
    "load_source",
    "register_source",
    "render_shapes",
    "source_kinds",
]


@dataclass(frozen=True)
class ImageSet:
    """Decoded images of one source, ready for measuring, transforming and training.

    Attributes
    ----------
    images : ndarray, shape (N, S, S, 3), uint8
        RGB images (grayscale ones as three equal channels); read-only.
    labels : ndarray, shape (N,), int64
        Class index of each image, in ``range(len(class_names))``; read-only.
    class_names : tuple of str
        Name of each class index.
    grayscale : bool
        True when every image is grayscale.
    object_scale : float or None
        Known relative object scale (rendered sources), else None.
    skipped : tuple of (str, str)
        ``(path, reason)`` for each input that was skipped and why.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    grayscale: bool
    object_scale: float | None = None
    skipped: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[-1] != 3:
            got = f"{self.images.dtype} {self.images.shape}"
            raise InvalidInput(f"ImageSet.images must be uint8 (N, H, W, 3), got {got}")
        if self.labels.dtype != np.int64 or self.labels.shape != self.images.shape[:1]:
            raise InvalidInput(f"ImageSet.labels must be int64 of shape ({self.images.shape[0]},)")
        if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise InvalidInput("ImageSet.labels must index class_names")
        self.images.flags.writeable = False
        self.labels.flags.writeable = False


# ----------------------------------------------------------------------------------------------------
# Registry


@dataclass(frozen=True)
class _SourceKind:
    name: str
    build: Callable[..., ImageSet]
    accepted: frozenset[str]
    required: frozenset[str]


_SOURCES: dict[str, _SourceKind] = {}


def register_source(name: str) -> Callable[[Callable[..., ImageSet]], Callable[..., ImageSet]]:
    """Register a builder ``fn(*, image_size, seed, **params) -> ImageSet`` as source kind ``name``.

    Accepted and required parameters are read from the builder's keyword-only signature.
    """

    def decorator(build: Callable[..., ImageSet]) -> Callable[..., ImageSet]:
        if name in _SOURCES:
            raise ValueError(f"source kind {name!r} is already registered")
        params = inspect.signature(build).parameters.values()
        accepted = frozenset(p.name for p in params)
        required = frozenset(p.name for p in params if p.default is inspect.Parameter.empty)
        if not {"image_size", "seed"} <= accepted:
            raise ValueError(f"source {name!r} must accept image_size and seed")
        _SOURCES[name] = _SourceKind(name, build, accepted, required)
        return build

    return decorator


def source_kinds() -> tuple[str, ...]:
    """Names of the registered source kinds, sorted."""
    return tuple(sorted(_SOURCES))


def load_source(kind: str, **params: object) -> ImageSet:
    """Build the :class:`ImageSet` of source ``kind`` with ``params``.

    Raises
    ------
    NotFound
        ``kind`` is not registered (the message lists the valid kinds).
    InvalidInput
        A parameter is unknown, missing or invalid.
    """
    try:
        spec = _SOURCES[kind]
    except (KeyError, TypeError):
        raise NotFound(f"unknown image source {kind!r}; valid: {', '.join(source_kinds())}") from None
    unknown, missing = sorted(set(params) - spec.accepted), sorted(spec.required - set(params))
    if unknown or missing:
        raise InvalidInput(
            f"source {kind!r} accepts {sorted(spec.accepted)}; unknown {unknown}, missing {missing}"
        )
    params["image_size"] = _int_param("image_size", params["image_size"], low=8, high=2048)
    params["seed"] = _int_param("seed", params["seed"], low=0, high=2**63 - 1)
    return spec.build(**params)


def _int_param(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise InvalidInput(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)


def _square(image: np.ndarray, size: int) -> np.ndarray:
    """Centred square crop of side min(h, w), resized to (size, size) with antialiased bilinear; uint8."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = Image.fromarray(np.ascontiguousarray(image[top : top + side, left : left + side]))
    return np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def _image_set(
    images: list[np.ndarray], labels: list[int], class_names: tuple[str, ...], **extra: object
) -> ImageSet:
    stack = np.stack(images).astype(np.uint8, copy=False)
    grayscale = bool(((stack[..., 0] == stack[..., 1]) & (stack[..., 1] == stack[..., 2])).all())
    return ImageSet(stack, np.asarray(labels, dtype=np.int64), class_names, grayscale, **extra)


# ----------------------------------------------------------------------------------------------------
# folder


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
        max_per_class = _int_param("max_per_class", max_per_class, low=1, high=10**9)
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
    return _image_set(images, labels, tuple(names), skipped=tuple(skipped))


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
            out.append(_square(_decode_rgb(real), image_size))
        except _DECODE_ERRORS as exc:
            skipped.append((shown, f"not a readable image: {type(exc).__name__}: {exc}"[:200]))
    return out


# ----------------------------------------------------------------------------------------------------
# natural

#: Photographs that ship inside scikit-image (no download): colour and grayscale real-world pictures.
DEFAULT_PHOTOS: tuple[str, ...] = (
    "astronaut", "camera", "chelsea", "coffee", "rocket",
    "hubble_deep_field", "immunohistochemistry", "brick", "grass", "gravel",
)  # fmt: skip


@lru_cache(maxsize=32)
def _photo(name: str) -> np.ndarray:
    """A scikit-image sample photograph as read-only uint8 (h, w, 3); raises if it needs a download."""
    import skimage.data

    image = np.asarray(getattr(skimage.data, name)())
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"skimage.data.{name} is not an 8-bit photograph")
    image = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
    image = np.ascontiguousarray(image)
    image.flags.writeable = False
    return image


@register_source("natural")
def _natural_source(
    *,
    image_size: int,
    seed: int,
    n_per_class: int = 20,
    photos: tuple[str, ...] = DEFAULT_PHOTOS,
    crop_fraction: tuple[float, float] = (0.3, 0.8),
) -> ImageSet:
    """Random square crops of scikit-image's bundled photographs; one class per photograph.

    ``photos`` is a sequence of names from :data:`DEFAULT_PHOTOS` or one comma-separated string.
    Each crop has a side drawn uniformly in ``crop_fraction`` of the photo's shorter side, at a uniform
    random position, then resized to ``image_size``. Photos that cannot be loaded offline are skipped
    and reported as ``("skimage.data.<name>", reason)``.
    """
    n_per_class = _int_param("n_per_class", n_per_class, low=1, high=100_000)
    if isinstance(photos, str):  # "astronaut,coffee" from a command line
        photos = tuple(name.strip() for name in photos.split(",") if name.strip())
    unknown = [p for p in photos if p not in DEFAULT_PHOTOS]
    if unknown or not photos:
        raise InvalidInput(f"photos must be a non-empty sequence drawn from {list(DEFAULT_PHOTOS)}; bad: {unknown}")
    low, high = (float(f) for f in crop_fraction)
    if not 0.0 < low <= high <= 1.0:
        raise InvalidInput(f"crop_fraction must satisfy 0 < low <= high <= 1, got {crop_fraction!r}")
    rng = np.random.default_rng(seed)
    images, labels, names, skipped = [], [], [], []
    for name in dict.fromkeys(photos):
        try:
            photo = _photo(name)
        except (ImportError, OSError, ValueError) as exc:  # e.g. pooch missing: needs a download
            skipped.append((f"skimage.data.{name}", f"not available offline: {type(exc).__name__}"))
            continue
        images += _random_crops(photo, n_per_class, low, high, image_size, rng)
        labels += [len(names)] * n_per_class
        names.append(name)
    if not images:
        raise InvalidInput("none of the requested scikit-image photographs could be loaded offline")
    return _image_set(images, labels, tuple(names), skipped=tuple(skipped))


def _random_crops(
    photo: np.ndarray, count: int, low: float, high: float, size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    h, w = photo.shape[:2]
    sides = np.maximum(1, (rng.uniform(low, high, count) * min(h, w)).astype(int))
    tops = (rng.random(count) * (h - sides + 1)).astype(int)
    lefts = (rng.random(count) * (w - sides + 1)).astype(int)
    return [_square(photo[t : t + s, l : l + s], size) for s, t, l in zip(sides, tops, lefts)]


# ----------------------------------------------------------------------------------------------------
# shapes: a small numpy sphere tracer

SHAPE_CLASSES: tuple[str, ...] = ("sphere", "cube", "triangular_prism", "cylinder", "cone", "torus")
#: The five relative object scales: the object's bounding-sphere diameter as a fraction of the image side.
SHAPE_SCALES: tuple[float, ...] = (0.3, 0.4, 0.5, 0.65, 0.8)
#: Texture periods in *output* pixels, the same for every scale so that sharpness does not follow scale.
_TEXTURE_PERIOD_PX = (3.0, 7.0)
_BOUND = 0.95  # every primitive fits in a sphere of this radius (object units: bounding radius 1)


def _sdf_sphere(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    return np.sqrt(x * x + y * y + z * z) - _BOUND


def _sdf_cube(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    half = _BOUND / math.sqrt(3.0)
    qx, qy, qz = np.abs(x) - half, np.abs(y) - half, np.abs(z) - half
    outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2 + np.maximum(qz, 0) ** 2)
    return outside + np.minimum(np.maximum(np.maximum(qx, qy), qz), 0)


_PRISM_R, _PRISM_H = 0.75, math.sqrt(_BOUND**2 - 0.75**2)  # triangle circumradius, half length


def _sdf_prism(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    # Equilateral triangle in (x, y): three half-planes at distance R/2 from the axis; a lower bound.
    inset = 0.5 * _PRISM_R
    edges = [x * math.cos(a) + y * math.sin(a) - inset for a in (math.pi / 2, 7 * math.pi / 6, 11 * math.pi / 6)]
    return np.maximum(np.maximum(np.maximum(edges[0], edges[1]), edges[2]), np.abs(z) - _PRISM_H)


_CYL_R, _CYL_H = 0.6, math.sqrt(_BOUND**2 - 0.6**2)


def _sdf_cylinder(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    dr, dh = np.sqrt(x * x + z * z) - _CYL_R, np.abs(y) - _CYL_H
    return np.minimum(np.maximum(dr, dh), 0) + np.sqrt(np.maximum(dr, 0) ** 2 + np.maximum(dh, 0) ** 2)


_CONE_H, _CONE_R = 0.6, math.sqrt(_BOUND**2 - 0.6**2)  # apex at y = +H, base of radius R at y = -H
_CONE_COS, _CONE_SIN = (2 * _CONE_H) / math.hypot(2 * _CONE_H, _CONE_R), _CONE_R / math.hypot(2 * _CONE_H, _CONE_R)


def _sdf_cone(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    # Distance to the cone's generating line in the (rho, y) half-plane, capped by the base: a lower bound.
    mantle = np.sqrt(x * x + z * z) * _CONE_COS + (y - _CONE_H) * _CONE_SIN
    return np.maximum(mantle, -_CONE_H - y)


_TORUS_R, _TORUS_r = 0.62, _BOUND - 0.62


def _sdf_torus(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    ring = np.sqrt(x * x + z * z) - _TORUS_R
    return np.sqrt(ring * ring + y * y) - _TORUS_r


_SDFS = (_sdf_sphere, _sdf_cube, _sdf_prism, _sdf_cylinder, _sdf_cone, _sdf_torus)


@dataclass(frozen=True)
class _Scenes:
    """Per-image random scene parameters, drawn up front in a fixed order (determinism)."""

    rotation: np.ndarray  # (N, 3, 3) object -> world
    offset: np.ndarray  # (N, 2) object centre offset from the image centre, output pixels
    light: np.ndarray  # (N, 3) unit vector towards the light (camera looks along +z)
    ambient: np.ndarray  # (N,)
    textures: np.ndarray  # (N, 2) texture kind of object, background: 0 stripes, 1 checker, 2 waves
    periods: np.ndarray  # (N, 2) texture period in output pixels
    bases: np.ndarray  # (N, 2, 3, 3) orthonormal texture axes
    phases: np.ndarray  # (N, 2, 3)
    colours: np.ndarray  # (N, 2, 2, 3) two colours for object, background
    gradient: np.ndarray  # (N, 3) background light gradient: direction (2) and strength


def _rotations(count: int, rng: np.random.Generator) -> np.ndarray:
    """Uniformly random rotation matrices (N, 3, 3) from normalised Gaussian quaternions."""
    q = rng.standard_normal((count, 4))
    w, x, y, z = (q / np.linalg.norm(q, axis=1, keepdims=True)).T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=1,
    )


def _draw_scenes(count: int, scale: float, image_size: int, rng: np.random.Generator) -> _Scenes:
    light = rng.standard_normal((count, 3))
    light[:, 2] = -np.abs(light[:, 2]) - 1.0  # towards the camera side
    room = max(0.0, 0.5 * image_size * (1.0 - scale))  # keep the object inside the frame
    angle = rng.uniform(0, 2 * np.pi, count)
    return _Scenes(
        rotation=_rotations(count, rng),
        offset=rng.uniform(-0.5, 0.5, (count, 2)) * room,
        light=light / np.linalg.norm(light, axis=1, keepdims=True),
        ambient=rng.uniform(0.25, 0.45, count),
        textures=rng.integers(0, 3, (count, 2)),
        periods=rng.uniform(*_TEXTURE_PERIOD_PX, (count, 2)),
        bases=_rotations(2 * count, rng).reshape(count, 2, 3, 3),
        phases=rng.uniform(0, 2 * np.pi, (count, 2, 3)),
        colours=rng.uniform(0.05, 0.95, (count, 2, 2, 3)),
        gradient=np.stack([np.cos(angle), np.sin(angle), rng.uniform(0.0, 0.4, count)], -1),
    )


def _texture(scenes: _Scenes, i: int, which: int, q: np.ndarray) -> np.ndarray:
    """Colours (n, 3) of texture ``which`` (0 object, 1 background) of image i at points q (n, 3), in pixels."""
    u = q @ scenes.bases[i, which].T / scenes.periods[i, which]  # (n, 3) coordinates in periods
    kind = scenes.textures[i, which]
    if kind == 0:
        mix = (u[:, 0] - np.floor(u[:, 0]) < 0.5).astype(np.float32)
    elif kind == 1:
        mix = (np.floor(u).sum(axis=1) % 2).astype(np.float32)
    else:
        mix = 0.5 + np.sin(2 * np.pi * u + scenes.phases[i, which]).sum(axis=1) / 6.0
    c0, c1 = scenes.colours[i, which]
    return c0 + mix[:, None] * (c1 - c0)


def _trace(sdf: Callable, origin: np.ndarray, direction: np.ndarray, t_exit: np.ndarray, eps: np.ndarray):
    """Sphere-trace rays (object space); returns (hit mask, t) for every ray."""
    t = np.zeros(len(t_exit), dtype=np.float32)
    hit = np.zeros(len(t_exit), dtype=bool)
    active = np.arange(len(t_exit))
    for _ in range(64):
        o, d, ta = origin[active], direction[active], t[active]
        dist = sdf(o[:, 0] + ta * d[:, 0], o[:, 1] + ta * d[:, 1], o[:, 2] + ta * d[:, 2])
        done = dist < eps[active]
        hit[active[done]] = True
        ta = ta + np.maximum(dist, 0)
        t[active] = ta
        keep = ~done & (ta < t_exit[active])
        active = active[keep]
        if active.size == 0:
            break
    return hit, t


def _normals(sdf: Callable, p: np.ndarray, h: float) -> np.ndarray:
    """Unit SDF gradients (n, 3) by central differences."""
    grad = np.empty_like(p)
    for axis in range(3):
        step = np.zeros(3, dtype=p.dtype)
        step[axis] = h
        ahead, behind = p + step, p - step
        grad[:, axis] = sdf(*ahead.T) - sdf(*behind.T)
    norm = np.linalg.norm(grad, axis=1, keepdims=True)
    return grad / np.maximum(norm, 1e-12)


def render_shapes(
    shape_ids: np.ndarray,
    scale: float,
    image_size: int,
    rng: np.random.Generator,
    supersample: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Render one shaded, textured primitive per image over a textured background.

    Parameters
    ----------
    shape_ids : ndarray, shape (N,), int
        Index into :data:`SHAPE_CLASSES` per image.
    scale : float
        Object bounding-sphere diameter as a fraction of the image side, in (0, 2].
    image_size : int
        Output side in pixels.
    rng : numpy.random.Generator
        Source of every random scene parameter.
    supersample : int
        Rays per output pixel along each axis (box-filtered down), 1-4.

    Returns
    -------
    images : ndarray, shape (N, image_size, image_size, 3), uint8
    coverage : ndarray, shape (N, image_size, image_size), float32
        Fraction of each output pixel covered by the object, in [0, 1].

    Notes
    -----
    Orthographic camera along +z; rays start on the object's bounding sphere. Textures are defined in
    object space but measured in output pixels (object units times the projected radius), so their
    pixel frequency, and with it the image sharpness, does not depend on ``scale``.
    """
    count, ss = len(shape_ids), int(supersample)
    scenes = _draw_scenes(count, scale, image_size, rng)
    side = image_size * ss
    axis = ((np.arange(side) + 0.5) / ss - image_size / 2).astype(np.float32)  # output-pixel units
    px, py = np.meshgrid(axis, -axis)  # x right, y up
    colour = np.empty((count, side, side, 3), dtype=np.float32)
    covered = np.zeros((count, side, side), dtype=bool)
    for i in range(count):
        colour[i] = _background(scenes, i, px, py, image_size)
    radius_px = 0.5 * scale * image_size
    for shape in np.unique(shape_ids):
        _draw_objects(np.flatnonzero(shape_ids == shape), int(shape), scenes, px, py, radius_px, ss, colour, covered)
    image = colour.reshape(count, image_size, ss, image_size, ss, 3).mean(axis=(2, 4))
    coverage = covered.reshape(count, image_size, ss, image_size, ss).mean(axis=(2, 4), dtype=np.float32)
    return np.clip(np.round(image * 255), 0, 255).astype(np.uint8), coverage


def _background(scenes: _Scenes, i: int, px: np.ndarray, py: np.ndarray, image_size: int) -> np.ndarray:
    """Textured, gradient-lit backdrop (side, side, 3) of image i."""
    q = np.stack([px.ravel(), py.ravel(), np.zeros(px.size, np.float32)], axis=1)
    gx, gy, strength = scenes.gradient[i]
    light = 1.0 - strength * (0.5 + (gx * px + gy * py) / image_size)
    return (_texture(scenes, i, 1, q).reshape(*px.shape, 3) * light[..., None]).astype(np.float32)


def _draw_objects(
    images: np.ndarray,
    shape: int,
    scenes: _Scenes,
    px: np.ndarray,
    py: np.ndarray,
    radius_px: float,
    ss: int,
    colour: np.ndarray,
    covered: np.ndarray,
) -> None:
    """Trace every image of one shape class at once and shade its hits into ``colour``/``covered``."""
    sdf = _SDFS[shape]
    ox = (px[None] - scenes.offset[images, 0, None, None]) / radius_px  # object units
    oy = (py[None] - scenes.offset[images, 1, None, None]) / radius_px
    r2 = ox * ox + oy * oy
    which, rows, cols = np.nonzero(r2 < 1.0)
    half_chord = np.sqrt(1.0 - r2[which, rows, cols])
    world = np.stack([ox[which, rows, cols], oy[which, rows, cols], -half_chord], axis=1)
    inverse = scenes.rotation[images].transpose(0, 2, 1)[which]  # world -> object, per ray
    origin = np.einsum("nij,nj->ni", inverse, world).astype(np.float32)
    direction = inverse[:, :, 2].astype(np.float32)
    eps = np.full(len(which), 0.25 / (radius_px * ss), dtype=np.float32)
    hit, t = _trace(sdf, origin, direction, (2.0 * half_chord).astype(np.float32), eps)
    which, rows, cols = which[hit], rows[hit], cols[hit]
    p_obj = origin[hit] + t[hit, None] * direction[hit]
    normal_world = np.einsum("nji,nj->ni", inverse[hit], _normals(sdf, p_obj, float(eps[0])))
    for k, image in enumerate(images):
        sel = which == k
        lambert = np.maximum(normal_world[sel] @ scenes.light[image], 0.0)
        shade = scenes.ambient[image] + (1.0 - scenes.ambient[image]) * lambert
        colour[image, rows[sel], cols[sel]] = _texture(scenes, image, 0, p_obj[sel] * radius_px) * shade[:, None]
        covered[image, rows[sel], cols[sel]] = True


@register_source("shapes")
def _shapes_source(
    *, image_size: int, seed: int, n_per_class: int = 10, scale: float = SHAPE_SCALES[2], supersample: int = 2
) -> ImageSet:
    """Synthetic BlenderShapes stand-in: ``n_per_class`` images of each of the 6 primitives at ``scale``."""
    n_per_class = _int_param("n_per_class", n_per_class, low=1, high=100_000)
    supersample = _int_param("supersample", supersample, low=1, high=4)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.0 < scale <= 2.0:
        raise InvalidInput(f"scale must be a number in (0, 2] (the paper's five: {SHAPE_SCALES}), got {scale!r}")
    labels = np.repeat(np.arange(len(SHAPE_CLASSES)), n_per_class)
    rng = np.random.default_rng(seed)
    chunks = []
    for start in range(0, len(labels), 64):  # bounds the supersampled working memory
        chunks.append(render_shapes(labels[start : start + 64], float(scale), image_size, rng, supersample)[0])
    images = np.concatenate(chunks)
    return ImageSet(images, labels.astype(np.int64), SHAPE_CLASSES, False, object_scale=float(scale))


# ----------------------------------------------------------------------------------------------------
# plankton: grayscale dark-field micrographs (ingest.plankton)


@register_source("plankton")
def _plankton_source(*, image_size: int, seed: int, n_per_class: int = 20, supersample: int = 3) -> ImageSet:
    """Synthetic WHOI-Plankton stand-in: ``n_per_class`` grayscale micrographs of each of 6 plankton kinds."""
    from ingest.plankton import PLANKTON_CLASSES, render_plankton

    n_per_class = _int_param("n_per_class", n_per_class, low=1, high=100_000)
    supersample = _int_param("supersample", supersample, low=1, high=4)
    labels = np.repeat(np.arange(len(PLANKTON_CLASSES)), n_per_class)
    images = render_plankton(labels, image_size, np.random.default_rng(seed), supersample)
    return ImageSet(images, labels.astype(np.int64), PLANKTON_CLASSES, True)
