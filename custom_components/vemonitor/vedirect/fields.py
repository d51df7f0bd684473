"""The text-mode field registry: one ``FieldSpec`` per known label, and value decoding.

``decode_value`` gives rich values (floats in base units, bools, code members, flag sets, version text) for
the UI layer; ``scalar_value`` gives the JSON-storable form the Redis outputs write. Both come from one
decoder per label, which ``decode_field`` runs once for both forms (the device frame keeps both, so nothing
decodes a raw text twice). Scaled numbers are computed as ``int / 10**n`` so that their repr is the shortest
decimal (12064 mV -> 12.064, never 12.064000000000002). No decoder raises, whatever the string (the parser
delivers at most 64 printable ASCII characters, but the decoders do not count on it): unknown labels give the
raw text, malformed values of a known label give None (the raw text stays available in the block / device
frame). Every form is ``json.dumps(..., allow_nan=False)``-able: integers have at most ``MAX_INT_DIGITS``
digits, so no float overflows or is infinite and no int exceeds json's int-to-text limit.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
import re
from typing import Final

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

type Value = float | int | bool | str | VeCode | VeFlags | None
type Scalar = float | int | str | None

NOT_AVAILABLE: Final = "---"
MAX_INT_DIGITS: Final = 20
MAX_HEX_INT_DIGITS: Final = 16
"""The most digits an integer value may have, decimal and after ``0x``: 64 bit.

VE.Direct's widest numbers are 32 bit (``OR`` is ``0x%08X``), so 64 bit leaves slack. A longer number cannot
be a reading: it is malformed (None), rather than a float overflow or an int that json refuses to print.
"""
_DECIMAL: Final = re.compile(rf"[+-]?[0-9]{{1,{MAX_INT_DIGITS}}}")
_HEXADECIMAL: Final = re.compile(rf"0[xX][0-9A-Fa-f]{{1,{MAX_HEX_INT_DIGITS}}}")
# Firmware versions are 16 bit (FW, 4 digits) or 24 bit (FWE, 4 digits and a 2-digit build).
_MAX_VERSION_DIGITS: Final = 6


class FieldKind(StrEnum):
    """What a field holds, so that a UI layer can pick a platform without a label list of its own.

    BOOL suits a binary sensor; PRODUCT, VERSION and SERIAL describe the device (registry, not entities);
    every other kind suits a sensor.
    """

    MEASUREMENT = "measurement"
    ENERGY = "energy"  # ever-growing (or daily) energy counter
    CODE = "code"
    FLAGS = "flags"
    BOOL = "bool"
    TEXT = "text"
    VERSION = "version"
    PRODUCT = "product"
    SERIAL = "serial"
    DURATION = "duration"
    COUNT = "count"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A known label: ``divisor`` turns the wire integer into ``unit`` (base units)."""

    label: str
    key: str
    kind: FieldKind
    unit: str | None
    description: str
    divisor: int = 1
    codes: type[VeCode] | type[VeFlags] | None = None


_M = FieldKind.MEASUREMENT
_E = FieldKind.ENERGY
_N = FieldKind.COUNT

