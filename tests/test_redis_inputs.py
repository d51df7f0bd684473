"""Redis inputs end to end: points in a real redis-server -> a Redis server entry's input -> its sensors.

Points are written as our outputs write them (a real VE.Direct device and output, or the same layout with
redis-py) and as the vemonitor daemon 0.1 writes them (hash names in the SET); inputs read every second.
"""

import asyncio
from collections.abc import Callable
import json
import time
from typing import Any

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntryState,
    ConfigSubentry,
    ConfigSubentryData,
)
from homeassistant.const import CONF_NAME, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from redis import Redis

from custom_components.vemonitor.const import (
    CONF_COLUMNS,
    CONF_REDIS_NODE,
    CONF_REF_COLS,
    CONF_STALE_AFTER,
    DOMAIN,
    SUBENTRY_REDIS_INPUT,
)
from custom_components.vemonitor.diagnostics import async_get_config_entry_diagnostics
from custom_components.vemonitor.redis_inputs import async_get_redis_inputs
from custom_components.vemonitor.redis_worker.input import InputReader
from tests.ha_vedirect import bmv_emission, repeating_simulator, setup_entry
from tests.redis_fixtures import server_entry, sync_client
from tests.redis_server import RedisServer
from tests.test_redis_input_flow import input_data
from tests.test_redis_runtime import block_with_outputs, output_subentry

pytestmark = pytest.mark.usefixtures("socket_enabled")

WAIT = 20.0  # a guard against hangs, never a performance assertion
POINT = {
    "V": 12.064,
    "I": -7.52,
    "P": -91.0,
    "SOC": 83.8,
    "Alarm": 0,
    "AR": 0,
    "Relay": 1,
    "CS": 3,
    "TTG": -1.0,
    "H17": 12.24,
    "FW": "0403",
    "SER#": 123,
    "XYZ": 5,
    "T": None,
}


async def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def input_subentry(
    name: str, redis_node: str, columns: dict[str, list[str]], **extra: Any
) -> ConfigSubentryData:
    """A redis_input subentry reading every second."""
    data = input_data(name, **{CONF_REDIS_NODE: redis_node, CONF_COLUMNS: columns, **extra})
    return ConfigSubentryData(data=data, subentry_type=SUBENTRY_REDIS_INPUT, title=name, unique_id=None)


def server_with_inputs(server: RedisServer, *inputs: ConfigSubentryData) -> MockConfigEntry:
    template = server_entry(server)
    return MockConfigEntry(
        domain=DOMAIN, title=template.title, data=dict(template.data), subentries_data=inputs
    )


def write_point(
    client: Redis, redis_node: str, node: str, values: dict[str, Any], at: float | None = None
) -> int:
    """One point, as our output stores it (SET of node names, JSON in a field named after the second)."""
    timestamp = int(time.time() if at is None else at)
    client.sadd(redis_node, node)
    client.hset(f"{redis_node}_{node}", str(timestamp), json.dumps(values))
    return timestamp


def input_device(hass: HomeAssistant, server: MockConfigEntry, subentry_id: str) -> dr.DeviceEntry | None:
    """The device of an input (identified by its subentry id), if any."""
    registry = dr.async_get(hass)
    return next(
        (
            device
            for device in dr.async_entries_for_config_entry(registry, server.entry_id)
            if (DOMAIN, subentry_id) in device.identifiers
        ),
        None,
    )


def entity_id(hass: HomeAssistant, unique_id: str) -> str:
    found = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, unique_id)
    assert found is not None, unique_id
    return found


def state(hass: HomeAssistant, unique_id: str) -> str:
    found = hass.states.get(entity_id(hass, unique_id))
    assert found is not None
    return found.state


def attributes(hass: HomeAssistant, unique_id: str) -> dict[str, Any]:
    found = hass.states.get(entity_id(hass, unique_id))
    assert found is not None
    return dict(found.attributes)


