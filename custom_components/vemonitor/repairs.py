"""Repairs: a VE.Direct port that has been missing for a while, fixed by picking the port it moved to; and the
offer of the "Energy system" dashboard (dashboard.py), taken by creating it."""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResult
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.selector import SerialPortSelector
from homeassistant.util.hass_dict import HassKey
import voluptuous as vol

from .const import DOMAIN, PORT_MISSING_AFTER
from .dashboard import ISSUE_DASHBOARD_OFFER, URL, async_create_dashboard
from .identity import ProbeError, async_probe_moved_device, is_local_port
from .validation import InvalidInput, valid_serial_port

# HA 2026.9+ returns RepairsFlowResult (a FlowResult with more keys), 2026.5 FlowResult: their common base.
type RepairsResult = FlowResult[Any, str]

ISSUE_PORT_MISSING = "port_missing"
# Any: HA 2026.9+ types forms as probatio.Schema, 2026.5 as voluptuous.Schema; at runtime `voluptuous` is the
# right one in each (HA installs probatio under that name).
PORT_SCHEMA: Any = vol.Schema({vol.Required(CONF_PORT): SerialPortSelector()})
CONFIRM_SCHEMA: Any = vol.Schema({})

# Since when each entry's local port has been seen missing. In hass.data, not in the entry's runtime data,
# so that the time counts across setup retries too (a port already gone when Home Assistant starts).
PORT_MISSING_SINCE: HassKey[dict[str, datetime]] = HassKey(f"{DOMAIN}_port_missing_since")


def _issue_id(entry: ConfigEntry) -> str:
    return f"{ISSUE_PORT_MISSING}_{entry.entry_id}"


@callback
def async_check_port(hass: HomeAssistant, entry: ConfigEntry, now: datetime) -> None:
    """While the link is down (or setup cannot open the port): raise the issue once the entry's local port
    has been missing for PORT_MISSING_AFTER s; clear it when the path is back.

    A stat of a device node, done only while the link is down: too cheap for an executor hop.
    """
    port: str = entry.data[CONF_PORT]
    if not is_local_port(port) or Path(port).exists():
        async_port_is_back(hass, entry)
        return
    since = hass.data.setdefault(PORT_MISSING_SINCE, {}).setdefault(entry.entry_id, now)
    if now - since >= timedelta(seconds=PORT_MISSING_AFTER):
        async_create_port_missing_issue(hass, entry)


@callback
def async_port_is_back(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """The port exists again or delivered data (or the entry is removed): forget it, remove the issue."""
    if hass.data.get(PORT_MISSING_SINCE, {}).pop(entry.entry_id, None) is not None:
        ir.async_delete_issue(hass, DOMAIN, _issue_id(entry))


@callback
def async_create_port_missing_issue(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """The configured local port is gone (unplugged, renamed by the kernel): ask the user for the new one."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        _issue_id(entry),
        is_fixable=True,
        severity=ir.IssueSeverity.ERROR,
        translation_key=ISSUE_PORT_MISSING,
        translation_placeholders={"name": entry.title, "port": entry.data[CONF_PORT]},
        data={"entry_id": entry.entry_id},
    )


class PortMissingRepairFlow(RepairsFlow):
    """Pick the new port; it is probed and must hold the same device, then the entry reloads on it."""

    def __init__(self, entry_id: str) -> None:
        """Remember which entry lost its port."""
        self._entry_id = entry_id

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsResult:
        """The flow starts here with the issue id as input: go to the form."""
        return await self.async_step_port()

    async def async_step_port(self, user_input: dict[str, Any] | None = None) -> RepairsResult:
        """Ask for the port and test it."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None:
            return self.async_abort(reason="entry_removed")
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                port = valid_serial_port(user_input.get(CONF_PORT))
                port, unique_id = await async_probe_moved_device(self.hass, entry, port)
            except InvalidInput as err:
                errors[CONF_PORT] = err.key
            except ProbeError as err:
                errors["base"] = err.reason
            else:
                self.hass.config_entries.async_update_entry(
                    entry, unique_id=unique_id, data={**entry.data, CONF_PORT: port}
                )
                self.hass.config_entries.async_schedule_reload(entry.entry_id)
                return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="port",
            data_schema=PORT_SCHEMA,
            description_placeholders={"name": entry.title, "port": entry.data[CONF_PORT]},
            errors=errors,
        )


class DashboardOfferFlow(RepairsFlow):
    """Create the "Energy system" dashboard (or update it), then link to it; a failure tells why."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsResult:
        """The flow starts here with the issue id as input: go to the confirmation."""
        return await self.async_step_confirm()

    async def async_step_confirm(self, user_input: dict[str, Any] | None = None) -> RepairsResult:
        """What the dashboard will show; submitted, it is made (the action deletes the offer)."""
        if user_input is None:
            return self.async_show_form(
                step_id="confirm", data_schema=CONFIRM_SCHEMA, description_placeholders={"url": URL}
            )
        try:
            await async_create_dashboard(self.hass)
        except HomeAssistantError as err:
            return self.async_abort(
                reason="dashboard_not_created", description_placeholders={"error": str(err)}
            )
        return self.async_abort(reason="dashboard_created", description_placeholders={"url": URL})


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """The missing port (one issue per entry), or the offer of the dashboard."""
    if issue_id == ISSUE_DASHBOARD_OFFER:
        return DashboardOfferFlow()
    assert data is not None
    return PortMissingRepairFlow(str(data["entry_id"]))
