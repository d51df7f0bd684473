"""Fixtures shared by the whole suite."""

from collections.abc import AsyncIterator, Callable, Generator
import os
from pathlib import Path
from typing import override
from unittest.mock import PropertyMock, patch

from homeassistant.const import MAJOR_VERSION, MINOR_VERSION, Platform
from homeassistant.core import HomeAssistant
from hypothesis import settings
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion
from syrupy.location import PyTestLocation

from custom_components.vemonitor.vedirect.registers import Family
from tests.ha_vedirect import (
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
)
from vedirect_tools.simulator import Emission, Simulator

# CI explores the same examples on every run (reproducible verdicts); elsewhere Hypothesis keeps exploring.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Fixtures of the Home Assistant Redis tests (redis-servers, Redis server entries).
pytest_plugins = ["tests.redis_fixtures"]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let the hass fixture load custom_components/vemonitor."""


class VersionedSnapshotExtension(HomeAssistantSnapshotExtension):
    """Registry entries and states serialise differently across Home Assistant releases (new fields): the
    current release's snapshots are in tests/snapshots/, an older release's in tests/snapshots-ha-YYYY.M/."""

    @classmethod
    @override
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        base = Path(super().dirname(test_location=test_location))
        if (MAJOR_VERSION, MINOR_VERSION) >= CURRENT_RELEASE:
            return str(base)
        # A sibling, not a subdirectory: each release's --snapshot-update must not see the other's as unused.
        return str(base.with_name(f"{base.name}-ha-{MAJOR_VERSION}.{MINOR_VERSION}"))


CURRENT_RELEASE = (2026, 10)


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots of Home Assistant objects (states, registry entries), stored in tests/snapshots/."""
    return snapshot.use_extension(VersionedSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create the entities that are disabled by default enabled (as in Home Assistant core's tests)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


# The devices the platform tests run against: name -> (one known emission, unique_id, served over socket://).
DEVICES: dict[str, tuple[Callable[[], Emission], str, bool]] = {
    "mppt": (mppt_emission, MPPT_SERIAL, False),
    "bmv": (bmv_emission, "0xA381@socket", True),
    "inverter": (inverter_emission, INVERTER_SERIAL, False),
}


@pytest.fixture
def device() -> str:
    """The simulated device (a key of DEVICES); tests parametrize it to run against each."""
    return "mppt"


@pytest.fixture
def platforms() -> list[Platform]:
    """The platforms init_integration sets up (a platform's tests narrow it to their own)."""
    return [Platform.BINARY_SENSOR, Platform.SENSOR]


@pytest.fixture
async def mppt_sim() -> AsyncIterator[Simulator]:
    """The known MPPT emission on a pty, its simulator answering HEX with the MPPT register model."""
    async with repeating_simulator(
        mppt_emission(), hex_device=hex_model(Family.MPPT, MPPT_PID, MPPT_SERIAL)
    ) as sim:
        yield sim


@pytest.fixture
async def simulator(device: str, socket_enabled: None) -> AsyncIterator[Simulator]:
    """A real simulator sending the device's known emission on a pty (or over TCP), fast."""
    emission, _unique_id, tcp = DEVICES[device]
    async with repeating_simulator(emission(), tcp=tcp) as sim:
        yield sim


@pytest.fixture
def mock_config_entry(device: str, simulator: Simulator) -> MockConfigEntry:
    """The VE.Direct entry of the simulated device, as the config flow creates it (fixed entry id)."""
    _emission, unique_id, _tcp = DEVICES[device]
    assert simulator.url is not None
    return vedirect_entry(simulator.url, name=device, unique_id=unique_id, entry_id=f"{device}_entry")


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, platforms: list[Platform]
) -> AsyncIterator[MockConfigEntry]:
    """The entry set up with `platforms` only; unloaded at the end (the simulator stops after it)."""
    with patch("custom_components.vemonitor.VEDIRECT_PLATFORMS", platforms):
        await setup_entry(hass, mock_config_entry)
        yield mock_config_entry
        await hass.config_entries.async_unload(mock_config_entry.entry_id)
