"""The import of a vemonitor configuration through the config flow: real redis-servers, simulated devices.

Every host of a test file is rewritten to a 127.0.0.1 port before the flow sees the text (assert_loopback
checks it): the flow never connects to an address written in a file (the seed's 192.168.0.52, LAN hosts).
"""

from collections.abc import AsyncIterator, Callable
import json
from pathlib import Path
import re
import shutil
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import (
    SOURCE_USER,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowResult,
    ConfigSubentry,
)
from homeassistant.const import CONF_NAME, CONF_PATH, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.vemonitor.const import (
    CONF_DEVICE_KEY,
    CONF_ENTITY_INTERVAL,
    CONF_ENTRY_TYPE,
    CONF_TIME_INTERVAL,
    DOMAIN,
    ENTRY_TYPE_REDIS_SERVER,
    ENTRY_TYPE_VEDIRECT,
    SUBENTRY_REDIS_INPUT,
    SUBENTRY_REDIS_OUTPUT,
)
from custom_components.vemonitor.import_flow import CONF_YAML
from custom_components.vemonitor.vedirect.registers import Family
from custom_components.vemonitor.vemonitor_import import ERROR_KEYS, SKIP_REASONS
from tests.ha_vedirect import (
    BMV_HEX_SERIAL,
    BMV_PID,
    MPPT_SERIAL,
    bmv_emission,
    hex_model,
    mppt_emission,
    repeating_simulator,
    vedirect_entry,
)
from tests.redis_fixtures import PASSWORD, server_entry
from tests.redis_server import RedisServer, free_port
from tests.vemonitor_import.test_errors import CASES, Case
from vedirect_tools.simulator import Simulator

pytestmark = pytest.mark.usefixtures("socket_enabled")

