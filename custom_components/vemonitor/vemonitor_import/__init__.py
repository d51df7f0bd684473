"""Import of a vemonitor daemon configuration: YAML in, an ImportPlan out (no Home Assistant, no I/O but
reading the files; nothing connects anywhere).

    plan = parse_text(pasted_yaml)                                   # Imports refused: imports_need_path
    plan = load_path(Path("vemonitor/vm_conf.yaml"), hass_config_dir)  # Imports followed inside the folder
    plan.servers, plan.devices, plan.outputs, plan.inputs, plan.skipped

Validation is all or nothing: the first error in reading order raises ConfigImportError (connectors
before blocks, each in the file's order; a repeated serial port once the devices are known), and no plan
is returned. One error, not a list: each can hide the next (a wrong type stops everything below it), the
place names a line to fix, and a form shows one message well.

What becomes what (facts from the daemon, vemonitor/vemonitor_m8):

- appConnectors.redis.<name> (active): a PlannedServer; `db` absent is 3 (RedisCli's default). An
  inactive one (`active: false`) is skipped, and so is every input and output that uses it. Every active
  one is planned, used or not: a server entry stands on its own. Two naming one server (host, port, db)
  are an error: Home Assistant has one entry per server.
- appConnectors.serial.<name>: a PlannedDevice when a serial input of a block reads it, one per connector
  (the daemon's blocks often read one port through several inputs at several intervals: bmv700,
  bmv_extra, ...). Its time_interval is the shortest of those inputs', its port serialPort with `${HOME}`
  and every other `${VAR}` expanded from `env` (os.environ by default; the daemon replaces "/${HOME}" by
  $HOME, slash included), its expected_pid the value of its serialTest test {typeTest: value, key: PID}.
  Unused, inactive, or without serialPort (the daemon then scans ports for its serialTest): skipped.
- appBlocks[]: blocks whose `app` is not one of the daemon's schema (batSerialMonitor, redisBatMonitor,
  redVeSimFaker) are skipped whole; `args` (batteryBanks, solarPlants middlewares) and `redis_cache` (the
  daemon's own cache) have no counterpart and are skipped.
- inputs.redis[]: a PlannedInput (name unique in the whole file: one Home Assistant device each).
- outputs.redis[]: a PlannedOutput, attached to a device by this rule, the daemon's own: an output's
  `columns` are keyed by input names (the daemon caches each input's data under its name, and the output
  writes, per node, the listed labels of the data of its block's input of that name). So each node must
  be a serial input of the same block, and the output belongs to the device of those inputs' connector.
  A node that names no serial input of its block is skipped (unknown_node: the daemon writes nothing
  for it), as is one whose input's connector is skipped (inactive, no_serial_port); an output left with
  no node is skipped (no_device), one whose nodes are read from two devices too (spans_devices: one Home
  Assistant output writes the frames of one device). Node names stay as written: hash names
  (`<redis_node>_<node>`) are the daemon's. ref_cols whose label left with its node are dropped.
  cache_interval absent is 5 (RedisOutputWorker's default); redis_data_structure absent HmapTimeSeries.
- emoncms and influxDb2 connectors, inputs and outputs are skipped (their `source` is still checked).

Error keys (ConfigImportError.key) and their placeholders beyond file, line and path:
    not_yaml (problem), empty_config, root_not_mapping, expected_mapping, expected_list,
    missing_key (key), duplicate_key (key), invalid_name (value), duplicate_name (name, other),
    unknown_source (source, kind), duplicate_server (server, other), duplicate_port (port, other),
    duplicate_redis_node (redis_node, server, other), no_columns, too_many_nodes (count, maximum),
    too_many_columns (count, maximum), too_many_refs (count, maximum), invalid_label (value),
    invalid_ref_cols, invalid_ref_column (column), not_a_number (value), out_of_range (minimum, maximum),
    send_period_too_long (maximum), invalid_flag (value), invalid_host (value), invalid_port (value),
    invalid_password, invalid_pid (value), undefined_variable (variable), unknown_structure (value,
    choices), imports_need_path, file_not_found, outside_root, bad_extension (value), file_too_large
    (maximum), too_many_imports (maximum), invalid_import (value), import_not_found (value),
    import_outside_root (value), import_cycle (value).
`other` is the place of the first one ("vm_conf.yaml:12 appBlocks[0].name").

Skip reasons (SkippedItem.reason) and their placeholders:
    inactive (source, for an item whose connector is inactive; block, for a node), unused,
    no_serial_port (block, for a node), emoncms, influxdb2, unknown_connector, unknown_app (app),
    unknown_input, unknown_output, block_args, redis_cache, unknown_node (block), no_device,
    spans_devices (devices), nested_imports (an imported file's own Imports, which the daemon ignores).
"""

