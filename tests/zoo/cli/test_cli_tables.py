"""Listings fit a terminal: ids and whole words at 80 columns, counts with plurals, options that do nothing refused."""

from __future__ import annotations

import pytest

from clirunner import run_zoo
from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.cli.render import plural, showing, table_of
from zoo.db.models import Grid


@pytest.fixture()
def cli_catalog(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    with Catalog.open(str(tmp_path / "c.db"), artifacts=str(tmp_path / "a")) as catalog:
        build_catalog(catalog, n_variants=6, trials=2, epochs=3, n_external=0)
        with catalog.session(write=True) as session:
            session.add(Grid(name="demo", spec={}, spec_sha256="1" * 64))
    monkeypatch.setenv("ZOO_DATABASE_URL", str(tmp_path / "c.db"))
    monkeypatch.setenv("ZOO_ARTIFACTS", str(tmp_path / "a"))
    monkeypatch.setenv("COLUMNS", "80")
    return tmp_path


def test_counts_and_plurals() -> None:
    assert plural(1, "checkpoint") == "1 checkpoint" and plural(25000, "checkpoint") == "25,000 checkpoints"
    assert showing(20, 25000, "checkpoint").startswith("showing 20 of 25,000 checkpoints (24,980 more; use --limit")
    assert showing(3, 3, "run") == "3 runs"


def test_a_narrow_table_keeps_ids_and_numbers_and_names_what_it_left_out() -> None:
    from rich.console import Console

    rows = [[123456, "a-very-long-dataset-name-" * 3, 0.5, "x" * 60, 7]]
    console = Console(width=40, record=True, markup=False)
    console.print(table_of(["checkpoint_id", "base_dataset", "sharpness", "variant", "epoch"], rows, width=40))
    text = console.export_text()
    assert "123456" in text and "0.5" in text and "…" in text
    assert "not shown at this width" in text
    assert all(len(line) <= 40 for line in text.splitlines())


def test_query_at_80_columns_shows_ids_and_whole_headers(cli_catalog) -> None:  # type: ignore[no-untyped-def]
    result = run_zoo("query", "--limit", "5")
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "checkpoint_id" in line)
    for name in ("checkpoint_id", "arch", "epoch", "sharpness", "noisiness"):
        assert name in header.split()
    assert all(len(line) <= 80 for line in lines)
    assert "showing 5 of 72 checkpoints (67 more; use --limit" in result.output


def test_runs_show_grid_dataset_and_variant_with_a_default_limit(cli_catalog) -> None:  # type: ignore[no-untyped-def]
    result = run_zoo("runs")
    header = next(line for line in result.stdout.splitlines() if line.lstrip().startswith("id"))
    assert {"id", "status", "grid", "arch", "variant"} <= set(header.split())
    assert "showing 20 of 24 runs (4 more; use --limit" in result.output
    csv = run_zoo("runs", "--csv", "--columns", "id,grid,base_dataset,variant").stdout.splitlines()
    assert csv[0] == "id,grid,base_dataset,variant" and csv[1] == "1,synthetic-0,natural-32,v00"


def test_an_empty_selection_says_what_matched_nothing(cli_catalog) -> None:  # type: ignore[no-untyped-def]
    assert "no checkpoints match arch=vgg16" in run_zoo("query", "--arch", "vgg16").output
    result = run_zoo("fit", "--target", "sharpness", "--train-arch", "vgg16", "--test-arch", "resnet18", expect=1)
    assert result.output.startswith(
        "Error: no checkpoints match arch=vgg16 (the train selection); architectures in the catalog: "
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["ingest", "--run-grid", "tiny", "--property", "sharpness=1"],
            "Error: --property does nothing with --run-grid; leave it out",
        ),
        (
            ["ingest", "--checkpoint", "m.safetensors", "--arch", "resnet18", "--workers", "2"],
            "Error: --workers does nothing with --checkpoint; leave it out",
        ),
        (
            ["ingest", "--hf", "a/b", "--arch", "resnet18", "--samples", "5"],
            "Error: --samples does nothing with --hf; leave it out",
        ),
        (
            ["worker", "--poll", "3"],
            "Error: --poll does nothing with a worker that stops when the queue is empty (add --forever); leave it out",
        ),
        (["worker", "--grid", "nope"], "Error: there is no grid 'nope'; grids in the catalog: synthetic-0, demo"),
        (
            ["runs", "retry", "--grid", "nope"],
            "Error: there is no grid 'nope'; grids in the catalog: synthetic-0, demo",
        ),
        (
            ["datasets", "add", "x", "--source", "folder", "--root", "/no/such/folder"],
            "Error: --root: folder /no/such/folder does not exist",
        ),
    ],
)
def test_one_line_refusals(cli_catalog, args, message) -> None:  # type: ignore[no-untyped-def]
    result = run_zoo(*args, expect=1)
    assert result.output.startswith(message), result.output


def test_runs_retry_is_its_own_command(cli_catalog) -> None:  # type: ignore[no-untyped-def]
    assert "re-queued 0 failed runs" in run_zoo("runs", "retry", "--grid", "demo").output
    old = run_zoo("runs", "--retry-failed", "--limit", "1", expect=2)  # the listing re-queues nothing
    assert "No such option: --retry-failed" in old.output and "re-queued" not in old.output


def test_runs_status_help_names_every_run_status() -> None:
    from zoo.vocabulary import RUN_STATUSES

    text = " ".join(run_zoo("runs", "--help").output.replace("│", " ").split())
    assert f"Only runs with this status: {', '.join(RUN_STATUSES)}, e.g. --status failed." in text
