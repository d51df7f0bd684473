"""Config flow of VE.Direct devices against real simulated devices on pseudo-terminals and TCP."""

import asyncio
from collections.abc import AsyncIterator
import os
from pathlib import Path

from homeassistant.config_entries import SOURCE_USB, ConfigEntryState, ConfigFlowResult
from homeassistant.const import (
    CONF_NAME,
    CONF_PORT,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.service_info.usb import UsbServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.vemonitor.const import (
    CONF_ALLOW_CONTROL,
    CONF_ENTITY_INTERVAL,
    CONF_ENTRY_TYPE,
    CONF_TIME_INTERVAL,
    DOMAIN,
    ENTRY_TYPE_REDIS_SERVER,
    ENTRY_TYPE_VEDIRECT,
    SUBENTRY_REDIS_OUTPUT,
)
from tests.ha_vedirect import (
    BMV_CAPTURE,
    MPPT_SERIAL,
    bmv_emission,
    inverter_emission,
    mppt_emission,
    repeating_simulator,
    setup_entry,
    vedirect_entry,
)
from vedirect_tools.simulator import Simulator

CABLE_LINK = "usb-VictronEnergy_BV_VE_Direct_cable_HQ2207ABCDE-if00-port0"


@pytest.fixture
async def mppt() -> AsyncIterator[Simulator]:
    """The BlueSolar MPPT of the capture on a pseudo-terminal."""
    async with repeating_simulator(mppt_emission()) as sim:
        yield sim


def redis_server_entry() -> MockConfigEntry:
    """A Redis server entry (never set up here): the VE.Direct steps must ignore it."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="redis1",
        data={CONF_ENTRY_TYPE: ENTRY_TYPE_REDIS_SERVER, CONF_NAME: "redis1", "host": "127.0.0.1", "port": 1},
    )


async def unload_all(hass: HomeAssistant) -> None:
    """Stop every loaded entry before its simulator goes away."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def start_vedirect_flow(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["vedirect", "redis_server", "vemonitor_import"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "vedirect"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "vedirect"
    assert result["errors"] == {}
    return result["flow_id"]


@pytest.mark.parametrize(("time_interval", "entity_interval"), [(2.0, 5), (7, 7)])
async def test_user_creates_an_mppt_entry(
    hass: HomeAssistant, mppt: Simulator, time_interval: float, entity_interval: int
) -> None:
    """A new device refreshes its entities every 5 s, or at every sample when it samples more slowly."""
    assert mppt.url is not None
    flow_id = await start_vedirect_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_NAME: " MPPT1 ", CONF_PORT: f" {mppt.url} ", CONF_TIME_INTERVAL: time_interval}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "MPPT1"
    assert result["data"] == {CONF_ENTRY_TYPE: ENTRY_TYPE_VEDIRECT, CONF_NAME: "MPPT1", CONF_PORT: mppt.url}
    assert result["options"] == {
        CONF_TIME_INTERVAL: int(time_interval),
        CONF_ENTITY_INTERVAL: entity_interval,
    }
    assert (result["result"].version, result["result"].minor_version) == (1, 3)
    assert result["result"].unique_id == MPPT_SERIAL
    await hass.async_block_till_done()
    assert result["result"].state is ConfigEntryState.LOADED
    await unload_all(hass)


@pytest.mark.usefixtures("socket_enabled")
async def test_user_bmv_without_serial_uses_product_and_port(hass: HomeAssistant) -> None:
    async with repeating_simulator(bmv_emission(), tcp=True) as sim:
        assert sim.url is not None
        assert sim.url.startswith("socket://")
        flow_id = await start_vedirect_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            flow_id, {CONF_NAME: "BMV_712", CONF_PORT: sim.url, CONF_TIME_INTERVAL: 1}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["result"].unique_id == f"0xA381@{sim.url}"
        await hass.async_block_till_done()
        await unload_all(hass)


@pytest.mark.parametrize(
    ("name", "error"),
    [("MPPT 1", "invalid_name"), ("", "invalid_name"), ("taken", "name_in_use")],
)
async def test_user_rejects_bad_names(hass: HomeAssistant, name: str, error: str) -> None:
    redis_server_entry().add_to_hass(hass)
    vedirect_entry("/dev/ttyUSB7", name="taken", unique_id="other").add_to_hass(hass)
    flow_id = await start_vedirect_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_NAME: name, CONF_PORT: "/dev/does-not-matter", CONF_TIME_INTERVAL: 1}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_NAME: error}
    assert len(hass.config_entries.async_entries(DOMAIN)) == 2


