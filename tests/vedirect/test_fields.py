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
    decode_field,
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


# (label, raw, decode_value, scalar_value): both forms, at least one case for every FieldKind.
BOTH_FORMS: list[tuple[str, str, object, object]] = [
    # MEASUREMENT / ENERGY: base units, the same float in both forms
    ("V", "12064", 12.064, 12.064),
    ("VS", "-12", -0.012, -0.012),
    ("DM", "-15", -1.5, -1.5),
    ("I", "-7520", -7.52, -7.52),
    ("IL", "800", 0.8, 0.8),
    ("CE", "-65473", -65.473, -65.473),
    ("SOC", "1000", 100.0, 100.0),
    ("T", "23", 23.0, 23.0),
    ("H1", "-161154", -161.154, -161.154),
    ("H17", "1224", 12.24, 12.24),
    ("H19", "614", 6.14, 6.14),
    ("H21", "74", 74.0, 74.0),
    ("AC_OUT_V", "23000", 230.0, 230.0),
    ("AC_OUT_I", "15", 1.5, 1.5),
    ("DC_IN_V", "1289", 12.89, 12.89),
    ("DC_IN_I", "-3", -0.3, -0.3),
    ("CE", "---", None, None),
    ("T", "---", None, None),
    ("SOC", "---", None, None),
    ("V", "12.5", None, None),
    ("V", "1_000", None, None),
    ("V", " 12", None, None),
    ("V", "", None, None),
    ("V", "junk", None, None),
    # DURATION: whole units for the UI, float scalars; TTG's -1 is infinite: None for the UI, -1.0 stored
    ("TTG", "-1", None, -1.0),
    ("TTG", "942", 942, 942.0),
    ("TTG", "---", None, None),
    ("H9", "368003", 368003, 368003.0),
    ("H9", "-5", -5, -5.0),
    # COUNT
    ("H4", "12", 12, 12),
    ("HSDS", "35", 35, 35),
    ("H10", "x", None, None),
    # BOOL: True/False, stored as 1/0
    ("Alarm", "ON", True, 1),
    ("Relay", "off", False, 0),
    ("LOAD", "On", True, 1),
    ("Alarm", "maybe", None, None),
    # PRODUCT: the UI wants the 0x form, the scalar takes any integer
    ("PID", "0xA381", 0xA381, 0xA381),
    ("PID", "0x203", 0x203, 0x203),
    ("PID", "0xA042", 0xA042, 0xA042),
    ("PID", "203", None, 203),
    ("PID", "A381", None, None),
    # VERSION: formatted for the UI, the raw text stored
    ("FW", "0308", "3.08", "0308"),
    ("FW", "150", "1.50", "150"),
    ("FW", "C208", "2.08-rc C", "C208"),
    ("FW", "x", None, "x"),
    ("FWE", "0208FF", "2.08", "0208FF"),
    ("FWE", "208FF", "2.08", "208FF"),
    ("FWE", "020801", "2.08-beta-01", "020801"),
    ("FWE", "02", None, "02"),
    ("FWE", "0208ZZ", None, "0208ZZ"),
    ("FW", "---", None, None),
    # CODE: a member (or an unknown pseudo-member) for the UI, its plain int stored
    ("CS", "3", ChargeState.BULK, 3),
    ("CS", "99", ChargeState(99), 99),
    ("ERR", "33", ErrorCode.INPUT_VOLTAGE_TOO_HIGH, 33),
    ("MPPT", "1", TrackerMode.LIMITED, 1),
    ("MODE", "253", DeviceMode.HIBERNATE, 253),
    ("MON", "-9", MonitorMode.SOLAR_CHARGER, -9),
    ("CS", "bulk", None, None),
    # FLAGS: a flag set for the UI, the plain int stored (a negative one too)
    ("AR", "5", AlarmReason.LOW_VOLTAGE | AlarmReason.LOW_SOC, 5),
    ("WARN", "256", AlarmReason.OVERLOAD, 256),
    ("OR", "0x00000000", OffReason(0), 0),
    ("OR", "0x00000101", OffReason(0x101), 0x101),
    ("CAP_BLE", "0x3", BleCapabilities(3), 3),
    ("AR", "-1", None, -1),
    ("OR", "---", None, None),
    # TEXT / SERIAL: the raw text in both forms
    ("BMV", "712 Smart", "712 Smart", "712 Smart"),
    ("HC#", "0x1", "0x1", "0x1"),
    ("SER#", "HQ1328Y6TF6", "HQ1328Y6TF6", "HQ1328Y6TF6"),
    ("SER#", "HQ1909TTJRP", "HQ1909TTJRP", "HQ1909TTJRP"),
    ("SER#", "---", None, None),
    # unknown labels: the raw text in both forms, even ---
    ("Unknown", "whatever", "whatever", "whatever"),
    ("Custom", "text", "text", "text"),
    ("Unknown", "---", "---", "---"),
]


@pytest.mark.parametrize(("label", "raw", "value", "scalar"), BOTH_FORMS)
def test_both_forms(label: str, raw: str, value: object, scalar: object) -> None:
    rich, stored = decode_field(label, raw)
    assert (rich, stored) == (value, scalar)
    assert type(rich) is type(value)
    assert type(stored) is type(scalar)  # a plain int, never a code member: the Redis outputs store it
    assert decode_value(label, raw) == rich
    assert type(decode_value(label, raw)) is type(rich)
    assert scalar_value(label, raw) == stored
    assert type(scalar_value(label, raw)) is type(stored)


def test_both_forms_cover_every_kind() -> None:
    covered = {FIELD_SPECS[label].kind for label, *_ in BOTH_FORMS if label in FIELD_SPECS}
    assert covered == set(FieldKind)


def test_not_available_is_none_in_both_forms_for_every_label() -> None:
    for label in FIELD_SPECS:
        assert decode_field(label, "---") == (None, None)


def test_kinds_pick_platforms() -> None:
    """BOOL -> binary sensor; PRODUCT, VERSION, SERIAL -> device registry; everything else -> sensor."""
    by_kind = {
        kind: {label for label, spec in FIELD_SPECS.items() if spec.kind is kind} for kind in FieldKind
    }
    assert by_kind[FieldKind.BOOL] == {"LOAD", "Alarm", "Relay"}
    device_labels = by_kind[FieldKind.PRODUCT] | by_kind[FieldKind.VERSION] | by_kind[FieldKind.SERIAL]
    assert device_labels == {"PID", "FW", "FWE", "SER#"}
    assert by_kind[FieldKind.SERIAL] == {"SER#"}
    assert by_kind[FieldKind.TEXT] == {"BMV", "HC#"}


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
def test_decoding_never_raises_and_both_forms_agree(label: str, raw: str) -> None:
    value, scalar = decode_field(label, raw)
    json.dumps(scalar)
    assert (decode_value(label, raw), scalar_value(label, raw)) == (value, scalar)


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
