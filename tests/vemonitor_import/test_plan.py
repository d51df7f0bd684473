"""The plans of valid configurations: the seed's examples, the multi-file sample, and each rule of what
becomes what (attach rule, defaults, skips, ${VAR} expansion); no plan shows a password."""

import ast
from pathlib import Path

import pytest

from custom_components.vemonitor import vemonitor_import
from custom_components.vemonitor.vemonitor_import import (
    SKIP_REASONS,
    ImportPlan,
    Place,
    PlannedDevice,
    PlannedInput,
    PlannedOutput,
    PlannedServer,
    SkippedItem,
    load_path,
    parse_text,
)

from .common import BASE, ENV, FIXTURES, plan_of, variant

BMV_COLUMNS = ["V", "I", "P", "SOC", "Alarm", "AR", "Relay"]
SEED_REFS = [["bat_voltage", "V"], ["bat_current", "I"], ["bat_power", "P"]]


def pasted(line: int, path: str) -> Place:
    return Place(None, line, path)


SEED_PLAN = ImportPlan(
    servers=(
        PlannedServer("local", "127.0.0.1", 6379, 3, None, pasted(19, "appConnectors.redis.local")),
        PlannedServer(
            "remote",
            "192.168.0.52",
            16379,
            3,
            "REDIS_SERVER_PASSWORD",
            pasted(24, "appConnectors.redis.remote"),
        ),
    ),
    devices=(
        PlannedDevice(
            name="bmv700",
            port="/dev/ttyUSB0",
            expected_pid=0x203,
            time_interval=1,
            block="VedirectToRedis",
            inputs=("bmv700",),
            where=pasted(7, "appConnectors.serial.bmv700"),
        ),
    ),
    outputs=(
        PlannedOutput(
            device="bmv700",
            server="local",
            redis_node="bat_bmv700",
            structure="HmapTimeSeries",
            time_interval=1,
            cache_interval=5,
            columns={"bmv700": BMV_COLUMNS},
            ref_cols=SEED_REFS,
            block="VedirectToRedis",
            where=pasted(72, "appBlocks[0].outputs.redis[0]"),
        ),
    ),
    inputs=(
        PlannedInput(
            name="external_data",
            server="local",
            redis_node="bat_bmv700",
            structure="HmapTimeSeries",
            time_interval=1,
            columns={"bmv700": BMV_COLUMNS},
            ref_cols=SEED_REFS,
            block="VedirectToRedis",
            where=pasted(47, "appBlocks[0].inputs.redis[0]"),
        ),
    ),
    skipped=(),
    files=(),
)


def test_seed_example_pasted() -> None:
    """The seed's examples, pasted: exactly the expected plan (the daemon's db 3 where none is written)."""
    assert plan_of((FIXTURES / "seed_example.yaml").read_text()) == SEED_PLAN


def test_seed_example_from_path() -> None:
    """The same file by path: the same plan, its places naming the file."""
    plan = load_path(Path("seed_example.yaml"), FIXTURES, ENV)
    assert plan.files == ("seed_example.yaml",)
    assert plan.servers[1].where == Place("seed_example.yaml", 24, "appConnectors.redis.remote")
    assert plan.outputs[0].where == Place("seed_example.yaml", 72, "appBlocks[0].outputs.redis[0]")
    assert [server.name for server in plan.servers] == ["local", "remote"]
    assert plan.outputs[0].columns == SEED_PLAN.outputs[0].columns


CONF = "multi/vm_conf.yaml"
CONNECTORS = "multi/vm_appConnectors.yaml"
SOLAR_COLUMNS = ["V", "I", "VPV", "PPV", "H19", "H20", "H21", "H22", "H23", "ERR", "CS"]

