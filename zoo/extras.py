"""Optional parts of zoo and the packages each needs: ``pip install 'zoo[EXTRA]'``.

``pip install zoo`` gives the catalog, queries, fits, SQL and reports. Training grids and reading model
files need the ``ingest`` extra (torch, timm, ...), PostgreSQL catalogs the ``postgres`` extra and
``zoo serve`` the ``serve`` extra. Code that needs one calls :func:`require_extra` before importing it, so
a missing extra is one line that names the install command instead of a traceback.
"""

from __future__ import annotations

import importlib.util
import sys

from zoo.errors import ConfigError

#: Extra -> the top-level modules it installs (module names, not distribution names).
EXTRAS: dict[str, tuple[str, ...]] = {
    "ingest": ("torch", "timm", "safetensors", "huggingface_hub"),
    "postgres": ("psycopg",),
    "serve": ("starlette", "jinja2", "uvicorn"),
}


class MissingExtra(ConfigError):
    """An optional part of zoo is used without the packages of its extra."""


def missing_modules(extra: str) -> tuple[str, ...]:
    """The modules of ``extra`` that cannot be imported here, found without importing any of them.

    Raises
    ------
    ValueError
        ``extra`` is not one of :data:`EXTRAS` (a programming error, not a user's).
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    return tuple(name for name in EXTRAS[extra] if not _importable(name))


def require_extra(extra: str, needed_by: str) -> None:
    """Raise :class:`MissingExtra` unless every module of ``extra`` is installed.

    ``needed_by`` names what needs it, for the message: ``"zoo ingest"``, ``"a PostgreSQL catalog"``.

    Example message: ``zoo ingest needs the 'ingest' extra (torch, timm are not installed); run: pip install
    'zoo[ingest]'``.
    """
    missing = missing_modules(extra)
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise MissingExtra(
            f"{needed_by} needs the {extra!r} extra ({', '.join(missing)} {verb} not installed); "
            f"run: pip install 'zoo[{extra}]'"
        )


def _importable(name: str) -> bool:
    if name in sys.modules:  # imported already, or blocked with sys.modules[name] = None
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a broken installation counts as missing
        return False
