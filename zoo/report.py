"""``zoo report``: the paper's Table 1 protocol on whatever the catalog holds, with its figures.

Rows (test R² mean ± std over seeds, random forests of 30 trees on the paper-v1 metric vectors):

* ``resnet50 → resnet18`` for sharpness, noisiness and object scale, as in the paper;
* ``others → HELD-OUT`` for sharpness and noisiness: trained on every other architecture, tested on the
  held-out one (ConvNeXt-Tiny when the catalog has it, as in the paper);
* the same resnet50 → resnet18 sharpness and noisiness fits on the log of the target, marked as such.

Raw rows follow the paper: R² on the property itself, dominated by the largest values (for sharpness and
noisiness, the noise variants). Log rows score the logarithm, so every order of magnitude counts alike.

Beside Table 1 the report gives the generalization matrix (:mod:`zoo.metamodel.evaluate`) for sharpness
and noisiness on the log target: leave one architecture, base dataset, optimizer, learning rate or image
size out, and k folds of base dataset × variant groups, each row explained in words.

Only trained checkpoints count (``min_epoch=1``): an epoch-0 snapshot is the reference itself, with a
zero delta. A ``selection`` (``zoo report --grid demo --arch 'resnet*'``) narrows every experiment's own
train and test selections and the matrices' selection; the report says which grids, image sizes and
architectures the checkpoints it fitted on came from (:class:`Pooled`), and how each of their base datasets'
noise variants draw their noise (:attr:`Report.noise`). The counts are queries of :mod:`zoo.query`.

This module builds the report (:func:`build_report`); :mod:`zoo.report_write` writes it to a folder:
``report.md`` (table, grids, software versions), ``report.json``, the Figure 3 filters of a ResNet-50 and a
Figure 4 plot per row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from fnmatch import fnmatch
from typing import Any

from zoo.catalog import Catalog
from zoo.datasets import dataset_noise, list_datasets
from zoo.errors import InvalidInput, ZooError
from zoo.filters import DEFAULT_FEATURE_SET, get_feature_set
from zoo.metamodel import (
    FitRecord,
    FitResult,
    GeneralizationMatrix,
    evaluate_generalization,
    fit_meta_model,
    fit_predictor,
    get_fit,
)
from zoo.metamodel.features import MetricWhere
from zoo.metamodel.fitting import check_forest_settings
from zoo.query import arch_counts, drawn_counts
from zoo.selection import Selection
from zoo.vocabulary import VARIANT_KINDS

TRAIN_ARCH, TEST_ARCH, PREFERRED_HELD_OUT = "resnet50", "resnet18", "convnext_tiny"
# The paper's Table 1: (training samples, testing samples, test R²).
PAPER_TABLE = {
    ("resnet50 → resnet18", "sharpness"): (3402, 3280, "0.922 ± 0.004"),
    ("resnet50 → resnet18", "noisiness"): (3402, 3280, "0.614 ± 0.01"),
    ("resnet50 → resnet18", "object_scale"): (900, 900, "0.373 ± 0.004"),
    ("others → held-out", "sharpness"): (10084, 662, "0.749 ± 0.027"),
    ("others → held-out", "noisiness"): (10084, 662, "-0.082 ± 0.115"),
}


@dataclass(frozen=True)
class ReportRow:
    experiment: str
    target: str
    space: str  # "raw" (as in the paper) or "log"
    n_train: int
    n_test: int
    r2_mean: float | None
    r2_std: float | None
    paper: str | None
    fit_id: int | None
    note: str = ""


@dataclass(frozen=True)
class Experiment:
    experiment: str
    paper_key: str
    target: str
    train: Selection
    test: Selection
    log_target: bool = False


TRAINED = Selection(min_epoch=1)
UNDILATED_KINDS = tuple(kind for kind in VARIANT_KINDS if kind != "dilate")


def catalog_archs(catalog: Catalog, selection: Selection | None = None) -> list[str]:
    """Architectures with trained checkpoints (in ``selection``, if given), most checkpoints first."""
    return [arch for arch, _ in arch_counts(catalog, TRAINED.narrowed(selection or Selection()))]


def held_out_arch(archs: list[str]) -> str | None:
    """ConvNeXt-Tiny as in the paper; else the most populated architecture that is not a ResNet-18/50."""
    if PREFERRED_HELD_OUT in archs:
        return PREFERRED_HELD_OUT
    return next((a for a in archs if a not in (TRAIN_ARCH, TEST_ARCH)), None)


def experiments(archs: list[str]) -> list[Experiment]:
    """Table 1's experiments for a catalog with trained checkpoints of ``archs``, each with its own selections."""
    trained = TRAINED
    r50, r18 = trained.narrowed(Selection(archs=(TRAIN_ARCH,))), trained.narrowed(Selection(archs=(TEST_ARCH,)))
    rows = [
        Experiment("resnet50 → resnet18", "resnet50 → resnet18", t, r50, r18)
        for t in ("sharpness", "noisiness", "object_scale")
    ]
    # Object scale without the dilation variants: dilation is bilinear upsampling, which also blurs, so the row
    # above can be read off sharpness; here object scale varies only with the shapes' render scale.
    undilated = Selection(variant_kinds=UNDILATED_KINDS)
    rows.append(
        Experiment(
            "resnet50 → resnet18, no dilation",
            "undilated",
            "object_scale",
            r50.narrowed(undilated),
            r18.narrowed(undilated),
        )
    )
    held = held_out_arch(archs)
    if held is not None:
        others = tuple(a for a in archs if a != held)
        train, test = trained.narrowed(Selection(archs=others)), trained.narrowed(Selection(archs=(held,)))
        rows += [
            Experiment(f"others → {held}", "others → held-out", t, train, test) for t in ("sharpness", "noisiness")
        ]
    rows += [
        Experiment("resnet50 → resnet18", "resnet50 → resnet18", t, r50, r18, log_target=True)
        for t in ("sharpness", "noisiness")
    ]
    return rows


