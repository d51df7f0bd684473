"""Register tables: encode/decode of every type, ranges, per-12 V bounds, options, n/a values, families."""

import math
import struct

import pytest

from custom_components.vemonitor.vedirect import (
    REGISTER_TABLES,
    Family,
    Register,
    RegisterType,
    family_of,
    find_register,
)
from custom_components.vemonitor.vedirect.codes import AlarmReason, OffReason
from custom_components.vemonitor.vedirect.hexproto import REGISTERS, decode_register, register_name
from custom_components.vemonitor.vedirect.products import PRODUCTS
from custom_components.vemonitor.vedirect.registers import (
    ABSORPTION_VOLTAGE,
    BATTERY_CAPACITY,
    BATTERY_TEMPERATURE,
    DAY_RECORD,
    DEVICE_MODE,
    DEVICE_STATE,
    HISTORY_LAST_DAY,
    HISTORY_TODAY,
    LOAD_OUTPUT_CONTROL,
    SERIAL_NUMBER,
    history_day,
    known_register_ids,
)


def reg(family: Family | None, register_id: int) -> Register:
    found = find_register(family, register_id)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("rtype", "payload", "value", "scale"),
    [
        (RegisterType.UN8, b"\x0c", 12, 1.0),
        (RegisterType.UN16, b"\xa0\x05", 14.4, 0.01),
        (RegisterType.SN16, b"\x9c\xff", -1.0, 0.01),
        (RegisterType.UN32, b"\x10\x27\x00\x00", 100.0, 0.01),
        (RegisterType.SN32, b"\x18\xfc\xff\xff", -1.0, 0.001),
        (RegisterType.UN16, b"\xc8\x00", 200, 1.0),
    ],
)
def test_numeric_types_round_trip(rtype: RegisterType, payload: bytes, value: float, scale: float) -> None:
    register = Register(0x1234, "test", rtype, scale)
    decoded = register.decode(payload)
    assert decoded == value
    assert type(decoded) is (int if scale == 1 else float)
    assert register.encode(value) == payload
    assert register.size == len(payload)
    with pytest.raises(ValueError, match="bytes for a"):
        register.decode(payload + b"\x00")


def test_scaled_values_are_exact_like_the_text_fields() -> None:
    absorption = reg(Family.MPPT, ABSORPTION_VOLTAGE)
    assert absorption.decimals == 2
    for raw in range(1000, 1601):
        value = absorption.decode(struct.pack("<H", raw))
        assert value == raw / 100
        assert absorption.encode(value) == struct.pack("<H", raw)
    assert Register(1, "odd", RegisterType.UN16, 2.5).decode(b"\x02\x00") == 5.0
    assert Register(1, "odd", RegisterType.UN16, 2.5).decimals == 0


def test_type_limits_and_bad_values() -> None:
    un8 = Register(1, "byte", RegisterType.UN8)
    with pytest.raises(ValueError, match="does not fit"):
        un8.encode(256)
    with pytest.raises(ValueError, match="does not fit"):
        un8.encode(-1)
    assert un8.encode(True) == b"\x01"
    for bad in ("12", None, math.nan, math.inf, {"a": 1}):
        with pytest.raises(ValueError, match="a number is needed"):
            un8.encode(bad)  # type: ignore[arg-type]


def test_strings() -> None:
    serial = reg(None, SERIAL_NUMBER)
    assert serial.type is RegisterType.STRING
    assert serial.size is None
    assert serial.decode(b"HQ2112ABCDE\x00\x00") == "HQ2112ABCDE"
    assert serial.decode(b" HQ1 ") == "HQ1"
    assert serial.encode("HQ1") == b"HQ1"
    with pytest.raises(ValueError, match="ASCII"):
        serial.encode("Ωmega")
    with pytest.raises(ValueError, match="ASCII"):
        serial.encode(12)


