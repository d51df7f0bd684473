"""The actions read_register and write_register: response data, and every refusal translated."""

from typing import Any

from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import HomeAssistant, ServiceResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.vemonitor.const import CONF_ENTRY_TYPE, DOMAIN, ENTRY_TYPE_REDIS_SERVER
from custom_components.vemonitor.vedirect.registers import (
    ABSORPTION_VOLTAGE,
    BATTERY_MAX_CURRENT,
    CHARGER_MAX_CURRENT,
    LOAD_OUTPUT_CONTROL,
    LOAD_OUTPUT_STATE,
    Family,
)
from tests.ha_vedirect import (
    MPPT_PID,
    MPPT_SERIAL,
    hex_model,
    mppt_emission,
    repeating_simulator,
    setup_entry,
    vedirect_entry,
    wait_hex_read,
)
from vedirect_tools.hexdevice import HexDevice
from vedirect_tools.simulator import Faults, Simulator

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def mppt_entry(hass: HomeAssistant, sim: Simulator, *, allow_control: bool) -> MockConfigEntry:
    assert sim.url is not None
    entry = vedirect_entry(sim.url, allow_control=allow_control)
    await setup_entry(hass, entry)
    await wait_hex_read(entry)
    return entry


def device_id(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    (device,) = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    return device.id


async def call(hass: HomeAssistant, service: str, **data: Any) -> ServiceResponse:
    return await hass.services.async_call(DOMAIN, service, data, blocking=True, return_response=True)


async def test_read_register_by_id_or_key(hass: HomeAssistant, mppt_sim: Simulator) -> None:
    entry = await mppt_entry(hass, mppt_sim, allow_control=False)
    device = device_id(hass, entry)
    expected = {"register": "0xEDF7", "key": "absorption_voltage", "value": 14.4, "unit": "V"}
    assert await call(hass, "read_register", **{ATTR_DEVICE_ID: device, "register": "0xEDF7"}) == expected
    assert (
        await call(hass, "read_register", **{ATTR_DEVICE_ID: device, "register": ABSORPTION_VOLTAGE})
        == expected
    )
    assert (
        await call(hass, "read_register", **{ATTR_DEVICE_ID: device, "register": "absorption_voltage"})
        == expected
    )
    history = await call(hass, "read_register", **{ATTR_DEVICE_ID: device, "register": "0x1051"})
    assert history is not None
    assert history["value"]["time_bulk_min"] == 212  # type: ignore[index]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_write_register_is_refused_unless_allowed(hass: HomeAssistant, mppt_sim: Simulator) -> None:
    entry = await mppt_entry(hass, mppt_sim, allow_control=False)
    with pytest.raises(ServiceValidationError) as refused:
        await call(
            hass,
            "write_register",
            **{ATTR_DEVICE_ID: device_id(hass, entry), "register": "0xEDF0", "value": 10},
        )
    assert refused.value.translation_key == "control_disabled"
    assert mppt_sim.hex is not None
    assert mppt_sim.hex.value(BATTERY_MAX_CURRENT) == 15.0
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_write_register(hass: HomeAssistant, mppt_sim: Simulator) -> None:
    entry = await mppt_entry(hass, mppt_sim, allow_control=True)
    device = device_id(hass, entry)
    assert mppt_sim.hex is not None
    response = await call(
        hass, "write_register", **{ATTR_DEVICE_ID: device, "register": "0xEDF0", "value": "10"}
    )
    assert response == {"register": "0xEDF0", "key": "battery_max_current", "value": 10.0, "unit": "A"}
    assert mppt_sim.hex.value(BATTERY_MAX_CURRENT) == 10.0
    assert hass.states.get("number.mppt1_maximum_charge_current").state == "10.0"  # type: ignore[union-attr]
    # An enum register by option key, or by its raw code.
    response = await call(
        hass, "write_register", **{ATTR_DEVICE_ID: device, "register": "load_output_control", "value": "off"}
    )
    assert response is not None
    assert response["value"] == "off"
    assert mppt_sim.hex.value(LOAD_OUTPUT_CONTROL) == "off"
    await call(
        hass, "write_register", **{ATTR_DEVICE_ID: device, "register": LOAD_OUTPUT_CONTROL, "value": 4}
    )
    assert mppt_sim.hex.value(LOAD_OUTPUT_CONTROL) == "on"
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("register", "value", "key"),
    [
        ("0xEDF7", 17.5, "value_out_of_range"),
        ("0xEDF7", "high", "value_out_of_range"),
        ("0xEDF0", 25, "value_out_of_range"),  # above the charger's own 20 A
        ("0xEDDB", 20, "register_read_only"),
        ("load_output_control", "sometimes", "invalid_option"),
        ("0xBEEF", 1, "unknown_register"),
        ("no_such_key", 1, "unknown_register"),
        ("serial_number", "HQ1", "register_read_only"),
    ],
)
async def test_write_register_refusals(
    hass: HomeAssistant, mppt_sim: Simulator, register: str, value: object, key: str
) -> None:
    entry = await mppt_entry(hass, mppt_sim, allow_control=True)
    assert mppt_sim.hex is not None
    before = dict(mppt_sim.hex.registers)
    with pytest.raises(ServiceValidationError) as refused:
        await call(
            hass,
            "write_register",
            **{ATTR_DEVICE_ID: device_id(hass, entry), "register": register, "value": value},
        )
    assert refused.value.translation_domain == DOMAIN
    assert refused.value.translation_key == key
    assert dict(mppt_sim.hex.registers) == before
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_unknown_or_unloaded_device(hass: HomeAssistant, mppt_sim: Simulator) -> None:
    MockConfigEntry(domain=DOMAIN, data={CONF_ENTRY_TYPE: ENTRY_TYPE_REDIS_SERVER}).add_to_hass(hass)
    entry = await mppt_entry(hass, mppt_sim, allow_control=True)
    device = device_id(hass, entry)
    with pytest.raises(ServiceValidationError) as refused:
        await call(hass, "read_register", **{ATTR_DEVICE_ID: "nope", "register": "0xEDF7"})
    assert refused.value.translation_key == "unknown_device"
    assert await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as refused:
        await call(hass, "read_register", **{ATTR_DEVICE_ID: device, "register": "0xEDF7"})
    assert refused.value.translation_key == "device_not_loaded"


