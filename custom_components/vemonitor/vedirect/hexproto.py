"""VE.Direct HEX protocol codec: frames, commands, response flags and register decoding.

A frame is ``:`` + one command nibble + data bytes as upper-case hex pairs + a check byte + ``\\n``, valid iff
``(command + sum(data) + check) % 256 == 0x55``. Multi-byte numbers are little endian.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum, IntFlag
import struct
from typing import Final

type RecordValue = int | float | list[int] | None
type HexValue = int | float | str | dict[str, RecordValue] | None

HEX_CHECK_TARGET: Final = 0x55
_HEX_DIGIT_BYTES: Final = b"0123456789ABCDEFabcdef"


class Command(IntEnum):
    """Host -> device commands (GET/SET/ASYNC share their number with the reply)."""

    ENTER_BOOT = 0x0
    PING = 0x1
    APP_VERSION = 0x3
    PRODUCT_ID = 0x4
    RESTART = 0x6
    GET = 0x7
    SET = 0x8
    ASYNC = 0xA


class Response(IntEnum):
    """Device -> host reply commands."""

    DONE = 0x1
    UNKNOWN = 0x3
    ERROR = 0x4
    PING = 0x5
    GET = 0x7
    SET = 0x8
    ASYNC = 0xA


class ResponseFlags(IntFlag):
    """Flags byte of GET/SET/ASYNC replies."""

    UNKNOWN_ID = 0x01
    NOT_SUPPORTED = 0x02
    PARAMETER_ERROR = 0x04


_REGISTER_COMMANDS: Final = frozenset({Command.GET, Command.SET, Command.ASYNC})

# Registers.
REG_PRODUCT_ID: Final = 0x0100
REG_DEVICE_MODE: Final = 0x0200
REG_DEVICE_STATE: Final = 0x0201
REG_HISTORY_TOTAL: Final = 0x104F
REG_HISTORY_TODAY: Final = 0x1050
REG_HISTORY_LAST_DAY: Final = 0x106E
REG_BATTERY_MAX_CURRENT: Final = 0xEDF0


def hex_check(command: int, data: bytes) -> int:
    """The check byte that makes the frame sum to 0x55."""
    return (HEX_CHECK_TARGET - command - sum(data)) & 0xFF


def encode_frame(command: int, data: bytes = b"") -> bytes:
    """Whole frame, ``:`` through ``\\n``."""
    if not 0 <= command <= 0xF:
        raise ValueError(f"command {command} is not one hex nibble")
    body = data + bytes((hex_check(command, data),))
    return b":%X%s\n" % (command, body.hex().upper().encode())


def encode_ping() -> bytes:
    return encode_frame(Command.PING)


def encode_app_version() -> bytes:
    return encode_frame(Command.APP_VERSION)


def encode_product_id() -> bytes:
    return encode_frame(Command.PRODUCT_ID)


def encode_get(register: int, flags: int = 0) -> bytes:
    return encode_frame(Command.GET, struct.pack("<HB", register, flags))


def encode_set(register: int, value: bytes, flags: int = 0) -> bytes:
    """SET with the value already packed in the register's type (little endian)."""
    return encode_frame(Command.SET, struct.pack("<HB", register, flags) + value)


@dataclass(slots=True)
class HexFrame:
    """One HEX frame as received; ``raw`` keeps the bytes (``:`` .. ``\\n``) for logging."""

    valid: bool
    command: int | None
    data: bytes
    raw: bytes

    @property
    def register(self) -> int | None:
        """Register id of GET/SET/ASYNC frames."""
        if self.command in _REGISTER_COMMANDS and len(self.data) >= 3:
            return int.from_bytes(self.data[:2], "little")
        return None

    @property
    def flags(self) -> ResponseFlags | None:
        if self.command in _REGISTER_COMMANDS and len(self.data) >= 3:
            return ResponseFlags(self.data[2])
        return None

    @property
    def payload(self) -> bytes:
        """The value bytes: after id and flags for register frames, all data otherwise."""
        if self.command in _REGISTER_COMMANDS and len(self.data) >= 3:
            return self.data[3:]
        return self.data

    @property
    def value(self) -> HexValue:
        """Valid frame's value: named fields for history records, base units for known registers."""
        if not self.valid:
            return None
        register = self.register
        if register is not None:
            return decode_register(register, self.payload)
        if self.command == Response.PING:
            return ping_version(self.payload)
        if self.payload:
            return int.from_bytes(self.payload, "little")
        return None


def parse_frame(raw: bytes) -> HexFrame:
    """Decode ``:<hex digits>\\n``; anything else (odd length, bad check, no newline) is invalid.

    Every byte between ``:`` and ``\\n`` must be a hex digit: ``bytes.fromhex`` alone would skip blanks.
    """
    text = raw.removesuffix(b"\n")
    if not raw.endswith(b"\n") or len(text) < 4 or len(text) % 2 != 0 or not text.startswith(b":"):
        return HexFrame(False, _leading_command(text), b"", raw)
    if text[1:].translate(None, _HEX_DIGIT_BYTES):
        return HexFrame(False, None, b"", raw)
    command = int(text[1:2], 16)
    body = bytes.fromhex(text[2:].decode("ascii"))
    data = body[:-1]
    valid = (command + sum(body)) & 0xFF == HEX_CHECK_TARGET
    return HexFrame(valid, command, data, raw)


