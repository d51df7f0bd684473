"""Control entities (option "Allow changing device settings"): switches, numbers and selects write over HEX,
show what the device reads back, and refuse what they must with a translated error and no change."""

from collections.abc import AsyncIterator

from homeassistant.components.number import ATTR_MAX, ATTR_MIN, ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.components.select import ATTR_OPTION, ATTR_OPTIONS, SERVICE_SELECT_OPTION
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_OFF, SERVICE_TURN_ON, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.vemonitor.const import CONF_ALLOW_CONTROL, CONF_TIME_INTERVAL, DOMAIN
from custom_components.vemonitor.validation import InvalidInput, valid_flag
from custom_components.vemonitor.vedirect import LinkState
from custom_components.vemonitor.vedirect.registers import (
    ABSORPTION_VOLTAGE,
    BATTERY_CAPACITY,
    BATTERY_MAX_CURRENT,
    CHARGER_MAX_CURRENT,
    DEVICE_MODE,
    LOAD_OUTPUT_CONTROL,
    Family,
)
from tests.ha_vedirect import (
    BMV_HEX_SERIAL,
    BMV_PID,
    INVERTER_PID,
    INVERTER_SERIAL,
    MPPT_PID,
    MPPT_SERIAL,
    bmv_emission,
    hex_model,
    inverter_emission,
    mppt_emission,
    repeating_simulator,
    setup_entry,
    state,
    vedirect_entry,
    wait_hex_read,
    wait_until,
)
from vedirect_tools.simulator import Faults, Simulator

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
async def mppt(hass: HomeAssistant, mppt_sim: Simulator) -> AsyncIterator[MockConfigEntry]:
    """An MPPT whose entry allows control, its first HEX read done."""
    assert mppt_sim.url is not None
    entry = vedirect_entry(mppt_sim.url, allow_control=True)
    await setup_entry(hass, entry)
    await wait_hex_read(entry)
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


def device_value(sim: Simulator, register_id: int) -> object:
    assert sim.hex is not None
    return sim.hex.value(register_id)


async def test_load_output_switch_writes_and_reads_back(
    hass: HomeAssistant, mppt: MockConfigEntry, mppt_sim: Simulator
) -> None:
    assert state(hass, "switch.mppt1_load_output_enabled") == STATE_ON
    await hass.services.async_call(
        "switch", SERVICE_TURN_OFF, {ATTR_ENTITY_ID: "switch.mppt1_load_output_enabled"}, blocking=True
    )
    assert device_value(mppt_sim, LOAD_OUTPUT_CONTROL) == "off"
    assert state(hass, "switch.mppt1_load_output_enabled") == STATE_OFF
    assert state(hass, "select.mppt1_load_output_mode") == "off"
    await hass.services.async_call(
        "switch", SERVICE_TURN_ON, {ATTR_ENTITY_ID: "switch.mppt1_load_output_enabled"}, blocking=True
    )
    assert device_value(mppt_sim, LOAD_OUTPUT_CONTROL) == "on"
    assert state(hass, "switch.mppt1_load_output_enabled") == STATE_ON
    registry = er.async_get(hass)
    switch = registry.async_get("switch.mppt1_load_output_enabled")
    assert switch is not None
    assert switch.unique_id == f"{MPPT_SERIAL}_load_output"


async def test_charger_switch(hass: HomeAssistant, mppt: MockConfigEntry, mppt_sim: Simulator) -> None:
    assert state(hass, "switch.mppt1_charger") == STATE_ON
    await hass.services.async_call(
        "switch", SERVICE_TURN_OFF, {ATTR_ENTITY_ID: "switch.mppt1_charger"}, blocking=True
    )
    assert device_value(mppt_sim, DEVICE_MODE) == "off"
    assert state(hass, "switch.mppt1_charger") == STATE_OFF


async def test_numbers_are_bounded_and_read_back(
    hass: HomeAssistant, mppt: MockConfigEntry, mppt_sim: Simulator
) -> None:
    absorption = hass.states.get("number.mppt1_absorption_voltage")
    assert absorption is not None
    assert (absorption.state, absorption.attributes[ATTR_MIN], absorption.attributes[ATTR_MAX]) == (
        "14.4",
        10.0,
        16.0,
    )
    charge = hass.states.get("number.mppt1_maximum_charge_current")
    assert charge is not None
    assert charge.attributes[ATTR_MAX] == 20.0  # the charger's own maximum current (0xEDDF)
    await hass.services.async_call(
        "number",
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: "number.mppt1_absorption_voltage", ATTR_VALUE: 14.2},
        blocking=True,
    )
    assert device_value(mppt_sim, ABSORPTION_VOLTAGE) == 14.2
    assert state(hass, "number.mppt1_absorption_voltage") == "14.2"
    assert state(hass, "sensor.mppt1_absorption_voltage") == "14.2"
    with pytest.raises(ServiceValidationError):  # Home Assistant's own check of the bounds
        await hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: "number.mppt1_absorption_voltage", ATTR_VALUE: 17.0},
            blocking=True,
        )
    assert device_value(mppt_sim, ABSORPTION_VOLTAGE) == 14.2


