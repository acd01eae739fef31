"""A numpy stand-in for WHOI-Plankton: grayscale dark-field micrographs of six kinds of plankton.

Imaging-flow-cytometer plankton images are grayscale, mostly dark background, one organism per image,
with bright thin structures (spines, antennae, setae, cilia) a pixel or two wide, translucent bodies whose
rims light up, and particles of marine snow. Each image here is drawn from a seeded generator: one
organism of a class at a random size, orientation and position, rendered analytically on a supersampled
grid (distances to ellipses and line segments turned into intensities) and box-filtered down, over a dark
background with a soft illumination gradient and a few faint specks. Widths of rims and lines are given
in output pixels, so fine structure stays fine whatever the organism's size.

Classes: ``diatom`` (pennate, striated valve), ``chain`` (a curved chain of round cells),
``radiolarian`` (round body, many radial spines), ``copepod`` (segmented body, two long antennae, tail
setae), ``ciliate`` (oval cell fringed with cilia, nucleus), ``dinoflagellate`` (round theca with a
transverse groove and two to three horns).
"""

from __future__ import annotations

import numpy as np

__all__ = ["PLANKTON_CLASSES", "render_plankton"]

PLANKTON_CLASSES: tuple[str, ...] = ("diatom", "chain", "radiolarian", "copepod", "ciliate", "dinoflagellate")


class _Canvas:
    """Supersampled pixel coordinates of one image, in output pixels, in the organism's own frame."""

    def __init__(self, image_size: int, supersample: int, centre: np.ndarray, angle: float) -> None:
        axis = (np.arange(image_size * supersample) + 0.5) / supersample - image_size / 2
        px, py = np.meshgrid(axis, axis)
        c, s = np.cos(angle), np.sin(angle)
        dx, dy = px - centre[0], py - centre[1]
        self.x, self.y = c * dx + s * dy, -s * dx + c * dy  # organism frame (x along its long axis)
        self.px, self.py = px, py
        self.value = np.zeros_like(px)

    def add(self, layer: np.ndarray) -> None:
        """Combine like light: the brighter structure shows (no additive blow-up where parts overlap)."""
        np.maximum(self.value, layer, out=self.value)


def _ellipse_distance(x: np.ndarray, y: np.ndarray, a: float, b: float) -> np.ndarray:
    """Approximate signed distance (pixels) to an ellipse of half-axes a, b; negative inside."""
    return (np.sqrt((x / a) ** 2 + (y / b) ** 2) - 1.0) * min(a, b)


def _segment_distance(x: np.ndarray, y: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """Distance (pixels) from every point to the segment p0-p1."""
    d = p1 - p0
    t = np.clip(((x - p0[0]) * d[0] + (y - p0[1]) * d[1]) / max(float(d @ d), 1e-12), 0.0, 1.0)
    return np.hypot(x - p0[0] - t * d[0], y - p0[1] - t * d[1])


def _line(dist: np.ndarray, width: float, level: float) -> np.ndarray:
    return level * np.exp(-((dist / width) ** 2))


def _cell(
    canvas: _Canvas, x: np.ndarray, y: np.ndarray, a: float, b: float, level: float, rng: np.random.Generator
) -> np.ndarray:
    """A translucent cell: faint interior, bright rim about a pixel wide. Returns its signed distance."""
    d = _ellipse_distance(x, y, a, b)
    interior = np.where(d < 0, level * rng.uniform(0.2, 0.4), 0.0)
    canvas.add(np.maximum(interior, _line(d, rng.uniform(0.6, 1.1), level)))
    return d


def _diatom(canvas: _Canvas, radius: float, level: float, rng: np.random.Generator) -> None:
    a, b = radius, radius * rng.uniform(0.18, 0.3)
    d = _cell(canvas, canvas.x, canvas.y, a, b, level, rng)
    period = rng.uniform(2.0, 3.5)  # striae, in output pixels
    striae = 0.5 + 0.5 * np.cos(2 * np.pi * canvas.x / period)
    canvas.add(np.where(d < -0.5, level * (0.3 + 0.35 * striae), 0.0))
    canvas.add(_line(np.abs(canvas.y), 0.5, level * 0.7) * (d < 0))  # raphe along the axis


def _chain(canvas: _Canvas, radius: float, level: float, rng: np.random.Generator) -> None:
    cells = int(rng.integers(3, 7))
    r = radius / cells
    bend = rng.uniform(-0.6, 0.6) / radius
    for k in range(cells):
        cx = (k - (cells - 1) / 2) * 2 * r
        cy = bend * cx * cx
        _cell(canvas, canvas.x - cx, canvas.y - cy, r * rng.uniform(0.85, 1.0), r * rng.uniform(0.8, 1.0), level, rng)
        canvas.add(_line(np.hypot(canvas.x - cx, canvas.y - cy), r * 0.25, level * 0.6))  # chloroplast


def _radiolarian(canvas: _Canvas, radius: float, level: float, rng: np.random.Generator) -> None:
    body = radius * rng.uniform(0.35, 0.5)
    _cell(canvas, canvas.x, canvas.y, body, body, level, rng)
    rings = np.hypot(canvas.x, canvas.y)
    canvas.add(np.where(rings < body, level * (0.35 + 0.3 * np.cos(2 * np.pi * rings / rng.uniform(2.0, 3.0))), 0.0))
    for angle in np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(10, 20)))):
        tip = np.array([np.cos(angle), np.sin(angle)]) * radius * rng.uniform(0.8, 1.0)
        canvas.add(_line(_segment_distance(canvas.x, canvas.y, tip * body / radius, tip), rng.uniform(0.4, 0.7), level))


