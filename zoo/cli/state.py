"""Per-invocation CLI state: the global options and the catalog opened from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the catalog (SQLAlchemy, Alembic) loads when a command opens it, not at `zoo --help`
    from zoo.catalog import Catalog


@dataclass
class CliState:
    db: str | None = None
    artifacts: str | None = None
    _catalog: Catalog | None = field(default=None, repr=False)

    def catalog(self, *, check_schema: bool = True) -> Catalog:
        if self._catalog is None:
            from zoo.catalog import Catalog

            self._catalog = Catalog.open(self.db, artifacts=self.artifacts, check_schema=check_schema)
        return self._catalog

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
        root.call_on_close(root.obj.close)
    return root.obj


def open_catalog(ctx: typer.Context, *, check_schema: bool = True) -> Catalog:
    """The catalog named by ``--db`` / ``ZOO_DATABASE_URL`` (default: SQLite under ``ZOO_HOME``)."""
    return state(ctx).catalog(check_schema=check_schema)
