"""Entities from HEX registers on a simulated MPPT, BMV and Phoenix inverter; a text-only device gets none."""

from collections.abc import Mapping, Sequence
import json
import logging
import re

from homeassistant.components.sensor import ATTR_STATE_CLASS, SensorStateClass
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_DEVICE_CLASS, ATTR_UNIT_OF_MEASUREMENT, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity import EntityDescription
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
import yaml

from custom_components.vemonitor.const import DOMAIN
from custom_components.vemonitor.hex_entities import HEX_NUMBERS, HEX_SELECTS, HEX_SENSORS, HEX_SWITCHES
from custom_components.vemonitor.vedirect.registers import HISTORY_YESTERDAY, Family
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
    state,
    vedirect_entry,
    wait_hex_read,
    wait_until,
)
from tests.test_translations import TRANSLATIONS
from vedirect_tools.devices import encode_block
from vedirect_tools.hexdevice import HexDevice
from vedirect_tools.simulator import Simulator

pytestmark = pytest.mark.usefixtures("socket_enabled")


def entity_ids(hass: HomeAssistant, entry: MockConfigEntry, domain: str) -> set[str]:
    registry = er.async_get(hass)
    return {
        entity.entity_id
        for entity in er.async_entries_for_config_entry(registry, entry.entry_id)
        if entity.domain == domain
    }


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_mppt_history_and_settings(hass: HomeAssistant, mppt_sim: Simulator) -> None:
    assert mppt_sim.url is not None
    entry = vedirect_entry(mppt_sim.url)
    await setup_entry(hass, entry)
    await wait_hex_read(entry)

    assert state(hass, "sensor.mppt1_absorption_voltage") == "14.4"
    assert state(hass, "sensor.mppt1_float_voltage") == "13.8"
    assert state(hass, "sensor.mppt1_maximum_charge_current") == "15.0"
    assert state(hass, "sensor.mppt1_battery_system_voltage") == "12"
    assert state(hass, "sensor.mppt1_time_in_bulk_yesterday") == "212"
    assert state(hass, "sensor.mppt1_yield_yesterday_history") == "1.12"
    assert state(hass, "sensor.mppt1_maximum_power_yesterday_history") == "268"
    assert state(hass, "sensor.mppt1_load_output_mode") == "on"
    absorption = hass.states.get("sensor.mppt1_absorption_voltage")
    assert absorption is not None
    assert absorption.attributes[ATTR_UNIT_OF_MEASUREMENT] == "V"
    assert absorption.attributes[ATTR_DEVICE_CLASS] == "voltage"
    today = hass.states.get("sensor.mppt1_yield_today_history")
    assert today is not None
    assert today.attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL_INCREASING
    registry = er.async_get(hass)
    setting = registry.async_get("sensor.mppt1_absorption_voltage")
    assert setting is not None
    assert setting.entity_category is EntityCategory.DIAGNOSTIC
    assert setting.unique_id == f"{MPPT_SERIAL}_absorption_voltage"
    # Option off (an entry of before the option): no control entity at all.
    assert entity_ids(hass, entry, "switch") == set()
    assert entity_ids(hass, entry, "number") == set()
    assert entity_ids(hass, entry, "select") == set()
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_rarely_needed_entities_are_disabled(hass: HomeAssistant, mppt_sim: Simulator) -> None:
    assert mppt_sim.url is not None
    entry = vedirect_entry(mppt_sim.url)
    await setup_entry(hass, entry)
    await wait_hex_read(entry)
    registry = er.async_get(hass)
    enabled = {
        entity.unique_id.removeprefix(f"{MPPT_SERIAL}_")
        for entity in er.async_entries_for_config_entry(registry, entry.entry_id)
        if entity.disabled_by is None
    }
    assert {
        "history_today_bulk_time",
        "history_today_absorption_time",
        "history_today_float_time",
        "absorption_voltage",
        "float_voltage",
        "battery_max_current",
        "system_voltage",
    } <= enabled
    assert "history_yesterday_bulk_time" not in enabled
    assert "history_today_yield" not in enabled  # H20 tells it already
    assert "internal_temperature" not in enabled
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_bmv_battery_settings(hass: HomeAssistant) -> None:
    model = hex_model(Family.BMV, BMV_PID)
    async with repeating_simulator(bmv_emission(), tcp=True, hex_device=model) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, name="bmv", unique_id=BMV_HEX_SERIAL)
        await setup_entry(hass, entry)
        await wait_hex_read(entry)
        assert state(hass, "sensor.bmv_battery_capacity") == "200"
        assert state(hass, "sensor.bmv_charged_voltage") == "13.2"
        assert state(hass, "sensor.bmv_tail_current") == "4.0"
        assert state(hass, "sensor.bmv_peukert_exponent") == "1.25"
        assert state(hass, "sensor.bmv_dc_monitor_mode") == "battery_monitor"
        capacity = hass.states.get("sensor.bmv_battery_capacity")
        assert capacity is not None
        assert capacity.attributes[ATTR_UNIT_OF_MEASUREMENT] == "Ah"
        assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_inverter_settings(hass: HomeAssistant) -> None:
    model = hex_model(Family.INVERTER, INVERTER_PID, INVERTER_SERIAL)
    async with repeating_simulator(inverter_emission(), hex_device=model) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, name="phoenix", unique_id=INVERTER_SERIAL)
        await setup_entry(hass, entry)
        await wait_hex_read(entry)
        assert state(hass, "sensor.phoenix_ac_output_voltage_setpoint") == "230.0"
        assert state(hass, "sensor.phoenix_low_battery_shutdown_voltage") == "10.5"
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_text_only_device_gets_no_hex_entity(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """A device that never answers HEX: set up at once (the read runs after), no HEX entity, a diagnostic."""
    async with repeating_simulator(mppt_emission()) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, allow_control=True)
        await setup_entry(hass, entry)
        assert entry.state is ConfigEntryState.LOADED
        await wait_hex_read(entry)  # the 3 x 1 s of timeouts, after the setup
        assert entry.runtime_data.settings.hex_support is False
        registry = er.async_get(hass)
        link_keys = {"link", "valid_blocks", "invalid_blocks", "last_sample"}
        hex_entities = [
            entity.entity_id
            for entity in er.async_entries_for_config_entry(registry, entry.entry_id)
            if (key := entity.unique_id.removeprefix(f"{MPPT_SERIAL}_")).islower() and key not in link_keys
        ]
        assert hex_entities == []
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        assert diagnostics["vedirect"]["hex"]["status"] == "no_hex_answer"
        assert diagnostics["vedirect"]["hex"]["hex_support"] is False
        assert diagnostics["vedirect"]["hex"]["registers"] == {}
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_async_frame_updates_a_register(hass: HomeAssistant, mppt_sim: Simulator) -> None:
    """The device changes a setting itself (VictronConnect): its async frame updates the entity at once."""
    assert mppt_sim.url is not None
    assert mppt_sim.hex is not None
    entry = vedirect_entry(mppt_sim.url)
    await setup_entry(hass, entry)
    await wait_hex_read(entry)
    assert state(hass, "sensor.mppt1_absorption_voltage") == "14.4"
    mppt_sim.hex.set_value(0xEDF7, 14.6)
    await wait_until(lambda: entry.runtime_data.settings.values.get(0xEDF7) == 14.6)
    await hass.async_block_till_done()
    assert state(hass, "sensor.mppt1_absorption_voltage") == "14.6"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_diagnostics_list_the_registers(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    model = hex_model(Family.BMV, BMV_PID)
    async with repeating_simulator(bmv_emission(), hex_device=model) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, name="bmv", unique_id=BMV_HEX_SERIAL)
        await setup_entry(hass, entry)
        await wait_hex_read(entry)
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        assert await hass.config_entries.async_unload(entry.entry_id)
    hex_diagnostics = diagnostics["vedirect"]["hex"]
    assert hex_diagnostics["family"] == "bmv"
    assert hex_diagnostics["status"] == "read"
    assert hex_diagnostics["registers"]["battery_capacity"] == 200
    assert BMV_HEX_SERIAL not in str(diagnostics)
    assert DOMAIN