def _leading_command(text: bytes) -> int | None:
    try:
        return int(text[1:2], 16)
    except ValueError:
        return None


def ping_version(payload: bytes) -> str | None:
    """Ping reply word -> "1.16"; the top two bits say bootloader/app/tester/RC (suffix if not app)."""
    if len(payload) < 2:
        return None
    word = int.from_bytes(payload[:2], "little")
    kind = word >> 14
    version = word & 0x3FFF
    text = f"{version >> 8:x}.{version & 0xFF:02x}"
    return text + {0: "-bootloader", 1: "", 2: "-tester", 3: "-rc"}[kind]


@dataclass(frozen=True, slots=True)
class RecordField:
    """One field of a history record: name, struct code, byte offset and scale (divisor)."""

    name: str
    code: str
    offset: int
    divisor: int = 1


def _record(fields: tuple[RecordField, ...]) -> Callable[[bytes], dict[str, RecordValue]]:
    def decode(payload: bytes) -> dict[str, RecordValue]:
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

    return decode


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

decode_day_record: Final = _record(DAY_RECORD)
decode_total_record: Final = _record(TOTAL_RECORD)


@dataclass(frozen=True, slots=True)
class RegisterSpec:
    """A simple numeric register: name, struct code, divisor to base units, unit."""

    name: str
    code: str
    divisor: int = 1
    unit: str = ""


REGISTERS: Final[Mapping[int, RegisterSpec]] = {
    REG_DEVICE_MODE: RegisterSpec("device_mode", "B"),
    REG_DEVICE_STATE: RegisterSpec("device_state", "B"),
    0x0205: RegisterSpec("device_off_reason", "B"),
    0x0207: RegisterSpec("device_off_reason_2", "I"),
    0x1000: RegisterSpec("battery_capacity", "H", 1, "Ah"),
    REG_BATTERY_MAX_CURRENT: RegisterSpec("battery_max_current", "H", 10, "A"),
    0xEDF7: RegisterSpec("absorption_voltage", "H", 100, "V"),
    0xEDF6: RegisterSpec("float_voltage", "H", 100, "V"),
    0xEDEF: RegisterSpec("battery_voltage", "B", 1, "V"),
    0xEDDD: RegisterSpec("system_yield", "I", 100, "kWh"),
    0xEDDC: RegisterSpec("user_yield", "I", 100, "kWh"),
    0xEDDB: RegisterSpec("internal_temperature", "h", 100, "°C"),
    0xEDDA: RegisterSpec("charger_error", "B"),
    0xEDD7: RegisterSpec("charger_current", "H", 10, "A"),
    0xEDD5: RegisterSpec("charger_voltage", "H", 100, "V"),
    0xEDD3: RegisterSpec("yield_today", "H", 100, "kWh"),
    0xEDD2: RegisterSpec("max_power_today", "H", 1, "W"),
    0xEDD1: RegisterSpec("yield_yesterday", "H", 100, "kWh"),
    0xEDD0: RegisterSpec("max_power_yesterday", "H", 1, "W"),
    0xEDBC: RegisterSpec("panel_power", "I", 100, "W"),
    0xEDBB: RegisterSpec("panel_voltage", "H", 100, "V"),
    0xEDBD: RegisterSpec("panel_current", "H", 10, "A"),
    0xEDB3: RegisterSpec("tracker_mode", "B"),
    0xED2E: RegisterSpec("rebulk_voltage_offset", "H", 100, "V"),
    0xED8D: RegisterSpec("main_voltage", "h", 100, "V"),
    0xED7D: RegisterSpec("aux_voltage", "H", 100, "V"),
    0xED8F: RegisterSpec("current", "h", 10, "A"),
    0xED8C: RegisterSpec("current_fine", "i", 1000, "A"),
    0xED8E: RegisterSpec("power", "h", 1, "W"),
    0xEEFF: RegisterSpec("consumed_ah", "i", 10, "Ah"),
    0x0FFF: RegisterSpec("soc", "H", 100, "%"),
    0x0FFE: RegisterSpec("time_to_go", "H", 1, "min"),
}


def register_name(register: int) -> str | None:
    if register == REG_HISTORY_TOTAL:
        return "history_total"
    if REG_HISTORY_TODAY <= register <= REG_HISTORY_LAST_DAY:
        return f"history_day_{register - REG_HISTORY_TODAY}"
    spec = REGISTERS.get(register)
    return spec.name if spec else None


def decode_register(register: int, payload: bytes) -> HexValue:
    """Value bytes of a register -> base units; unknown registers give their little-endian integer."""
    if not payload:
        return None
    if register == REG_HISTORY_TOTAL:
        return decode_total_record(payload)
    if REG_HISTORY_TODAY <= register <= REG_HISTORY_LAST_DAY:
        return decode_day_record(payload)
    spec = REGISTERS.get(register)
    if spec is not None and len(payload) == struct.calcsize("<" + spec.code):
        (number,) = struct.unpack("<" + spec.code, payload)
        return int(number) if spec.divisor == 1 else number / spec.divisor
    if len(payload) <= 8:
        return int.from_bytes(payload, "little")
    return payload.hex().upper()
