"""Device triggers in real automations, fed by the simulator on a real pty.

Each scenario sends known blocks, changes one value at a time (``sim.source.emission``) and waits for the
automations to run; ``Firings.after`` returns what ran since the last step, so that a trigger firing twice
shows up as an extra firing in the next step, and every scenario ends by waiting two more samples
(``settle``) with nothing more fired.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import json
from operator import itemgetter
from pathlib import Path
from typing import Any

from homeassistant.components import automation
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_get_device_automations,
    async_mock_service,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.vemonitor.const import CONF_ENTRY_TYPE, DOMAIN, ENTRY_TYPE_REDIS_SERVER
from custom_components.vemonitor.identity import device_key
from tests.conftest import DEVICES
from tests.ha_vedirect import (
    INVERTER_SERIAL,
    MPPT_SERIAL,
    RepeatSource,
    repeating_simulator,
    setup_entry,
    state,
    vedirect_entry,
    wait_until,
)
from vedirect_tools.simulator import Emission, Simulator, encode_block

TRANSLATIONS = Path(__file__).parent.parent / "custom_components" / "vemonitor" / "translations"

# What the automations below copy of each firing: Home Assistant's variables and the trigger's own.
COMMON = ("type", "platform", "domain", "device_id", "entity_id", "description")
VARIABLES: dict[str, tuple[str, ...]] = {
    "alarm_raised": ("reasons", "active_reasons", "code"),
    "alarm_cleared": ("reasons", "active_reasons", "code"),
    "charger_state_changed": ("state", "previous_state", "code"),
    "device_state_changed": ("state", "previous_state", "code"),
    "error_raised": ("error", "previous_error", "code"),
    "link_lost": (),
    "link_back": (),
}


def mppt_block(cs: int = 3, err: int = 0) -> Emission:
    """A BlueSolar MPPT 75/15 in bulk (CS 3) without error (ERR 0)."""
    fields = [
        ("PID", "0xA042"), ("FW", "150"), ("SER#", MPPT_SERIAL), ("V", "13370"), ("I", "5440"),
        ("VPV", "16640"), ("PPV", "74"), ("CS", str(cs)), ("MPPT", "2"), ("OR", "0x00000000"),
        ("ERR", str(err)), ("LOAD", "OFF"), ("IL", "0"),
    ]  # fmt: skip
    return [encode_block(fields)]


def bmv_block(ar: int = 0) -> Emission:
    """A BMV-712 Smart without alarm (AR 0)."""
    fields = [
        ("PID", "0xA381"), ("V", "13044"), ("I", "3862"), ("P", "50"), ("CE", "0"), ("SOC", "1000"),
        ("TTG", "-1"), ("Alarm", "ON" if ar else "OFF"), ("Relay", "OFF"), ("AR", str(ar)),
        ("BMV", "712 Smart"), ("FW", "0403"),
    ]  # fmt: skip
    return [encode_block(fields)]


def inverter_block(cs: int = 9, ar: int = 0) -> Emission:
    """A Phoenix Inverter 12V 800VA 230V inverting (CS 9) without alarm."""
    fields = [
        ("PID", "0xA261"), ("FW", "0114"), ("SER#", INVERTER_SERIAL), ("MODE", "2"), ("CS", str(cs)),
        ("AC_OUT_V", "23000"), ("AC_OUT_I", "8"), ("AC_OUT_S", "180"), ("V", "12800"), ("AR", str(ar)),
        ("WARN", "0"), ("OR", "0x00000000"),
    ]  # fmt: skip
    return [encode_block(fields)]


def trigger(device_id: str, trigger_type: str, **options: str) -> dict[str, Any]:
    return {"platform": "device", "domain": DOMAIN, "device_id": device_id, "type": trigger_type, **options}


def automation_config(alias: str, device_id: str, trigger_type: str, **options: str) -> dict[str, Any]:
    """An automation that copies the variables of each firing of the trigger into a test.automation call."""
    data = {"alias": alias, "from": "{{ trigger.from_state.state }}", "to": "{{ trigger.to_state.state }}"}
    data |= {name: "{{ trigger.%s }}" % name for name in (*COMMON, *VARIABLES[trigger_type])}  # noqa: UP031
    return {
        "alias": alias,
        "triggers": [trigger(device_id, trigger_type, **options)],
        "actions": [{"action": "test.automation", "data": data}],
    }


async def set_up_automations(hass: HomeAssistant, *automations: dict[str, Any]) -> None:
    assert await async_setup_component(hass, automation.DOMAIN, {automation.DOMAIN: list(automations)})
    await hass.async_block_till_done()


def entity_of(hass: HomeAssistant, platform: Platform, unique_id: str) -> str:
    """The entity id of a unique id (names, hence entity ids, may follow the device family's words)."""
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)
    assert entity_id is not None, unique_id
    return entity_id


