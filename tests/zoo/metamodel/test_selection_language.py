"""One selection language: every key, globs, ranges and numeric conditions, parsed and compiled the same
way on SQLite and Postgres; anything outside the whitelist is refused before SQL is built."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest
import sqlalchemy as sa

from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.db.models import Base
from zoo.errors import InvalidInput
from zoo.query import query_checkpoints
from zoo.selection import (
    CHECKPOINT_FEATURES,
    SELECTION_KEYS,
    VIEW_COLUMNS,
    WHERE_COLUMNS,
    Selection,
    parse_selection,
    parse_where,
    select_checkpoints,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("arch=resnet50", Selection(archs=("resnet50",))),
        ("arch=resnet18|resnet50", Selection(archs=("resnet18", "resnet50"))),
        ("arch=resnet18,arch=resnet50", Selection(archs=("resnet18", "resnet50"))),
        ("base=imagenette*", Selection(bases=("imagenette*",))),
        ("variant=blur-*", Selection(variants=("blur-*",))),
        ("kind=noise", Selection(variant_kinds=("noise",))),
        ("optimizer=adam", Selection(optimizers=("adam",))),
        ("grid=paper", Selection(grids=("paper",))),
        ("source=hub|file", Selection(sources=("hub", "file"))),
        ("trial=0|2", Selection(trials=(0, 2))),
        ("epoch=5", Selection(epoch=5)),
        (" min_epoch = 1 , max_epoch=20 ", Selection(min_epoch=1, max_epoch=20)),
        ("sharpness<0.01", Selection(wheres=(("sharpness", "<", 0.01),))),
        ("val_accuracy>=0.5,lr==1e-4", Selection(wheres=(("val_accuracy", ">=", 0.5), ("lr", "=", 1e-4)))),
        ("epoch>=3", Selection(wheres=(("epoch", ">=", 3.0),))),
        ("", Selection()),
    ],
)
def test_text_form_parses_to_the_selection(text: str, expected: Selection) -> None:
    assert Selection.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "arch=resnet*|convnext_tiny,min_epoch=1,sharpness<0.01",
        "trial=1,epoch=3,noisiness!=0.5",
        "source=run,base=a?c,kind=blur",
    ],
)
def test_text_and_json_forms_round_trip(text: str) -> None:
    selection = Selection.parse(text)
    assert Selection.parse(str(selection)) == selection
    assert Selection.from_dict(selection.to_dict()) == selection
    assert str(Selection()) == "all" and parse_selection("all") == Selection()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour=red", "unknown selection key 'colour'"),
        ("arch<3", "arch takes '='"),
        ("epoch=1,epoch=2", "given twice"),
        ("epoch=one", "not a whole number"),
        ("min_epoch=5,max_epoch=2", "nothing would match"),
        ("source=cloud", "unknown source cloud"),
        ("arch=resnet18|", "empty alternative"),
        ("sharpness<abc", "not a number"),
        ("sharpness<nan", "not a finite number"),
        ("sharpness ~ 1", "cannot read"),
    ],
)
def test_bad_selections_are_refused_with_the_valid_names(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Selection.parse(text)


def test_unknown_names_list_every_valid_key_and_column() -> None:
    with pytest.raises(InvalidInput) as error:
        Selection.parse("colour=red")
    assert all(name in str(error.value) for name in (*SELECTION_KEYS, *WHERE_COLUMNS))


@pytest.mark.parametrize("column", ["arch", "variant_params", "reference", "origin", "grayscale", "1=1 OR sharpness"])
def test_where_accepts_only_whitelisted_numeric_columns(column: str) -> None:
    with pytest.raises(InvalidInput):
        parse_where(f"{column}<1")
    with pytest.raises(InvalidInput):
        Selection(wheres=((column, "<", 1.0),))


def test_where_operators_are_whitelisted() -> None:
    with pytest.raises(InvalidInput, match="unknown operator"):
        Selection(wheres=(("sharpness", "LIKE", 1.0),))


def test_values_are_bound_as_parameters_never_pasted() -> None:
    statement = select_checkpoints(Selection.parse("arch=evil'name*,sharpness<0.0123"), "postgresql")
    compiled = statement.compile(dialect=sa.dialects.postgresql.dialect())
    assert "evil" not in str(compiled) and "0.0123" not in str(compiled)
    assert {"evil'name%", 0.0123} <= set(compiled.params.values())


def test_view_table_is_not_part_of_the_orm_metadata() -> None:
    assert "checkpoint_features" not in Base.metadata.tables
    assert CHECKPOINT_FEATURES.metadata is not Base.metadata


def test_declared_view_columns_match_the_migrated_view(catalog: Catalog) -> None:
    columns = [c["name"] for c in sa.inspect(catalog.engine).get_columns("checkpoint_features")]
    assert tuple(columns) == VIEW_COLUMNS


MALICIOUS = [
    "x; DROP TABLE runs",
    "sharpness<0.01; DROP TABLE runs",
    "sharpness<0.01 OR 1=1",
    "sharpness<(SELECT 1)",
    "runs.id>0",
    "sharpness<0.01 --",
    "sharpness<0.01) OR (1=1",
    "checkpoint_id>0; DELETE FROM checkpoints",
]


def _row_counts(catalog: Catalog) -> dict[str, int]:
    with catalog.engine.connect() as conn:
        return {
            t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("runs", "checkpoints", "metric_values")
        }


@pytest.mark.parametrize("where", MALICIOUS)
def test_malicious_where_is_refused_and_the_catalog_is_unchanged(catalog: Catalog, where: str) -> None:
    build_catalog(catalog, n_variants=2, trials=1, epochs=2, n_external=0)
    before = _row_counts(catalog)
    with pytest.raises(InvalidInput):
        query_checkpoints(catalog, Selection(wheres=(where,)))
    with pytest.raises(InvalidInput):
        query_checkpoints(catalog, Selection.parse(where))
    assert _row_counts(catalog) == before


def _matches(row: dict[str, Any], selection: Selection) -> bool:
    """The oracle: the selection's meaning written out in Python."""
    names = [
        ("archs", "arch"),
        ("bases", "base_dataset"),
        ("variants", "variant"),
        ("variant_kinds", "variant_kind"),
        ("optimizers", "optimizer"),
        ("grids", "grid"),
        ("sources", "source"),
    ]
    for field, column in names:
        patterns = getattr(selection, field)
        if patterns and not (
            row[column] is not None and any(fnmatch.fnmatchcase(row[column], p.replace("[", "[[]")) for p in patterns)
        ):
            return False
    epoch = row["epoch"]
    checks = [
        not selection.trials or row["trial"] in selection.trials,
        selection.epoch is None or epoch == selection.epoch,
        selection.min_epoch is None or (epoch is not None and epoch >= selection.min_epoch),
        selection.max_epoch is None or (epoch is not None and epoch <= selection.max_epoch),
    ]
    ops = {
        "<": float.__lt__,
        "<=": float.__le__,
        ">": float.__gt__,
        ">=": float.__ge__,
        "=": float.__eq__,
        "!=": float.__ne__,
    }
    checks += [row[c] is not None and ops[op](float(row[c]), v) for c, op, v in selection.wheres]
    return all(checks)


