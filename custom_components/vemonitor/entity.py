"""Base entities of a VE.Direct device, and the platform setup that adds entities as new fields appear.

Every entity of the integration writes its state only when what it shows changed (ChangedStateWriter): at
one sample a second, most of a device's entities show the same value as a second before, and Home Assistant
would still compute their state and attributes, compare them with the state machine's and fire a
state_reported event for each.
"""

from collections.abc import Callable, Mapping
from typing import override

from homeassistant.const import (
    PERCENTAGE,
    Platform,
    UnitOfApparentPower,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfTemperature,
    UnitOfTime,
)
from homeassistant.core import callback
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity, DataUpdateCoordinator

from .identity import device_info, device_key
from .models import VeDirectConfigEntry, VeDirectSample
from .vedirect import FIELD_SPECS, FieldKind, Value

AMPERE_HOUR = "Ah"
# The protocol's units (vedirect.FIELD_SPECS and the HEX register tables) as Home Assistant's unit constants.
HA_UNITS: Mapping[str, str] = {
    "V": UnitOfElectricPotential.VOLT,
    "A": UnitOfElectricCurrent.AMPERE,
    "W": UnitOfPower.WATT,
    "VA": UnitOfApparentPower.VOLT_AMPERE,
    "kWh": UnitOfEnergy.KILO_WATT_HOUR,
    "°C": UnitOfTemperature.CELSIUS,
    "%": PERCENTAGE,
    "Ah": AMPERE_HOUR,
    "h": UnitOfTime.HOURS,
    "min": UnitOfTime.MINUTES,
    "s": UnitOfTime.SECONDS,
}

# Kinds shown in the device registry (model, model id, serial, firmware) rather than as entities.
_DEVICE_INFO_KINDS = frozenset({FieldKind.PRODUCT, FieldKind.SERIAL, FieldKind.VERSION})


def field_platform(label: str) -> Platform | None:
    """Where a label shows: ON/OFF fields as binary sensors, identity fields on the device, others as
    sensors (unknown labels too: a field is never dropped)."""
    spec = FIELD_SPECS.get(label)
    if spec is None:
        return Platform.SENSOR
    if spec.kind is FieldKind.BOOL:
        return Platform.BINARY_SENSOR
    if spec.kind in _DEVICE_INFO_KINDS:
        return None
    return Platform.SENSOR


_NOTHING_WRITTEN = object()


class ChangedStateWriter(Entity):
    """An entity whose updates write its state only when `shown()` differs from the last state written.

    `shown()` is what the state and attributes are made of, cheap to get and compare (a decoded value, a
    counter, an availability). Any write (added to HA, its registry entry changed, an update) records it.
    """

    _last_shown: object = _NOTHING_WRITTEN

    def shown(self) -> object:
        """What this entity's state and attributes are made of."""
        raise NotImplementedError

    @callback
    def async_write_changed_state(self) -> None:
        """Write the state if what it shows changed since the last write (else: nothing, no event)."""
        if self.shown() != self._last_shown:
            self.async_write_ha_state()

    @callback
    @override
    def _async_write_ha_state(self) -> None:
        self._last_shown = self.shown()
        super()._async_write_ha_state()


class VeDirectEntity(ChangedStateWriter, CoordinatorEntity[DataUpdateCoordinator[VeDirectSample]]):
    """An entity of a VE.Direct device; unique_id = device key + label or link key."""

    _attr_has_entity_name = True

    def __init__(self, entry: VeDirectConfigEntry, description: EntityDescription) -> None:
        """Attach to the entry's coordinator and device."""
        runtime = entry.runtime_data
        super().__init__(runtime.coordinator)
        self.runtime = runtime
        self.entity_description = description
        self._attr_unique_id = f"{device_key(entry)}_{description.key}"
        self._attr_device_info = device_info(entry, runtime.client.frame)

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        self.async_write_changed_state()


class VeDirectFieldEntity(VeDirectEntity):
    """An entity showing one VE.Direct label of the latest sample."""

    @override
    def shown(self) -> object:
        """Availability and the decoded value (its type too: True == 1, yet ON is no count of 1)."""
        value = self.field_value
        return self.available, type(value), value

    @property
    def field_value(self) -> Value:
        """The decoded value of the label in the latest sample (None when absent or ``---``)."""
        return self.coordinator.data.frame.values.get(self.entity_description.key)

    @property
    def available(self) -> bool:
        """Unavailable while the link is lost or the device stopped sending this label."""
        return super().available and self.entity_description.key in self.coordinator.data.frame.values


class VeDirectLinkEntity(VeDirectEntity):
    """A diagnostic about the link itself: it stays available while the link is down, to tell so."""

    @property
    def available(self) -> bool:
        """Always available: its value describes the availability of the others."""
        return True


@callback
def async_add_field_entities(
    entry: VeDirectConfigEntry,
    platform: Platform,
    build: Callable[[str], Entity],
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the platform's entity of every label of the samples, as labels first appear (a BMV's history
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
        entities: list[Entity] = [build(label) for label in new if field_platform(label) is platform]
        if entities:
            async_add_entities(entities)

    add_new()
    entry.async_on_unload(coordinator.async_add_listener(add_new))
