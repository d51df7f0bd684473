"""Words and icons per device family, as a person reads a device's page: the names, icons and enum state
texts of every entity of a simulated MPPT, BMV-712 and Phoenix inverter (HEX and control on), a charger and
an inverter known by its labels only; the words the integration page shows for adding an entry."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from homeassistant.components.sensor import ATTR_OPTIONS
from homeassistant.const import ATTR_FRIENDLY_NAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.icon import async_get_icons
from homeassistant.helpers.translation import async_get_translations
from homeassistant.loader import async_get_integration
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.vemonitor.const import DOMAIN
from custom_components.vemonitor.identity import device_key
from custom_components.vemonitor.vedirect.codes import ChargeState
from custom_components.vemonitor.vedirect.registers import Family
from tests.ha_vedirect import (
    BMV_HEX_SERIAL,
    BMV_PID,
    INVERTER_PID,
    INVERTER_SERIAL,
    MPPT_PID,
    MPPT_SERIAL,
    bmv_emission,
    hex_model,
    inverter_emission,
    mppt_emission,
    repeating_simulator,
    setup_entry,
    vedirect_entry,
    wait_hex_read,
    wait_until,
)
from vedirect_tools.simulator import Emission, encode_block

pytestmark = [pytest.mark.usefixtures("socket_enabled", "entity_registry_enabled_by_default")]

LANGUAGES = ("en", "fr", "de")
AC_ICONS = frozenset({"mdi:sine-wave", "mdi:current-ac"})
ELECTRIC_CLASSES = frozenset({"voltage", "current", "apparent_power"})


@dataclass(frozen=True)
class Device:
    """A simulated device: its name, serial and emission; with a register family, it answers HEX."""

    name: str
    unique_id: str
    emission: Callable[[], Emission]
    family: Family | None = None
    product_id: int = 0


MPPT = Device("MPPT1", MPPT_SERIAL, mppt_emission, Family.MPPT, MPPT_PID)
BMV = Device("bmv", BMV_HEX_SERIAL, bmv_emission, Family.BMV, BMV_PID)
INVERTER = Device("phoenix", INVERTER_SERIAL, inverter_emission, Family.INVERTER, INVERTER_PID)
CHARGER_FIELDS = [
    ("PID", "0xA30A"),
    ("FW", "146"),
    ("SER#", "HQ2001CHRG1"),
    ("V", "13790"),
    ("I", "2500"),
    ("CS", "5"),
    ("ERR", "0"),
]
CHARGER = Device("charger", "HQ2001CHRG1", lambda: [encode_block(CHARGER_FIELDS)])
# No product id: an inverter by its labels (AC output), as a newer model the product table lacks.
LABELS_INVERTER_FIELDS = [
    ("FW", "0161"),
    ("SER#", "HQ2049X7CKZ"),
    ("MODE", "2"),
    ("CS", "1"),
    ("AR", "0"),
    ("V", "12800"),
    ("AC_OUT_V", "23000"),
    ("AC_OUT_I", "10"),
]
LABELS_INVERTER = Device("labels", "HQ2049X7CKZ", lambda: [encode_block(LABELS_INVERTER_FIELDS)])

# What a person reads per family: (platform, unique id suffix) -> (English name, default icon).
WORDS: dict[str, dict[tuple[str, str], tuple[str, str | None]]] = {
    "MPPT1": {
        ("sensor", "V"): ("Battery voltage", "mdi:current-dc"),
        ("sensor", "I"): ("Battery current", "mdi:current-dc"),
        ("sensor", "VPV"): ("Panel voltage", "mdi:solar-panel"),
        ("sensor", "PPV"): ("Panel power", "mdi:solar-power"),
        ("sensor", "CS"): ("Charger state", "mdi:battery-charging"),
        ("sensor", "ERR"): ("Charger error", "mdi:alert-circle"),
        ("sensor", "IL"): ("Load current", "mdi:power-plug"),
        ("binary_sensor", "LOAD"): ("Load output", "mdi:power-plug-off"),
        ("switch", "load_output"): ("Load output enabled", "mdi:power-plug-off"),
        ("select", "load_output_mode"): ("Load output mode", "mdi:power-plug-outline"),
        ("switch", "charger"): ("Charger", "mdi:battery-off-outline"),
        ("number", "battery_max_current"): ("Maximum charge current", "mdi:current-dc"),
    },
    "bmv": {
        ("sensor", "V"): ("Battery voltage", "mdi:current-dc"),
        ("sensor", "I"): ("Battery current", "mdi:current-dc"),
        ("sensor", "H7"): ("Minimum battery voltage", "mdi:current-dc"),
        ("sensor", "H8"): ("Maximum battery voltage", "mdi:current-dc"),
        ("sensor", "AR"): ("Alarm reason", "mdi:alarm-light"),
        ("binary_sensor", "Alarm"): ("Alarm", "mdi:alarm-light-off"),
        ("number", "battery_capacity"): ("Battery capacity", "mdi:battery-high"),
    },
    "phoenix": {
        ("sensor", "V"): ("Battery voltage", "mdi:current-dc"),
        ("sensor", "CS"): ("Device state", "mdi:power-plug-battery-outline"),
        ("sensor", "MODE"): ("Device mode", "mdi:cog"),
        ("sensor", "AC_OUT_V"): ("AC output voltage", "mdi:sine-wave"),
        ("sensor", "AC_OUT_I"): ("AC output current", "mdi:current-ac"),
        ("sensor", "AC_OUT_S"): ("AC output apparent power", "mdi:current-ac"),
        ("sensor", "WARN"): ("Warning reason", "mdi:alert"),
        ("switch", "inverter"): ("Inverter", "mdi:power-off"),
        ("select", "inverter_mode"): ("Inverter mode", "mdi:power-plug-battery"),
        ("number", "ac_out_voltage_setpoint"): ("AC output voltage setpoint", "mdi:sine-wave"),
        ("number", "shutdown_low_voltage"): (
            "Low battery shutdown voltage",
            "mdi:battery-alert-variant-outline",
        ),
    },
    "charger": {
        ("sensor", "V"): ("Battery voltage", "mdi:current-dc"),
        ("sensor", "CS"): ("Charger state", "mdi:battery-charging"),
    },
    "labels": {
        ("sensor", "CS"): ("Device state", "mdi:power-plug-battery-outline"),
        ("sensor", "AC_OUT_V"): ("AC output voltage", "mdi:sine-wave"),
    },
}


@dataclass
class Page:
    """A device's entities as its page shows them."""

    entry: MockConfigEntry
    entities: dict[tuple[str, str], er.RegistryEntry]
    icons: dict[str, Any]

    def icon(self, entity: er.RegistryEntry, state: str | None = None) -> str | None:
        """The icon the frontend shows: icons.json's, by translation key and state (None: the default
        of the entity's device class, e.g. a sine wave for any voltage)."""
        spec = self.icons.get(entity.domain, {}).get(entity.translation_key or "", {})
        found = spec.get("state", {}).get(state) if state is not None else None
        return found or spec.get("default")

    def all_icons(self, entity: er.RegistryEntry) -> set[str]:
        """Every icon the entity may show, whatever its state."""
        spec = self.icons.get(entity.domain, {}).get(entity.translation_key or "", {})
        return {icon for icon in (spec.get("default"), *spec.get("state", {}).values()) if icon}


