"""VE.Direct protocol: framing, HEX codec, field registry and device model (no Home Assistant import)."""

from .client import LinkState, NoDataError, PortOpenError, VeDirectClient, VeDirectError, probe
from .codes import (
    AlarmReason,
    BleCapabilities,
    ChargeState,
    DeviceMode,
    ErrorCode,
    MonitorMode,
    OffReason,
    TrackerMode,
    VeCode,
    VeFlags,
)
from .device import DeviceFrame
from .fields import FIELD_SPECS, FieldKind, FieldSpec, Scalar, Value, decode_value, field_spec, scalar_value
from .framing import (
    MAX_FIELDS,
    MAX_HEX_DIGITS,
    MAX_LABEL_LEN,
    MAX_VALUE_LEN,
    FrameEvent,
    FrameParser,
    ParserStats,
    TextBlock,
)
from .hexproto import Command, HexFrame, Response, ResponseFlags, encode_frame, parse_frame
from .products import PRODUCTS, product_name

__all__ = [
    "FIELD_SPECS",
    "MAX_FIELDS",
    "MAX_HEX_DIGITS",
    "MAX_LABEL_LEN",
    "MAX_VALUE_LEN",
    "PRODUCTS",
    "AlarmReason",
    "BleCapabilities",
    "ChargeState",
    "Command",
    "DeviceFrame",
    "DeviceMode",
    "ErrorCode",
    "FieldKind",
    "FieldSpec",
    "FrameEvent",
    "FrameParser",
    "HexFrame",
    "LinkState",
    "MonitorMode",
    "NoDataError",
    "OffReason",
    "ParserStats",
    "PortOpenError",
    "Response",
    "ResponseFlags",
    "Scalar",
    "TextBlock",
    "TrackerMode",
    "Value",
    "VeCode",
    "VeDirectClient",
    "VeDirectError",
    "VeFlags",
    "decode_value",
    "encode_frame",
    "field_spec",
    "parse_frame",
    "probe",
    "product_name",
    "scalar_value",
]