class Firings:
    """The test.automation calls of the automations, step by step."""

    def __init__(self, hass: HomeAssistant, device_id: str) -> None:
        self.hass = hass
        self.device_id = device_id
        self.calls: list[ServiceCall] = async_mock_service(hass, "test", "automation")
        self.seen = 0

    async def after(self, sim: Simulator, emission: Emission, count: int) -> list[dict[str, Any]]:
        """Send ``emission`` from now on, wait for ``count`` more firings: what fired, by alias."""
        assert isinstance(sim.source, RepeatSource)
        sim.source.emission = emission
        return await self.wait(count)

    async def wait(self, count: int) -> list[dict[str, Any]]:
        target = self.seen + count
        await wait_until(lambda: len(self.calls) >= target)
        new, self.seen = self.calls[self.seen :], len(self.calls)
        return sorted((dict(call.data) for call in new), key=itemgetter("alias"))

    async def settle(self, entry: MockConfigEntry) -> None:
        """Two more samples with nothing fired: a trigger that fires twice would have by then."""
        last_sample = entity_of(self.hass, Platform.SENSOR, f"{device_key(entry)}_last_sample")
        for _ in range(2):
            shown = state(self.hass, last_sample)
            await wait_until(lambda: state(self.hass, last_sample) != shown)  # noqa: B023
        await self.hass.async_block_till_done()
        assert len(self.calls) == self.seen, [call.data for call in self.calls[self.seen :]]

    def fired(self, alias: str, trigger_type: str, entity_id: str, **variables: Any) -> dict[str, Any]:
        """What an automation copies of a firing; ``variables`` holds from, to and the trigger's own."""
        return {
            "alias": alias,
            "type": trigger_type,
            "platform": "device",
            "domain": DOMAIN,
            "device_id": self.device_id,
            "entity_id": entity_id,
            "description": f"{trigger_type.replace('_', ' ')} ({entity_id})",
            **variables,
        }


@asynccontextmanager
async def live_device(
    hass: HomeAssistant,
    emission: Emission,
    name: str,
    unique_id: str | None = None,
    pty_link: Path | None = None,
) -> AsyncIterator[tuple[Simulator, MockConfigEntry, str]]:
    """A simulated device set up as an entry: its simulator, entry and device id (``unique_id`` None: a
    BMV's, product id @ port)."""
    async with repeating_simulator(emission, pty_link=pty_link) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, name=name, unique_id=unique_id or f"0xA381@{sim.url}")
        await setup_entry(hass, entry)
        [device] = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        try:
            yield sim, entry, device.id
        finally:
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()


# The last sample sensor (disabled by default) tells when a sample was taken: see Firings.settle.
SAMPLES_SEEN = pytest.mark.usefixtures("entity_registry_enabled_by_default")

FAMILY_TRIGGERS = {
    "mppt": ["charger_state_changed", "error_raised", "link_lost", "link_back"],
    "bmv": ["alarm_raised", "alarm_cleared", "link_lost", "link_back"],
    "inverter": ["alarm_raised", "alarm_cleared", "device_state_changed", "link_lost", "link_back"],
}
# The enum options that are no choice: no alarm or several (alarms), no error, CS 255 (shown as unavailable).
NO_CHOICE = {"reason": {"none", "multiple"}, "error": {"no_error"}, "to": {"unavailable"}}
# The label of the entity each trigger with an option follows, and its option.
OPTION = {
    "alarm_raised": ("AR", "reason"),
    "alarm_cleared": ("AR", "reason"),
    "charger_state_changed": ("CS", "to"),
    "device_state_changed": ("CS", "to"),
    "error_raised": ("ERR", "error"),
}


def state_texts(language: str, entity: er.RegistryEntry) -> dict[str, str]:
    texts = json.loads((TRANSLATIONS / f"{language}.json").read_text(encoding="utf-8"))
    state_texts: dict[str, str] = texts["entity"][entity.domain][entity.translation_key]["state"]
    return state_texts