async def test_a_24_v_system_scales_the_voltage_bounds(hass: HomeAssistant) -> None:
    model = hex_model(Family.MPPT, MPPT_PID, MPPT_SERIAL)
    model.set_value(0xEDEF, 24, announce=False)
    model.set_value(ABSORPTION_VOLTAGE, 28.8, announce=False)
    async with repeating_simulator(mppt_emission(), hex_device=model) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, allow_control=True)
        await setup_entry(hass, entry)
        await wait_hex_read(entry)
        absorption = hass.states.get("number.mppt1_absorption_voltage")
        assert absorption is not None
        assert (absorption.attributes[ATTR_MIN], absorption.attributes[ATTR_MAX]) == (20.0, 32.0)
        await hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: "number.mppt1_absorption_voltage", ATTR_VALUE: 28.4},
            blocking=True,
        )
        assert model.value(ABSORPTION_VOLTAGE) == 28.4
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_select_writes_an_option(
    hass: HomeAssistant, mppt: MockConfigEntry, mppt_sim: Simulator
) -> None:
    select = hass.states.get("select.mppt1_load_output_mode")
    assert select is not None
    assert "automatic_energy_selector" in select.attributes[ATTR_OPTIONS]
    await hass.services.async_call(
        "select",
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: "select.mppt1_load_output_mode", ATTR_OPTION: "alt1"},
        blocking=True,
    )
    assert device_value(mppt_sim, LOAD_OUTPUT_CONTROL) == "alt1"
    assert state(hass, "select.mppt1_load_output_mode") == "alt1"
    assert state(hass, "switch.mppt1_load_output_enabled") == STATE_ON  # any mode but off


async def test_a_refused_write_changes_nothing(
    hass: HomeAssistant, mppt: MockConfigEntry, mppt_sim: Simulator
) -> None:
    """The device's own limit is lower than what the integration knew: flag 0x04, a translated error."""
    assert mppt_sim.hex is not None
    mppt_sim.hex.set_value(CHARGER_MAX_CURRENT, 10.0, announce=False)
    with pytest.raises(HomeAssistantError) as refused:
        await hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: "number.mppt1_maximum_charge_current", ATTR_VALUE: 18.0},
            blocking=True,
        )
    assert refused.value.translation_domain == DOMAIN
    assert refused.value.translation_key == "device_refused_value"
    assert refused.value.translation_placeholders is not None
    assert refused.value.translation_placeholders["value"] == "10.0"  # the nearest value the device takes
    assert device_value(mppt_sim, BATTERY_MAX_CURRENT) == 15.0
    assert state(hass, "number.mppt1_maximum_charge_current") == "15.0"


async def test_a_write_without_answer_times_out(
    hass: HomeAssistant, mppt: MockConfigEntry, mppt_sim: Simulator
) -> None:
    mppt_sim.faults = Faults(hex_no_answer=1.0)
    with pytest.raises(HomeAssistantError) as refused:
        await hass.services.async_call(
            "switch", SERVICE_TURN_OFF, {ATTR_ENTITY_ID: "switch.mppt1_load_output_enabled"}, blocking=True
        )
    assert refused.value.translation_key == "hex_timeout"
    # The device may have taken it (only its replies were lost): the entity shows nothing it did not read.
    assert state(hass, "switch.mppt1_load_output_enabled") == STATE_ON


async def test_no_write_while_the_link_is_down(
    hass: HomeAssistant, mppt: MockConfigEntry, mppt_sim: Simulator
) -> None:
    client = mppt.runtime_data.client
    await mppt_sim.stop()
    await wait_until(lambda: client.link_state is not LinkState.CONNECTED)
    with pytest.raises(HomeAssistantError) as refused:
        await hass.services.async_call(
            "switch", SERVICE_TURN_OFF, {ATTR_ENTITY_ID: "switch.mppt1_load_output_enabled"}, blocking=True
        )
    assert refused.value.translation_key == "not_connected"