FIELD_SPECS: Final[Mapping[str, FieldSpec]] = {
    spec.label: spec
    for spec in (
        FieldSpec("V", "voltage", _M, "V", "Main (channel 1) battery voltage", 1000),
        FieldSpec("V2", "voltage_2", _M, "V", "Channel 2 battery voltage", 1000),
        FieldSpec("V3", "voltage_3", _M, "V", "Channel 3 battery voltage", 1000),
        FieldSpec("VS", "auxiliary_voltage", _M, "V", "Auxiliary (starter) battery voltage", 1000),
        FieldSpec("VM", "midpoint_voltage", _M, "V", "Mid-point voltage of the battery bank", 1000),
        FieldSpec("DM", "midpoint_deviation", _M, "%", "Mid-point deviation of the battery bank", 10),
        FieldSpec("VPV", "panel_voltage", _M, "V", "Panel voltage", 1000),
        FieldSpec("PPV", "panel_power", _M, "W", "Panel power"),
        FieldSpec("I", "current", _M, "A", "Main (channel 1) battery current", 1000),
        FieldSpec("I2", "current_2", _M, "A", "Channel 2 battery current", 1000),
        FieldSpec("I3", "current_3", _M, "A", "Channel 3 battery current", 1000),
        FieldSpec("IL", "load_current", _M, "A", "Load current", 1000),
        FieldSpec("LOAD", "load_output", FieldKind.BOOL, None, "Load output state"),
        FieldSpec("T", "battery_temperature", _M, "°C", "Battery temperature"),
        FieldSpec("P", "power", _M, "W", "Instantaneous power"),
        FieldSpec("CE", "consumed_amp_hours", _M, "Ah", "Consumed amp-hours", 1000),
        FieldSpec("SOC", "state_of_charge", _M, "%", "State of charge", 10),
        FieldSpec("TTG", "time_to_go", FieldKind.DURATION, "min", "Time-to-go (-1 = infinite)"),
        FieldSpec("Alarm", "alarm", FieldKind.BOOL, None, "Alarm condition active"),
        FieldSpec("Relay", "relay", FieldKind.BOOL, None, "Relay state"),
        FieldSpec("AR", "alarm_reason", FieldKind.FLAGS, None, "Alarm reason", codes=AlarmReason),
        FieldSpec("OR", "off_reason", FieldKind.FLAGS, None, "Off reason", codes=OffReason),
        FieldSpec("H1", "deepest_discharge", _M, "Ah", "Depth of the deepest discharge", 1000),
        FieldSpec("H2", "last_discharge", _M, "Ah", "Depth of the last discharge", 1000),
        FieldSpec("H3", "average_discharge", _M, "Ah", "Depth of the average discharge", 1000),
        FieldSpec("H4", "charge_cycles", _N, None, "Number of charge cycles"),
        FieldSpec("H5", "full_discharges", _N, None, "Number of full discharges"),
        FieldSpec("H6", "cumulative_amp_hours", _M, "Ah", "Cumulative amp-hours drawn", 1000),
        FieldSpec("H7", "min_voltage", _M, "V", "Minimum main battery voltage", 1000),
        FieldSpec("H8", "max_voltage", _M, "V", "Maximum main battery voltage", 1000),
        FieldSpec("H9", "time_since_full_charge", FieldKind.DURATION, "s", "Time since last full charge"),
        FieldSpec("H10", "automatic_syncs", _N, None, "Number of automatic synchronisations"),
        FieldSpec("H11", "low_voltage_alarms", _N, None, "Number of low main voltage alarms"),
        FieldSpec("H12", "high_voltage_alarms", _N, None, "Number of high main voltage alarms"),
        FieldSpec("H13", "low_auxiliary_voltage_alarms", _N, None, "Number of low auxiliary voltage alarms"),
        FieldSpec(
            "H14", "high_auxiliary_voltage_alarms", _N, None, "Number of high auxiliary voltage alarms"
        ),
        FieldSpec("H15", "min_auxiliary_voltage", _M, "V", "Minimum auxiliary battery voltage", 1000),
        FieldSpec("H16", "max_auxiliary_voltage", _M, "V", "Maximum auxiliary battery voltage", 1000),
        FieldSpec("H17", "discharged_energy", _E, "kWh", "Amount of discharged energy", 100),
        FieldSpec("H18", "charged_energy", _E, "kWh", "Amount of charged energy", 100),
        FieldSpec("H19", "yield_total", _E, "kWh", "Yield total (user resettable)", 100),
        FieldSpec("H20", "yield_today", _E, "kWh", "Yield today", 100),
        FieldSpec("H21", "max_power_today", _M, "W", "Maximum power today"),
        FieldSpec("H22", "yield_yesterday", _E, "kWh", "Yield yesterday", 100),
        FieldSpec("H23", "max_power_yesterday", _M, "W", "Maximum power yesterday"),
        FieldSpec("ERR", "error", FieldKind.CODE, None, "Error code", codes=ErrorCode),
        FieldSpec("CS", "state", FieldKind.CODE, None, "State of operation", codes=ChargeState),
        FieldSpec("BMV", "model_description", FieldKind.TEXT, None, "Model description (deprecated)"),
        FieldSpec("FW", "firmware", FieldKind.VERSION, None, "Firmware version (16 bit)"),
        FieldSpec("FWE", "firmware_24bit", FieldKind.VERSION, None, "Firmware version (24 bit)"),
        FieldSpec("PID", "product_id", FieldKind.PRODUCT, None, "Product id"),
        FieldSpec("SER#", "serial_number", FieldKind.SERIAL, None, "Serial number"),
        FieldSpec("HSDS", "day_sequence", _N, None, "Historical data day sequence number"),
        FieldSpec("MODE", "device_mode", FieldKind.CODE, None, "Device mode", codes=DeviceMode),
        FieldSpec("AC_OUT_V", "ac_output_voltage", _M, "V", "AC output voltage", 100),
        FieldSpec("AC_OUT_I", "ac_output_current", _M, "A", "AC output current", 10),
        FieldSpec("AC_OUT_S", "ac_output_apparent_power", _M, "VA", "AC output apparent power"),
        FieldSpec("WARN", "warning_reason", FieldKind.FLAGS, None, "Warning reason", codes=AlarmReason),
        FieldSpec("MPPT", "tracker_mode", FieldKind.CODE, None, "Tracker operation mode", codes=TrackerMode),
        FieldSpec(
            "CAP_BLE", "ble_capabilities", FieldKind.FLAGS, None, "BLE capabilities", codes=BleCapabilities
        ),
        FieldSpec("MON", "monitor_mode", FieldKind.CODE, None, "DC monitor mode", codes=MonitorMode),
        FieldSpec("DC_IN_V", "dc_input_voltage", _M, "V", "DC input voltage", 100),
        FieldSpec("DC_IN_I", "dc_input_current", _M, "A", "DC input current", 10),
        FieldSpec("DC_IN_P", "dc_input_power", _M, "W", "DC input power"),
        FieldSpec("HC#", "hardware_revision", FieldKind.TEXT, None, "Hardware revision"),
    )
}