def _row(experiment: Experiment, result: FitResult | None, note: str = "") -> ReportRow:
    paper = PAPER_TABLE.get((experiment.paper_key, experiment.target))
    return ReportRow(
        experiment=experiment.experiment,
        target=experiment.target,
        space="log" if experiment.log_target else "raw",
        n_train=result.n_train if result else 0,
        n_test=result.n_test if result else 0,
        r2_mean=result.r2_mean if result else None,
        r2_std=result.r2_std if result else None,
        paper=paper[2] if paper and not experiment.log_target else None,
        fit_id=result.id if result else None,
        note=note,
    )


def within(experiment: Experiment, selection: Selection, archs: list[str]) -> Experiment | str:
    """``experiment`` with both sides narrowed by ``selection``, or why it cannot run inside it.

    The experiment names its architectures itself; a selection that also names architectures (``--arch``)
    keeps the experiment when both of its sides' architectures are among ``archs`` (those with trained
    checkpoints in the selection) and otherwise says which one the selection lacks."""
    if selection.archs:
        missing = [a for side in (experiment.train, experiment.test) for a in side.archs if a not in archs]
        if missing:
            return f"the selection ({selection}) has no trained {', '.join(dict.fromkeys(missing))} checkpoints"
        selection = replace(selection, archs=())
    if selection.variant_kinds and experiment.train.variant_kinds:  # both name kinds: keep the kinds both allow
        kinds = tuple(k for k in experiment.train.variant_kinds if any(fnmatch(k, p) for p in selection.variant_kinds))
        if not kinds:
            return f"the selection ({selection}) has none of this row's variant kinds ({', '.join(experiment.train.variant_kinds)})"
        experiment = replace(
            experiment,
            train=replace(experiment.train, variant_kinds=kinds),
            test=replace(experiment.test, variant_kinds=kinds),
        )
        selection = replace(selection, variant_kinds=())
    return replace(experiment, train=experiment.train.narrowed(selection), test=experiment.test.narrowed(selection))


