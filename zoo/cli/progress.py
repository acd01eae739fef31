"""Rich progress for long work: runs done/total, the current run's epoch, loss and images per second."""

from __future__ import annotations

from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from zoo.cli.render import err_console


def make_progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


class RunProgress:
    """Implements the worker's reporter protocol on a Rich progress display."""

    def __init__(self, progress: Progress, total_runs: int | None) -> None:
        self.progress = progress
        self.runs: TaskID = progress.add_task("runs", total=total_runs, info="")
        self.current: TaskID | None = None
        self.outcomes: dict[str, int] = {}

    def run_started(self, run: Any, title: str, total_steps: int) -> None:
        if self.current is not None:
            self.progress.remove_task(self.current)
        self.current = self.progress.add_task(title, total=total_steps, info="epoch 1")

    def step(self, epoch: int, step: int, loss: float, images_per_second: float) -> None:
        if self.current is not None:
            info = f"epoch {epoch}  loss {loss:.3f}  {images_per_second:.0f} img/s"
            self.progress.update(self.current, completed=step, info=info)

    def run_finished(self, run: Any, status: str, detail: str) -> None:
        self.outcomes[status] = self.outcomes.get(status, 0) + 1
        if self.current is not None:
            self.progress.remove_task(self.current)
            self.current = None
        if status == "done":
            self.progress.advance(self.runs)
        summary = "  ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        self.progress.update(self.runs, info=summary)
