"""Plain progress lines where stderr is not a terminal (a log file, a CI log, a cluster job's output)."""

from __future__ import annotations

import io
import time

from rich.console import Console
from rich.progress import Progress

from zoo.cli.progress import PlainProgress, RunProgress, make_progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _log() -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    return Console(file=stream, width=80), stream


def test_a_non_terminal_gets_plain_lines_and_a_terminal_gets_rich_bars() -> None:
    console, _ = _log()
    assert isinstance(make_progress(console), PlainProgress)
    terminal = make_progress(Console(file=io.StringIO(), force_terminal=True))
    assert isinstance(terminal, Progress) and not isinstance(terminal, PlainProgress)


def test_a_line_at_each_tenth_with_done_total_rate_and_time_left() -> None:
    console, stream = _log()
    clock = Clock()
    progress = PlainProgress(console, clock=clock, tick_s=3600)
    with progress:
        task = progress.add_task("featurizing (paper-v1)", total=200, info="")
        for _ in range(200):
            clock.now += 0.5
            progress.advance(task)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "featurizing (paper-v1): 0/200 (0%)  0s elapsed"
    assert len(lines) == 11  # the start, then 10%, 20%, ... 100%
    assert lines[1] == "featurizing (paper-v1): 20/200 (10%)  2.0/s  1m30s left  10s elapsed"
    assert lines[-1].startswith("featurizing (paper-v1): 200/200 (100%)  2.0/s  1m40s elapsed")
    assert "\x1b" not in stream.getvalue()  # no terminal control codes in a log


def test_a_line_every_interval_while_a_slow_task_makes_progress() -> None:
    console, stream = _log()
    clock = Clock()
    progress = PlainProgress(console, clock=clock, interval_s=15, tick_s=3600)
    with progress:
        task = progress.add_task("runs", total=1000, info="")
        for _ in range(6):  # 60 s, 6 runs: far from the next tenth
            clock.now += 10
            progress.advance(task)
            progress.poll()
    lines = stream.getvalue().splitlines()
    assert [line.split("  ")[0] for line in lines] == ["runs: 0/1000 (0%)", "runs: 2/1000 (0%)", "runs: 4/1000 (0%)", "runs: 6/1000 (1%)"]
    assert "6.0/min" in lines[-1] and "2h45m left" in lines[-1]


def test_the_ticker_prints_while_nothing_reports() -> None:
    console, stream = _log()
    progress = PlainProgress(console, interval_s=0.05, tick_s=0.01)
    with progress:
        progress.add_task("measuring natural-32", total=20, info="")
        deadline = time.monotonic() + 10
        while stream.getvalue().count("\n") < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert stream.getvalue().count("measuring natural-32: 0/20 (0%)") >= 3


def test_runs_lines_show_outcomes_and_the_current_run_without_lines_of_its_own() -> None:
    console, stream = _log()
    clock = Clock()
    progress = PlainProgress(console, clock=clock, interval_s=15, tick_s=3600)
    with progress:
        runs = RunProgress(progress, 4)
        for index, status in enumerate(("done", "failed", "done", "done", "done")):
            runs.run_started(None, f"resnet18 blur-{index}", 8)
            for step in range(1, 9):
                clock.now += 1
                runs.step(1, step, 2.25, 40.0)
                progress.poll()
            runs.run_finished(None, status, "")
    text = stream.getvalue()
    assert "runs: 4/4 (100%)" in text and "done 4  failed 1" in text
    assert "| now: resnet18 blur-2 epoch 1  loss 2.250  40 img/s" in text  # the 15 s line names the current run
    assert not any(line.startswith("resnet18") for line in text.splitlines())
