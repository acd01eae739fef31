"""Time the paper's eight filter metrics on ResNet-sized banks (64 x 3 x 7 x 7).

Prints, for this machine: the median time to featurize one bank with the vectorized code and with the
per-filter oracle loop of ``tests/filters/oracle_metrics.py``, their ratio, each metric's share, and the time
to featurize many banks with ``featurize_many``. Figures only; nothing passes or fails.

Usage: python benchmarks/bench_metrics.py [--banks 10000] [--repeats 200] [--oracle-repeats 15]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "filters"))
from oracle_metrics import ORACLE, oracle_featurize  # noqa: E402

import zoo.filters as zf  # noqa: E402

BANK_SHAPE = (64, 3, 7, 7)


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    function()  # warm caches and lazy imports
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--banks", type=int, default=10_000, help="banks for the featurize_many run")
    parser.add_argument("--repeats", type=int, default=200, help="timed runs of the vectorized code")
    parser.add_argument("--oracle-repeats", type=int, default=15, help="timed runs of the oracle loop")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    bank = (0.01 * rng.standard_normal(BANK_SHAPE)).astype(np.float32)  # delta-sized values
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"numpy {np.__version__}, python {platform.python_version()}")
    print(f"bank: {'x'.join(map(str, BANK_SHAPE))} float32, feature set {zf.DEFAULT_FEATURE_SET}\n")

    fast = median_seconds(lambda: zf.featurize(bank), args.repeats)
    slow = median_seconds(lambda: oracle_featurize(bank), args.oracle_repeats)
    print(f"one bank, all eight metrics (median of {args.repeats} / {args.oracle_repeats} runs)")
    print(f"  vectorized featurize : {fast * 1e3:8.3f} ms")
    print(f"  per-filter oracle    : {slow * 1e3:8.3f} ms")
    print(f"  speed-up             : {slow / fast:8.1f} x\n")

    batch = zf.as_bank_batch(bank)
    print("per metric, one bank      vectorized      oracle")
    bank64 = bank.astype(np.float64)
    for name in zf.PAPER_V1.metrics:
        kernel = zf.get_metric(name)
        mine = median_seconds(lambda: kernel(batch), args.repeats)
        theirs = median_seconds(lambda: ORACLE[name](bank64), max(3, args.oracle_repeats // 3))
        print(f"  {name:<22}{mine * 1e3:9.3f} ms {theirs * 1e3:9.3f} ms")

    many = (0.01 * rng.standard_normal((args.banks, *BANK_SHAPE))).astype(np.float32)
    start = time.perf_counter()
    table = zf.featurize_many(many)
    elapsed = time.perf_counter() - start
    print(f"\nfeaturize_many of {args.banks:,} banks: {elapsed:.2f} s total, "
          f"{elapsed / args.banks * 1e3:.3f} ms per bank, table {table.shape}")


if __name__ == "__main__":
    main()
