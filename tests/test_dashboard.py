"""The "Energy system" dashboard: made by the action vemonitor.create_dashboard (or the offer's repair flow)
through Home Assistant's own dashboards, from the registries of a simulated BMV, MPPT and inverter and a Redis
output."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from homeassistant.components import frontend
from homeassistant.core import Context, HomeAssistant, ServiceResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, WebSocketGenerator

from custom_components.vemonitor.const import DOMAIN
from custom_components.vemonitor.identity import device_key
from tests.ha_vedirect import (
    INVERTER_SERIAL,
    MPPT_SERIAL,
    bmv_emission,
    inverter_emission,
    mppt_emission,
    repeating_simulator,
    setup_entry,
    vedirect_entry,
    wait_until,
)
from tests.redis_fixtures import server_entry
from tests.redis_server import RedisServer
from tests.test_redis_runtime import block_with_outputs, output_subentry

pytestmark = pytest.mark.usefixtures("socket_enabled")

URL_PATH = "energy-system"
FIX_URL = "/api/repairs/issues/fix"
OFFER = "dashboard_offer"
REDIS_OUTPUTS = "Redis outputs"
# What each device's section shows (platform, key): after its heading, in this order.
BMV_CARDS = [
    ("gauge", "sensor", "SOC"),
    ("tile", "sensor", "V"),
    ("tile", "sensor", "I"),
    ("tile", "sensor", "P"),
    ("tile", "sensor", "TTG"),
    ("tile", "binary_sensor", "Alarm"),
    ("tile", "sensor", "AR"),
    ("tile", "binary_sensor", "link"),
]
MPPT_CARDS = [
    ("history-graph", "sensor", "PPV"),
    ("tile", "sensor", "H20"),
    ("tile", "sensor", "H22"),
    ("tile", "sensor", "CS"),
    ("tile", "sensor", "ERR"),
    ("tile", "binary_sensor", "link"),
]
INVERTER_CARDS = [
    ("tile", "sensor", "AC_OUT_S"),
    ("tile", "sensor", "MODE"),
    ("tile", "sensor", "CS"),
    ("tile", "sensor", "AR"),
    ("tile", "binary_sensor", "link"),
]
OUTPUT_CARDS = [("tile", "sensor", "pending_samples"), ("tile", "sensor", "dropped_samples")]


@dataclass
class System:
    """The simulated devices' entries (the BMV with a Redis output to a real server)."""

    bmv: MockConfigEntry
    mppt: MockConfigEntry
    inverter: MockConfigEntry

    @property
    def output_id(self) -> str:
        (subentry_id,) = self.bmv.subentries
        return subentry_id


def entity_of(hass: HomeAssistant, unique_id: str, platform: str = "sensor") -> str | None:
    return er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)