async def test_bmv_and_inverter_controls(hass: HomeAssistant) -> None:
    bmv_model = hex_model(Family.BMV, BMV_PID)
    inverter_model = hex_model(Family.INVERTER, INVERTER_PID, INVERTER_SERIAL)
    async with (
        repeating_simulator(bmv_emission(), hex_device=bmv_model) as bmv_sim,
        repeating_simulator(inverter_emission(), hex_device=inverter_model) as inverter_sim,
    ):
        assert bmv_sim.url is not None
        assert inverter_sim.url is not None
        bmv = vedirect_entry(bmv_sim.url, name="bmv", unique_id=BMV_HEX_SERIAL, allow_control=True)
        phoenix = vedirect_entry(
            inverter_sim.url, name="phoenix", unique_id=INVERTER_SERIAL, allow_control=True
        )
        await setup_entry(hass, bmv)
        await setup_entry(hass, phoenix)
        await wait_hex_read(bmv)
        await wait_hex_read(phoenix)
        await hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: "number.bmv_battery_capacity", ATTR_VALUE: 280},
            blocking=True,
        )
        assert bmv_model.value(BATTERY_CAPACITY) == 280
        assert state(hass, "number.bmv_battery_capacity") == "280"
        assert state(hass, "number.bmv_peukert_exponent") == "1.25"
        assert state(hass, "switch.phoenix_inverter") == STATE_ON
        await hass.services.async_call(
            "select",
            SERVICE_SELECT_OPTION,
            {ATTR_ENTITY_ID: "select.phoenix_inverter_mode", ATTR_OPTION: "eco"},
            blocking=True,
        )
        assert inverter_model.value(DEVICE_MODE) == "eco"
        assert state(hass, "switch.phoenix_inverter") == STATE_ON
        await hass.services.async_call(
            "switch", SERVICE_TURN_OFF, {ATTR_ENTITY_ID: "switch.phoenix_inverter"}, blocking=True
        )
        assert inverter_model.value(DEVICE_MODE) == "off"
        assert state(hass, "select.phoenix_inverter_mode") == "off"
        assert await hass.config_entries.async_unload(bmv.entry_id)
        assert await hass.config_entries.async_unload(phoenix.entry_id)


async def test_the_option_turns_control_on(hass: HomeAssistant, mppt_sim: Simulator) -> None:
    """Off by default; turned on in the options flow, the entry reloads with its control entities."""
    assert mppt_sim.url is not None
    entry = vedirect_entry(mppt_sim.url)
    await setup_entry(hass, entry)
    await wait_hex_read(entry)
    assert hass.states.get("switch.mppt1_load_output_enabled") is None
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_TIME_INTERVAL: 1, CONF_ALLOW_CONTROL: True}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options[CONF_ALLOW_CONTROL] is True
    await wait_hex_read(entry)
    assert state(hass, "switch.mppt1_load_output_enabled") == STATE_ON

    # Off again: the control entities leave the registry (no "no longer provided" leftovers).
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_TIME_INTERVAL: 1, CONF_ALLOW_CONTROL: False}
    )
    await hass.async_block_till_done()
    await wait_hex_read(entry)
    registry = er.async_get(hass)
    left = [e.entity_id for e in er.async_entries_for_config_entry(registry, entry.entry_id)]
    assert not [entity_id for entity_id in left if entity_id.split(".")[0] in ("switch", "number", "select")]
    assert "sensor.mppt1_absorption_voltage" in left
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_switching_on_restores_the_mode_it_had(
    hass: HomeAssistant, mppt: MockConfigEntry, mppt_sim: Simulator
) -> None:
    """A load output in auto (BatteryLife) switched off and on again is back in auto, not always on."""
    assert mppt_sim.hex is not None
    mppt_sim.hex.set_value(LOAD_OUTPUT_CONTROL, "auto")  # changed on the device: an async frame
    await wait_until(lambda: mppt.runtime_data.settings.values.get(LOAD_OUTPUT_CONTROL) == "auto")
    await hass.async_block_till_done()
    assert state(hass, "switch.mppt1_load_output_enabled") == STATE_ON
    for service in (SERVICE_TURN_OFF, SERVICE_TURN_ON):
        await hass.services.async_call(
            "switch", service, {ATTR_ENTITY_ID: "switch.mppt1_load_output_enabled"}, blocking=True
        )
    assert device_value(mppt_sim, LOAD_OUTPUT_CONTROL) == "auto"
    assert state(hass, "switch.mppt1_load_output_enabled") == STATE_ON


async def test_a_load_output_never_seen_on_is_switched_to_auto(hass: HomeAssistant) -> None:
    model = hex_model(Family.MPPT, MPPT_PID, MPPT_SERIAL)
    model.set_value(LOAD_OUTPUT_CONTROL, "off", announce=False)
    async with repeating_simulator(mppt_emission(), hex_device=model) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, allow_control=True)
        await setup_entry(hass, entry)
        await wait_hex_read(entry)
        assert state(hass, "switch.mppt1_load_output_enabled") == STATE_OFF
        await hass.services.async_call(
            "switch", SERVICE_TURN_ON, {ATTR_ENTITY_ID: "switch.mppt1_load_output_enabled"}, blocking=True
        )
        assert device_value(sim, LOAD_OUTPUT_CONTROL) == "auto"
        assert await hass.config_entries.async_unload(entry.entry_id)


def test_the_option_is_a_check_box() -> None:
    """What reaches the validator (the selector coerces to bool first): absent is off, only bools pass."""
    assert valid_flag(None) is False
    assert valid_flag(True) is True
    with pytest.raises(InvalidInput, match="invalid_flag"):
        valid_flag("yes")
