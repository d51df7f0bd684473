"""Entities of real VE.Direct streams: an MPPT and a BMV-712 capture and a synthetic Phoenix inverter."""

import asyncio
from collections.abc import Callable

from homeassistant.components.sensor import (
    ATTR_OPTIONS,
    ATTR_STATE_CLASS,
    SensorDeviceClass,
    SensorStateClass,
)
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_OFF,
    STATE_ON,
    STATE_UNKNOWN,
    Platform,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.vemonitor.const import DOMAIN
from tests.conftest import DEVICES
from tests.ha_vedirect import (
    INVERTER_SERIAL,
    MPPT_SERIAL,
    RepeatSource,
    bmv_emission,
    inverter_emission,
    mask_link_counters,
    mppt_emission,
    repeating_simulator,
    setup_entry,
    vedirect_entry,
)
from tests.vedirect_sim import WAIT
from vedirect_tools.simulator import encode_block


async def wait_for(condition: Callable[[], bool]) -> None:
    """Wait (a few coordinator samples at most) until ``condition()`` holds."""
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.05)


def state_of(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


def assert_measurement(
    hass: HomeAssistant,
    entity_id: str,
    expected: tuple[str, str, SensorDeviceClass],
    state_class: SensorStateClass = SensorStateClass.MEASUREMENT,
) -> None:
    """The state, unit and device class (``expected``) and the state class: how HA shows and records it."""
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    attributes = state.attributes
    assert (state.state, attributes[ATTR_UNIT_OF_MEASUREMENT], attributes[ATTR_DEVICE_CLASS]) == expected
    assert attributes[ATTR_STATE_CLASS] == state_class


@pytest.fixture
def platforms() -> list[Platform]:
    """Only the sensor platform (snapshot_platform wants one platform)."""
    return [Platform.SENSOR]


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("device", DEVICES)
async def test_entities_snapshot(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    init_integration: MockConfigEntry,
) -> None:
    """Every sensor of each device family: registry entry and state."""
    await snapshot_platform(
        hass, entity_registry, snapshot.with_defaults(matcher=mask_link_counters), init_integration.entry_id
    )


async def test_mppt_values_units_and_device(hass: HomeAssistant, device_registry: dr.DeviceRegistry) -> None:
    async with repeating_simulator(mppt_emission()) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, name="MPPT1")
        await setup_entry(hass, entry)

        assert_measurement(hass, "sensor.mppt1_battery_voltage", ("13.37", "V", SensorDeviceClass.VOLTAGE))
        assert state_of(hass, "sensor.mppt1_battery_current") == "5.44"
        assert state_of(hass, "sensor.mppt1_panel_voltage") == "16.64"
        assert state_of(hass, "sensor.mppt1_panel_power") == "74.0"
        assert state_of(hass, "sensor.mppt1_load_current") == "0.0"
        assert_measurement(
            hass,
            "sensor.mppt1_yield_total",
            ("6.14", "kWh", SensorDeviceClass.ENERGY),
            SensorStateClass.TOTAL_INCREASING,
        )
        assert state_of(hass, "sensor.mppt1_yield_today") == "0.16"
        assert state_of(hass, "sensor.mppt1_yield_yesterday") == "0.24"
        assert state_of(hass, "sensor.mppt1_maximum_power_today") == "74.0"
        assert state_of(hass, "sensor.mppt1_maximum_power_yesterday") == "84.0"
        charger = hass.states.get("sensor.mppt1_charger_state")
        assert charger is not None
        assert charger.state == "bulk"
        assert charger.attributes["code"] == 3
        assert "float" in charger.attributes[ATTR_OPTIONS]
        assert state_of(hass, "sensor.mppt1_tracker_mode") == "mpp_tracker"
        assert state_of(hass, "sensor.mppt1_charger_error") == "no_error"
        assert state_of(hass, "binary_sensor.mppt1_load_output") == STATE_OFF
        assert state_of(hass, "binary_sensor.mppt1_ve_direct_link") == STATE_ON

        # Rare or per-block noisy entities are disabled by default (no recorder row or logbook line a second).
        registry = er.async_get(hass)
        for entity_id in (
            "sensor.mppt1_history_day_sequence_number",
            "sensor.mppt1_valid_blocks",
            "sensor.mppt1_last_sample",
        ):
            registry_entry = registry.async_get(entity_id)
            assert registry_entry is not None, entity_id
            assert registry_entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION, entity_id
        invalid_blocks = registry.async_get("sensor.mppt1_invalid_blocks")
        assert invalid_blocks is not None
        assert invalid_blocks.disabled_by is None

        [device] = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
        assert device.identifiers == {(DOMAIN, MPPT_SERIAL)}
        assert device.name == "MPPT1"
        assert device.manufacturer == "Victron Energy"
        assert device.model == "BlueSolar MPPT 75/15"
        assert device.model_id == "0xA042"
        assert device.serial_number == MPPT_SERIAL
        assert device.sw_version == "1.50"
        assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("socket_enabled")
