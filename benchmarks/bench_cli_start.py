"""How long `zoo --help` and every `zoo COMMAND --help` take to start (fresh interpreter each time).

Prints the median wall time of each over --repeats runs, the baseline of a bare `python -c pass` and
`python -c "import typer"` measured in the same run, and the ten slowest imports of `zoo.cli.main`
(`python -X importtime`). The goal is <= 0.5 s per command; the figures are printed, never asserted.

Usage: .venv/bin/python benchmarks/bench_cli_start.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
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


def timed(argv: list[str], repeats: int) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    python = [sys.executable]
    bare = timed(python + ["-c", "pass"], args.repeats)
    typer_only = timed(python + ["-c", "import typer"], args.repeats)
    print(
        f"baseline: python -c pass {bare:.3f} s; python -c 'import typer' {typer_only:.3f} s (median of {args.repeats})"
    )
    slowest = 0.0
    for command in COMMANDS:
        took = timed(python + ["-m", "zoo", *command, "--help"], args.repeats)
        slowest = max(slowest, took)
        print(f"zoo {' '.join(command + ['--help']):<28} {took:.3f} s  ({took / bare:.1f}x bare python)")
    print(f"slowest: {slowest:.3f} s (goal <= 0.5 s)")
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
        for m in ("sqlalchemy", "numpy", "scipy", "sklearn", "matplotlib", "torch", "alembic")
        if any(n.strip() == m for _, n in rows)
    ]
    print("heavy packages imported by zoo.cli.main: " + (", ".join(heavy) or "none"))


if __name__ == "__main__":
    main()
