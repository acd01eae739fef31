"""Figures: a checkpoint's first-layer filters (the paper's Figure 3) and a fit's test predictions (Figure 4).

Both are written atomically (a temp file in the target folder, then ``os.replace``), so a reader never sees
a half-written PNG. Filter grids are drawn with PIL; the fit plot with matplotlib's Agg canvas, without
pyplot's global state. Each figure's title says what it shows (:func:`filter_figure_title`,
:func:`fit_figure_title`) and is also stored as the PNG's ``Title`` text chunk.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from zoo.catalog import Catalog
from zoo.checkpoints import filter_banks  # also imported from here by zoo.web.figures
from zoo.errors import InvalidInput
from zoo.files import write_atomically
from zoo.metamodel import FitRecord, FitResult, PredictionRecord

BANKS = ("reference", "learned", "delta")
FILTER_PIXELS = 28  # a filter is drawn at least this many pixels wide (integer zoom, nearest neighbour)
GAP = 2  # pixels between filters
MARGIN = 12  # pixels around and between the three panels
TITLE_HEIGHT = 18
MIN_FILTER_FIGURE_WIDTH = 420  # pixels, so the figure's title (which checkpoint) fits beside small banks
LOG_AXIS_SPAN = 100.0  # a raw target whose largest / smallest (positive) truth exceeds this is drawn on a log axis
FIT_FIGURE_SIZE = (8.0, 4.5)  # inches
FIT_FIGURE_DPI = 100


# --- Figure 3: filters -----------------------------------------------------------------------------------


def _grid_shape(n_filters: int) -> tuple[int, int]:
    cols = math.ceil(math.sqrt(n_filters))
    return math.ceil(n_filters / cols), cols


def _zoom(kernel: int) -> int:
    return max(1, math.ceil(FILTER_PIXELS / kernel))


def bank_image(bank: np.ndarray) -> np.ndarray:
    """One filter bank as an RGB grid image, each filter min/max normalised on its own.

    Parameters
    ----------
    bank : ndarray, shape (N, C, n, n)
        C = 3 is drawn as colour; any other C as grayscale (the mean over channels).

    Returns
    -------
    image : ndarray, shape (rows * (n * zoom + GAP) + GAP, cols * (n * zoom + GAP) + GAP, 3), uint8
        ``cols = ceil(sqrt(N))``, ``rows = ceil(N / cols)``, ``zoom = ceil(28 / n)``; a constant filter is mid-grey.
    """
    bank = np.asarray(bank, dtype=np.float64)
    if bank.ndim != 4 or bank.shape[0] < 1 or bank.shape[2] < 1 or bank.shape[3] < 1:
        raise InvalidInput(f"a filter bank has shape (N, C, n, n), got {bank.shape}")
    colour = bank if bank.shape[1] == 3 else np.repeat(bank.mean(axis=1, keepdims=True), 3, axis=1)
    low = colour.min(axis=(1, 2, 3), keepdims=True)
    span = colour.max(axis=(1, 2, 3), keepdims=True) - low
    unit = np.where(span > 0, (colour - low) / np.where(span > 0, span, 1), 0.5)
    pixels = np.round(unit.transpose(0, 2, 3, 1) * 255).astype(np.uint8)  # (N, n, n, 3)
    zoom = _zoom(bank.shape[2])
    pixels = pixels.repeat(zoom, axis=1).repeat(zoom, axis=2)
    rows, cols = _grid_shape(len(bank))
    cell_h, cell_w = pixels.shape[1] + GAP, pixels.shape[2] + GAP
    image = np.full((rows * cell_h + GAP, cols * cell_w + GAP, 3), 255, dtype=np.uint8)
    for i, tile in enumerate(pixels):
        top, left = GAP + (i // cols) * cell_h, GAP + (i % cols) * cell_w
        image[top : top + tile.shape[0], left : left + tile.shape[1]] = tile
    return image


def filter_figure_size(n_filters: int, kernel: tuple[int, int]) -> tuple[int, int]:
    """(width, height) in pixels of :func:`write_filter_figure` for banks of ``n_filters`` filters of ``kernel``."""
    rows, cols = _grid_shape(n_filters)
    zoom = _zoom(kernel[0])
    panel_w = cols * (kernel[1] * zoom + GAP) + GAP
    panel_h = rows * (kernel[0] * zoom + GAP) + GAP
    width = max(len(BANKS) * panel_w + (len(BANKS) + 1) * MARGIN, MIN_FILTER_FIGURE_WIDTH)
    return width, panel_h + 2 * TITLE_HEIGHT + 2 * MARGIN  # the figure's title, then each panel's


def filter_figure_title(row: dict[str, Any]) -> str:
    """Which checkpoint Figure 3 shows, from its ``checkpoint_features`` row, e.g.
    ``checkpoint 42: resnet18 on natural-32 / blur-k7-s2, epoch 2`` (a hub or file checkpoint names its source
    and origin instead of a dataset)."""
    if row.get("base_dataset"):
        data = f"{row['base_dataset']} / {row.get('variant') or 'original'}"
    else:
        data = f"{row.get('source') or 'unknown source'} {row.get('origin') or ''}".strip()
    epoch = "" if row.get("epoch") is None else f", epoch {row['epoch']}"
    return f"checkpoint {row['checkpoint_id']}: {row.get('arch') or 'unknown arch'} on {data}{epoch}"


def _fitted(draw: ImageDraw.ImageDraw, text: str, font: Any, width: float) -> str:
    """``text``, cut with an ellipsis where it would be wider than ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def write_filter_figure(catalog: Catalog, checkpoint_id: int, path: str | os.PathLike[str]) -> Path:
    """Write the reference, learned and delta filters of a checkpoint side by side as a PNG (Figure 3), under a
    title naming the checkpoint (:func:`filter_figure_title`; also the PNG's ``Title`` text).

    The PNG's size is :func:`filter_figure_size` of the bank's shape. Returns ``path``.
    """
    from zoo.query import get_checkpoint

    title = filter_figure_title(get_checkpoint(catalog, checkpoint_id))
    banks = filter_banks(catalog, checkpoint_id)
    images = [bank_image(banks[name]) for name in BANKS]
    n_filters, _, height, width = banks["delta"].shape
    canvas = Image.new("RGB", filter_figure_size(n_filters, (height, width)), (255, 255, 255))
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default()
    draw.text((MARGIN, MARGIN), _fitted(draw, title, font, canvas.width - 2 * MARGIN), fill=(0, 0, 0), font=font)
    left, top = MARGIN, MARGIN + TITLE_HEIGHT
    for name, image in zip(BANKS, images):
        panel = f"{name} ({n_filters} filters)" if name != "delta" else "delta = learned - reference"
        draw.text((left, top), panel, fill=(0, 0, 0), font=font)
        canvas.paste(Image.fromarray(image), (left, top + TITLE_HEIGHT))
        left += image.shape[1] + MARGIN
    info = PngInfo()
    info.add_text("Title", title)
    return write_atomically(path, lambda handle: canvas.save(handle, format="PNG", pnginfo=info))


