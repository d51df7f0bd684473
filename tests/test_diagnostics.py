"""Diagnostics of a VE.Direct entry: settings, last raw block, decoded frame, counters, link state."""

import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from tests.ha_vedirect import (
    MPPT_SERIAL,
    inverter_emission,
    mppt_emission,
    repeating_simulator,
    setup_entry,
    vedirect_entry,
)


async def test_diagnostics_decode_flags(hass: HomeAssistant, hass_client: ClientSessionGenerator) -> None:
    async with repeating_simulator(inverter_emission()) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, name="phoenix", unique_id="HQ2049X7CKM")
        await setup_entry(hass, entry)
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        assert await hass.config_entries.async_unload(entry.entry_id)
    assert diagnostics["vedirect"]["values"]["OR"] == {"code": 0, "keys": []}
    assert diagnostics["vedirect"]["values"]["MODE"] == {"code": 2, "key": "inverter"}


async def test_diagnostics(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, snapshot: SnapshotAssertion
) -> None:
    async with repeating_simulator(mppt_emission()) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url)
        await setup_entry(hass, entry)
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        assert await hass.config_entries.async_unload(entry.entry_id)

    link = diagnostics["vedirect"]["link"]
    assert link["state"] == "connected"
    assert link["port_open"] is True
    assert diagnostics["vedirect"]["counters"]["valid_blocks"] >= 1
    assert diagnostics["vedirect"]["last_raw_block"].startswith("\r\nPID\t0xA042\r\n")
    assert diagnostics["vedirect"]["values"]["CS"] == {"code": 3, "key": "bulk"}
    assert diagnostics["vedirect"]["values"]["V"] == 13.37
    assert MPPT_SERIAL not in json.dumps(diagnostics)  # serial numbers are redacted, raw block included
    assert diagnostics == snapshot(
        exclude=props("port", "last_block", "last_sample", "counters", "connections")
    )