async def test_bmv_values_over_socket(hass: HomeAssistant) -> None:
    async with repeating_simulator(bmv_emission(), tcp=True) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, name="house", unique_id=f"0xA381@{sim.url}")
        await setup_entry(hass, entry)
        assert state_of(hass, "sensor.house_battery_voltage") == "13.044"
        assert state_of(hass, "sensor.house_battery_temperature") == "23.0"
        assert state_of(hass, "sensor.house_battery_current") == "3.862"
        assert state_of(hass, "sensor.house_battery_power") == "50.0"
        assert state_of(hass, "sensor.house_consumed_amp_hours") == "0.0"
        assert_measurement(hass, "sensor.house_state_of_charge", ("100.0", "%", SensorDeviceClass.BATTERY))
        assert state_of(hass, "sensor.house_time_to_go") == STATE_UNKNOWN  # -1: not discharging
        assert state_of(hass, "sensor.house_alarm_reason") == "none"
        assert state_of(hass, "binary_sensor.house_alarm") == STATE_OFF
        assert state_of(hass, "binary_sensor.house_relay") == STATE_OFF
        assert_measurement(
            hass,
            "sensor.house_discharged_energy",
            ("12.24", "kWh", SensorDeviceClass.ENERGY),
            SensorStateClass.TOTAL_INCREASING,
        )
        assert state_of(hass, "sensor.house_charged_energy") == "11.45"
        # History H1..H16: diagnostic, disabled by default.
        deepest = er.async_get(hass).async_get("sensor.house_deepest_discharge")
        assert deepest is not None
        assert deepest.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        assert deepest.entity_category == "diagnostic"
        assert hass.states.get("sensor.house_deepest_discharge") is None
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_inverter_values(hass: HomeAssistant) -> None:
    async with repeating_simulator(inverter_emission()) as sim:
        assert sim.url is not None
        entry = vedirect_entry(sim.url, name="phoenix", unique_id=INVERTER_SERIAL)
        await setup_entry(hass, entry)
        fields = dict(
            line.split(b"\t", 1)
            for line in b"".join(inverter_emission()).split(b"\r\n")
            if b"\t" in line and not line.startswith(b"Checksum")
        )
        ac_voltage = hass.states.get("sensor.phoenix_ac_output_voltage")
        assert ac_voltage is not None
        assert float(ac_voltage.state) == int(fields[b"AC_OUT_V"]) / 100
        assert ac_voltage.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.VOLTAGE
        assert float(state_of(hass, "sensor.phoenix_ac_output_current")) == int(fields[b"AC_OUT_I"]) / 10
        apparent = hass.states.get("sensor.phoenix_ac_output_apparent_power")
        assert apparent is not None
        assert float(apparent.state) == int(fields[b"AC_OUT_S"])
        assert apparent.attributes[ATTR_UNIT_OF_MEASUREMENT] == "VA"
        assert state_of(hass, "sensor.phoenix_device_mode") == "inverter"
        assert state_of(hass, "sensor.phoenix_device_state") == "inverting"  # CS of an inverter
        assert state_of(hass, "sensor.phoenix_off_reason") == "none"
        assert state_of(hass, "sensor.phoenix_warning_reason") in {"none", "low_voltage"}
        assert await hass.config_entries.async_unload(entry.entry_id)


FLAGS_AND_NEWCOMERS = [
    ("PID", "0xA261"),
    ("FW", "0115"),
    ("SER#", INVERTER_SERIAL),
    ("MODE", "77"),
    ("AR", "5"),
    ("WARN", "1"),
    ("OR", "0x00000400"),
    ("XYZ", "hello"),
]


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_fields_appearing_later_get_entities(
    hass: HomeAssistant, device_registry: dr.DeviceRegistry
) -> None:
    async with repeating_simulator(inverter_emission()) as sim:
        assert sim.url is not None
        assert isinstance(sim.source, RepeatSource)
        entry = vedirect_entry(sim.url, name="phoenix", unique_id=INVERTER_SERIAL)
        await setup_entry(hass, entry)
        assert hass.states.get("sensor.phoenix_field_xyz") is None

        # A new firmware sends new fields and codes: entities appear, the device registry follows.
        sim.source.emission = [encode_block(FLAGS_AND_NEWCOMERS)]
        await wait_for(lambda: hass.states.get("sensor.phoenix_field_xyz") is not None)
        await wait_for(lambda: state_of(hass, "sensor.phoenix_alarm_reason") == "multiple")

        assert state_of(hass, "sensor.phoenix_field_xyz") == "hello"
        alarm = hass.states.get("sensor.phoenix_alarm_reason")
        assert alarm is not None
        assert alarm.state == "multiple"
        assert alarm.attributes["reasons"] == ["low_voltage", "low_soc"]
        assert state_of(hass, "sensor.phoenix_warning_reason") == "low_voltage"
        assert state_of(hass, "sensor.phoenix_off_reason") == STATE_UNKNOWN  # a bit no table knows
        mode = hass.states.get("sensor.phoenix_device_mode")
        assert mode is not None
        assert mode.state == STATE_UNKNOWN  # a code no table knows: the raw code stays visible
        assert mode.attributes["code"] == 77
        [device] = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
        assert device.sw_version == "1.15"
        assert await hass.config_entries.async_unload(entry.entry_id)