MULTI_PLAN = ImportPlan(
    servers=(
        PlannedServer(
            "local", "127.0.0.1", 6379, 3, None, Place(CONNECTORS, 29, "appConnectors.redis.local")
        ),
        PlannedServer(
            "devHost",
            "192.168.1.2",
            6379,
            0,
            "My_Redis_Server_Password",
            Place(CONNECTORS, 33, "appConnectors.redis.devHost"),
        ),
    ),
    devices=(
        PlannedDevice(
            name="bmv700",
            port="/home/tester/vmodem1",
            expected_pid=0x203,
            time_interval=1,
            block="bmvToRedis",
            inputs=("bmv700", "bmv_extra"),
            where=Place(CONNECTORS, 6, "appConnectors.serial.bmv700"),
        ),
        PlannedDevice(
            name="blueSolar",
            port="/dev/serial/by-id/usb-VictronEnergy_BV_VE_Direct_cable_VE1234-if00-port0",
            expected_pid=0xA042,
            time_interval=2,
            block="bmvToRedis",
            inputs=("smart_solar",),
            where=Place(CONNECTORS, 15, "appConnectors.serial.blueSolar"),
        ),
    ),
    outputs=(
        PlannedOutput(
            device="bmv700",
            server="local",
            redis_node="bmv700",
            structure="HmapTimeSeries",
            time_interval=1,
            cache_interval=5,
            columns={
                "bmv700": ["V", "I", "P", "CE", "SOC", "Alarm", "AR", "Relay", "H2", "H17", "H18"],
                "bmv_extra": ["TTG", "H1", "H3", "H4", "H5"],
            },
            ref_cols=[["bat_voltage", "V"], ["bat_current", "I"], ["time_to_go", "TTG"]],
            block="bmvToRedis",
            where=Place(CONF, 60, "appBlocks[0].outputs.redis[0]"),
        ),
        PlannedOutput(
            device="blueSolar",
            server="devHost",
            redis_node="solar",
            structure="Stream",
            time_interval=2,
            cache_interval=10,
            columns={"smart_solar": SOLAR_COLUMNS},
            ref_cols=[],
            block="bmvToRedis",
            where=Place(CONF, 71, "appBlocks[0].outputs.redis[1]"),
        ),
    ),
    inputs=(
        PlannedInput(
            name="shore_bmv",
            server="devHost",
            redis_node="shore",
            structure="HmapTimeSeries",
            time_interval=10,
            columns={"bmv": ["V", "I", "SOC"]},
            ref_cols=[["bat_voltage", "V"]],
            block="bmvToRedis",
            where=Place(CONF, 50, "appBlocks[0].inputs.redis[0]"),
        ),
    ),
    skipped=(
        SkippedItem("spare", Place(CONNECTORS, 21, "appConnectors.serial.spare"), "inactive"),
        SkippedItem("rpi", Place(CONNECTORS, 39, "appConnectors.redis.rpi"), "inactive"),
        SkippedItem("local", Place(CONNECTORS, 45, "appConnectors.emoncms.local"), "emoncms"),
        SkippedItem("cloud", Place(CONNECTORS, 50, "appConnectors.influxDb2.cloud"), "influxdb2"),
        SkippedItem("bmvToRedis", Place(CONF, 14, "appBlocks[0].args"), "block_args"),
        SkippedItem("bmvToRedis", Place(CONF, 17, "appBlocks[0].redis_cache"), "redis_cache"),
        SkippedItem(
            "bmv700_backup", Place(CONF, 79, "appBlocks[0].outputs.redis[2]"), "inactive", {"source": "rpi"}
        ),
        SkippedItem(
            "spare_input",
            Place(CONF, 89, "appBlocks[0].outputs.redis[3].columns.spare_input"),
            "inactive",
            {"block": "bmvToRedis"},
        ),
        SkippedItem("spare", Place(CONF, 85, "appBlocks[0].outputs.redis[3]"), "no_device"),
        SkippedItem("bat_t1", Place(CONF, 91, "appBlocks[0].outputs.emoncms[0]"), "emoncms"),
        SkippedItem("monitFake", Place(CONF, 98, "appBlocks[1]"), "unknown_app", {"app": "'simData'"}),
        SkippedItem("phoenix", Place(CONNECTORS, 25, "appConnectors.serial.phoenix"), "unused"),
    ),
    files=(CONF, "multi/vm_batteryBank.yaml", CONNECTORS),
)


def test_multi_file_sample() -> None:
    """A root with Imports (merged as the daemon does), serial connectors with serialTest, ${HOME}, an
    inactive connector and what uses it, emoncms and influxDb2, an unknown app: exactly the expected plan."""
    assert load_path(Path(CONF), FIXTURES, ENV) == MULTI_PLAN


def test_multi_file_sample_by_absolute_path() -> None:
    assert load_path(FIXTURES / CONF, FIXTURES, ENV) == MULTI_PLAN


def test_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/pi")
    assert load_path(Path(CONF), FIXTURES).devices[0].port == "/home/pi/vmodem1"
    monkeypatch.setenv("VEM_PORT", "/dev/ttyACM7")
    assert parse_text(variant({4: "      serialPort: ${VEM_PORT}"})).devices[0].port == "/dev/ttyACM7"


