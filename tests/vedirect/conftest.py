"""The protocol package has no Home Assistant import: its tests need no hass instance."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.vedirect_sim import running_simulator
from vedirect_tools.simulator import Simulator


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the suite-wide autouse fixture that would start Home Assistant for every test."""


# Simulator fixtures (client/simulator/CLI tests; other packages use tests/vedirect_sim.py directly).
@pytest.fixture
async def pty_simulator(tmp_path: Path) -> AsyncIterator[Simulator]:
    """A synthesised BMV-712 on a pseudo-terminal behind a stable symlink (``sim.url``), 50 emissions/s."""
    async with running_simulator("bmv", pty_link=tmp_path / "ttyVE0") as sim:
        yield sim


@pytest.fixture
async def tcp_simulator(socket_enabled: None) -> AsyncIterator[Simulator]:
    """A synthesised MPPT on a loopback TCP port (``sim.url`` is socket://...), 50 emissions/s."""
    async with running_simulator("mppt", tcp=True) as sim:
        yield sim
