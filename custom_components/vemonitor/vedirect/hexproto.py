"""VE.Direct HEX protocol codec: frames, commands, response flags and register decoding.

A frame is ``:`` + one command nibble + data bytes as upper-case hex pairs + a check byte + ``\\n``, valid iff
``(command + sum(data) + check) % 256 == 0x55``. Multi-byte numbers are little endian.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from functools import partial
import struct
from types import MappingProxyType
from typing import Final

from . import registers
from .registers import (
    DAY_RECORD,
    TOTAL_RECORD,
    HexValue,
    Register,
    decode_record,
    find_register,
    known_register_ids,
)

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

# Registers (older names of the ``registers`` constants).
REG_PRODUCT_ID: Final = registers.PRODUCT_ID
REG_DEVICE_MODE: Final = registers.DEVICE_MODE
REG_DEVICE_STATE: Final = registers.DEVICE_STATE
REG_HISTORY_TOTAL: Final = registers.HISTORY_TOTAL
REG_HISTORY_TODAY: Final = registers.HISTORY_TODAY
REG_HISTORY_LAST_DAY: Final = registers.HISTORY_LAST_DAY
REG_BATTERY_MAX_CURRENT: Final = registers.BATTERY_MAX_CURRENT


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


decode_day_record: Final = partial(decode_record, DAY_RECORD)
decode_total_record: Final = partial(decode_record, TOTAL_RECORD)

# The register names of ``registers``, by id, for any family (kept for the decoders and the CLI).
REGISTERS: Final[Mapping[int, Register]] = MappingProxyType(
    {
        register_id: register
        for register_id in known_register_ids()
        if (register := find_register(None, register_id))
    }
)


def register_name(register: int) -> str | None:
    """Key of a register of any family (``history_day_<n>`` for the older daily records)."""
    spec = find_register(None, register)
    return spec.key if spec else None


def decode_register(register: int, payload: bytes) -> HexValue:
    """Value bytes of a register -> base units; unknown registers (or a length the table does not expect)
    give their little-endian integer, or their hex digits beyond 8 bytes."""
    if not payload:
        return None
    spec = find_register(None, register)
    if spec is not None:
        try:
            return spec.decode(payload)
        except ValueError:
            pass
    if len(payload) <= 8:
        return int.from_bytes(payload, "little")
    return payload.hex().upper()
