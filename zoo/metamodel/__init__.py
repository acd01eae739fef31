"""Meta-models (paper §5): random forests from first-layer metric vectors to training-data properties.

Modules, in the order data flows through them:

* :mod:`zoo.metamodel.features` — selected checkpoints as arrays (any registered feature set), reference
  checkpoints left out, conditions on a feature set's metrics, group splits (base × variant, run, base);
* :mod:`zoo.metamodel.forest` — feature scaling, forests as pickle-free arrays, the applicability domain;
* :mod:`zoo.metamodel.scores` — R² (chosen space and log), Spearman ρ, R² per variant kind, bootstrap;
* :mod:`zoo.metamodel.fitting` — :func:`fit_meta_model` and stored fits' rows;
* :mod:`zoo.metamodel.stored` — listing stored fits and predicting from metric vectors;
* :mod:`zoo.metamodel.predictor` — predictors: fits for ``zoo predict`` trained on everything, scored on
  held-out architectures, recipes and datasets, their interval calibrated on those residuals;
* :mod:`zoo.metamodel.predict` — ``zoo predict`` from metric vectors: fits chosen, reference kind, interval,
  domain (reading the model file is :mod:`ingest.predict_file`);
* :mod:`zoo.metamodel.evaluate` — ``zoo evaluate``: the generalization matrix.
"""

from zoo.metamodel.evaluate import AXES, GeneralizationMatrix, MatrixCell, axis_meaning, evaluate_generalization
from zoo.metamodel.features import (
    DEFAULT_SPLIT,
    SPLITS,
    TARGETS,
    load_feature_matrix,
    parse_selection_with_metrics,
    split_by_group,
    split_by_run,
    split_metric_wheres,
)
from zoo.metamodel.fitting import (
    DEFAULT_REPEATS,
    DEFAULT_TEST_FRACTION,
    DEFAULT_TREES,
    FitResult,
    PredictionRecord,
    fit_meta_model,
    train_forests,
)
from zoo.metamodel.forest import (
    DOMAIN_PERCENTILE,
    apply_scaler,
    domain_arrays,
    domain_scores,
    fit_scaler,
    forest_arrays,
    forests_arrays,
    load_forest,
    predict_forest,
    predict_trees,
    save_forest,
)
from zoo.metamodel.predict import PredictionPlan, PropertyPrediction, plan_prediction, predict_properties
from zoo.metamodel.predictor import Calibration, fit_predictor
from zoo.metamodel.scores import Scores, r2, r2_log, score_predictions, spearman
from zoo.metamodel.stored import (
    FeaturePrediction,
    FitRecord,
    fit_predictions,
    get_fit,
    latest_fit,
    latest_predictor,
    list_fits,
    predict_from_features,
    predict_with_fit,
)

__all__ = [
    "AXES",
    "Calibration",
    "DEFAULT_REPEATS",
    "DEFAULT_SPLIT",
    "DEFAULT_TEST_FRACTION",
    "DEFAULT_TREES",
    "DOMAIN_PERCENTILE",
    "SPLITS",
    "TARGETS",
    "FeaturePrediction",
    "FitRecord",
    "FitResult",
    "GeneralizationMatrix",
    "MatrixCell",
    "PredictionPlan",
    "PredictionRecord",
    "PropertyPrediction",
    "Scores",
    "apply_scaler",
    "axis_meaning",
    "domain_arrays",
    "domain_scores",
    "evaluate_generalization",
    "fit_meta_model",
    "fit_predictor",
    "fit_predictions",
    "fit_scaler",
    "forest_arrays",
    "forests_arrays",
    "get_fit",
    "latest_fit",
    "latest_predictor",
    "list_fits",
    "load_feature_matrix",
    "load_forest",
    "parse_selection_with_metrics",
    "plan_prediction",
    "predict_forest",
    "predict_from_features",
    "predict_properties",
    "predict_trees",
    "predict_with_fit",
    "r2",
    "r2_log",
    "save_forest",
    "score_predictions",
    "spearman",
    "split_by_group",
    "split_by_run",
    "split_metric_wheres",
    "train_forests",
]
