"""Progress for long work: a Rich display on a terminal, plain lines in a log.

On a terminal, :func:`make_progress` draws Rich bars (runs done/total, the current run's epoch, loss and
images per second). Rich draws nothing live when stderr is a file or a pipe, so there it returns a
:class:`PlainProgress` instead, which prints one plain line per task at each tenth of the total and at
least every ``PLAIN_INTERVAL_S`` seconds (done/total, rate, time left), and a last line when the work
ends: a demo log or a cluster job's log shows where the work stands while it runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from zoo.cli.render import err_console

PLAIN_INTERVAL_S = 15.0  # a line at least this often while a task runs
PLAIN_STEPS = 10  # and one at each finished tenth of a task's total
TICK_S = 1.0  # how often the background ticker looks at the clock


def make_progress(console: Console | None = None) -> Progress:
    """Rich progress bars on a terminal; :class:`PlainProgress` lines when ``console`` is not one."""
    console = console or err_console
    if not console.is_terminal:
        return PlainProgress(console)
    return Progress(
        # Descriptions and info hold run titles and dataset names: plain text, never markup.
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}", markup=False),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class _Track:
    """What PlainProgress remembers of one task: when it began, where it started, the last line printed."""

    def __init__(self, now: float, completed: float) -> None:
        self.started, self.initial = now, completed
        self.last_line_at, self.last_step, self.last_state = now, -1, None


class PlainProgress(Progress):
    """Rich's :class:`~rich.progress.Progress` with the live display off, printing plain progress lines.

    A task added with the field ``log=False`` (a run's steps, for instance) gets no lines of its own; its
    description and info are appended to the other tasks' lines as what is happening now.
    """

    def __init__(
        self,
        console: Console,
        *,
        interval_s: float = PLAIN_INTERVAL_S,
        steps: int = PLAIN_STEPS,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = TICK_S,
    ) -> None:
        super().__init__(console=console, disable=True, get_time=clock)
        self.interval_s, self.steps, self.clock, self.tick_s = interval_s, steps, clock, tick_s
        self._tracks: dict[TaskID, _Track] = {}
        self._emit_lock = threading.RLock()
        self._stopped = threading.Event()
        self._ticker: threading.Thread | None = None

    # Rich's API: every change goes through these, so lines follow the work however a caller reports it.

    def add_task(
        self,
        description: str,
        start: bool = True,
        total: float | None = 100.0,
        completed: float = 0,
        visible: bool = True,
        **fields: Any,
    ) -> TaskID:
        task_id = super().add_task(
            description, start=start, total=total, completed=completed, visible=visible, **fields
        )
        if fields.get("log", True):
            with self._emit_lock:
                self._tracks[task_id] = _Track(self.clock(), completed)
                self._check(task_id, force=True)
        return task_id

    def update(self, task_id: TaskID, **kwargs: Any) -> None:  # type: ignore[override]
        super().update(task_id, **kwargs)
        self._check(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._check(task_id)

    def remove_task(self, task_id: TaskID) -> None:
        with self._emit_lock:
            if task_id in self._tracks:
                self._check(task_id, final=True)
                del self._tracks[task_id]
        super().remove_task(task_id)

    def start(self) -> None:
        super().start()
        self._stopped.clear()
        self._ticker = threading.Thread(target=self._tick, name="zoo-progress-lines", daemon=True)
        self._ticker.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        with self._emit_lock:
            for task_id in list(self._tracks):
                self._check(task_id, final=True)
        super().stop()

    # lines

    def poll(self) -> None:
        """Print the lines that are due (the ticker calls this every ``tick_s``; tests call it directly)."""
        with self._emit_lock:
            for task_id in list(self._tracks):
                self._check(task_id)

    def _tick(self) -> None:
        while not self._stopped.wait(self.tick_s):
            self.poll()

    def _check(self, task_id: TaskID, *, force: bool = False, final: bool = False) -> None:
        with self._emit_lock:
            track = self._tracks.get(task_id)
            task = next((t for t in self.tasks if t.id == task_id), None)
            if track is None or task is None:
                return
            now = self.clock()
            step = int(self.steps * task.completed / task.total) if task.total else -1
            due = force or now - track.last_line_at >= self.interval_s or step > track.last_step
            state = (task.completed, task.fields.get("info"))
            if final:  # a last line, unless the last one said it all
                due = state != track.last_state
            if due:
                track.last_line_at, track.last_step, track.last_state = now, step, state
                self.console.print(self._line(task, track, now, final), markup=False, highlight=False, soft_wrap=True)

    def _line(self, task: Any, track: _Track, now: float, final: bool) -> str:
        elapsed = now - track.started
        done = task.completed - track.initial
        if task.total:
            parts = [
                f"{task.description}: {task.completed:g}/{task.total:g} ({100 * task.completed / task.total:.0f}%)"
            ]
        else:
            parts = [f"{task.description}: {task.completed:g} done"]
        rate = done / elapsed if elapsed > 0 and done > 0 else None
        if rate:
            parts.append(f"{rate * 60:.1f}/min" if rate < 1 else f"{rate:.1f}/s")
        if task.total and rate and task.completed < task.total:
            parts.append(f"{_duration((task.total - task.completed) / rate)} left")
        parts.append(
            f"{_duration(elapsed)} elapsed"
            + (", finished" if final and task.total and task.completed >= task.total else "")
        )
        if task.fields.get("info"):
            parts.append(str(task.fields["info"]))
        current = [
            f"{t.description} {t.fields.get('info', '')}".strip()
            for t in self.tasks
            if t.id not in self._tracks and t.visible and t.id != task.id
        ]
        line = "  ".join(parts)
        return line + (" | now: " + "; ".join(current) if current and not final else "")


class RunProgress:
    """Implements the worker's reporter protocol on a progress display (Rich bars or plain lines)."""

    def __init__(self, progress: Progress, total_runs: int | None) -> None:
        self.progress = progress
        self.runs: TaskID = progress.add_task("runs", total=total_runs, info="")
        self.current: TaskID | None = None
        self.outcomes: dict[str, int] = {}

    def run_started(self, run: Any, title: str, total_steps: int) -> None:
        if self.current is not None:
            self.progress.remove_task(self.current)
        # log=False: in a log, a run's steps show up on the runs line, not on lines of their own
        self.current = self.progress.add_task(title, total=total_steps, info="epoch 1", log=False)

    def step(self, epoch: int, step: int, loss: float, images_per_second: float) -> None:
        if self.current is not None:
            info = f"epoch {epoch}  loss {loss:.3f}  {images_per_second:.0f} img/s"
            self.progress.update(self.current, completed=step, info=info)

    def run_finished(self, run: Any, status: str, detail: str) -> None:
        self.outcomes[status] = self.outcomes.get(status, 0) + 1
        if self.current is not None:
            self.progress.remove_task(self.current)
            self.current = None
        summary = "  ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        self.progress.update(self.runs, info=summary)
        if status == "done":
            self.progress.advance(self.runs)
