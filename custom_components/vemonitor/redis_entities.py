"""Entities of the Redis part, added by the platform files of the integration.

A Redis server entry gets a service device with a connectivity binary sensor. Each Redis output gets its own
service device in the VE.Direct entry (tied to its subentry, so removing the output removes the device and
its entities): pending samples, last successful write and dropped samples. A device of its own keeps the
output's lifecycle with its subentry and leaves the VE.Direct device to the measurements; the Redis server's
device cannot host them, as a device belongs to one config entry (HA 2026.8) and the output belongs to the
block's entry.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import override

# 2026.10 defines BinarySensorDeviceClass in binary_sensor.const (re-exported implicitly), 2026.5 in the
# package itself (no const module): this import works in both; mypy needs the ignore on 2026.10 only.
from homeassistant.components.binary_sensor import (  # type: ignore[attr-defined,unused-ignore]
    BinarySensorDeviceClass,
    BinarySensorEntity,
)
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONF_ENTRY_TYPE, DOMAIN, ENTRY_TYPE_REDIS_SERVER
from .redis_runtime import RedisOutput, RedisOutputs, RedisServerConfigEntry, RedisServerRuntime
from .redis_worker.output import OutputState

REDIS_MANUFACTURER = "Redis"


def _redis_outputs(entry: ConfigEntry) -> RedisOutputs | None:
    outputs: RedisOutputs | None = getattr(entry.runtime_data, "redis_outputs", None)
    return outputs


async def async_setup_redis_entities(
    hass: HomeAssistant,
    entry: ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    platform: Platform,
) -> None:
    """Add the Redis entities of `platform` for a Redis server entry or a VE.Direct entry's outputs."""
    if entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_REDIS_SERVER:
        if platform is Platform.BINARY_SENSOR:
            async_add_entities([RedisServerConnectivity(entry)])
        return
    outputs = _redis_outputs(entry)
    if platform is not Platform.SENSOR or outputs is None:
        return

    def add_output_entities(output: RedisOutput) -> None:
        async_add_entities(
            [RedisOutputSensor(output, description) for description in OUTPUT_SENSORS],
            config_subentry_id=output.subentry_id,
        )

    for output in outputs.outputs.values():
        add_output_entities(output)
    outputs.entity_adders[Platform.SENSOR] = add_output_entities


class RedisServerConnectivity(BinarySensorEntity):
    """Whether the Redis server answers (health check every 30 s, and every write of its outputs)."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_translation_key = "redis_server_connectivity"  # its icons (icons.json) and name

    def __init__(self, entry: RedisServerConfigEntry) -> None:
        """Describe the server's device from its entry and what the server told at setup."""
        self._runtime: RedisServerRuntime = entry.runtime_data
        self._attr_unique_id = f"{entry.entry_id}_connectivity"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            name=entry.title,
            manufacturer=REDIS_MANUFACTURER,
            model="Redis server",
            sw_version=self._runtime.server_version,
            entry_type=DeviceEntryType.SERVICE,
        )

    @property
    @override
    def is_on(self) -> bool:
        return self._runtime.connected

    @override
    async def async_added_to_hass(self) -> None:
        self.async_on_remove(self._runtime.async_add_listener(self.async_write_ha_state))


@dataclass(frozen=True, kw_only=True)
class RedisOutputSensorDescription(SensorEntityDescription):
    """A sensor of an output's delivery state."""

    value_fn: Callable[[OutputState], int | datetime | None]


OUTPUT_SENSORS: tuple[RedisOutputSensorDescription, ...] = (
    RedisOutputSensorDescription(
        key="pending_samples",
        translation_key="redis_pending_samples",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda state: state.pending_samples,
    ),
    RedisOutputSensorDescription(
        key="last_successful_write",
        translation_key="redis_last_successful_write",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda state: state.last_successful_write,
    ),
    RedisOutputSensorDescription(
        key="dropped_samples",
        translation_key="redis_dropped_samples",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda state: state.dropped_samples,
    ),
)


class RedisOutputSensor(SensorEntity):
    """One number of an output's delivery state, refreshed whenever the worker's state changes."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: RedisOutputSensorDescription

    def __init__(self, output: RedisOutput, description: RedisOutputSensorDescription) -> None:
        """Put the sensor on the output's own device."""
        self._output = output
        self.entity_description = description
        self._attr_unique_id = f"{output.subentry_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, output.subentry_id)},
            translation_key="redis_output",
            translation_placeholders={"redis_node": output.config.redis_node, "block": output.block.title},
            manufacturer=REDIS_MANUFACTURER,
            model=output.config.structure,
            entry_type=DeviceEntryType.SERVICE,
        )

    @property
    @override
    def native_value(self) -> int | datetime | None:
        return self.entity_description.value_fn(self._output.worker.state)

    @override
    async def async_added_to_hass(self) -> None:
        self.async_on_remove(self._output.async_add_listener(self.async_write_ha_state))
        self._link_to_block_device()

    def _link_to_block_device(self) -> None:
        """Show the output's device as connected through its block's device.

        Set on the registry entry (via_device_id): DeviceInfo's via_device is deprecated in 2026.8+ and its
        replacement does not exist in 2026.5.
        """
        block = self._output.block
        registry = dr.async_get(self.hass)
        block_identifiers = block.runtime_data.coordinator.device_info()["identifiers"]
        block_device = next(
            (
                device
                for device in dr.async_entries_for_config_entry(registry, block.entry_id)
                if device.identifiers & block_identifiers
            ),
            None,
        )
        device = self.device_entry
        if (
            isinstance(device, dr.DeviceEntry)
            and block_device is not None
            and device.via_device_id != block_device.id
        ):
            registry.async_update_device(device.id, via_device_id=block_device.id)
