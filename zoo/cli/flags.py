"""The flag the CLI gives each library parameter, for its one-line errors.

Library errors name the parameters as the library spells them (``n_estimators must be at least 1``, see
:mod:`zoo.errors`); the CLI's error handler (:class:`zoo.cli.main.ZooGroup`) writes the flag the user
typed instead (``--trees must be at least 1``). This table is the one place that knows which flag is which
parameter; ``tests/test_error_params.py`` fails when a library error names a parameter missing here.
"""

from __future__ import annotations

from zoo.errors import ZooError

FLAGS: dict[str, str] = {
    # fits and evaluation (zoo fit, zoo evaluate, zoo predict)
    "n_estimators": "--trees",
    "seed": "--seed",
    "compare_feature_set": "--compare-feature-set",
    "metric_wheres": "--where",
    "repeats": "--repeats",
    "folds": "--folds",
    "test_fraction": "--test-fraction",
    "split": "--split",
    "log_target": "--log-target",
    "log_target=True": "--log-target",
    "log_target=False": "--raw-target",
    "min_epoch": "--min-epoch",
    "reference": "--reference",
    "force": "--force",
    "force=True": "--force",
    "fit_ids": "--fit",
    # listings and SQL (zoo query, zoo runs, zoo sql, zoo serve)
    "limit": "--limit",
    "offset": "--offset",
    "timeout_s": "--timeout",
    "max_bytes": "--max-bytes",
    # datasets, ingest and workers
    "n_samples": "--samples",
    "per_variant": "--per-variant",
    "labels": "--property",
    "device": "--device",
    "allow_pickle": "--allow-pickle",
    "allow_pickle=True": "--allow-pickle",
    "grace_s": "--grace",
    # the catalog (the global option)
    "url": "--db",
}


def cli_message(error: ZooError) -> str:
    """``error``'s message with its parameters written as the flags that set them (``--grace 300``)."""
    return error.message_for(FLAGS, assign=" ")