async def test_user_cannot_open_port(hass: HomeAssistant, tmp_path: Path) -> None:
    flow_id = await start_vedirect_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_NAME: "MPPT1", CONF_PORT: str(tmp_path / "ttyUSB0"), CONF_TIME_INTERVAL: 1}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_open"}


async def _serve_once(payload: bytes) -> tuple[asyncio.Server, str]:
    """A network serial server that sends ``payload`` and hangs up (what a wrong device behind it does)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(payload)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"socket://127.0.0.1:{port}"


@pytest.mark.usefixtures("socket_enabled")
async def test_user_no_valid_data(hass: HomeAssistant) -> None:
    mangled = (BMV_CAPTURE.parent / "bmv-700_mangled-all-bad.dump").read_bytes()[:4000]
    server, url = await _serve_once(mangled)
    try:
        flow_id = await start_vedirect_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            flow_id, {CONF_NAME: "MPPT1", CONF_PORT: url, CONF_TIME_INTERVAL: 1}
        )
    finally:
        server.close()
        await server.wait_closed()
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "no_data"}


async def test_user_already_configured(hass: HomeAssistant, mppt: Simulator) -> None:
    assert mppt.url is not None
    vedirect_entry("/dev/ttyUSB3", name="old").add_to_hass(hass)
    flow_id = await start_vedirect_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_NAME: "MPPT1", CONF_PORT: mppt.url, CONF_TIME_INTERVAL: 1}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.fixture
def by_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The directory standing for /dev/serial/by-id (there is no USB cable here)."""
    directory = tmp_path / "by-id"
    directory.mkdir()
    (directory / "usb-FTDI_FT232R_USB_UART_A10K1234-if00-port0").symlink_to("/dev/null")  # another cable
    monkeypatch.setattr("custom_components.vemonitor.identity.SERIAL_BY_ID", directory)
    return directory


def usb_info(device: str) -> UsbServiceInfo:
    """What Home Assistant's USB discovery reports for a VE.Direct cable (the only fabricated thing)."""
    return UsbServiceInfo(
        device=device,
        vid="0403",
        pid="6015",
        serial_number="HQ2207ABCDE",
        manufacturer="VictronEnergy BV",
        description="VE Direct cable",
    )


async def usb_discovery(hass: HomeAssistant, device: str) -> ConfigFlowResult:
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USB}, data=usb_info(device)
    )


async def test_usb_discovery_stores_the_by_id_path(hass: HomeAssistant, tmp_path: Path, by_id: Path) -> None:
    link = by_id / CABLE_LINK
    async with repeating_simulator(mppt_emission(), pty_link=link):
        device = os.path.realpath(link)
        result = await usb_discovery(hass, device)
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "usb_confirm"
        assert result["description_placeholders"] == {"product": "BlueSolar MPPT 75/15", CONF_PORT: str(link)}
        schema_keys = {str(key): key for key in result["data_schema"].schema}
        assert schema_keys[CONF_NAME].description == {"suggested_value": "BlueSolar_MPPT_75_15"}

        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_NAME: "bad name", CONF_TIME_INTERVAL: 1}
        )
        assert result["errors"] == {CONF_NAME: "invalid_name"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_NAME: "solar", CONF_TIME_INTERVAL: 3}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["data"][CONF_PORT] == str(link)
        assert result["options"] == {CONF_TIME_INTERVAL: 3, CONF_ENTITY_INTERVAL: 5}
        assert result["result"].unique_id == MPPT_SERIAL
        await hass.async_block_till_done()
        await unload_all(hass)


@pytest.mark.parametrize("configured_port", ["device node", "old port"])
async def test_usb_discovery_of_a_configured_device_stores_the_stable_path(
    hass: HomeAssistant, tmp_path: Path, by_id: Path, configured_port: str
) -> None:
    """Configured as /dev/ttyUSBn (not probed: its entry reads it), or moved from an older port (probed)."""
    link = by_id / CABLE_LINK
    async with repeating_simulator(mppt_emission(), pty_link=link) as sim:
        assert sim.url == str(link)
        device = os.path.realpath(link)
        entry = vedirect_entry(device if configured_port == "device node" else str(tmp_path / "old-port"))
        entry.add_to_hass(hass)
        result = await usb_discovery(hass, device)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "already_configured"
        assert entry.data[CONF_PORT] == str(link)
        await hass.async_block_till_done()
        await unload_all(hass)


