"""The HEX side of a simulated device: its register model and the request -> reply engine.

``HexDevice`` holds a device's registers as the bytes it would send (one payload per register id) and answers
what a host sends, as a VE.Direct device does (reference section 5): ping (``:5`` + version word), app
version and product id (``:1``), GET and SET (``:7``/``:8`` id flags value) with the flags 0x01 unknown id,
0x02 write to a read-only register and 0x04 out of range (the reply carries the nearest valid value, nothing
changes), ``:3`` for an unknown command and ``:4AAAA..`` for a frame with a bad check byte. A SET that
changes a value is followed by an async ``:A`` frame of that register, sent through ``on_async`` like any
change made through ``set_value(..., announce=True)``.

The register set of each family comes from ``registers.REGISTER_TABLES`` (types, scales, ranges, writability:
one table for the client, Home Assistant and this simulator), with plausible values (``default_model``); a
synthesised device reads its settings from the model and writes its measurements into it (``update``), so
that its text fields follow the registers. ``state_path`` makes every change rewrite a JSON file (for the
end-to-end test and ``scripts/develop ctl registers``).
"""

from collections.abc import Callable, Mapping
import json
import os
from pathlib import Path
import struct
from types import MappingProxyType
from typing import Any, Final

from .protocol import codes, framing, hexproto, products, registers as regs

Family = regs.Family
HexValue = regs.HexValue
Command, Response, ResponseFlags = hexproto.Command, hexproto.Response, hexproto.ResponseFlags

APP_VERSION: Final = 0x4161
"""Ping reply word: top bits 01 = application, version 1.61 (a SmartSolar firmware with async frames)."""
FRAMING_ERROR: Final = hexproto.encode_frame(Response.ERROR, b"\xaa\xaa")
"""The reply to a frame whose check byte (or shape) is wrong: ``:4AAAAFD``."""
_MAX_REQUEST: Final = 1 + framing.MAX_HEX_DIGITS + 1  # ":" + digits + "\n"
_COLON, _NEWLINE = ord(":"), ord("\n")
_STRUCT_CODES: Final = {"un8": "<B", "un16": "<H", "sn16": "<h", "un32": "<I", "sn32": "<i"}


class RequestBuffer:
    """Cuts what a host sends into HEX frames (``:`` .. ``\\n``).

    Bytes outside a frame are ignored, as a device ignores them, and a ``:`` restarts the frame (a host that
    gave up on a frame half-way starts again).
    """

    def __init__(self) -> None:
        self._frame: bytearray | None = None

    def feed(self, data: bytes) -> list[bytes]:
        """Return the frames that ``data`` completes, each with its ``\\n``."""
        frames: list[bytes] = []
        for byte in data:
            if byte == _COLON:
                self._frame = bytearray(b":")
            elif self._frame is not None:
                self._frame.append(byte)
                if byte == _NEWLINE:
                    frames.append(bytes(self._frame))
                    self._frame = None
                elif len(self._frame) > _MAX_REQUEST:
                    self._frame = None  # no device frame is this long: line noise
        return frames


def reply_register(command: int, register_id: int, flags: int = 0, payload: bytes = b"") -> bytes:
    """A GET/SET/ASYNC frame: id (little endian), flags, value."""
    return hexproto.encode_frame(command, struct.pack("<HB", register_id, flags) + payload)


def corrupt_check(frame: bytes) -> bytes:
    """The frame with its check byte changed (still two hex digits): a receiver must reject it."""
    check = (int(frame[-3:-1], 16) + 0x5A) & 0xFF
    return frame[:-3] + b"%02X\n" % check


def pack_record(fields: tuple[regs.RecordField, ...], values: Mapping[str, Any], size: int = 34) -> bytes:
    """A history record from its named fields (base units); missing fields are 0."""
    payload = bytearray(size)
    for spec in fields:
        value = values.get(spec.name, 0)
        numbers = value if isinstance(value, list) else [round(value * spec.divisor)]
        struct.pack_into("<" + spec.code, payload, spec.offset, *numbers)
    return bytes(payload)


def json_value(value: HexValue | codes.VeFlags) -> Any:
    """A decoded value as JSON: bitmasks as the list of their keys."""
    return value.keys if isinstance(value, codes.VeFlags) else value


