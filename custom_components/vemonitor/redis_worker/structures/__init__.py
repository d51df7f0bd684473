"""Storage layouts selectable by name; importing this package registers the built-in ones."""

from .base import (
    DEFAULT_SET_MEMBERS,
    DEFAULT_STRUCTURE,
    EXPIRY_MODES,
    SET_MEMBERS,
    Columns,
    DataStructure,
    ExpiryMode,
    NodeKeyStructure,
    Retention,
    SetMembers,
    StructureFactory,
    create_structure,
    raise_first_error,
    register_structure,
    results_check,
    structure_names,
)
from .hmap_timeseries import HmapTimeSeries
from .stream import STREAM, Stream

__all__ = [
    "DEFAULT_SET_MEMBERS",
    "DEFAULT_STRUCTURE",
    "EXPIRY_MODES",
    "SET_MEMBERS",
    "STREAM",
    "Columns",
    "DataStructure",
    "ExpiryMode",
    "HmapTimeSeries",
    "NodeKeyStructure",
    "Retention",
    "SetMembers",
    "Stream",
    "StructureFactory",
    "create_structure",
    "raise_first_error",
    "register_structure",
    "results_check",
    "structure_names",
]
