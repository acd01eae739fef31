"""Time the filter feature sets on ResNet-sized banks (64 x 3 x 7 x 7): paper-v1 before and after, paper-v2.

Prints, for this machine:

* paper-v1 per bank, *before* (what the compiled kernels replaced: the vectorized numpy kernels with Qhull
  for every hull, kept as ``zoo.filters.numpy_reference.NUMPY_REFERENCE``, and split Bregman's sweeps in blocks of
  64 images), *after* (the code in use), and the first vectorized version (skimage's split-Bregman kernel,
  8-neighbour roughness), measured alternately in the same run so the machine's load hits all alike; the
  ratios, and the largest relative difference of the eight values after vs before over many random banks
  and over degenerate ones (those of the tests, nearly equal channels, quantized weights);
* paper-v2 and paper-literal-v1 per bank, and each paper-v1 metric before and after, each paper-v2 metric;
* the convex hull alone: the compiled exact hull against the Qhull path, and how many banks fell back;
* the per-filter oracle of ``tests/zoo/filters/oracle_metrics.py`` (the slow reference);
* ``featurize_many`` of many banks (10,000 by default): total seconds, before and after.

Medians of wall-clock and CPU time with one thread; figures only, nothing passes or fails. On a shared,
loaded machine the CPU time is the fairer figure: the wall time mostly measures the wait for a core.

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
from zoo.filters import featuresets, metrics, split_bregman  # noqa: E402
from zoo.filters.hull import hull_volumes  # noqa: E402
from zoo.filters.numpy_reference import NUMPY_REFERENCE  # noqa: E402

BANK_SHAPE = (64, 3, 7, 7)
ALL_AFTER = {name: zf.get_metric(name) for name in zf.PAPER_V1.metrics}


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


def bregman_before(banks: np.ndarray) -> np.ndarray:
    """paper-v1's bregman_distance as it was: the numpy distance, the sweeps in blocks of 64 images."""
    saved, split_bregman._MAX_BLOCK = split_bregman._MAX_BLOCK, 64
    try:
        return NUMPY_REFERENCE["bregman_distance"](banks)
    finally:
        split_bregman._MAX_BLOCK = saved


# The implementation the compiled kernels replaced: numpy kernels, Qhull for every hull, Bregman in blocks of 64.
BEFORE = {**NUMPY_REFERENCE, "bregman_distance": bregman_before}
FIRST = {  # the first vectorized version: numpy, skimage's Bregman kernel, 8 differences per centre
    **BEFORE,
    "bregman_distance": metrics.bregman_distance_skimage,
    "spatial_roughness": roughness_before,
}


def featurize_v1(batch: np.ndarray, kernels: dict[str, Callable[[np.ndarray], np.ndarray]]) -> np.ndarray:
    """paper-v1 of a validated batch ``(B, N, 3, n, n)`` with the given kernels (by metric name)."""
    return np.stack([kernels[name](batch) for name in zf.PAPER_V1.metrics], axis=1)


