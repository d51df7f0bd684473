"""What the import of a vemonitor configuration adds to Home Assistant, and whether it may.

From the file alone (no connection): the Redis server entries it reuses (redis_server.same_server), and the
conflicts with existing entries, which refuse the whole import (ImportConflict). Once the user confirms:
the test of each new Redis server and of each port (the PID its serialTest names compared with what the
port sends); what fails moves to the skipped items, with what depends on it. And the data of every entry
and subentry, exactly as the UI flows store it.

No text here: SkippedItem reasons and ImportConflict keys are translation keys (import_texts renders them).
"""

import asyncio
from dataclasses import dataclass, field
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PASSWORD, CONF_PORT, CONF_SOURCE, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .const import (
    CONF_BACKLOG_LIMIT,
    CONF_CA_CERT,
    CONF_CACHE_INTERVAL,
    CONF_COLUMNS,
    CONF_DB,
    CONF_ENTRY_TYPE,
    CONF_REDIS_DATA_STRUCTURE,
    CONF_REDIS_NODE,
    CONF_REF_COLS,
    CONF_RETENTION,
    CONF_SET_MEMBERS,
    CONF_STALE_AFTER,
    CONF_TIME_INTERVAL,
    CONF_TLS,
    CONF_TLS_VERIFY,
    CONF_WAIT_REPLICAS,
    DEFAULT_RETENTION,
    DEFAULT_STALE_AFTER,
    DOMAIN,
    ENTRY_TYPE_REDIS_SERVER,
    ENTRY_TYPE_VEDIRECT,
    SET_MEMBERS_HASHES,
    SUBENTRY_REDIS_INPUT,
)
from .identity import ProbeError, async_probe_identity, async_same_port, async_stable_port
from .models import is_vedirect
from .redis_output_flow import default_backlog_limit
from .redis_outputs import output_subentries
from .redis_server import redis_server_entries, same_server
from .redis_server_forms import async_probe_redis_server, connection_data, describe_address
from .redis_worker import SINGLE
from .vedirect import product_name
from .vemonitor_import import (
    ImportPlan,
    Place,
    PlannedDevice,
    PlannedInput,
    PlannedOutput,
    PlannedServer,
    SkippedItem,
)

IMPORT_UNIQUE_ID = "unique_id"
"""The key of a VE.Direct device's import data that holds the unique id its port's test found."""
STALE_AFTER_SENDS = 3
"""An imported input's points are too old after this many send periods of the output of the file that
writes them (without one: DEFAULT_STALE_AFTER)."""


class ImportConflict(Exception):
    """The configuration clashes with Home Assistant's entries: `key` is the form error (config.error),
    `where` the item of the file, `placeholders` the error's own."""

    def __init__(self, key: str, where: Place, /, **placeholders: str) -> None:
        super().__init__(key)
        self.key = key
        self.where = where
        self.placeholders = placeholders


@dataclass
class ImportSelection:
    """What an import still adds: the new servers, the devices, outputs and inputs of the plan that passed
    the tests so far; the servers it reuses; what the tests moved to the skipped items."""

    plan: ImportPlan
    reused: dict[str, str]
    """File server name -> the entry id of the existing Redis server entry it is."""
    servers: list[PlannedServer]
    devices: list[PlannedDevice]
    outputs: list[PlannedOutput]
    inputs: list[PlannedInput]
    moved: list[SkippedItem] = field(default_factory=list)
    """Moved to the skipped items by the tests; a placeholder `problem` is a translation key."""
    found: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Device name -> (stable port, unique id), from the test of its port."""

    @property
    def empty(self) -> bool:
        """Whether nothing is left to add."""
        return not (self.servers or self.devices or self.outputs or self.inputs)


def server_data(server: PlannedServer) -> dict[str, Any]:
    """The data of a single-server entry, as its add form stores it (no TLS, the default user)."""
    values = {
        CONF_NAME: server.name,
        CONF_HOST: server.host,
        CONF_PORT: server.port,
        CONF_USERNAME: None,
        CONF_PASSWORD: server.password,
        CONF_CA_CERT: None,
        CONF_WAIT_REPLICAS: None,
        CONF_DB: server.db,
    }
    form = {CONF_TLS: False, CONF_TLS_VERIFY: True}
    return {CONF_ENTRY_TYPE: ENTRY_TYPE_REDIS_SERVER, CONF_DB: 0, **connection_data(SINGLE, values, form, {})}


def device_data(device: PlannedDevice, port: str, unique_id: str) -> dict[str, Any]:
    """The import data of a VE.Direct device: what its entry stores, and its unique id."""
    return {
        CONF_ENTRY_TYPE: ENTRY_TYPE_VEDIRECT,
        CONF_NAME: device.name,
        CONF_PORT: port,
        CONF_TIME_INTERVAL: device.time_interval,
        IMPORT_UNIQUE_ID: unique_id,
    }


def output_data(output: PlannedOutput, server_id: str, device: ConfigEntry) -> dict[str, Any]:
    """A redis_output subentry's data, as the output flow stores it: the daemon's layout (hash names in the
    SET), a new output's retention and backlog limit."""
    return {
        CONF_SOURCE: server_id,
        CONF_REDIS_DATA_STRUCTURE: output.structure,
        CONF_SET_MEMBERS: SET_MEMBERS_HASHES,
        CONF_REDIS_NODE: output.redis_node,
        CONF_TIME_INTERVAL: output.time_interval,
        CONF_CACHE_INTERVAL: output.cache_interval,
        CONF_BACKLOG_LIMIT: default_backlog_limit(device),
        CONF_RETENTION: DEFAULT_RETENTION,
        CONF_COLUMNS: {node: list(labels) for node, labels in output.columns.items()},
        CONF_REF_COLS: [list(pair) for pair in output.ref_cols],
    }


