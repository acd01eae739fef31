"""Read-only ad hoc SQL over the catalog.

Three fences: the text must be a single SELECT / WITH / VALUES / EXPLAIN statement; it runs on a
read-only connection (SQLite opened ``mode=ro`` with ``query_only``; Postgres in a READ ONLY transaction);
and it stops at a time limit. At most ``limit`` rows come back; one more is fetched to report truncation.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote


from zoo.catalog import Catalog
from zoo.errors import InvalidInput, UnsafeInput, ZooError

ALLOWED_FIRST_WORDS = ("select", "with", "values", "explain")
DEFAULT_LIMIT = 1000
DEFAULT_TIMEOUT_S = 10.0
# SQLite calls the progress handler every this many virtual-machine instructions.
SQLITE_PROGRESS_STEPS = 10_000


class QueryTimeout(ZooError):
    """The query ran past its time limit and was stopped."""


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool
    elapsed_s: float


_TOKEN = re.compile(
    r"""
    (?P<comment>--[^\n]*|/\*.*?(?:\*/|$))
    | (?P<string>'(?:[^']|'')*(?:'|$))
    | (?P<ident>"(?:[^"]|"")*(?:"|$))
    | (?P<dollar>\$(?P<tag>[A-Za-z_]*)\$.*?(?:\$(?P=tag)\$|$))
    | (?P<semi>;)
    | (?P<other>[^'"$;/-]+|.)
    """,
    re.VERBOSE | re.DOTALL,
)


def validate_select(sql: str) -> str:
    """Return the statement without comments or a trailing semicolon, or raise :class:`UnsafeInput`."""
    parts: list[str] = []
    statements = 1
    for match in _TOKEN.finditer(sql):
        if match.lastgroup == "comment":
            parts.append(" ")
            continue
        if match.lastgroup == "semi":
            statements += 1
            parts.append(";")
            continue
        if statements > 1 and match.group().strip():
            raise UnsafeInput("zoo sql runs one statement at a time; remove the extra statements after ';'")
        parts.append(match.group())
    text = "".join(parts).strip().rstrip(";").strip()
    if not text:
        raise InvalidInput("the query is empty; pass a statement such as: SELECT count(*) FROM checkpoints")
    first = re.match(r"\(*\s*([A-Za-z]+)", text)
    if first is None or first.group(1).lower() not in ALLOWED_FIRST_WORDS:
        word = first.group(1).upper() if first else text.split()[0]
        raise UnsafeInput(f"zoo sql only runs read-only queries (SELECT, WITH, VALUES, EXPLAIN), not {word}")
    return text


def run_query(
    catalog: Catalog, sql: str, *, limit: int = DEFAULT_LIMIT, timeout_s: float = DEFAULT_TIMEOUT_S
) -> QueryResult:
    """Run one read-only query and return at most ``limit`` rows."""
    if limit < 1:
        raise InvalidInput("--limit must be at least 1")
    if timeout_s <= 0:
        raise InvalidInput("--timeout must be positive")
    statement = validate_select(sql)
    started = time.perf_counter()
    if catalog.dialect == "sqlite":
        columns, rows = _run_sqlite(catalog, statement, limit, timeout_s)
    else:
        columns, rows = _run_postgres(catalog, statement, limit, timeout_s)
    return QueryResult(
        columns=tuple(columns),
        rows=tuple(tuple(row) for row in rows[:limit]),
        truncated=len(rows) > limit,
        elapsed_s=time.perf_counter() - started,
    )


def _run_sqlite(catalog: Catalog, statement: str, limit: int, timeout_s: float) -> tuple[list[str], list[Any]]:
    database = catalog.engine.url.database
    if not database or database == ":memory:":
        raise InvalidInput("zoo sql needs a file-backed SQLite catalog")
    uri = f"file:{quote(str(Path(database).resolve()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=timeout_s)
    deadline = time.monotonic() + timeout_s
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), SQLITE_PROGRESS_STEPS)
    try:
        conn.execute("PRAGMA query_only = ON")
        cursor = conn.execute(statement)
        rows = cursor.fetchmany(limit + 1)
        columns = [d[0] for d in cursor.description or ()]
    except sqlite3.OperationalError as error:
        if "interrupted" in str(error):
            raise QueryTimeout(f"the query was stopped at the {timeout_s:g} s time limit; narrow it or raise --timeout") from None
        raise InvalidInput(f"SQL error: {error}") from None
    except sqlite3.Warning as error:  # e.g. "You can only execute one statement at a time."
        raise UnsafeInput(f"refused: {error}") from None
    except sqlite3.DatabaseError as error:
        raise InvalidInput(f"SQL error: {error}") from None
    finally:
        conn.close()
    return columns, rows


def _run_postgres(catalog: Catalog, statement: str, limit: int, timeout_s: float) -> tuple[list[str], list[Any]]:
    import psycopg

    with catalog.engine.connect() as conn:
        raw = conn.connection.driver_connection
        try:
            with raw.cursor() as cursor:
                cursor.execute("SET TRANSACTION READ ONLY")
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", (str(int(timeout_s * 1000)),))
                cursor.execute(statement)  # no parameters: '%' in the query stays literal
                rows = cursor.fetchmany(limit + 1)
                columns = [d.name for d in cursor.description or ()]
        except psycopg.errors.QueryCanceled:
            raise QueryTimeout(f"the query was stopped at the {timeout_s:g} s time limit; narrow it or raise --timeout") from None
        except psycopg.errors.ReadOnlySqlTransaction as error:
            raise UnsafeInput(f"refused: the catalog is read-only in zoo sql ({error.diag.message_primary})") from None
        except psycopg.Error as error:
            first = (error.diag.message_primary or str(error)).splitlines()[0]
            raise InvalidInput(f"SQL error: {first}") from None
        finally:
            raw.rollback()
    return columns, rows
