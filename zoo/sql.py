"""Read-only ad hoc SQL over the catalog.

The database enforces every fence; the text checks in :mod:`zoo.sql_tokens` only word the refusals.

- **One statement**, refused by the engine: Python's sqlite3 prepares one statement and refuses text
  after it; on PostgreSQL the query goes through the extended protocol (a ``DECLARE`` cursor or a
  prepared statement), where the server refuses more than one command.
- **Read-only at the engine**: SQLite opens the file ``mode=ro`` with ``query_only`` and an authorizer
  that allows reading only (no ATTACH, writing PRAGMA, load_extension); PostgreSQL runs on a connection
  of its own whose session is ``READ ONLY`` before the query is sent, inside a ``READ ONLY`` transaction,
  and is closed afterwards, so nothing in the text can carry over to a writer.
- **Bounded**: a time limit (progress handler / ``statement_timeout``), at most ``limit`` rows (one more
  is fetched to report truncation), and a byte budget checked while fetching in growing batches
  (a server-side cursor on PostgreSQL; ``SQLITE_LIMIT_LENGTH`` caps any single SQLite value).
"""

from __future__ import annotations

import math
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from zoo.catalog import Catalog
from zoo.errors import InvalidInput, UnsafeInput, ZooError
from zoo.sql_tokens import first_word, statements

ALLOWED_FIRST_WORDS = ("SELECT", "WITH", "VALUES", "EXPLAIN")
DEFAULT_LIMIT = 1000
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# SQLite calls the progress handler every this many virtual-machine instructions.
SQLITE_PROGRESS_STEPS = 10_000
# Rows per fetch grow from 1 up to this, and shrink to what the byte budget has room for.
MAX_FETCH_BATCH = 500
SUPERUSER_WARNING = (
    "connected as a PostgreSQL superuser: read-only still lets pg_read_file, pg_ls_dir and lo_import "
    "read the server's files; give zoo sql a reader role (zoo db create-reader, then ZOO_READER_URL)"
)


MAX_TIMEOUT_S = 86_400.0  # a day: beyond it PostgreSQL's statement_timeout (int milliseconds) is no limit


class QueryTimeout(ZooError):
    """The query ran past its time limit and was stopped."""


class ResultTooLarge(ZooError):
    """The rows fetched so far passed the byte budget."""


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool
    elapsed_s: float
    warnings: tuple[str, ...] = ()


def validate_select(sql: str, dialect: str = "postgresql") -> str:
    """Return the statement without comments, or raise :class:`UnsafeInput` with a friendly reason.

    Only for the message: the database refuses a second statement and any write on its own.
    """
    found = statements(sql, dialect)
    if not found:
        raise InvalidInput("the query is empty; pass a statement such as: SELECT count(*) FROM checkpoints")
    if len(found) > 1:
        raise UnsafeInput("zoo sql runs one statement at a time; remove the extra statements after ';'")
    word = first_word(found[0], dialect)
    if word not in ALLOWED_FIRST_WORDS:
        shown = word or found[0].split()[0]
        raise UnsafeInput(f"zoo sql only runs read-only queries (SELECT, WITH, VALUES, EXPLAIN), not {shown}")
    return found[0]


