"""Time the filter feature sets on ResNet-sized banks (64 x 3 x 7 x 7): paper-v1 before and after, paper-v2.

Prints, for this machine:

* paper-v1 per bank, *before* (skimage's split-Bregman kernel and the 8-neighbour roughness loop, the
  implementation this one replaced, kept here and in ``zoo.filters.metrics.bregman_distance_skimage``) and
  *after* (the code in use), measured alternately in the same run so the machine's load hits both alike;
  their ratio, and the largest relative difference of the eight values over many random banks;
* paper-v2 and paper-literal-v1 per bank, and each paper-v1 / paper-v2 metric's share;
* the per-filter oracle of ``tests/zoo/filters/oracle_metrics.py`` (the slow reference);
* ``featurize_many`` of many banks (10,000 by default): total seconds, before and after.

Medians of wall-clock and CPU time with one thread; figures only, nothing passes or fails.

Usage: python benchmarks/bench_metrics.py [--banks 10000] [--baseline-banks 2000] [--repeats 200]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "zoo" / "filters"))
import zoo.filters as zf  # noqa: E402
from oracle_metrics import oracle_featurize  # noqa: E402
from zoo.filters import featuresets, metrics  # noqa: E402

BANK_SHAPE = (64, 3, 7, 7)


def roughness_before(banks: np.ndarray) -> np.ndarray:
    """paper-v1's spatial_roughness as it was: 8 differences per interior centre (each pair twice)."""
    size = banks.shape[-1]
    centre = banks[..., 1 : size - 1, 1 : size - 1]
    total = np.zeros(banks.shape[:2])
    for row in (-1, 0, 1):
        for col in (-1, 0, 1):
            if row == 0 and col == 0:
                continue
            neighbour = banks[..., 1 + row : size - 1 + row, 1 + col : size - 1 + col]
            total += np.sqrt(np.square(neighbour - centre).sum(axis=2)).sum(axis=(2, 3))
    return metrics._safe_divide(total.sum(axis=1) / 8.0, metrics._filter_norms(banks).sum(axis=1))


BEFORE = {"bregman_distance": metrics.bregman_distance_skimage, "spatial_roughness": roughness_before}


def featurize_v1(batch: np.ndarray, before: bool) -> np.ndarray:
    """paper-v1 of a validated batch ``(B, 64, 3, 7, 7)``, with the replaced kernels if ``before``."""
    kernels = [BEFORE.get(name, zf.get_metric(name)) if before else zf.get_metric(name) for name in zf.PAPER_V1.metrics]
    return np.stack([kernel(batch) for kernel in kernels], axis=1)


