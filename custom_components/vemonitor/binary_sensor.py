"""Binary sensors of a VE.Direct device: alarm, relay, load output, and whether the link is up."""

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
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import VeDirectConfigEntry, VeDirectCoordinator
from .entity import VeDirectFieldEntity, VeDirectLinkEntity, async_setup_platform
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


def _field_entities(coordinator: VeDirectCoordinator, label: str) -> list[Entity]:
    description = BINARY_SENSOR_DESCRIPTIONS.get(label)
    return [] if description is None else [VeDirectBinarySensor(coordinator, description)]


async def async_setup_entry(
    hass: HomeAssistant,
    entry: VeDirectConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Binary sensors as their labels appear, the link sensor, then the Redis side's binary sensors."""
    await async_setup_platform(
        hass,
        entry,
        async_add_entities,
        platform=Platform.BINARY_SENSOR,
        link_entities=lambda coordinator: [VeDirectLinkBinarySensor(coordinator, LINK_DESCRIPTION)],
        field_entities=_field_entities,
    )
