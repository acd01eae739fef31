"""``zoo serve``: browse the catalog in a web browser, read-only."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

from zoo.cli.options import SQL_DEFAULT_MAX_BYTES
from zoo.cli.render import note
from zoo.cli.state import open_catalog, state
from zoo.config import READER_URL_ENV, reader_database_url
from zoo.errors import InvalidInput
from zoo.extras import require_extra

# zoo.catalog and zoo.sql (SQLAlchemy) load inside serve_command, so `zoo serve --help` starts without them.

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve_command(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on. Default: this machine only; 0.0.0.0 opens it to the network (it has no login: see README). Example: --host 0.0.0.0"
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on. Example: --port 8080")] = 8000,
    reader_url: Annotated[
        Optional[str],
        typer.Option(
            "--reader-url",
            envvar=READER_URL_ENV,
            show_envvar=True,
            help="Run the SQL page's queries as a read-only role instead of the catalog URL, as zoo sql does "
            "(see zoo db create-reader). Example: --reader-url postgresql://zoo_reader@db.example/zoo",
        ),
    ] = None,
    max_bytes: Annotated[
        str,
        typer.Option(
            "--max-bytes",
            help="Most bytes of values one SQL page query may fetch, as zoo sql --max-bytes. Example: --max-bytes 16MiB",
        ),
    ] = f"{SQL_DEFAULT_MAX_BYTES // (1 << 20)}MiB",
) -> None:
    """Serve a read-only web view of the catalog: overview and queue health, datasets, runs, checkpoints
    (with the zoo query selection language), fits and the generalization matrix, and read-only SQL; every
    page also as JSON (?format=json).

    Example: zoo serve --port 8080, then open http://127.0.0.1:8080/
    """
    from zoo.catalog import Catalog
    from zoo.sql import parse_size

    if not 0 < port < 65536:
        raise InvalidInput(f"--port must be between 1 and 65535, not {port}")
    sql_max_bytes = parse_size(max_bytes)
    require_extra("serve", "zoo serve")
    # The web stack is imported here only, so the rest of the CLI starts without it.
    import uvicorn

    from zoo.web.app import create_app

    catalog = open_catalog(ctx)
    url = reader_database_url(reader_url)  # the lookup zoo sql makes: --reader-url, else $ZOO_READER_URL
    reader = Catalog.open(url, artifacts=state(ctx).artifacts) if url is not None else None
    try:
        address = f"[{host}]" if ":" in host else host
        note(escape(f"serving {catalog.url} read-only at http://{address}:{port}/ (Ctrl-C stops)"))
        if reader is not None:
            note(escape(f"SQL page queries run as the read-only role of {reader.url}"))
        if host not in LOOPBACK:
            note("[yellow]zoo serve has no login: anyone who can reach this address can read the whole catalog[/]")
        app = create_app(catalog, reader=reader, sql_max_bytes=sql_max_bytes)
        uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)
    finally:
        if reader is not None:
            reader.close()