class HexDevice:
    """A device's HEX registers and its answers to HEX requests (see the module docstring)."""

    def __init__(
        self,
        family: Family | None,
        product_id: int,
        values: Mapping[int, HexValue],
        *,
        version: int = APP_VERSION,
    ) -> None:
        self.family = family
        self.product_id = product_id
        self.version = version
        self._registers: dict[int, bytes] = {}
        self.on_async: Callable[[bytes], None] | None = None
        """Where async frames go (the simulator sends them); None: nowhere."""
        self.state_path: Path | None = None
        for register_id, value in values.items():
            self._registers[register_id] = self._encode(self.register(register_id), value)

    def register(self, register_id: int) -> regs.Register:
        """The register of this family with that id (KeyError when the table has none)."""
        found = regs.find_register(self.family, register_id)
        if found is None:
            raise KeyError(f"no register 0x{register_id:04X} in the {self.family or 'common'} table")
        return found

    @property
    def registers(self) -> Mapping[int, bytes]:
        """Register id -> the payload the device sends for it (read-only view)."""
        return MappingProxyType(self._registers)

    @property
    def battery_voltage(self) -> float:
        """The system voltage the per-12 V ranges scale with (12 V when the device has no such register)."""
        value = self.value(regs.BATTERY_VOLTAGE) if regs.BATTERY_VOLTAGE in self._registers else None
        return float(value) if isinstance(value, int | float) and value > 0 else regs.NOMINAL_VOLTAGE

    def value(self, register_id: int) -> HexValue:
        """The decoded value of a register the device has (KeyError otherwise)."""
        return self.register(register_id).decode(self._registers[register_id])

    def set_value(self, register_id: int, value: HexValue, *, announce: bool = True) -> bool:
        """Change a register as the device itself would (VictronConnect, a button); True if it changed.

        With ``announce`` a change goes out as an async frame. No range check: the device may do anything.
        """
        payload = self._encode(self.register(register_id), value)
        changed = self._store({register_id: payload})
        if changed and announce and self.on_async is not None:
            self.on_async(reply_register(Response.ASYNC, register_id, 0, payload))
        return changed

    def update(self, values: Mapping[int, HexValue]) -> None:
        """Measurements of one period: stored silently (a device sends no async frame for each)."""
        self._store(
            {register_id: self._encode(self.register(register_id), v) for register_id, v in values.items()}
        )

    def answer(self, request: bytes) -> list[bytes]:
        """The frames a device sends back for one request frame (``:`` .. ``\\n``): reply, then async."""
        frame = hexproto.parse_frame(request)
        if not frame.valid or frame.command is None:
            return [FRAMING_ERROR]
        version = self.version.to_bytes(2, "little")
        match frame.command:
            case Command.PING:
                return [hexproto.encode_frame(Response.PING, version)]
            case Command.APP_VERSION:
                return [hexproto.encode_frame(Response.DONE, version)]
            case Command.PRODUCT_ID:
                return [hexproto.encode_frame(Response.DONE, self.product_id.to_bytes(2, "little"))]
            case Command.RESTART:
                return []
            case Command.ENTER_BOOT:
                return [hexproto.encode_frame(Response.ERROR, b"\0\0")]  # "unable to enter the bootloader"
            case Command.GET | Command.SET if len(frame.data) >= 3:
                register_id = int.from_bytes(frame.data[:2], "little")
                if frame.command == Command.GET:
                    return [self._get(register_id)]
                return self._set(register_id, frame.data[3:])
            case Command.GET | Command.SET:
                return [FRAMING_ERROR]
            case _:
                return [hexproto.encode_frame(Response.UNKNOWN, bytes((frame.command, 0)))]

    def _get(self, register_id: int) -> bytes:
        payload = self._registers.get(register_id)
        if payload is not None:
            return reply_register(Response.GET, register_id, 0, payload)
        if self.family is Family.MPPT and regs.HISTORY_TODAY <= register_id <= regs.HISTORY_LAST_DAY:
            return reply_register(Response.GET, register_id, ResponseFlags.PARAMETER_ERROR)  # an empty day
        return reply_register(Response.GET, register_id, ResponseFlags.UNKNOWN_ID)

    def _set(self, register_id: int, payload: bytes) -> list[bytes]:
        current = self._registers.get(register_id)
        if current is None:
            return [reply_register(Response.SET, register_id, ResponseFlags.UNKNOWN_ID)]
        register = self.register(register_id)
        if not register.writable:
            return [reply_register(Response.SET, register_id, ResponseFlags.NOT_SUPPORTED, current)]
        nearest = self._nearest(register, payload)
        if nearest is None:
            return [reply_register(Response.SET, register_id, ResponseFlags.PARAMETER_ERROR, current)]
        if nearest != payload:
            return [reply_register(Response.SET, register_id, ResponseFlags.PARAMETER_ERROR, nearest)]
        frames = [reply_register(Response.SET, register_id, 0, payload)]
        if self._store({register_id: payload}):
            frames.append(reply_register(Response.ASYNC, register_id, 0, payload))
        return frames

    def _nearest(self, register: regs.Register, payload: bytes) -> bytes | None:
        """``payload`` if valid, else the nearest valid payload; None when nothing is near (a wrong length,
        an unknown option)."""
        try:
            value = register.decode(payload)
        except ValueError:
            return None
        if register.options is not None:  # a known option decodes to its key, an unknown one to its code
            return payload if isinstance(value, str) else None
        assert isinstance(value, int | float)  # the writable registers are numbers or options
        low, high = register.bounds(self.battery_voltage)
        if (cap_id := register.maximum_from) is not None and cap_id in self._registers:
            cap = self.value(cap_id)  # e.g. the charger's own maximum current
            assert isinstance(cap, int | float)
            high = cap if high is None else min(high, cap)
        clamped = max(value, low) if low is not None else value
        clamped = min(clamped, high) if high is not None else clamped
        return payload if clamped == value else self._encode(register, clamped)

    def _encode(self, register: regs.Register, value: HexValue) -> bytes:
        """Like ``Register.encode`` but for any value the device may hold: records, "not available",
        values beyond the writable range (a measurement)."""
        if register.type is regs.RegisterType.RECORD:
            assert isinstance(value, dict)
            return pack_record(register.record or (), value)
        if value is None and register.not_available is not None and register.size is not None:
            return register.not_available.to_bytes(register.size, "little")
        if register.options is not None or not isinstance(value, int | float):
            return register.encode(value)
        raw = round((value - register.offset) / register.scale)
        return struct.pack(_STRUCT_CODES[register.type], raw)

    def _store(self, payloads: Mapping[int, bytes]) -> bool:
        changed = False
        for register_id, payload in payloads.items():
            if self._registers.get(register_id) != payload:
                self._registers[register_id] = payload
                changed = True
        if changed and self.state_path is not None:
            self.write_state(self.state_path)
        return changed

    def state(self) -> dict[str, Any]:
        """Everything the device holds, decoded, as JSON-ready data."""
        return {
            "family": self.family.value if self.family is not None else None,
            "product_id": f"0x{self.product_id:04X}",
            "version": hexproto.ping_version(self.version.to_bytes(2, "little")),
            "registers": {
                f"0x{register_id:04X}": {
                    "key": self.register(register_id).key,
                    "value": json_value(self.value(register_id)),
                    "raw": payload.hex().upper(),
                }
                for register_id, payload in sorted(self._registers.items())
            },
        }

    def write_state(self, path: str | os.PathLike[str]) -> None:
        """Write ``state()`` to ``path`` atomically (a reader never sees half a file)."""
        target = Path(path)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.state(), indent=1) + "\n", encoding="utf-8")
        tmp.replace(target)


