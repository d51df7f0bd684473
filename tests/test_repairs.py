"""The "port missing" repair: raised when the port has been gone for a while, fixed by picking the new one."""

from datetime import timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.vemonitor.const import DOMAIN
from custom_components.vemonitor.repairs import async_create_port_missing_issue
from tests.ha_vedirect import RepeatSource, drive_until, inverter_emission, mppt_emission, vedirect_entry
from vedirect_tools.simulator import Emission, Simulator

FIX_URL = "/api/repairs/issues/fix"


async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


class FailedSetups:
    """Counts an entry's failed setup attempts (each one ends in SETUP_RETRY)."""

    def __init__(self, entry: MockConfigEntry) -> None:
        self.entry = entry
        self.count = 0
        entry.async_on_state_change(self._changed)

    def _changed(self) -> None:
        if self.entry.state is ConfigEntryState.SETUP_RETRY:
            self.count += 1

    async def retry(self, hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
        """Advance past the next setup retry and wait until that attempt has failed too."""
        expected = self.count + 1
        freezer.tick(timedelta(seconds=seconds))
        async_fire_time_changed(hass)
        await drive_until(hass, lambda: self.count >= expected)


async def set_up_without_port(hass: HomeAssistant, port: Path) -> tuple[MockConfigEntry, FailedSetups]:
    """An MPPT entry whose port is missing: its first setup attempt fails."""
    entry = vedirect_entry(str(port))
    entry.add_to_hass(hass)
    failed = FailedSetups(entry)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert failed.count == 1
    return entry, failed


async def unload_then_stop(hass: HomeAssistant, entry: MockConfigEntry, sim: Simulator) -> None:
    """Release the port before the simulator goes away."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await sim.stop()


async def paused_simulator(emission: Emission, link: Path) -> Simulator:
    sim = Simulator(RepeatSource(emission), pty_link=link)
    await sim.start()
    sim.pause()
    return sim


async def set_up_on(hass: HomeAssistant, sim: Simulator, block: bytes, port: Path) -> MockConfigEntry:
    """An MPPT entry on ``port``, set up while ``sim`` (paused) is fed ``block`` by hand."""
    entry = vedirect_entry(str(port))
    entry.add_to_hass(hass)
    setup = hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
    await drive_until(hass, setup.done, sim, block)
    assert entry.state is ConfigEntryState.LOADED
    return entry


async def test_port_missing_issue_and_fix(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
    hass_client: ClientSessionGenerator,
    issue_registry: ir.IssueRegistry,
) -> None:
    mppt_block = b"".join(mppt_emission())
    old = await paused_simulator(mppt_emission(), tmp_path / "ttyVE0")
    entry = await set_up_on(hass, old, mppt_block, tmp_path / "ttyVE0")
    issue_id = f"port_missing_{entry.entry_id}"

    await old.stop()  # unplugged: the port path is gone
    await advance(hass, freezer, 6)
    await advance(hass, freezer, 30)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None  # not after a short while
    await advance(hass, freezer, 31)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_key == "port_missing"
    assert issue.translation_placeholders == {"name": "MPPT1", "port": str(tmp_path / "ttyVE0")}

    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    response = await client.post(FIX_URL, json={"handler": DOMAIN, "issue_id": issue_id})
    assert response.status == HTTPStatus.OK
    flow: dict[str, Any] = await response.json()
    assert flow["step_id"] == "port"
    assert flow["description_placeholders"] == {"name": "MPPT1", "port": str(tmp_path / "ttyVE0")}
    flow_url = f"{FIX_URL}/{flow['flow_id']}"

    response = await client.post(flow_url, json={CONF_PORT: str(tmp_path / "nothing-here")})
    assert (await response.json())["errors"] == {"base": "cannot_open"}

    inverter = await paused_simulator(inverter_emission(), tmp_path / "ttyVE2")
    answer = hass.async_create_task(client.post(flow_url, json={CONF_PORT: str(tmp_path / "ttyVE2")}))
    await drive_until(hass, answer.done, inverter, b"".join(inverter_emission()))
    assert (await (await answer).json())["errors"] == {"base": "other_device"}
    await inverter.stop()

    moved = await paused_simulator(mppt_emission(), tmp_path / "ttyVE1")
    answer = hass.async_create_task(client.post(flow_url, json={CONF_PORT: str(tmp_path / "ttyVE1")}))
    await drive_until(hass, answer.done, moved, mppt_block)
    assert (await (await answer).json())["type"] == "create_entry"
    assert entry.data[CONF_PORT] == str(tmp_path / "ttyVE1")
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    await drive_until(hass, lambda: entry.state is ConfigEntryState.LOADED, moved, mppt_block)

    await unload_then_stop(hass, entry, moved)


async def test_port_back_clears_the_issue(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, tmp_path: Path, issue_registry: ir.IssueRegistry
) -> None:
    block = b"".join(mppt_emission())
    sim = await paused_simulator(mppt_emission(), tmp_path / "ttyVE0")
    entry = await set_up_on(hass, sim, block, tmp_path / "ttyVE0")
    issue_id = f"port_missing_{entry.entry_id}"
    await sim.stop()
    for seconds in (6, 30, 31):
        await advance(hass, freezer, seconds)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None

    await sim.start()  # plugged back in where it was
    sim.pause()
    for _ in range(70):  # second by second, until the client's backoff has let it reopen the port
        await advance(hass, freezer, 1)
        if await drive_until(
            hass,
            lambda: issue_registry.async_get_issue(DOMAIN, issue_id) is None,
            sim,
            block,
            tries=3,
            strict=False,
        ):
            break
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    await unload_then_stop(hass, entry, sim)


async def test_fix_flow_of_a_removed_entry_aborts(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    entry = vedirect_entry("/dev/ttyUSB0")  # an entry that is no more (never added here)
    async_create_port_missing_issue(hass, entry)
    assert await async_setup_component(hass, DOMAIN, {})
    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    response = await client.post(
        FIX_URL, json={"handler": DOMAIN, "issue_id": f"port_missing_{entry.entry_id}"}
    )
    result = await response.json()
    assert result["type"] == "abort"
    assert result["reason"] == "entry_removed"


async def test_port_missing_at_start_raises_the_issue_across_setup_retries(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, tmp_path: Path, issue_registry: ir.IssueRegistry
) -> None:
    """The port is already gone when Home Assistant starts: the setup retries (after 5, 10, 20, 40, 80 s...)
    and the issue comes once the port has been missing for a minute, counted across the retries."""
    port = tmp_path / "ttyVE0"
    entry, failed = await set_up_without_port(hass, port)
    issue_id = f"port_missing_{entry.entry_id}"
    for seconds in (6, 11, 21):  # retries at about 6, 17 and 38 s: not yet a minute
        await failed.retry(hass, freezer, seconds)
        assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    await failed.retry(hass, freezer, 41)  # the retry at about 79 s
    assert failed.count == 5
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders == {"name": "MPPT1", "port": str(port)}

    block = b"".join(mppt_emission())
    sim = await paused_simulator(mppt_emission(), port)  # plugged in: the next retry sets the entry up
    freezer.tick(timedelta(seconds=81))
    await drive_until(hass, lambda: entry.state is ConfigEntryState.LOADED, sim, block)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    await unload_then_stop(hass, entry, sim)


async def test_deleting_the_entry_removes_its_issue(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, tmp_path: Path, issue_registry: ir.IssueRegistry
) -> None:
    entry, failed = await set_up_without_port(hass, tmp_path / "ttyVE0")
    issue_id = f"port_missing_{entry.entry_id}"
    for seconds in (6, 11, 21, 41):
        await failed.retry(hass, freezer, seconds)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
