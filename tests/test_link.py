"""Link loss and recovery: a real simulator on a pseudo-terminal, stopped and restarted, with frozen time.

With ``freezer`` the event loop's clock stands still: the simulator is paused and fed by ``inject`` (bytes go
through the real pty), and every timer (coordinator refresh, client backoff) runs only when the test moves
time on with ``freezer.tick`` + ``async_fire_time_changed``.
"""

from datetime import timedelta
import logging
from pathlib import Path

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    async_fire_time_changed,
)

from tests.ha_vedirect import RepeatSource, drive_until, mppt_emission, vedirect_entry
from vedirect_tools.simulator import Simulator

VOLTAGE = "sensor.mppt1_battery_voltage"
LINK = "binary_sensor.mppt1_ve_direct_link"


async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


def link_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "custom_components.vemonitor" and r.levelno == level]


async def test_link_lost_and_back(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    block = b"".join(mppt_emission())
    sim = Simulator(RepeatSource(mppt_emission()), pty_link=tmp_path / "ttyVE0")
    port = await sim.start()
    sim.pause()
    entry = vedirect_entry(port, time_interval=1)
    entry.add_to_hass(hass)
    setup = hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
    await drive_until(hass, setup.done, sim, block)
    assert await setup
    await hass.async_block_till_done()
    assert hass.states.get(VOLTAGE).state == "13.37"
    assert hass.states.get(LINK).state == STATE_ON
    caplog.clear()

    await sim.stop()  # the port disappears
    await advance(hass, freezer, 3)
    assert hass.states.get(VOLTAGE).state == "13.37"  # within the stall window (max(3 x 1 s, 5 s))
    await advance(hass, freezer, 3)
    assert hass.states.get(VOLTAGE).state == STATE_UNAVAILABLE
    assert hass.states.get(LINK).state == STATE_OFF
    for _ in range(3):
        await advance(hass, freezer, 10)
    assert hass.states.get(VOLTAGE).state == STATE_UNAVAILABLE
    warnings = link_records(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert "MPPT1" in warnings[0].getMessage()
    assert not link_records(caplog, logging.ERROR)

    await sim.start()  # back, on a new pty behind the same link
    sim.pause()
    for _ in range(70):  # second by second: the client's backoff (capped at 60 s) ends, it reopens the port
        await advance(hass, freezer, 1)
        if await drive_until(
            hass, lambda: hass.states.get(LINK).state == STATE_ON, sim, block, tries=3, strict=False
        ):
            break
    await advance(hass, freezer, 1)  # the next sample
    assert hass.states.get(VOLTAGE).state == "13.37"
    assert hass.states.get(LINK).state == STATE_ON
    assert len(link_records(caplog, logging.WARNING)) == 1
    assert len(link_records(caplog, logging.INFO)) == 1
    assert not link_records(caplog, logging.ERROR)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    await sim.stop()