async def test_values_names_and_units(
    hass: HomeAssistant, redis_plain: RedisServer, redis_reader: Redis
) -> None:
    """One device per input, one sensor per column: named by ref_cols, else by the label; unit, device and
    state class from the VE.Direct description of the label; codes, flags and ON/OFF as the device shows."""
    redis_reader.delete("in_values", "in_values_bmv700")
    write_point(redis_reader, "in_values", "bmv700", POINT)
    columns = {"bmv700": [*POINT, "NOT_SENT"]}
    refs = [["bat_voltage", "V"], ["bat_current", "I"], ["bat_power", "P"]]
    server = server_with_inputs(
        redis_plain, input_subentry("boat_bmv", "in_values", columns, **{CONF_REF_COLS: refs})
    )
    await setup_entry(hass, server)
    (subentry_id,) = server.subentries

    def uid(label: str) -> str:
        return f"{subentry_id}_bmv700_{label}"

    assert entity_id(hass, uid("V")) == "sensor.boat_bmv_bat_voltage"
    assert entity_id(hass, uid("SOC")) == "sensor.boat_bmv_soc"
    assert state(hass, uid("V")) == "12.064"
    assert attributes(hass, uid("V")) == {
        "friendly_name": "boat_bmv bat_voltage",
        "unit_of_measurement": "V",
        "device_class": "voltage",
        "state_class": "measurement",
    }
    assert state(hass, uid("I")) == "-7.52"
    assert attributes(hass, uid("I"))["device_class"] == "current"
    assert attributes(hass, uid("P"))["unit_of_measurement"] == "W"
    assert (state(hass, uid("SOC")), attributes(hass, uid("SOC"))["device_class"]) == ("83.8", "battery")
    assert attributes(hass, uid("SOC"))["unit_of_measurement"] == "%"
    assert state(hass, uid("CS")) == "bulk"
    assert attributes(hass, uid("CS"))["code"] == 3
    assert state(hass, uid("AR")) == "none"
    assert (state(hass, uid("Alarm")), state(hass, uid("Relay"))) == ("off", "on")
    assert attributes(hass, uid("Alarm"))["options"] == ["off", "on"]
    assert state(hass, uid("TTG")) == STATE_UNKNOWN  # -1: infinite
    assert state(hass, uid("T")) == STATE_UNKNOWN  # null: "---" on the wire
    # History fields are diagnostic and disabled on the device itself; an input shows what it was given.
    assert state(hass, uid("H17")) == "12.24"
    assert attributes(hass, uid("H17"))["state_class"] == "total_increasing"
    assert er.async_get(hass).async_get(entity_id(hass, uid("H17"))).entity_category is None  # type: ignore[union-attr]
    assert (state(hass, uid("FW")), state(hass, uid("SER#")), state(hass, uid("XYZ"))) == ("0403", "123", "5")
    assert "unit_of_measurement" not in attributes(hass, uid("XYZ"))
    # A column the point does not hold.
    assert state(hass, uid("NOT_SENT")) == STATE_UNAVAILABLE

    device = input_device(hass, server, subentry_id)
    assert device is not None
    assert (device.name, device.model, device.manufacturer) == ("boat_bmv", "Redis input", "Redis")
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    entry = er.async_get(hass).async_get(entity_id(hass, uid("V")))
    assert entry is not None
    assert entry.config_subentry_id == subentry_id

    # Values that do not fit their label show nothing.
    write_point(
        redis_reader, "in_values", "bmv700", {"V": "high", "Alarm": 2, "AR": -1, "CS": 3.5, "TTG": 90.0}
    )
    await wait_until(lambda: state(hass, uid("TTG")) == "90.0")
    for label in ("V", "Alarm", "AR", "CS"):
        assert state(hass, uid(label)) == STATE_UNKNOWN, label
    assert state(hass, uid("I")) == STATE_UNAVAILABLE  # not in the newest point


async def test_daemon_layout_and_diagnostics(
    hass: HomeAssistant, redis_plain: RedisServer, redis_reader: Redis
) -> None:
    """vemonitor 0.1 puts the hash names in the SET; a label in two nodes names both sensors after their
    node; the diagnostics show the settings, what the SET lists and how old the newest points are."""
    redis_reader.delete("daemon", "daemon_bmv", "daemon_mppt")
    now = int(time.time())
    redis_reader.sadd("daemon", "daemon_bmv", "daemon_mppt")
    redis_reader.hset("daemon_bmv", str(now - 1), '{"V": 12.5, "I": -1.0}')
    redis_reader.hset("daemon_mppt", str(now - 2), '{"V": 13.25, "PPV": 120}')
    columns = {"bmv": ["V", "I"], "mppt": ["V", "PPV"]}
    server = server_with_inputs(
        redis_plain, input_subentry("daemon_in", "daemon", columns, **{CONF_REF_COLS: []})
    )
    await setup_entry(hass, server)
    (subentry_id,) = server.subentries
    assert entity_id(hass, f"{subentry_id}_bmv_V") == "sensor.daemon_in_v_bmv"
    assert state(hass, f"{subentry_id}_bmv_V") == "12.5"
    assert state(hass, f"{subentry_id}_mppt_V") == "13.25"
    assert state(hass, f"{subentry_id}_mppt_PPV") == "120"

    diagnostics = await async_get_config_entry_diagnostics(hass, server)
    text = json.dumps(diagnostics)
    assert redis_plain.host not in text
    (shown,) = diagnostics["redis_inputs"].values()
    ages = shown.pop("last_point_age")
    assert 0 <= ages["mppt"] - 1 == ages["bmv"] <= 5
    assert shown == {
        "title": "daemon_in",
        "name": "daemon_in",
        "redis_node": "daemon",
        "structure": "HmapTimeSeries",
        "time_interval": 1,
        "stale_after": 15,
        "columns": columns,
        "ref_cols": [],
        "set_members": "hashes",
        "set_contents": ["daemon_bmv", "daemon_mppt"],
        "last_update_success": True,
        "last_error": None,
        "stale_nodes": [],
    }
    # Not loaded: the settings alone.
    assert await hass.config_entries.async_unload(server.entry_id)
    diagnostics = await async_get_config_entry_diagnostics(hass, server)
    assert diagnostics["redis_inputs"][subentry_id]["columns"] == columns
    assert "set_members" not in diagnostics["redis_inputs"][subentry_id]