@pytest.mark.parametrize(
    ("written", "env", "port"),
    [
        # The daemon's own replacement: "/${HOME}" is $HOME (its slash included).
        ("'/${HOME}/vmodem1'", {"HOME": "/home/pi"}, "/home/pi/vmodem1"),
        ("'/${HOME}/vmodem1'", {"HOME": "/root/"}, "/root/vmodem1"),
        ("'${HOME}/vmodem1'", {"HOME": "/home/pi"}, "/home/pi/vmodem1"),
        ("'/dev/${TTY}'", {"TTY": "ttyUSB2"}, "/dev/ttyUSB2"),
        ("'tcp://${GATEWAY}:${PORT}'", {"GATEWAY": "192.168.1.9", "PORT": "3001"}, "tcp://192.168.1.9:3001"),
        # One pass: a value is not expanded again.
        ("'/dev/${A}'", {"A": "${B}", "B": "x"}, "/dev/${B}"),
        # $VAR without braces is text, as for the daemon.
        ("'/tmp/$HOME'", {}, "/tmp/$HOME"),
    ],
)
def test_serial_port_variables(written: str, env: dict[str, str], port: str) -> None:
    assert plan_of(variant({4: f"      serialPort: {written}"}), env).devices[0].port == port


def test_defaults() -> None:
    """db 3, cache_interval 5, HmapTimeSeries when absent or blank; labels as valid_columns keeps them."""
    plan = plan_of(
        variant(
            {
                23: "            bmv: [V, V, '', I, ' P ']",
                24: "          redis_data_structure: ''",
            }
        )
    )
    assert plan.servers[0].db == 3
    assert plan.servers[0].password is None
    output = plan.outputs[0]
    assert (output.cache_interval, output.structure) == (5, "HmapTimeSeries")
    assert output.columns == {"bmv": ["V", "I", "P"]}
    assert (plan.devices[0].expected_pid, plan.devices[0].time_interval) == (None, 1)


def test_written_values() -> None:
    """Whole floats are whole numbers; db, password, Stream and ref_cols as written."""
    plan = plan_of(
        variant(
            {
                6: "    local: {host: 'redis.lan', port: 6380.0, db: 0, password: ' two words '}",
                7: "",
                8: "",
                21: "          time_interval: 2.0",
                24: "          redis_data_structure: Stream",
            },
            append="          ref_cols: [[bat_voltage, V]]\n          cache_interval: 12\n",
        )
    )
    server = plan.servers[0]
    assert (server.host, server.port, server.db, server.password) == ("redis.lan", 6380, 0, " two words ")
    output = plan.outputs[0]
    assert (output.time_interval, output.cache_interval, output.structure) == (2, 12, "Stream")
    assert output.ref_cols == [["bat_voltage", "V"]]


@pytest.mark.parametrize(
    ("test", "pid"),
    [
        ("{PIDTest: {typeTest: value, key: PID, value: '0xA389'}}", 0xA389),
        ("{PIDTest: {typeTest: value, key: PID, value: ' 0x203 '}}", 0x203),
        ("{PIDTest: {typeTest: value, key: PID, value: 0x203}}", 0x203),  # unquoted: a YAML integer
        (
            (
                "{serTest: {typeTest: value, key: 'SER#', value: HQ1}, "
                "PIDTest: {typeTest: value, key: PID, value: '0x300'}}"
            ),
            0x300,
        ),
        ("{colTest: {typeTest: columns, key: PID, value: V}}", None),
        ("{someTest: {key: PID, value: '0x203'}}", None),
    ],
)
def test_expected_pid(test: str, pid: int | None) -> None:
    plan = plan_of(variant({3: f"    bmv: {{serialPort: /dev/ttyUSB0, serialTest: {test}}}", 4: ""}))
    assert plan.devices[0].expected_pid == pid


def test_one_device_per_connector() -> None:
    """Inputs of one connector, in one block or two, are one device: the shortest interval, its inputs once;
    an output may gather several inputs of that device."""
    text = variant(
        {
            13: (
                "      serial: [{name: bmv, source: bmv, time_interval: 5}, "
                "{name: fast, source: bmv, time_interval: 2}]"
            ),
            14: "",
            15: "",
            16: "",
            22: "          columns: {bmv: [V], fast: [I]}",
            23: "",
        },
        append="""\
  - name: other
    app: redVeSimFaker
    inputs:
      serial: [{name: bmv, source: bmv, time_interval: 1}]
""",
    )
    plan = plan_of(text)
    assert [(d.name, d.time_interval, d.inputs, d.block) for d in plan.devices] == [
        ("bmv", 1, ("bmv", "fast"), "block")
    ]
    assert plan.outputs[0].columns == {"bmv": ["V"], "fast": ["I"]}


