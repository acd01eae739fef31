"""Writing a :class:`zoo.report.Report`: ``report.md``, ``report.json`` and the figures, to a folder.

:func:`write_report` writes them all; :func:`report_json` is what ``report.json`` holds (and ``zoo report
--json`` prints its rows). The markdown says in words what was fitted, pooled and held out: Table 1
(:func:`markdown_table`), the generalization matrices (:func:`matrix_markdown`), the predictors
(:func:`predictors_markdown`), how each pooled base dataset's noise variants draw their noise
(:func:`noise_markdown`), the grids' specs and the software versions.
"""

from __future__ import annotations

import json
import math
import platform
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from zoo.catalog import Catalog
from zoo.files import write_atomically
from zoo.metamodel import AXES, GeneralizationMatrix
from zoo.query import showcase_checkpoint
from zoo.report import TRAIN_ARCH, TRAINED, Pooled, Report, ReportRow, interval_ranges
from zoo.run_stats import list_grids
from zoo.selection import Selection, parse_selection

SOFTWARE = ("zoo", "torch", "timm", "numpy", "scikit-learn", "scikit-image", "sqlalchemy", "alembic")
# How a base dataset's noise variants draw their noise (zoo.datasets.dataset_noise), in words.
NOISE_WORDS = {
    "fixed": "noise drawn once per image and saved as 8-bit images",
    "per-step": "fresh noise each training step",
}


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


def figure3_checkpoint(catalog: Catalog, selection: Selection) -> tuple[int, str] | None:
    """A trained ResNet-50 (else any architecture) of ``selection`` on an unperturbed variant, at its last epoch:
    (checkpoint id, arch)."""
    trained = TRAINED.narrowed(selection)
    return showcase_checkpoint(catalog, trained, TRAIN_ARCH) or showcase_checkpoint(catalog, trained)


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
    shown = figure3_checkpoint(catalog, parse_selection(report.selection))
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
        "noise": dict(report.noise),
        "sensitivity": sensitivity_json(report),
    }


def sensitivity_json(report: Report) -> dict[str, Any] | None:
    """The sensitivity table as ``{"feature_set": ..., "compare_feature_set": ..., "rows": [...]}`` (None without)."""
    if report.compare_feature_set is None:
        return None
    rows = []
    for index, r2_mean, r2_std, why in report.compare_rows:
        row = report.rows[index]
        rows.append(
            {
                "experiment": row.experiment, "target": row.target, "space": row.space, "r2_mean": row.r2_mean,
                "compare_r2_mean": r2_mean, "compare_r2_std": r2_std,
                "difference": None if r2_mean is None or row.r2_mean is None else r2_mean - row.r2_mean,
                "note": why,
            }
        )  # fmt: skip
    return {"feature_set": report.feature_set, "compare_feature_set": report.compare_feature_set, "rows": rows}


def sensitivity_markdown(report: Report) -> list[str]:
    """Table 1 with the report's feature set beside another one (``zoo report --compare-feature-set``)."""
    if report.compare_feature_set is None:
        return []
    this, other = report.feature_set, report.compare_feature_set
    lines = [
        f"## Sensitivity: Table 1 with {other}",
        "",
        f"Every Table 1 row fitted again on {other}, with the same experiments, seeds and trees (not stored). "
        f"The difference is {other} minus {this}: how much the figures depend on the choices between the two sets.",
        "",
        f"| Experiment | Target | R² on | {this} | {other} | difference |",
        "|---|---|---|---|---|---|",
    ]
    for index, r2_mean, r2_std, why in report.compare_rows:
        row = report.rows[index]
        shown = "—" if r2_mean is None else f"{r2_mean:.3f} ± {r2_std:.3f}"
        difference = why or ("—" if r2_mean is None or row.r2_mean is None else f"{r2_mean - row.r2_mean:+.3f}")
        lines.append(f"| {row.experiment} | {row.target} | {row.space} target | {_r2(row)} | {shown} | {difference} |")
    return lines


def pooled_json(pooled: Pooled) -> dict[str, Any]:
    """:class:`Pooled` for JSON: ``{"n_checkpoints": N, "grids": {"demo": 480}, "image_sizes": {"32": 480}, ...}``."""
    return {
        "n_checkpoints": pooled.n_checkpoints,
        "grids": dict(pooled.grids),
        "image_sizes": {str(size): n for size, n in pooled.image_sizes},
        "archs": dict(pooled.archs),
        "datasets": dict(pooled.datasets),
        "description": pooled.describe(),
    }


def noise_markdown(noise: tuple[tuple[str, str], ...]) -> str:
    """How the pooled base datasets' noise variants draw their noise, in words, datasets grouped by how, e.g.
    ``Noise variants, by base dataset: natural-32-saved-noise: noise drawn once per image and saved as 8-bit
    images (fixed); natural-32, shapes-32: fresh noise each training step (per-step).``; empty without any."""
    if not noise:
        return ""
    groups: dict[str, list[str]] = {}
    for dataset, mode in noise:
        groups.setdefault(mode, []).append(dataset)
    parts = [f"{', '.join(names)}: {NOISE_WORDS.get(mode, mode)} ({mode})" for mode, names in sorted(groups.items())]
    return f"Noise variants, by base dataset: {'; '.join(parts)}."


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
        *([noise_markdown(report.noise), ""] if report.noise else []),
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
    if report.compare_feature_set is not None:
        parts += ["", *sensitivity_markdown(report)]
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
