"""The unit of data an output stores: one merged VE.Direct frame at one instant."""

from collections.abc import Mapping
from dataclasses import dataclass

type Value = float | int | str | None
"""A JSON-storable value (the VE.Direct layer's `scalar_value`); None is a `---` field, written as null."""


@dataclass(frozen=True, slots=True)
class Sample:
    """Values keyed by VE.Direct label, taken at `timestamp` (whole Unix seconds, UTC)."""

    timestamp: int
    values: Mapping[str, Value]
