"""Binary sensors of a VE.Direct device: alarm, relay, load output, and whether the link is up."""

from collections.abc import Mapping
from typing import override

# BinarySensorDeviceClass: defined in the package in 2026.5, in .const (re-exported implicitly) in 2026.10.
from homeassistant.components.binary_sensor import (  # type: ignore[attr-defined]
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONF_ENTRY_TYPE, ENTRY_TYPE_VEDIRECT
from .coordinator import VeDirectConfigEntry
from .entity import VeDirectFieldEntity, VeDirectLinkEntity, async_add_entities_for_new_labels
from .redis_entities import async_setup_redis_entities
from .vedirect.client import LinkState

PARALLEL_UPDATES = 0

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
BINARY_SENSOR_LABELS = frozenset(BINARY_SENSOR_DESCRIPTIONS)

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
        return self.coordinator.link_state is LinkState.CONNECTED


async def async_setup_entry(
    hass: HomeAssistant,
    entry: VeDirectConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Binary sensors as their labels appear, the link sensor, then the Redis side's binary sensors."""
    if entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_VEDIRECT:
        coordinator = entry.runtime_data.coordinator

        def build(label: str) -> list[Entity]:
            return [VeDirectBinarySensor(coordinator, BINARY_SENSOR_DESCRIPTIONS[label])]

        async_add_entities([VeDirectLinkBinarySensor(coordinator, LINK_DESCRIPTION)])
        async_add_entities_for_new_labels(entry, BINARY_SENSOR_LABELS.__contains__, build, async_add_entities)
    await async_setup_redis_entities(hass, entry, async_add_entities, Platform.BINARY_SENSOR)
