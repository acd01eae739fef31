"""`zoo query` and its function: a page of checkpoints with properties and metrics, counts, JSON and CSV."""

from __future__ import annotations

import builtins
import json

import pytest

from clirunner import run_zoo
from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.errors import InvalidInput, NotFound, ZooError
from zoo.query import DEFAULT_COLUMNS, get_checkpoint, query_checkpoints, to_dataframe
from zoo.selection import Selection


@pytest.fixture
def small(catalog: Catalog):  # type: ignore[no-untyped-def]
    return build_catalog(catalog, n_variants=4, trials=1, epochs=2)  # 2 archs x 4 x 2 = 16 run checkpoints + 2 files


def test_query_returns_a_page_the_total_and_counts_per_arch(catalog: Catalog, small) -> None:  # type: ignore[no-untyped-def]
    table = query_checkpoints(catalog, Selection(archs=("resnet*",)), limit=5)
    assert table.columns == DEFAULT_COLUMNS
    assert len(table.rows) == 5 and table.total == 16 and table.truncated
    assert dict(table.counts) == {"resnet18": 8, "resnet50": 8}
    ids = [r["checkpoint_id"] for r in table.records()]
    assert ids == sorted(ids) == small.all_ids[:5]


def test_offset_pages_through_the_selection_and_count_by_regroups(catalog: Catalog, small) -> None:  # type: ignore[no-untyped-def]
    pages = [query_checkpoints(catalog, limit=7, offset=o, columns=("checkpoint_id",)) for o in (0, 7, 14)]
    assert [r[0] for p in pages for r in p.rows] == small.all_ids
    assert dict(query_checkpoints(catalog, count_by="source").counts) == {"run": 16, "file": 2}


def test_external_checkpoints_carry_their_labels_as_properties(catalog: Catalog, small) -> None:  # type: ignore[no-untyped-def]
    rows = query_checkpoints(
        catalog, Selection(sources=("file",)), columns=("checkpoint_id", "sharpness", "object_scale")
    ).records()
    assert [r["sharpness"] for r in rows] == pytest.approx(
        [small.properties[0]["sharpness"], small.properties[1]["sharpness"]]
    )
    assert all(r["object_scale"] is None for r in rows)


def test_unknown_columns_and_counts_are_refused(catalog: Catalog, small) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="unknown column 'password'.*columns: checkpoint_id"):
        query_checkpoints(catalog, columns=("checkpoint_id", "password"))
    with pytest.raises(InvalidInput, match="cannot count by"):
        query_checkpoints(catalog, count_by="epoch; DROP TABLE runs")


def test_get_checkpoint_returns_every_view_column(catalog: Catalog, small) -> None:  # type: ignore[no-untyped-def]
    row = get_checkpoint(catalog, small.by_arch["resnet50"][1])
    assert row["arch"] == "resnet50" and row["epoch"] == 1 and row["laplacian_variance"] > 0
    with pytest.raises(NotFound, match="zoo query"):
        get_checkpoint(catalog, 10_000)


def test_to_dataframe_explains_how_to_get_pandas(catalog: Catalog, small, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    real_import = builtins.__import__

    def no_pandas(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ZooError, match="pip install pandas"):
        to_dataframe(query_checkpoints(catalog))


def test_cli_prints_json_csv_columns_and_a_count_summary(zoo_env: dict[str, str]) -> None:
    with Catalog.open(zoo_env["ZOO_DATABASE_URL"], artifacts=zoo_env["ZOO_ARTIFACTS"]) as catalog:
        build_catalog(catalog, n_variants=4, trials=1, epochs=2)
    rows = json.loads(run_zoo("query", "--arch", "resnet18", "--min-epoch", "1", "--json").stdout)
    assert len(rows) == 4 and {r["arch"] for r in rows} == {"resnet18"} and all(r["epoch"] == 1 for r in rows)
    csv = run_zoo(
        "query", "arch=resnet50,epoch=0", "--columns", "checkpoint_id,arch,sharpness", "--csv"
    ).stdout.splitlines()
    assert csv[0] == "checkpoint_id,arch,sharpness" and len(csv) == 5
    table = run_zoo("query", "--where", "sharpness<1", "--limit", "3")
    assert "showing 3 of 18 checkpoints (15 more;" in table.output
    assert "by arch: resnet18 8, resnet50 8, convnext_tiny 2" in table.output
    assert "checkpoints: sharpness<1.0" in table.output  # the table's title (its columns depend on the terminal width)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--where", "x; DROP TABLE runs"), "cannot read condition"),
        (("--columns", "checkpoint_id,secret"), "unknown column 'secret'"),
        (("arch=resnet18", "--arch", "resnet50"), "given twice"),
        (("--source", "cloud"), "unknown source"),
    ],
)
def test_cli_bad_selections_are_one_line_errors(zoo_env: dict[str, str], args: tuple[str, ...], message: str) -> None:
    result = run_zoo("query", *args, expect=1)
    assert message in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
