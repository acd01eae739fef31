"""First-layer filter metrics and feature sets (numpy, scipy and scikit-image only; never torch).

Importing this package registers the paper's eight metrics (:mod:`zoo.filters.metrics`) in the registry of
:mod:`zoo.filters.featuresets` and the ``paper-v1`` feature set that lists them, the scale-, count- and
size-free ``paper-v2`` and ``paper-v3`` (:mod:`zoo.filters.paper_v2`: three of its metrics, and all of them),
and ``paper-literal-v1``
(:mod:`zoo.filters.paper_literal`), the paper's ambiguous choices read literally, a sensitivity check.
"""

from zoo.filters import metrics, paper_literal, paper_v2
from zoo.filters.featuresets import (
    DEFAULT_FEATURE_SET,
    PAPER_V1,
    FeatureSet,
    as_bank_batch,
    feature_set_names,
    featurize,
    featurize_many,
    get_feature_set,
    get_metric,
    metric_names,
    register_feature_set,
    register_metric,
    register_metric_group,
    takes_grayscale,
)
from zoo.filters.metrics import (
    bregman_distance,
    channel_saturation,
    convex_hull_volume,
    dist_to_gaussian,
    filter_variance,
    laplacian_variance,
    spatial_roughness,
    wavelet_noise_sigma,
)
from zoo.filters.paper_literal import PAPER_LITERAL
from zoo.filters.paper_v2 import PAPER_V2, PAPER_V3


def compile_kernels(feature_sets: tuple[str, ...] = ("paper-v1", "paper-v2")) -> None:
    """Featurize one random 16×3×7×7 bank with each feature set, alone and in a batch, so that numba compiles
    the kernels into its on-disk cache: processes started afterwards load them (about 0.6 s) instead of
    each compiling them (about 20 s of CPU the first time on a machine)."""
    import numpy as np

    bank = np.random.default_rng(0).normal(0, 0.05, size=(16, 3, 7, 7)).astype(np.float32)
    for key in feature_sets:
        fs = get_feature_set(key)
        featurize(bank, fs)
        featurize_many([bank, bank], fs)


__all__ = [
    "DEFAULT_FEATURE_SET",
    "PAPER_LITERAL",
    "PAPER_V1",
    "PAPER_V2",
    "PAPER_V3",
    "FeatureSet",
    "as_bank_batch",
    "bregman_distance",
    "channel_saturation",
    "compile_kernels",
    "convex_hull_volume",
    "dist_to_gaussian",
    "feature_set_names",
    "featurize",
    "featurize_many",
    "filter_variance",
    "get_feature_set",
    "get_metric",
    "laplacian_variance",
    "metric_names",
    "metrics",
    "paper_literal",
    "paper_v2",
    "register_feature_set",
    "register_metric",
    "register_metric_group",
    "spatial_roughness",
    "takes_grayscale",
    "wavelet_noise_sigma",
]