# --- Figure 4: a fit's test predictions ------------------------------------------------------------------


SPLIT_WORDS = {"variant": "base dataset × variant", "run": "training run", "base": "base dataset"}


def fit_figure_title(result: FitResult | FitRecord) -> str:
    """What Figure 4 shows, in two lines: the fit (id, target and space, R²), then its train → test selections
    and split, e.g. ``fit 7: sharpness (raw target), test R² = 0.912 ± 0.004`` /
    ``train arch=resnet50,min_epoch=1 → test arch=resnet18,min_epoch=1; split: selections; 12 train / 12 test``."""
    name = "fit (not stored)" if result.id is None else f"fit {result.id}"
    r2 = "—" if result.r2_mean is None else f"{result.r2_mean:.3f} ± {result.r2_std or 0:.3f}"
    if result.test_fraction:
        sides = (
            f"{result.train_selection}, {result.test_fraction:g} of its "
            f"{SPLIT_WORDS.get(result.split, result.split)} groups held out for test"
        )
    else:
        sides = f"train {result.train_selection} → test {result.test_selection}"
    return (
        f"{name}: {result.target} ({'log' if result.log_target else 'raw'} target), test R² = {r2}\n"
        f"{sides}; split: {result.split}; {result.n_train:,} train / {result.n_test:,} test"
    )


def uses_log_axis(log_target: bool, truth: Sequence[float] | np.ndarray) -> bool:
    """Whether Figure 4's y axis is logarithmic: always for a log-target fit; for a raw target when every truth
    is positive and the largest exceeds the smallest by more than :data:`LOG_AXIS_SPAN` (two orders of magnitude)."""
    values = np.asarray(truth, dtype=np.float64)
    if log_target:
        return True
    return bool(values.size and (values > 0).all() and values.max() / values.min() > LOG_AXIS_SPAN)


