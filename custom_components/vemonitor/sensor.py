"""Sensors of a VE.Direct device (one per field it sends, in the words of its family: field_descriptions, plus
link diagnostics), and of a Redis server: its topology, and the columns its Redis inputs read."""

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

from .entity import ChangedStateWriter, VeDirectFieldEntity, VeDirectLinkEntity, async_add_field_entities
from .field_descriptions import SENSOR_DESCRIPTIONS, VeDirectSensorDescription, field_description
from .hex_entities import HEX_SENSORS, HexEntity, HexSensorDescription, async_add_hex_entities
from .models import VeDirectConfigEntry, VeDirectRuntime, VeMonitorConfigEntry, is_redis_server, is_vedirect
from .redis_entities import server_sensors
from .redis_inputs import InputColumn, RedisInputCoordinator, async_add_input_sensors
from .vedirect import FIELD_SPECS, FieldKind, family_of
from .vedirect.fields import Value

PARALLEL_UPDATES = 0


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


def _field_description(entry: VeDirectConfigEntry, label: str) -> VeDirectSensorDescription:
    """The label's sensor on this device: its family (by the product id, else the labels) picks the words."""
    frame = entry.runtime_data.coordinator.data.frame
    return field_description(label, family_of(frame.product_id, frame.fields))


def _setup_vedirect(entry: VeDirectConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback) -> None:
    async_add_entities([VeDirectLinkSensor(entry, description) for description in LINK_SENSOR_DESCRIPTIONS])
    async_add_field_entities(
        entry,
        Platform.SENSOR,
        lambda label: VeDirectSensor(entry, _field_description(entry, label)),
        async_add_entities,
    )
    async_add_hex_entities(
        entry,
        HEX_SENSORS,
        lambda description: HexSensor(entry, description, description.register),
        async_add_entities,
    )
    entry.runtime_data.redis_outputs.async_add_sensors(async_add_entities)
