"""Image sources: a decorator registry of kinds, each producing an :class:`ImageSet` (numpy, PIL, skimage).

Every kind takes ``image_size`` (side of the square output) and ``seed`` plus its own parameters. One
module per kind registers it with :func:`register_source`:

* ``folder`` (:mod:`.folder`): a class-per-subfolder tree (ImageNette / WHOI-Plankton layout) under an
  ``allowed_root``.
* ``natural`` (:mod:`.natural`): random crops of the photographs shipped inside scikit-image (offline),
  one class per photo.
* ``shapes`` (:mod:`.shapes`, rendered by :mod:`.shapes_render`): a numpy stand-in for BlenderShapes, six
  shaded 3-D primitives at a known scale.
* ``plankton`` (:mod:`.plankton`, rendered by :mod:`.plankton_render`): a numpy stand-in for
  WHOI-Plankton, grayscale dark-field micrographs of six kinds of plankton.

Adding a source is one module here with one ``@register_source("name")`` builder, imported at the end of
this file; ``tests/zoo/images/test_sources.py`` parametrizes over :func:`source_kinds` and fails until the new
kind has its parameters there.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from zoo.errors import InvalidInput, NotFound
from zoo.images.sources.common import ImageSet, int_param

__all__ = [
    "DEFAULT_PHOTOS",
    "PLANKTON_CLASSES",
    "SHAPE_CLASSES",
    "SHAPE_SCALES",
    "ImageSet",
    "load_source",
    "register_source",
    "render_plankton",
    "render_shapes",
    "source_kinds",
]


@dataclass(frozen=True)
class _SourceKind:
    name: str
    build: Callable[..., ImageSet]
    accepted: frozenset[str]
    required: frozenset[str]


_SOURCES: dict[str, _SourceKind] = {}


def register_source(name: str) -> Callable[[Callable[..., ImageSet]], Callable[..., ImageSet]]:
    """Register a builder ``fn(*, image_size, seed, **params) -> ImageSet`` as source kind ``name``.

    Accepted and required parameters are read from the builder's keyword-only signature.
    """

    def decorator(build: Callable[..., ImageSet]) -> Callable[..., ImageSet]:
        if name in _SOURCES:
            raise ValueError(f"source kind {name!r} is already registered")
        params = inspect.signature(build).parameters.values()
        accepted = frozenset(p.name for p in params)
        required = frozenset(p.name for p in params if p.default is inspect.Parameter.empty)
        if not {"image_size", "seed"} <= accepted:
            raise ValueError(f"source {name!r} must accept image_size and seed")
        _SOURCES[name] = _SourceKind(name, build, accepted, required)
        return build

    return decorator


def source_kinds() -> tuple[str, ...]:
    """Names of the registered source kinds, sorted."""
    return tuple(sorted(_SOURCES))


def load_source(kind: str, **params: object) -> ImageSet:
    """Build the :class:`ImageSet` of source ``kind`` with ``params``.

    Raises
    ------
    NotFound
        ``kind`` is not registered (the message lists the valid kinds).
    InvalidInput
        A parameter is unknown, missing or invalid.
    """
    try:
        spec = _SOURCES[kind]
    except (KeyError, TypeError):
        raise NotFound(f"unknown image source {kind!r}; valid: {', '.join(source_kinds())}") from None
    unknown, missing = sorted(set(params) - spec.accepted), sorted(spec.required - set(params))
    if unknown or missing:
        raise InvalidInput(f"source {kind!r} accepts {sorted(spec.accepted)}; unknown {unknown}, missing {missing}")
    params["image_size"] = int_param("image_size", params["image_size"], low=8, high=2048)
    params["seed"] = int_param("seed", params["seed"], low=0, high=2**63 - 1)
    return spec.build(**params)


# The kinds register themselves on import; they import register_source from this module, defined above.
from zoo.images.sources import folder, natural, plankton, shapes  # noqa: E402,F401
from zoo.images.sources.natural import DEFAULT_PHOTOS  # noqa: E402
from zoo.images.sources.plankton_render import PLANKTON_CLASSES, render_plankton  # noqa: E402
from zoo.images.sources.shapes_render import SHAPE_CLASSES, SHAPE_SCALES, render_shapes  # noqa: E402
