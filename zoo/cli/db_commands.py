"""``zoo db``: create, upgrade and inspect the catalog schema."""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from zoo.cli.options import AsJson
from zoo.cli.render import console
from zoo.cli.state import open_catalog

app = typer.Typer(help="Create, upgrade and inspect the catalog's schema (Alembic migrations).", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command(ctx: typer.Context) -> None:
    """Migrate the catalog to the schema this zoo needs (safe to repeat).

    Example: zoo --db postgresql://postgres@127.0.0.1/zoo db upgrade
    """
    from zoo.db.migrate import current_revision, upgrade

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
    from zoo.db.migrate import current_revision, head_revision, schema_status

    catalog = open_catalog(ctx, check_schema=False)
    current, head = current_revision(catalog.engine), head_revision()
    status = schema_status(current)
    console.print(f"{catalog.url}: revision {current or '—'} (head {head}; {status})")


@app.command("create-reader")
def create_reader_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Role to create, e.g. zoo_reader.")],
    password_env: Annotated[
        Optional[str],
        typer.Option(
            "--password-env",
            help="Name of an environment variable holding the role's password (never a password on the "
            "command line). Example: --password-env ZOO_READER_PASSWORD",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Create a PostgreSQL role that can only read the catalog, for zoo sql and zoo serve (safe to repeat).

    Example: ZOO_READER_PASSWORD=... zoo db create-reader zoo_reader --password-env ZOO_READER_PASSWORD
    """
    from dataclasses import asdict

    from zoo.cli.render import emit_json
    from zoo.errors import InvalidInput
    from zoo.sql_reader import create_reader

    password = None
    if password_env is not None:
        password = os.environ.get(password_env)
        if not password:
            raise InvalidInput(f"--password-env {password_env}: that environment variable is empty or not set")
    reader = create_reader(open_catalog(ctx), name, password=password)
    url = reader.url
    if password_env is not None:
        url = url.replace(f"://{reader.name}@", f"://{reader.name}:${{{password_env}}}@", 1)
    if as_json:
        emit_json({**asdict(reader), "url": url})
        return
    done = "created" if reader.created else "refreshed grants of"
    console.print(
        f"{done} role {reader.name}: LOGIN, read-only sessions, SELECT on {reader.relations} tables and views "
        f"in schema {reader.schema}",
        highlight=False,
        markup=False,
        emoji=False,
    )
    console.print(
        f"use it with: export ZOO_READER_URL='{url}'", highlight=False, markup=False, emoji=False, soft_wrap=True
    )