async def capabilities(
    hass_ws_client: WebSocketGenerator, hass: HomeAssistant, config: dict[str, Any]
) -> Any:
    """What the automation editor gets for a trigger: its extra fields."""
    assert await async_setup_component(hass, "device_automation", {})
    client = await hass_ws_client(hass)
    await client.send_json({"id": 1, "type": "device_automation/trigger/capabilities", "trigger": config})
    response = await client.receive_json()
    assert response["success"], response
    return response["result"]


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("device", DEVICES)
async def test_triggers_and_options_of_each_family(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    device: str,
    language: str,
    init_integration: MockConfigEntry,
) -> None:
    """Each family has the triggers of what it sends; an option lists its entity's states, in their words."""
    hass.config.language = language
    [device_entry] = dr.async_entries_for_config_entry(dr.async_get(hass), init_integration.entry_id)
    found = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, device_entry.id)
    # The sensor and binary sensor platforms list triggers of the device's entities too.
    triggers = [found_trigger for found_trigger in found if found_trigger["domain"] == DOMAIN]
    assert triggers == [
        {**trigger(device_entry.id, trigger_type), "metadata": {}} for trigger_type in FAMILY_TRIGGERS[device]
    ]

    for trigger_type in FAMILY_TRIGGERS[device]:
        result = await capabilities(hass_ws_client, hass, trigger(device_entry.id, trigger_type))
        if trigger_type.startswith("link"):
            assert result == {"extra_fields": []}
            continue
        label, option = OPTION[trigger_type]
        unique_id = f"{device_key(init_integration)}_{label}"
        entity = er.async_get(hass).async_get(entity_of(hass, Platform.SENSOR, unique_id))
        assert entity is not None
        [field] = result["extra_fields"]
        assert (field["name"], field["optional"]) == (option, True)
        choices = field["selector"]["select"]["options"]
        enum_options = hass.states.get(entity.entity_id).attributes["options"]
        assert [choice["value"] for choice in choices] == [
            value for value in enum_options if value not in NO_CHOICE[option]
        ]
        texts = state_texts(language, entity)
        assert all(choice["label"] == texts[choice["value"]] for choice in choices)


@SAMPLES_SEEN
async def test_alarm_raised_and_cleared(hass: HomeAssistant) -> None:
    """A BMV: each reason raised or cleared fires once, the filtered ones only for their reason."""
    async with live_device(hass, bmv_block(), "house") as (sim, entry, device_id):
        firings = Firings(hass, device_id)
        await set_up_automations(
            hass,
            automation_config("raised", device_id, "alarm_raised"),
            automation_config("raised_low_soc", device_id, "alarm_raised", reason="low_soc"),
            automation_config("cleared", device_id, "alarm_cleared"),
            automation_config("cleared_low_voltage", device_id, "alarm_cleared", reason="low_voltage"),
        )
        alarm = entity_of(hass, Platform.SENSOR, f"{device_key(entry)}_AR")

        def fired(alias: str, trigger_type: str, before: str, after: str, **variables: Any) -> dict[str, Any]:
            return firings.fired(alias, trigger_type, alarm, **{"from": before, "to": after}, **variables)

        low_voltage = {"reasons": ["low_voltage"], "active_reasons": ["low_voltage"], "code": 1}
        assert await firings.after(sim, bmv_block(ar=1), 1) == [
            fired("raised", "alarm_raised", "none", "low_voltage", **low_voltage)
        ]
        low_soc = {"reasons": ["low_soc"], "active_reasons": ["low_voltage", "low_soc"], "code": 5}
        assert await firings.after(sim, bmv_block(ar=5), 2) == [
            fired("raised", "alarm_raised", "low_voltage", "multiple", **low_soc),
            fired("raised_low_soc", "alarm_raised", "low_voltage", "multiple", **low_soc),
        ]
        gone = {"reasons": ["low_voltage"], "active_reasons": ["low_soc"], "code": 4}
        assert await firings.after(sim, bmv_block(ar=4), 2) == [
            fired("cleared", "alarm_cleared", "multiple", "low_soc", **gone),
            fired("cleared_low_voltage", "alarm_cleared", "multiple", "low_soc", **gone),
        ]
        # Two reasons at once, while the last one clears: one firing of each trigger it concerns.
        both = {"active_reasons": ["high_voltage", "high_starter_voltage"], "code": 18}
        assert await firings.after(sim, bmv_block(ar=18), 2) == [
            fired("cleared", "alarm_cleared", "low_soc", "multiple", reasons=["low_soc"], **both),
            fired("raised", "alarm_raised", "low_soc", "multiple", reasons=both["active_reasons"], **both),
        ]
        cleared = {"reasons": ["high_voltage", "high_starter_voltage"], "active_reasons": [], "code": 0}
        assert await firings.after(sim, bmv_block(), 1) == [
            fired("cleared", "alarm_cleared", "multiple", "none", **cleared)
        ]
        await firings.settle(entry)