def test_every_hex_entity_option_and_error_is_translated() -> None:
    """Names and enum states of the HEX entities, the errors they raise and the actions: in English (the
    languages test checks French and German have the same keys)."""
    translations = json.loads((TRANSLATIONS / "en.json").read_text(encoding="utf-8"))
    entity = translations["entity"]
    tables: dict[str, Mapping[Family, Sequence[EntityDescription]]] = {
        "sensor": HEX_SENSORS,
        "number": HEX_NUMBERS,
        "switch": HEX_SWITCHES,
        "select": HEX_SELECTS,
    }
    for platform, table in tables.items():
        for descriptions in table.values():
            for description in descriptions:
                assert description.translation_key in entity[platform], (platform, description.key)
                for option in getattr(description, "options", None) or []:
                    assert option in entity[platform][description.translation_key]["state"], option
    source = "\n".join(
        (TRANSLATIONS.parent / name).read_text(encoding="utf-8") for name in ("settings.py", "services.py")
    )
    for key in re.findall(r'translation_key="([a-z_]+)"', source):
        assert key in translations["exceptions"], key
    for key in (  # settings._WRITE_ERRORS and _hex_error
        "device_refused_value",
        "register_not_supported",
        "device_lacks_register",
        "hex_timeout",
        "not_connected",
        "hex_unsupported",
        "hex_failed",
    ):
        assert key in translations["exceptions"]
    services = yaml.safe_load((TRANSLATIONS.parent / "services.yaml").read_text(encoding="utf-8"))
    icons = json.loads((TRANSLATIONS.parent / "icons.json").read_text(encoding="utf-8"))
    for service, spec in services.items():
        assert set(spec["fields"]) == set(translations["services"][service]["fields"])
        assert service in icons["services"]