@asynccontextmanager
async def open_page(hass: HomeAssistant, device: Device) -> AsyncIterator[Page]:
    model = None if device.family is None else hex_model(device.family, device.product_id, device.unique_id)
    async with repeating_simulator(device.emission(), hex_device=model) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, name=device.name, unique_id=device.unique_id, allow_control=True)
        await setup_entry(hass, entry)
        if model is not None:
            await wait_hex_read(entry)
        registry = er.async_get(hass)
        expected = {suffix for _platform, suffix in WORDS[device.name]}

        def entities() -> dict[tuple[str, str], er.RegistryEntry]:
            prefix = f"{device_key(entry)}_"
            return {
                (entity.domain, entity.unique_id.removeprefix(prefix)): entity
                for entity in er.async_entries_for_config_entry(registry, entry.entry_id)
            }

        await wait_until(lambda: expected <= {suffix for _platform, suffix in entities()})
        icons = (await async_get_icons(hass, "entity", [DOMAIN]))[DOMAIN]
        yield Page(entry, entities(), icons)
        assert await hass.config_entries.async_unload(entry.entry_id)


def is_ac(suffix: str) -> bool:
    """An AC value: the inverter's AC output labels and registers."""
    return suffix.lower().startswith("ac_out")


@pytest.mark.parametrize("device", [MPPT, BMV, INVERTER, CHARGER, LABELS_INVERTER], ids=lambda d: d.name)
async def test_each_family_reads_its_own_words(hass: HomeAssistant, device: Device) -> None:
    """Names and icons per family; DC values never carry an AC icon (nor the sine wave Home Assistant gives
    any voltage without an icon of its own); two entities share a name only when they show one register
    (a setting read-only and as a control)."""
    async with open_page(hass, device) as page:
        for (platform, suffix), (name, icon) in WORDS[device.name].items():
            entity = page.entities[platform, suffix]
            assert (entity.original_name, page.icon(entity)) == (name, icon), (platform, suffix)
            state = hass.states.get(entity.entity_id)
            assert state is not None
            assert state.attributes[ATTR_FRIENDLY_NAME] == f"{device.name} {name}"
        for (platform, suffix), entity in page.entities.items():
            if entity.original_device_class in ELECTRIC_CLASSES:
                assert page.icon(entity) is not None, (platform, suffix)
                assert (page.icon(entity) in AC_ICONS) is is_ac(suffix), (platform, suffix)
            if page.all_icons(entity) & AC_ICONS:
                assert is_ac(suffix), (platform, suffix)
        names: dict[str, set[str]] = {}
        for (_platform, suffix), entity in page.entities.items():
            names.setdefault(entity.original_name or "", set()).add(suffix)
        assert {name: suffixes for name, suffixes in names.items() if len(suffixes) > 1} == {}


