"""The checkpoint selection the CLI's options describe, shared by ``query``, ``fit``, ``evaluate`` and ``report``.

Selections use one language everywhere (:mod:`zoo.selection`): the selection options of
:mod:`zoo.cli.options`, or the text form ``arch=resnet50|resnet18,min_epoch=1,sharpness<0.01``. SQLAlchemy
and the meta-model load inside these functions, when a command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.errors import InvalidInput

if TYPE_CHECKING:  # SQLAlchemy loads when a command runs, not at `zoo query --help`
    from zoo.selection import Selection


def shared_selection(
    arch: list[str] | None,
    base: list[str] | None,
    variant: list[str] | None,
    kind: list[str] | None,
    optimizer: list[str] | None,
    grid: list[str] | None,
    source: list[str] | None,
    trial: list[int] | None,
    epoch: int | None,
    min_epoch: int | None,
    max_epoch: int | None,
    where: list[str] | None,
) -> Selection:
    """The selection the shared options describe (empty options select everything)."""
    from zoo.selection import Selection

    return Selection(
        archs=tuple(arch or ()),
        bases=tuple(base or ()),
        variants=tuple(variant or ()),
        variant_kinds=tuple(kind or ()),
        optimizers=tuple(optimizer or ()),
        grids=tuple(grid or ()),
        sources=tuple(source or ()),
        trials=tuple(trial or ()),
        epoch=epoch,
        min_epoch=min_epoch,
        max_epoch=max_epoch,
        wheres=tuple(where or ()),
    )


def selection_with_metrics(text: str | None, feature_set: str, *shared: Any) -> tuple[Selection, tuple[Any, ...]]:
    """The selection of a text form and the shared options, with conditions on the feature set's metrics split off."""
    from zoo.metamodel import parse_selection_with_metrics, split_metric_wheres

    *options, where = shared
    view_where, metric_where = split_metric_wheres(where, feature_set)
    chosen, text_where = parse_selection_with_metrics(text, feature_set)
    return chosen.narrowed(shared_selection(*options, list(view_where))), text_where + metric_where


def train_test_sides(
    train_text: str | None,
    test_text: str | None,
    train_arch: list[str] | None,
    test_arch: list[str] | None,
    shared: Selection,
    shared_where: tuple[Any, ...],
    feature_set: str,
) -> tuple[Selection, Selection | None, tuple[Any, ...], tuple[Any, ...]]:
    """Train and test selections (test None: split the train side), each with its metric conditions."""
    from zoo.metamodel import parse_selection_with_metrics
    from zoo.selection import Selection

    train, train_where = parse_selection_with_metrics(train_text, feature_set)
    train = shared.narrowed(train).narrowed(Selection(archs=tuple(train_arch or ())))
    if test_text is None and not test_arch:
        return train, None, shared_where + train_where, ()
    test, test_where = parse_selection_with_metrics(test_text, feature_set)
    test = shared.narrowed(test).narrowed(Selection(archs=tuple(test_arch or ())))
    return train, test, shared_where + train_where, shared_where + test_where


def require_match(catalog: Any, chosen: Selection, side: str = "") -> None:
    """Refuse a selection that matches no checkpoint, in one line that names it and what the catalog holds."""
    from zoo.query import query_checkpoints

    if query_checkpoints(catalog, chosen, columns=["checkpoint_id"], limit=0).total:
        return
    held = query_checkpoints(catalog, None, columns=["checkpoint_id"], limit=0)
    have = ", ".join(name for name, _ in held.counts[:8]) or "none yet (`zoo ingest --run-grid demo`)"
    raise InvalidInput(
        f"no checkpoints match {chosen}"
        + (f" (the {side} selection)" if side else "")
        + f"; architectures in the catalog: {have}"
    )