def test_records() -> None:
    today = reg(Family.MPPT, HISTORY_TODAY)
    assert today.key == "history_today"
    assert today.record is DAY_RECORD
    payload = bytearray(34)
    struct.pack_into("<I", payload, 1, 1234)
    struct.pack_into("<H", payload, 28, 54)
    decoded = today.decode(bytes(payload))
    assert isinstance(decoded, dict)
    assert decoded["yield_kwh"] == 12.34
    assert decoded["battery_current_max_a"] == 5.4
    assert decoded["errors"] == [0, 0, 0, 0]
    short = today.decode(b"\x00\x01")
    assert isinstance(short, dict)
    assert set(short.values()) == {None}
    with pytest.raises(ValueError, match="empty record"):
        today.decode(b"")
    with pytest.raises(ValueError, match="cannot be written"):
        today.encode(1)
    assert reg(Family.MPPT, 0x1051).key == "history_yesterday"
    assert reg(Family.MPPT, HISTORY_TODAY + 5) == history_day(5)
    assert history_day(5).key == "history_day_5"
    assert history_day(0) is reg(Family.MPPT, HISTORY_TODAY)
    for days in (-1, HISTORY_LAST_DAY - HISTORY_TODAY + 1):
        with pytest.raises(ValueError, match="no daily history"):
            history_day(days)
    assert find_register(Family.BMV, HISTORY_TODAY + 5) is None


def test_ranges_and_per_12v() -> None:
    absorption = reg(Family.MPPT, ABSORPTION_VOLTAGE)
    assert absorption.per_12v
    assert absorption.writable
    assert absorption.bounds() == (10.0, 16.0)
    assert absorption.bounds(24) == (20.0, 32.0)
    assert absorption.bounds(48) == (40.0, 64.0)
    assert absorption.encode(16.0) == struct.pack("<H", 1600)
    with pytest.raises(ValueError, match=r"outside 10\.0\.\.16\.0 V"):
        absorption.encode(28.8)
    assert absorption.encode(28.8, battery_voltage=24) == struct.pack("<H", 2880)
    with pytest.raises(ValueError, match="outside"):
        absorption.encode(9.99)
    capacity = reg(Family.BMV, BATTERY_CAPACITY)
    assert not capacity.per_12v
    assert capacity.bounds(24) == (1, 9999)
    assert capacity.encode(500) == b"\xf4\x01"
    for bad in (0, 10000):
        with pytest.raises(ValueError, match="outside"):
            capacity.encode(bad)
    peukert = reg(Family.BMV, 0x1005)
    assert peukert.encode(1.25) == struct.pack("<H", 125)
    with pytest.raises(ValueError, match="outside"):
        peukert.encode(1.51)
    max_current = reg(Family.MPPT, 0xEDF0)
    assert max_current.bounds() == (0.0, None)
    assert max_current.maximum_from == 0xEDDF
    assert max_current.encode(15.0) == struct.pack("<H", 150)
    shutdown = reg(Family.INVERTER, 0x2210)
    assert shutdown.per_12v
    assert shutdown.bounds(24) == (18.0, 25.0)


def test_options() -> None:
    load = reg(Family.MPPT, LOAD_OUTPUT_CONTROL)
    assert load.writable
    assert load.decode(b"\x04") == "on"
    assert load.decode(b"\x07") == "automatic_energy_selector"
    assert load.decode(b"\x09") == 9  # a code newer than the table keeps its number
    assert load.encode("off") == b"\x00"
    assert load.encode(1) == b"\x01"
    for bad in ("maybe", 9, 1.0):
        with pytest.raises(ValueError, match="is not one of"):
            load.encode(bad)
    mppt_mode = reg(Family.MPPT, DEVICE_MODE)
    assert mppt_mode.writable
    assert mppt_mode.decode(b"\x00") == mppt_mode.decode(b"\x04") == "off"
    assert mppt_mode.encode("off") == b"\x04"  # the first code of a key is the one written
    assert mppt_mode.encode("on") == b"\x01"
    inverter_mode = reg(Family.INVERTER, DEVICE_MODE)
    assert inverter_mode.options == {2: "on", 4: "off", 5: "eco"}
    assert inverter_mode.encode("eco") == b"\x05"
    generic_mode = reg(None, DEVICE_MODE)
    assert not generic_mode.writable
    assert generic_mode.decode(b"\x02") == "inverter"
    assert reg(Family.BMV, DEVICE_MODE) is generic_mode
    assert reg(None, DEVICE_STATE).decode(b"\x05") == "float"
    assert reg(Family.BMV, 0xEEB8).decode(struct.pack("<h", -9)) == "solar_charger"