def input_data(item: PlannedInput, plan: ImportPlan) -> dict[str, Any]:
    """A redis_input subentry's data (its title is its name)."""
    return {
        CONF_NAME: item.name,
        CONF_REDIS_NODE: item.redis_node,
        CONF_REDIS_DATA_STRUCTURE: item.structure,
        CONF_TIME_INTERVAL: item.time_interval,
        CONF_STALE_AFTER: stale_after(item, plan),
        CONF_COLUMNS: {node: list(labels) for node, labels in item.columns.items()},
        CONF_REF_COLS: [list(pair) for pair in item.ref_cols],
    }


def stale_after(item: PlannedInput, plan: ImportPlan) -> int:
    """3 x the send period of the output of the file writing the input's node to its server, else the
    default (3 x a default output's 1 s x 5)."""
    for output in plan.outputs:
        if (output.server, output.redis_node) == (item.server, item.redis_node):
            return STALE_AFTER_SENDS * output.time_interval * output.cache_interval
    return DEFAULT_STALE_AFTER


def server_address(server: PlannedServer) -> str:
    """host:port of a planned server (an IPv6 address in brackets)."""
    host = f"[{server.host}]" if ":" in server.host else server.host
    return f"{host}:{server.port}"


def product_label(product_id: int | None) -> str:
    """A PID as a person reads it: "BMV-700 (0x0203)", "0xA999", or "?"."""
    if product_id is None:
        return "?"
    name = product_name(product_id)
    return f"{name} (0x{product_id:04X})" if name else f"0x{product_id:04X}"


async def async_select(hass: HomeAssistant, plan: ImportPlan) -> ImportSelection:
    """The plan against the existing entries: the servers reused, and ImportConflict for a name or a port
    in use, a server name held by another server, an output's redis_node or an input's name taken on a
    reused server, or nothing to add at all."""
    servers = redis_server_entries(hass)
    reused: dict[str, ConfigEntry] = {}
    new_servers: list[PlannedServer] = []
    for server in plan.servers:
        data = server_data(server)
        if (same := next((entry for entry in servers if same_server(entry.data, data)), None)) is not None:
            reused[server.name] = same
        elif (named := next((e for e in servers if e.data.get(CONF_NAME) == server.name), None)) is not None:
            raise ImportConflict(
                "import_server_name_in_use",
                server.where,
                name=server.name,
                address=f"{server_address(server)}/{server.db}",
                other=describe_address(named.data),
            )
        else:
            new_servers.append(server)
    devices = [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN, include_ignore=False)
        if is_vedirect(entry)
    ]
    for device in plan.devices:
        for entry in devices:
            if entry.data.get(CONF_NAME) == device.name:
                raise ImportConflict("import_device_name_in_use", device.where, name=device.name)
            if await async_same_port(hass, entry.data.get(CONF_PORT, ""), device.port):
                raise ImportConflict(
                    "import_port_in_use", device.where, name=device.name, port=device.port, entry=entry.title
                )
    for output in plan.outputs:
        if output.server in reused and _redis_node_written(hass, reused[output.server], output.redis_node):
            raise ImportConflict(
                "import_redis_node_in_use", output.where, redis_node=output.redis_node, server=output.server
            )
    for item in plan.inputs:
        if item.server in reused and any(
            subentry.subentry_type == SUBENTRY_REDIS_INPUT and subentry.data.get(CONF_NAME) == item.name
            for subentry in reused[item.server].subentries.values()
        ):
            raise ImportConflict("import_input_name_in_use", item.where, name=item.name, server=item.server)
    selection = ImportSelection(
        plan,
        {name: entry.entry_id for name, entry in reused.items()},
        new_servers,
        list(plan.devices),
        list(plan.outputs),
        list(plan.inputs),
    )
    if selection.empty:
        raise ImportConflict("import_nothing", Place(None, None, ""))
    return selection


