"""BMV/SmartShunt identity: the serial read over HEX becomes the unique id, device identifier and device key,
once, with entity ids kept; config entry 1.3 stores the device key; new BMV entries start with the serial."""

import logging

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_NAME, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest

from custom_components.vemonitor.const import CONF_DEVICE_KEY, CONF_TIME_INTERVAL, DOMAIN
from custom_components.vemonitor.vedirect.registers import Family
from tests.ha_vedirect import (
    BMV_HEX_SERIAL,
    BMV_PID,
    MPPT_SERIAL,
    bmv_emission,
    hex_model,
    mppt_emission,
    repeating_simulator,
    setup_entry,
    vedirect_entry,
    wait_hex_read,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_a_bmv_entry_of_1_2_is_rekeyed_to_its_serial(hass: HomeAssistant) -> None:
    async with repeating_simulator(bmv_emission(), hex_device=hex_model(Family.BMV, BMV_PID)) as sim:
        assert sim.url is not None
        entry = vedirect_entry(
            sim.url,
            name="house",
            unique_id=f"0x{BMV_PID:04X}@{sim.url}",
            entry_id="bmv_entry",
            minor_version=2,
        )
        entry.add_to_hass(hass)
        # What release 1.2 registered: entity unique ids on the entry id, one entity id renamed by the user.
        entities = er.async_get(hass)
        entities.async_get_or_create(
            "sensor", DOMAIN, "bmv_entry_V", config_entry=entry, suggested_object_id="my_house_battery"
        )
        devices = dr.async_get(hass)
        device = devices.async_get_or_create(
            config_entry_id=entry.entry_id, identifiers={(DOMAIN, "bmv_entry")}
        )
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.minor_version == 3

        await wait_until(lambda: entry.unique_id == BMV_HEX_SERIAL)
        await hass.async_block_till_done()
        await wait_until(lambda: entry.state is ConfigEntryState.LOADED)
        await wait_hex_read(entry)
        assert entry.data[CONF_DEVICE_KEY] == BMV_HEX_SERIAL
        renamed = entities.async_get("sensor.my_house_battery")
        assert renamed is not None
        assert renamed.unique_id == f"{BMV_HEX_SERIAL}_V"
        assert hass.states.get("sensor.my_house_battery") is not None
        assert all(
            not entity.unique_id.startswith("bmv_entry_")
            for entity in er.async_entries_for_config_entry(entities, entry.entry_id)
        )
        moved = devices.async_get(device.id)
        assert moved is not None
        assert moved.identifiers == {(DOMAIN, BMV_HEX_SERIAL)}
        assert moved.serial_number == BMV_HEX_SERIAL
        assert len(dr.async_entries_for_config_entry(devices, entry.entry_id)) == 1
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_serial_held_by_another_entry_is_not_taken(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    async with repeating_simulator(bmv_emission(), hex_device=hex_model(Family.BMV, BMV_PID)) as sim:
        assert sim.url is not None
        holder = vedirect_entry("/dev/ttyUSB9", name="other", unique_id=BMV_HEX_SERIAL)
        holder.add_to_hass(hass)
        entry = vedirect_entry(sim.url, name="house", unique_id=f"0x{BMV_PID:04X}@{sim.url}")
        with caplog.at_level(logging.WARNING):
            await setup_entry(hass, entry)
            await wait_hex_read(entry)
            await hass.async_block_till_done()
        assert entry.unique_id == f"0x{BMV_PID:04X}@{sim.url}"
        assert entry.data[CONF_DEVICE_KEY] == entry.entry_id
        assert caplog.text.count("holds already") == 1
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_migration_stores_the_device_key(hass: HomeAssistant) -> None:
    """1.2 -> 1.3 writes the key device_key() used to guess: the SER#, or the entry id of a BMV."""
    mppt = vedirect_entry("/dev/ttyUSB0", unique_id=MPPT_SERIAL, minor_version=2)
    bmv = vedirect_entry("/dev/ttyUSB1", name="bmv", unique_id="0xA381@/dev/ttyUSB1", minor_version=2)
    for entry in (mppt, bmv):
        entry.add_to_hass(hass)
        assert await entry.async_migrate(hass)
        assert entry.minor_version == 3
    assert mppt.data[CONF_DEVICE_KEY] == MPPT_SERIAL
    assert bmv.data[CONF_DEVICE_KEY] == bmv.entry_id


async def test_a_new_bmv_is_known_by_its_hex_serial(hass: HomeAssistant) -> None:
    async with repeating_simulator(
        bmv_emission(), tcp=True, hex_device=hex_model(Family.BMV, BMV_PID)
    ) as sim:
        assert sim.url is not None
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "vedirect"}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_NAME: "BMV_712", CONF_PORT: sim.url, CONF_TIME_INTERVAL: 1}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["result"].unique_id == BMV_HEX_SERIAL
        await hass.async_block_till_done()
        entry = result["result"]
        devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        assert [device.identifiers for device in devices] == [{(DOMAIN, BMV_HEX_SERIAL)}]
        assert devices[0].serial_number == BMV_HEX_SERIAL
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_an_mppt_keeps_its_text_serial(hass: HomeAssistant) -> None:
    async with repeating_simulator(mppt_emission()) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url)
        await setup_entry(hass, entry)
        assert entry.data[CONF_DEVICE_KEY] == MPPT_SERIAL
        assert await hass.config_entries.async_unload(entry.entry_id)