def run_query(
    catalog: Catalog,
    sql: str,
    *,
    limit: int = DEFAULT_LIMIT,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> QueryResult:
    """Run one read-only query and return at most ``limit`` rows holding at most ``max_bytes``."""
    if limit < 1:
        raise InvalidInput(f"`limit` must be at least 1, got {limit}", param="limit")
    if not math.isfinite(timeout_s) or not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise InvalidInput(
            f"`timeout_s` must be a number of seconds in (0, {MAX_TIMEOUT_S:g}], got {timeout_s:g}", param="timeout_s"
        )
    if max_bytes < 1:
        raise InvalidInput(
            f"`max_bytes` must be at least 1, e.g. `max_bytes=67108864`, got {max_bytes}", param="max_bytes"
        )
    statement = validate_select(sql, catalog.dialect)
    budget = _Budget(limit, max_bytes)
    started = time.perf_counter()
    if catalog.dialect == "sqlite":
        columns, rows = _run_sqlite(catalog, sql, budget, timeout_s)
        warnings: tuple[str, ...] = ()
    else:
        columns, rows, warnings = _run_postgres(catalog, sql, statement, budget, timeout_s)
    return QueryResult(
        columns=tuple(columns),
        rows=tuple(tuple(row) for row in rows[:limit]),
        truncated=len(rows) > limit,
        elapsed_s=time.perf_counter() - started,
        warnings=warnings,
    )


def _timeout_error(timeout_s: float) -> QueryTimeout:
    return QueryTimeout(
        f"the query was stopped at the {timeout_s:g} s time limit; narrow it or raise `timeout_s`", param="timeout_s"
    )


class _Budget:
    """Fetches up to ``limit + 1`` rows in batches, stopping once their values pass ``max_bytes``."""

    def __init__(self, limit: int, max_bytes: int) -> None:
        self.limit, self.max_bytes = limit, max_bytes

    def too_large(self, rows: int) -> ResultTooLarge:
        return ResultTooLarge(
            f"the result passed the {_size(self.max_bytes)} byte budget after {rows} rows; "
            "select fewer or smaller columns (e.g. length(x) instead of x), lower `limit` or raise `max_bytes`",
            param="max_bytes",
            mentions=("limit",),
        )

    def fetch(self, fetchmany: Callable[[int], Sequence[Any]]) -> list[Any]:
        rows: list[Any] = []
        used, biggest, batch = 0, 1, 1
        while len(rows) <= self.limit:
            # Start with one row and grow, never asking for more rows than the budget has room for.
            room = max(1, (self.max_bytes - used) // biggest)
            chunk = fetchmany(min(batch, room, self.limit + 1 - len(rows)))
            if not chunk:
                break
            for row in chunk:
                size = _row_bytes(row)
                used += size
                biggest = max(biggest, size)
                if used > self.max_bytes:
                    raise self.too_large(len(rows))
                rows.append(row)
            batch = min(2 * batch, MAX_FETCH_BATCH)
        return rows


def _row_bytes(row: Sequence[Any]) -> int:
    total = 0
    for value in row:
        if isinstance(value, (str, bytes, bytearray)):
            total += len(value)
        elif isinstance(value, memoryview):
            total += value.nbytes
        else:
            total += sys.getsizeof(value)
    return total


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


# --- SQLite ---------------------------------------------------------------------------------------

# PRAGMAs that only read: those taking a table or index name, and settings read without an argument.
_READ_PRAGMAS_WITH_NAME = frozenset(
    [
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "foreign_key_check",
        "integrity_check",
        "quick_check",
    ]
)
_READ_PRAGMAS = _READ_PRAGMAS_WITH_NAME | frozenset(
    [
        "collation_list",
        "function_list",
        "pragma_list",
        "module_list",
        "compile_options",
        "database_list",
        "user_version",
        "schema_version",
        "application_id",
        "page_count",
        "page_size",
        "freelist_count",
        "encoding",
        "query_only",
    ]
)
_DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"})


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
    """Allow reading only; everything else (ATTACH, writes, writing PRAGMAs, extensions) is denied."""
    if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE):
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION:
        return sqlite3.SQLITE_DENY if (arg2 or "").lower() in _DENIED_FUNCTIONS else sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        if name in _READ_PRAGMAS_WITH_NAME or (name in _READ_PRAGMAS and arg2 is None):
            return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _run_sqlite(catalog: Catalog, sql: str, budget: _Budget, timeout_s: float) -> tuple[list[str], list[Any]]:
    database = catalog.engine.url.database
    if not database or database == ":memory:":
        raise InvalidInput("zoo sql needs a file-backed SQLite catalog")
    uri = f"file:{quote(str(Path(database).resolve()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=timeout_s)
    deadline = time.monotonic() + timeout_s
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), SQLITE_PROGRESS_STEPS)
    try:
        conn.execute("PRAGMA query_only = ON")
        # No single string or blob may exceed the budget: SQLite refuses to build it at all.
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, min(budget.max_bytes, conn.getlimit(sqlite3.SQLITE_LIMIT_LENGTH)))
        conn.set_authorizer(_sqlite_authorizer)
        cursor = conn.execute(sql)  # sqlite3 prepares one statement and refuses any text after it
        columns = [d[0] for d in cursor.description or ()]
        rows = budget.fetch(cursor.fetchmany)
    except sqlite3.OperationalError as error:
        if "interrupted" in str(error):
            raise _timeout_error(timeout_s) from None
        if "authoriz" in str(error):
            raise UnsafeInput(f"refused: zoo sql only reads the catalog ({error})") from None
        raise InvalidInput(f"SQL error: {error}") from None
    except (sqlite3.Warning, sqlite3.ProgrammingError) as error:  # "You can only execute one statement at a time."
        raise UnsafeInput(f"refused: {error}") from None
    except sqlite3.DataError as error:
        if "too big" in str(error):
            raise budget.too_large(0) from None
        raise InvalidInput(f"SQL error: {error}") from None
    except sqlite3.DatabaseError as error:
        raise InvalidInput(f"SQL error: {error}") from None
    finally:
        conn.close()
    return columns, rows