# Plausible values per family: a SmartSolar MPPT 100/20 on a 12 V battery, a BMV-712 on 200 Ah, a Phoenix
# Inverter 12V 800VA. Registers the simulated devices keep measuring are overwritten every period.
_DAY: Final[Mapping[str, regs.RecordValue]] = {
    "battery_voltage_max_v": 14.42,
    "battery_voltage_min_v": 12.31,
    "errors": [0, 0, 0, 0],
}
_DEFAULTS: Final[Mapping[Family, tuple[int, str, Mapping[int, HexValue]]]] = {
    Family.MPPT: (
        0xA05F,
        "HQ2132QXH4K",
        {
            regs.DEVICE_MODE: "on",
            regs.DEVICE_STATE: 3,
            regs.DEVICE_OFF_REASON_LEGACY: 0,
            regs.DEVICE_OFF_REASON: 0,
            regs.BATTERY_MAX_CURRENT: 15.0,
            regs.ABSORPTION_VOLTAGE: 14.4,
            regs.FLOAT_VOLTAGE: 13.8,
            regs.EQUALISATION_VOLTAGE: 16.2,
            0xED2E: 0.4,  # re-bulk voltage offset
            0xEDFB: 6.0,  # absorption time limit
            0xEDE7: 1.0,  # tail current
            regs.BATTERY_VOLTAGE: 12,
            regs.BATTERY_TEMPERATURE: None,
            regs.CHARGER_MAX_CURRENT: 20.0,
            0xEDDD: 61.4,  # system yield
            0xEDDC: 61.4,  # user yield
            0xEDDB: 31.5,  # internal temperature
            0xEDDA: 0,  # charger error
            0xEDD7: 0.0,  # charger current
            0xEDD5: 13.1,  # charger voltage
            0xEDD3: 0.0,  # yield today
            0xEDD2: 0,  # max power today
            0xEDD1: 1.12,  # yield yesterday
            0xEDD0: 268,  # max power yesterday
            0xEDBC: 0.0,  # panel power
            0xEDBB: 0.45,  # panel voltage
            0xEDBD: 0.0,  # panel current
            0xEDB3: 0,  # tracker mode
            regs.LOAD_OUTPUT_CONTROL: "on",
            regs.LOAD_OUTPUT_STATE: 1,
            0xEDAD: 0.8,  # load current
            regs.HISTORY_TOTAL: {
                "yield_user_kwh": 61.4,
                "yield_system_kwh": 61.4,
                "panel_voltage_max_v": 38.5,
                "battery_voltage_max_v": 14.6,
                "days_available": 30,
                "battery_voltage_min_v": 11.9,
                "errors": [0, 0, 0, 0],
            },
            regs.HISTORY_TODAY: {**_DAY, "day_sequence": 30},
            regs.HISTORY_YESTERDAY: {
                **_DAY,
                "yield_kwh": 1.12,
                "consumed_kwh": 0.31,
                "time_bulk_min": 212,
                "time_absorption_min": 120,
                "time_float_min": 185,
                "power_max_w": 268,
                "battery_current_max_a": 14.6,
                "panel_voltage_max_v": 21.3,
                "day_sequence": 29,
            },
        },
    ),
    Family.BMV: (
        0xA381,
        "HQ2112ABCDE",
        {
            regs.BATTERY_CAPACITY: 200,
            regs.CHARGED_VOLTAGE: 13.2,
            0x1002: 4.0,  # tail current
            0x1005: 1.25,  # Peukert exponent
            regs.DC_MONITOR_MODE: 0,
            regs.BATTERY_TEMPERATURE: None,
            0x0382: 6.4,  # mid-point voltage
            0x0383: 0.1,  # mid-point deviation
            regs.DEVICE_UPTIME: 5_400,
            0x0FFF: 91.0,  # state of charge
            0x0FFE: 14_400,  # time to go
            0xED8D: 12.8,  # main voltage
            0xED7D: 12.7,  # aux (starter) voltage
            0xED8F: -4.0,  # current
            0xED8C: -4.0,  # current, fine
            0xED8E: -51,  # power
            0xEEFF: -18.0,  # consumed Ah
        },
    ),
    Family.INVERTER: (
        0xA261,
        "HQ2049X7CKM",
        {
            regs.DEVICE_MODE: "on",
            regs.DEVICE_STATE: 9,
            regs.DEVICE_OFF_REASON_LEGACY: 0,
            regs.DEVICE_OFF_REASON: 0,
            0x2200: 230.0,  # AC out voltage
            0x2201: 0.8,  # AC out current
            0x2205: 180,  # AC out apparent power
            regs.AC_OUT_VOLTAGE_SETPOINT: 230.0,
            regs.SHUTDOWN_LOW_VOLTAGE: 10.5,
            0x031C: 0,  # warning reason
            0x031E: 0,  # alarm reason
        },
    ),
}
SERIAL_NUMBERS: Final[Mapping[Family, str]] = {family: serial for family, (_, serial, _) in _DEFAULTS.items()}
"""The serial number each family's model reports by default (0x010A)."""


