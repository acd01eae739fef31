"""``zoo serve``: browse the catalog in a web browser, read-only."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from zoo.cli.render import note
from zoo.cli.state import open_catalog
from zoo.errors import ConfigError, InvalidInput

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on. Default: this machine only; 0.0.0.0 opens it to the network (it has no login: see README). Example: --host 0.0.0.0")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on. Example: --port 8080")] = 8000,
) -> None:
    """Serve a read-only web view of the catalog: overview and queue health, datasets, runs, checkpoints
    (with the zoo query selection language), fits, and read-only SQL; every page also as JSON (?format=json).

    Example: zoo serve --port 8080, then open http://127.0.0.1:8080/
    """
    if not 0 < port < 65536:
        raise InvalidInput(f"--port must be between 1 and 65535, not {port}")
    try:  # the web stack is imported here only, so the rest of the CLI starts without it
        import uvicorn

        from zoo.web.app import create_app
    except ImportError as error:
        raise ConfigError(f"zoo serve needs {error.name}, which is not installed; run: pip install starlette jinja2 uvicorn") from None
    catalog = open_catalog(ctx)
    address = f"[{host}]" if ":" in host else host
    note(escape(f"serving {catalog.url} read-only at http://{address}:{port}/ (Ctrl-C stops)"))
    if host not in LOOPBACK:
        note("[yellow]zoo serve has no login: anyone who can reach this address can read the whole catalog[/]")
    uvicorn.run(create_app(catalog), host=host, port=port, log_level="info", server_header=False)
