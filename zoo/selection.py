"""One selection language for every command that picks checkpoints: ``zoo query``, ``zoo fit``, notebooks.

A :class:`Selection` is frozen data. It comes from command-line options, from Python, or from text::

    arch=resnet50|resnet18, min_epoch=1, base=imagenette*, sharpness<0.01

Syntax of the text form
-----------------------
* Terms are separated by commas; blank terms are ignored.
* ``KEY=VALUE`` filters on a catalog field. Keys: ``arch``, ``base`` (base dataset), ``variant``,
  ``kind`` (variant kind: identity, blur, noise, ...), ``optimizer``, ``grid``, ``source`` (run, hub,
  file), ``trial``, ``epoch``, ``min_epoch``, ``max_epoch``.
* Alternatives: ``arch=resnet18|resnet50`` or, equivalently, the key repeated (``arch=resnet18,arch=resnet50``);
  a checkpoint matches when any alternative matches. Different keys must all match.
  ``epoch``, ``min_epoch`` and ``max_epoch`` take one number each (inclusive bounds). Trials and epochs are
  whole numbers from 0 to 2**31-1 (:data:`INT32_MAX`); anything else is refused with the key's name.
* Name values are globs: ``*`` matches any run of characters, ``?`` exactly one; every other character
  is literal (``_``, ``%``, ``[`` included). Matching is case-sensitive on SQLite and Postgres alike.
* ``COLUMN OP NUMBER`` compares a numeric column of the ``checkpoint_features`` view, with OP one of
  ``<  <=  >  >=  =  !=``, e.g. ``sharpness<0.01`` or ``val_accuracy>=0.5``. Only the columns in
  :data:`WHERE_COLUMNS` are accepted (the image properties, the paper-v1 metrics, epoch, step, trial,
  val_accuracy, train_loss, lr, image_size, checkpoint_id, run_id); a checkpoint whose value is missing
  (NULL) never satisfies a comparison. Values are bound as query parameters, never pasted into SQL.

An empty selection selects every checkpoint. Selections compile to SQLAlchemy Core over the
``checkpoint_features`` view (declared here as :data:`CHECKPOINT_FEATURES`, outside ``Base.metadata``,
because the view is created by migration 0001, not by the ORM).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Float,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    and_,
    or_,
    select,
    true,
)

from zoo.errors import InvalidInput
from zoo.vocabulary import (
    CHECKPOINT_SOURCES,
    PAPER_V1_METRICS,
    PROPERTY_NAMES,
    SELECTION_EPOCH_KEYS,
    SELECTION_KEYS,
    SELECTION_NAME_KEYS,
    WHERE_COLUMNS,
    WHERE_INTEGER_COLUMNS,
)

# Names other modules import from here (the vocabulary's, under the view's words).
PROPERTY_COLUMNS = PROPERTY_NAMES
PAPER_METRIC_COLUMNS = PAPER_V1_METRICS

_TEXT_COLUMNS = (
    "source",
    "arch",
    "grid",
    "optimizer",
    "base_dataset",
    "variant",
    "variant_kind",
    "variant_params",
    "reference",
    "origin",
)
_VIEW_ORDER = (
    "checkpoint_id",
    "source",
    "arch",
    "epoch",
    "step",
    "val_accuracy",
    "train_loss",
    "run_id",
    "grid",
    "trial",
    "optimizer",
    "lr",
    "image_size",
    "base_dataset",
    "variant",
    "variant_kind",
    "variant_params",
    "grayscale",
    "reference",
    "origin",
    *PROPERTY_NAMES,
    *PAPER_V1_METRICS,
)


def _view_column(name: str) -> Column[Any]:
    if name in _TEXT_COLUMNS:
        return Column(name, Text if name == "variant_params" else String)
    if name in WHERE_INTEGER_COLUMNS:
        return Column(name, Integer)
    if name == "grayscale":
        return Column(name, Boolean)
    return Column(name, Float)


CHECKPOINT_FEATURES = Table("checkpoint_features", MetaData(), *(_view_column(n) for n in _VIEW_ORDER))
"""The ``checkpoint_features`` view as a Core table (its own MetaData: never created by ``create_all``)."""

VIEW_COLUMNS: tuple[str, ...] = _VIEW_ORDER
WHERE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "!=": operator.ne,
}

# name key in the text form (zoo.vocabulary.SELECTION_NAME_KEYS) -> (Selection field, view column); globs, OR-ed.
_NAME_KEYS = dict(
    zip(
        SELECTION_NAME_KEYS,
        (
            ("archs", "arch"),
            ("bases", "base_dataset"),
            ("variants", "variant"),
            ("variant_kinds", "variant_kind"),
            ("optimizers", "optimizer"),
            ("grids", "grid"),
            ("sources", "source"),
        ),
        strict=True,
    )
)
_EPOCH_KEYS = SELECTION_EPOCH_KEYS

_TERM = re.compile(r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op><=|>=|!=|==|=|<|>)\s*(?P<value>.*?)\s*$")

Where = tuple[str, str, float]


def _valid_lists() -> str:
    return (
        f"selection keys: {', '.join(SELECTION_KEYS)}; comparable columns: {', '.join(WHERE_COLUMNS)}; "
        f"operators: {' '.join(WHERE_OPERATORS)}"
    )


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"{what}: {text!r} is not a number (write e.g. sharpness<0.01)") from None
    if not math.isfinite(value):
        raise InvalidInput(f"{what}: {text!r} is not a finite number")
    return value


INT32_MAX = 2**31 - 1
"""Largest value of the catalog's INTEGER columns (PostgreSQL ``integer``; SQLite would take 2**63-1)."""


