"""`zoo --help` starts without the heavy stack; the defaults its help shows are the library's.

The names it shows come from zoo.vocabulary, which the library imports too (tests/test_vocabulary.py).
"""

from __future__ import annotations

import subprocess
import sys

from zoo.cli import options


def test_importing_the_cli_loads_no_heavy_package() -> None:
    code = (
        "import sys, zoo.cli.main; "
        "print(' '.join(m for m in ('scipy', 'sklearn', 'matplotlib', 'torch', 'sqlalchemy', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_help_defaults_are_the_library_defaults() -> None:
    from zoo import datasets, queue, sql

    assert options.DEFAULT_GRACE_S == queue.DEFAULT_GRACE_S
    assert options.DEFAULT_SAMPLES == datasets.DEFAULT_SAMPLES
    assert (options.SQL_DEFAULT_LIMIT, options.SQL_DEFAULT_TIMEOUT_S, options.SQL_DEFAULT_MAX_BYTES) == (
        sql.DEFAULT_LIMIT,
        sql.DEFAULT_TIMEOUT_S,
        sql.DEFAULT_MAX_BYTES,
    )
