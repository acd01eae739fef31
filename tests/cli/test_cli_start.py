"""`zoo --help` starts without the heavy stack; the names and defaults its help shows are the library's."""

from __future__ import annotations

import subprocess
import sys

from zoo import vocabulary
from zoo.cli import options


def test_importing_the_cli_loads_no_heavy_package() -> None:
    code = ("import sys, zoo.cli.main; "
            "print(' '.join(m for m in ('scipy', 'sklearn', 'matplotlib', 'torch', 'sqlalchemy', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_help_defaults_are_the_library_defaults() -> None:
    from zoo import datasets, queue, sql

    assert options.DEFAULT_GRACE_S == queue.DEFAULT_GRACE_S
    assert options.DEFAULT_SAMPLES == datasets.DEFAULT_SAMPLES
    assert (options.SQL_DEFAULT_LIMIT, options.SQL_DEFAULT_TIMEOUT_S, options.SQL_DEFAULT_MAX_BYTES) == (
        sql.DEFAULT_LIMIT, sql.DEFAULT_TIMEOUT_S, sql.DEFAULT_MAX_BYTES)


def test_the_vocabulary_matches_the_schema_and_the_selection_language() -> None:
    from zoo import selection
    from zoo.db import models

    assert vocabulary.RUN_STATUSES == models.RUN_STATUSES
    assert vocabulary.CHECKPOINT_SOURCES == models.CHECKPOINT_SOURCES == selection.SOURCES
    assert set(vocabulary.REFERENCE_KINDS) == set(models.REFERENCE_KINDS)
    assert vocabulary.PROPERTY_NAMES == selection.PROPERTY_COLUMNS
    assert vocabulary.PAPER_V1_METRICS == selection.PAPER_METRIC_COLUMNS == models.PAPER_V1_METRIC_COLUMNS
    assert vocabulary.SELECTION_KEYS == selection.SELECTION_KEYS
    assert vocabulary.WHERE_COLUMNS == selection.WHERE_COLUMNS


def test_variant_kinds_are_the_registered_transforms() -> None:
    from zoo.images import transforms

    assert set(vocabulary.VARIANT_KINDS) == set(transforms._KINDS)