async def test_reads_what_our_output_writes(
    hass: HomeAssistant, redis_plain: RedisServer, redis_reader: Redis
) -> None:
    """The boat and the home in one Home Assistant: a BMV's output writes, an input of the same server reads
    the device's own values back (the ref_cols of the output are metadata, the input has its own)."""
    redis_reader.delete("loop_bmv", "loop_bmv_bmv712")
    server = server_with_inputs(
        redis_plain,
        input_subentry(
            "home_bmv", "loop_bmv", {"bmv712": ["V", "SOC", "T"]}, **{CONF_REF_COLS: [["voltage", "V"]]}
        ),
    )
    await setup_entry(hass, server)
    (input_id,) = server.subentries
    async with repeating_simulator(bmv_emission()) as sim:
        assert sim.url is not None
        block = block_with_outputs(
            sim.url, output_subentry(server.entry_id, "loop_bmv", {"bmv712": ["V", "SOC", "T", "I"]})
        )
        await setup_entry(hass, block)
        await wait_until(lambda: state(hass, f"{input_id}_bmv712_V") == "13.044")
        assert state(hass, f"{input_id}_bmv712_SOC") == "100.0"
        assert state(hass, f"{input_id}_bmv712_T") == "23.0"
        assert attributes(hass, f"{input_id}_bmv712_T")["device_class"] == "temperature"
        assert entity_id(hass, f"{input_id}_bmv712_V") == "sensor.home_bmv_voltage"
        assert await hass.config_entries.async_unload(block.entry_id)


