"""Base entities of a VE.Direct device, and the platform setup that adds entities as new fields appear."""

from collections.abc import Callable, Iterable

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import CONF_ENTRY_TYPE, ENTRY_TYPE_VEDIRECT
from .coordinator import VeDirectConfigEntry, VeDirectCoordinator
from .identity import device_key
from .redis_entities import async_setup_redis_entities
from .vedirect.fields import Value

# Labels shown in the device registry (model, model id, serial, firmware) rather than as entities.
DEVICE_INFO_LABELS = frozenset({"PID", "SER#", "FW", "FWE"})


class VeDirectEntity(CoordinatorEntity[VeDirectCoordinator]):
    """An entity of the block item's device; unique_id = device key + label or link key."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: VeDirectCoordinator, description: EntityDescription) -> None:
        """Attach to the coordinator and its device."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = f"{device_key(coordinator.config_entry)}_{description.key}"
        self._attr_device_info = coordinator.device_info()


class VeDirectFieldEntity(VeDirectEntity):
    """An entity showing one VE.Direct label of the latest sample."""

    @property
    def label(self) -> str:
        """The VE.Direct label (the description key)."""
        return self.entity_description.key

    @property
    def field_value(self) -> Value:
        """The decoded value of the label in the latest sample (None when absent or ``---``)."""
        return self.coordinator.data.frame.values.get(self.label)

    @property
    def available(self) -> bool:
        """Unavailable while the link is lost or the device stopped sending this label."""
        return super().available and self.label in self.coordinator.data.frame.values


class VeDirectLinkEntity(VeDirectEntity):
    """A diagnostic about the link itself: it stays available while the link is down, to tell so."""

    @property
    def available(self) -> bool:
        """Always available: its value describes the availability of the others."""
        return True


async def async_setup_platform(
    hass: HomeAssistant,
    entry: VeDirectConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    *,
    platform: Platform,
    link_entities: Callable[[VeDirectCoordinator], Iterable[Entity]],
    field_entities: Callable[[VeDirectCoordinator, str], Iterable[Entity]],
) -> None:
    """The async_setup_entry of a platform, for both entry kinds: a VE.Direct entry gets its link entities,
    then entities for its labels as they first appear; then the Redis side adds its own (both kinds)."""
    if entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_VEDIRECT:
        coordinator = entry.runtime_data.coordinator
        async_add_entities(link_entities(coordinator))
        _async_add_entities_for_new_labels(
            entry, lambda label: field_entities(coordinator, label), async_add_entities
        )
    await async_setup_redis_entities(hass, entry, async_add_entities, platform)


@callback
def _async_add_entities_for_new_labels(
    entry: VeDirectConfigEntry,
    build: Callable[[str], Iterable[Entity]],
    async_add_entities: Callable[[Iterable[Entity]], None],
) -> None:
    """Add the platform's entities for the labels of every sample, as they first appear (a BMV's history
    block comes a second after its main block; firmware updates bring new fields)."""
    coordinator = entry.runtime_data.coordinator
    seen: set[str] = set()

    @callback
    def add_new() -> None:
        if not coordinator.last_update_success or coordinator.data is None:
            return
        new = [label for label in coordinator.data.frame.values if label not in seen]
        if not new:
            return
        seen.update(new)
        entities = [entity for label in new for entity in build(label)]
        if entities:
            async_add_entities(entities)

    add_new()
    entry.async_on_unload(coordinator.async_add_listener(add_new))
