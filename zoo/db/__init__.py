"""The catalog database: ORM schema, engines and sessions, Alembic schema checks."""