def write_fit_figure(
    result: FitResult | FitRecord,
    path: str | os.PathLike[str],
    predictions: Sequence[PredictionRecord] | None = None,
) -> Path:
    """Plot a fit's test checkpoints sorted by ground truth: truth as a green line, predictions (mean over
    seeds) as blue points, under a title naming the fit, its selections, split and R² (:func:`fit_figure_title`,
    also the PNG's ``Title`` text): the paper's Figure 4. ``FIT_FIGURE_SIZE`` at ``FIT_FIGURE_DPI``. The y axis
    is logarithmic when :func:`uses_log_axis` says so.

    ``predictions`` replaces ``result.predictions``; a stored fit (:class:`FitRecord`) needs them, e.g. from
    :func:`zoo.metamodel.fit_predictions`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    given = predictions if predictions is not None else getattr(result, "predictions", ())
    points = sorted(given, key=lambda p: (p.y_true, p.checkpoint_id))
    if not points:
        raise InvalidInput("the fit has no test predictions to plot")
    truth = np.array([p.y_true for p in points])
    predicted = np.array([p.y_pred for p in points])
    figure = Figure(figsize=FIT_FIGURE_SIZE, dpi=FIT_FIGURE_DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    order = np.arange(len(points))
    axes.plot(order, predicted, color="tab:blue", linewidth=0.6, alpha=0.5)
    axes.scatter(order, predicted, color="tab:blue", s=10, label="prediction")
    axes.plot(order, truth, color="tab:green", linewidth=2, label="ground truth")
    log_axis = uses_log_axis(result.log_target, truth)
    if log_axis:
        axes.set_yscale("log")
    title = fit_figure_title(result)
    first, second = title.split("\n", 1)
    axes.set_title(first + "\n" + "\n".join(textwrap.wrap(second, 110)), fontsize=9)
    axes.set_xlabel("test checkpoints, sorted by ground truth")
    axes.set_ylabel(result.target + (" (log axis)" if log_axis else ""))
    axes.legend(loc="upper left")
    figure.tight_layout()
    metadata = {
        "Title": title.replace("\n", "; "),
        "Description": f"{result.target} on a {'log' if log_axis else 'linear'} y axis",
    }
    return write_atomically(
        path, lambda handle: figure.savefig(handle, format="png", dpi=FIT_FIGURE_DPI, metadata=metadata)
    )


# --- the generalization matrix ---------------------------------------------------------------------------


def write_matrix_figure(matrix: Any, path: str | os.PathLike[str]) -> Path:
    """Draw a :class:`zoo.metamodel.GeneralizationMatrix` as a heatmap: one row per axis, one cell per held-out
    value, coloured by R² (clipped to [-1, 1]; grey where not fitted) and labelled with the value and R².
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not matrix.cells:
        raise InvalidInput("the matrix has no cells to draw")
    rows = [matrix.row(axis) for axis in matrix.axes]
    width = max(len(r) for r in rows)
    grid = np.full((len(rows), width), np.nan)
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            grid[i, j] = np.nan if cell.r2 is None else cell.r2
    figure = Figure(figsize=(max(6.0, 1.6 * width + 2.5), 0.9 * len(rows) + 1.6), dpi=FIT_FIGURE_DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    shown = axes.imshow(np.ma.masked_invalid(np.clip(grid, -1, 1)), cmap="RdYlGn", vmin=-1, vmax=1, aspect="auto")
    shown.cmap.set_bad("lightgrey")
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            score = "—" if cell.r2 is None else f"{cell.r2:.2f}"
            axes.text(j, i, f"{cell.held_out}\n{score}", ha="center", va="center", fontsize=7)
    axes.set_yticks(range(len(rows)), list(matrix.axes))
    axes.set_xticks([])
    axes.set_title(f"{matrix.target} from {matrix.feature_set}: test R² ({matrix.r2_space} target) on held-out values")
    figure.colorbar(shown, ax=axes, fraction=0.03, label="R²")
    figure.tight_layout()
    return write_atomically(path, lambda handle: figure.savefig(handle, format="png", dpi=FIT_FIGURE_DPI))
