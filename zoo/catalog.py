"""The catalog handle: one database engine plus one artifact store, with schema checks on open."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from zoo.config import ARTIFACTS_ENV, artifacts_location, database_url, zoo_home
from zoo.db.engine import describe_url, make_engine, session_scope
from zoo.db.migrate import ensure_schema
from zoo.store import ArtifactStore


def default_artifacts(url: str) -> str:
    """``$ZOO_ARTIFACTS``; else beside a SQLite catalog file (``artifacts/``); else ``$ZOO_HOME/artifacts``."""
    if os.environ.get(ARTIFACTS_ENV):
        return artifacts_location(None)
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        return str(Path(url.removeprefix("sqlite:///")).expanduser().parent / "artifacts")
    return artifacts_location(None)


class Catalog:
    """A zoo catalog: ``Catalog.open()`` for the configured one, or pass a URL (``sqlite:///...``)."""

    def __init__(self, engine: Engine, store: ArtifactStore) -> None:
        self.engine = engine
        self.store = store

    @classmethod
    def open(cls, url: str | None = None, *, artifacts: str | None = None, check_schema: bool = True) -> Catalog:
        """Connect, and (unless ``check_schema=False``) create a new catalog at head or refuse a stale one."""
        resolved = database_url(url)
        if resolved.startswith("sqlite:///") and url is None:
            zoo_home().mkdir(parents=True, exist_ok=True)  # the default location is ours to create
        engine = make_engine(resolved)
        if check_schema:
            try:
                ensure_schema(engine)
            except BaseException:
                engine.dispose()
                raise
        return cls(engine, ArtifactStore(artifacts or default_artifacts(resolved)))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        return describe_url(str(self.engine.url))

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A short transaction (see :func:`zoo.db.engine.session_scope`)."""
        with session_scope(self.engine, write=write) as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