# --- PostgreSQL -----------------------------------------------------------------------------------

_CURSOR_NAME = "zoo_sql"


def _run_postgres(
    catalog: Catalog, sql: str, statement: str, budget: _Budget, timeout_s: float
) -> tuple[list[str], list[Any], tuple[str, ...]]:
    import psycopg

    conn = _read_only_connection(catalog, timeout_s)
    try:
        warnings = (SUPERUSER_WARNING,) if _is_superuser(conn) else ()
        conn.autocommit, conn.read_only = False, True  # the next statement opens BEGIN READ ONLY
        if first_word(statement) == "EXPLAIN":
            # EXPLAIN cannot be a cursor; a prepared statement still admits one command only. Its rows are a plan.
            cursor = conn.cursor()
            cursor.execute(sql, prepare=True)  # no parameters: '%' in the query stays literal
        else:
            # DECLARE goes through the extended protocol: the server refuses a second command in it.
            cursor = conn.cursor(name=_CURSOR_NAME)
            cursor.execute(sql)
        columns = [d.name for d in cursor.description or ()]
        rows = budget.fetch(cursor.fetchmany)
    except psycopg.errors.QueryCanceled:
        raise _timeout_error(timeout_s) from None
    except psycopg.errors.ReadOnlySqlTransaction as error:
        raise UnsafeInput(f"refused: the catalog is read-only in zoo sql ({error.diag.message_primary})") from None
    except psycopg.Error as error:
        first = (error.diag.message_primary or str(error)).splitlines()[0]
        if "data-modifying" in first:
            raise UnsafeInput(f"refused: the catalog is read-only in zoo sql ({first})") from None
        if "multiple commands" in first:
            raise UnsafeInput("zoo sql runs one statement at a time; the server refused: " + first) from None
        raise InvalidInput(f"SQL error: {first}") from None
    finally:
        conn.close()  # never returned to a pool: the session dies with its transaction
    return columns, rows, warnings


def _read_only_connection(catalog: Catalog, timeout_s: float) -> Any:
    """A fresh psycopg connection to the catalog whose session is read-only before any user text is sent."""
    import psycopg

    args, kwargs = catalog.engine.dialect.create_connect_args(catalog.engine.url)
    kwargs.setdefault("connect_timeout", max(1, int(timeout_s)))
    try:
        conn = psycopg.connect(*args, **kwargs, autocommit=True)
    except psycopg.OperationalError as error:
        raise InvalidInput(f"cannot connect to {catalog.url}: {str(error).strip().splitlines()[0]}") from None
    try:
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        conn.execute("SELECT set_config('statement_timeout', %s, false)", (str(max(1, int(timeout_s * 1000))),))
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (str(max(1, int(timeout_s * 1000))),))
        conn.execute(
            "SELECT set_config('idle_in_transaction_session_timeout', %s, false)", (str(max(1, int(timeout_s * 1000))),)
        )
    except BaseException:
        conn.close()
        raise
    return conn


def _is_superuser(conn: Any) -> bool:
    row = conn.execute("SELECT current_setting('is_superuser') = 'on'").fetchone()
    return bool(row and row[0])


_SIZE_UNITS = {
    "": 1,
    "B": 1,
    "K": 1 << 10,
    "KB": 1 << 10,
    "KIB": 1 << 10,
    "M": 1 << 20,
    "MB": 1 << 20,
    "MIB": 1 << 20,
    "G": 1 << 30,
    "GB": 1 << 30,
    "GIB": 1 << 30,
}


def parse_size(text: str) -> int:
    """``"67108864"``, ``"64MiB"``, ``"64M"`` or ``"1G"`` → bytes (binary units); refuse anything else."""
    cleaned = text.strip().upper().replace(" ", "")
    digits = cleaned.rstrip("KMGIB")
    unit = cleaned[len(digits) :]
    if not digits.isdigit() or unit not in _SIZE_UNITS or len(digits) > 15:
        raise InvalidInput(
            f"`max_bytes` {text!r} is not a size; use bytes or a unit, e.g. `max_bytes=256MiB`", param="max_bytes"
        )
    return int(digits) * _SIZE_UNITS[unit]
