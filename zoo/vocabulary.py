"""The names the catalog's schema fixes, in one place and without imports.

Command-line help, ``--where`` whitelists and fit targets are written from these tuples. The module imports
nothing (no SQLAlchemy, no numpy), so ``zoo --help`` and every ``zoo COMMAND --help`` can show them without
loading the database or the numeric stack. ``tests/test_vocabulary.py`` checks that the modules which use the
same names at run time (:mod:`zoo.selection`, :mod:`zoo.db.models`, :mod:`zoo.metamodel`) agree with them.
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
    "channel_saturation", "convex_hull_volume", "dist_to_gaussian", "filter_variance",
    "spatial_roughness", "bregman_distance", "laplacian_variance", "wavelet_noise_sigma",
)

# Keys of the selection language (``arch=resnet*,min_epoch=1``) and the view columns ``--where`` compares.
SELECTION_KEYS: tuple[str, ...] = ("arch", "base", "variant", "kind", "optimizer", "grid", "source", "trial", "epoch", "min_epoch", "max_epoch")
WHERE_COLUMNS: tuple[str, ...] = (
    "checkpoint_id", "epoch", "step", "run_id", "trial", "image_size", "val_accuracy", "train_loss", "lr",
    *PROPERTY_NAMES, *PAPER_V1_METRICS,
)
