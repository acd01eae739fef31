"""A PostgreSQL role made for reading the catalog: what ``zoo sql`` (and ``zoo serve``) should connect as.

A superuser can read the server's files even inside a read-only transaction (``pg_read_file``,
``pg_ls_dir``, ``lo_import``); a role with LOGIN and SELECT on the catalog's tables and views only
cannot, and its sessions default to read-only as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from zoo.catalog import Catalog
from zoo.errors import DatabaseError, InvalidInput

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# The advisory lock every change to roles and grants takes (see create_reader).
ROLE_DDL_LOCK = "zoo create-reader"


@dataclass(frozen=True)
class ReaderRole:
    name: str
    schema: str
    created: bool  # False when the role existed and only its grants were refreshed
    relations: int  # tables and views it may SELECT from
    url: str  # the catalog URL with this role as user (password not included)


def create_reader(catalog: Catalog, name: str, *, password: str | None = None) -> ReaderRole:
    """Create (or refresh) role ``name``: LOGIN, read-only sessions, SELECT on the catalog schema's tables and views."""
    if catalog.dialect != "postgresql":
        raise InvalidInput(
            "zoo db create-reader needs a PostgreSQL catalog; SQLite has no roles (zoo sql opens it read-only)"
        )
    if not _ROLE_NAME.fullmatch(name):
        raise InvalidInput(f"role name {name!r} must be lower-case letters, digits and '_', e.g. zoo_reader")
    import psycopg
    from psycopg import sql

    role = sql.Identifier(name)
    with catalog.engine.begin() as conn:
        raw = conn.connection.driver_connection
        try:
            with raw.cursor() as cursor:
                # Roles and grants live in cluster-wide catalogs: two create-readers at once (or two catalogs on
                # one server) would fail with "tuple concurrently updated"; take turns on one advisory lock.
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (ROLE_DDL_LOCK,))
                schema = cursor.execute("SELECT current_schema()").fetchone()[0]
                if schema is None:
                    raise InvalidInput("the catalog's search_path names no existing schema; run zoo db upgrade first")
                existing = cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
                if existing and existing[0]:
                    raise InvalidInput(f"role {name} exists and is a superuser; choose another name for a reader")
                options = sql.SQL(" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS")
                if password is not None:
                    options += sql.SQL(" PASSWORD {}").format(sql.Literal(password))
                verb = sql.SQL("ALTER ROLE" if existing else "CREATE ROLE")
                for statement in (
                    sql.SQL("{} {}").format(verb, role) + options,
                    sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(role),
                    sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(raw.info.dbname), role),
                    sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), role),
                    sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(sql.Identifier(schema), role),
                    # Tables and views that later upgrades create (as this owner) are readable too.
                    sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(
                        sql.Identifier(schema), role
                    ),
                ):
                    cursor.execute(statement)
                relations = cursor.execute(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p')",
                    (schema,),
                ).fetchone()[0]
        except psycopg.errors.InsufficientPrivilege as error:
            raise DatabaseError(
                f"cannot create role {name}: {error.diag.message_primary}; run this as the catalog's owner "
                "with CREATEROLE (or a superuser)"
            ) from None
    return ReaderRole(
        name=name, schema=schema, created=not existing, relations=int(relations), url=_reader_url(catalog, name, schema)
    )


def _reader_url(catalog: Catalog, name: str, schema: str) -> str:
    url = catalog.engine.url.set(drivername="postgresql", username=name, password=None)
    if schema != "public" and "options" not in url.query:
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)