def test_bitmasks_and_not_available() -> None:
    off_reason = reg(Family.MPPT, 0x0207).decode(struct.pack("<I", 0x05))
    assert off_reason == OffReason.NO_INPUT_POWER | OffReason.SWITCHED_OFF_REGISTER
    assert isinstance(off_reason, OffReason)
    alarm = reg(Family.INVERTER, 0x031E).decode(struct.pack("<H", 0x0101))
    assert isinstance(alarm, AlarmReason)
    assert alarm.keys == ["low_voltage", "overload"]
    temperature = reg(Family.BMV, BATTERY_TEMPERATURE)
    assert temperature.unit == "°C"
    assert temperature.decode(struct.pack("<H", 29815)) == 25.0
    assert temperature.decode(struct.pack("<H", 27315 - 1000)) == -10.0
    assert temperature.decode(b"\xff\xff") is None
    assert temperature.encode(25.0) == struct.pack("<H", 29815)
    assert reg(Family.MPPT, BATTERY_TEMPERATURE) is temperature


def test_tables() -> None:
    for family, table in REGISTER_TABLES.items():
        assert {SERIAL_NUMBER, DEVICE_MODE, DEVICE_STATE} <= table.keys(), family
        assert all(register_id == register.id for register_id, register in table.items())
        keys = [register.key for register in table.values()]
        assert len(keys) == len(set(keys)), family
        for register in table.values():
            assert register.key.isidentifier()
            assert register.key.islower()
            if register.writable:
                assert register.options is not None or register.minimum is not None, register.key
    assert reg(Family.BMV, 0x1002).unit == "%"
    assert reg(Family.MPPT, 0xEDE7).unit == "A"
    assert find_register(Family.BMV, 0xEDF7) is None
    assert find_register(Family.MPPT, 0x9999) is None
    ids = known_register_ids()
    assert ids == sorted(ids)
    assert ids == sorted(REGISTERS)
    assert {register.key for register in REGISTERS.values()} >= {"history_day_30", "ac_out_voltage", "soc"}


def test_hexproto_uses_the_table() -> None:
    assert register_name(ABSORPTION_VOLTAGE) == "absorption_voltage"
    assert register_name(HISTORY_TODAY + 2) == "history_day_2"
    assert decode_register(ABSORPTION_VOLTAGE, b"\xa0\x05") == 14.4
    assert decode_register(ABSORPTION_VOLTAGE, b"\xa0\x05\x00") == 0x05A0  # unexpected length: the integer
    assert decode_register(BATTERY_TEMPERATURE, b"\xff\xff") is None


@pytest.mark.parametrize(
    ("product_id", "fields", "family"),
    [
        (0xA053, {}, Family.MPPT),
        (0x0300, {}, Family.MPPT),
        (0xA1FE, {}, Family.MPPT),  # a future MPPT id in the range
        (0x0203, {}, Family.BMV),
        (0xA389, {"SOC": "1000"}, Family.BMV),
        (0xA38F, {}, Family.BMV),
        (0xA201, {}, Family.INVERTER),
        (0x0200, {"SOC": "1000"}, None),  # BMV-600: no HEX
        (0xA30A, {"PPV": "0"}, None),  # a charger: its labels do not make it an MPPT
        (0xA3F0, {}, None),
        (None, {"PPV": "12"}, Family.MPPT),
        (None, {"H1": "-100"}, Family.BMV),
        (None, {"H18": "0"}, Family.BMV),
        (0x9999, {"SOC": "990"}, Family.BMV),
        (None, {"AC_OUT_V": "23000", "PPV": "0"}, Family.INVERTER),
        (None, {"V": "12800", "H19": "0"}, None),
        (None, {}, None),
    ],
)
def test_family_of(product_id: int | None, fields: dict[str, str], family: Family | None) -> None:
    assert family_of(product_id, fields) is family


def test_family_of_every_known_product() -> None:
    for product_id, name in PRODUCTS.items():
        if "MPPT" in name:
            expected: Family | None = Family.MPPT
        elif "SmartShunt" in name or name.startswith("BMV-7"):
            expected = Family.BMV
        elif name.startswith("Phoenix Inverter"):
            expected = Family.INVERTER
        else:
            expected = None
        assert family_of(product_id, {}) is expected, name
