"""``zoo db``: create, upgrade and inspect the catalog schema."""

from __future__ import annotations

import typer

from zoo.cli.render import console
from zoo.cli.state import open_catalog
from zoo.db.schema import current_revision, head_revision, upgrade

app = typer.Typer(help="Create, upgrade and inspect the catalog's schema (Alembic migrations).", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command(ctx: typer.Context) -> None:
    """Migrate the catalog to the schema this zoo needs (safe to repeat).

    Example: zoo --db postgresql://postgres@127.0.0.1/zoo db upgrade
    """
    catalog = open_catalog(ctx, check_schema=False)
    before = current_revision(catalog.engine)
    upgrade(catalog.engine)
    after = current_revision(catalog.engine)
    if before == after:
        console.print(f"{catalog.url} is already at revision {after} (head)")
    else:
        console.print(f"{catalog.url}: {before or 'empty'} → {after} (head)")


@app.command("current")
def current_command(ctx: typer.Context) -> None:
    """Print the catalog's schema revision and whether it is up to date.

    Example: zoo db current
    """
    catalog = open_catalog(ctx, check_schema=False)
    current, head = current_revision(catalog.engine), head_revision()
    status = "up to date" if current == head else "run `zoo db upgrade`" if current else "empty"
    console.print(f"{catalog.url}: revision {current or '—'} (head {head}; {status})")