async def test_unavailable_when_stale_and_back(
    hass: HomeAssistant, redis_plain: RedisServer, redis_reader: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """No point newer than stale_after: unavailable, logged once; a new point: back, logged once."""
    redis_reader.delete("stale", "stale_bmv")
    write_point(redis_reader, "stale", "bmv", {"V": 12.5})
    server = server_with_inputs(
        redis_plain, input_subentry("stale_in", "stale", {"bmv": ["V"]}, **{CONF_STALE_AFTER: 2})
    )
    await setup_entry(hass, server)
    (subentry_id,) = server.subentries
    voltage = f"{subentry_id}_bmv_V"
    assert state(hass, voltage) == "12.5"
    await wait_until(lambda: state(hass, voltage) == STATE_UNAVAILABLE)
    await asyncio.sleep(1.5)  # more reads find it stale: no more lines
    assert caplog.text.count("Redis input stale_in: no point newer than 2 s in stale_bmv") == 1
    write_point(redis_reader, "stale", "bmv", {"V": 12.75})
    await wait_until(lambda: state(hass, voltage) == "12.75")
    assert caplog.text.count("Redis input stale_in: recent points again") == 1
    diagnostics = await async_get_config_entry_diagnostics(hass, server)
    assert diagnostics["redis_inputs"][subentry_id]["stale_nodes"] == []


async def test_redis_error_and_recovery(
    hass: HomeAssistant, redis_owned: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The server stops: the input's sensors are unavailable (logged once); it comes back: they are too."""
    client = sync_client(redis_owned)
    write_point(client, "down", "bmv", {"V": 12.5})
    server = server_with_inputs(redis_owned, input_subentry("down_in", "down", {"bmv": ["V"]}))
    await setup_entry(hass, server)
    (subentry_id,) = server.subentries
    voltage = f"{subentry_id}_bmv_V"
    assert state(hass, voltage) == "12.5"
    await hass.async_add_executor_job(redis_owned.stop)
    await wait_until(lambda: state(hass, voltage) == STATE_UNAVAILABLE)
    await asyncio.sleep(1.5)
    assert caplog.text.count("Error fetching Redis input down_in data") == 1
    diagnostics = await async_get_config_entry_diagnostics(hass, server)
    assert diagnostics["redis_inputs"][subentry_id]["last_error"] == "CannotConnect"
    await hass.async_add_executor_job(redis_owned.start)
    write_point(client, "down", "bmv", {"V": 12.25})
    await wait_until(lambda: state(hass, voltage) == "12.25")
    assert caplog.text.count("Fetching Redis input down_in data recovered") == 1
    client.close()


async def test_inputs_followed_live(
    hass: HomeAssistant, redis_plain: RedisServer, redis_reader: Redis
) -> None:
    """An input added, changed and removed without reloading the server: its device and sensors follow."""
    redis_reader.delete("live", "live_bmv")
    write_point(redis_reader, "live", "bmv", {"V": 12.5, "I": -2.0, "SOC": 90.0})
    server = server_with_inputs(redis_plain)
    await setup_entry(hass, server)
    configure = hass.config_entries.subentries.async_configure
    result = await hass.config_entries.subentries.async_init(
        (server.entry_id, SUBENTRY_REDIS_INPUT), context={"source": SOURCE_USER}
    )
    result = await configure(
        result["flow_id"],
        {CONF_NAME: "live_in", CONF_REDIS_NODE: "live", "time_interval": 1, CONF_STALE_AFTER: 15},
    )
    result = await configure(
        result["flow_id"], {"node_name": "bmv", CONF_COLUMNS: ["V", "I"], "add_another": False}
    )
    result = await configure(
        result["flow_id"], {"ref_name": "bat_current", "column": "I", "add_another": False}
    )
    (subentry_id,) = server.subentries
    registry = er.async_get(hass)
    await wait_until(
        lambda: registry.async_get_entity_id("sensor", DOMAIN, f"{subentry_id}_bmv_I") is not None
    )
    await wait_until(lambda: state(hass, f"{subentry_id}_bmv_I") == "-2.0")
    current = entity_id(hass, f"{subentry_id}_bmv_I")
    assert current == "sensor.live_in_bat_current"
    # Disabled by the user: not in Home Assistant, and the changes below must not trip on it.
    voltage = entity_id(hass, f"{subentry_id}_bmv_V")
    registry.async_update_entity(voltage, disabled_by=er.RegistryEntryDisabler.USER)
    await hass.async_block_till_done()

    async def reconfigure(columns: list[str], ref: dict[str, Any]) -> None:
        result = await hass.config_entries.subentries.async_init(
            (server.entry_id, SUBENTRY_REDIS_INPUT),
            context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
        )
        settings = {CONF_NAME: "live_in", CONF_REDIS_NODE: "live", "time_interval": 1, CONF_STALE_AFTER: 15}
        result = await configure(result["flow_id"], settings)
        result = await configure(
            result["flow_id"], {"node_name": "bmv", CONF_COLUMNS: columns, "add_another": False}
        )
        result = await configure(result["flow_id"], {**ref, "add_another": False})
        assert result["reason"] == "reconfigure_successful"

    await reconfigure(["V", "I", "SOC"], {"ref_name": "charge", "column": "SOC"})
    await wait_until(
        lambda: registry.async_get_entity_id("sensor", DOMAIN, f"{subentry_id}_bmv_SOC") is not None
    )
    await wait_until(lambda: state(hass, f"{subentry_id}_bmv_SOC") == "90.0")
    assert entity_id(hass, f"{subentry_id}_bmv_SOC") == "sensor.live_in_charge"
    # I keeps its entity id, named by its label now; V stays disabled.
    assert entity_id(hass, f"{subentry_id}_bmv_I") == current
    assert registry.async_get(current).original_name == "I"  # type: ignore[union-attr]
    assert state(hass, f"{subentry_id}_bmv_I") == "-2.0"
    assert hass.states.get(voltage) is None
    # V dropped: its entity goes.
    await reconfigure(["I", "SOC"], {})
    await wait_until(lambda: registry.async_get_entity_id("sensor", DOMAIN, f"{subentry_id}_bmv_V") is None)
    await wait_until(
        lambda: hass.states.get(current) is not None and state(hass, f"{subentry_id}_bmv_I") == "-2.0"
    )

    inputs = async_get_redis_inputs(hass, server.entry_id)
    assert inputs is not None
    assert list(inputs.inputs) == [subentry_id]
    assert subentry_id in repr(inputs)
    assert hass.config_entries.async_remove_subentry(server, subentry_id)
    await wait_until(lambda: not inputs.inputs)
    await hass.async_block_till_done()
    assert input_device(hass, server, subentry_id) is None
    assert registry.async_get_entity_id("sensor", DOMAIN, f"{subentry_id}_bmv_I") is None
    assert hass.states.get(current) is None


class GatedReads:
    """Holds every InputReader.read until `release()`: a subentry change or an unload during a first read."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = asyncio.Event()
        self._open = asyncio.Event()
        original = InputReader.read

        async def read(reader: InputReader) -> Any:
            self.started.set()
            await self._open.wait()
            return await original(reader)

        monkeypatch.setattr(InputReader, "read", read)

    def release(self) -> None:
        self._open.set()


async def test_input_removed_during_its_first_read(
    hass: HomeAssistant,
    redis_plain: RedisServer,
    redis_reader: Redis,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An input deleted while its first read is under way: no sensor, no error, nothing left reading."""
    redis_reader.delete("race", "race_bmv")
    write_point(redis_reader, "race", "bmv", {"V": 12.5})
    server = server_with_inputs(redis_plain)
    await setup_entry(hass, server)
    gate = GatedReads(monkeypatch)
    added = input_subentry("race_in", "race", {"bmv": ["V"]})
    hass.config_entries.async_add_subentry(server, ConfigSubentry(**added))  # type: ignore[typeddict-item]
    await asyncio.wait_for(gate.started.wait(), WAIT)
    (subentry_id,) = server.subentries
    assert hass.config_entries.async_remove_subentry(server, subentry_id)
    gate.release()
    await hass.async_block_till_done()
    inputs = async_get_redis_inputs(hass, server.entry_id)
    assert inputs is not None
    assert not inputs.inputs
    assert er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{subentry_id}_bmv_V") is None
    assert "unknown subentry" not in caplog.text
    assert "Traceback" not in caplog.text


async def test_server_unloaded_during_a_first_read(
    hass: HomeAssistant,
    redis_plain: RedisServer,
    redis_reader: Redis,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The server entry unloaded while a new input's first read is under way: no sensor is added to the
    unloaded entry and no read stays scheduled."""
    redis_reader.delete("race", "race_bmv")
    write_point(redis_reader, "race", "bmv", {"V": 12.5})
    server = server_with_inputs(redis_plain)
    await setup_entry(hass, server)
    gate = GatedReads(monkeypatch)
    added = input_subentry("race_in", "race", {"bmv": ["V"]})
    hass.config_entries.async_add_subentry(server, ConfigSubentry(**added))  # type: ignore[typeddict-item]
    await asyncio.wait_for(gate.started.wait(), WAIT)
    inputs = async_get_redis_inputs(hass, server.entry_id)
    assert inputs is not None
    unload = hass.async_create_task(hass.config_entries.async_unload(server.entry_id))
    await wait_until(lambda: async_get_redis_inputs(hass, server.entry_id) is None)  # on_unload ran
    gate.release()
    assert await unload
    await hass.async_block_till_done()
    assert server.state is ConfigEntryState.NOT_LOADED
    assert hass.states.async_entity_ids("sensor") == []
    assert not inputs.inputs  # nothing left reading (a timer would fail the test's cleanup check)
    assert "Traceback" not in caplog.text


async def test_non_finite_values_show_nothing(
    hass: HomeAssistant, redis_plain: RedisServer, redis_reader: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """NaN and Infinity (JSON from another writer, a Stream's text) are no measurement: the sensor shows
    nothing, without an error at every read (NaN is never equal to itself: each read would write again)."""
    redis_reader.delete("nan", "nan_bmv")
    redis_reader.sadd("nan", "bmv")
    redis_reader.hset("nan_bmv", str(int(time.time())), '{"V": NaN, "SOC": Infinity, "XYZ": NaN}')
    server = server_with_inputs(redis_plain, input_subentry("nan_in", "nan", {"bmv": ["V", "SOC", "XYZ"]}))
    await setup_entry(hass, server)
    (subentry_id,) = server.subentries
    written: list[str] = []
    hass.bus.async_listen("state_changed", lambda event: written.append(event.data["entity_id"]))
    await asyncio.sleep(2.5)  # two reads or more
    for label in ("V", "SOC", "XYZ"):
        assert state(hass, f"{subentry_id}_bmv_{label}") == STATE_UNKNOWN, label
    assert written == []
    assert "non-finite" not in caplog.text
