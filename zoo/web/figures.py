"""PNG figures for the pages, drawn by the same code as the CLI's PNGs and cached by content hash.

Each figure's key is a SHA-256 of what it is drawn from (the filter banks' bytes, a fit's scores and
predictions, a dataset's image hash and variants), so an unchanged input is drawn once per server process
and the key doubles as the HTTP ETag.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from zoo.catalog import Catalog
from zoo.datasets import get_dataset, preview_dataset
from zoo.metamodel import GeneralizationMatrix, fit_predictions, get_fit
from zoo.plots import BANKS, filter_banks, write_filter_figure, write_fit_figure, write_matrix_figure

CACHE_ENTRIES = 256
PREVIEW_PER_VARIANT = 6


class FigureCache:
    """A bounded, thread-safe map from content hash to PNG bytes (least recently used goes first)."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.drawn = 0  # how many figures were actually drawn (for tests and curiosity)

    def get_or_draw(self, key: str, draw: Callable[[Path], object]) -> bytes:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        with tempfile.TemporaryDirectory(prefix="zoo-web-") as folder:
            path = Path(folder) / "figure.png"
            draw(path)
            data = path.read_bytes()
        with self._lock:
            self.drawn += 1
            self._items[key] = data
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
        return data


def _digest(*parts: bytes | str) -> str:
    sha = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        sha.update(len(data).to_bytes(8, "little") + data)
    return sha.hexdigest()


def filter_png(cache: FigureCache, catalog: Catalog, checkpoint_id: int) -> tuple[str, bytes]:
    """(hash, PNG) of a checkpoint's reference, learned and delta filters (Figure 3, as ``zoo show --png``)."""
    banks = filter_banks(catalog, checkpoint_id)  # NotFound for an unknown id
    key = _digest("filters", *(f"{banks[b].dtype}{banks[b].shape}".encode() + banks[b].tobytes() for b in BANKS))
    return key, cache.get_or_draw(key, lambda path: write_filter_figure(catalog, checkpoint_id, path))


def fit_png(cache: FigureCache, catalog: Catalog, fit_id: int) -> tuple[str, bytes]:
    """(hash, PNG) of a stored fit's test predictions against the truth (Figure 4, as ``zoo fit --plot``)."""
    fit = get_fit(catalog, fit_id)
    predictions = fit_predictions(catalog, fit_id)
    key = _digest(
        "fit",
        json.dumps(asdict(fit), default=str, sort_keys=True),
        json.dumps([asdict(p) for p in predictions], sort_keys=True),
    )
    return key, cache.get_or_draw(key, lambda path: write_fit_figure(fit, path, predictions))


def preview_png(cache: FigureCache, catalog: Catalog, name: str) -> tuple[str, bytes]:
    """(hash, PNG) of a dataset's variant preview (Figure 2, as ``zoo datasets preview``)."""
    dataset = get_dataset(catalog, name)
    variants = json.dumps([[v.name, v.kind, v.params, v.seed] for v in dataset.variants], default=str)
    key = _digest("preview", dataset.images_sha256, str(PREVIEW_PER_VARIANT), variants)
    return key, cache.get_or_draw(
        key, lambda path: preview_dataset(catalog, name, path, per_variant=PREVIEW_PER_VARIANT)
    )


def matrix_png(cache: FigureCache, matrix: GeneralizationMatrix) -> tuple[str, bytes]:
    """(hash, PNG) of a generalization matrix's heatmap (as ``zoo evaluate --png``)."""
    key = _digest("matrix", json.dumps(asdict(matrix), default=str, sort_keys=True))
    return key, cache.get_or_draw(key, lambda path: write_matrix_figure(matrix, path))