async def texts(hass: HomeAssistant, language: str) -> dict[str, str]:
    return await async_get_translations(hass, language, "entity", [DOMAIN])


@pytest.mark.parametrize(
    ("device", "key", "name", "state", "icon"),
    [
        (
            MPPT,
            "charger_state",
            ("Charger state", "État du chargeur", "Laderzustand"),
            "bulk",
            "battery-charging-50",
        ),
        (
            INVERTER,
            "device_state",
            ("Device state", "État de l'appareil", "Gerätezustand"),
            "inverting",
            "power-plug-battery",
        ),
    ],
    ids=["mppt", "inverter"],
)
async def test_the_state_of_operation_per_family(
    hass: HomeAssistant, device: Device, key: str, name: tuple[str, ...], state: str, icon: str
) -> None:
    """CS: the charger state of an MPPT, the device state of an inverter; every code an option (a firmware
    may send any), each state in each language in the family's words; its icon per state."""
    async with open_page(hass, device) as page:
        entity = page.entities["sensor", "CS"]
        assert entity.translation_key == key
        shown = hass.states.get(entity.entity_id)
        assert shown is not None
        assert shown.state == state
        assert page.icon(entity, state) == f"mdi:{icon}"
        assert shown.attributes[ATTR_OPTIONS] == [member.key for member in ChargeState]
        for language, expected in zip(LANGUAGES, name, strict=True):
            words = await texts(hass, language)
            prefix = f"component.{DOMAIN}.entity.sensor.{key}"
            assert words[f"{prefix}.name"] == expected
            assert all(f"{prefix}.state.{option}" in words for option in shown.attributes[ATTR_OPTIONS])


async def test_inverter_words_differ_from_the_charger_words(hass: HomeAssistant) -> None:
    """The same CS code reads as the family does it: 1 is the low power mode of a charger, an inverter
    looking for a load (eco mode)."""
    expected = {
        "en": ("Low power", "Load search"),
        "fr": ("Basse consommation", "Recherche de charge"),
        "de": ("Energiesparmodus", "Lastsuche"),
    }
    for language, (charger, inverter) in expected.items():
        words = await texts(hass, language)
        prefix = f"component.{DOMAIN}.entity.sensor"
        assert (
            words[f"{prefix}.charger_state.state.low_power"],
            words[f"{prefix}.device_state.state.low_power"],
        ) == (
            charger,
            inverter,
        )


async def test_an_existing_entity_keeps_its_entity_id(hass: HomeAssistant) -> None:
    """An inverter's CS set up by an earlier release (named "Charger state"): same unique id, so the same
    entity id; only its name and state texts change."""
    registry = er.async_get(hass)
    async with repeating_simulator(inverter_emission()) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, name="phoenix", unique_id=INVERTER_SERIAL)
        entry.add_to_hass(hass)
        old = registry.async_get_or_create(
            "sensor",
            DOMAIN,
            f"{INVERTER_SERIAL}_CS",
            config_entry=entry,
            suggested_object_id="phoenix_charger_state",
            original_name="Charger state",
            translation_key="charger_state",
        )
        assert old.entity_id == "sensor.phoenix_charger_state"
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        entity = registry.async_get("sensor.phoenix_charger_state")
        assert entity is not None
        assert (entity.unique_id, entity.translation_key, entity.original_name) == (
            f"{INVERTER_SERIAL}_CS",
            "device_state",
            "Device state",
        )
        assert hass.states.get("sensor.phoenix_device_state") is None
        shown = hass.states.get("sensor.phoenix_charger_state")
        assert shown is not None
        assert shown.attributes[ATTR_FRIENDLY_NAME] == "phoenix Device state"
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_the_integration_page_says_what_an_entry_is(hass: HomeAssistant) -> None:
    """Each entry is one device (or one Redis server): integration type "device" (the page lists
    "Devices", not "Hubs"), and its add button names both, in each language."""
    integration = await async_get_integration(hass, DOMAIN)
    assert integration.integration_type == "device"
    expected = {
        "en": "Add device or Redis server",
        "fr": "Ajouter un appareil ou un serveur Redis",
        "de": "Gerät oder Redis-Server hinzufügen",
    }
    for language, text in expected.items():
        words = await async_get_translations(hass, language, "config", [DOMAIN])
        assert words[f"component.{DOMAIN}.config.initiate_flow.user"] == text
