"""What the sensor of each VE.Direct label is, per device family: its name and state texts (translation key),
unit, device and state class, enum options, and how it shows its decoded value.

The same label can mean another thing on another family: CS is the state of a charger (an MPPT, a Phoenix
charger) but the state of an inverter as a whole (inverting, searching for a load...); such a label has the
family's own description, with its own translation key (its own name and state texts). Every other label reads
the same everywhere (V is the battery's DC voltage on every device). Only the words change: the unique id is
the device key and the label whatever the family, so an entity keeps its entity id.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntityDescription, SensorStateClass
from homeassistant.const import EntityCategory
from homeassistant.helpers.typing import StateType

from .entity import HA_UNITS
from .vedirect import FIELD_SPECS
from .vedirect.codes import (
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
from .vedirect.fields import Value
from .vedirect.registers import Family

NO_FLAGS = "none"
SEVERAL_FLAGS = "multiple"


def _number(value: Value) -> StateType:
    """Measurements are floats/ints in base units already; anything else is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _code_key(value: Value) -> StateType:
    """The snake_case key of a known code; a code this table does not know has no state (see attributes)."""
    if isinstance(value, VeCode) and value.name and not value.name.startswith("UNKNOWN_"):
        return value.key
    return None


def _flags_key(value: Value) -> StateType:
    """The single active reason, "none" or "multiple" (all active reasons are in the attributes)."""
    if not isinstance(value, VeFlags):
        return None
    keys = value.keys
    if not keys:
        return NO_FLAGS
    if len(keys) > 1:
        return SEVERAL_FLAGS
    return None if keys[0].startswith("bit_") else keys[0]


def _text(value: Value) -> StateType:
    return None if value is None else str(value)


def _code_attributes(value: Value) -> dict[str, Any]:
    return {"code": int(value)} if isinstance(value, VeCode) else {}


def _flags_attributes(value: Value) -> dict[str, Any]:
    return {"code": int(value), "reasons": value.keys} if isinstance(value, VeFlags) else {}


def _code_options(codes: type[VeCode]) -> list[str]:
    return [member.key for member in codes]


def _flags_options(codes: type[VeFlags]) -> list[str]:
    return [NO_FLAGS, *(member.name.lower() for member in codes if member.name), SEVERAL_FLAGS]


@dataclass(frozen=True, kw_only=True)
class VeDirectSensorDescription(SensorEntityDescription):
    """A VE.Direct label as a sensor; ``key`` is the label."""

    value_fn: Callable[[Value], StateType] = _number
    attributes_fn: Callable[[Value], dict[str, Any]] | None = None


def _measure(
    label: str,
    key: str,
    device_class: SensorDeviceClass | None,
    precision: int,
    *,
    state_class: SensorStateClass | None = SensorStateClass.MEASUREMENT,
) -> VeDirectSensorDescription:
    """A measured quantity, in the unit the field registry decodes it into."""
    unit = FIELD_SPECS[label].unit
    return VeDirectSensorDescription(
        key=label,
        translation_key=key,
        device_class=device_class,
        native_unit_of_measurement=None if unit is None else HA_UNITS[unit],
        state_class=state_class,
        suggested_display_precision=precision,
    )


def _voltage(label: str, key: str, precision: int = 2) -> VeDirectSensorDescription:
    return _measure(label, key, SensorDeviceClass.VOLTAGE, precision)


def _current(label: str, key: str, precision: int = 2) -> VeDirectSensorDescription:
    return _measure(label, key, SensorDeviceClass.CURRENT, precision)


def _power(label: str, key: str, state_class: SensorStateClass | None) -> VeDirectSensorDescription:
    return _measure(label, key, SensorDeviceClass.POWER, 0, state_class=state_class)


def _energy(label: str, key: str, state_class: SensorStateClass | None) -> VeDirectSensorDescription:
    return _measure(label, key, SensorDeviceClass.ENERGY, 2, state_class=state_class)


def _history(
    label: str,
    key: str,
    *,
    device_class: SensorDeviceClass | None = None,
    state_class: SensorStateClass | None = None,
    precision: int = 0,
) -> VeDirectSensorDescription:
    """BMV history (H1..H16): diagnostic and disabled by default (rarely looked at, noisy in the recorder)."""
    return replace(
        _measure(label, key, device_class, precision, state_class=state_class),
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    )


def _enum(label: str, key: str, codes: type[VeCode] | type[VeFlags]) -> VeDirectSensorDescription:
    """A code (one state) or a flag set (none, its one active reason, or "multiple") as a translated enum."""
    if issubclass(codes, VeFlags):
        options, value_fn, attributes_fn = _flags_options(codes), _flags_key, _flags_attributes
    else:
        options, value_fn, attributes_fn = _code_options(codes), _code_key, _code_attributes
    return VeDirectSensorDescription(
        key=label,
        translation_key=key,
        device_class=SensorDeviceClass.ENUM,
        options=options,
        value_fn=value_fn,
        attributes_fn=attributes_fn,
    )


_COUNT = SensorStateClass.TOTAL_INCREASING