@SAMPLES_SEEN
async def test_charger_state_changed_and_error_raised(hass: HomeAssistant) -> None:
    """An MPPT: every state change fires, "to float" only the change to float; every new error fires, the
    filtered trigger only its error; no error again fires nothing."""
    async with live_device(hass, mppt_block(), "mppt1", MPPT_SERIAL) as (sim, entry, device_id):
        firings = Firings(hass, device_id)
        await set_up_automations(
            hass,
            automation_config("state", device_id, "charger_state_changed"),
            automation_config("state_float", device_id, "charger_state_changed", to="float"),
            automation_config("error", device_id, "error_raised"),
            automation_config("error_voltage", device_id, "error_raised", error="battery_voltage_too_high"),
        )
        charger = entity_of(hass, Platform.SENSOR, f"{MPPT_SERIAL}_CS")
        error = entity_of(hass, Platform.SENSOR, f"{MPPT_SERIAL}_ERR")

        def changed(alias: str, before: str, after: str, code: int) -> dict[str, Any]:
            return firings.fired(
                alias,
                "charger_state_changed",
                charger,
                **{"from": before, "to": after, "state": after, "previous_state": before, "code": code},
            )

        def raised(alias: str, before: str, after: str, code: int) -> dict[str, Any]:
            return firings.fired(
                alias,
                "error_raised",
                error,
                **{"from": before, "to": after, "error": after, "previous_error": before, "code": code},
            )

        assert await firings.after(sim, mppt_block(cs=4), 1) == [changed("state", "bulk", "absorption", 4)]
        assert await firings.after(sim, mppt_block(cs=5), 2) == [
            changed("state", "absorption", "float", 5),
            changed("state_float", "absorption", "float", 5),
        ]
        assert await firings.after(sim, mppt_block(cs=5, err=2), 2) == [
            raised("error", "no_error", "battery_voltage_too_high", 2),
            raised("error_voltage", "no_error", "battery_voltage_too_high", 2),
        ]
        assert await firings.after(sim, mppt_block(cs=5, err=17), 1) == [
            raised("error", "battery_voltage_too_high", "charger_temperature_too_high", 17)
        ]
        assert isinstance(sim.source, RepeatSource)
        sim.source.emission = mppt_block(cs=5)
        await wait_until(lambda: state(hass, error) == "no_error")
        await firings.settle(entry)


@SAMPLES_SEEN
async def test_device_state_changed_of_an_inverter(hass: HomeAssistant) -> None:
    """An inverter's CS is its device state; its alarms fire as a BMV's do."""
    async with live_device(hass, inverter_block(), "phoenix", INVERTER_SERIAL) as (sim, entry, device_id):
        firings = Firings(hass, device_id)
        await set_up_automations(
            hass,
            automation_config("state", device_id, "device_state_changed"),
            automation_config("state_off", device_id, "device_state_changed", to="off"),
            automation_config("raised", device_id, "alarm_raised"),
        )
        device_state = entity_of(hass, Platform.SENSOR, f"{INVERTER_SERIAL}_CS")
        alarm = entity_of(hass, Platform.SENSOR, f"{INVERTER_SERIAL}_AR")
        off = {"from": "inverting", "to": "off", "state": "off", "previous_state": "inverting", "code": 0}
        assert await firings.after(sim, inverter_block(cs=0), 2) == [
            firings.fired("state", "device_state_changed", device_state, **off),
            firings.fired("state_off", "device_state_changed", device_state, **off),
        ]
        overload = {"reasons": ["overload"], "active_reasons": ["overload"], "code": 256}
        assert await firings.after(sim, inverter_block(cs=0, ar=256), 1) == [
            firings.fired("raised", "alarm_raised", alarm, **{"from": "none", "to": "overload"}, **overload)
        ]
        await firings.settle(entry)


@SAMPLES_SEEN
async def test_link_lost_and_back(hass: HomeAssistant, tmp_path: Path) -> None:
    """The port vanishes and comes back: link lost, then link back, once each; nothing else fires."""
    link = tmp_path / "ttyVE0"
    async with live_device(hass, mppt_block(), "mppt1", MPPT_SERIAL, pty_link=link) as (
        sim,
        entry,
        device_id,
    ):
        firings = Firings(hass, device_id)
        await set_up_automations(
            hass,
            *(automation_config(t, device_id, t) for t in FAMILY_TRIGGERS["mppt"]),
        )
        link_entity = entity_of(hass, Platform.BINARY_SENSOR, f"{MPPT_SERIAL}_link")

        await sim.stop()
        assert await firings.wait(1) == [
            firings.fired("link_lost", "link_lost", link_entity, **{"from": STATE_ON, "to": STATE_OFF})
        ]
        await sim.start()
        assert await firings.wait(1) == [
            firings.fired("link_back", "link_back", link_entity, **{"from": STATE_OFF, "to": STATE_ON})
        ]
        await firings.settle(entry)