def _integer(text: str | int, what: str) -> int:
    if isinstance(text, int) and not isinstance(text, bool):
        return bounded_int(text, what)
    if isinstance(text, str) and re.fullmatch(r"\s*-?\d+\s*", text):
        return bounded_int(int(text), what)
    raise InvalidInput(f"{what}: {text!r} is not a whole number")


def bounded_int(
    value: int, what: str | None = None, low: int = 0, high: int = INT32_MAX, *, param: str | None = None
) -> int:
    """``value`` if ``low <= value <= high``, else :class:`InvalidInput` naming ``what`` (a selection key, an
    option) or the caller's parameter ``param`` (which the error then carries, see :mod:`zoo.errors`).

    Epochs, trials, limits and offsets are checked here before they reach SQL, where a number beyond the
    column type fails deep in the driver (``OverflowError`` on SQLite, ``DataError`` on PostgreSQL).
    """
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        named = what if what is not None else f"`{param}`"
        raise InvalidInput(f"{named} must be a whole number from {low} to {high}, got {value!r}", param=param)
    return value


def parse_where(text: str) -> Where:
    """Parse one ``COLUMN OP NUMBER`` condition, e.g. ``"sharpness<0.01"``.

    Parameters
    ----------
    text : str
        The condition. COLUMN must be one of :data:`WHERE_COLUMNS`, OP one of ``< <= > >= = !=``
        (``==`` is read as ``=``), NUMBER a finite number.

    Returns
    -------
    (column, op, value) : tuple of (str, str, float)

    Raises
    ------
    InvalidInput
        Anything else (unknown column, operator or a value that is not a number), with the valid names.
    """
    match = _TERM.match(text)
    if match is None:
        raise InvalidInput(
            f"cannot read condition {text!r}: write COLUMN OP NUMBER, e.g. sharpness<0.01; {_valid_lists()}"
        )
    return _where(match["name"], match["op"], _number(match["value"], f"condition {text!r}"))


