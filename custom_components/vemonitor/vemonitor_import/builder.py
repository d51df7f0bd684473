"""Turning a loaded vemonitor configuration (a YamlMap) into an ImportPlan: see the package docstring."""

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
import re
from typing import Any, Final, NoReturn

from ..validation import (
    CACHE_INTERVAL_MAX,
    CACHE_INTERVAL_MIN,
    MAX_COLUMNS,
    MAX_NODES,
    MAX_REF_COLS,
    REDIS_DB_MAX,
    REDIS_DB_MIN,
    REDIS_PORT_MAX,
    REDIS_PORT_MIN,
    SEND_PERIOD_MAX,
    TIME_INTERVAL_MAX,
    TIME_INTERVAL_MIN,
    InvalidInput,
    check_send_period,
    redis_server_identity,
    valid_cache_interval,
    valid_columns,
    valid_host,
    valid_label,
    valid_name,
    valid_password,
    valid_redis_db,
    valid_redis_port,
    valid_serial_port,
    valid_time_interval,
)
from .errors import ConfigImportError, Place, shown
from .loader import YamlMap, YamlSeq
from .plan import ImportPlan, PlannedDevice, PlannedInput, PlannedOutput, PlannedServer, SkippedItem

KNOWN_APPS: Final = frozenset({"batSerialMonitor", "redisBatMonitor", "redVeSimFaker"})
"""The `app` values of the daemon's appBlocks schema (appBlocks_schema.json); the app changes nothing of
the inputs and outputs (the daemon only selects blocks by it)."""
STRUCTURES: Final = ("HmapTimeSeries", "Stream")
"""The Redis data structures our outputs and inputs know (the daemon: HmapTimeSeries only)."""
DEFAULT_STRUCTURE: Final = "HmapTimeSeries"
"""The structure of an item without redis_data_structure (or with it blank), as the seed says."""
DAEMON_DEFAULT_DB: Final = 3
"""The database of a Redis connector without `db`: vemonitor_m8 RedisCli's default (redis_api.py)."""
DAEMON_DEFAULT_CACHE_INTERVAL: Final = 5
"""The cache_interval of a Redis output without one: RedisOutputWorker's default (redis_worker.py)."""
PID_MAX: Final = 0xFFFF
_PID_TEXT: Final = re.compile(r"^0[xX][0-9A-Fa-f]{1,4}\Z")
# "/${HOME}" is the daemon's own replacement (the slash is part of it: '/${HOME}/vmodem1' is
# $HOME/vmodem1); any other ${VAR}, ${HOME} without the slash included, is the variable's value. One pass:
# nothing a value holds is expanded again.
_VARIABLE: Final = re.compile(r"/\$\{HOME\}|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

# Connector, input and output kinds that are known but not imported, and their skip reason.
_SKIPPED_CONNECTORS: Final = {"emoncms": "emoncms", "influxDb2": "influxdb2"}
_SKIPPED_INPUTS: Final = {"influxDb2": "influxdb2"}
_SKIPPED_OUTPUTS: Final = {"emoncms": "emoncms", "influxDb2": "influxdb2"}


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


@dataclass(frozen=True, slots=True)
class _At:
    """A value of the configuration and its place."""

    value: Any
    place: Place

    def fail(self, key: str, /, **placeholders: object) -> NoReturn:
        raise ConfigImportError(key, self.place, **placeholders)

    def mapping(self) -> YamlMap:
        """The value, which must be a mapping without repeated keys."""
        value = self.value
        if not isinstance(value, YamlMap):
            self.fail("expected_mapping")
        for key, line in value.dup_keys.items():
            raise ConfigImportError(
                "duplicate_key", Place(value.file, line, _join(self.place.path, key)), key=key
            )
        return value

    def entries(self) -> Iterator[tuple[Any, _At]]:
        """The mapping's keys and values; the place of each value is its key's."""
        mapping = self.mapping()
        for key, value in mapping.items():
            yield key, _At(value, mapping.place_of(key, _join(self.place.path, key)))

    def get(self, key: str) -> _At | None:
        """The mapping's value at `key`, if the key is there."""
        mapping = self.mapping()
        if key not in mapping:
            return None
        return _At(mapping[key], mapping.place_of(key, _join(self.place.path, key)))

    def given(self, key: str) -> _At | None:
        """The mapping's value at `key`, if there and not empty (`key:` alone is as absent)."""
        child = self.get(key)
        return None if child is None or child.value is None else child

    def require(self, key: str) -> _At:
        child = self.get(key)
        if child is None:
            self.fail("missing_key", key=key)
        return child

    def items(self) -> Iterator[_At]:
        """The items of the value, which must be a list."""
        value = self.value
        if not isinstance(value, YamlSeq):
            self.fail("expected_list")
        for index, (item, line) in enumerate(zip(value, value.item_lines, strict=True)):
            yield _At(item, Place(value.file, line, f"{self.place.path}[{index}]"))

    def key(self, key: object) -> _At:
        """A key of the mapping this value is in, at its place (keys are names: connectors, nodes)."""
        return _At(key, self.place)


def _check[T](at: _At, validator: Callable[[object], T], **placeholders: object) -> T:
    """A validator of validation.py applied to the value; its key as the error."""
    try:
        return validator(at.value)
    except InvalidInput as err:
        refusal = ConfigImportError(err.key, at.place, **placeholders)
    raise refusal  # outside the except: no exception context in the traceback


def _refusal(check: Callable[[], object]) -> str | None:
    """The key of the InvalidInput `check` raises, if it does."""
    try:
        check()
    except InvalidInput as err:
        return err.key
    return None


def _name(at: _At) -> str:
    return _check(at, valid_name, value=shown(at.value))


def _number(at: _At, validator: Callable[[object], int], minimum: int, maximum: int) -> int:
    """A whole number: text (or true/false) where it belongs is not_a_number, else out_of_range."""
    if isinstance(at.value, bool) or not isinstance(at.value, int | float):
        at.fail("not_a_number", value=shown(at.value))
    return _check(at, validator, minimum=minimum, maximum=maximum)


def _active(at: _At | None) -> bool:
    """`active` of a connector: absent is on (the daemon's schema makes it optional)."""
    if at is None:
        return True
    if not isinstance(at.value, bool):
        at.fail("invalid_flag", value=shown(at.value))
    return at.value


def _structure(at: _At | None) -> str:
    if at is None or at.value == "":
        return DEFAULT_STRUCTURE
    value = at.value
    if not (isinstance(value, str) and value.strip() in STRUCTURES):
        at.fail("unknown_structure", value=shown(value), choices=", ".join(STRUCTURES))
    return value.strip()


def _labels(at: _At) -> list[str]:
    """A node's labels: each one checked where it is, then as validation.valid_columns takes them."""
    texts: list[str] = []
    for item in at.items():
        if isinstance(item.value, str) and not item.value.strip():
            continue  # a blank, which valid_columns drops
        texts.append(_check(item, valid_label, value=shown(item.value)))
    try:
        return valid_columns(at.value)
    except InvalidInput as err:
        key = err.key
    extras = {"count": len(dict.fromkeys(texts)), "maximum": MAX_COLUMNS} if key == "too_many_columns" else {}
    raise ConfigImportError(key, at.place, **extras)


def _columns(at: _At) -> tuple[dict[str, list[str]], dict[str, Place]]:
    """`columns` of a Redis item, {node: [labels]} at most MAX_NODES nodes, and the place of each node."""
    mapping = at.mapping()
    if not mapping:
        at.fail("no_columns")
    if len(mapping) > MAX_NODES:
        at.fail("too_many_nodes", count=len(mapping), maximum=MAX_NODES)
    columns: dict[str, list[str]] = {}
    places: dict[str, Place] = {}
    for node, labels_at in at.entries():
        name = _name(labels_at.key(node))
        if name in columns:  # "a" and " a": one node once stripped
            labels_at.fail("duplicate_key", key=name)
        columns[name] = _labels(labels_at)
        places[name] = labels_at.place
    return columns, places


def _ref_cols(at: _At | None, labels: Collection[str]) -> list[list[str]]:
    """[standard name, label] pairs, each label one of `labels`, each name once."""
    if at is None:
        return []
    pairs = list(at.items())
    if len(pairs) > MAX_REF_COLS:
        at.fail("too_many_refs", count=len(pairs), maximum=MAX_REF_COLS)
    refs: list[list[str]] = []
    names: dict[str, Place] = {}
    for pair_at in pairs:
        if not isinstance(pair_at.value, YamlSeq) or len(pair_at.value) != 2:
            pair_at.fail("invalid_ref_cols")
        name_at, column_at = pair_at.items()
        name = _name(name_at)
        column = _check(column_at, valid_label, value=shown(column_at.value))
        if column not in labels:
            column_at.fail("invalid_ref_column", column=column)
        if name in names:
            name_at.fail("duplicate_name", name=name, other=names[name])
        names[name] = name_at.place
        refs.append([name, column])
    return refs


def _all_labels(columns: Mapping[str, list[str]]) -> set[str]:
    return {label for labels in columns.values() for label in labels}


@dataclass(frozen=True)
class _Serial:
    """An active serial connector."""

    name: str
    port: str | None
    port_place: Place
    expected_pid: int | None
    place: Place


@dataclass
class _DeviceDraft:
    serial: _Serial
    time_interval: int
    block: str
    inputs: list[str]


@dataclass
class _Block:
    """The inputs of one block: the names outputs' nodes may use, and what each serial one reads."""

    name: str
    nodes: dict[str, Place] = field(default_factory=dict)
    node_device: dict[str, str] = field(default_factory=dict)
    node_skipped: dict[str, str] = field(default_factory=dict)


class _Builder:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.skipped: list[SkippedItem] = []
        self.servers: dict[str, PlannedServer] = {}
        self.server_ids: dict[tuple[str, int, int], str] = {}
        self.serials: dict[str, _Serial] = {}
        self.inactive: dict[str, set[str]] = {"serial": set(), "redis": set()}
        self.others: dict[str, set[str]] = {"emoncms": set(), "influxDb2": set()}
        self.devices: dict[str, _DeviceDraft] = {}
        self.portless: set[str] = set()
        self.outputs: list[PlannedOutput] = []
        self.inputs: list[PlannedInput] = []
        self.input_names: dict[str, Place] = {}
        self.redis_nodes: dict[tuple[str, str], Place] = {}

    def skip(self, what: str, where: Place, reason: str, **placeholders: object) -> None:
        self.skipped.append(
            SkippedItem(what, where, reason, {name: str(value) for name, value in placeholders.items()})
        )

    # -- appConnectors ----------------------------------------------------------------------------------

    def connectors(self, at: _At) -> None:
        for kind, kind_at in at.entries():
            if kind in {"serial", "redis"}:
                for name, item in kind_at.entries():
                    self.connector(kind, _name(item.key(name)), item)
            elif kind in _SKIPPED_CONNECTORS:
                for name, item in kind_at.entries():
                    connector = _name(item.key(name))
                    item.mapping()
                    self.others[kind].add(connector)
                    self.skip(connector, item.place, _SKIPPED_CONNECTORS[kind])
            else:
                self.skip(str(kind), kind_at.place, "unknown_connector")

    def connector(self, kind: str, name: str, at: _At) -> None:
        if not _active(at.get("active")):
            self.inactive[kind].add(name)
            self.skip(name, at.place, "inactive")
        elif kind == "serial":
            self.serial_connector(name, at)
        else:
            self.redis_connector(name, at)

    def serial_connector(self, name: str, at: _At) -> None:
        port_at = at.given("serialPort")
        self.serials[name] = _Serial(
            name=name,
            port=None if port_at is None else self.port(port_at),
            port_place=at.place if port_at is None else port_at.place,
            expected_pid=self.expected_pid(at.given("serialTest")),
            place=at.place,
        )

    def port(self, at: _At) -> str:
        """serialPort with its variables expanded, normalised (validation.valid_serial_port)."""
        written = at.value
        if not isinstance(written, str):
            at.fail("invalid_port", value=shown(written))

        def expand(match: re.Match[str]) -> str:
            variable = match[1] or "HOME"
            if variable not in self.env:
                at.fail("undefined_variable", variable=variable)
            return self.env[variable]

        return _check(_At(_VARIABLE.sub(expand, written), at.place), valid_serial_port, value=shown(written))

    @staticmethod
    def expected_pid(at: _At | None) -> int | None:
        """The PID a serialTest names: its test of typeTest "value" on key "PID" (others: not imported)."""
        if at is None:
            return None
        for _, test in at.entries():
            type_at, key_at = test.get("typeTest"), test.get("key")
            if type_at is None or key_at is None or (type_at.value, key_at.value) != ("value", "PID"):
                continue
            value_at = test.require("value")
            value = value_at.value
            if isinstance(value, str) and _PID_TEXT.match(value.strip()):
                return int(value.strip(), 16)
            # Unquoted, 0x203 is a YAML 1.1 integer (515).
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= PID_MAX:
                return value
            value_at.fail("invalid_pid", value=shown(value))
        return None

    def redis_connector(self, name: str, at: _At) -> None:
        host_at = at.require("host")
        host = _check(host_at, valid_host, value=shown(host_at.value))
        port = _number(at.require("port"), valid_redis_port, REDIS_PORT_MIN, REDIS_PORT_MAX)
        db_at = at.given("db")
        db = (
            DAEMON_DEFAULT_DB if db_at is None else _number(db_at, valid_redis_db, REDIS_DB_MIN, REDIS_DB_MAX)
        )
        password_at = at.get("password")
        password = None if password_at is None else _check(password_at, valid_password)
        identity = redis_server_identity(host, port, db)
        if (other := self.server_ids.get(identity)) is not None:
            at.fail("duplicate_server", server=name, other=other)
        self.server_ids[identity] = name
        self.servers[name] = PlannedServer(name, host, port, db, password, at.place)

    def source(self, at: _At, kind: str, known: Collection[str]) -> str:
        """The connector an item names in `source`, which must be one of appConnectors.<kind>."""
        source_at = at.require("source")
        source = _name(source_at)
        if source not in known and source not in self.inactive.get(kind, ()):
            source_at.fail("unknown_source", source=source, kind=kind)
        return source

    # -- appBlocks --------------------------------------------------------------------------------------

    def blocks(self, at: _At) -> None:
        names: dict[str, Place] = {}
        for block_at in at.items():
            name_at = block_at.require("name")
            name = _name(name_at)
            if name in names:
                name_at.fail("duplicate_name", name=name, other=names[name])
            names[name] = name_at.place
            app = block_at.require("app").value
            if not (isinstance(app, str) and app in KNOWN_APPS):
                self.skip(name, block_at.place, "unknown_app", app=shown(app))
                continue
            for key, reason in (("args", "block_args"), ("redis_cache", "redis_cache")):
                if (extra := block_at.get(key)) is not None:
                    self.skip(name, extra.place, reason)
            block = _Block(name)
            if (inputs := block_at.given("inputs")) is not None:
                self.block_inputs(block, inputs)
            if (outputs := block_at.given("outputs")) is not None:
                self.block_outputs(block, outputs)

    def node_name(self, block: _Block, item: _At) -> str:
        """An input's name: a node name outputs of its block may use, once in the block."""
        name_at = item.require("name")
        name = _name(name_at)
        if name in block.nodes:
            name_at.fail("duplicate_name", name=name, other=block.nodes[name])
        block.nodes[name] = name_at.place
        return name

    def not_imported(self, kind: str, item: _At, reason: str) -> None:
        """An input or output of a kind that is not imported: its source is checked, nothing else."""
        item.mapping()
        self.source(item, kind, self.others[kind])
        name_at = item.get("name")
        what = name_at.value if name_at is not None and isinstance(name_at.value, str) else kind
        self.skip(what, item.place, reason)

    def block_inputs(self, block: _Block, at: _At) -> None:
        for kind, kind_at in at.entries():
            if kind == "serial":
                for item in kind_at.items():
                    self.serial_input(block, item)
            elif kind == "redis":
                for item in kind_at.items():
                    self.redis_input(block, item)
            elif kind in _SKIPPED_INPUTS:
                for item in kind_at.items():
                    self.not_imported(kind, item, _SKIPPED_INPUTS[kind])
            else:
                self.skip(str(kind), kind_at.place, "unknown_input")

    def block_outputs(self, block: _Block, at: _At) -> None:
        for kind, kind_at in at.entries():
            if kind == "redis":
                for item in kind_at.items():
                    self.redis_output(block, item)
            elif kind in _SKIPPED_OUTPUTS:
                for item in kind_at.items():
                    self.not_imported(kind, item, _SKIPPED_OUTPUTS[kind])
            else:
                self.skip(str(kind), kind_at.place, "unknown_output")

    def serial_input(self, block: _Block, item: _At) -> None:
        """A serial input: the device of its connector (columns, ref_cols and device are the daemon's
        filter and labels of what it reads; a VE.Direct entry reads every field)."""
        name = self.node_name(block, item)
        source = self.source(item, "serial", self.serials)
        interval = _number(
            item.require("time_interval"), valid_time_interval, TIME_INTERVAL_MIN, TIME_INTERVAL_MAX
        )
        serial = self.serials.get(source)
        if serial is None:
            block.node_skipped[name] = "inactive"
            return
        if serial.port is None:
            block.node_skipped[name] = "no_serial_port"
            if source not in self.portless:
                self.portless.add(source)
                self.skip(source, serial.place, "no_serial_port")
            return
        block.node_device[name] = source
        draft = self.devices.get(source)
        if draft is None:
            self.devices[source] = _DeviceDraft(serial, interval, block.name, [name])
            return
        draft.time_interval = min(draft.time_interval, interval)
        if name not in draft.inputs:
            draft.inputs.append(name)

    def redis_item(
        self, item: _At
    ) -> tuple[str, str, str, int, _At, dict[str, list[str]], dict[str, Place], list[list[str]]]:
        """What Redis inputs and outputs share: source, redis_node, structure, time_interval (and its
        place), columns (and their places) and ref_cols."""
        source = self.source(item, "redis", self.servers)
        redis_node = _name(item.require("redis_node"))
        structure = _structure(item.given("redis_data_structure"))
        interval_at = item.require("time_interval")
        interval = _number(interval_at, valid_time_interval, TIME_INTERVAL_MIN, TIME_INTERVAL_MAX)
        columns, places = _columns(item.require("columns"))
        ref_cols = _ref_cols(item.given("ref_cols"), _all_labels(columns))
        return source, redis_node, structure, interval, interval_at, columns, places, ref_cols

    def redis_input(self, block: _Block, item: _At) -> None:
        name = self.node_name(block, item)
        place = block.nodes[name]
        if name in self.input_names:  # one Home Assistant device per Redis input, whatever the block
            raise ConfigImportError("duplicate_name", place, name=name, other=self.input_names[name])
        self.input_names[name] = place
        source, redis_node, structure, interval, _, columns, _, ref_cols = self.redis_item(item)
        if source not in self.servers:
            self.skip(name, item.place, "inactive", source=source)
            return
        self.inputs.append(
            PlannedInput(
                name, source, redis_node, structure, interval, columns, ref_cols, block.name, item.place
            )
        )

    def redis_output(self, block: _Block, item: _At) -> None:
        source, redis_node, structure, interval, interval_at, columns, places, ref_cols = self.redis_item(
            item
        )
        cache_at = item.given("cache_interval")
        cache = (
            DAEMON_DEFAULT_CACHE_INTERVAL
            if cache_at is None
            else _number(cache_at, valid_cache_interval, CACHE_INTERVAL_MIN, CACHE_INTERVAL_MAX)
        )
        if (key := _refusal(lambda: check_send_period(interval, cache))) is not None:
            (cache_at or interval_at).fail(key, maximum=SEND_PERIOD_MAX)
        if source not in self.servers:
            self.skip(redis_node, item.place, "inactive", source=source)
            return
        # The daemon's output writes, per node, those labels of the data its block's input of that name
        # read: a node is a serial input of the block, whose connector is one device.
        devices: dict[str, None] = {}
        kept: dict[str, list[str]] = {}
        for node, labels in columns.items():
            if node in block.node_device:
                devices[block.node_device[node]] = None
                kept[node] = labels
            else:
                self.skip(node, places[node], block.node_skipped.get(node, "unknown_node"), block=block.name)
        if not devices:
            self.skip(redis_node, item.place, "no_device")
            return
        if len(devices) > 1:
            self.skip(redis_node, item.place, "spans_devices", devices=", ".join(devices))
            return
        node_at = item.require("redis_node")
        if (other := self.redis_nodes.get((source, redis_node))) is not None:
            node_at.fail("duplicate_redis_node", redis_node=redis_node, server=source, other=other)
        self.redis_nodes[source, redis_node] = node_at.place
        kept_labels = _all_labels(kept)
        self.outputs.append(
            PlannedOutput(
                device=next(iter(devices)),
                server=source,
                redis_node=redis_node,
                structure=structure,
                time_interval=interval,
                cache_interval=cache,
                columns=kept,
                ref_cols=[pair for pair in ref_cols if pair[1] in kept_labels],
                block=block.name,
                where=item.place,
            )
        )

    # -- the plan ---------------------------------------------------------------------------------------

    def plan(self, files: tuple[str, ...]) -> ImportPlan:
        ports: dict[str, str] = {}
        devices: list[PlannedDevice] = []
        for name, draft in self.devices.items():
            serial = draft.serial
            assert serial.port is not None  # portless connectors make no device
            if (other := ports.get(serial.port)) is not None:
                raise ConfigImportError("duplicate_port", serial.port_place, port=serial.port, other=other)
            ports[serial.port] = name
            devices.append(
                PlannedDevice(
                    name=name,
                    port=serial.port,
                    expected_pid=serial.expected_pid,
                    time_interval=draft.time_interval,
                    block=draft.block,
                    inputs=tuple(draft.inputs),
                    where=serial.place,
                )
            )
        for name, serial in self.serials.items():
            if name not in self.devices and name not in self.portless:
                self.skip(name, serial.place, "unused")
        return ImportPlan(
            servers=tuple(self.servers.values()),
            devices=tuple(devices),
            outputs=tuple(self.outputs),
            inputs=tuple(self.inputs),
            skipped=tuple(self.skipped),
            files=files,
        )


def build_plan(
    root: YamlMap,
    env: Mapping[str, str],
    files: tuple[str, ...] = (),
    nested_imports: Collection[tuple[str, Place]] = (),
) -> ImportPlan:
    """The plan of a merged root mapping; `nested_imports` are the Imports of imported files (skipped)."""
    builder = _Builder(env)
    for file, place in nested_imports:
        builder.skip(file, place, "nested_imports")
    at = _At(root, Place(root.file, root.line, ""))
    builder.connectors(at.require("appConnectors"))
    builder.blocks(at.require("appBlocks"))
    return builder.plan(files)