def skipped(plan: ImportPlan) -> list[tuple[str, str, str, dict[str, str]]]:
    return [(item.what, item.where.path, item.reason, item.placeholders) for item in plan.skipped]


ATTACH_CASE = variant(
    {
        3: "    bmv: {serialPort: /dev/ttyUSB0}",
        4: "    mppt: {serialPort: /dev/ttyUSB1}",
        13: (
            "      serial: [{name: bmv, source: bmv, time_interval: 1}, "
            "{name: mppt, source: mppt, time_interval: 1}]"
        ),
        14: (
            "      redis: [{name: shore, source: local, "
            "redis_node: shore, time_interval: 1, columns: {shore: [V]}}]"
        ),
        15: "",
        16: "",
        22: "          columns: {bmv: [V, I], elsewhere: [P], shore: [SOC]}",
        23: "          ref_cols: [[bat_voltage, V], [bat_power, P]]",
    },
    append="""\
        - source: local
          redis_node: none
          time_interval: 1
          columns: {ghost: [V]}
        - source: local
          redis_node: both
          time_interval: 1
          columns: {bmv: [V], mppt: [V]}
""",
)


def test_attach_rule_nodes() -> None:
    """A node that names no serial input of its block is skipped (the daemon writes nothing for it), its
    ref_cols with it; an output left without node, or reading two devices, is skipped."""
    plan = plan_of(ATTACH_CASE)
    assert [(o.redis_node, o.device, o.columns, o.ref_cols) for o in plan.outputs] == [
        ("bat", "bmv", {"bmv": ["V", "I"]}, [["bat_voltage", "V"]])
    ]
    assert skipped(plan) == [
        ("elsewhere", "appBlocks[0].outputs.redis[0].columns.elsewhere", "unknown_node", {"block": "block"}),
        ("shore", "appBlocks[0].outputs.redis[0].columns.shore", "unknown_node", {"block": "block"}),
        ("ghost", "appBlocks[0].outputs.redis[1].columns.ghost", "unknown_node", {"block": "block"}),
        ("none", "appBlocks[0].outputs.redis[1]", "no_device", {}),
        ("both", "appBlocks[0].outputs.redis[2]", "spans_devices", {"devices": "bmv, mppt"}),
    ]
    assert [d.name for d in plan.devices] == ["bmv", "mppt"]


PORTLESS_CASE = variant(
    {
        3: "    bmv: {serialTest: {PIDTest: {typeTest: value, key: PID, value: '0x203'}}}",
        4: "",
        13: (
            "      serial: [{name: bmv, source: bmv, time_interval: 1}, "
            "{name: bmv2, source: bmv, time_interval: 2}]"
        ),
        14: "",
        15: "",
        16: "",
    }
)


def test_serial_connector_without_port() -> None:
    """The daemon can scan ports for a serialTest; an entry needs a port: the connector is skipped once,
    and the nodes of its inputs with it."""
    plan = plan_of(PORTLESS_CASE)
    assert (plan.devices, plan.outputs) == ((), ())
    assert skipped(plan) == [
        ("bmv", "appConnectors.serial.bmv", "no_serial_port", {}),
        ("bmv", "appBlocks[0].outputs.redis[0].columns.bmv", "no_serial_port", {"block": "block"}),
        ("bat", "appBlocks[0].outputs.redis[0]", "no_device", {}),
    ]


KINDS_CASE = variant(
    {
        5: "  tuya: {plug: {}}",
        6: "  influxDb2: {cloud: {host: 'http://172.18.0.3:8086'}}",
        7: "  redis: {local: {host: 127.0.0.1, port: 6379}, spare: {active: false, host: 1}}",
        8: "",
        12: (
            "    inputs: {tuya: 5, influxDb2: [{name: influx_in, source: cloud}], "
            "redis: [{name: r, source: spare, redis_node: r, time_interval: 1, columns: {r: [V]}}]}"
        ),
        13: "",
        14: "",
        15: "",
        16: "",
        18: "      serial: [{source: x}]",
        19: "      influxDb2: [{source: cloud}]",
        20: "      redis:",
        21: "        - source: local",
        22: "          redis_node: bat",
        23: "          time_interval: 1",
        24: "          columns: {bmv: [V]}",
    },
    append="""\
  - name: empty
    app: batSerialMonitor
    inputs:
    outputs:
  - name: unknown
    app: [not, text]
    inputs: {serial: this block is not read}
""",
)


