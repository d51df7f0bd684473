"""Sensors of a VE.Direct device (one per field it sends, plus link diagnostics), and of a Redis server: its
topology, and the columns its Redis inputs read."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from operator import attrgetter
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .entity import (
    HA_UNITS,
    ChangedStateWriter,
    VeDirectFieldEntity,
    VeDirectLinkEntity,
    async_add_field_entities,
)
from .hex_entities import HEX_SENSORS, HexEntity, HexSensorDescription, async_add_hex_entities
from .models import VeDirectConfigEntry, VeDirectRuntime, VeMonitorConfigEntry, is_redis_server, is_vedirect
from .redis_entities import server_sensors
from .redis_inputs import InputColumn, RedisInputCoordinator, async_add_input_sensors
from .vedirect import FIELD_SPECS, FieldKind
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

PARALLEL_UPDATES = 0

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


class FieldSensor(SensorEntity):
    """A sensor of one VE.Direct label, showing `field_value` as its description says."""

    entity_description: VeDirectSensorDescription

    @property
    def field_value(self) -> Value:
        """The label's decoded value."""
        raise NotImplementedError

    @property
    @override
    def native_value(self) -> StateType:
        """The label's decoded value, in the description's unit / as an enum key."""
        return self.entity_description.value_fn(self.field_value)

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Raw codes and all active reasons of code and flag fields."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.field_value)


class VeDirectSensor(VeDirectFieldEntity, FieldSensor):
    """One VE.Direct label of the latest sample."""


@dataclass(frozen=True, kw_only=True)
class VeDirectLinkSensorDescription(SensorEntityDescription):
    """A link diagnostic computed from the device's runtime."""

    value_fn: Callable[[VeDirectRuntime], StateType | datetime]


def _block_counter(key: str, *, enabled: bool) -> VeDirectLinkSensorDescription:
    """A counter of the client's parser (``key`` is the name of the counter in its stats)."""
    return VeDirectLinkSensorDescription(
        key=key,
        translation_key=key,
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=enabled,
        value_fn=attrgetter(f"client.stats.{key}"),
    )


# What changes with every block (valid blocks, the last sample time) is disabled by default: enabled, it
# would write a recorder row and (the timestamp) a logbook line every second. Invalid blocks change rarely
# and tell of a bad cable: enabled.
LINK_SENSOR_DESCRIPTIONS: tuple[VeDirectLinkSensorDescription, ...] = (
    _block_counter("valid_blocks", enabled=False),
    _block_counter("invalid_blocks", enabled=True),
    VeDirectLinkSensorDescription(
        key="last_sample",
        translation_key="last_sample",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda runtime: runtime.coordinator.data.timestamp if runtime.coordinator.data else None,
    ),
)


class VeDirectLinkSensor(VeDirectLinkEntity, SensorEntity):
    """Block counters and the time of the last sample."""

    entity_description: VeDirectLinkSensorDescription

    @property
    @override
    def native_value(self) -> StateType | datetime:
        """Read from the coordinator and its client."""
        return self.entity_description.value_fn(self.runtime)

    @override
    def shown(self) -> object:
        """Always available: the value alone."""
        return self.native_value


def _stored(value: Value) -> StateType:
    """A label the registry does not describe: its stored number or text as is."""
    return value if isinstance(value, int | float | str) and not isinstance(value, bool) else None


def input_description(label: str) -> VeDirectSensorDescription:
    """A Redis input column: described as the device's sensor of its label (enabled, not diagnostic: the
    user chose the column), an ON/OFF label as an on/off enum, any other label as its stored value."""
    if (description := SENSOR_DESCRIPTIONS.get(label)) is not None:
        return replace(description, entity_category=None, entity_registry_enabled_default=True)
    spec = FIELD_SPECS.get(label)
    if spec is not None and spec.kind is FieldKind.BOOL:
        return VeDirectSensorDescription(
            key=label,
            translation_key="redis_input_on_off",
            device_class=SensorDeviceClass.ENUM,
            options=["off", "on"],
            value_fn=lambda value: None if not isinstance(value, bool) else "on" if value else "off",
        )
    return VeDirectSensorDescription(key=label, value_fn=_stored)


class RedisInputSensor(ChangedStateWriter, CoordinatorEntity[RedisInputCoordinator], FieldSensor):
    """One column of a Redis input, named by its reference name (else its label)."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: RedisInputCoordinator, column: InputColumn) -> None:
        """Put the sensor on the input's device."""
        super().__init__(coordinator)
        self.column = column
        self.entity_description = input_description(column.label)
        self._attr_unique_id = f"{coordinator.subentry_id}_{column.key}"
        self._attr_name = column.name
        self._attr_device_info = coordinator.device_info

    @property
    @override
    def available(self) -> bool:
        """Unavailable while the node has no recent point, or its newest point lacks the label."""
        return super().available and self.coordinator.has(self.column)

    @property
    @override
    def field_value(self) -> Value:
        """The stored value as the VE.Direct layer decodes its label."""
        return self.coordinator.value(self.column)

    @override
    def shown(self) -> object:
        value = self.field_value
        return self.available, type(value), value

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        self.async_write_changed_state()


class HexSensor(HexEntity, SensorEntity):
    """A setting or a history value read over HEX."""

    entity_description: HexSensorDescription

    @property
    @override
    def native_value(self) -> StateType:
        """The register's value (a history record: one of its fields)."""
        return self.entity_description.value_fn(self.register_value)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: VeMonitorConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """A Redis server: its topology sensors and its inputs' columns. A VE.Direct device: link diagnostics,
    field sensors as fields appear, HEX sensors once their registers answered, and the sensors of the
    device's Redis outputs."""
    if is_redis_server(entry):
        async_add_entities(server_sensors(entry))
        async_add_input_sensors(hass, entry, async_add_entities, RedisInputSensor)
    elif is_vedirect(entry):
        _setup_vedirect(entry, async_add_entities)


def _setup_vedirect(entry: VeDirectConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback) -> None:
    async_add_entities([VeDirectLinkSensor(entry, description) for description in LINK_SENSOR_DESCRIPTIONS])
    async_add_field_entities(
        entry,
        Platform.SENSOR,
        lambda label: VeDirectSensor(entry, SENSOR_DESCRIPTIONS.get(label) or _other_field(label)),
        async_add_entities,
    )
    async_add_hex_entities(
        entry,
        HEX_SENSORS,
        lambda description: HexSensor(entry, description, description.register),
        async_add_entities,
    )
    entry.runtime_data.redis_outputs.async_add_sensors(async_add_entities)
