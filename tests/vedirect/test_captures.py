"""Every real capture: exact block / HEX counts and decoded values checked against the raw text."""

import pytest

from custom_components.vemonitor.vedirect import (
    ChargeState,
    DeviceFrame,
    ErrorCode,
    FrameParser,
    HexFrame,
    OffReason,
    TextBlock,
    TrackerMode,
)

from .helpers import capture, hex_frames, valid_blocks

# file, blocks, valid, async HEX frames (captures/README.md).
EXPECTED = [
    ("bluesolar-mppt-75-15_fw150.log", 1057, 1057, 21),
    ("bmv-712_fw0403_a.log", 2967, 2967, 0),
    ("bmv-712_fw0403_b-junk-start.log", 95, 95, 0),
    ("bmv-700_fw0308.dump", 906, 906, 0),
    ("smartsolar-100-20_fw139.dump", 493, 493, 2),
    ("smartsolar-100-15_fw164.bin", 12, 12, 0),
    ("smartshunt-500a_fw0405.bin", 2, 2, 0),
]


@pytest.mark.parametrize(("name", "blocks", "valid", "hex_count"), EXPECTED)
def test_capture_counts(name: str, blocks: int, valid: int, hex_count: int) -> None:
    data = capture(name)
    parser = FrameParser()
    events = parser.feed(data)
    stats = parser.stats
    assert stats.valid_blocks + stats.invalid_blocks == blocks
    assert stats.valid_blocks == valid
    assert stats.hex_frames == hex_count
    assert stats.invalid_hex_frames == 0
    assert len(valid_blocks(events)) == valid
    assert all(frame.valid for frame in hex_frames(events))
    # Every byte is accounted for: block bytes + HEX bytes + discarded, minus a trailing partial block.
    accounted = sum(len(event.raw) for event in events) + stats.discarded_bytes
    assert len(data) - 200 < accounted <= len(data)


def test_mangled_capture_yields_no_valid_block() -> None:
    data = capture("bmv-700_mangled-all-bad.dump")
    parser = FrameParser()
    events = parser.feed(data)
    assert parser.stats.valid_blocks == 0
    assert valid_blocks(events) == []
    assert not any(isinstance(event, TextBlock) and event.fields for event in events)
    # LF-only lines never open a block: everything but stray ':' HEX starts is discarded.
    assert parser.stats.discarded_bytes + sum(len(event.raw) for event in events) == len(data)


def test_junk_start_first_block_is_valid() -> None:
    parser = FrameParser()
    events = parser.feed(capture("bmv-712_fw0403_b-junk-start.log"))
    assert isinstance(events[0], TextBlock)
    assert events[0].valid
    assert events[0].fields["PID"] == "0xA381"
    assert parser.stats.discarded_bytes == 36


def test_mid_field_start_drops_the_partial_block() -> None:
    parser = FrameParser()
    events = parser.feed(capture("smartsolar-100-20_fw139.dump"))
    first = events[0]
    assert isinstance(first, TextBlock)
    assert first.valid
    assert next(iter(first.fields)) == "PID"
    assert parser.stats.invalid_blocks == 0


def test_bmv712_values() -> None:
    blocks = valid_blocks(FrameParser().feed(capture("bmv-712_fw0403_a.log")))
    device = DeviceFrame()
    device.update(blocks[0])
    device.update(blocks[1])
    assert blocks[1].fields["V"] == "13043"
    values = device.values
    assert values["V"] == 13.043
    assert values["I"] == 3.856
    assert values["T"] == 23.0
    assert values["SOC"] == 100.0
    assert values["TTG"] is None  # -1 = infinite
    assert values["H17"] == 12.24
    assert values["H18"] == 11.45
    assert values["H1"] == -161.154
    assert values["Alarm"] is False
    assert device.product_id == 0xA381
    assert device.product_name == "BMV-712 Smart"
    assert device.firmware == "4.03"


def test_bluesolar_values_and_history_frames() -> None:
    events = FrameParser().feed(capture("bluesolar-mppt-75-15_fw150.log"))
    device = DeviceFrame()
    device.update(valid_blocks(events)[0])
    values = device.values
    assert values["VPV"] == 16.16
    assert values["PPV"] == 74.0
    assert values["CS"] is ChargeState.BULK
    assert values["MPPT"] is TrackerMode.MPP_TRACKER
    assert values["ERR"] is ErrorCode.NO_ERROR
    assert values["H19"] == 6.14
    assert values["H20"] == 0.16
    assert values["LOAD"] is False
    assert values["HSDS"] == 35
    assert device.serial_number == "HQ1909TTJRP"
    assert device.product_name == "BlueSolar MPPT 75/15"
    assert device.firmware == "1.50"
    frames = hex_frames(events)
    today = next(frame for frame in frames if frame.register == 0x1050)
    assert isinstance(today.value, dict)
    assert today.value["yield_kwh"] == 0.16  # same as H20 of the surrounding blocks
    assert today.value["power_max_w"] == 74  # H21
    assert today.value["day_sequence"] == 35  # HSDS
    total = next(frame for frame in frames if frame.register == 0x104F)
    assert isinstance(total.value, dict)
    assert total.value["yield_user_kwh"] in (6.14, 6.15, 6.16)  # H19 around it


def test_bmv700_values() -> None:
    blocks = valid_blocks(FrameParser().feed(capture("bmv-700_fw0308.dump")))
    device = DeviceFrame()
    for block in blocks[:2]:
        device.update(block)
    values = device.values
    assert values["V"] == 12.065
    assert values["I"] == -7.625
    assert values["P"] == -92.0
    assert values["CE"] == -65.473
    assert values["SOC"] == 83.9
    assert values["TTG"] == 942
    assert values["H9"] == 368003
    assert values["H6"] == -5526.294
    assert device.product_name == "BMV-700"
    assert device.firmware == "3.08"


def test_smartsolar_off_reason() -> None:
    blocks = valid_blocks(FrameParser().feed(capture("smartsolar-100-15_fw164.bin")))
    device = DeviceFrame()
    device.update(blocks[0])
    assert device.values["OR"] == OffReason.NO_INPUT_POWER
    assert device.values["IL"] == 0.8


def test_hex_frames_are_glued_after_checksum_bytes() -> None:
    data = capture("bluesolar-mppt-75-15_fw150.log")
    events = FrameParser().feed(data)
    for index, event in enumerate(events):
        if isinstance(event, HexFrame):
            assert data.find(event.raw) > 0
            assert isinstance(events[index - 1], (TextBlock, HexFrame))