def featurize_many_v1(banks: np.ndarray, before: bool) -> np.ndarray:
    """``featurize_many``'s chunking, with either set of kernels."""
    step = max(1, featuresets._CHUNK_ELEMENTS // int(np.prod(banks.shape[1:])))
    return np.concatenate(
        [featurize_v1(zf.as_bank_batch(banks[start : start + step]), before) for start in range(0, len(banks), step)]
    )


def alternating_medians(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds of each function, timed in turn (a, b, a, b, ...) so load drifts hit all alike.

    CPU time (this process's) is printed beside wall time because on a shared, loaded machine the wall time
    mostly measures the wait for a core.
    """
    for function in functions.values():
        function()  # warm caches, lazy imports and the compiled kernel
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            wall, cpu = time.perf_counter(), time.process_time()
            function()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {
        name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
        for name, values in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--banks", type=int, default=10_000, help="banks for the featurize_many run (after)")
    parser.add_argument("--baseline-banks", type=int, default=2_000, help="banks for featurize_many before")
    parser.add_argument("--repeats", type=int, default=200, help="timed runs per one-bank figure")
    parser.add_argument("--oracle-repeats", type=int, default=5, help="timed runs of the oracle loop")
    parser.add_argument("--check-banks", type=int, default=500, help="random banks for the before/after diff")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    bank = (0.01 * rng.standard_normal(BANK_SHAPE)).astype(np.float32)  # delta-sized values
    batch = zf.as_bank_batch(bank)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"numpy {np.__version__}, python {platform.python_version()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, load {os.getloadavg()[0]:.1f}"
    )
    print(f"bank: {'x'.join(map(str, BANK_SHAPE))} float32 (values ~1e-2)\n")

    one = alternating_medians(
        {
            "v1 before": lambda: featurize_v1(zf.as_bank_batch(bank), before=True),
            "v1 after": lambda: zf.featurize(bank, "paper-v1"),
            "paper-v2": lambda: zf.featurize(bank, "paper-v2"),
            "paper-literal-v1": lambda: zf.featurize(bank, "paper-literal-v1"),
        },
        args.repeats,
    )
    print(f"one bank (median of {args.repeats}, timed alternately)        wall        CPU")
    for name, (wall, cpu) in one.items():
        print(f"  {name:<40}{wall * 1e3:9.3f} ms {cpu * 1e3:9.3f} ms")
    speed_up = [before / after for before, after in zip(one["v1 before"], one["v1 after"], strict=True)]
    print(f"  paper-v1 speed-up (before / after)      {speed_up[0]:9.2f} x  {speed_up[1]:9.2f} x")

    check = 10.0 ** rng.uniform(-4, 0, (args.check_banks, 1, 1, 1, 1)) * rng.standard_normal(
        (args.check_banks, *BANK_SHAPE)
    )
    old, new = featurize_many_v1(check, before=True), zf.featurize_many(check, "paper-v1")
    relative = np.abs(new - old) / np.maximum(np.abs(old), np.finfo(np.float64).tiny)
    print(
        f"  max relative difference after vs before over {args.check_banks} random banks "
        f"(scales 1e-4..1): {relative.max():.2e} ({zf.PAPER_V1.metrics[int(relative.max(axis=0).argmax())]})\n"
    )

    slow = alternating_medians({"oracle": lambda: oracle_featurize(bank)}, args.oracle_repeats)["oracle"][1]
    print(
        f"per-filter oracle loop (median CPU of {args.oracle_repeats}): {slow * 1e3:.1f} ms, "
        f"{slow / one['v1 after'][1]:.0f} x the vectorized paper-v1\n"
    )

    per_metric = {f"{name} (before)": (lambda kernel=kernel: kernel(batch)) for name, kernel in BEFORE.items()}
    for name in (*zf.PAPER_V1.metrics, *zf.PAPER_V2.metrics):
        per_metric[name] = lambda kernel=zf.get_metric(name): kernel(batch)
    metric_times = alternating_medians(per_metric, max(5, args.repeats // 4))
    print("per metric, one bank, wall and CPU (a group such as the spectrum runs once per featurize)")
    for name, (wall, cpu) in metric_times.items():
        print(f"  {name:<34}{wall * 1e3:9.3f} ms {cpu * 1e3:9.3f} ms")

    many = (0.01 * rng.standard_normal((args.banks, *BANK_SHAPE))).astype(np.float32)
    for label, count, run in (
        ("paper-v1 after ", args.banks, lambda: zf.featurize_many(many, "paper-v1")),
        ("paper-v1 before", args.baseline_banks, lambda: featurize_many_v1(many[: args.baseline_banks], before=True)),
        ("paper-v2       ", args.banks, lambda: zf.featurize_many(many, "paper-v2")),
    ):
        if count == 0:
            continue
        start, cpu = time.perf_counter(), time.process_time()
        run()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(
            f"\nfeaturize_many {label} of {count:,} banks: {elapsed:.2f} s wall ({cpu:.2f} s CPU), "
            f"{elapsed / count * 1e3:.3f} ms wall ({cpu / count * 1e3:.3f} ms CPU) per bank",
            end="",
        )
    print()


if __name__ == "__main__":
    main()
