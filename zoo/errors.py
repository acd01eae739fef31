"""Exceptions the library raises for user-facing problems.

Every message says what is wrong and, where there is one, what to do about it. The CLI turns these into a
single line and a non-zero exit code; the library never prints or exits.
"""

from __future__ import annotations


class ZooError(Exception):
    """Base class of every error a user can cause and fix."""


class ConfigError(ZooError):
    """A setting (database URL, ZOO_HOME, an option value) is unusable."""


class DatabaseError(ZooError):
    """The catalog database cannot be reached, opened or used."""


class SchemaOutOfDate(DatabaseError):
    """The catalog is at an older schema revision than this version of zoo."""


class NotFound(ZooError):
    """A named object (dataset, checkpoint, fit, feature set ...) does not exist."""


class InvalidInput(ZooError):
    """A value, file or option given by the user cannot be used."""


class IntegrityError(ZooError):
    """Stored data does not match its recorded hash."""


class UnsafeInput(InvalidInput):
    """Input was refused because accepting it could harm the catalog or run foreign code."""
