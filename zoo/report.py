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
architectures the checkpoints it fitted on came from (:class:`Pooled`). The report writes ``report.md`` (table, grids, software versions), the Figure 3 filters of a
ResNet-50 and a Figure 4 plot per row to a folder.
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from fnmatch import fnmatch
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, or_, select

from zoo.catalog import Catalog
from zoo.errors import InvalidInput, ZooError
from zoo.files import write_atomically
from zoo.filters import DEFAULT_FEATURE_SET, get_feature_set
from zoo.metamodel import (
    AXES,
    FitRecord,
    FitResult,
    GeneralizationMatrix,
    evaluate_generalization,
    fit_meta_model,
    fit_predictor,
    get_fit,
)
from zoo.metamodel.features import MetricWhere
from zoo.run_stats import list_grids
from zoo.selection import CHECKPOINT_FEATURES, Selection, parse_selection, selection_clause
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
SOFTWARE = ("zoo", "torch", "timm", "numpy", "scikit-learn", "scikit-image", "sqlalchemy", "alembic")


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
    view = CHECKPOINT_FEATURES
    chosen = TRAINED.narrowed(selection or Selection())
    query = (
        select(view.c.arch, func.count())
        .where(selection_clause(chosen, catalog.dialect))
        .group_by(view.c.arch)
        .order_by(func.count().desc(), view.c.arch)
    )
    with catalog.session() as session:
        return [arch for arch, _ in session.execute(query)]


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
    matrices' selections, counted per grid, image size and architecture (most first).

    ``grids`` names checkpoints without a grid (hub or file checkpoints) ``"(none)"``; ``image_sizes`` holds
    ``None`` for checkpoints whose training image size is unknown."""

    n_checkpoints: int
    grids: tuple[tuple[str, int], ...]
    image_sizes: tuple[tuple[int | None, int], ...]
    archs: tuple[tuple[str, int], ...]

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
            f"architecture{'s' if len(self.archs) != 1 else ''} {counted(self.archs)}"
        )


def pooled(catalog: Catalog, uses: list[tuple[Selection, str]]) -> Pooled:
    """Count the checkpoints that ``uses`` (selection, target) draw on, once each, by grid, image size, arch."""
    view = CHECKPOINT_FEATURES
    if not uses:
        return Pooled(0, (), (), ())
    used = or_(
        *(and_(selection_clause(chosen, catalog.dialect), view.c[target].isnot(None)) for chosen, target in uses)
    )
    query = (
        select(view.c.grid, view.c.image_size, view.c.arch, func.count())
        .where(used)
        .group_by(view.c.grid, view.c.image_size, view.c.arch)
    )
    with catalog.session() as session:
        counts = [tuple(row) for row in session.execute(query)]

    def by(index: int) -> tuple[tuple[Any, int], ...]:
        totals: dict[Any, int] = {}
        for row in counts:
            key = "(none)" if index == 0 and row[0] is None else row[index]
            totals[key] = totals.get(key, 0) + row[3]
        return tuple(sorted(totals.items(), key=lambda item: (-item[1], str(item[0]))))

    return Pooled(sum(row[3] for row in counts), by(0), by(1), by(2))


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


Progress = Callable[[int, int], None]


def build_matrices(
    catalog: Catalog,
    *,
    feature_set: str,
    n_estimators: int,
    seed: int,
    targets: tuple[str, ...] = MATRIX_TARGETS,
    selection: Selection | None = None,
    metric_wheres: tuple[MetricWhere, ...] = (),
    on_progress: Progress | None = None,
) -> tuple[tuple[GeneralizationMatrix, ...], tuple[str, ...]]:
    """The generalization matrix of each target on trained checkpoints (of ``selection``, if given; log
    target); targets it cannot fit say why.

    ``on_progress(done, total)`` counts the matrices' cells (see :func:`build_report`)."""
    chosen = TRAINED.narrowed(selection or Selection())
    return _matrices(
        catalog, feature_set, n_estimators, seed, targets, chosen, metric_wheres, _Steps(len(targets), on_progress)
    )


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
) -> Report:
    """Fit every Table 1 experiment the catalog can support (rows it cannot fit say why), and the
    generalization matrices unless ``matrix=False``, and (when ``store`` and ``predictors``) a predictor of
    each matrix target on the selection: the fits ``zoo predict`` uses, with their held-out scores and
    calibrated interval (:mod:`zoo.metamodel.predictor`).

    ``selection`` (and ``metric_wheres``, conditions on the feature set's metrics) narrows each experiment's
    own train and test selections (:func:`within`) and the matrices' selection; :attr:`Report.pooled` counts
    the checkpoints that were drawn on. ``on_progress(done, total)`` is called as the work advances: one step
    per Table 1 row, one per cell of each matrix (a matrix counts as one step until its cells are known, so
    ``total`` may grow)."""
    feature_set = get_feature_set(feature_set).key
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
        len(planned) + (len(MATRIX_TARGETS) if matrix else 0) + (len(MATRIX_TARGETS) if make_predictors else 0),
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
    return Report(
        tuple(rows),
        tuple(results),
        tuple(archs),
        feature_set,
        matrices,
        notes,
        str(chosen),
        pooled(catalog, uses),
        tuple(made),
        tuple(predictor_notes),
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


def predictors_markdown(report: Report) -> list[str]:
    """The report's predictors: held-out R² log per axis, ρ, typical error and the calibrated interval."""
    if not report.predictors and not report.predictor_notes:
        return []
    lines = [
        "## Predictors: what `zoo predict` uses",
        "",
        "Each predictor is trained on every selected checkpoint. Its scores are measured on groups it was not "
        "trained on: each architecture, learning rate, image size and image family held out in turn (R² of the "
        "log target per axis); its 90% interval is calibrated on those held-out errors, per range of the "
        "predicted value. `zoo predict` picks the latest predictor of each target and feature set.",
        "",
        "| Target | Predictor | Trained on | R² log on held-out groups | Spearman ρ | Typical error ×/÷ | 90% interval, by range of the prediction |",
        "|---|---|---|---|---|---|---|",
    ]
    for fit in report.predictors:
        details = fit.details
        axes = ", ".join(f"{a['axis']} {_score(a['r2_log'])}" for a in details["axis_scores"])
        calibration = details["calibration"]
        interval = "; ".join(
            f"{where}: ×{math.exp(lo):.2g}–×{math.exp(hi):.2g}" for where, (lo, hi) in interval_ranges(calibration)
        )
        lines.append(
            f"| {fit.target} | {fit.id} | {fit.n_train} checkpoints | {axes} | {_score(details['spearman'])} | "
            f"{details['median_factor']:.2f} | {interval} |"
        )
    lines += [f"- predictor not fitted for {note}" for note in report.predictor_notes]
    return lines + [""]


def software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for package in SOFTWARE:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _r2(row: ReportRow) -> str:
    return "—" if row.r2_mean is None else f"{row.r2_mean:.3f} ± {row.r2_std:.3f}"


def markdown_table(rows: tuple[ReportRow, ...]) -> str:
    lines = [
        "| Experiment | Target | R² on | Training samples | Testing samples | Test R² | Paper |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        r2 = _r2(row) if not row.note else f"not fitted: {row.note}"
        lines.append(
            f"| {row.experiment} | {row.target} | {row.space} target | {row.n_train} | {row.n_test} | {r2} | {row.paper or '—'} |"
        )
    return "\n".join(lines)


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def matrix_markdown(matrix: GeneralizationMatrix) -> str:
    """One generalization matrix as a markdown table, then what each of its rows measures, in words."""
    lines = [
        f"| Held out | Value | Training samples | Testing samples | R² ({matrix.r2_space}) | R² log | Spearman ρ |",
        "|---|---|---|---|---|---|---|",
    ]
    for cell in matrix.cells:
        r2 = "—" if cell.r2 is None else f"{cell.r2:.3f} ± {cell.r2_std or 0:.3f}"
        lines.append(
            f"| {cell.axis} | {cell.held_out} | {cell.n_train} | {cell.n_test} | {r2}{' (' + cell.note + ')' if cell.note else ''} "
            f"| {_score(cell.r2_log)} | {_score(cell.spearman)} |"
        )
    lines += ["", "What each row measures:", ""] + [f"- **{axis}**: {AXES[axis][1]}." for axis in matrix.axes]
    return "\n".join(lines)


def _grids(catalog: Catalog, report: Report) -> list[dict[str, Any]]:
    """The specs of the grids the report pooled checkpoints from."""
    used = {name for name, _ in report.pooled.grids}
    return [{"name": g.name, "spec": g.spec} for g in list_grids(catalog) if g.name in used]


def _figure3_checkpoint(catalog: Catalog, selection: Selection) -> tuple[int, str] | None:
    """A trained ResNet-50 (else any architecture) of ``selection`` on an unperturbed variant, at its last epoch:
    (checkpoint id, arch)."""
    view = CHECKPOINT_FEATURES
    trained = selection_clause(TRAINED.narrowed(selection), catalog.dialect)
    for arch in (TRAIN_ARCH, None):
        query = (
            select(view.c.checkpoint_id, view.c.arch)
            .where(trained)
            .order_by(view.c.variant != "original", view.c.epoch.desc(), view.c.checkpoint_id)
        )
        if arch:
            query = query.where(view.c.arch == arch)
        with catalog.session() as session:
            found = session.execute(query.limit(1)).first()
        if found is not None:
            return found[0], found[1]
    return None


def _slug(text: str) -> str:
    """A file-name part: ``resnet50 → resnet18`` -> ``resnet50-to-resnet18``."""
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "-" for c in text.replace("→", "to"))
    return "-".join(part for part in cleaned.split("-") if part)


def figure3_name(checkpoint_id: int, arch: str) -> str:
    """``fig3-checkpoint-42-resnet50.png``: Figure 3's file name names its checkpoint."""
    return f"fig3-checkpoint-{checkpoint_id}-{_slug(arch)}.png"


def figure4_name(row: ReportRow) -> str:
    """``fig4-sharpness-resnet50-to-resnet18.png`` (``-log-`` after the target for a log-target row)."""
    space = "-log" if row.space == "log" else ""
    return f"fig4-{_slug(row.target)}{space}-{_slug(row.experiment)}.png"


def write_report(catalog: Catalog, report: Report, folder: str | Path) -> list[Path]:
    """Write report.md, report.json, the Figure 3 filters of one checkpoint (:func:`figure3_name`), one Figure 4
    per fitted row (:func:`figure4_name`) and a heatmap per generalization matrix (``matrix-TARGET.png``)."""
    from zoo.plots import write_filter_figure, write_fit_figure

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    shown = _figure3_checkpoint(catalog, parse_selection(report.selection))
    checkpoint = shown[0] if shown else None
    if shown is not None:
        written.append(write_filter_figure(catalog, shown[0], folder / figure3_name(*shown)))
    for row, result in zip(report.rows, report.results):
        if result is not None:
            written.append(write_fit_figure(result, folder / figure4_name(row)))
    from zoo.plots import write_matrix_figure

    for matrix in report.matrices:
        written.append(write_matrix_figure(matrix, folder / f"matrix-{matrix.target}.png"))
    written.append(_write_text(folder / "report.json", json.dumps(report_json(report), indent=2)))
    written.append(_write_text(folder / "report.md", _markdown(catalog, report, checkpoint, written)))
    return written


def report_json(report: Report) -> dict[str, Any]:
    return {
        "rows": [asdict(row) for row in report.rows],
        "archs": list(report.archs),
        "feature_set": report.feature_set,
        "selection": report.selection,
        "pooled": pooled_json(report.pooled),
        "matrices": [asdict(m) for m in report.matrices],
        "matrix_notes": list(report.matrix_notes),
        "predictors": [
            {"id": f.id, "target": f.target, "feature_set": f.feature_set, "n_train": f.n_train, **f.details}
            for f in report.predictors
        ],
        "predictor_notes": list(report.predictor_notes),
    }


def pooled_json(pooled: Pooled) -> dict[str, Any]:
    """:class:`Pooled` for JSON: ``{"n_checkpoints": N, "grids": {"demo": 480}, "image_sizes": {"32": 480}, ...}``."""
    return {
        "n_checkpoints": pooled.n_checkpoints,
        "grids": dict(pooled.grids),
        "image_sizes": {str(size): n for size, n in pooled.image_sizes},
        "archs": dict(pooled.archs),
        "description": pooled.describe(),
    }


def _markdown(catalog: Catalog, report: Report, checkpoint: int | None, figures: list[Path]) -> str:
    parts = [
        "# zoo report",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M UTC} from `{catalog.url}`.",
        "",
        f"Random forests (30 trees) on the {report.feature_set} first-layer metric vectors of trained checkpoints (epoch ≥ 1); "
        "R² on the test selection, mean ± std over seeds. `raw target` rows follow the paper and are dominated by the "
        "largest values of the property (for sharpness and noisiness: the noise variants); `log target` rows fit and score "
        "the logarithm of the property, so every order of magnitude counts alike.",
        "",
        f"Selection: `{report.selection}`. Pooled: {report.pooled.describe()}.",
        "",
        markdown_table(report.rows),
        "",
    ]
    for matrix in report.matrices:
        parts += [
            f"## Generalization matrix: {matrix.target}",
            "",
            f"{matrix.n_checkpoints} trained checkpoints, {matrix.r2_space} target, {matrix.repeats} seeds of "
            f"{matrix.n_estimators} trees per cell (`zoo evaluate --target {matrix.target} --feature-set {matrix.feature_set}`).",
            "",
            matrix_markdown(matrix),
            "",
        ]
    parts += [f"- generalization matrix not fitted for {note}" for note in report.matrix_notes]
    parts += ["", *predictors_markdown(report)]
    parts += ["", "## Figures", ""]
    parts += [f"![{p.stem}]({p.name})" for p in figures if p.suffix == ".png"]
    if checkpoint is not None:
        parts += ["", f"Figure 3 shows checkpoint {checkpoint}: reference, learned and delta filters."]
    parts += ["", "## Grids", ""]
    for grid in _grids(catalog, report):
        parts += [f"### {grid['name']}", "", "```json", json.dumps(grid["spec"], indent=2), "```", ""]
    parts += ["## Software", ""] + [f"- {name}: {version}" for name, version in software_versions().items()]
    return "\n".join(parts) + "\n"


def _write_text(path: Path, text: str) -> Path:
    return write_atomically(path, lambda handle: handle.write(text.encode()))
