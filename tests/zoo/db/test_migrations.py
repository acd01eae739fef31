"""The schema changes only through Alembic, and the ORM matches what the migrations build."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from clirunner import run_zoo
from zoo.catalog import Catalog
from zoo.db.engine import make_engine
from zoo.db.migrate import alembic_config, current_revision, downgrade, ensure_schema, head_revision, upgrade
from zoo.db.models import Base
from zoo.errors import SchemaOutOfDate


def test_migrations_have_a_single_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_every_revision_has_a_downgrade() -> None:
    for script in ScriptDirectory.from_config(alembic_config()).walk_revisions():
        assert "def downgrade" in Path(script.path).read_text(), script.path


def test_upgrade_downgrade_upgrade_round_trips(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_orm_matches_migrated_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_new_database_is_created_at_head(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    catalog = Catalog.open(db_url, artifacts=str(tmp_path / "a"))
    assert current_revision(catalog.engine) == head_revision()
    assert "checkpoint_features" in inspect(catalog.engine).get_view_names()
    catalog.close()


def test_catalog_at_older_revision_is_refused_with_the_fix(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as conn:  # pretend an older zoo created it: an earlier, known revision
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'older'")
    import zoo.db.migrate as migrate

    original = migrate.known_revisions
    migrate.known_revisions = lambda: original() | {"older"}  # type: ignore[assignment]
    try:
        with pytest.raises(SchemaOutOfDate, match="run `zoo db upgrade`"):
            ensure_schema(engine)
    finally:
        migrate.known_revisions = original  # type: ignore[assignment]
    engine.dispose()


def test_stale_catalog_makes_commands_stop_with_one_line(zoo_env: dict[str, str], db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    upgrade(engine)
    downgrade(engine, "base")
    engine.dispose()
    # A catalog at "base" with the version table present but empty counts as new; make it look stale.
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'older'")
    engine.dispose()
    monkeypatch.setattr("zoo.db.migrate.known_revisions", lambda: {"older", head_revision()})
    result = run_zoo("sql", "SELECT 1", expect=1)
    assert "zoo db upgrade" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_db_upgrade_and_current_commands(zoo_env: dict[str, str]) -> None:
    assert "empty" in run_zoo("db", "current").output
    assert head_revision() in run_zoo("db", "upgrade").output
    assert "up to date" in run_zoo("db", "current").output
    assert "already at revision" in run_zoo("db", "upgrade").output


def test_unknown_newer_revision_is_refused(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'fromthefuture'")
    from zoo.errors import DatabaseError

    with pytest.raises(DatabaseError, match="newer zoo"):
        ensure_schema(engine)
    engine.dispose()


def test_the_claim_columns_come_and_go_in_place_keeping_runs_and_checkpoints(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """0002 adds runs.claim_grace_s, claim_heartbeat_s, claim_process; neither direction rebuilds `runs`."""
    from synthetic_catalog import build_catalog

    catalog = Catalog.open(db_url, artifacts=str(tmp_path / "a"))
    build_catalog(catalog, archs=("resnet18",), n_variants=2, trials=1, epochs=2, n_external=0)

    def state() -> tuple[set[str], int, int]:
        with catalog.engine.connect() as conn:
            runs, checkpoints = (
                conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar() for t in ("runs", "checkpoints")
            )
        return {c["name"] for c in inspect(catalog.engine).get_columns("runs")} & CLAIM_COLUMNS, runs, checkpoints

    assert state() == (CLAIM_COLUMNS, 2, 4)
    downgrade(catalog.engine, "0001")
    assert state() == (set(), 2, 4)
    upgrade(catalog.engine, "0002")
    assert state() == (CLAIM_COLUMNS, 2, 4)
    with catalog.engine.connect() as conn:  # claims made before 0002 have no terms: the default grace applies
        assert conn.exec_driver_sql("SELECT count(*) FROM runs WHERE claim_grace_s IS NULL").scalar() == 2
    upgrade(catalog.engine)
    catalog.close()


CLAIM_COLUMNS = {"claim_grace_s", "claim_heartbeat_s", "claim_process"}
