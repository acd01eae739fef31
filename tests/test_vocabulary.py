"""zoo.vocabulary is the one list of the names the schema fixes: import-free, and never re-listed.

The modules that use these names (the ORM's CHECK constraints and view columns, the selection language and
its ``--where`` whitelist, grid references, the fit targets, the CLI's help) import them; a tuple, list or
set literal elsewhere that spells out one of them in full is a copy that can drift, and fails here. Migrations
are exempt: a revision freezes the names as they were when it was written.

The registries (transforms, image properties) and the ORM's declared columns are checked against the
vocabulary instead: they hold code, not just names.
"""

from __future__ import annotations

import ast
from pathlib import Path

from zoo import vocabulary

ROOT = Path(__file__).resolve().parents[1]
VOCABULARY = ROOT / "zoo" / "vocabulary.py"
NAMES = {key: frozenset(value) for key, value in vars(vocabulary).items() if key.isupper() and isinstance(value, tuple)}
# Modules allowed to keep a copy (none: every module imports the vocabulary).
KNOWN_COPIES: set[str] = set()


def copies_in(source: str) -> list[tuple[int, str]]:
    """(line, vocabulary name) of every literal of two or more strings that lists a vocabulary tuple in full."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Tuple | ast.List | ast.Set)
            and len(node.elts) >= 2
            and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)
        ):
            listed = frozenset(e.value for e in node.elts)  # type: ignore[attr-defined]
            found += [(node.lineno, name) for name, names in NAMES.items() if listed == names]
    return found


def copies() -> dict[str, list[tuple[int, str]]]:
    modules = sorted(p for top in ("zoo", "ingest") for p in (ROOT / top).rglob("*.py") if p != VOCABULARY)
    found = {p.relative_to(ROOT).as_posix(): copies_in(p.read_text()) for p in modules}
    return {path: hits for path, hits in found.items() if hits}


def test_the_vocabulary_imports_nothing() -> None:
    """`zoo --help` reads it; an import here would load on every command's start."""
    tree = ast.parse(VOCABULARY.read_text())
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert [(n.module, [a.name for a in n.names]) for n in imports] == [("__future__", ["annotations"])]


def test_the_scan_finds_a_copy_in_any_order_and_ignores_parts() -> None:
    source = (
        "A = ('failed', 'done', 'running', 'queued')\n"  # RUN_STATUSES reordered: a copy
        "B = ['sharpness', 'noisiness']\n"  # two of the properties: a choice, not a copy
        "C = {'run', 'hub', 'file', 'other'}\n"  # more than the sources: not a copy
    )
    assert copies_in(source) == [(1, "RUN_STATUSES")]


def test_nothing_re_lists_the_vocabulary() -> None:
    unexpected = {path: hits for path, hits in copies().items() if path not in KNOWN_COPIES}
    assert not unexpected, f"import these names from zoo.vocabulary instead of listing them again: {unexpected}"


def test_the_names_are_the_ones_the_library_uses() -> None:
    from zoo import selection
    from zoo.metamodel import TARGETS

    assert TARGETS == vocabulary.PROPERTY_NAMES
    assert selection.WHERE_COLUMNS == vocabulary.WHERE_COLUMNS and selection.SELECTION_KEYS == vocabulary.SELECTION_KEYS
    # every --where column is a numeric column of the view the selections compile to
    assert set(vocabulary.WHERE_COLUMNS) <= set(selection.VIEW_COLUMNS)


def test_the_orm_declares_the_paper_v1_columns_and_constraints_from_the_vocabulary() -> None:
    from zoo.db import models

    assert [c.name for c in models.PaperV1Metrics.__table__.columns] == ["checkpoint_id", *vocabulary.PAPER_V1_METRICS]
    checks = {
        c.name: str(c.sqltext)
        for t in models.Base.metadata.tables.values()
        for c in t.constraints
        if c.__class__.__name__ == "CheckConstraint"
    }
    assert checks["ck_runs_status"] == f"status IN {vocabulary.RUN_STATUSES}"
    assert checks["ck_checkpoints_source"] == f"source IN {vocabulary.CHECKPOINT_SOURCES}"
    assert checks["ck_reference_weights_kind"] == f"kind IN {vocabulary.REFERENCE_KINDS}"


def test_variant_kinds_are_the_registered_transforms() -> None:
    from zoo.images import transforms

    assert set(vocabulary.VARIANT_KINDS) == set(transforms.transform_kinds())


def test_property_names_are_the_measured_properties_and_object_scale() -> None:
    from zoo.images import properties

    assert set(vocabulary.PROPERTY_NAMES) == {*properties.property_names(), properties.OBJECT_SCALE}
