"""Binary sensors: the ON/OFF fields of a VE.Direct device (alarm, relay, load output), whether its link is
up, and whether a Redis server answers."""

from collections.abc import Mapping
from typing import override

# BinarySensorDeviceClass: in the package in 2026.5 (the ignore is unused there), in .const (re-exported
# implicitly) in 2026.10.
from homeassistant.components.binary_sensor import (  # type: ignore[attr-defined,unused-ignore]
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import VeDirectFieldEntity, VeDirectLinkEntity, async_add_field_entities
from .models import VeDirectConfigEntry, VeMonitorConfigEntry, is_redis_server, is_vedirect
from .redis_entities import RedisServerConnectivity
from .vedirect import LinkState

PARALLEL_UPDATES = 0

# One per ON/OFF label of the field registry (FieldKind.BOOL): the registry decides what is a binary sensor.
BINARY_SENSOR_DESCRIPTIONS: Mapping[str, BinarySensorEntityDescription] = {
    description.key: description
    for description in (
        BinarySensorEntityDescription(
            key="Alarm", translation_key="alarm", device_class=BinarySensorDeviceClass.PROBLEM
        ),
        BinarySensorEntityDescription(key="Relay", translation_key="relay"),
        BinarySensorEntityDescription(
            key="LOAD", translation_key="load_output", device_class=BinarySensorDeviceClass.POWER
        ),
    )
}

LINK_DESCRIPTION = BinarySensorEntityDescription(
    key="link",
    translation_key="link",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)


class VeDirectBinarySensor(VeDirectFieldEntity, BinarySensorEntity):
    """An ON/OFF label (case-insensitive on the wire, decoded to a bool)."""

    @property
    @override
    def is_on(self) -> bool | None:
        """None when the device sends something else than ON/OFF."""
        value = self.field_value
        return value if isinstance(value, bool) else None


class VeDirectLinkBinarySensor(VeDirectLinkEntity, BinarySensorEntity):
    """On while valid blocks keep arriving."""

    @property
    @override
    def is_on(self) -> bool:
        """The client's link state: connected, or stalled/disconnected."""
        return self.runtime.client.link_state is LinkState.CONNECTED

    @override
    def shown(self) -> object:
        """Always available: the link state alone."""
        return self.is_on


def _setup_vedirect(entry: VeDirectConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback) -> None:
    async_add_entities([VeDirectLinkBinarySensor(entry, LINK_DESCRIPTION)])
    async_add_field_entities(
        entry,
        Platform.BINARY_SENSOR,
        lambda label: VeDirectBinarySensor(entry, BINARY_SENSOR_DESCRIPTIONS[label]),
        async_add_entities,
    )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: VeMonitorConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """A Redis server's connectivity; a VE.Direct device's link and ON/OFF fields as they appear."""
    if is_redis_server(entry):
        async_add_entities([RedisServerConnectivity(entry)])
    elif is_vedirect(entry):
        _setup_vedirect(entry, async_add_entities)
