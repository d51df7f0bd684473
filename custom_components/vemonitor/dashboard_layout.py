"""What the "Energy system" dashboard shows: its Lovelace configuration, built from the device and entity
registries (the entities that exist, are enabled and visible, under the entity ids they have now).

One view of sections: a section per VE.Direct device (battery monitors first, then solar chargers, inverters,
the others; by name within each), its cards chosen by what the device has. A device gets every group whose
first entity it has; a device with none of them (a charger) its voltage, current, power and state:
- battery monitor (a state of charge): a gauge of the state of charge, voltage, current, power, time to go;
- solar charger (a panel power): a graph of the panel power over the last 24 hours, yield today and
  yesterday, charger state;
- inverter (an AC output power): AC output apparent power (what a Phoenix sends), device mode and state;
- every device: its alarm, alarm reason and error (those it has) and its link state.
A last section shows the health of every Redis output: its pending and dropped samples.

The entity keys are those of sensor.py, binary_sensor.py and redis_entities.py: the unique id of a VE.Direct
entity is "<device key>_<label>", that of a Redis output's "<subentry id>_<key>", and its device is identified
by that device key or subentry id.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .const import DOMAIN
from .identity import device_key
from .models import is_vedirect

type Card = dict[str, Any]
type EntityKey = tuple[str, str]  # an entity's platform (domain) and its key on its device

SENSOR, BINARY_SENSOR = Platform.SENSOR, Platform.BINARY_SENSOR
STATE_OF_CHARGE: Final[EntityKey] = (SENSOR, "SOC")
PANEL_POWER: Final[EntityKey] = (SENSOR, "PPV")
AC_OUTPUT_POWER: Final[EntityKey] = (SENSOR, "AC_OUT_S")
VOLTAGE: Final[EntityKey] = (SENSOR, "V")
CURRENT: Final[EntityKey] = (SENSOR, "I")
POWER: Final[EntityKey] = (SENSOR, "P")
STATE: Final[EntityKey] = (SENSOR, "CS")  # the charger state of a charger, the device state of an inverter
PROBLEMS_AND_LINK: Final[tuple[EntityKey, ...]] = (
    (BINARY_SENSOR, "Alarm"),
    (SENSOR, "AR"),
    (SENSOR, "ERR"),
    (BINARY_SENSOR, "link"),
)
OUTPUT_HEALTH: Final[tuple[EntityKey, ...]] = ((SENSOR, "pending_samples"), (SENSOR, "dropped_samples"))
HISTORY_HOURS: Final = 24
OTHER_ICON: Final = "mdi:flash"
REDIS_ICON: Final = "mdi:database-arrow-right"


def tile(entity_id: str) -> Card:
    return {"type": "tile", "entity": entity_id}


def gauge(entity_id: str) -> Card:
    """A state of charge: green above 50 %, yellow from 20 %, red below."""
    return {
        "type": "gauge",
        "entity": entity_id,
        "min": 0,
        "max": 100,
        "needle": True,
        "severity": {"green": 50, "yellow": 20, "red": 0},
    }


def history_graph(entity_id: str) -> Card:
    return {"type": "history-graph", "entities": [entity_id], "hours_to_show": HISTORY_HOURS}


def heading(text: str, icon: str | None = None, *, subtitle: bool = False) -> Card:
    card: Card = {"type": "heading", "heading": text, "heading_style": "subtitle" if subtitle else "title"}
    if icon is not None:
        card["icon"] = icon
    return card


@dataclass(frozen=True, slots=True)
class DeviceEntities:
    """A device of the integration and its entities (enabled and visible ones) by key."""

    name: str
    entities: Mapping[EntityKey, str]  # -> entity id

    def tiles(self, keys: Iterable[EntityKey]) -> list[Card]:
        """A tile per entity of ``keys`` that the device has, in that order."""
        return [tile(self.entities[key]) for key in keys if key in self.entities]


@dataclass(frozen=True, slots=True)
class Group:
    """The cards of a kind of device, shown when it has the ``trigger`` entity (the first card's)."""

    trigger: EntityKey
    icon: str
    first: Callable[[str], Card]
    tiles: tuple[EntityKey, ...]

    def cards(self, device: DeviceEntities) -> list[Card]:
        return [self.first(device.entities[self.trigger]), *device.tiles(self.tiles)]


GROUPS: Final[tuple[Group, ...]] = (
    Group(STATE_OF_CHARGE, "mdi:battery-high", gauge, (VOLTAGE, CURRENT, POWER, (SENSOR, "TTG"))),
    Group(PANEL_POWER, "mdi:solar-power-variant", history_graph, ((SENSOR, "H20"), (SENSOR, "H22"), STATE)),
    Group(AC_OUTPUT_POWER, "mdi:power-socket-eu", tile, ((SENSOR, "MODE"), STATE)),
)
OTHER_TILES: Final[tuple[EntityKey, ...]] = (VOLTAGE, CURRENT, POWER, STATE)


def _ranks(device: DeviceEntities) -> list[int]:
    """The groups the device has, as indexes in GROUPS."""
    return [index for index, group in enumerate(GROUPS) if group.trigger in device.entities]


def device_cards(device: DeviceEntities) -> list[Card]:
    """A VE.Direct device's section: its name, its groups' cards (else OTHER_TILES), its problems and link."""
    groups = [GROUPS[index] for index in _ranks(device)]
    cards = [heading(device.name, groups[0].icon if groups else OTHER_ICON)]
    for group in groups:
        cards += group.cards(device)
    if not groups:
        cards += device.tiles(OTHER_TILES)
    return cards + device.tiles(PROBLEMS_AND_LINK)


def redis_cards(outputs: Sequence[DeviceEntities], title: str) -> list[Card]:
    """The Redis section: under each output's name, its pending and dropped samples."""
    cards = [heading(title, REDIS_ICON)]
    for output in outputs:
        cards += [heading(output.name, subtitle=True), *output.tiles(OUTPUT_HEALTH)]
    return cards


def _by_kind_and_name(device: DeviceEntities) -> tuple[int, str]:
    return min(_ranks(device), default=len(GROUPS)), device.name.casefold()


def dashboard_config(
    devices: Sequence[DeviceEntities], outputs: Sequence[DeviceEntities], strings: Mapping[str, str]
) -> tuple[dict[str, Any], int]:
    """The dashboard's configuration and its number of cards (headings not counted).

    ``strings``: the translated dashboard "title" and "redis_outputs" (the Redis section's heading).
    """
    sections = [device_cards(device) for device in sorted(devices, key=_by_kind_and_name)]
    if outputs:
        by_name = sorted(outputs, key=lambda output: output.name.casefold())
        sections.append(redis_cards(by_name, strings["redis_outputs"]))
    view = {
        "type": "sections",
        "title": strings["title"],
        "max_columns": 4,
        "sections": [{"type": "grid", "cards": cards} for cards in sections],
    }
    count = sum(card["type"] != "heading" for cards in sections for card in cards)
    return {"title": strings["title"], "views": [view]}, count


def _entities(entities: er.EntityRegistry, device: dr.DeviceEntry) -> dict[EntityKey, str]:
    """The device's enabled, visible entities of this integration, by platform and key."""
    identifier = next((identifier for domain, identifier in device.identifiers if domain == DOMAIN), "")
    return {
        (entity.domain, entity.unique_id.removeprefix(f"{identifier}_")): entity.entity_id
        for entity in er.async_entries_for_device(entities, device.id)
        if entity.platform == DOMAIN and entity.hidden_by is None
    }


def registry_devices(hass: HomeAssistant) -> tuple[list[DeviceEntities], list[DeviceEntities]]:
    """The VE.Direct devices and the Redis outputs (devices of the VE.Direct entries too), as registered;
    a device without any enabled entity is left out."""
    device_registry, entity_registry = dr.async_get(hass), er.async_get(hass)
    devices: list[DeviceEntities] = []
    outputs: list[DeviceEntities] = []
    for entry in hass.config_entries.async_entries(DOMAIN):
        if not is_vedirect(entry):
            continue
        key = device_key(entry)
        for device in dr.async_entries_for_config_entry(device_registry, entry.entry_id):
            found = DeviceEntities(
                name=device.name_by_user or device.name or entry.title,
                entities=_entities(entity_registry, device),
            )
            if found.entities:
                (devices if (DOMAIN, key) in device.identifiers else outputs).append(found)
    return devices, outputs