def test_skipped_kinds() -> None:
    """Unknown connector, input and output kinds; influxDb2 inputs and outputs; an inactive Redis server's
    input; an empty `inputs:`; blocks of unknown apps (whatever their content)."""
    plan = plan_of(KINDS_CASE)
    assert skipped(plan) == [
        ("tuya", "appConnectors.tuya", "unknown_connector", {}),
        ("cloud", "appConnectors.influxDb2.cloud", "influxdb2", {}),
        ("spare", "appConnectors.redis.spare", "inactive", {}),
        ("tuya", "appBlocks[0].inputs.tuya", "unknown_input", {}),
        ("influx_in", "appBlocks[0].inputs.influxDb2[0]", "influxdb2", {}),
        ("r", "appBlocks[0].inputs.redis[0]", "inactive", {"source": "spare"}),
        ("serial", "appBlocks[0].outputs.serial", "unknown_output", {}),
        ("influxDb2", "appBlocks[0].outputs.influxDb2[0]", "influxdb2", {}),
        ("bmv", "appBlocks[0].outputs.redis[0].columns.bmv", "unknown_node", {"block": "block"}),
        ("bat", "appBlocks[0].outputs.redis[0]", "no_device", {}),
        ("unknown", "appBlocks[2]", "unknown_app", {"app": "[…]"}),
        ("bmv", "appConnectors.serial.bmv", "unused", {}),
    ]
    assert [server.name for server in plan.servers] == ["local"]


def test_yaml_merge_keys() -> None:
    """<< merges, as PyYAML does: a mapping's own key overrides a merged one (no repeated key)."""
    text = variant(
        {
            5: "  redis:",
            6: "    base: &base {host: 10.0.0.1, port: 6379, db: 1}",
            7: "    local: {<<: *base, db: 2}",
            8: "",
        }
    )
    servers = plan_of(text).servers
    assert [(s.name, s.host, s.port, s.db) for s in servers] == [
        ("base", "10.0.0.1", 6379, 1),
        ("local", "10.0.0.1", 6379, 2),
    ]


def test_empty_imports_in_pasted_text() -> None:
    assert plan_of(variant(prepend="Imports: []\n")).servers[0].name == "local"


def test_passwords_never_shown() -> None:
    """repr and str of the plan and its servers show no password; the password is there for the entry."""
    plan = load_path(Path(CONF), FIXTURES, ENV)
    seed = plan_of((FIXTURES / "seed_example.yaml").read_text())
    for shown in (repr(plan), str(plan), repr(plan.servers[1]), str(seed), repr(seed.servers)):
        assert "My_Redis_Server_Password" not in shown
        assert "My_Other_Redis_Password" not in shown
        assert "REDIS_SERVER_PASSWORD" not in shown
        assert "My_EmonCms_ApiKey" not in shown
        assert "My_InfluxDb2_AuthKey" not in shown
    assert plan.servers[1].password == "My_Redis_Server_Password"


def test_every_skip_reason_is_reached() -> None:
    """SKIP_REASONS is exactly what the plans above skip for (nested_imports: test_files)."""
    plans = [load_path(Path(CONF), FIXTURES, ENV)] + [
        plan_of(text) for text in (ATTACH_CASE, PORTLESS_CASE, KINDS_CASE)
    ]
    reasons = {item.reason for plan in plans for item in plan.skipped}
    assert reasons | {"nested_imports"} == SKIP_REASONS


def test_no_home_assistant_import() -> None:
    """The package is pure: no module of it imports Home Assistant (it may import ..validation)."""
    for module in Path(vemonitor_import.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            else:
                continue
            for name in names:
                assert not name.startswith("homeassistant"), module
                assert not name.startswith("..") or name == "..validation", (module, name)


def test_base_is_valid() -> None:
    """The configuration the error cases change is valid as it is."""
    plan = plan_of(BASE)
    assert [(o.device, o.server, o.columns) for o in plan.outputs] == [("bmv", "local", {"bmv": ["V", "I"]})]
