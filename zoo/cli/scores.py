"""How scores, fits and generalization matrices read in a terminal: ``fit``, ``fits``, ``predict``,
``evaluate`` and ``report`` print them the same way."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from zoo.cli.render import emit_rows, plural, say


def fmt_r2(mean: float | None, std: float | None) -> str:
    """An R² as mean ± std, or a dash where there is none."""
    return "—" if mean is None else f"{mean:.3f} ± {std or 0:.3f}"


def fmt_score(value: float | None) -> str:
    """A score to three places, or a dash where there is none."""
    return "—" if value is None else f"{value:.3f}"


# How a fit's split reads: the groups --test-fraction held out.
SPLIT_WORDS = {
    "variant": "base dataset × variant",
    "run": "training run",
    "base": "base dataset",
    "selections": "selection",
}


def print_fit(result: Any) -> None:
    """A fit's scores, what it was trained and tested on, what was left out, and its feature importances."""
    where = f"fit {result.id}" if result.id is not None else "fit (not stored)"
    space = ", log space" if result.log_target else ""
    say(
        Text.assemble(
            (where, "bold"),
            f": {result.target} from {result.feature_set}, test R² = ",
            (fmt_r2(result.r2_mean, result.r2_std), "bold"),
            f" over {len(result.seeds)} seeds{space}",
        )
    )
    split = (
        f" (split by {SPLIT_WORDS[result.split]}, test fraction {result.test_fraction:g})"
        if result.test_fraction
        else ""
    )
    say(
        f"train: {result.train_selection} → {result.n_train} checkpoints; test: {result.test_selection} → {result.n_test}{split}"
    )
    boot = (
        f", ± {result.r2_bootstrap_std:.3f} over bootstrap resamples of the test runs"
        if result.r2_bootstrap_std is not None
        else ""
    )
    say(
        f"R² {result.r2_space} {fmt_r2(result.r2_mean, result.r2_std)} over seeds{boot}; R² log target {fmt_score(result.r2_log)}; "
        f"Spearman ρ {fmt_score(result.spearman)}"
    )
    if result.r2_by_kind:
        say(
            "R² per variant kind: "
            + ", ".join(f"{k} {v:.3f} (n={result.n_by_kind.get(k, 0)})" for k, v in result.r2_by_kind.items())
        )
    if result.n_reference_left_out:
        say(
            f"{result.n_reference_left_out} reference (epoch-0, delta = 0) checkpoints were left out; --min-epoch 0 keeps them"
        )
    if result.n_dropped:
        say(
            f"{result.n_dropped} selected checkpoints were left out: no {result.target} or no {result.feature_set} metrics",
            "yellow",
        )
    if result.n_shared_runs:
        say(
            f"{result.n_shared_runs} training runs have checkpoints on both sides; use --test-fraction to split by run",
            "yellow",
        )
    ranked = sorted(result.importances.items(), key=lambda kv: -kv[1])
    emit_rows(["metric", "importance"], ranked, title="feature importances (mean over seeds)")


CHOSEN_WORDS = {"given": "given with --fit", "latest": "the latest predictor of its target", "new": "made just now"}


def fit_summary(fit: Any, how: str) -> str:
    """One line: which fit, how it was chosen, what it was trained and tested on, and its scores."""
    if fit.split == "out-of-group":
        held = fit.details.get("axis_scores") or []
        axes = ", ".join(f"{a['axis']} {fmt_score(a['r2_log'])}" for a in held)
        return (
            f"predictor {fit.id} ({how}): {fit.target} from {fit.feature_set}, log target; trained on {fit.train_selection} "
            f"({plural(fit.n_train, 'checkpoint')}); held out one at a time, R² log {fmt_score(fit.r2_log)} "
            f"({axes}), Spearman ρ {fmt_score(fit.spearman)}, typical error ×/÷ {fit.details.get('median_factor', float('nan')):.2f}"
        )
    test = (
        fit.test_selection
        if not fit.test_fraction
        else f"{fit.test_fraction:g} of its {SPLIT_WORDS.get(fit.split, fit.split)} groups"
    )
    return (
        f"fit {fit.id} ({how}): {fit.target} from {fit.feature_set}, {fit.r2_space} target; train {fit.train_selection} "
        f"({plural(fit.n_train, 'checkpoint')}), test {test} ({fit.n_test:,}); test R² {fmt_r2(fit.r2_mean, fit.r2_std)}, "
        f"R² log {fmt_score(fit.r2_log)}, Spearman ρ {fmt_score(fit.spearman)}"
    )


def print_matrix(matrix: Any) -> None:
    """The matrix as a Rich table, one row per cell, with the selection and what was left out."""
    rows = [
        [
            c.axis,
            c.held_out,
            c.n_train,
            c.n_test,
            fmt_r2(c.r2, c.r2_std),
            fmt_score(c.r2_log),
            fmt_score(c.spearman),
            c.note,
        ]
        for c in matrix.cells
    ]
    emit_rows(
        ["held out", "value", "n_train", "n_test", f"R² ({matrix.r2_space})", "R² log", "Spearman ρ", "note"],
        rows,
        title=f"generalization matrix: {matrix.target} from {matrix.feature_set}",
    )
    say(
        f"{matrix.n_checkpoints} checkpoints of {matrix.selection}; {matrix.repeats} seeds of {matrix.n_estimators} trees per cell"
        + (
            f"; {matrix.n_reference_left_out} reference (epoch-0) checkpoints left out (--min-epoch 0 keeps them)"
            if matrix.n_reference_left_out
            else ""
        )
    )