def parse_int(raw: str) -> int | None:
    """Decimal or ``0x`` hex integer of ASCII digits; None when malformed (no ``_``, blanks or second prefix).

    At most ``MAX_INT_DIGITS`` decimal or ``MAX_HEX_INT_DIGITS`` hex digits, as a reading may have.
    """
    if _DECIMAL.fullmatch(raw):
        return int(raw)
    if _HEXADECIMAL.fullmatch(raw):
        return int(raw[2:], 16)
    return None


def parse_product_id(raw: str) -> int | None:
    """``0xA381`` / ``0x203`` -> int."""
    if raw[:2] not in ("0x", "0X"):
        return None
    return parse_int(raw)


def parse_bool(raw: str) -> bool | None:
    match raw.upper():
        case "ON":
            return True
        case "OFF":
            return False
    return None


def _version_digits(digits: str) -> str | None:
    if not 2 <= len(digits) <= _MAX_VERSION_DIGITS or not digits.isdigit() or not digits.isascii():
        return None
    return f"{int(digits[:-2] or '0')}.{digits[-2:]}"


def format_firmware(raw: str) -> str | None:
    """FW ``0308`` -> ``3.08``, ``150`` -> ``1.50``, ``C208`` -> ``2.08-rc C`` (release candidate C)."""
    if raw[:1].isalpha() and raw[:1].isascii():
        version = _version_digits(raw[1:])
        return None if version is None else f"{version}-rc {raw[0].upper()}"
    return _version_digits(raw)


def format_firmware_24(raw: str) -> str | None:
    """FWE ``0208FF``/``208FF`` -> ``2.08`` (FF = release), ``020801`` -> ``2.08-beta-01``."""
    if len(raw) < 4:
        return None
    version = format_firmware(raw[:-2])
    build = raw[-2:].upper()
    if version is None:
        return None
    if build == "FF":
        return version
    if build.isdigit() and build.isascii():
        return f"{version}-beta-{build}"
    return None


