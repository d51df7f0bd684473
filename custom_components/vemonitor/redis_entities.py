"""Entities of the Redis side: a Redis server's connectivity, and the delivery state of each output.

A Redis server entry gets a service device with a connectivity binary sensor; a Sentinel entry also the
master the sentinels name, a Cluster entry the shards that answer, both the last failover seen. Each Redis
output gets its own service device in the VE.Direct entry, tied to its subentry (removing the output removes
the device and its entities), connected through the VE.Direct device; a device belongs to one config entry
(HA 2026.8), so the server's device cannot host them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, override

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
from homeassistant.const import EntityCategory
from homeassistant.core import CALLBACK_TYPE
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo

from .const import DOMAIN
from .entity import ChangedStateWriter
from .models import RedisServerConfigEntry, RedisServerRuntime
from .redis_worker import CLUSTER, SENTINEL, SINGLE, OutputState, ServerKind

REDIS_MANUFACTURER = "Redis"
SERVER_MODELS: dict[ServerKind, str] = {
    SINGLE: "Redis server",
    SENTINEL: "Redis Sentinel",
    CLUSTER: "Redis Cluster",
}


def server_device_info(entry: RedisServerConfigEntry) -> DeviceInfo:
    """The service device of a Redis server entry, described from its kind and what the server told."""
    runtime = entry.runtime_data
    return DeviceInfo(
        identifiers={(DOMAIN, entry.entry_id)},
        name=entry.title,
        manufacturer=REDIS_MANUFACTURER,
        model=SERVER_MODELS[runtime.connector.settings.kind],
        sw_version=runtime.server_version,
        entry_type=DeviceEntryType.SERVICE,
    )


class RedisServerConnectivity(ChangedStateWriter, BinarySensorEntity):
    """Whether the Redis server answers (health check every 30 s, and every write of its outputs)."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_translation_key = "redis_server_connectivity"

    def __init__(self, entry: RedisServerConfigEntry) -> None:
        """Describe the server's device from its entry and what the server told at setup."""
        self._runtime: RedisServerRuntime = entry.runtime_data
        self._attr_unique_id = f"{entry.entry_id}_connectivity"
        self._attr_device_info = server_device_info(entry)

    @property
    @override
    def is_on(self) -> bool:
        return self._runtime.connected

    @override
    def shown(self) -> object:
        return self.is_on

    @override
    async def async_added_to_hass(self) -> None:
        self.async_on_remove(self._runtime.async_add_listener(self.async_write_changed_state))


@dataclass(frozen=True, kw_only=True)
class RedisServerSensorDescription(SensorEntityDescription):
    """A sensor of a Redis server's topology, on the entries of `kinds`."""

    kinds: frozenset[ServerKind]
    value_fn: Callable[[RedisServerRuntime], str | int | datetime | None]
    live: bool = True
    """Read at the last health check, so unknown (unavailable) while the server is not reached; else a fact
    that stays true (the last failover)."""


# Each changes only at a failover (or while a shard is away): a healthy system writes no state for them.
SERVER_SENSORS: tuple[RedisServerSensorDescription, ...] = (
    RedisServerSensorDescription(
        key="master",
        translation_key="redis_master",
        entity_category=EntityCategory.DIAGNOSTIC,
        kinds=frozenset({SENTINEL}),
        value_fn=lambda runtime: None if runtime.topology is None else runtime.topology.master,
    ),
    RedisServerSensorDescription(
        key="shards_answering",
        translation_key="redis_shards_answering",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        kinds=frozenset({CLUSTER}),
        value_fn=lambda runtime: None if runtime.topology is None else runtime.topology.shards_answering,
    ),
    RedisServerSensorDescription(
        key="last_failover",
        translation_key="redis_last_failover",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        kinds=frozenset({SENTINEL, CLUSTER}),
        live=False,
        value_fn=lambda runtime: runtime.connector.last_failover,
    ),
)


