"""DeviceFrame: merge of the latest valid blocks of one device."""

import pytest

from custom_components.vemonitor.vedirect import (
    DeviceFrame,
    FrameParser,
    TextBlock,
    decode_value,
    scalar_value,
)

from .helpers import CAPTURES, capture, make_block, valid_blocks

MAIN_LABELS = ["PID", "V", "T", "I", "P", "CE", "SOC", "TTG", "Alarm", "Relay", "AR", "BMV", "FW"]
HISTORY_LABELS = [f"H{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 17, 18)]


def test_bmv712_merged_frame_has_main_and_history_fields() -> None:
    device = DeviceFrame()
    blocks = valid_blocks(FrameParser().feed(capture("bmv-712_fw0403_a.log")))
    for block in blocks:
        assert device.update(block)
    assert set(MAIN_LABELS + HISTORY_LABELS) <= set(device.fields)
    assert set(device.fields) == set(device.values) == set(device.scalars)
    last_main = next(block for block in reversed(blocks) if "PID" in block.fields)
    last_history = next(block for block in reversed(blocks) if "H1" in block.fields)
    assert dict(device.fields) == {**last_history.fields, **last_main.fields}
    assert device.blocks == len(blocks)
    assert device.product_id == 0xA381
    assert device.product_name == "BMV-712 Smart"
    assert device.firmware == "4.03"
    assert device.serial_number is None


def test_invalid_block_is_ignored() -> None:
    device = DeviceFrame()
    assert not device.update(TextBlock({"V": "1"}, b"", valid=False))
    assert device.fields == {}
    assert device.product_name is None
    assert device.firmware is None


def test_values_follow_changes_and_copy_is_a_snapshot() -> None:
    device = DeviceFrame()
    device.update(TextBlock({"V": "12000", "SOC": "500"}, b""))
    snapshot = device.copy()
    device.update(TextBlock({"V": "12500"}, b""))
    assert device.values == {"V": 12.5, "SOC": 50.0}
    assert device.scalars == {"V": 12.5, "SOC": 50.0}
    assert snapshot.values == {"V": 12.0, "SOC": 50.0}
    assert snapshot.scalars == {"V": 12.0, "SOC": 50.0}
    assert snapshot.fields == {"V": "12000", "SOC": "500"}
    assert snapshot.blocks == 1
    snapshot.update(TextBlock({"SOC": "600"}, b""))  # a snapshot is a frame of its own
    assert (snapshot.values["SOC"], snapshot.scalars["SOC"], snapshot.blocks) == (60.0, 60.0, 2)
    assert device.scalars["SOC"] == 50.0


def test_firmware_from_fwe_and_bmv600_name() -> None:
    device = DeviceFrame()
    device.update(TextBlock({"FWE": "0208FF", "BMV": "600S"}, b""))
    assert device.firmware == "2.08"
    assert device.product_name == "600S"
    parser = FrameParser()
    device.update(valid_blocks(parser.feed(make_block({"PID": "0xA042", "SER#": "HQ1"})))[0])
    assert device.product_name == "BlueSolar MPPT 75/15"
    assert device.serial_number == "HQ1"


def test_a_repeated_block_restores_what_another_block_changed() -> None:
    device = DeviceFrame()
    main = TextBlock({"V": "12000", "I": "100"}, b"")
    history = TextBlock({"H1": "5", "H2": "6", "H3": "7"}, b"")
    for block in (main, history, main, history):  # the second pair repeats without change
        device.update(block)
    device.update(TextBlock({"V": "13000", "I": "200"}, b""))
    device.update(history)
    device.update(main)  # same fields as two updates ago: must win again
    assert device.fields == {"V": "12000", "I": "100", "H1": "5", "H2": "6", "H3": "7"}
    assert device.values["V"] == 12.0
    assert device.scalars["V"] == 12.0
    device.update(TextBlock({"H1": "9"}, b""))  # changes a label of the repeated history block
    device.update(history)
    assert device.fields["H1"] == "5"
    assert device.values["H1"] == 0.005  # mAh -> Ah
    assert device.scalars["H1"] == 0.005
    assert device.blocks == 9


def test_views_are_live_and_read_only() -> None:
    device = DeviceFrame()
    values = device.values
    scalars = device.scalars
    device.update(TextBlock({"SOC": "500", "Alarm": "ON", "CS": "3"}, b""))
    assert values == {"SOC": 50.0, "Alarm": True, "CS": 3}
    assert scalars == {"SOC": 50.0, "Alarm": 1, "CS": 3}
    assert type(scalars["CS"]) is int
    assert device.copy().values == values
    assert device.copy().scalars == scalars
    with pytest.raises(TypeError):
        scalars["SOC"] = 1.0  # type: ignore[index]


@pytest.mark.parametrize("name", sorted(path.name for path in CAPTURES.iterdir() if path.suffix != ".md"))
def test_both_forms_follow_the_raw_fields_after_every_block(name: str) -> None:
    """Each block's snapshot holds what decoding its merged raw fields afresh gives (as sample_from did)."""
    device = DeviceFrame()
    for block in valid_blocks(FrameParser().feed(capture(name))):
        device.update(block)
        snapshot = device.copy()
        fields = snapshot.fields.items()
        assert dict(snapshot.scalars) == {label: scalar_value(label, raw) for label, raw in fields}
        assert dict(snapshot.values) == {label: decode_value(label, raw) for label, raw in fields}