@SAMPLES_SEEN
async def test_nothing_fires_at_start_on_restore_or_reload(hass: HomeAssistant) -> None:
    """States that come with the entities (first state, restored unavailable, a reload) fire nothing, even
    with other values than before; a change afterwards fires."""
    async with live_device(hass, mppt_block(), "mppt1", MPPT_SERIAL) as (sim, entry, device_id):
        firings = Firings(hass, device_id)
        await set_up_automations(
            hass,
            *(automation_config(t, device_id, t) for t in FAMILY_TRIGGERS["mppt"]),
        )
        assert isinstance(sim.source, RepeatSource)
        charger = entity_of(hass, Platform.SENSOR, f"{MPPT_SERIAL}_CS")
        error = entity_of(hass, Platform.SENSOR, f"{MPPT_SERIAL}_ERR")

        sim.source.emission = mppt_block(cs=4, err=2)  # another state and an error, seen only after a reload
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert (state(hass, charger), state(hass, error)) == ("absorption", "battery_voltage_too_high")
        await firings.settle(entry)

        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        assert state(hass, charger) == STATE_UNAVAILABLE  # restored, as at a start of Home Assistant
        hass.states.async_remove(error)  # none at all, as before the first setup
        sim.source.emission = mppt_block(cs=5, err=17)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert (state(hass, charger), state(hass, error)) == ("float", "charger_temperature_too_high")
        await firings.settle(entry)

        fired = await firings.after(sim, mppt_block(cs=3, err=17), 1)
        assert [(call["type"], call["from"], call["to"]) for call in fired] == [
            ("charger_state_changed", "float", "bulk")
        ]
        await firings.settle(entry)


async def test_invalid_triggers_are_refused(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, caplog: pytest.LogCaptureFixture
) -> None:
    """Unknown types, options of another type or unknown, triggers the device lacks, devices of another kind:
    each automation is refused (unavailable, its reason logged); a valid one beside them runs."""
    async with live_device(hass, mppt_block(), "mppt1", MPPT_SERIAL) as (_sim, _entry, device_id):
        server = MockConfigEntry(
            domain=DOMAIN, title="redis", data={CONF_ENTRY_TYPE: ENTRY_TYPE_REDIS_SERVER}
        )
        server.add_to_hass(hass)
        other = dr.async_get(hass).async_get_or_create(
            config_entry_id=server.entry_id, identifiers={(DOMAIN, server.entry_id)}, name="redis"
        )
        invalid = {
            "unknown_type": trigger(device_id, "alarm_ringing"),
            "option_of_another_type": trigger(device_id, "charger_state_changed", reason="low_voltage"),
            "unknown_state": trigger(device_id, "charger_state_changed", to="sunny"),
            "unavailable_is_no_state": trigger(device_id, "charger_state_changed", to="unavailable"),
            "no_error_is_no_error": trigger(device_id, "error_raised", error="no_error"),
            "mppt_has_no_alarm": trigger(device_id, "alarm_raised"),
            "mppt_has_no_device_state": trigger(device_id, "device_state_changed"),
        }
        await set_up_automations(
            hass,
            automation_config("valid", device_id, "link_lost"),
            *({"alias": alias, "triggers": [config], "actions": []} for alias, config in invalid.items()),
            # Home Assistant validates no trigger of an entry that is not set up: its attachment is refused.
            {"alias": "not_a_vedirect_device", "triggers": [trigger(other.id, "link_lost")], "actions": []},
        )
        assert state(hass, "automation.valid") == STATE_ON
        for alias in invalid:
            assert state(hass, f"automation.{alias}") == STATE_UNAVAILABLE, alias
        assert 'mppt1 has no "alarm_raised" trigger' in caplog.text
        assert 'Got error \'redis has no "link_lost" trigger' in caplog.text

        assert await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, other.id) == []
        # Capabilities: none for an unknown type; Home Assistant answers nothing when the trigger is refused.
        assert await capabilities(hass_ws_client, hass, trigger(device_id, "alarm_ringing")) == {
            "extra_fields": []
        }
        for config in (trigger(device_id, "alarm_raised"), trigger("no_such_device", "error_raised")):
            assert await capabilities(hass_ws_client, hass, config) == {}, config
