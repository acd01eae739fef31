"""Option values that need no conversion skip typer's Pydantic coercion, so ``zoo COMMAND --help`` starts
without importing Pydantic.

typer (0.29) converts every parameter value with a Pydantic ``TypeAdapter`` (``typer/_coercion.py``,
``typer/_adapters.py``), booleans that already are booleans excepted. The first time a parameter's value is
processed, ``_TyperParameter.get_runtime_param`` builds its adapter, and with it imports ``pydantic``
(0.2-0.35 s), even when the value is ``None`` and ``RuntimeParam.coerce`` returns it without using the
adapter. ``zoo query --help`` processes the group's options before the sub-command's eager ``--help``
exits: ``--db`` and ``--artifacts`` (``None``), the group's own unset ``--help`` (``None``, not ``False``),
and for ``zoo runs retry --help`` also the ``runs`` options (``--limit 20`` ...).

:func:`defer_coercion` gives each parameter a stand-in that returns, without Pydantic, what typer's coercion
returns for a value that needs no conversion: ``None`` (``()`` for a repeatable option), or a
``str``/``int``/``float`` value of exactly the declared type with no parser and no bounds. Any other value (a
string to convert to a number, a path, a choice, a list) goes to typer's own coercion, built then and cached
as before, so what every option accepts and every error message stay typer's.
"""

from __future__ import annotations

from typing import Any

import typer.core

# The parameter class whose coercion typer builds with Pydantic (absent from typers that convert with click types).
_TYPER_PARAMETER: type | None = getattr(typer.core, "_TyperParameter", None)
_PLAIN_TYPES = (str, int, float)


class DeferredCoercion:
    """Stands in for typer's runtime parameter until a value needs converting; then typer's replaces it."""

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:
            return () if param.multiple or param.nargs == -1 else None
        descriptor = param.type_descriptor
        info = descriptor.parameter_info
        if (
            not param.multiple
            and param.nargs == 1
            and type(value) in _PLAIN_TYPES
            and type(value) is descriptor.annotation
            and info.parser is None
            and info.min is None
            and info.max is None
        ):
            return value
        param._runtime_param = None  # typer builds (and caches) its Pydantic-backed coercion from here on
        return param.get_runtime_param().coerce(value, param=param, ctx=ctx)


def defer_coercion(command: Any, ctx: Any) -> None:
    """Install :class:`DeferredCoercion` on the parameters of ``command`` (whose context is ``ctx``) and of its
    sub-commands, help options included, where typer has not built a coercion yet.

    A sub-command's context is made as ``make_context`` makes it (its ``context_settings``, ``ctx`` as parent),
    so its help option is the one its own parsing creates and caches."""
    if _TYPER_PARAMETER is None:
        return
    for param in command.get_params(ctx):
        if isinstance(param, _TYPER_PARAMETER) and getattr(param, "_runtime_param", False) is None:
            param._runtime_param = DeferredCoercion()
    for name, sub in getattr(command, "commands", {}).items():
        defer_coercion(sub, child_context(sub, name, ctx))


def child_context(command: Any, name: str, parent: Any) -> Any:
    """The context ``command.make_context(name, args, parent=parent)`` makes, before it parses ``args``."""
    return command.context_class(command, info_name=name, parent=parent, **command.context_settings)
