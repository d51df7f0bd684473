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
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.vemonitor.const import DOMAIN
from custom_components.vemonitor.repairs import async_create_port_missing_issue
from custom_components.vemonitor.vedirect.simulator import Emission, Simulator
from tests.ha_vedirect import RepeatSource, drive_until, inverter_emission, mppt_emission, vedirect_entry

FIX_URL = "/api/repairs/issues/fix"


async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def paused_simulator(emission: Emission, link: Path) -> Simulator:
    sim = Simulator(RepeatSource(emission), pty_link=link)
    await sim.start()
    sim.pause()
    return sim


async def test_port_missing_issue_and_fix(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
    hass_client: ClientSessionGenerator,
    issue_registry: ir.IssueRegistry,
) -> None:
    mppt_block = b"".join(mppt_emission())
    old = await paused_simulator(mppt_emission(), tmp_path / "ttyVE0")
    entry = vedirect_entry(str(tmp_path / "ttyVE0"))
    entry.add_to_hass(hass)
    setup = hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
    await drive_until(hass, setup.done, old, mppt_block)
    assert entry.state is ConfigEntryState.LOADED
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

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await moved.stop()


async def test_port_back_clears_the_issue(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, tmp_path: Path, issue_registry: ir.IssueRegistry
) -> None:
    block = b"".join(mppt_emission())
    sim = await paused_simulator(mppt_emission(), tmp_path / "ttyVE0")
    entry = vedirect_entry(str(tmp_path / "ttyVE0"))
    entry.add_to_hass(hass)
    setup = hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
    await drive_until(hass, setup.done, sim, block)
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
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await sim.stop()


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