from collections.abc import Mapping
import os
from pathlib import Path
from typing import Final

from .builder import (
    DAEMON_DEFAULT_CACHE_INTERVAL,
    DAEMON_DEFAULT_DB,
    DEFAULT_STRUCTURE,
    KNOWN_APPS,
    STRUCTURES,
    build_plan,
)
from .errors import ConfigImportError, Place
from .loader import MAX_FILE_BYTES, MAX_IMPORTS, MAX_TOTAL_BYTES, path_root, text_root
from .plan import ImportPlan, PlannedDevice, PlannedInput, PlannedOutput, PlannedServer, SkippedItem

ERROR_KEYS: Final = frozenset(
    {
        "not_yaml",
        "empty_config",
        "root_not_mapping",
        "expected_mapping",
        "expected_list",
        "missing_key",
        "duplicate_key",
        "invalid_name",
        "duplicate_name",
        "unknown_source",
        "duplicate_server",
        "duplicate_port",
        "duplicate_redis_node",
        "no_columns",
        "too_many_nodes",
        "too_many_columns",
        "too_many_refs",
        "invalid_label",
        "invalid_ref_cols",
        "invalid_ref_column",
        "not_a_number",
        "out_of_range",
        "send_period_too_long",
        "invalid_flag",
        "invalid_host",
        "invalid_port",
        "invalid_password",
        "invalid_pid",
        "undefined_variable",
        "unknown_structure",
        "imports_need_path",
        "file_not_found",
        "outside_root",
        "bad_extension",
        "file_too_large",
        "too_many_imports",
        "invalid_import",
        "import_not_found",
        "import_outside_root",
        "import_cycle",
    }
)
"""Every ConfigImportError.key (for the translations: config.error.<key> or wherever the flow puts them)."""
SKIP_REASONS: Final = frozenset(
    {
        "inactive",
        "unused",
        "no_serial_port",
        "emoncms",
        "influxdb2",
        "unknown_connector",
        "unknown_app",
        "unknown_input",
        "unknown_output",
        "block_args",
        "redis_cache",
        "unknown_node",
        "no_device",
        "spans_devices",
        "nested_imports",
    }
)
"""Every SkippedItem.reason."""

__all__ = [
    "DAEMON_DEFAULT_CACHE_INTERVAL",
    "DAEMON_DEFAULT_DB",
    "DEFAULT_STRUCTURE",
    "ERROR_KEYS",
    "KNOWN_APPS",
    "MAX_FILE_BYTES",
    "MAX_IMPORTS",
    "MAX_TOTAL_BYTES",
    "SKIP_REASONS",
    "STRUCTURES",
    "ConfigImportError",
    "ImportPlan",
    "Place",
    "PlannedDevice",
    "PlannedInput",
    "PlannedOutput",
    "PlannedServer",
    "SkippedItem",
    "load_path",
    "parse_text",
]


def parse_text(text: str, env: Mapping[str, str] | None = None) -> ImportPlan:
    """The plan of pasted YAML, which cannot follow `Imports` (a non-empty list is imports_need_path)."""
    return build_plan(text_root(text), os.environ if env is None else env)


def load_path(path: Path, root: Path, env: Mapping[str, str] | None = None) -> ImportPlan:
    """The plan of the file `path` (relative to `root`, the Home Assistant configuration folder, or
    absolute inside it) and of its `Imports`, each of which must resolve inside `root` too.

    Reads files: call it in an executor.
    """
    merged, files, nested = path_root(path, root)
    return build_plan(merged, os.environ if env is None else env, files, nested)