async def test_a_device_without_register_table_is_not_asked(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """A charger (no table yet): no HEX request at all, and the diagnostics say why."""
    charger = [encode_block([("PID", "0xA30A"), ("FW", "146"), ("SER#", "HQ2001CHRG1"), ("V", "13790")])]
    async with repeating_simulator(charger, hex_device=hex_model(Family.MPPT, MPPT_PID)) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, name="charger", unique_id="HQ2001CHRG1")
        await setup_entry(hass, entry)
        await wait_hex_read(entry)
        settings = entry.runtime_data.settings
        assert settings.family is None
        assert settings.hex_support is None  # never asked
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        assert diagnostics["vedirect"]["hex"]["status"] == "no_register_table"
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_an_empty_history_day_has_no_value(hass: HomeAssistant) -> None:
    """The device answers flag 0x04 for a day without a record: the entity exists, its state is unknown."""
    full = hex_model(Family.MPPT, MPPT_PID, MPPT_SERIAL)
    values = {rid: full.value(rid) for rid in full.registers if rid != HISTORY_YESTERDAY}
    async with repeating_simulator(
        mppt_emission(), hex_device=HexDevice(Family.MPPT, MPPT_PID, values)
    ) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url)
        await setup_entry(hass, entry)
        await wait_hex_read(entry)
        assert entry.runtime_data.settings.values[HISTORY_YESTERDAY] is None
        assert state(hass, "sensor.mppt1_time_in_bulk_today") == "0"
        registry = er.async_get(hass)
        assert registry.async_get("sensor.mppt1_time_in_bulk_yesterday") is not None
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_frames_the_settings_ignore(hass: HomeAssistant, mppt_sim: Simulator) -> None:
    """Async frames of a register not read (or dropped, or of a wrong length) change nothing."""
    assert mppt_sim.url is not None
    entry = vedirect_entry(mppt_sim.url)
    await setup_entry(hass, entry)
    settings = entry.runtime_data.settings
    settings.async_handle_register(0xEDF7, b"\x10\x05")  # before the first read: the read gets it
    await wait_hex_read(entry)
    before = dict(settings.values)
    settings.async_handle_register(0xEEEE, b"\x01")  # not one of ours
    settings.async_handle_register(0xEDF7, b"\x10")  # a wrong length
    settings._dropped.add(0xEDF6)
    settings.async_handle_register(0xEDF6, b"\x10\x05")  # dropped
    assert dict(settings.values) == before
    settings.async_handle_register(0xEDF7, b"\xa0\x05")  # 14.40 V, as it is: no change
    assert dict(settings.values) == before
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_read_while_the_link_is_down_waits(
    hass: HomeAssistant, mppt_sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The periodic read finds the port closed: it reads nothing and logs nothing (the device coordinator
    tells of the link once), and the values are kept."""
    assert mppt_sim.url is not None
    entry = vedirect_entry(mppt_sim.url)
    await setup_entry(hass, entry)
    await wait_hex_read(entry)
    settings = entry.runtime_data.settings
    before = dict(settings.values)
    client = entry.runtime_data.client
    await mppt_sim.stop()
    await wait_until(lambda: not client.is_port_open)
    caplog.clear()
    await settings.async_refresh()
    assert settings.last_update_success
    assert dict(settings.values) == before
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "HEX" in r.getMessage()]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_reply_of_the_wrong_size_drops_the_register(hass: HomeAssistant) -> None:
    """A device whose register does not have the table's type (another firmware): dropped, not an error."""
    model = hex_model(Family.MPPT, MPPT_PID, MPPT_SERIAL)
    model._registers[0xEDF4] = b"\x01"  # equalisation voltage: 1 byte instead of 2
    async with repeating_simulator(mppt_emission(), hex_device=model) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url)
        await setup_entry(hass, entry)
        await wait_hex_read(entry)
        settings = entry.runtime_data.settings
        assert settings.last_update_success
        assert 0xEDF4 not in settings.values
        assert "0xEDF4" in settings.diagnostics()["dropped"]
        assert settings.values[0xEDF7] == 14.4
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_an_odd_reply_of_a_register_that_answered_keeps_it(hass: HomeAssistant) -> None:
    """A register that answered once and then replies oddly (line noise, another size) keeps its value and
    its entity until the next read: only a register that never answered is dropped."""
    model = hex_model(Family.MPPT, MPPT_PID, MPPT_SERIAL)
    async with repeating_simulator(mppt_emission(), hex_device=model) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, allow_control=True)
        await setup_entry(hass, entry)
        await wait_hex_read(entry)
        settings = entry.runtime_data.settings
        model._registers[0xEDF7] = b"\x01"  # absorption voltage: 1 byte instead of 2
        await settings.async_refresh()
        await hass.async_block_till_done()
        assert settings.values[0xEDF7] == 14.4
        assert "0xEDF7" not in settings.diagnostics()["dropped"]
        state = hass.states.get("number.mppt1_absorption_voltage")
        assert state is not None
        assert state.state == "14.4"
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_the_battery_voltage_of_a_model_the_table_does_not_know(hass: HomeAssistant) -> None:
    """An inverter (no battery voltage register) of a product id the table lacks: the nominal voltage nearest
    to what the battery reads, so a 24 V model's ranges are not those of 12 V."""
    fields = [("PID", "0xA2FE"), ("FW", "0161"), ("SER#", "HQ2049X7CKZ"), ("MODE", "2"), ("CS", "9")]
    fields += [("AR", "0"), ("WARN", "0"), ("V", "26400"), ("AC_OUT_V", "23000"), ("AC_OUT_I", "10")]
    emission = [encode_block(fields)]
    async with repeating_simulator(emission) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, name="inverter", unique_id="HQ2049X7CKZ")
        await setup_entry(hass, entry)
        settings = entry.runtime_data.settings
        assert settings.battery_voltage == 24.0
        assert await hass.config_entries.async_unload(entry.entry_id)
