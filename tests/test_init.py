"""The integration is found; VE.Direct entries set up, retry while the device is absent, unload cleanly."""

import asyncio
from datetime import timedelta
from pathlib import Path

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_integration
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.vemonitor.const import DOMAIN
from custom_components.vemonitor.models import VeDirectSample
from tests.ha_vedirect import (
    RepeatSource,
    drive_until,
    mppt_emission,
    repeating_simulator,
    setup_entry,
    vedirect_entry,
)
from vedirect_tools.simulator import Simulator


def openers(path: str) -> int:
    """File descriptors of this process open on ``path`` (the simulator keeps one of its own)."""
    real = Path(path).resolve()
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            if fd.readlink() == real:
                count += 1
        except OSError:
            continue
    return count


def client_tasks() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if task.get_name().startswith(f"{DOMAIN} VE.Direct client")]


async def test_integration_is_found(hass: HomeAssistant) -> None:
    integration = await async_get_integration(hass, DOMAIN)
    assert integration.name == "VE Monitor"
    assert integration.config_flow is True
    assert integration.iot_class == "local_push"


async def test_entry_sets_up_and_unloads(hass: HomeAssistant) -> None:
    async with repeating_simulator(mppt_emission()) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url)
        await setup_entry(hass, entry)
        assert openers(sim.url) == 2
        assert len(client_tasks()) == 1

        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.NOT_LOADED
        assert openers(sim.url) == 1  # only the simulator's own end is left
        assert client_tasks() == []


async def test_setup_retries_when_the_port_is_missing(hass: HomeAssistant, tmp_path: Path) -> None:
    entry = vedirect_entry(str(tmp_path / "ttyUSB0"))
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert "ttyUSB0" in entry.reason
    assert client_tasks() == []


async def test_setup_retries_when_no_valid_data_comes(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    sim = Simulator(RepeatSource(mppt_emission()))
    port = await sim.start()
    sim.pause()  # the port opens, the device stays silent
    entry = vedirect_entry(port)
    entry.add_to_hass(hass)
    setup = hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
    await drive_until(hass, lambda: openers(port) == 2)
    freezer.tick(timedelta(seconds=11))
    async_fire_time_changed(hass)
    await setup
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert openers(port) == 1
    assert client_tasks() == []
    await sim.stop()


@pytest.mark.usefixtures("socket_enabled")
async def test_setup_retries_when_the_server_hangs_up(hass: HomeAssistant) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    entry = vedirect_entry(f"socket://127.0.0.1:{port}")
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    server.close()
    await server.wait_closed()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert client_tasks() == []


async def test_every_sample_reaches_the_sample_listeners(hass: HomeAssistant) -> None:
    """The contract of the Redis outputs: each sample taken is handed to every listener, even if one fails."""
    async with repeating_simulator(mppt_emission()) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url)
        await setup_entry(hass, entry)
        coordinator = entry.runtime_data.coordinator
        received: list[VeDirectSample] = []

        def broken(sample: VeDirectSample) -> None:
            raise RuntimeError("listener bug")

        remove_broken = coordinator.async_add_sample_listener(broken)
        remove = coordinator.async_add_sample_listener(received.append)
        await coordinator.async_refresh()
        assert len(received) == 1
        assert received[0] is coordinator.data
        assert received[0].timestamp.tzinfo is not None
        assert received[0].frame.values["V"] == 13.37
        remove_broken()
        remove()
        await coordinator.async_refresh()
        assert len(received) == 1
        assert await hass.config_entries.async_unload(entry.entry_id)