def _redis_node_written(hass: HomeAssistant, server: ConfigEntry, redis_node: str) -> bool:
    """Whether an existing output writes `redis_node` to the server of `server` (any entry of it)."""
    sources = {entry.entry_id: entry.data for entry in redis_server_entries(hass)}
    return any(
        subentry.data.get(CONF_REDIS_NODE) == redis_node
        and subentry.data.get(CONF_SOURCE) in sources
        and same_server(sources[subentry.data[CONF_SOURCE]], server.data)
        for device in hass.config_entries.async_entries(DOMAIN)
        for subentry in output_subentries(device).values()
    )


async def async_check(hass: HomeAssistant, selection: ImportSelection) -> None:
    """Test every new server and every port at once; what fails moves to `selection.moved`, and so do the
    outputs and inputs that need it. The ports' stable paths and unique ids go to `selection.found`."""
    server_errors, device_results = await asyncio.gather(
        asyncio.gather(*(async_probe_redis_server(server_data(server), ()) for server in selection.servers)),
        asyncio.gather(*(_async_check_device(hass, device) for device in selection.devices)),
    )
    failed_servers: set[str] = set()
    for server, errors in zip(selection.servers, server_errors, strict=True):
        if errors:
            failed_servers.add(server.name)
            selection.moved.append(
                SkippedItem(server.name, server.where, "server_failed", {"problem": errors["base"]})
            )
    failed_devices: set[str] = set()
    for device, result in zip(selection.devices, device_results, strict=True):
        if isinstance(result, SkippedItem):
            failed_devices.add(device.name)
            selection.moved.append(result)
        else:
            selection.found[device.name] = result
    outputs: list[PlannedOutput] = []
    for output in selection.outputs:
        if output.server in failed_servers:
            _move(selection, output.redis_node, output.where, "server_skipped", server=output.server)
        elif output.device in failed_devices:
            _move(selection, output.redis_node, output.where, "device_skipped", device=output.device)
        else:
            outputs.append(output)
    inputs: list[PlannedInput] = []
    for item in selection.inputs:
        if item.server in failed_servers:
            _move(selection, item.name, item.where, "server_skipped", server=item.server)
        else:
            inputs.append(item)
    selection.servers = [server for server in selection.servers if server.name not in failed_servers]
    selection.devices = [device for device in selection.devices if device.name not in failed_devices]
    selection.outputs = outputs
    selection.inputs = inputs


def _move(selection: ImportSelection, what: str, where: Place, reason: str, **placeholders: str) -> None:
    selection.moved.append(SkippedItem(what, where, reason, placeholders))


async def _async_check_device(hass: HomeAssistant, device: PlannedDevice) -> tuple[str, str] | SkippedItem:
    """The stable port and unique id of the device on the port, or why it is skipped: the port fails, another
    product answers than the file names, or the device is configured already."""
    try:
        identity = await async_probe_identity(device.port)
    except ProbeError as err:
        return SkippedItem(device.name, device.where, "port_failed", {"problem": err.reason})
    if device.expected_pid is not None and identity.product_id != device.expected_pid:
        return SkippedItem(
            device.name,
            device.where,
            "other_product",
            {"expected": product_label(device.expected_pid), "found": product_label(identity.product_id)},
        )
    port = await async_stable_port(hass, device.port)
    unique_id = identity.unique_id(port)
    holder = hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, unique_id)
    if holder is not None:
        return SkippedItem(device.name, device.where, "device_configured", {"entry": holder.title})
    return port, unique_id
