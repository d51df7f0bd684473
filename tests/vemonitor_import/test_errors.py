"""Every refusal of a configuration: its key, line, key path and placeholders; no plan, no password."""

from dataclasses import dataclass, field

import pytest

from custom_components.vemonitor.vemonitor_import import ERROR_KEYS, ConfigImportError, Place

from .common import BASE, ENV, FILE_ERROR_KEYS, error_of, plan_of, variant


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    key: str
    line: int | None
    path: str
    placeholders: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=lambda: dict(ENV))


OUTPUT = "appBlocks[0].outputs.redis[0]"
SERIAL_INPUT = "appBlocks[0].inputs.serial[0]"
LOCAL = "appConnectors.redis.local"
MANY_LABELS = ", ".join(f"C{index}" for index in range(65))
MANY_NODES = ", ".join(f"n{index}: [V]" for index in range(17))
MANY_REFS = ", ".join(f"[r{index}, V]" for index in range(65))
SECOND_OUTPUT = """\
        - source: local
          redis_node: bat
          time_interval: 1
          columns: {bmv: [P]}
"""

CASES = [
    # -- YAML and the root
    Case(
        "not yaml",
        variant({8: "      port: 6379: 1"}),
        "not_yaml",
        8,
        "",
        {"problem": "mapping values are not allowed here"},
    ),
    Case(
        "control character",
        variant({4: "      serialPort: /dev/\x01tty"}),
        "not_yaml",
        4,
        "",
        {"problem": "special characters are not allowed"},
    ),
    Case("lone surrogate", "a: 1\nb: \ud800\n", "not_yaml", 2, "", {"problem": "not UTF-8 text"}),
    Case(
        "nested too deeply",
        "a: " + "[" * 3000 + "]" * 3000 + "\n",
        "not_yaml",
        None,
        "",
        {"problem": "nested too deeply"},
    ),
    # Scalars PyYAML's constructors fail on with a plain exception, not a YAML error.
    Case(
        "integer too long", "a: " + "9" * 5000 + "\n", "not_yaml", 1, "", {"problem": "found an invalid int"}
    ),
    Case(
        "impossible date",
        "a: 1\nb: 2024-13-45\n",
        "not_yaml",
        2,
        "",
        {"problem": "found an invalid timestamp"},
    ),
    Case("tagged bool", "a: !!bool 6379\n", "not_yaml", 1, "", {"problem": "found an invalid bool"}),
    Case(
        # Each level merges the level below ten times: 10**9 keys copied from 600 bytes (PyYAML copies them
        # all); refused at 100,000 before they are copied, in milliseconds.
        "merge key bomb",
        "a0: &a0 {"
        + ", ".join(f"k{i}: {i}" for i in range(10))
        + "}\n"
        + "".join(f"a{d}: &a{d} {{<<: [{', '.join([f'*a{d - 1}'] * 10)}]}}\n" for d in range(1, 9)),
        "not_yaml",
        4,
        "",
        {"problem": "while merging a mapping, too many merged keys"},
    ),
    Case(
        "tab",
        "a:\n\tb: 1\n",
        "not_yaml",
        2,
        "",
        {"problem": "while scanning for the next token, found character '\\t' that cannot start any token"},
    ),
    Case(
        "undefined alias",
        "a: *anchor\n",
        "not_yaml",
        1,
        "",
        {"problem": "found undefined alias '…'"},
    ),
    Case(
        "two documents",
        "a: 1\n---\nb: 2\n",
        "not_yaml",
        2,
        "",
        {"problem": "expected a single document in the stream, but found another document"},
    ),
    Case(
        "unhashable key",
        "? [a]\n: 1\n",
        "not_yaml",
        1,
        "",
        {"problem": "while constructing a mapping, found unhashable key"},
    ),
    Case(
        "python tag",
        "a: !!python/object:os.system x\n",
        "not_yaml",
        1,
        "",
        {"problem": "could not determine a constructor for the tag '…'"},
    ),
    Case("empty", "", "empty_config", None, ""),
    Case("comments only", "# nothing\n", "empty_config", None, ""),
    Case("root is a list", "- appConnectors\n- appBlocks\n", "root_not_mapping", 1, ""),
    Case("root is text", "# a comment\nvm_conf.yaml\n", "root_not_mapping", None, ""),
    Case(
        "repeated root key", BASE + "appBlocks: []\n", "duplicate_key", 25, "appBlocks", {"key": "appBlocks"}
    ),
    Case("no appConnectors", "appBlocks: []\n", "missing_key", 1, "", {"key": "appConnectors"}),
    Case("no appBlocks", "appConnectors: {}\n", "missing_key", 1, "", {"key": "appBlocks"}),
    Case("appBlocks not a list", "appConnectors: {}\nappBlocks: {}\n", "expected_list", 2, "appBlocks"),
    Case("block not a mapping", "appConnectors: {}\nappBlocks: [5]\n", "expected_mapping", 2, "appBlocks[0]"),
    Case(
        "appConnectors not a mapping",
        "appConnectors: [redis]\nappBlocks: []\n",
        "expected_mapping",
        1,
        "appConnectors",
    ),
    Case(
        "imports in pasted text",
        variant(prepend="Imports: [vm_appConnectors.yaml]\n"),
        "imports_need_path",
        1,
        "Imports",
    ),
    Case(
        "empty imports key in pasted text", variant(prepend="Imports:\n"), "imports_need_path", 1, "Imports"
    ),
    # -- appConnectors
    Case("repeated key", variant({7: "      port: 1"}), "duplicate_key", 8, f"{LOCAL}.port", {"key": "port"}),
    Case("connector not a mapping", variant({6: "    local: 5", 7: "", 8: ""}), "expected_mapping", 6, LOCAL),
    Case(
        "invalid connector name",
        variant({3: "    bad name:"}),
        "invalid_name",
        3,
        "appConnectors.serial.bad name",
        {"value": "'bad name'"},
    ),
    Case(
        "yaml 1.1 boolean as a name",
        variant({6: "    off:"}),
        "invalid_name",
        6,
        "appConnectors.redis.False",
        {"value": "False"},
    ),
    Case("no host", variant({7: "      hosts: 127.0.0.1"}), "missing_key", 6, LOCAL, {"key": "host"}),
    Case(
        "invalid host",
        variant({7: "      host: 'bad host'"}),
        "invalid_host",
        7,
        f"{LOCAL}.host",
        {"value": "'bad host'"},
    ),
    Case(
        "port as text",
        variant({8: "      port: '6379'"}),
        "not_a_number",
        8,
        f"{LOCAL}.port",
        {"value": "'6379'"},
    ),
    Case(
        "port as boolean",
        variant({8: "      port: true"}),
        "not_a_number",
        8,
        f"{LOCAL}.port",
        {"value": "True"},
    ),
    Case(
        "port out of range",
        variant({8: "      port: 70000"}),
        "out_of_range",
        8,
        f"{LOCAL}.port",
        {"minimum": "1", "maximum": "65535"},
    ),
    Case(
        "db out of range",
        variant({6: "    local: {host: 127.0.0.1, port: 6379, db: 256}", 7: "", 8: ""}),
        "out_of_range",
        6,
        f"{LOCAL}.db",
        {"minimum": "0", "maximum": "255"},
    ),
    Case(
        "db as text",
        variant({6: "    local: {host: 127.0.0.1, port: 6379, db: three}", 7: "", 8: ""}),
        "not_a_number",
        6,
        f"{LOCAL}.db",
        {"value": "'three'"},
    ),
    Case(
        "password not text",
        variant({6: "    local: {host: 127.0.0.1, port: 6379, password: 1234}", 7: "", 8: ""}),
        "invalid_password",
        6,
        f"{LOCAL}.password",
    ),
    Case(
        "active not a boolean",
        variant({3: "    bmv: {active: 'yes', serialPort: /dev/ttyUSB0}", 4: ""}),
        "invalid_flag",
        3,
        "appConnectors.serial.bmv.active",
        {"value": "'yes'"},
    ),
    Case(
        "same server twice",
        variant(
            {
                5: (
                    "  redis: {local: {host: 127.0.0.1, port: 6379}, "
                    "again: {host: localhost, port: 6379, db: 3}}"
                ),
                6: "",
                7: "",
                8: "",
            }
        ),
        "duplicate_server",
        5,
        "appConnectors.redis.again",
        {"server": "again", "other": "local"},
    ),
    Case(
        "serial port not text",
        variant({4: "      serialPort: 5"}),
        "invalid_port",
        4,
        "appConnectors.serial.bmv.serialPort",
        {"value": "5"},
    ),
    Case(
        "invalid serial port",
        variant({4: "      serialPort: ftp://host/x"}),
        "invalid_port",
        4,
        "appConnectors.serial.bmv.serialPort",
        {"value": "'ftp://host/x'"},
    ),
    Case(
        "undefined variable",
        variant({4: "      serialPort: ${VEM_TTY}/x"}),
        "undefined_variable",
        4,
        "appConnectors.serial.bmv.serialPort",
        {"variable": "VEM_TTY"},
    ),
    Case(
        "no HOME",
        variant({4: "      serialPort: '/${HOME}/vmodem1'"}),
        "undefined_variable",
        4,
        "appConnectors.serial.bmv.serialPort",
        {"variable": "HOME"},
        env={},
    ),
    Case(
        "invalid pid",
        variant(
            {
                3: (
                    "    bmv: {serialPort: /dev/ttyUSB0, "
                    "serialTest: {PIDTest: {typeTest: value, key: PID, value: 'PID 1'}}}"
                ),
                4: "",
            }
        ),
        "invalid_pid",
        3,
        "appConnectors.serial.bmv.serialTest.PIDTest.value",
        {"value": "'PID 1'"},
    ),
    Case(
        "pid out of range",
        variant(
            {
                3: (
                    "    bmv: {serialPort: /dev/ttyUSB0, "
                    "serialTest: {PIDTest: {typeTest: value, key: PID, value: 70000}}}"
                ),
                4: "",
            }
        ),
        "invalid_pid",
        3,
        "appConnectors.serial.bmv.serialTest.PIDTest.value",
        {"value": "70000"},
    ),
    Case(
        "pid test without value",
        variant(
            {
                3: "    bmv: {serialPort: /dev/ttyUSB0, serialTest: {PIDTest: {typeTest: value, key: PID}}}",
                4: "",
            }
        ),
        "missing_key",
        3,
        "appConnectors.serial.bmv.serialTest.PIDTest",
        {"key": "value"},
    ),
    Case(
        "serial test not a mapping",
        variant({3: "    bmv: {serialPort: /dev/ttyUSB0, serialTest: [PID]}", 4: ""}),
        "expected_mapping",
        3,
        "appConnectors.serial.bmv.serialTest",
    ),
    # -- appBlocks
    Case(
        "invalid block name",
        variant({10: "  - name: bad name"}),
        "invalid_name",
        10,
        "appBlocks[0].name",
        {"value": "'bad name'"},
    ),
    Case(
        "block name a mapping",
        variant({10: "  - name: {of: block}"}),
        "invalid_name",
        10,
        "appBlocks[0].name",
        {"value": "{…}"},
    ),
    Case(
        "same block name twice",
        variant(append="  - name: block\n    app: batSerialMonitor\n"),
        "duplicate_name",
        25,
        "appBlocks[1].name",
        {"name": "block", "other": "pasted text:10 appBlocks[0].name"},
    ),
    Case("no app", variant({11: "    device: BMV"}), "missing_key", 10, "appBlocks[0]", {"key": "app"}),
    Case(
        "inputs not a mapping",
        variant({12: "    inputs: [serial]", 13: "", 14: "", 15: "", 16: ""}),
        "expected_mapping",
        12,
        "appBlocks[0].inputs",
    ),
    Case(
        "serial inputs not a list",
        variant({13: "      serial: {name: bmv}", 14: "", 15: "", 16: ""}),
        "expected_list",
        13,
        "appBlocks[0].inputs.serial",
    ),
    Case(
        "no input name",
        variant({14: "        - source: bmv", 15: "          time_interval: 1", 16: ""}),
        "missing_key",
        14,
        SERIAL_INPUT,
        {"key": "name"},
    ),
    Case(
        "unknown serial source",
        variant({15: "          source: nowhere"}),
        "unknown_source",
        15,
        f"{SERIAL_INPUT}.source",
        {"source": "nowhere", "kind": "serial"},
    ),
    Case(
        "source of another kind",
        variant({15: "          source: local"}),
        "unknown_source",
        15,
        f"{SERIAL_INPUT}.source",
        {"source": "local", "kind": "serial"},
    ),
    Case(
        "interval as text",
        variant({16: "          time_interval: '1'"}),
        "not_a_number",
        16,
        f"{SERIAL_INPUT}.time_interval",
        {"value": "'1'"},
    ),
    Case(
        "interval a fraction",
        variant({21: "          time_interval: 0.5"}),
        "out_of_range",
        21,
        f"{OUTPUT}.time_interval",
        {"minimum": "1", "maximum": "3600"},
    ),
    Case(
        "same input name twice",
        variant(
            {
                13: (
                    "      serial: [{name: bmv, source: bmv, time_interval: 1}, "
                    "{name: bmv, source: bmv, time_interval: 2}]"
                ),
                14: "",
                15: "",
                16: "",
            }
        ),
        "duplicate_name",
        13,
        "appBlocks[0].inputs.serial[1].name",
        {"name": "bmv", "other": "pasted text:13 appBlocks[0].inputs.serial[0].name"},
    ),
    Case(
        "same redis input name in two blocks",
        variant(
            {
                14: "        - {name: bmv, source: bmv, time_interval: 1}",
                15: (
                    "      redis: [{name: shore, source: local, "
                    "redis_node: shore, time_interval: 1, columns: {shore: [V]}}]"
                ),
                16: "",
            },
            append=(
                "  - name: second\n    app: batSerialMonitor\n    inputs: {redis: [{name: shore, "
                "source: local, redis_node: other, time_interval: 1, columns: {shore: [V]}}]}\n"
            ),
        ),
        "duplicate_name",
        27,
        "appBlocks[1].inputs.redis[0].name",
        {"name": "shore", "other": "pasted text:15 appBlocks[0].inputs.redis[0].name"},
    ),
    Case(
        "unknown redis source",
        variant({19: "        - source: nowhere"}),
        "unknown_source",
        19,
        f"{OUTPUT}.source",
        {"source": "nowhere", "kind": "redis"},
    ),
    Case(
        "unknown emoncms source",
        variant(
            {
                18: "      emoncms: [{name: bat_t1, source: local}]",
                19: "",
                20: "",
                21: "",
                22: "",
                23: "",
                24: "",
            }
        ),
        "unknown_source",
        18,
        "appBlocks[0].outputs.emoncms[0].source",
        {"source": "local", "kind": "emoncms"},
    ),
    Case(
        "no redis_node",
        variant({20: "          redis_nodes: bat"}),
        "missing_key",
        19,
        OUTPUT,
        {"key": "redis_node"},
    ),
    Case(
        "invalid redis_node",
        variant({20: "          redis_node: bat:bmv"}),
        "invalid_name",
        20,
        f"{OUTPUT}.redis_node",
        {"value": "'bat:bmv'"},
    ),
    Case(
        "unknown structure",
        variant({24: "          redis_data_structure: List"}),
        "unknown_structure",
        24,
        f"{OUTPUT}.redis_data_structure",
        {"value": "'List'", "choices": "HmapTimeSeries, Stream"},
    ),
    Case(
        "cache interval out of range",
        variant({24: "          cache_interval: 0"}),
        "out_of_range",
        24,
        f"{OUTPUT}.cache_interval",
        {"minimum": "1", "maximum": "3600"},
    ),
    Case(
        "send period too long",
        variant({21: "          time_interval: 3600", 24: "          cache_interval: 2"}),
        "send_period_too_long",
        24,
        f"{OUTPUT}.cache_interval",
        {"maximum": "3600"},
    ),
    Case(
        "send period too long by default",
        variant({21: "          time_interval: 3600", 24: "          ref_cols: []"}),
        "send_period_too_long",
        21,
        f"{OUTPUT}.time_interval",
        {"maximum": "3600"},
    ),
    Case(
        "same redis_node twice on one server",
        variant(append=SECOND_OUTPUT),
        "duplicate_redis_node",
        26,
        "appBlocks[0].outputs.redis[1].redis_node",
        {
            "redis_node": "bat",
            "server": "local",
            "other": "pasted text:20 appBlocks[0].outputs.redis[0].redis_node",
        },
    ),
    Case(
        "same port twice",
        variant(
            {
                3: "    bmv: {serialPort: /dev/ttyUSB0}",
                4: "    bmv2: {serialPort: '/dev/../dev/ttyUSB0'}",
                13: (
                    "      serial: [{name: bmv, source: bmv, time_interval: 1}, "
                    "{name: bmv2, source: bmv2, time_interval: 1}]"
                ),
                14: "",
                15: "",
                16: "",
            }
        ),
        "duplicate_port",
        4,
        "appConnectors.serial.bmv2.serialPort",
        {"port": "/dev/ttyUSB0", "other": "bmv"},
    ),
    # -- columns and ref_cols
    Case(
        "no columns",
        variant({22: "          column: {bmv: [V]}", 23: ""}),
        "missing_key",
        19,
        OUTPUT,
        {"key": "columns"},
    ),
    Case(
        "columns not a mapping",
        variant({22: "          columns: [V, I]", 23: ""}),
        "expected_mapping",
        22,
        f"{OUTPUT}.columns",
    ),
    Case(
        "columns empty", variant({22: "          columns: {}", 23: ""}), "no_columns", 22, f"{OUTPUT}.columns"
    ),
    Case(
        "too many nodes",
        variant({22: f"          columns: {{{MANY_NODES}}}", 23: ""}),
        "too_many_nodes",
        22,
        f"{OUTPUT}.columns",
        {"count": "17", "maximum": "16"},
    ),
    Case(
        "invalid node name",
        variant({23: "            'b m': [V]"}),
        "invalid_name",
        23,
        f"{OUTPUT}.columns.b m",
        {"value": "'b m'"},
    ),
    Case(
        "node twice once stripped",
        variant({22: "          columns: {bmv: [V], ' bmv': [I]}", 23: ""}),
        "duplicate_key",
        22,
        f"{OUTPUT}.columns. bmv",
        {"key": "bmv"},
    ),
    Case(
        "labels not a list", variant({23: "            bmv: V"}), "expected_list", 23, f"{OUTPUT}.columns.bmv"
    ),
    Case("no labels", variant({23: "            bmv: ['', ' ']"}), "no_columns", 23, f"{OUTPUT}.columns.bmv"),
    Case(
        "invalid label",
        variant({23: "            bmv: [V, 'I I']"}),
        "invalid_label",
        23,
        f"{OUTPUT}.columns.bmv[1]",
        {"value": "'I I'"},
    ),
    Case(
        "label not text",
        variant({23: "            bmv: [V, 12]"}),
        "invalid_label",
        23,
        f"{OUTPUT}.columns.bmv[1]",
        {"value": "12"},
    ),
    Case(
        "too many labels",
        variant({23: f"            bmv: [{MANY_LABELS}, C0]"}),
        "too_many_columns",
        23,
        f"{OUTPUT}.columns.bmv",
        {"count": "65", "maximum": "64"},
    ),
    Case(
        "ref_cols not a list",
        variant({24: "          ref_cols: V"}),
        "expected_list",
        24,
        f"{OUTPUT}.ref_cols",
    ),
    Case(
        "ref not a pair",
        variant({24: "          ref_cols: [[bat_voltage]]"}),
        "invalid_ref_cols",
        24,
        f"{OUTPUT}.ref_cols[0]",
    ),
    Case(
        "ref not a list",
        variant({24: "          ref_cols: [bat_voltage]"}),
        "invalid_ref_cols",
        24,
        f"{OUTPUT}.ref_cols[0]",
    ),
    Case(
        "invalid ref name",
        variant({24: "          ref_cols: [['bat voltage', V]]"}),
        "invalid_name",
        24,
        f"{OUTPUT}.ref_cols[0][0]",
        {"value": "'bat voltage'"},
    ),
    Case(
        "invalid ref label",
        variant({24: "          ref_cols: [[bat_voltage, 'V V']]"}),
        "invalid_label",
        24,
        f"{OUTPUT}.ref_cols[0][1]",
        {"value": "'V V'"},
    ),
    Case(
        "ref to a missing column",
        variant({24: "          ref_cols: [[bat_soc, SOC]]"}),
        "invalid_ref_column",
        24,
        f"{OUTPUT}.ref_cols[0][1]",
        {"column": "SOC"},
    ),
    Case(
        "same ref name twice",
        variant({24: "          ref_cols: [[v, V], [v, I]]"}),
        "duplicate_name",
        24,
        f"{OUTPUT}.ref_cols[1][0]",
        {"name": "v", "other": "pasted text:24 appBlocks[0].outputs.redis[0].ref_cols[0][0]"},
    ),
    Case(
        "too many refs",
        variant({24: f"          ref_cols: [{MANY_REFS}]"}),
        "too_many_refs",
        24,
        f"{OUTPUT}.ref_cols",
        {"count": "65", "maximum": "64"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_refused(case: Case) -> None:
    error = error_of(case.text, case.env)
    assert (error.key, error.line, error.path, error.file) == (case.key, case.line, case.path, None)
    assert error.place == Place(None, case.line, case.path)
    assert error.placeholders == {
        "file": "",
        "line": "" if case.line is None else str(case.line),
        "path": case.path,
        **case.placeholders,
    }


def test_every_error_key_is_tested() -> None:
    """ERROR_KEYS is exactly what the cases here and in test_files raise."""
    assert {case.key for case in CASES} | FILE_ERROR_KEYS == ERROR_KEYS


def test_error_text() -> None:
    error = error_of(variant({15: "          source: nowhere"}))
    assert str(error) == (
        "unknown_source at pasted text:15 appBlocks[0].inputs.serial[0].source, source=nowhere, kind=serial"
    )
    assert repr(error) == (
        "ConfigImportError('unknown_source', 'pasted text:15 appBlocks[0].inputs.serial[0].source', "
        "{'source': 'nowhere', 'kind': 'serial'})"
    )
    assert str(error_of("")) == "empty_config at pasted text"
    assert str(Place("vm_conf.yaml", None, "")) == "vm_conf.yaml"


def test_long_values_are_cut() -> None:
    error = error_of(variant({10: f"  - name: '{'x' * 100} y'"}))
    assert error.placeholders["value"] == "'" + "x" * 62 + "…"


@pytest.mark.parametrize(
    "text",
    [
        # Refused as a password: named by its path only.
        variant({6: "    local: {host: 127.0.0.1, port: 6379, password: ['s3cr3t-pw']}", 7: "", 8: ""}),
        # A YAML error on the password's line: the parser's message, never its snippet of the line.
        variant({6: '    local: {host: 127.0.0.1, port: 6379, password: "s3cr3t-pw}', 7: "", 8: ""}),
        variant({6: "    local: {host: 127.0.0.1, port: 6379, password: s3cr3t-pw: x}", 7: "", 8: ""}),
        # Unquoted, a password of a leading * is an alias to YAML: its name is not shown.
        variant({6: "    local: {host: 127.0.0.1, port: 6379, password: *s3cr3t-pw}", 7: "", 8: ""}),
        variant({6: "    local: {host: 127.0.0.1, port: 6379, password: !s3cr3t-pw x}", 7: "", 8: ""}),
        # A later error, once the password is read.
        variant(
            {
                6: "    local: {host: 127.0.0.1, port: 6379, password: s3cr3t-pw}",
                7: "",
                8: "",
                15: "          source: x",
            }
        ),
    ],
)
def test_errors_never_show_a_password(text: str) -> None:
    error = error_of(text)
    for shown in (str(error), repr(error), repr(error.args), str(error.placeholders)):
        assert "s3cr3t" not in shown
    # The parser's error (whose text quotes the file) is not chained either.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def test_all_or_nothing() -> None:
    """An error anywhere (here, after valid servers and devices) leaves no plan: parse_text raises."""
    with pytest.raises(ConfigImportError):
        plan_of(variant(append=SECOND_OUTPUT))
