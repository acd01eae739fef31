"""The Starlette application of ``zoo serve``: GET routes only, HTML pages and their JSON twins.

Every page is a function of :mod:`zoo.web.views`; this module turns requests into calls and records into
responses. ``?format=json`` on any page returns its records; the SQL page also takes ``format=csv``.
Library errors become a 404 (unknown id) or 400 (bad selection, bad SQL) page carrying the CLI's one-line
message; anything unexpected becomes a plain 500 page, never a traceback.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zoo.catalog import Catalog
from zoo.display import cell_text, jsonable
from zoo.errors import DatabaseError, InvalidInput, NotFound, ZooError
from zoo.sql import DEFAULT_MAX_BYTES
from zoo.sql import _size as size_text  # "64 MiB", as the byte-budget error words it
from zoo.web import figures, matrices, views

logger = logging.getLogger("zoo.web")
READ_METHODS = ("GET", "HEAD")
FORMATS = ("html", "json")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    ),
]
QUEUE_REFRESH_S = 5


# --- values for JSON and for the page ------------------------------------------------------------------------


cell = cell_text  # the Jinja filter


def _with_query(request: Request, **changes: Any) -> str:
    """The current URL with some query parameters replaced (``None`` removes one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return request.url.path + ("?" + urlencode(params) if params else "")


def make_templates(queue_refresh_s: float = QUEUE_REFRESH_S) -> Jinja2Templates:
    env = Environment(loader=PackageLoader("zoo.web", "templates"), autoescape=select_autoescape(default=True))
    env.filters["cell"] = cell
    env.globals["with_query"] = _with_query
    env.globals["queue_refresh_s"] = queue_refresh_s
    return Jinja2Templates(env=env)


# --- read-only guard -----------------------------------------------------------------------------------------


class ReadOnlyMiddleware:
    """Refuses every method but GET and HEAD (405) before routing; adds security headers to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in READ_METHODS:
            response = PlainTextResponse(
                "405 Method Not Allowed: zoo serve is read-only and answers only GET requests\n",
                status_code=405,
                headers={"Allow": ", ".join(READ_METHODS)},
            )
            await response(scope, receive, self._secured(send))
            return
        await self.app(scope, receive, self._secured(send))

    @staticmethod
    def _secured(send: Send) -> Send:
        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        return secured


# --- the application ---------------------------------------------------------------------------------------


class ZooWeb:
    """Holds the catalog, the templates and the figure cache; its methods are the endpoints.

    The SQL page runs its queries through ``reader`` (a catalog opened on a read-only role's URL,
    ``--reader-url`` / ``ZOO_READER_URL``) when there is one, else through ``catalog``, exactly as ``zoo sql``
    does, with the same byte budget (``sql_max_bytes``).
    """

    def __init__(
        self,
        catalog: Catalog,
        queue_refresh_s: float = QUEUE_REFRESH_S,
        *,
        reader: Catalog | None = None,
        sql_max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.catalog = catalog
        self.reader = reader
        self.sql_max_bytes = sql_max_bytes
        self.templates = make_templates(queue_refresh_s)
        self.figures = figures.FigureCache()
        self.matrices = matrices.MatrixCache()

    @property
    def sql_catalog(self) -> Catalog:
        """Where SQL typed on the page runs: the reader role's connection when configured."""
        return self.reader if self.reader is not None else self.catalog

    # rendering

    def render(self, request: Request, page: views.Page, status_code: int = 200) -> Response:
        fmt = request.query_params.get("format", "html")
        if fmt == "json":
            return JSONResponse(jsonable(page.data), status_code=status_code)
        context = {**page.context, "catalog_url": self.catalog.url, "json_url": _with_query(request, format="json")}
        return self.templates.TemplateResponse(request, page.template, context, status_code=status_code)

    def error(self, request: Request, status_code: int, message: str) -> Response:
        if request.query_params.get("format") in ("json", "csv"):
            return JSONResponse({"error": message, "status": status_code}, status_code=status_code)
        context = {"status_code": status_code, "message": message, "catalog_url": self.catalog.url, "json_url": None}
        return self.templates.TemplateResponse(request, "error.html", context, status_code=status_code)

    def answer(self, request: Request, build: Callable[[], views.Page]) -> Response:
        """Build a page; a library error becomes the CLI's one-line message on a 404/400/503 page."""
        fmt = request.query_params.get("format", "html")
        try:
            if fmt not in FORMATS:
                raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
            return self.render(request, build())
        except ZooError as error:
            return self.error(request, status_for(error), shown(error))

    # endpoints

    def overview(self, request: Request) -> Response:
        return self.answer(request, lambda: views.overview(self.catalog))

    def queue(self, request: Request) -> Response:
        return self.answer(request, lambda: views.queue_panel(self.catalog))

    def datasets(self, request: Request) -> Response:
        return self.answer(request, lambda: views.datasets_page(self.catalog))

    def dataset(self, request: Request) -> Response:
        return self.answer(request, lambda: views.dataset_page(self.catalog, request.path_params["name"]))

    def runs(self, request: Request) -> Response:
        return self.answer(request, lambda: views.runs_page(self.catalog, request.query_params))

    def run(self, request: Request) -> Response:
        return self.answer(request, lambda: views.run_page(self.catalog, request.path_params["run_id"]))

    def checkpoints(self, request: Request) -> Response:
        return self.answer(request, lambda: views.checkpoints_page(self.catalog, request.query_params))

    def checkpoint(self, request: Request) -> Response:
        return self.answer(request, lambda: views.checkpoint_page(self.catalog, request.path_params["checkpoint_id"]))

    def fits(self, request: Request) -> Response:
        return self.answer(request, lambda: views.fits_page(self.catalog, request.query_params))

    def fit(self, request: Request) -> Response:
        return self.answer(request, lambda: views.fit_page(self.catalog, request.path_params["fit_id"]))

    def evaluate(self, request: Request) -> Response:
        params = request.query_params
        if params.get("format", "html") != "html":
            return self.answer(
                request, lambda: views.evaluate_page(self.catalog, params, self.matrices, require_target=True)
            )
        try:
            return self.render(request, views.evaluate_page(self.catalog, params, self.matrices))
        except ZooError as error:  # keep the form, with the message above it
            context = {**views.evaluate_form(params), "error": shown(error)}
            return self.render(request, views.Page("evaluate.html", context), status_code=status_for(error))

    def _sql_page(self, request: Request, *, require_query: bool = False) -> views.Page:
        page = views.sql_page(
            self.sql_catalog, request.query_params, require_query=require_query, max_bytes=self.sql_max_bytes
        )
        page.context.update(self._sql_context())
        return page

    def _sql_context(self) -> dict[str, Any]:
        return {
            "reader_url": self.reader.url if self.reader is not None else None,
            "max_bytes": size_text(self.sql_max_bytes),
        }

    @staticmethod
    def _warned(response: Response, page: views.Page) -> Response:
        """The superuser warning of ``zoo sql`` (stderr there) as a header on the JSON and CSV answers."""
        warnings = page.context.get("warnings") or ()
        if warnings:
            response.headers["X-Zoo-Warning"] = " / ".join(warnings)
        return response

    def sql(self, request: Request) -> Response:
        params = request.query_params
        fmt = params.get("format", "html")
        if fmt == "csv":
            return self._sql_csv(request)
        if fmt == "json":
            try:
                page = self._sql_page(request, require_query=True)
            except ZooError as error:
                return self.error(request, status_for(error), shown(error))
            return self._warned(self.render(request, page), page)
        try:
            return self.render(request, self._sql_page(request))
        except ZooError as error:  # keep the query box, with the message above it
            context = {
                "q": params.get("q", ""),
                "limit": params.get("limit", views.DEFAULT_LIMIT),
                "timeout": params.get("timeout", views.DEFAULT_TIMEOUT_S),
                "result": None,
                "warnings": (),
                "example": views.EXAMPLE_SQL,
                "error": shown(error),
                **self._sql_context(),
            }
            return self.render(request, views.Page("sql.html", context), status_code=status_for(error))

    def _sql_csv(self, request: Request) -> Response:
        try:
            page = self._sql_page(request, require_query=True)
        except ZooError as error:
            return self.error(request, status_for(error), shown(error))
        result = page.context["result"]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([jsonable(v) for v in row] for row in result.rows)
        headers = {"Content-Disposition": 'attachment; filename="zoo-query.csv"'}
        if result.truncated:
            headers["X-Zoo-Truncated"] = "true"
        return self._warned(Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers), page)

    # figures

    def png(self, request: Request, draw: Callable[[], tuple[str, bytes]]) -> Response:
        try:
            key, data = draw()
        except ZooError as error:
            return PlainTextResponse(shown(error) + "\n", status_code=status_for(error))
        etag = f'"{key}"'
        headers = {"ETag": etag, "Cache-Control": "private, max-age=3600"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(data, media_type="image/png", headers=headers)

    def filters_png(self, request: Request) -> Response:
        return self.png(
            request, lambda: figures.filter_png(self.figures, self.catalog, request.path_params["checkpoint_id"])
        )

    def fit_png(self, request: Request) -> Response:
        return self.png(request, lambda: figures.fit_png(self.figures, self.catalog, request.path_params["fit_id"]))

    def matrix_png(self, request: Request) -> Response:
        def draw() -> tuple[str, bytes]:
            settings = matrices.settings_from(request.query_params)
            if settings is None:
                raise InvalidInput("target is required, e.g. /evaluate/matrix.png?target=sharpness")
            return figures.matrix_png(self.figures, self.matrices.get(self.catalog, settings).matrix)

        return self.png(request, draw)

    def preview_png(self, request: Request) -> Response:
        return self.png(request, lambda: figures.preview_png(self.figures, self.catalog, request.path_params["name"]))

    # HTTP-level errors (no route, a crash)

    async def not_found(self, request: Request, exc: Exception) -> Response:
        detail = getattr(exc, "detail", None) or "Not Found"
        status = getattr(exc, "status_code", 404)
        return self.error(request, status, f"{detail}: {request.url.path} is not a page of zoo serve; start at /")

    async def crashed(self, request: Request, exc: Exception) -> Response:
        logger.exception("error while answering %s", request.url.path, exc_info=exc)
        return HTMLResponse(
            "<!doctype html><title>500</title><h1>500</h1><p>zoo serve met an unexpected error; "
            "the server log has the details.</p>",
            status_code=500,
        )


# How the pages spell the library's parameters in messages: their query-string names where they have one
# (/evaluate?trees=..&raw_target=1, /sql?timeout=..); any other parameter keeps its library name.
QUERY_NAMES = {
    "n_estimators": "trees",
    "log_target=False": "raw_target=1",
    "log_target=True": "raw_target=0",
    "timeout_s": "timeout",
    "max_bytes": "the server's byte budget",
}


def shown(error: ZooError) -> str:
    """``error``'s message as a page shows it: its parameters named as in :data:`QUERY_NAMES`."""
    return error.message_for(QUERY_NAMES)


def status_for(error: ZooError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, DatabaseError):
        return 503
    return 400


def create_app(
    catalog: Catalog,
    *,
    queue_refresh_s: float = QUEUE_REFRESH_S,
    reader: Catalog | None = None,
    sql_max_bytes: int = DEFAULT_MAX_BYTES,
) -> Starlette:
    """The ASGI application serving ``catalog`` read-only; the overview's queue panel reloads every
    ``queue_refresh_s`` seconds. The SQL page queries through ``reader`` when given (a catalog opened on
    the read-only role's URL, see :func:`zoo.config.reader_database_url`) and stops a result past
    ``sql_max_bytes`` of values, as ``zoo sql --max-bytes`` does."""
    web = ZooWeb(catalog, queue_refresh_s, reader=reader, sql_max_bytes=sql_max_bytes)
    routes = [
        Route("/", web.overview),
        Route("/queue", web.queue),
        Route("/datasets", web.datasets),
        Route("/datasets/{name}", web.dataset),
        Route("/datasets/{name}/preview.png", web.preview_png),
        Route("/runs", web.runs),
        Route("/runs/{run_id:int}", web.run),
        Route("/checkpoints", web.checkpoints),
        Route("/checkpoints/{checkpoint_id:int}", web.checkpoint),
        Route("/checkpoints/{checkpoint_id:int}/filters.png", web.filters_png),
        Route("/fits", web.fits),
        Route("/fits/{fit_id:int}", web.fit),
        Route("/fits/{fit_id:int}/predictions.png", web.fit_png),
        Route("/evaluate", web.evaluate),
        Route("/evaluate/matrix.png", web.matrix_png),
        Route("/sql", web.sql),
        Mount("/static", StaticFiles(packages=[("zoo.web", "static")]), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: web.not_found, Exception: web.crashed})
    app.state.web = web
    app.add_middleware(ReadOnlyMiddleware)
    return app