def _where(column: str, op: str, value: Any) -> Where:
    op = "=" if op == "==" else op
    if column not in WHERE_COLUMNS:
        raise InvalidInput(f"cannot compare {column!r}; comparable columns: {', '.join(WHERE_COLUMNS)}")
    if op not in WHERE_OPERATORS:
        raise InvalidInput(f"unknown operator {op!r}; operators: {' '.join(WHERE_OPERATORS)}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        value = _number(str(value), f"{column}{op}")
    if not math.isfinite(value):
        raise InvalidInput(f"{column}{op}{value}: the value must be finite")
    return column, op, float(value)


def _names(values: Any, key: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    out = tuple(values)
    if any(not isinstance(v, str) or not v or "," in v or "|" in v for v in out):
        raise InvalidInput(f"{key}: each value must be a non-empty name or glob without ',' or '|', got {out!r}")
    return out


@dataclass(frozen=True)
class Selection:
    """Which checkpoints to take. Empty fields do not filter; see the module docstring for the text form.

    Attributes
    ----------
    archs, bases, variants, variant_kinds, optimizers, grids : tuple of str
        Globs (``*``, ``?``) on architecture, base dataset, variant name, variant kind, optimizer and grid
        name; any of them may match.
    sources : tuple of str
        Checkpoint sources among ``run``, ``hub``, ``file``.
    trials : tuple of int
        Trial numbers (only training runs have one).
    epoch, min_epoch, max_epoch : int or None
        Exact epoch, or inclusive bounds.
    wheres : tuple of (column, op, value)
        Numeric comparisons on :data:`WHERE_COLUMNS`, all of which must hold.
    """

    archs: tuple[str, ...] = ()
    bases: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    variant_kinds: tuple[str, ...] = ()
    optimizers: tuple[str, ...] = ()
    grids: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    trials: tuple[int, ...] = ()
    epoch: int | None = None
    min_epoch: int | None = None
    max_epoch: int | None = None
    wheres: tuple[Where, ...] = field(default=())

    def __post_init__(self) -> None:
        for key, (name, _) in _NAME_KEYS.items():
            object.__setattr__(self, name, _names(getattr(self, name), key))
        bad = sorted(set(self.sources) - set(CHECKPOINT_SOURCES))
        if bad:
            raise InvalidInput(f"unknown source {', '.join(bad)}; sources: {', '.join(CHECKPOINT_SOURCES)}")
        object.__setattr__(self, "trials", tuple(_integer(t, "trial") for t in self.trials))
        for key in _EPOCH_KEYS:
            value = getattr(self, key)
            if value is not None:
                object.__setattr__(self, key, _integer(value, key))
        if self.min_epoch is not None and self.max_epoch is not None and self.min_epoch > self.max_epoch:
            raise InvalidInput(f"min_epoch={self.min_epoch} is above max_epoch={self.max_epoch}; nothing would match")
        object.__setattr__(self, "wheres", tuple(_where(*self._where_triple(w)) for w in self.wheres))

    @staticmethod
    def _where_triple(item: Any) -> tuple[str, str, Any]:
        if isinstance(item, str):
            return parse_where(item)
        if not isinstance(item, Sequence) or len(item) != 3:
            raise InvalidInput(f"a where condition is (column, op, value) or text like 'sharpness<0.01', got {item!r}")
        return item[0], item[1], item[2]

    @classmethod
    def parse(cls, text: str) -> Selection:
        """Read the text form, e.g. ``Selection.parse("arch=resnet50,min_epoch=1,sharpness<0.01")``.

        Raises
        ------
        InvalidInput
            For an unknown key or column, a bad operator or value; the message lists the valid names.
        """
        lists: dict[str, list[Any]] = {}
        scalars: dict[str, int] = {}
        wheres: list[Where] = []
        for term in (t for t in text.split(",") if t.strip()):
            match = _TERM.match(term)
            if match is None:
                raise InvalidInput(
                    f"cannot read {term.strip()!r}: write KEY=VALUE or COLUMN OP NUMBER; {_valid_lists()}"
                )
            name, op, value = match["name"], match["op"], match["value"]
            if op in ("=", "==") and name in SELECTION_KEYS:
                _add_term(name, value, lists, scalars)
            elif name in WHERE_COLUMNS:
                wheres.append(parse_where(term))
            elif name in SELECTION_KEYS:
                raise InvalidInput(f"{name} takes '=' (alternatives with '|'), not {op!r}")
            else:
                raise InvalidInput(f"unknown selection key {name!r}; {_valid_lists()}")
        return cls(**{k: tuple(v) for k, v in lists.items()}, **scalars, wheres=tuple(wheres))

    def narrowed(self, other: Selection) -> Selection:
        """Checkpoints in both selections (AND). A name key set on both sides is refused: say it once."""
        changes: dict[str, Any] = {}
        for name in [n for n, _ in _NAME_KEYS.values()] + ["trials"]:
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine and theirs and set(mine) != set(theirs):
                raise InvalidInput(
                    f"{name} is given twice ({'|'.join(map(str, mine))} and {'|'.join(map(str, theirs))}); give it once"
                )
            changes[name] = mine or theirs
        if self.epoch is not None and other.epoch is not None and self.epoch != other.epoch:
            raise InvalidInput(f"epoch is given twice ({self.epoch} and {other.epoch}); give it once")
        changes["epoch"] = self.epoch if self.epoch is not None else other.epoch
        changes["min_epoch"] = _bound(max, self.min_epoch, other.min_epoch)
        changes["max_epoch"] = _bound(min, self.max_epoch, other.max_epoch)
        changes["wheres"] = self.wheres + tuple(w for w in other.wheres if w not in self.wheres)
        return replace(self, **changes)

    def is_empty(self) -> bool:
        return self == Selection()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form holding only the fields that filter (stored with fits)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value in ((), None):
                continue
            out[f.name] = (
                [list(w) for w in value] if f.name == "wheres" else list(value) if isinstance(value, tuple) else value
            )
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Selection:
        """Inverse of :meth:`to_dict`; unknown fields are refused."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(f"unknown selection fields {', '.join(unknown)}; fields: {', '.join(sorted(known))}")
        return cls(
            **{
                k: tuple(tuple(w) for w in v) if k == "wheres" else tuple(v) if isinstance(v, list) else v
                for k, v in data.items()
            }
        )

    def __str__(self) -> str:
        """The text form (``Selection.parse(str(s)) == s``); ``"all"`` for the empty selection."""
        terms = [
            f"{key}={'|'.join(getattr(self, name))}" for key, (name, _) in _NAME_KEYS.items() if getattr(self, name)
        ]
        if self.trials:
            terms.append("trial=" + "|".join(map(str, self.trials)))
        terms += [f"{key}={getattr(self, key)}" for key in _EPOCH_KEYS if getattr(self, key) is not None]
        terms += [f"{c}{op}{v!r}" for c, op, v in self.wheres]
        return ",".join(terms) or "all"


def _add_term(key: str, value: str, lists: dict[str, list[Any]], scalars: dict[str, int]) -> None:
    if key in _EPOCH_KEYS:
        if key in scalars:
            raise InvalidInput(f"{key} is given twice; it takes one number")
        scalars[key] = _integer(value, key)
        return
    alternatives = [v.strip() for v in value.split("|")]
    if any(not v for v in alternatives):
        raise InvalidInput(f"{key}={value!r}: empty alternative")
    target = "trials" if key == "trial" else _NAME_KEYS[key][0]
    lists.setdefault(target, []).extend(_integer(v, key) if key == "trial" else v for v in alternatives)


def _bound(pick: Callable[[int, int], int], a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else pick(a, b)


def parse_selection(text: str | None) -> Selection:
    """:meth:`Selection.parse`, with ``None`` or ``"all"`` meaning everything."""
    if text is None or text.strip().lower() == "all":
        return Selection()
    return Selection.parse(text)


# --- compiling to SQL ------------------------------------------------------------------------------------


def glob_clause(column: ColumnElement[Any], pattern: str, dialect: str) -> ColumnElement[bool]:
    """Case-sensitive glob match, portable to SQLite (``GLOB``) and Postgres (``LIKE ... ESCAPE``).

    A pattern without ``*`` or ``?`` is an equality (so indexes apply). Everything else in the pattern is
    literal: SQLite's ``[`` and Postgres's ``%``, ``_`` and ``\\`` are escaped.
    """
    if "*" not in pattern and "?" not in pattern:
        return column == pattern
    if dialect == "sqlite":
        return column.op("GLOB")(pattern.replace("[", "[[]"))
    like = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%").replace("?", "_")
    return column.like(like, escape="\\")


def selection_clause(selection: Selection, dialect: str, table: Table = CHECKPOINT_FEATURES) -> ColumnElement[bool]:
    """The WHERE clause of ``selection`` over the view (or a table with the same column names)."""
    c = table.c
    clauses: list[ColumnElement[bool]] = []
    for _, (name, column) in _NAME_KEYS.items():
        patterns = getattr(selection, name)
        if patterns:
            clauses.append(or_(*(glob_clause(c[column], p, dialect) for p in patterns)))
    if selection.trials:
        clauses.append(c.trial.in_(selection.trials))
    if selection.epoch is not None:
        clauses.append(c.epoch == selection.epoch)
    if selection.min_epoch is not None:
        clauses.append(c.epoch >= selection.min_epoch)
    if selection.max_epoch is not None:
        clauses.append(c.epoch <= selection.max_epoch)
    clauses += [WHERE_OPERATORS[op](c[column], value) for column, op, value in selection.wheres]
    return and_(true(), *clauses)


def select_checkpoints(selection: Selection, dialect: str, columns: Sequence[str] = ("checkpoint_id",)) -> Select[Any]:
    """``SELECT columns FROM checkpoint_features WHERE <selection> ORDER BY checkpoint_id``."""
    check_columns(columns)
    view = CHECKPOINT_FEATURES
    return (
        select(*(view.c[name] for name in columns))
        .where(selection_clause(selection, dialect))
        .order_by(view.c.checkpoint_id)
    )


def check_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """Refuse column names that are not columns of the view, listing the valid ones."""
    unknown = [c for c in columns if c not in VIEW_COLUMNS]
    if unknown:
        raise InvalidInput(f"unknown column {', '.join(map(repr, unknown))}; columns: {', '.join(VIEW_COLUMNS)}")
    if not columns:
        raise InvalidInput(f"choose at least one column; columns: {', '.join(VIEW_COLUMNS)}")
    return tuple(columns)
