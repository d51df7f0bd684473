"""Diagnostics download: settings and state, with passwords, hosts (Redis nodes too), user names, certificates
and serial numbers redacted (also inside the raw block)."""

from dataclasses import asdict
import re
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .const import CONF_CA_CERT, CONF_DEVICE_KEY, CONF_NODES, CONF_SENTINEL_PASSWORD, CONF_SENTINEL_USERNAME
from .models import VeDirectRuntime, VeMonitorConfigEntry, is_redis_server, is_vedirect
from .redis_inputs import redis_inputs_diagnostics
from .redis_outputs import redis_outputs_diagnostics
from .redis_server import async_get_redis_server, async_redis_server_diagnostics
from .vedirect import VeCode, VeFlags
from .vedirect.fields import Value

SERIAL_LABEL = "SER#"
# The device key is a serial number too (or an entry id); the nodes of a Sentinel or Cluster entry are hosts.
TO_REDACT = {
    CONF_PASSWORD,
    CONF_HOST,
    CONF_USERNAME,
    CONF_NODES,
    CONF_SENTINEL_USERNAME,
    CONF_SENTINEL_PASSWORD,
    CONF_CA_CERT,
    CONF_DEVICE_KEY,
    SERIAL_LABEL,
    "serial_number",
}
# The SER# line of a raw block: label, tab, value up to the line end.
_RAW_SERIAL = re.compile(r"(?m)^(SER#\t)[^\r\n]*")


def _jsonable(value: Value) -> object:
    """Decoded values as JSON: codes as {code, key}, flag sets as {code, keys}, the rest as is."""
    if isinstance(value, VeFlags):
        return {"code": int(value), "keys": value.keys}
    if isinstance(value, VeCode):
        return {"code": int(value), "key": value.key}
    return value


def _vedirect_diagnostics(runtime: VeDirectRuntime) -> dict[str, Any]:
    coordinator, client = runtime.coordinator, runtime.client
    sample = coordinator.data
    frame = None if sample is None else sample.frame
    last_raw = client.last_raw
    return {
        "link": {
            "state": None if client.link_state is None else str(client.link_state),
            "port_open": client.is_port_open,
            "connections": client.connections,
            "last_update_success": coordinator.last_update_success,
        },
        "counters": asdict(client.stats),
        "last_raw_block": None
        if last_raw is None
        else _RAW_SERIAL.sub(rf"\g<1>{REDACTED}", last_raw.decode("ascii", "backslashreplace")),
        "device": None
        if frame is None
        else {
            "product_id": frame.product_id,
            "product_name": frame.product_name,
            "serial_number": frame.serial_number,
            "firmware": frame.firmware,
        },
        "fields": {} if frame is None else dict(frame.fields),
        "values": {} if frame is None else {label: _jsonable(value) for label, value in frame.values.items()},
        "last_sample": None if sample is None else sample.timestamp.isoformat(),
        "last_block": None if sample is None else sample.received_at.isoformat(),
        # Whether the device answers HEX ("no_hex_answer": text only, no settings or history entities).
        "hex": runtime.settings.diagnostics(),
        "redis_outputs": runtime.redis_outputs.diagnostics(),
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: VeMonitorConfigEntry
) -> dict[str, Any]:
    """A VE.Direct device: its link, frame and Redis outputs; a Redis server: its settings and state."""
    diagnostics: dict[str, Any] = {
        "entry": {"title": entry.title, "data": dict(entry.data), "options": dict(entry.options)}
    }
    if is_redis_server(entry):
        diagnostics["redis_server"] = await async_redis_server_diagnostics(
            entry, async_get_redis_server(hass, entry.entry_id)
        )
        diagnostics["redis_inputs"] = redis_inputs_diagnostics(hass, entry)
    elif is_vedirect(entry) and entry.state is ConfigEntryState.LOADED:
        diagnostics["vedirect"] = _vedirect_diagnostics(entry.runtime_data)
    else:
        diagnostics["vedirect"] = {"redis_outputs": redis_outputs_diagnostics(entry)}
    return async_redact_data(diagnostics, TO_REDACT)
