"""The DataStructure protocol and the registry of structures by name.

A structure turns a sample into one compact opaque row (bytes, encoded once at add time so the backlog holds
no dicts) and queues the commands that store a batch of rows. The output worker only knows this protocol, so
a new layout is one new module plus one `@register_structure` line.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from redis.asyncio.client import Pipeline

from ..sample import Sample, Value

DEFAULT_STRUCTURE = "HmapTimeSeries"

type Columns = Mapping[str, Sequence[str]]
"""Node name -> VE.Direct labels, in the order they are stored."""


class DataStructure(Protocol):
    """How one output lays its samples out in Redis."""

    @property
    def layout(self) -> dict[str, Any]:
        """JSON-able description (structure name + parameters): stored in spool headers to detect changes."""
        ...

    def encode(self, sample: Sample) -> bytes | None:
        """The row to buffer for this sample; None when none of the configured columns is present."""
        ...

    def decode(self, row: bytes) -> dict[str, Value]:
        """The values a row holds (to re-encode rows spooled under another layout)."""
        ...

    def queue_write(self, pipe: Pipeline, timestamps: Sequence[int], rows: Sequence[bytes]) -> None:
        """Queue on `pipe` the idempotent commands that store these rows (oldest first)."""
        ...


type StructureFactory = Callable[[str, Columns], DataStructure]
"""Builds a structure from the output's redis_node and columns."""

_REGISTRY: dict[str, StructureFactory] = {}


def register_structure[F: StructureFactory](name: str) -> Callable[[F], F]:
    """Class decorator: make a structure selectable by `name` (the seed's `redis_data_structure`)."""

    def register(factory: F) -> F:
        if name in _REGISTRY:
            raise ValueError(f"data structure {name!r} registered twice")
        _REGISTRY[name] = factory
        return factory

    return register


def structure_names() -> list[str]:
    """The selectable names, the default first (for a config-flow selector)."""
    return sorted(_REGISTRY, key=lambda name: (name != DEFAULT_STRUCTURE, name))


def create_structure(name: str | None, redis_node: str, columns: Columns) -> DataStructure:
    """The structure called `name` for one output; an empty or None name means HmapTimeSeries."""
    factory = _REGISTRY.get(name or DEFAULT_STRUCTURE)
    if factory is None:
        raise ValueError(f"unknown data structure {name!r} (known: {', '.join(structure_names())})")
    return factory(redis_node, columns)
