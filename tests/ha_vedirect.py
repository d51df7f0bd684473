"""Helpers of the Home Assistant VE.Direct tests: known blocks on a real simulator, entries for them."""

import asyncio
from collections.abc import Callable
from datetime import timedelta
import os
import time
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    CONF_NAME,
    CONF_PORT,
)
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed_exact
from syrupy.types import PropertyPath, SerializableData

from custom_components.vemonitor.const import (
    CONF_ALLOW_CONTROL,
    CONF_ENTRY_TYPE,
    CONF_TIME_INTERVAL,
    DOMAIN,
    ENTRY_TYPE_VEDIRECT,
)
from custom_components.vemonitor.vedirect.registers import Family
from tests.vedirect_sim import CAPTURES, FAST_RATE, WAIT
from vedirect_tools.hexdevice import HexDevice, default_model
from vedirect_tools.simulator import (
    Emission,
    Simulator,
    split_capture,
    synthetic_device,
)

MPPT_CAPTURE = CAPTURES / "bluesolar-mppt-75-15_fw150.log"
BMV_CAPTURE = CAPTURES / "bmv-712_fw0403_a.log"
MPPT_SERIAL = "HQ1909TTJRP"
INVERTER_SERIAL = "HQ2049X7CKM"
BMV_HEX_SERIAL = "HQ2112ABCDE"  # what the simulated BMV-712 answers for 0x010A (its text has no SER#)
# The product ids of the known emissions (the HEX model answers for the same device).
MPPT_PID, BMV_PID, INVERTER_PID = 0xA042, 0xA381, 0xA261


class RepeatSource:
    """Sends one known emission forever: entity values are known, snapshots stable."""

    def __init__(self, emission: Emission) -> None:
        self.emission = emission

    def next_emission(self) -> Emission:
        return list(self.emission)


def capture_emission(path: os.PathLike[str], index: int = 1) -> Emission:
    """One emission of a real capture (index 0 may be a partial block joined mid-way)."""
    return split_capture(open(path, "rb").read())[index]  # noqa: PTH123


def mppt_emission() -> Emission:
    """BlueSolar MPPT 75/15 fw 1.50: V 13370 mV, I 5440 mA, VPV 16640 mV, PPV 74 W, CS 3, H19 614..."""
    return capture_emission(MPPT_CAPTURE)


def bmv_emission() -> Emission:
    """BMV-712 Smart fw 4.03: history block, then V 13044, T 23, I 3862, P 50, SOC 1000, TTG -1..."""
    return capture_emission(BMV_CAPTURE)


def inverter_emission() -> Emission:
    """The synthetic Phoenix Inverter 12V 800VA 230V (seeded: the same values every run)."""
    return synthetic_device("inverter", seed=0).next_emission()


def hex_model(family: Family, product_id: int, serial: str | None = None) -> HexDevice:
    """The simulator's register model of a family, for the device of a known emission."""
    return default_model(family, product_id, serial)


def repeating_simulator(
    emission: Emission,
    *,
    tcp: bool = False,
    pty_link: str | os.PathLike[str] | None = None,
    hex_device: HexDevice | None = None,
) -> Simulator:
    """A simulator sending ``emission`` fast, for ``async with`` (started on entry, stopped on exit);
    ``sim.url`` is the pty path or socket:// URL. Without ``hex_device`` it answers no HEX request (a
    text-only device: the integration's background HEX read times out, after the tests are done)."""
    return Simulator(
        RepeatSource(emission),
        rate=FAST_RATE,
        tcp=("127.0.0.1", 0) if tcp else None,
        pty_link=pty_link,
        hex=hex_device is not None,
        hex_model=hex_device,
    )


def vedirect_entry(
    port: str,
    *,
    name: str = "MPPT1",
    unique_id: str = MPPT_SERIAL,
    time_interval: int = 1,
    entry_id: str | None = None,
    allow_control: bool | None = None,
    minor_version: int = 1,
) -> MockConfigEntry:
    """A VE.Direct entry as the config flow creates it (``entry_id``: fixed, for snapshots of a BMV);
    ``allow_control`` None: an entry of before the option."""
    options: dict[str, Any] = {CONF_TIME_INTERVAL: time_interval}
    if allow_control is not None:
        options[CONF_ALLOW_CONTROL] = allow_control
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=entry_id,
        title=name,
        unique_id=unique_id,
        minor_version=minor_version,
        data={CONF_ENTRY_TYPE: ENTRY_TYPE_VEDIRECT, CONF_NAME: name, CONF_PORT: port},
        options=options,
    )


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add and set up an entry; it must load."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def wait_hex_read(entry: MockConfigEntry) -> None:
    """Wait for the entry's first HEX read (run in the background after the setup) and its entities."""
    async with asyncio.timeout(WAIT):
        await entry.runtime_data.settings.async_first_read()
    await entry.runtime_data.coordinator.hass.async_block_till_done()


async def wait_until(condition: Callable[[], bool]) -> None:
    """Wait in real time (bounded by WAIT) until ``condition()`` holds."""
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.02)


async def drive_until(
    hass: HomeAssistant,
    done: Callable[[], bool],
    sim: Simulator | None = None,
    block: bytes = b"",
    *,
    tries: int = 500,
    strict: bool = True,
) -> bool:
    """Under ``freezer`` (the loop's clock stands still): run the short timers serialx needs to open a port
    and send ``block`` every 10 ms of real time, until ``done()``. A port drops what came before it opened.
    Returns whether ``done()`` came true; with ``strict`` not coming true within ``tries`` is an error.
    """
    for _ in range(tries):
        if done():
            return True
        if sim is not None:
            sim.inject(block)
        async_fire_time_changed_exact(hass, dt_util.utcnow() + timedelta(milliseconds=20))
        await hass.async_add_executor_job(time.sleep, 0.01)  # real time
    if strict:
        raise AssertionError(f"condition not reached within {tries} tries")
    return done()


VARYING_ENTITY_SUFFIXES = ("_valid_blocks", "_invalid_blocks", "_last_sample")


def mask_link_counters(data: SerializableData, path: PropertyPath) -> Any:
    """Snapshot matcher: block counters and the last sample time depend on timing, not on the data."""
    del path
    entity_id = str(data.get("entity_id", "")) if isinstance(data, dict) else ""
    if entity_id.endswith(VARYING_ENTITY_SUFFIXES) and "state" in data:
        return type(data)({**data, "state": "<varies>"})
    return data


def state(hass: HomeAssistant, entity_id: str) -> str:
    """The state of an entity that must exist."""
    found = hass.states.get(entity_id)
    assert found is not None, entity_id
    return found.state