def default_model(
    family: Family | None, product_id: int | None = None, serial: str | None = None
) -> HexDevice:
    """A family's model with plausible values; ``product_id``/``serial`` replace the family's own (a capture's
    device). Without a family (a charger, an Orion: no table) the device has the common identity only."""
    pid, default_serial, values = _DEFAULTS[family] if family is not None else (0, "HQ0000SIM00", {})
    pid = pid if product_id is None else product_id
    identity: dict[int, HexValue] = {
        regs.PRODUCT_ID: 0xFF000000 | pid << 8,  # instance 0, the PID, 0xFF
        regs.SERIAL_NUMBER: serial or default_serial,
        regs.MODEL_NAME: products.PRODUCTS.get(pid, "VE.Direct device"),
    }
    return HexDevice(family, pid, {**identity, **values})


def model_for_capture(data: bytes) -> HexDevice:
    """The default model of the family of a capture's device: its first block with a PID says which."""
    for event in framing.FrameParser().feed(data[: 64 * 1024]):
        if isinstance(event, framing.TextBlock) and event.valid and "PID" in event.fields:
            fields = event.fields
            try:
                pid: int | None = int(fields["PID"], 16)
            except ValueError:
                pid = None
            return default_model(regs.family_of(pid, fields), pid, fields.get("SER#"))
    return default_model(None)


__all__ = [
    "APP_VERSION",
    "FRAMING_ERROR",
    "SERIAL_NUMBERS",
    "Family",
    "HexDevice",
    "RequestBuffer",
    "corrupt_check",
    "default_model",
    "model_for_capture",
    "pack_record",
    "reply_register",
]
