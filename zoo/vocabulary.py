"""The names the catalog's schema fixes, in one place and without imports.

The ORM's CHECK constraints and view columns (:mod:`zoo.db.models`), the selection language and its
``--where`` whitelist (:mod:`zoo.selection`), grid references (:mod:`zoo.grids`), the fit targets
(:mod:`zoo.metamodel`) and the command-line help (:mod:`zoo.cli.options`) all import these tuples; none
keeps a copy (``tests/test_vocabulary.py`` fails on a literal that re-lists one). The module imports
nothing (no SQLAlchemy, no numpy), so ``zoo --help`` and every ``zoo COMMAND --help`` can show them without
loading the database or the numeric stack. A change here that the schema fixes needs a migration too.
"""

from __future__ import annotations

RUN_STATUSES: tuple[str, ...] = ("queued", "running", "done", "failed")
CHECKPOINT_SOURCES: tuple[str, ...] = ("run", "hub", "file")
REFERENCE_KINDS: tuple[str, ...] = ("timm", "hub", "file", "random")
VARIANT_KINDS: tuple[str, ...] = ("identity", "dilate", "resize", "blur", "noise")

# The measured training-data properties (also the fit targets), in the view's column order.
PROPERTY_NAMES: tuple[str, ...] = ("sharpness", "noisiness", "object_scale", "saturation")
# The eight paper-v1 metrics, as the checkpoint_features view names its columns.
PAPER_V1_METRICS: tuple[str, ...] = (
    "channel_saturation",
    "convex_hull_volume",
    "dist_to_gaussian",
    "filter_variance",
    "spatial_roughness",
    "bregman_distance",
    "laplacian_variance",
    "wavelet_noise_sigma",
)

# Keys of the selection language (``arch=resnet*,min_epoch=1``): glob-matched names, the trial, epoch bounds.
SELECTION_NAME_KEYS: tuple[str, ...] = ("arch", "base", "variant", "kind", "optimizer", "grid", "source")
SELECTION_EPOCH_KEYS: tuple[str, ...] = ("epoch", "min_epoch", "max_epoch")
SELECTION_KEYS: tuple[str, ...] = (*SELECTION_NAME_KEYS, "trial", *SELECTION_EPOCH_KEYS)
# The numeric columns of the checkpoint_features view that ``--where`` compares, by their SQL type.
WHERE_INTEGER_COLUMNS: tuple[str, ...] = ("checkpoint_id", "epoch", "step", "run_id", "trial", "image_size")
WHERE_FLOAT_COLUMNS: tuple[str, ...] = ("val_accuracy", "train_loss", "lr", *PROPERTY_NAMES, *PAPER_V1_METRICS)
WHERE_COLUMNS: tuple[str, ...] = (*WHERE_INTEGER_COLUMNS, *WHERE_FLOAT_COLUMNS)