async def test_a_model_without_load_output(hass: HomeAssistant) -> None:
    """Registers the device does not know are dropped: no load output entities, and the action refuses."""
    full = hex_model(Family.MPPT, MPPT_PID, MPPT_SERIAL)
    values = {
        rid: full.value(rid) for rid in full.registers if rid not in (LOAD_OUTPUT_CONTROL, LOAD_OUTPUT_STATE)
    }
    async with repeating_simulator(
        mppt_emission(), hex_device=HexDevice(Family.MPPT, MPPT_PID, values)
    ) as sim:
        entry = await mppt_entry(hass, sim, allow_control=True)
        assert hass.states.get("switch.mppt1_load_output_enabled") is None
        assert hass.states.get("select.mppt1_load_output_mode") is None
        assert hass.states.get("switch.mppt1_charger") is not None
        with pytest.raises(ServiceValidationError) as refused:
            await call(
                hass, "read_register", **{ATTR_DEVICE_ID: device_id(hass, entry), "register": "0xEDAB"}
            )
        assert refused.value.translation_key == "unknown_register"
        diagnostics = entry.runtime_data.settings.diagnostics()
        assert "0xEDAB" in diagnostics["dropped"]
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_read_timeout(hass: HomeAssistant, mppt_sim: Simulator) -> None:
    entry = await mppt_entry(hass, mppt_sim, allow_control=True)
    device = device_id(hass, entry)
    mppt_sim.faults = Faults(hex_no_answer=1.0)
    with pytest.raises(HomeAssistantError) as failed:
        await call(hass, "read_register", **{ATTR_DEVICE_ID: device, "register": "0xEDF7"})
    assert failed.value.translation_key == "hex_timeout"
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert MPPT_SERIAL


async def test_a_value_the_register_cannot_hold(hass: HomeAssistant) -> None:
    """No charger maximum known (the device lacks 0xEDDF): the range is open above, the type is not."""
    full = hex_model(Family.MPPT, MPPT_PID, MPPT_SERIAL)
    values = {rid: full.value(rid) for rid in full.registers if rid != CHARGER_MAX_CURRENT}
    async with repeating_simulator(
        mppt_emission(), hex_device=HexDevice(Family.MPPT, MPPT_PID, values)
    ) as sim:
        entry = await mppt_entry(hass, sim, allow_control=True)
        number = hass.states.get("number.mppt1_maximum_charge_current")
        assert number is not None
        assert number.attributes["max"] == 100.0  # a box needs a bound; the device refuses what it cannot do
        with pytest.raises(ServiceValidationError) as refused:
            await call(
                hass,
                "write_register",
                **{ATTR_DEVICE_ID: device_id(hass, entry), "register": "0xEDF0", "value": 1e7},
            )
        assert refused.value.translation_key == "invalid_value"
        assert await hass.config_entries.async_unload(entry.entry_id)
