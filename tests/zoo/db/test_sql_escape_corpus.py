"""Escape attempts against `zoo sql`, on SQLite and PostgreSQL: none may change the catalog or write a file.

Each attempt runs twice: as a user would send it, and with the friendly text check switched off, to show
that the database itself (not zoo's tokenizer) refuses a second statement and every write. Afterwards a
checksum of every table's rows, the row counts, the schema's relations and the probe folder are unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import private_postgres_schema

import zoo.sql
from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.errors import UnsafeInput, ZooError
from zoo.sql import run_query

ADVISORY_KEY = 424242

# Stacked statements: refused as "one statement at a time" (by the text check, and by the engine without it).
STACKED = [
    r"SELECT E'\'' AS a; COMMIT; UPDATE runs SET error='x' WHERE id=1; SELECT 'x'",
    r"SELECT 1 AS a$$; COMMIT; UPDATE runs SET error='x' WHERE id=2; SELECT 1 AS b$$",
    r"SELECT E'\'' AS a; COMMIT; COPY (SELECT 1) TO PROGRAM 'id > {probe}/copy1.txt'; SELECT 'x'",
    "SELECT 1; UPDATE runs SET error='x'",
    "SELECT 1;UPDATE runs SET error='x';",
    "SELECT $$;$$; UPDATE runs SET error='x'",
    "SELECT $t$ $$ $t$; DELETE FROM runs",
    r"SELECT E'\\'; DELETE FROM runs; SELECT '\\'",
    r"SELECT 'a\'; DELETE FROM runs; --'",
    r"SELECT E'\x27'; UPDATE runs SET error='x'; SELECT ''",
    "SELECT /* /* nested */ ; */ 1; DELETE FROM runs",
    "SELECT /* ; */ 1; DELETE FROM runs /* ; */",
    "SELECT 1 -- ;\n; DELETE FROM runs",
    r"SELECT U&'\0027'; DELETE FROM runs",
    'SELECT U&"a$$"; DELETE FROM runs; SELECT $$',
    'SELECT 1 AS "a;"; DELETE FROM runs',
    'SELECT 1 AS "x"";"; DELETE FROM runs',
    "SELECT 'it''s'; DELETE FROM runs",
    "SELECT $a$ $b$ ; $a$ ; UPDATE runs SET error='x'; SELECT $b$ $b$",
    "SELECT 1 AS [a;]; DELETE FROM runs",
    "SELECT 1 AS `a;`; DELETE FROM runs",
    "ROLLBACK; DELETE FROM runs",
    "END; UPDATE runs SET error='x'",
    "SELECT 1; COMMIT; SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE; UPDATE runs SET error='x'",
    "SELECT 1; SET ROLE postgres; UPDATE runs SET error='x'",
    "SELECT 1; RESET ALL; UPDATE runs SET error='x'",
    "SELECT set_config('default_transaction_read_only','off',false); UPDATE runs SET error='x'",
    "SELECT 1; DO $$ BEGIN UPDATE runs SET error='x'; END $$",
    "SELECT 1; COPY (SELECT 1) TO '{probe}/copy4.txt'",
    "SELECT 1; CREATE TABLE evil (x int)",
    "SELECT 1; LOCK TABLE runs",
    "SELECT pg_advisory_lock(424242); UPDATE runs SET error='x'",
    "PREPARE p AS UPDATE runs SET error='x'; EXECUTE p",
    "EXPLAIN SELECT 1; UPDATE runs SET error='x'",
    "VALUES (1); UPDATE runs SET error='x'",
    "(SELECT 1); DELETE FROM tensors",
    "SELECT 1; VACUUM",
    "SELECT 1; ALTER TABLE runs ADD COLUMN evil int",
    "SELECT 1; ATTACH DATABASE '{probe}/evil2.db' AS evil",
    "SELECT 1; PRAGMA query_only = OFF; DELETE FROM runs",
]

# Single statements that write, escape or reach outside: refused by the text check or by the engine.
SINGLE = [
    "UPDATE runs SET error='x'",
    "/* */ DELETE FROM runs",
    "-- comment\nDELETE FROM runs",
    "DO $$ BEGIN UPDATE runs SET error='x'; END $$",
    "CALL evil()",
    "COPY runs TO PROGRAM 'id > {probe}/copy2.txt'",
    "COPY (SELECT 1) TO '{probe}/copy3.txt'",
    "CREATE TEMP TABLE t AS SELECT 1",
    "WITH x AS (SELECT 1 AS a) SELECT * INTO evil FROM x",
    "SELECT * INTO evil2 FROM runs",
    "LOCK TABLE runs IN ACCESS EXCLUSIVE MODE",
    "NOTIFY zoo, 'x'",
    "EXECUTE p",
    "WITH x AS (UPDATE runs SET error='x' RETURNING *) SELECT * FROM x",
    "WITH x AS (DELETE FROM runs RETURNING *) SELECT count(*) FROM x",
    "SELECT * FROM runs FOR UPDATE",
    "SELECT * FROM runs FOR SHARE NOWAIT",
    "EXPLAIN ANALYZE UPDATE runs SET error='x'",
    "EXPLAIN ANALYZE WITH x AS (DELETE FROM runs RETURNING 1) SELECT * FROM x",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "SET ROLE postgres",
    "RESET ALL",
    "SELECT set_config('transaction_read_only', 'off', false)",
    "SELECT nextval('runs_id_seq')",
    "SELECT setval('runs_id_seq', 1000)",
    "TRUNCATE runs",
    "ATTACH DATABASE '{probe}/evil.db' AS evil",
    "PRAGMA query_only = OFF",
    "PRAGMA writable_schema = ON",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA user_version = 7",
    "VACUUM INTO '{probe}/vacuum.db'",
    "VACUUM",
    "SELECT load_extension('{probe}/evil.so')",
    "SELECT writefile('{probe}/w.txt', 'x')",
    "REPLACE INTO grids (id, name) VALUES (1, 'x')",
    "INSERT OR IGNORE INTO grids (name) VALUES ('x')",
    "CREATE TEMP TRIGGER t AFTER INSERT ON runs BEGIN DELETE FROM runs; END",
    "BEGIN IMMEDIATE",
    "SAVEPOINT x",
    "REINDEX",
    "ANALYZE",
]

# Single SELECTs that read or touch session state only; they may run, and still change nothing.
MAY_RUN = [
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT pg_advisory_lock(424242)",
    "SELECT lo_import('/etc/hostname')",
    "SELECT lo_from_bytea(0, 'x')",
    "SELECT pg_notify('zoo', 'x')",
    "SELECT count(*) FROM pg_ls_dir('.')",
    "SELECT * FROM runs ORDER BY id",
]


@pytest.fixture(scope="module")
def probe() -> Iterator[Path]:
    """A folder the database server's own user could write into (so a successful escape would show)."""
    folder = Path(tempfile.mkdtemp(prefix="zoo-sql-probe-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def corpus_catalog(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    """One small catalog per backend for the whole corpus."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('corpus') / 'catalog.db'}"
        else:  # skips where no server answers, and fails instead when CI requires one (ZOO_TEST_REQUIRE_POSTGRES=1)
            url = stack.enter_context(private_postgres_schema())
        catalog = Catalog.open(url, artifacts=str(tmp_path_factory.mktemp("artifacts")))
        build_catalog(catalog, archs=("resnet18",), n_variants=2, trials=1, epochs=2, n_external=1)
        yield catalog
        catalog.close()


def snapshot(catalog: Catalog, probe: Path) -> dict[str, object]:
    """Row count and sha256 of the sorted rows of every table, the relations, and the files around."""
    state: dict[str, object] = {}
    with catalog.engine.connect() as conn:
        for table in sorted(sa.inspect(conn).get_table_names()):
            rows = conn.exec_driver_sql(f'SELECT * FROM "{table}"').fetchall()
            digest = hashlib.sha256("\n".join(sorted(repr(tuple(row)) for row in rows)).encode()).hexdigest()
            state[table] = (len(rows), digest)
        state["views"] = sorted(sa.inspect(conn).get_view_names())
        if catalog.dialect == "postgresql":
            state["relations"] = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
            ).scalar()
            state["large_objects"] = conn.exec_driver_sql("SELECT count(*) FROM pg_largeobject_metadata").scalar()
            state["advisory"] = conn.exec_driver_sql(
                f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {ADVISORY_KEY}"
            ).scalar()
        else:
            state["files"] = sorted(
                p.name
                for p in Path(catalog.engine.url.database).parent.iterdir()
                if not p.name.endswith(("-wal", "-shm"))
            )
    state["probe"] = sorted(os.listdir(probe))
    return state


@pytest.fixture
def bypass_text_check(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Switch off the friendly text check, leaving the database as the only fence."""

    def enable() -> None:
        monkeypatch.setattr(zoo.sql, "validate_select", lambda sql, dialect="postgresql": sql.strip())

    return enable


def test_corpus_is_large_enough() -> None:
    assert len(STACKED) + len(SINGLE) + len(MAY_RUN) >= 50


@pytest.mark.parametrize("checked", [True, False], ids=["text-check", "engine-only"])
def test_escape_corpus_changes_nothing(corpus_catalog: Catalog, probe: Path, bypass_text_check, checked: bool) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(corpus_catalog, probe)
    if not checked:
        bypass_text_check()
    escaped = []
    for attack in STACKED:
        try:
            run_query(corpus_catalog, attack.format(probe=probe), timeout_s=5)
            escaped.append(attack)
        except UnsafeInput as error:
            assert "one statement" in str(error), (attack, str(error))
        except ZooError as error:
            # A syntax error before the second statement is parsed: nothing ran either (SQLite grammar, e.g. E'').
            assert "SQL error" in str(error), (attack, str(error))
    for attack in SINGLE:
        try:
            run_query(corpus_catalog, attack.format(probe=probe), timeout_s=5)
            escaped.append(attack)
        except ZooError:
            pass
    for attack in MAY_RUN:
        with contextlib.suppress(ZooError):
            run_query(corpus_catalog, attack.format(probe=probe), timeout_s=5)
    assert escaped == []
    assert snapshot(corpus_catalog, probe) == before
    if corpus_catalog.dialect == "postgresql":  # session settings changed by one call do not reach the next
        assert run_query(corpus_catalog, "SELECT current_setting('transaction_read_only')").rows == (("on",),)


def test_the_three_reported_reproductions_are_refused_by_the_server(
    corpus_catalog: Catalog, probe: Path, bypass_text_check
) -> None:  # type: ignore[no-untyped-def]
    if corpus_catalog.dialect != "postgresql":
        pytest.skip("the reproductions are PostgreSQL text")
    before = snapshot(corpus_catalog, probe)
    bypass_text_check()
    for attack in STACKED[:3]:
        with pytest.raises(UnsafeInput, match="cannot insert multiple commands"):
            run_query(corpus_catalog, attack.format(probe=probe))
    assert snapshot(corpus_catalog, probe) == before
    assert not (probe / "copy1.txt").exists()
