"""Alembic migrations of the zoo catalog (installed as ``zoo.migrations``)."""