@dataclass(frozen=True)
class Pooled:
    """What the report's fits drew from: trained checkpoints (having the target) of the fitted rows' and the
    matrices' selections, counted per grid, image size, architecture and base dataset (most first).

    ``grids`` names checkpoints without a grid (hub or file checkpoints) ``"(none)"``; ``image_sizes`` holds
    ``None`` for checkpoints whose training image size is unknown."""

    n_checkpoints: int
    grids: tuple[tuple[str, int], ...]
    image_sizes: tuple[tuple[int | None, int], ...]
    archs: tuple[tuple[str, int], ...]
    datasets: tuple[tuple[str, int], ...] = ()

    def describe(self) -> str:
        """One sentence, e.g. ``480 trained checkpoints from grid demo (480); image size 32 px (480); ...``."""
        if not self.n_checkpoints:
            return "no checkpoints were fitted on"

        def counted(items: tuple[tuple[Any, int], ...], unit: str = "") -> str:
            return ", ".join(f"{'unknown' if name is None else f'{name}{unit}'} ({n:,})" for name, n in items)

        return (
            f"{self.n_checkpoints:,} trained checkpoint{'s' if self.n_checkpoints != 1 else ''} from "
            f"grid{'s' if len(self.grids) != 1 else ''} {counted(self.grids)}; "
            f"image size{'s' if len(self.image_sizes) != 1 else ''} {counted(self.image_sizes, ' px')}; "
            f"architecture{'s' if len(self.archs) != 1 else ''} {counted(self.archs)}; "
            f"base dataset{'s' if len(self.datasets) != 1 else ''} {counted(self.datasets)}"
        )


def pooled(catalog: Catalog, uses: list[tuple[Selection, str]]) -> Pooled:
    """Count the checkpoints that ``uses`` (selection, target) draw on, once each, by grid, image size, arch
    and base dataset."""
    counts = drawn_counts(catalog, uses)

    def by(index: int) -> tuple[tuple[Any, int], ...]:
        totals: dict[Any, int] = {}
        for row in counts:
            key = "(none)" if index == 0 and row[0] is None else row[index]
            totals[key] = totals.get(key, 0) + row[4]
        return tuple(sorted(totals.items(), key=lambda item: (-item[1], str(item[0]))))

    return Pooled(sum(row[4] for row in counts), by(0), by(1), by(2), by(3))


def noise_draws(catalog: Catalog, datasets: list[str]) -> tuple[tuple[str, str], ...]:
    """(base dataset, how its noise variants draw their noise) for each of ``datasets``, by name:
    ``"per-step"`` (fresh noise each training step) or ``"fixed"`` (drawn once per image, saved as 8-bit
    images), as :func:`zoo.datasets.dataset_noise` tells."""
    wanted = set(datasets)
    return tuple(sorted((d.name, dataset_noise(d)) for d in list_datasets(catalog) if d.name in wanted))


MATRIX_TARGETS = ("sharpness", "noisiness")
MATRIX_REPEATS = 3


@dataclass(frozen=True)
class Report:
    rows: tuple[ReportRow, ...]
    results: tuple[FitResult | None, ...]
    archs: tuple[str, ...]
    feature_set: str = DEFAULT_FEATURE_SET
    matrices: tuple[GeneralizationMatrix, ...] = ()
    matrix_notes: tuple[str, ...] = ()
    selection: str = "all"  # the selection given to build_report, in text form
    pooled: Pooled = Pooled(0, (), (), ())
    predictors: tuple[FitRecord, ...] = ()  # what zoo predict uses (made here), see zoo.metamodel.predictor
    predictor_notes: tuple[str, ...] = ()
    noise: tuple[tuple[str, str], ...] = ()  # (base dataset, "per-step" or "fixed") of the pooled datasets
    # Table 1 again with another feature set (e.g. paper-literal): (row index, R² mean, R² std or None, note)
    compare_feature_set: str | None = None
    compare_rows: tuple[tuple[int, float | None, float | None, str], ...] = ()


Progress = Callable[[int, int], None]


