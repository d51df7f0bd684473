"""HEX codec: the reference examples, reply flags, register decoding on real frames."""

import pytest

from custom_components.vemonitor.vedirect import Command, FrameParser, HexFrame, Response, ResponseFlags
from custom_components.vemonitor.vedirect.hexproto import (
    decode_register,
    encode_app_version,
    encode_frame,
    encode_get,
    encode_ping,
    encode_product_id,
    encode_set,
    hex_check,
    parse_frame,
    ping_version,
    register_name,
)

from .helpers import capture, hex_frames


def test_encode_reference_examples() -> None:
    assert encode_ping() == b":154\n"
    assert encode_app_version() == b":352\n"
    assert encode_product_id() == b":451\n"
    assert encode_get(0x1000) == b":70010003E\n"
    assert encode_get(0x0FFF) == b":7FF0F0040\n"
    assert encode_get(0xEDF0) == b":7F0ED0071\n"
    assert encode_set(0xEDF0, (100).to_bytes(2, "little")) == b":8F0ED0064000C\n"
    assert encode_set(0x1000, (500).to_bytes(2, "little")) == b":8001000F40148\n"
    assert encode_frame(Command.RESTART) == b":64F\n"
    assert hex_check(0x1, b"") == 0x54
    with pytest.raises(ValueError, match="nibble"):
        encode_frame(0x10)


@pytest.mark.parametrize(
    ("raw", "command", "register", "flags", "value"),
    [
        (b":7F0ED009600DB\n", Response.GET, 0xEDF0, 0, 15.0),
        (b":8F0ED0064000C\n", Response.SET, 0xEDF0, 0, 10.0),
        (b":A0102000543\n", Response.ASYNC, 0x0201, 0, "float"),
        (b":7001000C80076\n", Response.GET, 0x1000, 0, 200),
        (b":8001004010038\n", Response.SET, 0x1000, ResponseFlags.PARAMETER_ERROR, 1),
        (b":72EED0028000B\n", Response.GET, 0xED2E, 0, 0.40),
    ],
)
def test_register_replies(raw: bytes, command: int, register: int, flags: int, value: object) -> None:
    frame = parse_frame(raw)
    assert frame.valid
    assert frame.command == command
    assert frame.register == register
    assert frame.flags == flags
    assert frame.value == value
    assert frame.raw == raw


def test_reply_flags() -> None:
    unknown = parse_frame(encode_frame(Response.GET, bytes((0x34, 0x12, 0x01))))
    assert unknown.valid
    assert unknown.flags == ResponseFlags.UNKNOWN_ID
    assert unknown.value is None
    read_only = parse_frame(encode_frame(Response.SET, bytes((0x34, 0x12, 0x02, 0x01))))
    assert read_only.flags == ResponseFlags.NOT_SUPPORTED
    assert read_only.value == 1


def test_non_register_replies() -> None:
    ping = parse_frame(b":51641F9\n")
    assert ping.valid
    assert ping.command == Response.PING
    assert ping.register is None
    assert ping.flags is None
    assert ping.value == "1.16"
    assert parse_frame(b":11641FD\n").value == 0x4116
    assert parse_frame(b":1000351\n").value == 0x0300
    assert parse_frame(b":181A330\n").value == 0xA381
    unknown_command = parse_frame(b":3020050\n")
    assert unknown_command.valid
    assert unknown_command.command == Response.UNKNOWN
    framing_error = parse_frame(b":4AAAAFD\n")
    assert framing_error.valid
    assert framing_error.value == 0xAAAA
    assert parse_frame(b":154\n").value is None
    assert ping_version(b"\x16\x01") == "1.16-bootloader"
    assert ping_version(b"\x16\xc1") == "1.16-rc"
    assert ping_version(b"\x16") is None


@pytest.mark.parametrize(
    "raw", [b":155\n", b":452", b":15\n", b":1G4\n", b":\n", b"154\n", b":1544\n", b":A0102000544\n"]
)
def test_invalid_frames(raw: bytes) -> None:
    frame = parse_frame(raw)
    assert not frame.valid
    assert frame.value is None
    assert frame.raw == raw


def test_history_records_from_real_frames() -> None:
    frames = hex_frames(FrameParser().feed(capture("bluesolar-mppt-75-15_fw150.log")))
    assert len(frames) == 21
    assert {frame.register for frame in frames} == {0x1050, 0x104F}
    assert all(frame.command == Command.ASYNC and frame.flags == 0 for frame in frames)
    today = frames[0]
    assert today.register == 0x1050
    assert register_name(0x1050) == "history_today"
    assert today.value == {
        "yield_kwh": 0.16,
        "consumed_kwh": 0.0,
        "battery_voltage_max_v": 13.42,
        "battery_voltage_min_v": 12.49,
        "error_database": 0,
        "errors": [0, 0, 0, 0],
        "time_bulk_min": 229,
        "time_absorption_min": 0,
        "time_float_min": 0,
        "power_max_w": 74,
        "battery_current_max_a": 5.4,
        "panel_voltage_max_v": 21.37,
        "day_sequence": 35,
    }
    total = next(frame for frame in frames if frame.register == 0x104F)
    assert register_name(0x104F) == "history_total"
    assert total.value == {
        "error_database": 0,
        "errors": [2, 0, 0, 0],
        "yield_user_kwh": 6.15,
        "yield_system_kwh": 6.15,
        "panel_voltage_max_v": 22.09,
        "battery_voltage_max_v": 17.68,
        "days_available": 30,
        "battery_voltage_min_v": 11.88,
    }


def test_smartsolar_history_frames_agree() -> None:
    frames = hex_frames(FrameParser().feed(capture("smartsolar-100-20_fw139.dump")))
    values = {frame.register: frame.value for frame in frames}
    today, total = values[0x1050], values[0x104F]
    assert isinstance(today, dict)
    assert isinstance(total, dict)
    assert today["battery_voltage_max_v"] == total["battery_voltage_max_v"] == 12.93
    assert today["battery_voltage_min_v"] == total["battery_voltage_min_v"] == 12.73


def test_register_decoding_fallbacks() -> None:
    assert decode_register(0x1234, b"") is None
    assert decode_register(0x1234, b"\x01\x02") == 0x0201
    assert decode_register(0x1234, bytes(10)) == "00" * 10
    assert decode_register(0x1051, b"\x00\x01") == {
        "yield_kwh": None,
        "consumed_kwh": None,
        "battery_voltage_max_v": None,
        "battery_voltage_min_v": None,
        "error_database": None,
        "errors": None,
        "time_bulk_min": None,
        "time_absorption_min": None,
        "time_float_min": None,
        "power_max_w": None,
        "battery_current_max_a": None,
        "panel_voltage_max_v": None,
        "day_sequence": None,
    }
    assert decode_register(0xEDDB, b"\x9c\xff") == -1.0
    assert register_name(0xEDF0) == "battery_max_current"
    assert register_name(0x9999) is None
    assert HexFrame(True, Response.DONE, b"", b":154\n").value is None