def _copepod(canvas: _Canvas, radius: float, level: float, rng: np.random.Generator) -> None:
    length = radius * 0.6
    head = np.array([length * 0.45, 0.0])
    _cell(canvas, canvas.x - head[0] * 0.3, canvas.y, length * 0.6, length * 0.28, level, rng)
    for k in range(1, 4):  # body segments: thin bright bands across the body
        band = _line(np.abs(canvas.x + length * (0.1 + 0.15 * k)), 0.6, level * 0.8)
        canvas.add(band * (np.abs(canvas.y) < length * 0.22))
    for side in (-1.0, 1.0):  # antennae from the head, swept back
        sweep = rng.uniform(0.3, 0.9)
        tip = head + radius * np.array([-np.sin(sweep) * 0.5, side * np.cos(sweep)])
        canvas.add(_line(_segment_distance(canvas.x, canvas.y, head, tip), rng.uniform(0.4, 0.6), level))
    tail = np.array([-length * 0.7, 0.0])
    canvas.add(_line(_segment_distance(canvas.x, canvas.y, np.array([-length * 0.3, 0.0]), tail), 0.9, level * 0.8))
    for spread in (-0.3, 0.3):  # furcal setae
        end = tail + radius * 0.35 * np.array([-np.cos(spread), np.sin(spread)])
        canvas.add(_line(_segment_distance(canvas.x, canvas.y, tail, end), 0.45, level * 0.9))


def _ciliate(canvas: _Canvas, radius: float, level: float, rng: np.random.Generator) -> None:
    a, b = radius * 0.8, radius * rng.uniform(0.45, 0.65)
    d = _cell(canvas, canvas.x, canvas.y, a, b, level, rng)
    theta = np.arctan2(canvas.y / b, canvas.x / a)
    cilia = 0.5 + 0.5 * np.cos(theta * int(rng.integers(24, 40)))
    canvas.add(np.where((d > 0) & (d < radius * 0.2), level * 0.8 * cilia**4, 0.0))
    nucleus = np.array(rng.uniform(-0.3, 0.3, 2)) * [a, b]
    canvas.add(_line(np.hypot(canvas.x - nucleus[0], canvas.y - nucleus[1]), radius * 0.15, level * 0.7))


def _dinoflagellate(canvas: _Canvas, radius: float, level: float, rng: np.random.Generator) -> None:
    body = radius * 0.55
    d = _cell(canvas, canvas.x, canvas.y, body, body * rng.uniform(0.85, 1.0), level, rng)
    canvas.add(_line(np.abs(canvas.y - 0.15 * canvas.x * canvas.x / body), 0.7, level * 0.9) * (d < 0))  # cingulum
    for angle in (np.pi / 2, -np.pi / 2 + rng.uniform(-0.5, 0.5), -np.pi / 2 + rng.uniform(0.6, 1.0))[
        : int(rng.integers(2, 4))
    ]:
        direction = np.array([np.sin(angle), np.cos(angle)])
        base, tip = direction * body * 0.8, direction * radius * rng.uniform(0.85, 1.0)
        distance = _segment_distance(canvas.x, canvas.y, base, tip)
        canvas.add(
            _line(
                distance,
                0.5 + 1.0 * np.clip(1.0 - np.hypot(canvas.x - base[0], canvas.y - base[1]) / radius, 0, 1),
                level,
            )
        )


_DRAW = (_diatom, _chain, _radiolarian, _copepod, _ciliate, _dinoflagellate)


def _background(canvas: _Canvas, image_size: int, rng: np.random.Generator) -> np.ndarray:
    """Dark field with a soft illumination gradient and a few faint specks of marine snow."""
    angle, strength = rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.06)
    ramp = (np.cos(angle) * canvas.px + np.sin(angle) * canvas.py) / image_size
    field = rng.uniform(0.04, 0.12) + strength * ramp
    for _ in range(int(rng.integers(0, 6))):
        spot = rng.uniform(-0.5, 0.5, 2) * image_size
        field = field + _line(
            np.hypot(canvas.px - spot[0], canvas.py - spot[1]), rng.uniform(0.4, 1.2), rng.uniform(0.05, 0.2)
        )
    return field


def render_plankton(labels: np.ndarray, image_size: int, rng: np.random.Generator, supersample: int = 3) -> np.ndarray:
    """Render one organism of class ``labels[i]`` (index into :data:`PLANKTON_CLASSES`) per image.

    Parameters
    ----------
    labels : ndarray, shape (N,), int
    image_size : int
        Output side in pixels.
    rng : numpy.random.Generator
        Source of every random choice (size 0.45-0.9 of the side, orientation, position, brightness).
    supersample : int
        Samples per output pixel along each axis (box-filtered down), 1-4.

    Returns
    -------
    ndarray, shape (N, image_size, image_size, 3), uint8
        Grayscale (three equal channels).
    """
    out = np.empty((len(labels), image_size, image_size), dtype=np.uint8)
    for i, label in enumerate(labels):
        size = rng.uniform(0.45, 0.9)
        radius = 0.5 * size * image_size
        room = 0.5 * image_size * (1.0 - size)
        canvas = _Canvas(image_size, supersample, rng.uniform(-0.5, 0.5, 2) * room, rng.uniform(0, 2 * np.pi))
        background = _background(canvas, image_size, rng)
        _DRAW[int(label)](canvas, radius, rng.uniform(0.55, 1.0), rng)
        light = np.clip(background + canvas.value, 0.0, 1.0)
        pooled = light.reshape(image_size, supersample, image_size, supersample).mean(axis=(1, 3))
        out[i] = np.rint(pooled * 255).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=3)
