"""Field registry, decoding to base units and the JSON-storable scalar form."""

import json

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.vemonitor.vedirect import (
    FIELD_SPECS,
    PRODUCTS,
    AlarmReason,
    BleCapabilities,
    ChargeState,
    DeviceMode,
    ErrorCode,
    FieldKind,
    MonitorMode,
    OffReason,
    TrackerMode,
    decode_value,
    field_spec,
    product_name,
    scalar_value,
)

REFERENCE_LABELS = [
    "V",
    "V2",
    "V3",
    "VS",
    "VM",
    "DM",
    "VPV",
    "PPV",
    "I",
    "I2",
    "I3",
    "IL",
    "LOAD",
    "T",
    "P",
    "CE",
    "SOC",
    "TTG",
    "Alarm",
    "Relay",
    "AR",
    "OR",
    "H1",
    "H2",
    "H3",
    "H4",
    "H5",
    "H6",
    "H7",
    "H8",
    "H9",
    "H10",
    "H11",
    "H12",
    "H13",
    "H14",
    "H15",
    "H16",
    "H17",
    "H18",
    "H19",
    "H20",
    "H21",
    "H22",
    "H23",
    "ERR",
    "CS",
    "BMV",
    "FW",
    "FWE",
    "PID",
    "SER#",
    "HSDS",
    "MODE",
    "AC_OUT_V",
    "AC_OUT_I",
    "AC_OUT_S",
    "WARN",
    "MPPT",
    "CAP_BLE",
    "MON",
    "DC_IN_V",
    "DC_IN_I",
    "DC_IN_P",
    "HC#",
]


def test_seed_golden_scalars() -> None:
    raw = {"V": "12064", "I": "-7520", "P": "-91", "SOC": "838", "Alarm": "OFF", "AR": "0", "Relay": "OFF"}
    scalars = {label: scalar_value(label, value) for label, value in raw.items()}
    assert scalars == {"V": 12.064, "I": -7.52, "P": -91.0, "SOC": 83.8, "Alarm": 0, "AR": 0, "Relay": 0}
    assert json.dumps(scalars) == (
        '{"V": 12.064, "I": -7.52, "P": -91.0, "SOC": 83.8, "Alarm": 0, "AR": 0, "Relay": 0}'
    )


def test_every_reference_label_has_a_spec() -> None:
    assert set(REFERENCE_LABELS) <= set(FIELD_SPECS)
    keys = [spec.key for spec in FIELD_SPECS.values()]
    assert len(keys) == len(set(keys))
    assert all(key.isidentifier() and key == key.lower() for key in keys)
    spec = field_spec("VPV")
    assert spec is not None
    assert (spec.key, spec.kind, spec.unit) == ("panel_voltage", FieldKind.MEASUREMENT, "V")
    assert FIELD_SPECS["H19"].kind is FieldKind.ENERGY
    assert FIELD_SPECS["CS"].codes is ChargeState


@pytest.mark.parametrize(
    ("label", "raw", "expected"),
    [
        ("V", "12064", 12.064),
        ("VS", "-12", -0.012),
        ("DM", "-15", -1.5),
        ("I", "-7520", -7.52),
        ("IL", "800", 0.8),
        ("CE", "-65473", -65.473),
        ("SOC", "1000", 100.0),
        ("T", "23", 23.0),
        ("TTG", "-1", None),
        ("TTG", "942", 942),
        ("H1", "-161154", -161.154),
        ("H4", "12", 12),
        ("H9", "368003", 368003),
        ("H17", "1224", 12.24),
        ("H19", "614", 6.14),
        ("H21", "74", 74.0),
        ("AC_OUT_V", "23000", 230.0),
        ("AC_OUT_I", "15", 1.5),
        ("DC_IN_V", "1289", 12.89),
        ("DC_IN_I", "-3", -0.3),
        ("CE", "---", None),
        ("T", "---", None),
        ("Alarm", "ON", True),
        ("Relay", "off", False),
        ("LOAD", "On", True),
        ("Alarm", "maybe", None),
        ("PID", "0xA381", 0xA381),
        ("PID", "0x203", 0x203),
        ("PID", "A381", None),
        ("FW", "0308", "3.08"),
        ("FW", "150", "1.50"),
        ("FW", "C208", "2.08-rc C"),
        ("FW", "x", None),
        ("FWE", "0208FF", "2.08"),
        ("FWE", "208FF", "2.08"),
        ("FWE", "020801", "2.08-beta-01"),
        ("FWE", "02", None),
        ("FWE", "0208ZZ", None),
        ("SER#", "HQ1328Y6TF6", "HQ1328Y6TF6"),
        ("BMV", "712 Smart", "712 Smart"),
        ("HC#", "0x1", "0x1"),
        ("V", "12.5", None),
        ("V", "1_000", None),
        ("V", " 12", None),
        ("V", "", None),
        ("Unknown", "whatever", "whatever"),
        ("Unknown", "---", "---"),
    ],
)
def test_decode_value(label: str, raw: str, expected: object) -> None:
    value = decode_value(label, raw)
    assert value == expected
    assert type(value) is type(expected)


