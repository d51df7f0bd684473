"""HEX registers per device family: id, key, type, scale, unit, range, writability, and their codec.

One table is the truth for everyone: the client decodes replies with it, the simulator builds its register
model from it, Home Assistant builds its entities from it (``key`` is also the translation key). Values are
in base units, decoded like the text fields (scaled integers divided by an integer, so ``1440`` at 0.01 V is
exactly ``14.4``). Enum registers decode to their option key, bitmask registers to a ``VeFlags`` set.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
import math
import struct
from typing import Final

from .codes import (
    AlarmReason,
    ChargeState,
    DeviceMode,
    ErrorCode,
    MonitorMode,
    OffReason,
    TrackerMode,
    VeCode,
    VeFlags,
)
from .products import PRODUCTS

type RecordValue = int | float | list[int] | None
type HexValue = int | float | str | dict[str, RecordValue] | None

NOMINAL_VOLTAGE: Final = 12.0
"""System voltage that ``minimum``/``maximum`` of ``per_12v`` registers are given for."""


class Family(StrEnum):
    """Device families with a register table (chargers and DC/DC converters have none yet)."""

    MPPT = "mppt"
    BMV = "bmv"
    INVERTER = "inverter"


class RegisterType(StrEnum):
    """Wire type of a register value (little endian)."""

    UN8 = "un8"
    UN16 = "un16"
    SN16 = "sn16"
    UN32 = "un32"
    SN32 = "sn32"
    STRING = "string"
    RECORD = "record"


_STRUCT_CODES: Final[Mapping[RegisterType, str]] = {
    RegisterType.UN8: "<B",
    RegisterType.UN16: "<H",
    RegisterType.SN16: "<h",
    RegisterType.UN32: "<I",
    RegisterType.SN32: "<i",
}


@dataclass(frozen=True, slots=True)
class RecordField:
    """One field of a history record: name, struct code, byte offset and scale (divisor)."""

    name: str
    code: str
    offset: int
    divisor: int = 1


def decode_record(fields: tuple[RecordField, ...], payload: bytes) -> dict[str, RecordValue]:
    """Named fields of a record; a field beyond a short payload (older firmware) is None."""
    values: dict[str, RecordValue] = {}
    for spec in fields:
        size = struct.calcsize("<" + spec.code)
        if len(payload) < spec.offset + size:
            values[spec.name] = None
            continue
        unpacked = struct.unpack_from("<" + spec.code, payload, spec.offset)
        if len(unpacked) > 1:
            values[spec.name] = list(unpacked)
        elif spec.divisor == 1:
            values[spec.name] = int(unpacked[0])
        else:
            values[spec.name] = unpacked[0] / spec.divisor
    return values


# Daily history record (0x1050 today .. 0x106E 30 days back), 34 bytes, checked on the real BlueSolar frames.
DAY_RECORD: Final = (
    RecordField("yield_kwh", "I", 1, 100),
    RecordField("consumed_kwh", "I", 5, 100),
    RecordField("battery_voltage_max_v", "H", 9, 100),
    RecordField("battery_voltage_min_v", "H", 11, 100),
    RecordField("error_database", "B", 13),
    RecordField("errors", "4B", 14),
    RecordField("time_bulk_min", "H", 18),
    RecordField("time_absorption_min", "H", 20),
    RecordField("time_float_min", "H", 22),
    RecordField("power_max_w", "I", 24),
    RecordField("battery_current_max_a", "H", 28, 10),
    RecordField("panel_voltage_max_v", "H", 30, 100),
    RecordField("day_sequence", "H", 32),
)

# Total history record (0x104F), 34 bytes; the layout is inferred from real frames whose values match the
# text fields sent alongside (H19 yield, battery voltage extremes shared with the day records).
TOTAL_RECORD: Final = (
    RecordField("error_database", "B", 1),
    RecordField("errors", "4B", 2),
    RecordField("yield_user_kwh", "I", 6, 100),
    RecordField("yield_system_kwh", "I", 10, 100),
    RecordField("panel_voltage_max_v", "H", 14, 100),
    RecordField("battery_voltage_max_v", "H", 16, 100),
    RecordField("days_available", "B", 18),
    RecordField("battery_voltage_min_v", "H", 19, 100),
)


type _FlagSet = type[VeFlags]  # spelled here: inside Register, ``type`` is the field


@dataclass(frozen=True, slots=True)
class Register:
    """One HEX register; ``minimum``/``maximum`` are base units, for a 12 V system when ``per_12v``.

    Additions to the shared design: ``offset`` (base = raw * scale + offset, for 0.01 K -> °C), ``flags``
    (bitmask registers decode to that ``VeFlags`` set) and ``maximum_from`` (the register whose value caps
    this one on the device, e.g. the charger's maximum current for the battery maximum current).
    """

    id: int
    key: str
    type: RegisterType
    scale: float = 1.0
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    per_12v: bool = False
    writable: bool = False
    options: Mapping[int, str] | None = None
    record: tuple[RecordField, ...] | None = None
    not_available: int | None = None
    offset: float = 0.0
    flags: _FlagSet | None = None
    maximum_from: int | None = None

    @property
    def size(self) -> int | None:
        """Payload length in bytes; None for strings and records (variable)."""
        code = _STRUCT_CODES.get(self.type)
        return None if code is None else struct.calcsize(code)

    @property
    def decimals(self) -> int:
        """Decimal places of the base value (0.01 -> 2), for rounding and display precision."""
        return max(0, round(-math.log10(self.scale))) if self.scale < 1 else 0

    def bounds(self, battery_voltage: float | None = None) -> tuple[float | None, float | None]:
        """``(minimum, maximum)`` for this battery voltage (12 V when not given)."""
        factor = (battery_voltage or NOMINAL_VOLTAGE) / NOMINAL_VOLTAGE if self.per_12v else 1.0
        low = None if self.minimum is None else round(self.minimum * factor, self.decimals)
        high = None if self.maximum is None else round(self.maximum * factor, self.decimals)
        return low, high

    def decode(self, payload: bytes) -> HexValue:
        """Value bytes -> base units; ValueError on a wrong length; ``not_available`` -> None."""
        if self.type is RegisterType.RECORD:
            if not payload:
                raise ValueError(f"{self.key}: empty record")
            return decode_record(self.record or (), payload)
        if self.type is RegisterType.STRING:
            return payload.split(b"\0", 1)[0].decode("latin-1").strip()
        code = _STRUCT_CODES[self.type]
        if len(payload) != struct.calcsize(code):
            raise ValueError(f"{self.key}: {len(payload)} bytes for a {self.type} register")
        raw = int(struct.unpack(code, payload)[0])
        if raw == self.not_available:
            return None
        if self.options is not None:
            return self.options.get(raw, raw)
        if self.flags is not None:
            return self.flags(raw)
        return self._scaled(raw)

    def encode(self, value: HexValue, *, battery_voltage: float | None = None) -> bytes:
        """Base units -> value bytes; ValueError for a wrong type, an unknown option or out of range.

        Writability is the caller's policy, not checked here (the device answers flag 0x02 anyway).
        """
        if self.type is RegisterType.RECORD:
            raise ValueError(f"{self.key}: records cannot be written")
        if self.type is RegisterType.STRING:
            if not isinstance(value, str) or not value.isascii():
                raise ValueError(f"{self.key}: an ASCII text is needed, not {value!r}")
            return value.encode("ascii")
        code = _STRUCT_CODES[self.type]
        raw = self._option_code(value) if self.options is not None else self._raw(value, battery_voltage)
        try:
            return struct.pack(code, raw)
        except struct.error as err:
            raise ValueError(f"{self.key}: {value!r} does not fit a {self.type} register") from err

    def _scaled(self, raw: int) -> int | float:
        if self.scale == 1 and not self.offset:
            return int(raw)
        divisor = 1 / self.scale
        value = raw / round(divisor) if abs(divisor - round(divisor)) < 1e-9 else raw * self.scale
        return round(value + self.offset, self.decimals) if self.offset else value

    def _option_code(self, value: HexValue) -> int:
        assert self.options is not None
        if isinstance(value, str):
            for code, key in self.options.items():
                if key == value:
                    return code
        elif isinstance(value, int) and value in self.options:
            return value
        raise ValueError(f"{self.key}: {value!r} is not one of {sorted(set(self.options.values()))}")

    def _raw(self, value: HexValue, battery_voltage: float | None) -> int:
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{self.key}: a number is needed, not {value!r}")
        low, high = self.bounds(battery_voltage)
        epsilon = self.scale / 1000
        if (low is not None and value < low - epsilon) or (high is not None and value > high + epsilon):
            raise ValueError(f"{self.key}: {value:g} is outside {low}..{high} {self.unit or ''}".rstrip())
        return round((value - self.offset) / self.scale)


def as_number(value: object) -> int | float | None:
    """A decoded value as a number, None for anything else (an option key, a record, a bool: ON/OFF)."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _codes(table: type[VeCode]) -> Mapping[int, str]:
    return {int(member): member.key for member in table}


# Ids others use by name.
PRODUCT_ID: Final = 0x0100
SERIAL_NUMBER: Final = 0x010A
MODEL_NAME: Final = 0x010B
DEVICE_UPTIME: Final = 0x0120
DEVICE_MODE: Final = 0x0200
DEVICE_STATE: Final = 0x0201
DEVICE_OFF_REASON_LEGACY: Final = 0x0205
DEVICE_OFF_REASON: Final = 0x0207
HISTORY_TOTAL: Final = 0x104F
MPPT_TAIL_CURRENT: Final = 0xEDE7
MPPT_ABSORPTION_TIME: Final = 0xEDFB
MPPT_REBULK_OFFSET: Final = 0xED2E
MPPT_INTERNAL_TEMPERATURE: Final = 0xEDDB
BMV_TAIL_CURRENT: Final = 0x1002
BMV_PEUKERT: Final = 0x1005
HISTORY_TODAY: Final = 0x1050
HISTORY_YESTERDAY: Final = 0x1051
HISTORY_LAST_DAY: Final = 0x106E
BATTERY_MAX_CURRENT: Final = 0xEDF0
ABSORPTION_VOLTAGE: Final = 0xEDF7
FLOAT_VOLTAGE: Final = 0xEDF6
EQUALISATION_VOLTAGE: Final = 0xEDF4
BATTERY_VOLTAGE: Final = 0xEDEF
BATTERY_TEMPERATURE: Final = 0xEDEC
CHARGER_MAX_CURRENT: Final = 0xEDDF
LOAD_OUTPUT_CONTROL: Final = 0xEDAB
LOAD_OUTPUT_STATE: Final = 0xEDA8
BATTERY_CAPACITY: Final = 0x1000
CHARGED_VOLTAGE: Final = 0x1001
DC_MONITOR_MODE: Final = 0xEEB8
AC_OUT_VOLTAGE_SETPOINT: Final = 0x0230
SHUTDOWN_LOW_VOLTAGE: Final = 0x2210

_U8, _U16, _S16, _U32, _S32, _STR, _REC = RegisterType

# Device mode: MPPTs and chargers 1 on, 4 off (0 also read as off); inverters 2 on, 4 off, 5 eco. The first
# code of a key is the one written.
_CHARGER_MODES: Final[Mapping[int, str]] = {1: "on", 4: "off", 0: "off"}
_INVERTER_MODES: Final[Mapping[int, str]] = {2: "on", 4: "off", 5: "eco"}
_LOAD_OUTPUT_MODES: Final[Mapping[int, str]] = dict(
    enumerate(("off", "auto", "alt1", "alt2", "on", "user1", "user2", "automatic_energy_selector"))
)


_setting: Final = partial(Register, writable=True)
"""A writable numeric register (a setting): always given its range."""


def _device_mode(options: Mapping[int, str], *, writable: bool = True) -> Register:
    return Register(DEVICE_MODE, "device_mode", _U8, writable=writable, options=options)


# Registers every family has; an unknown family reads the device mode with the generic MODE codes only.
_COMMON: Final = (
    Register(PRODUCT_ID, "product_id", _U32),
    Register(SERIAL_NUMBER, "serial_number", _STR),
    Register(MODEL_NAME, "model_name", _STR),
    _device_mode(_codes(DeviceMode), writable=False),
    Register(DEVICE_STATE, "device_state", _U8, options=_codes(ChargeState)),
    Register(DEVICE_OFF_REASON_LEGACY, "device_off_reason_legacy", _U8, flags=OffReason),
    Register(DEVICE_OFF_REASON, "device_off_reason", _U32, flags=OffReason),
)

_TEMPERATURE: Final = Register(
    BATTERY_TEMPERATURE, "battery_temperature", _U16, 0.01, "°C", not_available=0xFFFF, offset=-273.15
)

# Voltage settings are for a 12 V system (x2 for 24 V ...): the bounds VictronConnect offers, rounded to a
# safe band; the device refuses a value beyond its own range with flag 0x04 anyway.
_MPPT: Final = (
    _device_mode(_CHARGER_MODES),
    _setting(
        BATTERY_MAX_CURRENT, "battery_max_current", _U16, 0.1, "A", 0.0, maximum_from=CHARGER_MAX_CURRENT
    ),
    _setting(ABSORPTION_VOLTAGE, "absorption_voltage", _U16, 0.01, "V", 10.0, 16.0, per_12v=True),
    _setting(FLOAT_VOLTAGE, "float_voltage", _U16, 0.01, "V", 10.0, 16.0, per_12v=True),
    _setting(EQUALISATION_VOLTAGE, "equalisation_voltage", _U16, 0.01, "V", 10.0, 17.0, per_12v=True),
    _setting(MPPT_REBULK_OFFSET, "rebulk_voltage_offset", _U16, 0.01, "V", 0.0, 2.0, per_12v=True),
    _setting(MPPT_ABSORPTION_TIME, "absorption_time_limit", _U16, 0.01, "h", 0.0, 12.0),
    _setting(MPPT_TAIL_CURRENT, "tail_current", _U16, 0.1, "A", 0.0, maximum_from=CHARGER_MAX_CURRENT),
    Register(BATTERY_VOLTAGE, "battery_voltage", _U8, 1.0, "V"),
    _TEMPERATURE,
    Register(CHARGER_MAX_CURRENT, "charger_max_current", _U16, 0.01, "A"),
    Register(0xEDDD, "system_yield", _U32, 0.01, "kWh"),
    Register(0xEDDC, "user_yield", _U32, 0.01, "kWh"),
    Register(MPPT_INTERNAL_TEMPERATURE, "internal_temperature", _S16, 0.01, "°C"),
    Register(0xEDDA, "charger_error", _U8, options=_codes(ErrorCode)),
    Register(0xEDD7, "charger_current", _U16, 0.1, "A"),
    Register(0xEDD5, "charger_voltage", _U16, 0.01, "V"),
    Register(0xEDD3, "yield_today", _U16, 0.01, "kWh"),
    Register(0xEDD2, "max_power_today", _U16, 1.0, "W"),
    Register(0xEDD1, "yield_yesterday", _U16, 0.01, "kWh"),
    Register(0xEDD0, "max_power_yesterday", _U16, 1.0, "W"),
    Register(0xEDBC, "panel_power", _U32, 0.01, "W"),
    Register(0xEDBB, "panel_voltage", _U16, 0.01, "V"),
    Register(0xEDBD, "panel_current", _U16, 0.1, "A"),
    Register(0xEDB3, "tracker_mode", _U8, options=_codes(TrackerMode)),
    Register(LOAD_OUTPUT_CONTROL, "load_output_control", _U8, writable=True, options=_LOAD_OUTPUT_MODES),
    Register(LOAD_OUTPUT_STATE, "load_output_state", _U8, minimum=0, maximum=1),
    Register(0xEDAD, "load_current", _U16, 0.1, "A"),
    Register(HISTORY_TOTAL, "history_total", _REC, record=TOTAL_RECORD),
    Register(HISTORY_TODAY, "history_today", _REC, record=DAY_RECORD),
    Register(HISTORY_YESTERDAY, "history_yesterday", _REC, record=DAY_RECORD),
)

_BMV: Final = (
    _setting(BATTERY_CAPACITY, "battery_capacity", _U16, 1.0, "Ah", 1, 9999),
    _setting(CHARGED_VOLTAGE, "charged_voltage", _U16, 0.1, "V", 0.0, 95.0),
    _setting(BMV_TAIL_CURRENT, "tail_current", _U16, 0.1, "%", 0.5, 10.0),
    _setting(BMV_PEUKERT, "peukert_exponent", _U16, 0.01, None, 1.0, 1.5),
    Register(DC_MONITOR_MODE, "dc_monitor_mode", _S16, options=_codes(MonitorMode)),
    _TEMPERATURE,
    Register(0x0382, "mid_point_voltage", _U16, 0.01, "V"),
    Register(0x0383, "mid_point_deviation", _S16, 0.1, "%"),
    Register(DEVICE_UPTIME, "device_uptime", _U32, 1.0, "s"),
    Register(0x0FFF, "soc", _U16, 0.01, "%"),
    Register(0x0FFE, "time_to_go", _U16, 1.0, "min"),
    Register(0xED8D, "main_voltage", _S16, 0.01, "V"),
    Register(0xED7D, "aux_voltage", _U16, 0.01, "V"),
    Register(0xED8F, "current", _S16, 0.1, "A"),
    Register(0xED8C, "current_fine", _S32, 0.001, "A"),
    Register(0xED8E, "power", _S16, 1.0, "W"),
    Register(0xEEFF, "consumed_ah", _S32, 0.1, "Ah"),
)

_INVERTER: Final = (
    _device_mode(_INVERTER_MODES),
    Register(0x2200, "ac_out_voltage", _U16, 0.01, "V"),
    Register(0x2201, "ac_out_current", _U16, 0.1, "A"),
    Register(0x2205, "ac_out_apparent_power", _U16, 1.0, "VA"),
    _setting(AC_OUT_VOLTAGE_SETPOINT, "ac_out_voltage_setpoint", _U16, 0.01, "V", 100.0, 245.0),
    _setting(SHUTDOWN_LOW_VOLTAGE, "shutdown_low_voltage", _U16, 0.01, "V", 9.0, 12.5, per_12v=True),
    Register(0x031C, "warning_reason", _U16, flags=AlarmReason),
    Register(0x031E, "alarm_reason", _U16, flags=AlarmReason),
)


def _table(*groups: tuple[Register, ...]) -> Mapping[int, Register]:
    """Id -> register; a later group overrides an id of an earlier one (a family's own device mode)."""
    return {register.id: register for group in groups for register in group}


REGISTER_TABLES: Final[Mapping[Family, Mapping[int, Register]]] = {
    Family.MPPT: _table(_COMMON, _MPPT),
    Family.BMV: _table(_COMMON, _BMV),
    Family.INVERTER: _table(_COMMON, _INVERTER),
}

# Any family (a frame decoded without knowing its device): the common registers win over the families'.
_ANY: Final = _table(_INVERTER, _BMV, _MPPT, _COMMON)


def history_day(days_back: int) -> Register:
    """Daily history record of ``days_back`` days ago (0 today .. 30)."""
    if not 0 <= days_back <= HISTORY_LAST_DAY - HISTORY_TODAY:
        raise ValueError(f"no daily history {days_back} days back")
    found = _ANY.get(HISTORY_TODAY + days_back)
    return found or Register(HISTORY_TODAY + days_back, f"history_day_{days_back}", _REC, record=DAY_RECORD)


def known_register_ids() -> list[int]:
    """Every id of every table, and the daily records, ascending."""
    return sorted({*_ANY, *range(HISTORY_TODAY, HISTORY_LAST_DAY + 1)})


def find_register(family: Family | None, register_id: int) -> Register | None:
    """The family's register (any family's when None); the 31 daily records are MPPT registers."""
    table = _ANY if family is None else REGISTER_TABLES[family]
    found = table.get(register_id)
    if found is None and family in (None, Family.MPPT) and HISTORY_TODAY <= register_id <= HISTORY_LAST_DAY:
        return history_day(register_id - HISTORY_TODAY)
    return found


# Family from the product id: ranges, so that a model newer than the PID table is still recognised.
_PID_FAMILIES: Final[tuple[tuple[int, int, Family | None], ...]] = (
    (0x0200, 0x0202, None),  # BMV-60x: no HEX protocol
    (0x0203, 0x0205, Family.BMV),
    (0x0300, 0x0300, Family.MPPT),
    (0xA040, 0xA1FF, Family.MPPT),
    (0xA200, 0xA2FF, Family.INVERTER),
    (0xA380, 0xA38F, Family.BMV),
)
_LABEL_FAMILIES: Final[tuple[tuple[Callable[[Mapping[str, str]], bool], Family], ...]] = (
    (lambda fields: "AC_OUT_V" in fields, Family.INVERTER),
    (lambda fields: "PPV" in fields, Family.MPPT),
    (lambda fields: "SOC" in fields or any(f"H{n}" in fields for n in range(1, 19)), Family.BMV),
)


def family_of(product_id: int | None, fields: Mapping[str, str]) -> Family | None:
    """The register family of a device: by product id first, then by its text labels; None when neither.

    A known product outside the families (a charger, an Orion, a Multi) gets None whatever its labels say.
    """
    if product_id is not None:
        for low, high, family in _PID_FAMILIES:
            if low <= product_id <= high:
                return family
        if product_id in PRODUCTS:
            return None
    for matches, family in _LABEL_FAMILIES:
        if matches(fields):
            return family
    return None