def _matrices(
    catalog: Catalog,
    feature_set: str,
    n_estimators: int,
    seed: int,
    targets: tuple[str, ...],
    chosen: Selection,
    metric_wheres: tuple[MetricWhere, ...],
    steps: _Steps,
) -> tuple[tuple[GeneralizationMatrix, ...], tuple[str, ...]]:
    matrices, notes = [], []
    for target in targets:
        try:
            matrices.append(
                evaluate_generalization(
                    catalog,
                    target,
                    chosen,
                    feature_set=feature_set,
                    n_estimators=n_estimators,
                    repeats=MATRIX_REPEATS,
                    seed=seed,
                    metric_wheres=metric_wheres,
                    on_progress=steps.part,
                )
            )
        except ZooError as error:
            notes.append(f"{target}: {error}")
        steps.part_done()
    return tuple(matrices), tuple(notes)


class _Steps:
    """Counts steps for ``on_progress(done, total)``: each planned step counts one until a step reports its own
    parts (a matrix its cells), which then take its place in the total."""

    def __init__(self, planned: int, on_progress: Progress | None) -> None:
        self.total, self.done, self.on_progress = planned, 0, on_progress
        self._parts: tuple[int, int] = (0, 1)  # the current step: (parts done, parts)
        self._report()

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.done + self._parts[0], self.total - 1 + self._parts[1] if self.total else 0)

    def part(self, done: int, total: int) -> None:
        """The current step's progress, in parts of its own."""
        self._parts = (done, max(total, 1))
        self._report()

    def part_done(self) -> None:
        """The current step finished (or failed): its parts join ``done`` for good."""
        parts = self._parts[1]
        self.done, self.total, self._parts = self.done + parts, self.total - 1 + parts, (0, 1)
        self._report()


