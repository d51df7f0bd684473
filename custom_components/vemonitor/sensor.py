"""Sensors of a VE.Direct device: one per field it sends, plus link diagnostics."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    Platform,
    UnitOfApparentPower,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfTemperature,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .binary_sensor import BINARY_SENSOR_LABELS
from .const import CONF_ENTRY_TYPE, ENTRY_TYPE_VEDIRECT
from .coordinator import VeDirectConfigEntry, VeDirectCoordinator
from .entity import (
    DEVICE_INFO_LABELS,
    VeDirectFieldEntity,
    VeDirectLinkEntity,
    async_add_entities_for_new_labels,
)
from .redis_entities import async_setup_redis_entities
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

AMPERE_HOUR = "Ah"
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


def _voltage(label: str, key: str, *, history: bool = False) -> VeDirectSensorDescription:
    return VeDirectSensorDescription(
        key=label,
        translation_key=key,
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        state_class=None if history else SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        entity_category=EntityCategory.DIAGNOSTIC if history else None,
        entity_registry_enabled_default=not history,
    )


def _current(label: str, key: str, precision: int = 2) -> VeDirectSensorDescription:
    return VeDirectSensorDescription(
        key=label,
        translation_key=key,
        device_class=SensorDeviceClass.CURRENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=precision,
    )


def _power(label: str, key: str, state_class: SensorStateClass | None) -> VeDirectSensorDescription:
    return VeDirectSensorDescription(
        key=label,
        translation_key=key,
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=state_class,
        suggested_display_precision=0,
    )


def _energy(label: str, key: str, state_class: SensorStateClass | None) -> VeDirectSensorDescription:
    return VeDirectSensorDescription(
        key=label,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=state_class,
        suggested_display_precision=2,
    )


def _history(
    label: str,
    key: str,
    *,
    unit: str | None = None,
    device_class: SensorDeviceClass | None = None,
    state_class: SensorStateClass | None = None,
    precision: int = 0,
) -> VeDirectSensorDescription:
    """BMV history (H1..H16): diagnostic and disabled by default (rarely looked at, noisy in the recorder)."""
    return VeDirectSensorDescription(
        key=label,
        translation_key=key,
        native_unit_of_measurement=unit,
        device_class=device_class,
        state_class=state_class,
        suggested_display_precision=precision,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    )


def _code(label: str, key: str, codes: type[VeCode]) -> VeDirectSensorDescription:
    return VeDirectSensorDescription(
        key=label,
        translation_key=key,
        device_class=SensorDeviceClass.ENUM,
        options=_code_options(codes),
        value_fn=_code_key,
        attributes_fn=_code_attributes,
    )


def _flags(label: str, key: str, codes: type[VeFlags]) -> VeDirectSensorDescription:
    return VeDirectSensorDescription(
        key=label,
        translation_key=key,
        device_class=SensorDeviceClass.ENUM,
        options=_flags_options(codes),
        value_fn=_flags_key,
        attributes_fn=_flags_attributes,
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
        VeDirectSensorDescription(
            key="DM",
            translation_key="midpoint_deviation",
            native_unit_of_measurement=PERCENTAGE,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=1,
        ),
        _voltage("VPV", "panel_voltage"),
        _power("PPV", "panel_power", SensorStateClass.MEASUREMENT),
        _current("I", "battery_current"),
        _current("I2", "battery_current_2"),
        _current("I3", "battery_current_3"),
        _current("IL", "load_current"),
        VeDirectSensorDescription(
            key="T",
            translation_key="battery_temperature",
            device_class=SensorDeviceClass.TEMPERATURE,
            native_unit_of_measurement=UnitOfTemperature.CELSIUS,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=0,
        ),
        _power("P", "battery_power", SensorStateClass.MEASUREMENT),
        VeDirectSensorDescription(
            key="CE",
            translation_key="consumed_amp_hours",
            native_unit_of_measurement=AMPERE_HOUR,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=1,
        ),
        VeDirectSensorDescription(
            key="SOC",
            translation_key="state_of_charge",
            device_class=SensorDeviceClass.BATTERY,
            native_unit_of_measurement=PERCENTAGE,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=1,
        ),
        VeDirectSensorDescription(
            key="TTG",
            translation_key="time_to_go",
            device_class=SensorDeviceClass.DURATION,
            native_unit_of_measurement=UnitOfTime.MINUTES,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=0,
        ),
        _code("CS", "charger_state", ChargeState),
        _code("ERR", "charger_error", ErrorCode),
        _code("MPPT", "tracker_mode", TrackerMode),
        _code("MODE", "device_mode", DeviceMode),
        _code("MON", "monitor_mode", MonitorMode),
        _flags("OR", "off_reason", OffReason),
        _flags("AR", "alarm_reason", AlarmReason),
        _flags("WARN", "warning_reason", AlarmReason),
        _history("H1", "deepest_discharge", unit=AMPERE_HOUR, precision=1),
        _history("H2", "last_discharge", unit=AMPERE_HOUR, precision=1),
        _history("H3", "average_discharge", unit=AMPERE_HOUR, precision=1),
        _history("H4", "charge_cycles", state_class=_COUNT),
        _history("H5", "full_discharges", state_class=_COUNT),
        _history("H6", "cumulative_amp_hours", unit=AMPERE_HOUR, precision=1),
        _voltage("H7", "min_battery_voltage", history=True),
        _voltage("H8", "max_battery_voltage", history=True),
        _history(
            "H9", "time_since_full_charge", unit=UnitOfTime.SECONDS, device_class=SensorDeviceClass.DURATION
        ),
        _history("H10", "automatic_syncs", state_class=_COUNT),
        _history("H11", "low_voltage_alarms", state_class=_COUNT),
        _history("H12", "high_voltage_alarms", state_class=_COUNT),
        _history("H13", "low_starter_voltage_alarms", state_class=_COUNT),
        _history("H14", "high_starter_voltage_alarms", state_class=_COUNT),
        _voltage("H15", "min_starter_voltage", history=True),
        _voltage("H16", "max_starter_voltage", history=True),
        _energy("H17", "discharged_energy", SensorStateClass.TOTAL_INCREASING),
        _energy("H18", "charged_energy", SensorStateClass.TOTAL_INCREASING),
        _energy("H19", "yield_total", SensorStateClass.TOTAL_INCREASING),
        _energy("H20", "yield_today", SensorStateClass.TOTAL_INCREASING),
        _power("H21", "max_power_today", None),
        _energy("H22", "yield_yesterday", None),
        _power("H23", "max_power_yesterday", None),
        VeDirectSensorDescription(
            key="AC_OUT_V",
            translation_key="ac_output_voltage",
            device_class=SensorDeviceClass.VOLTAGE,
            native_unit_of_measurement=UnitOfElectricPotential.VOLT,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=1,
        ),
        _current("AC_OUT_I", "ac_output_current", precision=1),
        VeDirectSensorDescription(
            key="AC_OUT_S",
            translation_key="ac_output_apparent_power",
            device_class=SensorDeviceClass.APPARENT_POWER,
            native_unit_of_measurement=UnitOfApparentPower.VOLT_AMPERE,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=0,
        ),
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


class VeDirectSensor(VeDirectFieldEntity, SensorEntity):
    """One VE.Direct label of the latest sample."""

    entity_description: VeDirectSensorDescription

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


@dataclass(frozen=True, kw_only=True)
class VeDirectLinkSensorDescription(SensorEntityDescription):
    """A link diagnostic computed from the coordinator."""

    value_fn: Callable[[VeDirectCoordinator], StateType | datetime]


LINK_SENSOR_DESCRIPTIONS: tuple[VeDirectLinkSensorDescription, ...] = (
    VeDirectLinkSensorDescription(
        key="valid_blocks",
        translation_key="valid_blocks",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda coordinator: coordinator.client.stats.valid_blocks,
    ),
    VeDirectLinkSensorDescription(
        key="invalid_blocks",
        translation_key="invalid_blocks",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda coordinator: coordinator.client.stats.invalid_blocks,
    ),
    VeDirectLinkSensorDescription(
        key="last_sample",
        translation_key="last_sample",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda coordinator: coordinator.data.timestamp if coordinator.data else None,
    ),
)


class VeDirectLinkSensor(VeDirectLinkEntity, SensorEntity):
    """Block counters and the time of the last sample."""

    entity_description: VeDirectLinkSensorDescription

    @property
    @override
    def native_value(self) -> StateType | datetime:
        """Read from the coordinator and its client."""
        return self.entity_description.value_fn(self.coordinator)


def _wants_sensor(label: str) -> bool:
    return label not in BINARY_SENSOR_LABELS and label not in DEVICE_INFO_LABELS


async def async_setup_entry(
    hass: HomeAssistant,
    entry: VeDirectConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Field sensors as fields appear, link diagnostics, then the Redis side's sensors."""
    if entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_VEDIRECT:
        coordinator = entry.runtime_data.coordinator

        def build(label: str) -> list[Entity]:
            description = SENSOR_DESCRIPTIONS.get(label) or _other_field(label)
            return [VeDirectSensor(coordinator, description)]

        async_add_entities(
            VeDirectLinkSensor(coordinator, description) for description in LINK_SENSOR_DESCRIPTIONS
        )
        async_add_entities_for_new_labels(entry, _wants_sensor, build, async_add_entities)
    await async_setup_redis_entities(hass, entry, async_add_entities, Platform.SENSOR)