class RedisServerSensor(ChangedStateWriter, SensorEntity):
    """What the last health check found of a Sentinel or Cluster server, on the server's device."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: RedisServerSensorDescription

    def __init__(self, entry: RedisServerConfigEntry, description: RedisServerSensorDescription) -> None:
        """Put the sensor on the server's device."""
        self._runtime: RedisServerRuntime = entry.runtime_data
        self.entity_description = description
        self._attr_unique_id = f"{entry.entry_id}_{description.key}"
        self._attr_device_info = server_device_info(entry)

    @property
    @override
    def available(self) -> bool:
        return not self.entity_description.live or (
            self._runtime.connected and self._runtime.topology is not None
        )

    @property
    @override
    def native_value(self) -> str | int | datetime | None:
        return self.entity_description.value_fn(self._runtime)

    @override
    def shown(self) -> object:
        return self.available, self.native_value

    @override
    async def async_added_to_hass(self) -> None:
        self.async_on_remove(self._runtime.async_add_listener(self.async_write_changed_state))


def server_sensors(entry: RedisServerConfigEntry) -> list[RedisServerSensor]:
    """The topology sensors of a server entry's kind (none for a single server)."""
    kind = entry.runtime_data.connector.settings.kind
    return [
        RedisServerSensor(entry, description) for description in SERVER_SENSORS if kind in description.kinds
    ]


class RedisOutputView(Protocol):
    """What an output's sensors read of it (redis_outputs.RedisOutput)."""

    @property
    def subentry_id(self) -> str: ...

    @property
    def device_info(self) -> DeviceInfo: ...

    @property
    def via_device(self) -> tuple[str, str]: ...

    @property
    def state(self) -> OutputState: ...

    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE: ...


@dataclass(frozen=True, kw_only=True)
class RedisOutputSensorDescription(SensorEntityDescription):
    """A sensor of an output's delivery state."""

    value_fn: Callable[[OutputState], int | datetime | None]


# The last write changes at every send (every 5 s by default): disabled by default, like the device's "last
# sample", so that a healthy system writes no Activity line and no recorder row for it. The two counters only
# change while something is wrong (a timestamp has no unit, so the logbook would list every change of it).
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
        entity_registry_enabled_default=False,
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


class RedisOutputSensor(ChangedStateWriter, SensorEntity):
    """One number of an output's delivery state, written when it changed (the worker tells after every
    send: every 5 s by default, when the pending count is back to 0 again)."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: RedisOutputSensorDescription

    def __init__(self, output: RedisOutputView, description: RedisOutputSensorDescription) -> None:
        """Put the sensor on the output's own device."""
        self._output = output
        self.entity_description = description
        self._attr_unique_id = f"{output.subentry_id}_{description.key}"
        self._attr_device_info = output.device_info

    @property
    @override
    def native_value(self) -> int | datetime | None:
        return self.entity_description.value_fn(self._output.state)

    @override
    def shown(self) -> object:
        return self.native_value

    @override
    async def async_added_to_hass(self) -> None:
        self.async_on_remove(self._output.async_add_listener(self.async_write_changed_state))
        self._link_to_device()

    def _link_to_device(self) -> None:
        """Show the output's device as connected through the VE.Direct device.

        Set on the registry entry (via_device_id): DeviceInfo's via_device is deprecated in 2026.8+ and its
        replacement does not exist in 2026.5.
        """
        registry = dr.async_get(self.hass)
        assert self.platform.config_entry is not None  # added by the VE.Direct entry's sensor platform
        via = next(
            (
                device
                for device in dr.async_entries_for_config_entry(registry, self.platform.config_entry.entry_id)
                if self._output.via_device in device.identifiers
            ),
            None,
        )
        device = self.device_entry
        if isinstance(device, dr.DeviceEntry) and via is not None and device.via_device_id != via.id:
            registry.async_update_device(device.id, via_device_id=via.id)
