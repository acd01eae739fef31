"""Exceptions the library raises for user-facing problems.

Every message says what is wrong and, where there is one, what to do about it. The CLI turns these into a
single line and a non-zero exit code; the library never prints or exits.

An error about a parameter names it as the library spells it: ``InvalidInput("`n_estimators` must be at
least 1, got 0", param="n_estimators")`` reads "n_estimators must be at least 1, got 0" to a library user
and carries ``error.param == "n_estimators"``. A front end spells the parameters its own way with
:meth:`ZooError.message_for`: the CLI writes the flag the user typed ("--trees must be at least 1, got 0",
see ``zoo/cli/flags.py``), the web app the query-string name. Messages never write a CLI flag themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# A parameter in a message: `name` or `name=value`, in backticks, where name is one of the error's parameters.
_NAMED = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)(?:=([^`]*))?`")


class ZooError(Exception):
    """Base class of every error a user can cause and fix.

    Parameters
    ----------
    message : str
        What is wrong and what to do. The library's parameters are written in backticks, as a name or as
        name=value (``"`n_estimators` must be at least 1"``, ``"or pass `force=True`"``). Only the names in
        ``param`` and ``mentions`` are read so: a command to run, such as ``"`zoo featurize`"``, stays as it is.
    param : str, optional
        The parameter whose value is wrong (:attr:`param`).
    mentions : iterable of str
        Other parameters the message names, e.g. as the way out ("or pass `force=True`").

    ``str(error)`` is the message for a library user: each parameter as its name (``n_estimators``,
    ``force=True``), without the backticks. :attr:`template` keeps them for front ends.
    """

    def __init__(self, message: str = "", *, param: str | None = None, mentions: Iterable[str] = ()) -> None:
        self.template = message
        self.param = param
        self.params: tuple[str, ...] = tuple(dict.fromkeys([*([param] if param else []), *mentions]))
        super().__init__(self.message_for({}))

    def message_for(self, names: Mapping[str, str], *, assign: str = "=") -> str:
        """The message with each parameter spelled as ``names`` says (the library name where it has none).

        A name=value becomes ``names["name=value"]`` when there is one (a flag that stands for a value, such
        as ``--force`` for ``force=True``), else the spelling of the name, ``assign`` and the value (the CLI
        passes ``assign=" "``: ``--grace 300``).
        """

        def spell(found: re.Match[str]) -> str:
            name, value = found[1], found[2]
            if name not in self.params:
                return found[0]
            if value is None:
                return names.get(name, name)
            return names.get(f"{name}={value}") or f"{names.get(name, name)}{assign}{value}"

        return _NAMED.sub(spell, self.template)


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
