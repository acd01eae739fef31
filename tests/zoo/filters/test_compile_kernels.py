"""zoo.filters.compile_kernels leaves the featurizing kernels in numba's on-disk cache for later processes."""

from __future__ import annotations

from pathlib import Path

import zoo.filters


def test_compiled_kernels_are_cached_on_disk_for_later_processes() -> None:
    zoo.filters.compile_kernels()
    cache = Path(zoo.filters.__file__).parent / "__pycache__"
    index = {p.name.split(".")[0] for p in cache.glob("*.nbi")}  # one index file per cached function
    data = {p.name.split(".")[0] for p in cache.glob("*.nbc")}  # and its compiled code
    assert {"hull", "compiled_metrics", "split_bregman"} <= index & data