async def test_usb_discovery_port_gone(hass: HomeAssistant, tmp_path: Path) -> None:
    redis_server_entry().add_to_hass(hass)
    vedirect_entry("socket://127.0.0.1:1", name="remote", unique_id="remote").add_to_hass(hass)
    result = await usb_discovery(hass, str(tmp_path / "ttyUSB0"))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_open"


async def test_reconfigure_to_another_port_of_the_same_device(hass: HomeAssistant, mppt: Simulator) -> None:
    assert mppt.url is not None
    entry = vedirect_entry("/dev/ttyUSB0")
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert result["description_placeholders"] == {CONF_NAME: "MPPT1"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: "/nonexistent/tty"}
    )
    assert result["errors"] == {"base": "cannot_open"}
    assert entry.data[CONF_PORT] == "/dev/ttyUSB0"

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_PORT: mppt.url})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_PORT] == mppt.url
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await unload_all(hass)


def registry_snapshot(
    hass: HomeAssistant, entry: MockConfigEntry
) -> tuple[set[str], dict[str, tuple[str, str | None]]]:
    """The entry's device ids, and its entities: entity id -> (unique id, device id)."""
    devices = {device.id for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)}
    entities = {
        entity.entity_id: (entity.unique_id, entity.device_id)
        for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    }
    return devices, entities


async def test_reconfigure_a_bmv_keeps_its_device_and_entities(hass: HomeAssistant) -> None:
    """A BMV sends no SER#: its unique_id follows the port, its device and entities must not."""
    async with repeating_simulator(bmv_emission()) as old, repeating_simulator(bmv_emission()) as new:
        assert old.url is not None
        assert new.url is not None
        entry = vedirect_entry(old.url, name="house", unique_id=f"0xA381@{old.url}")
        await setup_entry(hass, entry)
        devices, entities = registry_snapshot(hass, entry)
        assert len(devices) == 1
        assert "sensor.house_battery_voltage" in entities

        result = await entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_PORT: new.url})
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        assert entry.unique_id == f"0xA381@{new.url}"  # a serial-less device is known by product + port
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        assert entry.runtime_data.client.url == new.url

        devices_after, entities_after = registry_snapshot(hass, entry)
        assert devices_after == devices
        assert entities.items() <= entities_after.items()  # the history block may have added some since
        assert not [entity_id for entity_id in entities_after if entity_id.endswith("_2")]
        voltage = hass.states.get("sensor.house_battery_voltage")
        assert voltage is not None
        assert voltage.state == "13.044"
        await unload_all(hass)


async def test_reconfigure_a_bmv_onto_another_entrys_bmv_aborts(hass: HomeAssistant) -> None:
    async with repeating_simulator(bmv_emission()) as other:
        assert other.url is not None
        vedirect_entry(other.url, name="starter", unique_id=f"0xA381@{other.url}").add_to_hass(hass)
        entry = vedirect_entry("/dev/ttyUSB0", name="house", unique_id="0xA381@/dev/ttyUSB0")
        entry.add_to_hass(hass)
        result = await entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_PORT: other.url})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unique_id_mismatch"
    assert entry.data[CONF_PORT] == "/dev/ttyUSB0"
    assert entry.unique_id == "0xA381@/dev/ttyUSB0"


async def test_reconfigure_same_port_does_not_probe(hass: HomeAssistant, mppt: Simulator) -> None:
    assert mppt.url is not None
    entry = vedirect_entry(mppt.url)
    await setup_entry(hass, entry)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_PORT: mppt.url})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await unload_all(hass)


async def test_reconfigure_to_another_device_aborts(hass: HomeAssistant) -> None:
    entry = vedirect_entry("/dev/ttyUSB0")
    entry.add_to_hass(hass)
    async with repeating_simulator(inverter_emission()) as inverter:
        assert inverter.url is not None
        result = await entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_PORT: inverter.url})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unique_id_mismatch"
    assert entry.data[CONF_PORT] == "/dev/ttyUSB0"


async def test_reconfigure_of_a_redis_server_goes_to_its_step(hass: HomeAssistant) -> None:
    entry = redis_server_entry()
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "reconfigure_redis_server"