type Decoded = tuple[Value, Scalar]
"""Both forms of one raw text: the rich ``Value`` and the storable ``Scalar``."""

_UNAVAILABLE: Final[Decoded] = (None, None)


def _scaled(divisor: int) -> Callable[[str], Decoded]:
    def decode(raw: str) -> Decoded:
        number = parse_int(raw)
        if number is None:
            return _UNAVAILABLE
        value = number / divisor
        return value, value

    return decode


def _count(raw: str) -> Decoded:
    number = parse_int(raw)
    return number, number


def _duration(divisor: int, negative_is_infinite: bool) -> Callable[[str], Decoded]:
    """Whole wire units for the UI, a float scalar: history keeps TTG's -1.0 (infinite), the UI gets None."""

    def decode(raw: str) -> Decoded:
        number = parse_int(raw)
        if number is None:
            return _UNAVAILABLE
        return (None if negative_is_infinite and number < 0 else number), number / divisor

    return decode


def _bool(raw: str) -> Decoded:
    state = parse_bool(raw)
    return _UNAVAILABLE if state is None else (state, int(state))


def _product(raw: str) -> Decoded:
    """The UI wants the ``0x`` form of a PID; the scalar, as ever, any integer."""
    number = parse_int(raw)
    return (number if raw[:2] in ("0x", "0X") else None), number


def _version(format_version: Callable[[str], str | None]) -> Callable[[str], Decoded]:
    def decode(raw: str) -> Decoded:
        return format_version(raw), raw

    return decode


def _code(codes: type[VeCode]) -> Callable[[str], Decoded]:
    def decode(raw: str) -> Decoded:
        number = parse_int(raw)
        return _UNAVAILABLE if number is None else (codes(number), number)

    return decode


def _flags(codes: type[VeFlags]) -> Callable[[str], Decoded]:
    def decode(raw: str) -> Decoded:
        number = parse_int(raw)
        return (None if number is None or number < 0 else codes(number)), number

    return decode


def _text(raw: str) -> Decoded:
    return raw, raw


def _decoder(spec: FieldSpec) -> Callable[[str], Decoded]:
    match spec.kind:
        case FieldKind.MEASUREMENT | FieldKind.ENERGY:
            return _scaled(spec.divisor)
        case FieldKind.COUNT:
            return _count
        case FieldKind.DURATION:
            return _duration(spec.divisor, negative_is_infinite=spec.label == "TTG")
        case FieldKind.BOOL:
            return _bool
        case FieldKind.PRODUCT:
            return _product
        case FieldKind.VERSION:
            return _version(format_firmware_24 if spec.label == "FWE" else format_firmware)
        case FieldKind.CODE:
            assert spec.codes is not None
            assert issubclass(spec.codes, VeCode)
            return _code(spec.codes)
        case FieldKind.FLAGS:
            assert spec.codes is not None
            assert issubclass(spec.codes, VeFlags)
            return _flags(spec.codes)
        case FieldKind.TEXT | FieldKind.SERIAL:
            return _text


_DECODERS: Final = {label: _decoder(spec) for label, spec in FIELD_SPECS.items()}


def decode_field(label: str, raw: str) -> Decoded:
    """Both forms in one pass: ``(decode_value(label, raw), scalar_value(label, raw))``."""
    decoder = _DECODERS.get(label)
    if decoder is None:
        return raw, raw
    if raw == NOT_AVAILABLE:
        return _UNAVAILABLE
    return decoder(raw)


def decode_value(label: str, raw: str) -> Value:
    """Rich value in base units; ``---`` -> None, unknown label -> raw text, malformed -> None."""
    return decode_field(label, raw)[0]


def scalar_value(label: str, raw: str) -> Scalar:
    """JSON-storable value: floats in base units, ON/OFF -> 1/0, codes/bitmasks/counts -> int, text -> str.

    TTG keeps the wire's -1.0 for "infinite" here (decode_value gives None), so history stays gap-free.
    """
    return decode_field(label, raw)[1]


def field_spec(label: str) -> FieldSpec | None:
    return FIELD_SPECS.get(label)