SELECTIONS = [
    "arch=resnet18",
    "arch=resnet*",
    "arch=*net50|convnext*",
    "arch=RESNET18",
    "base=shapes_*",
    "base=natural?32",
    "base=shapes%",
    "base=shapes[_]32",
    "variant=v0?",
    "kind=blu*|noise",
    "optimizer=sgd-cosine",
    "grid=synthetic-*",
    "source=file",
    "source=run|hub",
    "trial=1",
    "epoch=2",
    "min_epoch=1",
    "max_epoch=0",
    "min_epoch=1,max_epoch=1",
    "sharpness<0.01",
    "noisiness>=0.1,arch=resnet50",
    "val_accuracy>0.15",
    "lr=0.1",
    "epoch!=1",
    "object_scale<=0.5",
    "laplacian_variance>0.02,trial=0|1",
    "checkpoint_id<10",
]


def test_every_filter_selects_exactly_what_it_says(catalog: Catalog) -> None:
    build_catalog(catalog, n_variants=6, trials=2, epochs=3)
    everything = query_checkpoints(catalog, columns=VIEW_COLUMNS, limit=None).records()
    for text in SELECTIONS:
        selection = Selection.parse(text)
        got = [
            r["checkpoint_id"]
            for r in query_checkpoints(catalog, selection, columns=("checkpoint_id",), limit=None).records()
        ]
        assert got == [r["checkpoint_id"] for r in everything if _matches(r, selection)], text
    assert not query_checkpoints(catalog, Selection.parse("base=shapes%")).total  # '%' is literal
    assert query_checkpoints(
        catalog, Selection.parse("base=shapes_*")
    ).counts  # '_' is literal, still matches shapes_32


def test_narrowing_combines_with_and_and_refuses_contradictions() -> None:
    both = Selection.parse("arch=resnet50,min_epoch=1,sharpness<0.1").narrowed(
        Selection.parse("min_epoch=3,max_epoch=9,trial=0")
    )
    assert both == Selection(
        archs=("resnet50",), trials=(0,), min_epoch=3, max_epoch=9, wheres=(("sharpness", "<", 0.1),)
    )
    with pytest.raises(InvalidInput, match="given twice"):
        Selection.parse("arch=resnet50").narrowed(Selection.parse("arch=resnet18"))
