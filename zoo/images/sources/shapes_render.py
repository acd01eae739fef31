"""A small numpy sphere tracer: the BlenderShapes stand-in's six shaded, textured 3-D primitives.

Pure numpy; the ``shapes`` source (:mod:`zoo.images.sources.shapes`) draws its images with
:func:`render_shapes`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["SHAPE_CLASSES", "SHAPE_SCALES", "render_shapes"]


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
