"""Where the catalog lives: ZOO_HOME, the database URL and the artifact store location."""

from __future__ import annotations

import os
from pathlib import Path

from zoo.errors import ConfigError

HOME_ENV = "ZOO_HOME"
DATABASE_URL_ENV = "ZOO_DATABASE_URL"
ARTIFACTS_ENV = "ZOO_ARTIFACTS"
READER_URL_ENV = "ZOO_READER_URL"
DEFAULT_HOME = ".zoo"
SQLITE_FILENAME = "catalog.db"


def zoo_home() -> Path:
    """The folder holding the default SQLite catalog and artifact store (``$ZOO_HOME``, else ``./.zoo``)."""
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser()


def normalize_database_url(url: str) -> str:
    """Turn what a user typed into a SQLAlchemy URL.

    ``postgresql://`` and ``postgres://`` select the psycopg 3 driver; a bare path is a SQLite file.
    """
    url = url.strip()
    if not url:
        raise ConfigError(f"the database URL is empty; pass `url` or set {DATABASE_URL_ENV}", param="url")
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if "://" not in url:
        return "sqlite:///" + str(Path(url).expanduser())
    return url


def database_url(explicit: str | None = None) -> str:
    """The catalog URL: ``--db``, else ``$ZOO_DATABASE_URL``, else SQLite under :func:`zoo_home`."""
    chosen = explicit or os.environ.get(DATABASE_URL_ENV)
    if chosen:
        return normalize_database_url(chosen)
    return "sqlite:///" + str(zoo_home() / SQLITE_FILENAME)


def reader_database_url(explicit: str | None = None) -> str | None:
    """The URL for read-only access (``zoo sql``, ``zoo serve``): ``--reader-url``, else ``$ZOO_READER_URL``.

    None when neither is set; the caller then reads through the catalog URL. Make one with
    ``zoo db create-reader``.
    """
    chosen = explicit or os.environ.get(READER_URL_ENV)
    return normalize_database_url(chosen) if chosen else None


def artifacts_location(explicit: str | None = None) -> str:
    """The artifact store: ``$ZOO_ARTIFACTS`` (a path or fsspec URL), else ``$ZOO_HOME/artifacts``."""
    return explicit or os.environ.get(ARTIFACTS_ENV) or str(zoo_home() / "artifacts")
