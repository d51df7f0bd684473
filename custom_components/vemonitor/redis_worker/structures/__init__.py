"""Storage layouts selectable by name; importing this package registers the built-in ones."""

from .base import (
    DEFAULT_STRUCTURE,
    Columns,
    DataStructure,
    StructureFactory,
    create_structure,
    register_structure,
    structure_names,
)
from .hmap_timeseries import HmapTimeSeries

__all__ = [
    "DEFAULT_STRUCTURE",
    "Columns",
    "DataStructure",
    "HmapTimeSeries",
    "StructureFactory",
    "create_structure",
    "register_structure",
    "structure_names",
]
