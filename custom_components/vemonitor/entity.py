"""Base entities of a VE.Direct device, and the bookkeeping that adds entities as new fields appear."""

from collections.abc import Callable, Iterable

from homeassistant.core import callback
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import VeDirectConfigEntry, VeDirectCoordinator
from .vedirect.fields import Value

# Labels shown in the device registry (model, model id, serial, firmware) rather than as entities.
DEVICE_INFO_LABELS = frozenset({"PID", "SER#", "FW", "FWE"})


class VeDirectEntity(CoordinatorEntity[VeDirectCoordinator]):
    """An entity of the block item's device; unique_id = entry unique_id + key (a label or a link key)."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: VeDirectCoordinator, description: EntityDescription) -> None:
        """Attach to the coordinator and its device."""
        super().__init__(coordinator)
        self.entity_description = description
        entry = coordinator.config_entry
        self._attr_unique_id = f"{entry.unique_id or entry.entry_id}_{description.key}"
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


@callback
def async_add_entities_for_new_labels(
    entry: VeDirectConfigEntry,
    wanted: Callable[[str], bool],
    build: Callable[[str], Iterable[Entity]],
    async_add_entities: Callable[[Iterable[Entity]], None],
) -> None:
    """Add entities for the wanted labels of every sample, as they first appear (a BMV's history block
    comes a second after its main block; firmware updates bring new fields)."""
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
        entities = [entity for label in new if wanted(label) for entity in build(label)]
        if entities:
            async_add_entities(entities)

    add_new()
    entry.async_on_unload(coordinator.async_add_listener(add_new))