FIXTURES = Path(__file__).parent / "fixtures" / "vemonitor_config"
TRANSLATIONS = Path(__file__).parents[1] / "custom_components" / DOMAIN / "translations"
BMV_COLUMNS = ["V", "I", "P", "SOC", "Alarm", "AR", "Relay"]
SEED_REFS = [["bat_voltage", "V"], ["bat_current", "I"], ["bat_power", "P"]]
BY_ID = "/dev/serial/by-id/usb-VictronEnergy_BV_VE_Direct_cable_VE1234-if00-port0"
SERVER_DEFAULTS = {
    CONF_ENTRY_TYPE: ENTRY_TYPE_REDIS_SERVER,
    "server_kind": "single",
    "host": "127.0.0.1",
    "username": None,
    "ca_cert": None,
    "wait_replicas": None,
    "tls": False,
    "tls_verify": True,
}


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A configuration folder of this test alone (path mode copies files into it)."""
    return hass_tmp_config_dir


@pytest.fixture
async def bmv() -> AsyncIterator[Simulator]:
    """The BMV-712 of the capture (PID 0xA381, no SER#) answering its serial over HEX."""
    async with repeating_simulator(
        bmv_emission(), hex_device=hex_model(Family.BMV, BMV_PID, BMV_HEX_SERIAL)
    ) as sim:
        yield sim


@pytest.fixture
async def mppt() -> AsyncIterator[Simulator]:
    """The BlueSolar MPPT 75/15 of the capture (PID 0xA042, SER# HQ1909TTJRP)."""
    async with repeating_simulator(mppt_emission()) as sim:
        yield sim


def rewritten(text: str, replacements: dict[str, str]) -> str:
    """`text` with each written value replaced once (each must be there exactly once)."""
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def assert_loopback(text: str) -> None:
    """Every host and address a test file names is a loopback port."""
    hosts = re.findall(r"^\s*(?:host|addr):\s*['\"]?([^'\"\s]+)", text, re.MULTILINE)
    assert all("127.0.0.1" in host for host in hosts), hosts


def seed_text(local: RedisServer, remote: RedisServer, port: str, pid: str = "0xA381") -> str:
    """The seed's example: `local` and `remote` at the test's servers, the BMV at a simulator's port."""
    text = rewritten(
        (FIXTURES / "seed_example.yaml").read_text(),
        {
            "port: 6379\n": f"port: {local.port}\n",
            'host: "192.168.0.52"': 'host: "127.0.0.1"',
            "port: 16379": f"port: {remote.port}",
            '"REDIS_SERVER_PASSWORD"': f'"{PASSWORD}"',
            '"/dev/ttyUSB0"': f'"{port}"',
            'value: "0x203"': f'value: "{pid}"',
        },
    )
    assert_loopback(text)
    return text


def config_text(
    servers: dict[str, tuple[int, int]],
    devices: dict[str, tuple[str, str | None]] | None = None,
    *,
    outputs: tuple[tuple[str, str, str], ...] = (),
    inputs: tuple[tuple[str, str, str], ...] = (),
) -> str:
    """A configuration of Redis servers {name: (port, db)} and devices {name: (port, serialTest PID or
    None)}, each read by a serial input of its name; outputs (device, server, redis_node) and inputs (name,
    server, redis_node) of the device "dev"'s V and I."""
    devices = devices or {}
    lines = ["appConnectors:", "  serial:" if devices else "  serial: {}"]
    for name, (port, pid) in devices.items():
        test = (
            "" if pid is None else f", serialTest: {{PIDTest: {{typeTest: value, key: PID, value: '{pid}'}}}}"
        )
        lines.append(f"    {name}: {{serialPort: '{port}'{test}}}")
    lines.append("  redis:" if servers else "  redis: {}")
    for name, (redis_port, db) in servers.items():
        lines.append(f"    {name}: {{host: 127.0.0.1, port: {redis_port}, db: {db}}}")
    lines += ["appBlocks:", "  - name: block", "    app: batSerialMonitor", "    inputs:"]
    lines.append("      serial:" if devices else "      serial: []")
    lines += [f"        - {{name: {name}, source: {name}, time_interval: 1}}" for name in devices]
    lines.append("      redis:" if inputs else "      redis: []")
    lines += [
        f"        - {{name: {name}, source: {server}, redis_node: {node}, time_interval: 2,"
        " columns: {dev: [V, I]}}"
        for name, server, node in inputs
    ]
    lines += ["    outputs:", "      redis:" if outputs else "      redis: []"]
    lines += [
        f"        - {{source: {server}, redis_node: {node}, time_interval: 1, cache_interval: 2,"
        f" columns: {{{device}: [V, I]}}}}"
        for device, server, node in outputs
    ]
    text = "\n".join(lines) + "\n"
    assert_loopback(text)
    return text


def line_of(text: str, written: str) -> int:
    """The 1-based line of the only line holding `written`."""
    (number,) = [index for index, line in enumerate(text.splitlines(), 1) if written in line]
    return number


async def start(hass: HomeAssistant) -> str:
    """Open the integration's flow and pick the import in the menu: its form."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["vedirect", "redis_server", "vemonitor_import"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "vemonitor_import"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "vemonitor_import"
    assert result["errors"] == {}
    assert result["description_placeholders"] == {"config_dir": hass.config.path()}
    return result["flow_id"]


async def preview(hass: HomeAssistant, source: dict[str, Any]) -> ConfigFlowResult:
    """The preview of a pasted text or a path, which must be accepted."""
    flow_id = await start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, source)
    assert result["type"] is FlowResultType.FORM, result
    assert result["step_id"] == "vemonitor_import_preview", result.get("errors")
    return result


async def refused(hass: HomeAssistant, source: dict[str, Any]) -> ConfigFlowResult:
    """The form again, with an error."""
    flow_id = await start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, source)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "vemonitor_import"
    return result


async def submit(hass: HomeAssistant, result: ConfigFlowResult) -> ConfigFlowResult:
    return await hass.config_entries.flow.async_configure(result["flow_id"], {})


def entries(hass: HomeAssistant) -> dict[str, ConfigEntry]:
    return {entry.title: entry for entry in hass.config_entries.async_entries(DOMAIN)}


def subentries(entry: ConfigEntry) -> dict[str, tuple[str, dict[str, Any]]]:
    """title -> (type, data) of an entry's subentries."""
    return {sub.title: (sub.subentry_type, dict(sub.data)) for sub in entry.subentries.values()}


async def unload_all(hass: HomeAssistant) -> None:
    """Stop every loaded entry before its simulator or server goes away (once the inputs and outputs the
    import added are started)."""
    await hass.async_block_till_done()
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


def lines(text: str) -> list[str]:
    """The items of a Markdown list placeholder."""
    return [line.removeprefix("- ") for line in text.splitlines()]


# -- what a file creates ------------------------------------------------------------------------------


async def test_seed_example_creates_exactly_its_entries(
    hass: HomeAssistant, redis_plain: RedisServer, redis_auth: RedisServer, bmv: Simulator
) -> None:
    """The seed's example, pasted: the local and remote servers, the BMV on its port (its PID checked), the
    bat_bmv700 output of the BMV and the external_data input of local; nothing else."""
    assert bmv.url is not None
    result = await preview(hass, {CONF_YAML: seed_text(redis_plain, redis_auth, bmv.url)})
    assert result["description_placeholders"] == {
        "source": "pasted text",
        "servers": "\n".join(
            [
                f"- `local`: `127.0.0.1:{redis_plain.port}`, database 3",
                f"- `remote`: `127.0.0.1:{redis_auth.port}`, database 3",
            ]
        ),
        "devices": f"- `bmv700` on `{bmv.url}`: a BMV-712 Smart (0xA381), a sample every 1 s",
        "outputs": "- `bat_bmv700`: `bmv700` to `local`, HmapTimeSeries, nodes `bmv700`, sent every 5 s",
        "inputs": "- `external_data`: `bat_bmv700` on `local`, HmapTimeSeries, nodes `bmv700`, read every"
        " 1 s, unavailable after 15 s without a new point",
        "skipped": "none",
        "retention_days": "7",
    }
    assert PASSWORD not in str(result)
    assert entries(hass) == {}  # nothing before the user confirms
    result = await submit(hass, result)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "import_successful"
    assert result["description_placeholders"] == {
        "servers": "local, remote",
        "devices": "bmv700",
        "outputs": "bat_bmv700",
        "inputs": "external_data",
    }
    await hass.async_block_till_done()
    found = entries(hass)
    assert set(found) == {"local", "remote", "bmv700"}
    local, remote, device = found["local"], found["remote"], found["bmv700"]
    assert dict(local.data) == {
        **SERVER_DEFAULTS,
        CONF_NAME: "local",
        CONF_PORT: redis_plain.port,
        "db": 3,
        "password": None,
    }
    assert dict(remote.data) == {
        **SERVER_DEFAULTS,
        CONF_NAME: "remote",
        CONF_PORT: redis_auth.port,
        "db": 3,
        "password": PASSWORD,
    }
    assert dict(device.data) == {
        CONF_ENTRY_TYPE: ENTRY_TYPE_VEDIRECT,
        CONF_NAME: "bmv700",
        CONF_PORT: bmv.url,
        CONF_DEVICE_KEY: BMV_HEX_SERIAL,
    }
    assert dict(device.options) == {CONF_TIME_INTERVAL: 1, CONF_ENTITY_INTERVAL: 5}
    assert device.unique_id == BMV_HEX_SERIAL
    assert (device.version, device.minor_version) == (1, 3)
    assert subentries(device) == {
        "bat_bmv700": (
            SUBENTRY_REDIS_OUTPUT,
            {
                "source": local.entry_id,
                "redis_data_structure": "HmapTimeSeries",
                "set_members": "hashes",
                "redis_node": "bat_bmv700",
                "time_interval": 1,
                "cache_interval": 5,
                "backlog_limit": 86_400,
                "retention": 7 * 86_400,
                "columns": {"bmv700": BMV_COLUMNS},
                "ref_cols": SEED_REFS,
            },
        )
    }
    assert subentries(local) == {
        "external_data": (
            SUBENTRY_REDIS_INPUT,
            {
                CONF_NAME: "external_data",
                "redis_node": "bat_bmv700",
                "redis_data_structure": "HmapTimeSeries",
                "time_interval": 1,
                "stale_after": 15,
                "columns": {"bmv700": BMV_COLUMNS},
                "ref_cols": SEED_REFS,
            },
        )
    }
    assert subentries(remote) == {}
    for entry in found.values():
        assert entry.state is ConfigEntryState.LOADED, entry.title
    # The device and its live sensors, as the VE.Direct step would have made them.
    registered = dr.async_entries_for_config_entry(dr.async_get(hass), device.entry_id)
    assert [entry.name for entry in registered if (DOMAIN, BMV_HEX_SERIAL) in entry.identifiers] == ["bmv700"]
    assert hass.states.get("sensor.bmv700_battery_voltage") is not None
    await unload_all(hass)


def multi_folder(hass: HomeAssistant, local: RedisServer, remote: RedisServer, solar_port: str) -> Path:
    """The multi-file sample under the configuration folder's vemonitor/, its hosts at the test's servers
    (the inactive server and InfluxDB at closed ports), the BlueSolar at `solar_port`."""
    folder = Path(hass.config.path("vemonitor"))
    shutil.copytree(FIXTURES / "multi", folder)
    connectors = folder / "vm_appConnectors.yaml"
    closed = free_port()
    connectors.write_text(
        rewritten(
            connectors.read_text(),
            {
                'host: "127.0.0.1"\n        port: 6379': f'host: "127.0.0.1"\n        port: {local.port}',
                'host: "192.168.1.2"\n        port: 6379': f'host: "127.0.0.1"\n        port: {remote.port}',
                '"My_Redis_Server_Password"': f'"{PASSWORD}"',
                'host: "192.168.1.3"\n        port: 6379': f'host: "127.0.0.1"\n        port: {closed}',
                '"http://172.18.0.3:8086"': f'"http://127.0.0.1:{closed}"',
                f"'{BY_ID}'": f"'{solar_port}'",
                'value: "0x203"': 'value: "0xA381"',
            },
        )
    )
    for path in folder.iterdir():
        assert_loopback(path.read_text())
    return folder


async def test_multi_file_sample_through_its_path(
    hass: HomeAssistant,
    redis_plain: RedisServer,
    redis_auth: RedisServer,
    bmv: Simulator,
    mppt: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """vm_conf.yaml and its Imports from the configuration folder: ${HOME} expanded, one device per port
    (bmv700 read by two inputs), the two outputs and the input; the rest listed as not imported."""
    assert bmv.url is not None
    assert mppt.url is not None
    home = tmp_path / "home"
    home.mkdir()
    (home / "vmodem1").symlink_to(bmv.url)
    monkeypatch.setenv("HOME", str(home))
    multi_folder(hass, redis_plain, redis_auth, mppt.url)
    result = await preview(hass, {CONF_PATH: " vemonitor/vm_conf.yaml "})
    placeholders = result["description_placeholders"]
    assert placeholders["source"] == (
        "vemonitor/vm_conf.yaml, vemonitor/vm_batteryBank.yaml, vemonitor/vm_appConnectors.yaml"
    )
    assert lines(placeholders["devices"]) == [
        f"`bmv700` on `{home}/vmodem1`: a BMV-712 Smart (0xA381), a sample every 1 s",
        f"`blueSolar` on `{mppt.url}`: a BlueSolar MPPT 75/15 (0xA042), a sample every 2 s",
    ]
    assert lines(placeholders["outputs"]) == [
        "`bmv700`: `bmv700` to `local`, HmapTimeSeries, nodes `bmv700`, `bmv_extra`, sent every 5 s",
        "`solar`: `blueSolar` to `devHost`, Stream, nodes `smart_solar`, sent every 20 s",
    ]
    connectors = "vemonitor/vm_appConnectors.yaml"
    conf = "vemonitor/vm_conf.yaml"
    assert lines(placeholders["skipped"]) == [
        f"`spare` ({connectors}, line 21, appConnectors.serial.spare): inactive in the file (active: false)",
        f"`rpi` ({connectors}, line 39, appConnectors.redis.rpi): inactive in the file (active: false)",
        f"`local` ({connectors}, line 45, appConnectors.emoncms.local): Emoncms is not imported",
        f"`cloud` ({connectors}, line 50, appConnectors.influxDb2.cloud): InfluxDB 2 is not imported",
        f"`bmvToRedis` ({conf}, line 14, appBlocks[0].args): the daemon's middleware settings (args) have no"
        " counterpart in Home Assistant",
        f"`bmvToRedis` ({conf}, line 17, appBlocks[0].redis_cache): the daemon's own cache (redis_cache) is"
        " not needed in Home Assistant",
        f"`bmv700_backup` ({conf}, line 79, appBlocks[0].outputs.redis[2]): it uses rpi, which is inactive in"
        " the file",
        f"`spare_input` ({conf}, line 89, appBlocks[0].outputs.redis[3].columns.spare_input): its serial"
        " input in bmvToRedis reads a port that is inactive in the file",
        f"`spare` ({conf}, line 85, appBlocks[0].outputs.redis[3]): none of its nodes is read from a"
        " VE.Direct device",
        f"`bat_t1` ({conf}, line 91, appBlocks[0].outputs.emoncms[0]): Emoncms is not imported",
        f"`monitFake` ({conf}, line 98, appBlocks[1]): unknown app 'simData': nothing of it is imported",
        f"`phoenix` ({connectors}, line 25, appConnectors.serial.phoenix): no input reads this port",
    ]
    assert PASSWORD not in str(result)
    result = await submit(hass, result)
    assert result["reason"] == "import_successful"
    assert result["description_placeholders"] == {
        "servers": "local, devHost",
        "devices": "bmv700, blueSolar",
        "outputs": "bmv700, solar",
        "inputs": "shore_bmv",
    }
    await hass.async_block_till_done()
    found = entries(hass)
    assert set(found) == {"local", "devHost", "bmv700", "blueSolar"}
    assert found["devHost"].data["password"] == PASSWORD
    assert found["devHost"].data["db"] == 0
    assert found["bmv700"].data[CONF_PORT] == f"{home}/vmodem1"
    assert found["blueSolar"].unique_id == MPPT_SERIAL
    assert found["blueSolar"].options[CONF_TIME_INTERVAL] == 2
    solar = subentries(found["blueSolar"])["solar"][1]
    assert (solar["source"], solar["redis_data_structure"], solar["cache_interval"]) == (
        found["devHost"].entry_id,
        "Stream",
        10,
    )
    assert solar["backlog_limit"] == 43_200  # one day of samples every 2 s
    assert subentries(found["bmv700"])["bmv700"][1]["columns"] == {
        "bmv700": ["V", "I", "P", "CE", "SOC", "Alarm", "AR", "Relay", "H2", "H17", "H18"],
        "bmv_extra": ["TTG", "H1", "H3", "H4", "H5"],
    }
    assert subentries(found["devHost"]) == {
        "shore_bmv": (
            SUBENTRY_REDIS_INPUT,
            {
                CONF_NAME: "shore_bmv",
                "redis_node": "shore",
                "redis_data_structure": "HmapTimeSeries",
                "time_interval": 10,
                "stale_after": 15,
                "columns": {"bmv": ["V", "I", "SOC"]},
                "ref_cols": [["bat_voltage", "V"]],
            },
        )
    }
    assert subentries(found["local"]) == {}
    await unload_all(hass)


async def test_an_existing_server_is_reused(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    """A server of the file that is an existing entry (another name, another spelling of the host) gets
    no entry of its own: its inputs attach to the existing one."""
    main = server_entry(redis_plain, "main", db=3, host="localhost")
    main.add_to_hass(hass)
    text = config_text({"local": (redis_plain.port, 3)}, inputs=(("boat", "local", "bat_boat"),))
    result = await preview(hass, {CONF_YAML: text})
    assert result["description_placeholders"]["servers"] == (
        f"- `local`: `127.0.0.1:{redis_plain.port}`, database 3: already added as `main`, reused"
    )
    assert result["description_placeholders"]["devices"] == "none"
    result = await submit(hass, result)
    assert result["reason"] == "import_successful"
    assert result["description_placeholders"] == {
        "servers": "main (already added)",
        "devices": "none",
        "outputs": "none",
        "inputs": "boat",
    }
    assert list(entries(hass)) == ["main"]
    assert subentries(main) == {
        "boat": (
            SUBENTRY_REDIS_INPUT,
            {
                CONF_NAME: "boat",
                "redis_node": "bat_boat",
                "redis_data_structure": "HmapTimeSeries",
                "time_interval": 2,
                "stale_after": 15,
                "columns": {"dev": ["V", "I"]},
                "ref_cols": [],
            },
        )
    }


async def test_an_input_follows_the_writer_of_the_file(
    hass: HomeAssistant, redis_plain: RedisServer, mppt: Simulator
) -> None:
    """An input reading what an output of the file writes is stale after 3 of that output's send periods;
    a device without serialTest is whatever answers on its port."""
    assert mppt.url is not None
    text = config_text(
        {"local": (redis_plain.port, 5)},
        {"dev": (mppt.url, None)},
        outputs=(("dev", "local", "bat_x"),),
        inputs=(("back", "local", "bat_x"),),
    )
    result = await preview(hass, {CONF_YAML: text})
    assert result["description_placeholders"]["devices"] == f"- `dev` on `{mppt.url}`: a sample every 1 s"
    result = await submit(hass, result)
    assert result["reason"] == "import_successful"
    found = entries(hass)
    assert subentries(found["local"])["back"][1]["stale_after"] == 6  # 3 x 1 s x 2
    assert found["dev"].unique_id == MPPT_SERIAL
    assert subentries(found["dev"])["bat_x"][1]["source"] == found["local"].entry_id
    await unload_all(hass)


async def test_lists_in_home_assistants_language(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    hass.config.language = "fr"
    text = config_text({"local": (redis_plain.port, 3), "spare": (redis_plain.port, 4)})
    text = text.replace("    spare: {", "    spare: {active: false, ")
    result = await preview(hass, {CONF_YAML: text})
    placeholders = result["description_placeholders"]
    assert placeholders["source"] == "texte collé"
    assert placeholders["servers"] == f"- `local` : `127.0.0.1:{redis_plain.port}`, base 3"
    assert placeholders["devices"] == "aucun"
    assert placeholders["skipped"] == (
        f"- `spare` (texte collé, ligne {line_of(text, 'spare:')}, appConnectors.redis.spare) : inactif dans"
        " le fichier (active: false)"
    )


# -- refusals: nothing is created ----------------------------------------------------------------------

# An empty text is no configuration to the form (import_no_source, below).
TEXT_CASES = [case for case in CASES if case.text.strip()]


def error_texts(key: str) -> dict[str, str]:
    """The message of a form error in each language."""
    return {
        language: json.loads((TRANSLATIONS / f"{language}.json").read_text())["config"]["error"][key]
        for language in ("en", "fr", "de")
    }


def assert_shown_whole(result: ConfigFlowResult) -> None:
    """Every placeholder the error's message names is given (in each language)."""
    for text in error_texts(result["errors"]["base"]).values():
        assert set(re.findall(r"\{(\w+)\}", text)) <= set(result["description_placeholders"]), text


@pytest.mark.parametrize("case", TEXT_CASES, ids=[case.id for case in TEXT_CASES])
async def test_every_refusal_of_the_parser(
    hass: HomeAssistant, case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each bad input of the parser's tests: its translated error with its place, and nothing created."""
    for variable in ("HOME", "VEM_TTY"):
        if variable in case.env:
            monkeypatch.setenv(variable, case.env[variable])
        else:
            monkeypatch.delenv(variable, raising=False)
    result = await refused(hass, {CONF_YAML: case.text})
    assert result["errors"] == {"base": f"import_{case.key}"}
    where = ["pasted text"]
    if case.line is not None:
        where.append(f"line {case.line}")
    if case.path:
        where.append(case.path)
    assert result["description_placeholders"] == {
        "config_dir": hass.config.path(),
        "file": "",
        "line": "" if case.line is None else str(case.line),
        "path": case.path,
        **case.placeholders,
        "where": ", ".join(where),
    }
    assert_shown_whole(result)
    # The text comes back, to be corrected in place.
    (field,) = [key for key in result["data_schema"].schema if key == CONF_YAML]
    assert field.description == {"suggested_value": case.text}
    assert entries(hass) == {}


def test_every_error_and_reason_is_translated() -> None:
    """Each parser error and each skip reason (and those of the tests) has a text in each language, in Home
    Assistant's words."""
    reasons = {*SKIP_REASONS, "server_failed", "port_failed", "other_product", "device_configured"}
    reasons |= {
        "server_skipped",
        "device_skipped",
        "inactive_source",
        "inactive_block",
        "no_serial_port_block",
    }
    for language in ("en", "fr", "de"):
        strings = json.loads((TRANSLATIONS / f"{language}.json").read_text())
        errors = strings["config"]["error"]
        for key in ERROR_KEYS:
            assert "{where}" in errors[f"import_{key}"], key
        assert set(strings["selector"]["vemonitor_import_skip"]["options"]) == reasons
        shown = json.dumps(
            [
                strings["config"]["step"]["user"]["menu_options"]["vemonitor_import"],
                *(
                    strings["config"]["step"][step]
                    for step in ("vemonitor_import", "vemonitor_import_preview")
                ),
                strings["config"]["step"]["vemonitor_import_confirm"],
                *(text for key, text in errors.items() if key.startswith("import_")),
                *(text for key, text in strings["config"]["abort"].items() if key.startswith("import_")),
                strings["selector"]["vemonitor_import_text"],
                strings["selector"]["vemonitor_import_skip"],
            ],
            ensure_ascii=False,
        ).lower()
        for word in ("appconnector", "block item", "seed", "'{"):
            assert word not in shown, (language, word)


async def test_the_bad_inputs_of_the_issue(hass: HomeAssistant) -> None:
    """The refusals the issue names, as a person reads them (nothing is contacted: refused first)."""
    closed = free_port()
    valid = config_text(
        {"local": (closed, 3)}, {"dev": ("/dev/ttyUSB0", None)}, outputs=(("dev", "local", "bat"),)
    )
    output = line_of(valid, "redis_node: bat")
    twice = config_text(
        {"local": (closed, 3)},
        {"dev": ("/dev/ttyUSB0", None)},
        outputs=(("dev", "local", "bat"), ("dev", "local", "bat")),
    )
    many = "columns: {dev: [" + ", ".join(f"C{number}" for number in range(65)) + "]}"
    cases = {
        "not YAML": (
            valid.replace("appBlocks:", "appBlocks: ["),
            "This is not valid YAML (pasted text, line",
        ),
        "unknown source": (
            valid.replace("source: local", "source: nowhere"),
            f"Unknown source nowhere (pasted text, line {output}, appBlocks[0].outputs.redis[0].source): the"
            " file has no redis source of that name.",
        ),
        "invalid name": (
            valid.replace("name: block", "name: my block"),
            f"Invalid name 'my block' (pasted text, line {line_of(valid, 'name: block')}, appBlocks[0].name):"
            " use 1 to 64 letters, digits,"
            " _ or -.",
        ),
        "duplicate redis_node": (
            twice,
            f"Two outputs write the Redis node bat to the Redis server local (pasted text, line {output + 1},"
            f" appBlocks[0].outputs.redis[1].redis_node); the first at pasted text:{output}"
            " appBlocks[0].outputs.redis[0].redis_node.",
        ),
        "too many columns": (
            valid.replace("columns: {dev: [V, I]}", many),
            f"Too many columns (pasted text, line {output}, appBlocks[0].outputs.redis[0].columns.dev): 65,"
            " at most 64 per node.",
        ),
        "wrong type": (
            valid.replace("time_interval: 1, cache", "time_interval: often, cache"),
            f"Expected a whole number, not 'often' (pasted text, line {output},"
            " appBlocks[0].outputs.redis[0].time_interval).",
        ),
    }
    for name, (text, message) in cases.items():
        result = await refused(hass, {CONF_YAML: text})
        placeholders = result["description_placeholders"]
        template = error_texts(result["errors"]["base"])["en"]
        shown = re.sub(r"\{(\w+)\}", lambda match: placeholders[match[1]], template)  # noqa: B023
        assert shown.startswith(message), (name, shown)
    assert entries(hass) == {}


@pytest.mark.parametrize(
    ("path", "error", "where"),
    [
        ("../outside.yaml", "import_outside_root", "../outside.yaml"),
        ("vemonitor/missing.yaml", "import_file_not_found", "vemonitor/missing.yaml"),
        ("vemonitor/vm_conf.txt", "import_bad_extension", "vemonitor/vm_conf.txt"),
        ("vemonitor/\0.yaml", "import_invalid_path", None),
        ("x" * 4097 + ".yaml", "import_invalid_path", None),
    ],
)
async def test_path_refused(hass: HomeAssistant, path: str, error: str, where: str | None) -> None:
    """Only a YAML file inside the configuration folder, named by a real path."""
    (Path(hass.config.path()).parent / "outside.yaml").write_text("appConnectors: {}\nappBlocks: []\n")
    Path(hass.config.path("vemonitor")).mkdir()
    Path(hass.config.path("vemonitor", "vm_conf.txt")).write_text("appConnectors: {}\n")
    result = await refused(hass, {CONF_PATH: path})
    assert result["errors"] == {"base": error}
    assert result["description_placeholders"].get("where") == where
    assert_shown_whole(result)


async def test_pasted_imports_need_the_path(hass: HomeAssistant) -> None:
    result = await refused(hass, {CONF_YAML: (FIXTURES / "multi" / "vm_conf.yaml").read_text()})
    assert result["errors"] == {"base": "import_imports_need_path"}
    assert result["description_placeholders"]["where"] == "pasted text, line 5, Imports"


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ({}, "import_no_source"),
        ({CONF_YAML: " \n", CONF_PATH: " "}, "import_no_source"),
        ({CONF_YAML: "a: 1\n", CONF_PATH: "vemonitor/vm_conf.yaml"}, "import_two_sources"),
    ],
)
async def test_one_source_required(hass: HomeAssistant, source: dict[str, Any], error: str) -> None:
    result = await refused(hass, source)
    assert result["errors"] == {"base": error}


def subentry(subentry_type: str, title: str, data: dict[str, Any]) -> ConfigSubentry:
    return ConfigSubentry(
        data=MappingProxyType(data), subentry_type=subentry_type, title=title, unique_id=None
    )


@pytest.fixture
def existing(hass: HomeAssistant, redis_plain: RedisServer) -> dict[str, MockConfigEntry]:
    """A Redis server "main" (redis_plain, database 3) with an input "boat", and a VE.Direct device "taken"
    on /dev/ttyUSB7 writing bat_taken to it (neither set up)."""
    main = server_entry(redis_plain, "main", db=3)
    main.add_to_hass(hass)
    hass.config_entries.async_add_subentry(main, subentry(SUBENTRY_REDIS_INPUT, "boat", {CONF_NAME: "boat"}))
    device = vedirect_entry("/dev/ttyUSB7", name="taken", unique_id="HQ0000TAKEN")
    device.add_to_hass(hass)
    output = {"source": main.entry_id, "redis_node": "bat_taken"}
    hass.config_entries.async_add_subentry(device, subentry(SUBENTRY_REDIS_OUTPUT, "bat_taken", output))
    return {"main": main, "taken": device}


@pytest.mark.parametrize(
    ("servers", "devices", "outputs", "inputs", "error", "placeholders"),
    [
        ({}, {"taken": ("/dev/ttyUSB0", None)}, (), (), "import_device_name_in_use", {"name": "taken"}),
        (
            {},
            {"dev": ("/dev/ttyUSB7", None)},
            (),
            (),
            "import_port_in_use",
            {"name": "dev", "port": "/dev/ttyUSB7", "entry": "taken"},
        ),
        (
            {"main": 4},
            {},
            (),
            (),
            "import_server_name_in_use",
            {"name": "main", "address": "127.0.0.1:{port}/4", "other": "127.0.0.1:{port}/3"},
        ),
        (
            {"local": 3},
            {"dev": ("/dev/ttyUSB0", None)},
            (("dev", "local", "bat_taken"),),
            (),
            "import_redis_node_in_use",
            {"redis_node": "bat_taken", "server": "local"},
        ),
        (
            {"local": 3},
            {},
            (),
            (("boat", "local", "bat"),),
            "import_input_name_in_use",
            {"name": "boat", "server": "local"},
        ),
        ({"local": 3}, {}, (), (), "import_nothing", {}),
    ],
)
async def test_conflicts_with_existing_entries(
    hass: HomeAssistant,
    redis_plain: RedisServer,
    existing: dict[str, MockConfigEntry],
    servers: dict[str, int],
    devices: dict[str, tuple[str, str | None]],
    outputs: tuple[tuple[str, str, str], ...],
    inputs: tuple[tuple[str, str, str], ...],
    error: str,
    placeholders: dict[str, str],
) -> None:
    """A device name or port in use, a server name held by another server, an output's redis_node or an
    input's name taken on a reused server, nothing new: an error naming it, and nothing created."""
    text = config_text(
        {name: (redis_plain.port, db) for name, db in servers.items()},
        devices,
        outputs=outputs,
        inputs=inputs,
    )
    result = await refused(hass, {CONF_YAML: text})
    assert result["errors"] == {"base": error}
    expected = {key: value.replace("{port}", str(redis_plain.port)) for key, value in placeholders.items()}
    assert result["description_placeholders"].items() >= expected.items()
    assert_shown_whole(result)
    assert entries(hass) == existing
    assert set(subentries(existing["main"])) == {"boat"}
    assert set(subentries(existing["taken"])) == {"bat_taken"}


# -- the tests after the user confirms ---------------------------------------------------------------


async def test_what_fails_its_test_is_not_imported(
    hass: HomeAssistant, redis_plain: RedisServer, bmv: Simulator, mppt: Simulator, tmp_path: Path
) -> None:
    """A server that does not answer, a port that does not open, another product than the file names: they
    move to "not imported" with what needs them, a second preview says so, and the rest is created."""
    assert bmv.url is not None
    assert mppt.url is not None
    text = config_text(
        {"local": (redis_plain.port, 6), "gone": (free_port(), 0)},
        {
            "dev": (bmv.url, "0xA381"),
            "wrong": (mppt.url, "0x203"),
            "nowhere": (str(tmp_path / "ttyUSB9"), None),
        },
        outputs=(("dev", "local", "bat_ok"), ("dev", "gone", "bat_gone"), ("wrong", "local", "bat_wrong")),
        inputs=(("in_ok", "local", "bat_ok"), ("in_gone", "gone", "bat_ok")),
    )
    result = await submit(hass, await preview(hass, {CONF_YAML: text}))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "vemonitor_import_confirm"
    placeholders = result["description_placeholders"]
    assert lines(placeholders["moved"]) == [
        f"`gone` (pasted text, line {line_of(text, 'gone: {')}, appConnectors.redis.gone): the Redis server"
        " failed its test: Cannot connect to the Redis server. Check the host, the port and that the server"
        " is running.",
        f"`wrong` (pasted text, line {line_of(text, 'wrong: {')}, appConnectors.serial.wrong): a BlueSolar"
        " MPPT 75/15 (0xA042) answers on this port, not the BMV-700 (0x0203) the file names",
        f"`nowhere` (pasted text, line {line_of(text, 'nowhere: {')}, appConnectors.serial.nowhere): the"
        " port failed its test: Cannot open the port. Check the path or URL and that no other program uses"
        " it.",
        f"`bat_gone` (pasted text, line {line_of(text, 'bat_gone')}, appBlocks[0].outputs.redis[1]): its"
        " Redis server gone is not imported",
        f"`bat_wrong` (pasted text, line {line_of(text, 'bat_wrong')}, appBlocks[0].outputs.redis[2]): its"
        " device wrong is not imported",
        f"`in_gone` (pasted text, line {line_of(text, 'in_gone')}, appBlocks[0].inputs.redis[1]): its Redis"
        " server gone is not imported",
    ]
    assert placeholders["servers"] == f"- `local`: `127.0.0.1:{redis_plain.port}`, database 6"
    assert placeholders["devices"] == f"- `dev` on `{bmv.url}`: a BMV-712 Smart (0xA381), a sample every 1 s"
    assert lines(placeholders["outputs"]) == [
        "`bat_ok`: `dev` to `local`, HmapTimeSeries, nodes `dev`, sent every 2 s"
    ]
    assert lines(placeholders["inputs"])[0].startswith("`in_ok`: `bat_ok` on `local`")
    assert entries(hass) == {}
    result = await submit(hass, result)
    assert result["reason"] == "import_successful"
    assert result["description_placeholders"] == {
        "servers": "local",
        "devices": "dev",
        "outputs": "bat_ok",
        "inputs": "in_ok",
    }
    found = entries(hass)
    assert set(found) == {"local", "dev"}
    assert set(subentries(found["dev"])) == {"bat_ok"}
    assert set(subentries(found["local"])) == {"in_ok"}
    await unload_all(hass)


async def test_nothing_passes_its_test(hass: HomeAssistant, mppt: Simulator) -> None:
    """A device configured already (its serial number is an entry's unique id): nothing left to add."""
    assert mppt.url is not None
    vedirect_entry("/dev/ttyUSB9", name="old", unique_id=MPPT_SERIAL).add_to_hass(hass)
    text = config_text({}, {"dev": (mppt.url, "0xA042")})
    result = await submit(hass, await preview(hass, {CONF_YAML: text}))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "import_nothing_left"
    assert result["description_placeholders"] == {
        "skipped": "- `dev` (pasted text, line 3, appConnectors.serial.dev): this device is already added,"
        " as old"
    }
    assert list(entries(hass)) == ["old"]


def inject_server_name(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    server_entry(redis_plain, "second", db=9).add_to_hass(hass)


def inject_same_server(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    server_entry(redis_plain, "other", db=2).add_to_hass(hass)


def inject_device_name(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    vedirect_entry("/dev/ttyUSB9", name="dev", unique_id="HQ0000OTHER").add_to_hass(hass)


def inject_device(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    vedirect_entry("/dev/ttyUSB9", name="old", unique_id=MPPT_SERIAL).add_to_hass(hass)


def delete_main(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    main = entries(hass)["main"]
    hass.async_create_task(hass.config_entries.async_remove(main.entry_id))


@pytest.mark.parametrize(
    ("change", "what", "problem"),
    [
        (inject_server_name, "second", "This name is already used by another Redis server."),
        (
            inject_same_server,
            "second",
            "This is already configured (the same device, or the same Redis server",
        ),
        (inject_device_name, "dev", "This name is already used by another VE.Direct device."),
        (inject_device, "dev", "This is already configured (the same device, or the same Redis server"),
        (delete_main, "local", "Its Redis server was deleted meanwhile."),
    ],
    ids=["server name taken", "server added", "device name taken", "device added", "reused server deleted"],
)
async def test_a_failed_creation_removes_what_it_created(
    hass: HomeAssistant,
    redis_plain: RedisServer,
    mppt: Simulator,
    change: Callable[[HomeAssistant, RedisServer], None],
    what: str,
    problem: str,
) -> None:
    """Between the preview and the creation, another entry takes a name, a server or the device, or the
    reused server goes: the import stops, the entries it had created are removed (servers, and the device
    once set up), and no subentry was added (they come last)."""
    assert mppt.url is not None
    main = server_entry(redis_plain, "main", db=0)
    main.add_to_hass(hass)
    text = config_text(
        {
            "local": (redis_plain.port, 0),
            "first": (redis_plain.port, 1),
            "second": (redis_plain.port, 2),
            "gone": (free_port(), 0),
        },
        {"dev": (mppt.url, "0xA042")},
        outputs=(("dev", "first", "bat_dev"),),
        inputs=(("in_main", "local", "bat_dev"), ("in_first", "first", "bat_dev")),
    )
    result = await submit(hass, await preview(hass, {CONF_YAML: text}))
    assert result["step_id"] == "vemonitor_import_confirm"  # "gone" did not answer
    before = set(entries(hass))
    change(hass, redis_plain)
    await hass.async_block_till_done()
    changed = set(entries(hass))
    result = await submit(hass, result)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "import_failed"
    assert result["description_placeholders"]["what"] == what
    assert result["description_placeholders"]["problem"].startswith(problem)
    await hass.async_block_till_done()
    assert set(entries(hass)) == changed
    assert before - changed <= {"main"}
    if "main" in changed:
        assert subentries(entries(hass)["main"]) == {}