SENSOR_DESCRIPTIONS: Mapping[str, VeDirectSensorDescription] = {
    description.key: description
    for description in (
        _voltage("V", "battery_voltage"),
        _voltage("V2", "battery_voltage_2"),
        _voltage("V3", "battery_voltage_3"),
        _voltage("VS", "starter_voltage"),
        _voltage("VM", "midpoint_voltage"),
        _measure("DM", "midpoint_deviation", None, 1),
        _voltage("VPV", "panel_voltage"),
        _power("PPV", "panel_power", SensorStateClass.MEASUREMENT),
        _current("I", "battery_current"),
        _current("I2", "battery_current_2"),
        _current("I3", "battery_current_3"),
        _current("IL", "load_current"),
        _measure("T", "battery_temperature", SensorDeviceClass.TEMPERATURE, 0),
        _power("P", "battery_power", SensorStateClass.MEASUREMENT),
        _measure("CE", "consumed_amp_hours", None, 1),
        _measure("SOC", "state_of_charge", SensorDeviceClass.BATTERY, 1),
        _measure("TTG", "time_to_go", SensorDeviceClass.DURATION, 0),
        _enum("CS", "charger_state", ChargeState),
        _enum("ERR", "charger_error", ErrorCode),
        _enum("MPPT", "tracker_mode", TrackerMode),
        _enum("MODE", "device_mode", DeviceMode),
        _enum("MON", "monitor_mode", MonitorMode),
        _enum("OR", "off_reason", OffReason),
        _enum("AR", "alarm_reason", AlarmReason),
        _enum("WARN", "warning_reason", AlarmReason),
        _history("H1", "deepest_discharge", precision=1),
        _history("H2", "last_discharge", precision=1),
        _history("H3", "average_discharge", precision=1),
        _history("H4", "charge_cycles", state_class=_COUNT),
        _history("H5", "full_discharges", state_class=_COUNT),
        _history("H6", "cumulative_amp_hours", precision=1),
        _history("H7", "min_battery_voltage", device_class=SensorDeviceClass.VOLTAGE, precision=2),
        _history("H8", "max_battery_voltage", device_class=SensorDeviceClass.VOLTAGE, precision=2),
        _history("H9", "time_since_full_charge", device_class=SensorDeviceClass.DURATION),
        _history("H10", "automatic_syncs", state_class=_COUNT),
        _history("H11", "low_voltage_alarms", state_class=_COUNT),
        _history("H12", "high_voltage_alarms", state_class=_COUNT),
        _history("H13", "low_starter_voltage_alarms", state_class=_COUNT),
        _history("H14", "high_starter_voltage_alarms", state_class=_COUNT),
        _history("H15", "min_starter_voltage", device_class=SensorDeviceClass.VOLTAGE, precision=2),
        _history("H16", "max_starter_voltage", device_class=SensorDeviceClass.VOLTAGE, precision=2),
        _energy("H17", "discharged_energy", SensorStateClass.TOTAL_INCREASING),
        _energy("H18", "charged_energy", SensorStateClass.TOTAL_INCREASING),
        _energy("H19", "yield_total", SensorStateClass.TOTAL_INCREASING),
        _energy("H20", "yield_today", SensorStateClass.TOTAL_INCREASING),
        _power("H21", "max_power_today", None),
        _energy("H22", "yield_yesterday", None),
        _power("H23", "max_power_yesterday", None),
        _voltage("AC_OUT_V", "ac_output_voltage", precision=1),
        _current("AC_OUT_I", "ac_output_current", precision=1),
        _measure("AC_OUT_S", "ac_output_apparent_power", SensorDeviceClass.APPARENT_POWER, 0),
        _voltage("DC_IN_V", "dc_input_voltage"),
        _current("DC_IN_I", "dc_input_current", precision=1),
        _power("DC_IN_P", "dc_input_power", SensorStateClass.MEASUREMENT),
        VeDirectSensorDescription(
            key="HSDS",
            translation_key="day_sequence_number",
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=False,
        ),
        VeDirectSensorDescription(
            key="BMV",
            translation_key="model_description",
            value_fn=_text,
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=False,
        ),
    )
}


def _other_field(label: str) -> VeDirectSensorDescription:
    """A label without a description (unknown to the registry, CAP_BLE, HC#...): raw text, never dropped."""
    return VeDirectSensorDescription(
        key=label,
        translation_key="other_field",
        translation_placeholders={"label": label},
        value_fn=_text,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    )


# The labels that mean something else on a family's devices (a family without an entry reads the common ones).
FAMILY_DESCRIPTIONS: Mapping[Family, Mapping[str, VeDirectSensorDescription]] = {
    Family.INVERTER: {"CS": _enum("CS", "device_state", ChargeState)},
}


def field_description(label: str, family: Family | None) -> VeDirectSensorDescription:
    """The sensor of ``label`` on a device of ``family`` (None: a charger, a DC/DC converter, unknown): the
    family's own description, else the common one, else the raw text of a label no table describes."""
    own = FAMILY_DESCRIPTIONS.get(family, {}) if family is not None else {}
    return own.get(label) or SENSOR_DESCRIPTIONS.get(label) or _other_field(label)
