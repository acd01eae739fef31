"""How long `zoo --help` and every `zoo COMMAND --help` take to start (fresh interpreter each time).

Prints the median and best wall time of each over --repeats runs, and the median CPU time (user + system)
of the process: on a busy machine the best and the CPU time are the steadier figures; the baseline of a bare `python -c pass` and
`python -c "import typer"` measured in the same run; the load average; and the ten slowest imports of
`zoo.cli.main` (`python -X importtime`). The goal is <= 0.5 s per command; the figures are printed, never
asserted.

Usage: .venv/bin/python benchmarks/bench_cli_start.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

COMMANDS = (
    [],
    ["ingest"],
    ["worker"],
    ["runs"],
    ["runs", "retry"],
    ["featurize"],
    ["sql"],
    ["query"],
    ["fit"],
    ["fits"],
    ["predict"],
    ["evaluate"],
    ["show"],
    ["report"],
    ["serve"],
    ["datasets"],
    ["datasets", "add"],
    ["datasets", "list"],
    ["db"],
    ["db", "upgrade"],
)


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], repeats: int) -> tuple[float, float, float]:
    """Median wall time, best wall time and median CPU time of ``argv`` over ``repeats`` runs."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), _child_cpu()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
        walls.append(time.perf_counter() - start)
        cpus.append(_child_cpu() - cpu)
    return statistics.median(walls), min(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    python = [sys.executable]
    print("load average before: " + " ".join(f"{load:.2f}" for load in os.getloadavg()) + f" ({os.cpu_count()} CPUs)")
    bare, bare_best, bare_cpu = timed(python + ["-c", "pass"], args.repeats)
    typer_only, typer_best, typer_cpu = timed(python + ["-c", "import typer"], args.repeats)
    print(f"{args.repeats} runs each: median wall (best wall) and median CPU time")
    print(f"baseline: python -c pass {bare:.3f} s ({bare_best:.3f} s) {bare_cpu:.3f} s CPU")
    print(f"baseline: python -c 'import typer' {typer_only:.3f} s ({typer_best:.3f} s) {typer_cpu:.3f} s CPU")
    slowest = slowest_best = 0.0
    for command in COMMANDS:
        took, best, cpu = timed(python + ["-m", "zoo", *command, "--help"], args.repeats)
        slowest, slowest_best = max(slowest, took), max(slowest_best, best)
        print(
            f"zoo {' '.join(command + ['--help']):<28} {took:.3f} s ({best:.3f} s) {cpu:.3f} s CPU  "
            f"({took / bare:.1f}x bare python wall, {cpu / bare_cpu:.1f}x CPU)"
        )
    print(f"slowest: {slowest:.3f} s median, {slowest_best:.3f} s best (goal <= 0.5 s)")
    print("load average after: " + " ".join(f"{load:.2f}" for load in os.getloadavg()))
    out = subprocess.run(
        python + ["-X", "importtime", "-c", "import zoo.cli.main"], capture_output=True, text=True
    ).stderr
    rows = []
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    print("slowest imports of zoo.cli.main (cumulative µs):")
    for micros, name in sorted(rows, reverse=True)[:10]:
        print(f"  {micros:>9}  {name.strip()}")
    heavy = [
        m
        for m in ("pydantic", "sqlalchemy", "numpy", "scipy", "sklearn", "matplotlib", "torch", "alembic")
        if any(n.strip() == m for _, n in rows)
    ]
    print("heavy packages imported by zoo.cli.main: " + (", ".join(heavy) or "none"))


if __name__ == "__main__":
    main()