def expected(hass: HomeAssistant, key: str, cards: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """The cards of a device whose entities' unique ids start with ``key``, as the registry names them now."""
    found: list[dict[str, Any]] = []
    for card_type, platform, label in cards:
        entity_id = entity_of(hass, f"{key}_{label}", platform)
        assert entity_id is not None, (key, label)
        assert hass.states.get(entity_id) is not None, entity_id
        if card_type == "gauge":
            found.append(
                {
                    "type": "gauge",
                    "entity": entity_id,
                    "min": 0,
                    "max": 100,
                    "needle": True,
                    "severity": {"green": 50, "yellow": 20, "red": 0},
                }
            )
        elif card_type == "history-graph":
            found.append({"type": "history-graph", "entities": [entity_id], "hours_to_show": 24})
        else:
            found.append({"type": card_type, "entity": entity_id})
    return found


def sections(config: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Heading -> the cards under it, for each section of the one view; a sub-heading stays a card."""
    (view,) = config["views"]
    assert view["type"] == "sections"
    found: dict[str, list[dict[str, Any]]] = {}
    for section in view["sections"]:
        heading, *cards = section["cards"]
        assert heading["type"] == "heading"
        assert heading["heading_style"] == "title"
        found[heading["heading"]] = cards
    return found


def device_of(hass: HomeAssistant, entry: MockConfigEntry, identifier: str) -> dr.DeviceEntry:
    """The entry's device of this identifier (async_get_device is deprecated from 2026.8 on)."""
    (device,) = (
        device
        for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        if (DOMAIN, identifier) in device.identifiers
    )
    return device


def output_name(hass: HomeAssistant, system: System) -> str:
    name = device_of(hass, system.bmv, system.output_id).name
    assert name
    return name


async def create(hass: HomeAssistant, context: Context | None = None) -> ServiceResponse:
    return await hass.services.async_call(
        DOMAIN, "create_dashboard", {}, blocking=True, return_response=True, context=context
    )


async def lovelace_request(client: Any, **message: Any) -> Any:
    await client.send_json_auto_id(message)
    response = await client.receive_json()
    assert response["success"], response
    return response["result"]


@pytest.fixture
async def lovelace(hass: HomeAssistant) -> None:
    """Home Assistant's dashboards, as the frontend loads them."""
    assert await async_setup_component(hass, "lovelace", {})


@pytest.fixture
async def system(hass: HomeAssistant, lovelace: None, redis_plain: RedisServer) -> AsyncIterator[System]:
    """A BMV-712 (with a Redis output), an MPPT and a Phoenix inverter on simulators, every entity of the
    dashboard registered (a BMV's history block and its main block come one after the other)."""
    server = server_entry(redis_plain)
    await setup_entry(hass, server)
    async with (
        repeating_simulator(bmv_emission()) as bmv_sim,
        repeating_simulator(mppt_emission()) as mppt_sim,
        repeating_simulator(inverter_emission()) as inverter_sim,
    ):
        assert bmv_sim.url is not None
        assert mppt_sim.url is not None
        assert inverter_sim.url is not None
        found = System(
            bmv=block_with_outputs(
                bmv_sim.url,
                output_subentry(server.entry_id, "bat_dashboard", {"BMV": ["V", "SOC"]}),
                name="BMV",
            ),
            mppt=vedirect_entry(mppt_sim.url, name="MPPT", unique_id=MPPT_SERIAL),
            inverter=vedirect_entry(inverter_sim.url, name="Inverter", unique_id=INVERTER_SERIAL),
        )
        wanted = {found.bmv: BMV_CARDS, found.mppt: MPPT_CARDS, found.inverter: INVERTER_CARDS}
        for entry in wanted:
            await setup_entry(hass, entry)
        await wait_until(
            lambda: (
                all(
                    entity_of(hass, f"{device_key(entry)}_{label}", platform) is not None
                    for entry, cards in wanted.items()
                    for _card, platform, label in cards
                )
                and entity_of(hass, f"{found.output_id}_dropped_samples") is not None
            )
        )
        yield found
        for entry in (*wanted, server):
            assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_made_once_from_the_registries_and_opened_by_the_frontend(
    hass: HomeAssistant, system: System, hass_ws_client: WebSocketGenerator, issue_registry: ir.IssueRegistry
) -> None:
    assert issue_registry.async_get_issue(DOMAIN, OFFER) is not None  # offered once a device was set up
    # Twice at once, then again: the same dashboard, never a second one.
    responses = await asyncio.gather(create(hass), create(hass))
    count = len(BMV_CARDS) + len(MPPT_CARDS) + len(INVERTER_CARDS) + 1 + len(OUTPUT_CARDS)  # + sub-heading
    made = {"url": "/energy-system", "cards": count - 1, "devices": 3, "redis_outputs": 1}
    assert sorted(responses, key=lambda response: bool(response and response["created"])) == [
        {**made, "created": False},
        {**made, "created": True},
    ]
    assert await create(hass) == {**made, "created": False}
    assert issue_registry.async_get_issue(DOMAIN, OFFER) is None  # taken

    client = await hass_ws_client(hass)
    dashboards = await lovelace_request(client, type="lovelace/dashboards/list")
    ours = [dashboard for dashboard in dashboards if dashboard["url_path"] == URL_PATH]
    assert len(ours) == 1, dashboards
    assert ours[0]["title"] == "Energy system"
    assert ours[0]["mode"] == "storage"
    assert ours[0]["show_in_sidebar"] is True
    assert ours[0]["require_admin"] is False
    config = await lovelace_request(client, type="lovelace/config", url_path=URL_PATH)
    assert config["title"] == "Energy system"
    shown = sections(config)
    # Battery monitors, solar chargers, inverters (not by name), the Redis outputs last.
    assert list(shown) == ["BMV", "MPPT", "Inverter", REDIS_OUTPUTS]
    assert shown["BMV"] == expected(hass, device_key(system.bmv), BMV_CARDS)
    assert shown["MPPT"] == expected(hass, MPPT_SERIAL, MPPT_CARDS)
    assert shown["Inverter"] == expected(hass, INVERTER_SERIAL, INVERTER_CARDS)
    assert shown[REDIS_OUTPUTS] == [
        {"type": "heading", "heading": output_name(hass, system), "heading_style": "subtitle"},
        *expected(hass, system.output_id, OUTPUT_CARDS),
    ]
    assert sum(len(cards) for cards in shown.values()) == count

    # The device set up again: the dashboard exists, nothing more is offered.
    assert await hass.config_entries.async_reload(system.mppt.entry_id)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, OFFER) is None


async def test_follows_the_registries_in_the_servers_language(
    hass: HomeAssistant, system: System, hass_ws_client: WebSocketGenerator
) -> None:
    """Renamed, hidden, disabled and foreign entities; a battery monitor without a state of charge."""
    hass.config.language = "fr"
    registry = er.async_get(hass)
    bmv = device_key(system.bmv)
    soc = entity_of(hass, f"{bmv}_SOC")
    power = entity_of(hass, f"{bmv}_P")
    assert soc is not None
    assert power is not None
    registry.async_update_entity(soc, new_entity_id="sensor.house_battery_charge")
    registry.async_update_entity(power, hidden_by=er.RegistryEntryHider.USER)
    device = device_of(hass, system.bmv, bmv)
    registry.async_get_or_create("sensor", "template", "bmv_extra", device_id=device.id)
    for key in ("pending_samples", "dropped_samples"):
        output_sensor = entity_of(hass, f"{system.output_id}_{key}")
        assert output_sensor is not None
        registry.async_update_entity(output_sensor, disabled_by=er.RegistryEntryDisabler.USER)
    await hass.async_block_till_done()

    response = await create(hass)
    assert response is not None
    assert response["redis_outputs"] == 0
    client = await hass_ws_client(hass)
    config = await lovelace_request(client, type="lovelace/config", url_path=URL_PATH)
    assert config["title"] == "Système énergétique"
    shown = sections(config)
    assert list(shown) == ["BMV", "MPPT", "Inverter"]  # no output left to show
    without_power = [card for card in BMV_CARDS if card[2] != "P"]
    assert shown["BMV"] == expected(hass, bmv, without_power)
    assert shown["BMV"][0]["entity"] == "sensor.house_battery_charge"

    # Without its state of charge, a battery monitor shows its measurements, after the other kinds.
    registry.async_update_entity("sensor.house_battery_charge", disabled_by=er.RegistryEntryDisabler.USER)
    await hass.async_block_till_done()
    # Neither the gauge nor the time to go.
    assert await create(hass) == {**response, "created": False, "cards": response["cards"] - 2}
    shown = sections(await lovelace_request(client, type="lovelace/config", url_path=URL_PATH))
    assert list(shown) == ["MPPT", "Inverter", "BMV"]
    assert shown["BMV"] == expected(
        hass, bmv, [("tile", "sensor", "V"), ("tile", "sensor", "I"), *BMV_CARDS[-3:]]
    )


async def test_offer_taken_through_repairs(
    hass: HomeAssistant,
    lovelace: None,
    hass_client: ClientSessionGenerator,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The offer's fix flow makes the dashboard, or tells why it could not."""
    assert await async_setup_component(hass, "repairs", {})
    # Another integration's panel holds the dashboard's address at first.
    frontend.async_register_built_in_panel(hass, "iframe", frontend_url_path=URL_PATH)
    async with repeating_simulator(mppt_emission()) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, name="MPPT")
        await setup_entry(hass, entry)
        issue = issue_registry.async_get_issue(DOMAIN, OFFER)
        assert issue is not None
        assert issue.is_fixable
        assert issue.severity is ir.IssueSeverity.WARNING

        client = await hass_client()

        async def fix() -> dict[str, Any]:
            response = await client.post(FIX_URL, json={"handler": DOMAIN, "issue_id": OFFER})
            assert response.status == HTTPStatus.OK
            flow: dict[str, Any] = await response.json()
            assert flow["step_id"] == "confirm"
            assert flow["description_placeholders"] == {"url": "/energy-system"}
            response = await client.post(f"{FIX_URL}/{flow['flow_id']}", json={})
            assert response.status == HTTPStatus.OK
            result: dict[str, Any] = await response.json()
            return result

        refused = await fix()
        assert refused["type"] == "abort"
        assert refused["reason"] == "dashboard_not_created"
        assert "/energy-system" in refused["description_placeholders"]["error"]
        assert issue_registry.async_get_issue(DOMAIN, OFFER) is not None  # still offered

        frontend.async_remove_panel(hass, URL_PATH)
        done = await fix()
        assert done["type"] == "abort"
        assert done["reason"] == "dashboard_created"
        assert done["description_placeholders"] == {"url": "/energy-system"}
        assert issue_registry.async_get_issue(DOMAIN, OFFER) is None
        response = await create(hass)
        assert response is not None
        assert response["created"] is False
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_address_held_by_a_yaml_dashboard(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry
) -> None:
    """A YAML dashboard of the user at /energy-system is left alone: nothing offered, the action refused."""
    dashboards = {URL_PATH: {"mode": "yaml", "filename": "energy.yaml", "title": "Mine"}}
    assert await async_setup_component(hass, "lovelace", {"lovelace": {"dashboards": dashboards}})
    async with repeating_simulator(mppt_emission()) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, name="MPPT")
        await setup_entry(hass, entry)
        assert issue_registry.async_get_issue(DOMAIN, OFFER) is None
        with pytest.raises(ServiceValidationError) as refused:
            await create(hass)
        assert refused.value.translation_domain == DOMAIN
        assert refused.value.translation_key == "dashboard_url_taken"
        assert refused.value.translation_placeholders == {"url": "/energy-system"}
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_refusals(hass: HomeAssistant, hass_read_only_user: MockUser) -> None:
    """Without Home Assistant's dashboards, without a device, or asked by a user who is no administrator."""
    assert await async_setup_component(hass, DOMAIN, {})
    with pytest.raises(HomeAssistantError) as refused:
        await create(hass)
    assert refused.value.translation_key == "dashboards_unavailable"
    assert await async_setup_component(hass, "lovelace", {})
    with pytest.raises(ServiceValidationError) as refused:
        await create(hass)
    assert refused.value.translation_key == "dashboard_no_devices"
    with pytest.raises(Unauthorized):
        await create(hass, Context(user_id=hass_read_only_user.id))