def test_codes_and_flags() -> None:
    assert decode_value("CS", "3") is ChargeState.BULK
    assert ChargeState.BULK.key == "bulk"
    assert ChargeState.BULK.label == "Bulk"
    assert decode_value("ERR", "33") is ErrorCode.INPUT_VOLTAGE_TOO_HIGH
    assert decode_value("MPPT", "1") is TrackerMode.LIMITED
    assert decode_value("MODE", "253") is DeviceMode.HIBERNATE
    assert decode_value("MON", "-9") is MonitorMode.SOLAR_CHARGER
    unknown = decode_value("CS", "99")
    assert isinstance(unknown, ChargeState)
    assert unknown == 99
    assert unknown.key == "unknown_99"
    assert "99" in unknown.label
    assert MonitorMode(-42).key == "unknown_minus_42"
    alarms = decode_value("AR", "5")
    assert alarms == AlarmReason.LOW_VOLTAGE | AlarmReason.LOW_SOC
    assert isinstance(alarms, AlarmReason)
    assert alarms.keys == ["low_voltage", "low_soc"]
    assert AlarmReason(1 << 20 | 2).keys == ["high_voltage", "bit_20"]
    assert decode_value("WARN", "256") == AlarmReason.OVERLOAD
    assert decode_value("OR", "0x00000001") == OffReason.NO_INPUT_POWER
    assert decode_value("OR", "0x00000000") == OffReason(0)
    assert decode_value("CAP_BLE", "0x3") == BleCapabilities(3)
    assert decode_value("AR", "-1") is None
    assert decode_value("CS", "bulk") is None


@pytest.mark.parametrize(
    ("label", "raw", "expected"),
    [
        ("OR", "0x00000000", 0),
        ("OR", "0x00000101", 0x101),
        ("PID", "0xA042", 0xA042),
        ("CS", "3", 3),
        ("MON", "-9", -9),
        ("H4", "7", 7),
        ("HSDS", "35", 35),
        ("LOAD", "ON", 1),
        ("TTG", "-1", -1.0),
        ("TTG", "942", 942.0),
        ("H9", "368003", 368003.0),
        ("FW", "0403", "0403"),
        ("SER#", "HQ1909TTJRP", "HQ1909TTJRP"),
        ("SOC", "---", None),
        ("V", "junk", None),
        ("Custom", "text", "text"),
    ],
)
def test_scalar_value(label: str, raw: str, expected: object) -> None:
    value = scalar_value(label, raw)
    assert value == expected
    assert type(value) is type(expected)


@settings(max_examples=200, deadline=None)
@given(label=st.sampled_from([*FIELD_SPECS, "X"]), raw=st.text(max_size=12))
def test_decoding_never_raises(label: str, raw: str) -> None:
    decode_value(label, raw)
    json.dumps(scalar_value(label, raw))


@settings(max_examples=200, deadline=None)
@given(number=st.integers(-(10**7), 10**7), label=st.sampled_from(["V", "I", "SOC", "H17", "AC_OUT_I", "P"]))
def test_scalars_are_the_shortest_decimal(number: int, label: str) -> None:
    value = scalar_value(label, str(number))
    divisor = FIELD_SPECS[label].divisor
    assert isinstance(value, float)
    assert value == number / divisor
    digits = len(str(divisor)) - 1
    assert float(f"{number / divisor:.{digits}f}") == value


def test_products_table() -> None:
    assert len(PRODUCTS) == 176
    assert PRODUCTS[0x203] == "BMV-700"
    assert PRODUCTS[0xA381] == "BMV-712 Smart"
    assert PRODUCTS[0xA389] == "SmartShunt 500A/50mV"
    assert PRODUCTS[0xA042] == "BlueSolar MPPT 75/15"
    assert PRODUCTS[0xA05F] == "SmartSolar MPPT 100/20"
    assert PRODUCTS[0xA055] == "SmartSolar MPPT 100/15"
    assert PRODUCTS[0xA2FC] == "Phoenix Inverter 48V 1200VA 120Vac 64k HS"
    assert PRODUCTS[0xA442] == "Multi RS Solar 48V 6000VA 230V"
    assert product_name(0x1234) is None
    assert product_name(None) is None


def test_code_lookup_by_non_integer_fails_like_an_enum() -> None:
    with pytest.raises(ValueError, match="not a valid"):
        ChargeState("bulk")  # type: ignore[arg-type]
