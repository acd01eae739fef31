"""A small catalog for the web tests: synthetic checkpoints, a dataset with real pixels, a stored fit, and
runs in every queue state (one failed with an error holding markup, one running with a stale heartbeat)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from conftest import private_postgres_schema
from sqlalchemy import func, select

from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.db.models import BaseDataset, DatasetVariant, Run
from zoo.images.transforms import PAPER_VARIANTS
from zoo.metamodel import fit_meta_model
from zoo.selection import Selection

PIXEL_DATASET = "pixels-16"
FAILED_ERROR = "RuntimeError: <script>alert(1)</script> [bold]not markup[/]\nsecond line"


@dataclass(frozen=True)
class WebCatalog:
    checkpoint_ids: list[int]
    fit_id: int
    failed_run: int
    stale_run: int
    done_run: int
    pixel_dataset: str = PIXEL_DATASET
    failed_error: str = FAILED_ERROR


def _pixel_dataset(catalog: Catalog) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(12, 16, 16, 3), dtype=np.uint8)
    sha = catalog.store.put_arrays(images=images, labels=np.arange(12) % 3)
    with catalog.session(write=True) as session:
        base = BaseDataset(
            name=PIXEL_DATASET,
            source_kind="natural",
            source_params={},
            image_size=16,
            n_images=12,
            n_classes=3,
            class_names=["a", "b", "c"],
            grayscale=False,
            seed=0,
            images_sha256=sha,
            skipped=[],
        )
        session.add(base)
        session.flush()
        session.add_all(
            DatasetVariant(base_dataset_id=base.id, name=v.name, kind=v.kind, params=dict(v.params), seed=i)
            for i, v in enumerate(PAPER_VARIANTS[:4])
        )


def _queue_states(catalog: Catalog, run_ids: list[int]) -> tuple[int, int]:
    """Mark one run failed (with an error) and one running with a heartbeat an hour old."""
    failed, stale = run_ids[-1], run_ids[-2]
    with catalog.session(write=True) as session:
        session.get(Run, failed).status, session.get(Run, failed).error = "failed", FAILED_ERROR
        run = session.get(Run, stale)
        run.status, run.worker = "running", "elsewhere:1"
        run.heartbeat_at = datetime.now(UTC) - timedelta(hours=1)
        for run_id in run_ids[:3]:
            done = session.get(Run, run_id)
            done.finished_at, done.images_per_second = datetime.now(UTC), 100.0
    return failed, stale


def build_web_catalog(catalog: Catalog) -> WebCatalog:
    built = build_catalog(catalog, n_variants=4, trials=1, epochs=2, n_external=1)
    _pixel_dataset(catalog)
    fit = fit_meta_model(
        catalog,
        "sharpness",
        Selection(archs=("resnet50",)),
        Selection(archs=("resnet18",)),
        n_estimators=5,
        repeats=2,
        label="<b>web test</b>",
    )
    run_ids = sorted(set(built.run_of.values()))
    failed, stale = _queue_states(catalog, run_ids)
    return WebCatalog(built.all_ids, int(fit.id), failed, stale, run_ids[0])


@pytest.fixture
def row_counts() -> Any:
    """Rows per table of a catalog, to prove that the server wrote nothing."""
    return count_rows


def count_rows(catalog: Catalog) -> dict[str, int]:
    """Rows per table (to prove that the server wrote nothing)."""
    from zoo.db.models import Base

    with catalog.session() as session:
        return {
            name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in sorted(Base.metadata.tables.items())
        }


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Catalog, WebCatalog, str]]:
    """One catalog per test module and backend: the server never writes, so the module's tests share it."""
    folder = tmp_path_factory.mktemp("web")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'catalog.db'}"
        yield from _opened(url, folder)
        return
    with private_postgres_schema() as url:
        yield from _opened(url, folder)


def _opened(url: str, folder: Any) -> Iterator[tuple[Catalog, WebCatalog, str]]:
    catalog = Catalog.open(url, artifacts=str(folder / "artifacts"))
    try:
        yield catalog, build_web_catalog(catalog), url
    finally:
        catalog.close()


@pytest.fixture(scope="module")
def catalog(served: tuple[Catalog, WebCatalog, str]) -> Catalog:
    return served[0]


@pytest.fixture(scope="module")
def web(served: tuple[Catalog, WebCatalog, str]) -> WebCatalog:
    return served[1]


@pytest.fixture
def zoo_env(served: tuple[Catalog, WebCatalog, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for in-process CLI calls on the served catalog."""
    env = {"ZOO_DATABASE_URL": served[2], "ZOO_ARTIFACTS": str(served[0].store.location), "HF_HUB_OFFLINE": "1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(scope="module")
def client(served: tuple[Catalog, WebCatalog, str]) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from zoo.web.app import create_app

    with TestClient(create_app(served[0]), raise_server_exceptions=False) as test_client:
        yield test_client