def featurize_many_v1(banks: np.ndarray, kernels: dict[str, Callable[[np.ndarray], np.ndarray]]) -> np.ndarray:
    """``featurize_many``'s chunking, with the given kernels."""
    step = max(1, featuresets._CHUNK_ELEMENTS // int(np.prod(banks.shape[1:])))
    return np.concatenate(
        [featurize_v1(zf.as_bank_batch(banks[start : start + step]), kernels) for start in range(0, len(banks), step)]
    )


def relative_differences(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """``|new - old| / |old|`` (0 where both are 0, inf where only ``old`` is)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(new == old, 0.0, np.abs(new - old) / np.abs(old))


def degenerate_banks() -> dict[str, np.ndarray]:
    """The degenerate banks of ``tests/zoo/filters/test_metrics.py``, plus nearly flat and quantized ones."""
    from test_metrics import DEGENERATE

    rng = np.random.default_rng(1)
    gray = np.repeat(rng.standard_normal((64, 1, 7, 7)), 3, axis=1)
    return {
        **DEGENERATE,
        "nearly_equal_channels_1e-6": gray + 1e-6 * rng.standard_normal(gray.shape),
        "nearly_equal_channels_1e-3": gray + 1e-3 * rng.standard_normal(gray.shape),
        "quantized_to_8_levels": np.round(4 * rng.standard_normal((64, 3, 7, 7))) / 4,
        "half_zero_filters": np.concatenate([np.zeros((32, 3, 7, 7)), rng.standard_normal((32, 3, 7, 7))]),
    }


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
            "v1 before (numpy + Qhull)": lambda: featurize_v1(zf.as_bank_batch(bank), BEFORE),
            "v1 after (compiled)": lambda: zf.featurize(bank, "paper-v1"),
            "v1 first vectorized (skimage Bregman)": lambda: featurize_v1(zf.as_bank_batch(bank), FIRST),
            "paper-v2": lambda: zf.featurize(bank, "paper-v2"),
            "paper-literal-v1": lambda: zf.featurize(bank, "paper-literal-v1"),
        },
        args.repeats,
    )
    print(f"one bank (median of {args.repeats}, timed alternately)        wall        CPU")
    for name, (wall, cpu) in one.items():
        print(f"  {name:<40}{wall * 1e3:9.3f} ms {cpu * 1e3:9.3f} ms")
    before, after = one["v1 before (numpy + Qhull)"], one["v1 after (compiled)"]
    first = one["v1 first vectorized (skimage Bregman)"]
    print(f"  paper-v1 speed-up, before / after       {before[0] / after[0]:9.2f} x  {before[1] / after[1]:9.2f} x")
    print(f"  paper-v1 speed-up, first / after        {first[0] / after[0]:9.2f} x  {first[1] / after[1]:9.2f} x")

    check = 10.0 ** rng.uniform(-4, 0, (args.check_banks, 1, 1, 1, 1)) * rng.standard_normal(
        (args.check_banks, *BANK_SHAPE)
    )
    old, new = featurize_many_v1(check, BEFORE), zf.featurize_many(check, "paper-v1")
    relative = relative_differences(new, old)
    print(
        f"  max relative difference after vs before over {args.check_banks} random banks "
        f"(scales 1e-4..1): {relative.max():.2e} ({zf.PAPER_V1.metrics[int(relative.max(axis=0).argmax())]})"
    )
    print("  degenerate banks, after vs before: max relative difference of the eight values (0 where both are 0)")
    for case, degenerate in degenerate_banks().items():
        batch_case = zf.as_bank_batch(degenerate)
        relative = relative_differences(featurize_v1(batch_case, ALL_AFTER)[0], featurize_v1(batch_case, BEFORE)[0])
        worst = int(relative.argmax())
        print(f"    {case:<28} {relative[worst]:.1e}" + (f" ({zf.PAPER_V1.metrics[worst]})" if relative[worst] else ""))
    print()

    hull_times = alternating_medians(
        {
            "hull, Qhull path (before)": lambda: metrics.convex_hull_volume_qhull(batch),
            "hull, compiled exact (after)": lambda: zf.get_metric("convex_hull_volume")(batch),
        },
        args.repeats,
    )
    fallbacks = int(np.isnan(hull_volumes(zf.as_bank_batch(check))).sum())
    print("convex hull alone, one bank                    wall        CPU")
    for name, (wall, cpu) in hull_times.items():
        print(f"  {name:<40}{wall * 1e3:9.3f} ms {cpu * 1e3:9.3f} ms")
    print(f"  banks left to Qhull by the compiled hull: {fallbacks} of {args.check_banks} random banks\n")

    slow = alternating_medians({"oracle": lambda: oracle_featurize(bank)}, args.oracle_repeats)["oracle"][1]
    print(
        f"per-filter oracle loop (median CPU of {args.oracle_repeats}): {slow * 1e3:.1f} ms, "
        f"{slow / after[1]:.0f} x paper-v1 after\n"
    )

    per_metric = {}
    for name in zf.PAPER_V1.metrics:
        per_metric[f"{name} (before)"] = lambda kernel=BEFORE[name]: kernel(batch)
        per_metric[name] = lambda kernel=zf.get_metric(name): kernel(batch)
    for name in zf.PAPER_V2.metrics:
        per_metric[name] = lambda kernel=zf.get_metric(name): kernel(batch)
    metric_times = alternating_medians(per_metric, max(5, args.repeats // 4))
    print("per metric, one bank, wall and CPU (a group such as the spectrum runs once per featurize)")
    for name, (wall, cpu) in metric_times.items():
        print(f"  {name:<34}{wall * 1e3:9.3f} ms {cpu * 1e3:9.3f} ms")

    many = (0.01 * rng.standard_normal((args.banks, *BANK_SHAPE))).astype(np.float32)
    for label, count, run in (
        ("paper-v1 after ", args.banks, lambda: zf.featurize_many(many, "paper-v1")),
        ("paper-v1 before", args.baseline_banks, lambda: featurize_many_v1(many[: args.baseline_banks], BEFORE)),
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