def build_report(
    catalog: Catalog,
    *,
    repeats: int = 5,
    n_estimators: int = 30,
    seed: int = 0,
    store: bool = True,
    feature_set: str = DEFAULT_FEATURE_SET,
    matrix: bool = True,
    selection: Selection | None = None,
    metric_wheres: tuple[MetricWhere, ...] = (),
    on_progress: Progress | None = None,
    predictors: bool = True,
    compare_feature_set: str | None = None,
) -> Report:
    """Fit every Table 1 experiment the catalog can support (rows it cannot fit say why), and the
    generalization matrices unless ``matrix=False``, and (when ``store`` and ``predictors``) a predictor of
    each matrix target on the selection: the fits ``zoo predict`` uses, with their held-out scores and
    calibrated interval (:mod:`zoo.metamodel.predictor`).

    ``selection`` (and ``metric_wheres``, conditions on the feature set's metrics) narrows each experiment's
    own train and test selections (:func:`within`) and the matrices' selection; :attr:`Report.pooled` counts
    the checkpoints that were drawn on, :attr:`Report.noise` how their base datasets' noise variants draw
    noise. ``on_progress(done, total)`` is called as the work advances: one step
    per Table 1 row, one per cell of each matrix (a matrix counts as one step until its cells are known, so
    ``total`` may grow).

    ``compare_feature_set`` fits every Table 1 row a second time on that feature set's vectors (not stored):
    :attr:`Report.compare_rows`, a sensitivity table (how much a reading of the paper's metrics moves its
    figures, e.g. ``paper-literal`` against ``paper-v1``). It cannot be combined with ``metric_wheres``, which
    name the report's own feature set's metrics."""
    check_forest_settings(n_estimators, repeats, seed=seed)
    feature_set = get_feature_set(feature_set).key
    compare = get_feature_set(compare_feature_set).key if compare_feature_set else None
    if compare is not None and metric_wheres:
        raise InvalidInput(
            "`compare_feature_set` refits Table 1 on another feature set for a sensitivity table, and the metric "
            "conditions of `metric_wheres` name the report's own set's metrics; leave out one or the other",
            param="compare_feature_set",
            mentions=("metric_wheres",),
        )
    chosen = selection or Selection()
    archs = catalog_archs(catalog, chosen)
    if not archs:
        if chosen.is_empty():
            raise InvalidInput("the catalog has no trained checkpoints yet; run `zoo ingest --run-grid` first")
        raise InvalidInput(
            f"no trained checkpoints match {chosen}; `zoo query --count-by arch` shows what the catalog holds"
        )
    planned = experiments(archs)
    make_predictors = predictors and store
    steps = _Steps(
        len(planned) * (2 if compare else 1)
        + (len(MATRIX_TARGETS) if matrix else 0)
        + (len(MATRIX_TARGETS) if make_predictors else 0),
        on_progress,
    )
    rows, results, uses = [], [], []
    for experiment in planned:
        narrowed = within(experiment, chosen, archs)
        if isinstance(narrowed, str):
            rows.append(_row(experiment, None, note=narrowed))
            results.append(None)
            steps.part_done()
            continue
        try:
            result = fit_meta_model(
                catalog,
                narrowed.target,
                narrowed.train,
                narrowed.test,
                n_estimators=n_estimators,
                repeats=repeats,
                log_target=narrowed.log_target,
                seed=seed,
                store=store,
                feature_set=feature_set,
                train_where=metric_wheres,
                test_where=metric_wheres,
                label=f"report: {experiment.experiment}, {experiment.target}"
                + (" (log)" if experiment.log_target else ""),
            )
        except ZooError as error:  # e.g. no object_scale ground truth, or an architecture missing
            rows.append(_row(experiment, None, note=str(error)))
            results.append(None)
            steps.part_done()
            continue
        rows.append(_row(experiment, result))
        results.append(result)
        uses += [(narrowed.train, narrowed.target), (narrowed.test, narrowed.target)]
        steps.part_done()
    compared = []
    for index, experiment in enumerate(planned if compare else ()):
        narrowed = within(experiment, chosen, archs)
        if results[index] is None or isinstance(narrowed, str):
            compared.append((index, None, None, "not fitted on the report's feature set"))
        else:
            try:
                other = fit_meta_model(
                    catalog, narrowed.target, narrowed.train, narrowed.test, n_estimators=n_estimators,
                    repeats=repeats, log_target=narrowed.log_target, seed=seed, store=False, feature_set=compare,
                )  # fmt: skip
                compared.append((index, other.r2_mean, other.r2_std, ""))
            except ZooError as error:  # e.g. the catalog lacks that feature set's vectors: `zoo featurize`
                compared.append((index, None, None, str(error)))
        steps.part_done()
    matrices, notes = ((), ())
    if matrix:
        in_matrices = TRAINED.narrowed(chosen)
        matrices, notes = _matrices(
            catalog, feature_set, n_estimators, seed, MATRIX_TARGETS, in_matrices, metric_wheres, steps
        )
        uses += [(in_matrices, m.target) for m in matrices]
    made, predictor_notes = [], []
    for target in MATRIX_TARGETS if make_predictors else ():
        try:
            fitted = fit_predictor(
                catalog, target, feature_set, chosen, n_estimators=n_estimators, repeats=repeats, seed=seed,
                metric_wheres=metric_wheres, label=f"report: {target} predictor",
            )  # fmt: skip
            made.append(get_fit(catalog, fitted.id))
        except ZooError as error:
            predictor_notes.append(f"{target}: {error}")
        steps.part_done()
    drawn = pooled(catalog, uses)
    return Report(
        tuple(rows),
        tuple(results),
        tuple(archs),
        feature_set,
        matrices,
        notes,
        str(chosen),
        drawn,
        tuple(made),
        tuple(predictor_notes),
        noise_draws(catalog, [name for name, _ in drawn.datasets]),
        compare,
        tuple(compared),
    )


def interval_ranges(calibration: dict[str, Any]) -> list[tuple[str, tuple[float, float]]]:
    """(range of the predicted value in words, (q_low, q_high)) per calibration bin of a predictor."""
    bins = calibration.get("bins") or [[calibration["q_low"], calibration["q_high"]]]
    edges = [math.exp(e) for e in calibration.get("edges") or []]
    if len(bins) == 1:
        return [("all", (bins[0][0], bins[0][1]))]
    words = [f"below {edges[0]:.2g}"]
    words += [f"{a:.2g}–{b:.2g}" for a, b in zip(edges, edges[1:])]
    words += [f"above {edges[-1]:.2g}"]
    return [(w, (lo, hi)) for w, (lo, hi) in zip(words, bins)]