async def test_options_change_time_interval_and_reload(hass: HomeAssistant, mppt: Simulator) -> None:
    assert mppt.url is not None
    entry = vedirect_entry(mppt.url, time_interval=1)
    await setup_entry(hass, entry)
    assert entry.supports_options
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    # An entry of before the option has none (an empty field): its entities refresh at every sample.
    assert suggested_values(result) == {
        CONF_TIME_INTERVAL: 1,
        CONF_ENTITY_INTERVAL: None,
        CONF_ALLOW_CONTROL: False,  # off by default
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], {CONF_TIME_INTERVAL: 5.0})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    # The entity interval left empty: none stored, entities follow every sample of the new time interval.
    assert entry.options == {CONF_TIME_INTERVAL: 5, CONF_ALLOW_CONTROL: False}
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.coordinator.entity_interval == 5
    await unload_all(hass)


def suggested_values(result: ConfigFlowResult) -> dict[str, object]:
    """What a form shows in its fields."""
    schema = result["data_schema"]
    assert schema is not None
    return {str(key): (key.description or {}).get("suggested_value") for key in schema.schema}


async def test_options_entity_interval(hass: HomeAssistant, mppt: Simulator) -> None:
    """The entity interval: within the time interval's bounds and never shorter than the time interval
    (refused on its field), stored and used after the reload."""
    assert mppt.url is not None
    entry = vedirect_entry(mppt.url, time_interval=2)
    await setup_entry(hass, entry)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    flow_id = result["flow_id"]
    for entity_interval, error in [
        (1, "entity_interval_too_short"),
        (0, "out_of_range"),
        (3601, "out_of_range"),
    ]:
        result = await hass.config_entries.options.async_configure(
            flow_id, {CONF_TIME_INTERVAL: 2, CONF_ENTITY_INTERVAL: entity_interval}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {CONF_ENTITY_INTERVAL: error}
        assert suggested_values(result) == {
            CONF_TIME_INTERVAL: 2,
            CONF_ENTITY_INTERVAL: entity_interval,
            CONF_ALLOW_CONTROL: None,
        }
    result = await hass.config_entries.options.async_configure(
        flow_id, {CONF_TIME_INTERVAL: 2, CONF_ENTITY_INTERVAL: 30.0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options == {CONF_TIME_INTERVAL: 2, CONF_ENTITY_INTERVAL: 30, CONF_ALLOW_CONTROL: False}
    assert entry.runtime_data.coordinator.entity_interval == 30
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert suggested_values(result) == {
        CONF_TIME_INTERVAL: 2,
        CONF_ENTITY_INTERVAL: 30,
        CONF_ALLOW_CONTROL: False,
    }
    hass.config_entries.options.async_abort(result["flow_id"])
    await unload_all(hass)


async def test_migration_keeps_existing_entries_on_every_sample(hass: HomeAssistant, mppt: Simulator) -> None:
    """Entries 1.1 (before the entity interval): a device keeps no entity interval (every sample); a Redis
    server entry only changes version; an entry of a newer major version is not touched."""
    assert mppt.url is not None
    device = vedirect_entry(mppt.url, time_interval=3)
    assert (device.version, device.minor_version) == (1, 1)
    await setup_entry(hass, device)
    assert device.minor_version == 3
    assert device.options == {CONF_TIME_INTERVAL: 3}
    assert device.runtime_data.coordinator.entity_interval == 3

    server = redis_server_entry()
    server.add_to_hass(hass)
    assert await server.async_migrate(hass)  # migrated only (not set up: there is no server here)
    assert (server.minor_version, dict(server.options)) == (3, {})

    newer = MockConfigEntry(domain=DOMAIN, title="future", version=2, data=dict(device.data), unique_id="new")
    newer.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(newer.entry_id)
    assert newer.state is ConfigEntryState.MIGRATION_ERROR

    # A newer minor version (a later release's 1.4, back on this one) is compatible: left as it is.
    later = MockConfigEntry(domain=DOMAIN, title="later", minor_version=4, options={CONF_TIME_INTERVAL: 2})
    later.add_to_hass(hass)
    assert await later.async_migrate(hass)
    assert (later.minor_version, dict(later.options)) == (4, {CONF_TIME_INTERVAL: 2})
    await unload_all(hass)


async def test_entry_kinds_offer_their_own_features(hass: HomeAssistant) -> None:
    vedirect = vedirect_entry("/dev/ttyUSB0")
    vedirect.add_to_hass(hass)
    redis = redis_server_entry()
    redis.add_to_hass(hass)
    assert vedirect.supports_options
    assert not redis.supports_options
    assert set(vedirect.supported_subentry_types) == {SUBENTRY_REDIS_OUTPUT}
    assert set(redis.supported_subentry_types) == {"redis_input"}
