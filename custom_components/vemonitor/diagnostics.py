"""Diagnostics download: settings (redacted), the last raw block, the decoded frame, counters, link state."""

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant

from .const import CONF_ENTRY_TYPE, CONF_PASSWORD, ENTRY_TYPE_VEDIRECT
from .coordinator import VeDirectRuntime
from .redis_runtime import async_get_redis_diagnostics
from .vedirect.codes import VeCode, VeFlags
from .vedirect.fields import Value

TO_REDACT = {CONF_PASSWORD}


def _jsonable(value: Value) -> object:
    """Decoded values as JSON: codes as {code, key}, flag sets as {code, keys}, the rest as is."""
    if isinstance(value, VeFlags):
        return {"code": int(value), "keys": value.keys}
    if isinstance(value, VeCode):
        return {"code": int(value), "key": value.key}
    return value


def _vedirect_diagnostics(runtime: VeDirectRuntime) -> dict[str, Any]:
    coordinator = runtime.coordinator
    client = runtime.client
    frame = coordinator.frame
    last_raw = client.last_raw
    return {
        "link": {
            "state": None if coordinator.link_state is None else str(coordinator.link_state),
            "port_open": client.is_port_open,
            "connections": client.connections,
            "last_update_success": coordinator.last_update_success,
            "last_block_at": None
            if coordinator.last_block_at is None
            else coordinator.last_block_at.isoformat(),
            "stall_after_seconds": coordinator.stall_after.total_seconds(),
        },
        "counters": asdict(client.stats),
        "last_raw_block": None if last_raw is None else last_raw.decode("ascii", "backslashreplace"),
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
        "last_sample": None if coordinator.data is None else coordinator.data.timestamp.isoformat(),
    }


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: ConfigEntry) -> dict[str, Any]:
    """A VE.Direct entry: its link and frame; both kinds: the Redis part (passwords never shown)."""
    diagnostics: dict[str, Any] = {
        "entry": {
            "title": entry.title,
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": async_redact_data(dict(entry.options), TO_REDACT),
        }
    }
    if entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_VEDIRECT and entry.state is ConfigEntryState.LOADED:
        diagnostics["vedirect"] = _vedirect_diagnostics(entry.runtime_data)
    return diagnostics | await async_get_redis_diagnostics(hass, entry)
