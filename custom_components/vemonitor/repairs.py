"""Repairs: a VE.Direct port that has been missing for a while, fixed by picking the port it moved to."""

from typing import TYPE_CHECKING, Any

from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.selector import SerialPortSelector
import voluptuous as vol

from .const import CONF_PORT, DOMAIN
from .identity import ProbeError, async_probe_identity, async_stable_port

if TYPE_CHECKING:
    # Only in HA 2026.9+ (2026.5 types the results as FlowResult); annotations are not evaluated at runtime.
    from homeassistant.components.repairs.models import RepairsFlowResult

ISSUE_PORT_MISSING = "port_missing"
# Any: HA 2026.9+ types forms as probatio.Schema, 2026.5 as voluptuous.Schema; at runtime `voluptuous` is the
# right one in each (HA installs probatio under that name).
PORT_SCHEMA: Any = vol.Schema({vol.Required(CONF_PORT): SerialPortSelector()})


def _issue_id(entry: ConfigEntry) -> str:
    return f"{ISSUE_PORT_MISSING}_{entry.entry_id}"


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


@callback
def async_delete_port_missing_issue(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """The port is back."""
    ir.async_delete_issue(hass, DOMAIN, _issue_id(entry))


class PortMissingRepairFlow(RepairsFlow):
    """Pick the new port; it is probed and must hold the same device, then the entry reloads on it."""

    def __init__(self, entry_id: str) -> None:
        """Remember which entry lost its port."""
        self._entry_id = entry_id

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """The flow starts here with the issue id as input: go to the form."""
        return await self.async_step_port()

    async def async_step_port(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Ask for the port and test it."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None:
            return self.async_abort(reason="entry_removed")
        errors: dict[str, str] = {}
        if user_input is not None:
            port = user_input[CONF_PORT].strip()
            try:
                identity = await async_probe_identity(port)
            except ProbeError as err:
                errors["base"] = err.reason
            else:
                if identity.matches(entry.unique_id):
                    port = await async_stable_port(self.hass, port)
                    self.hass.config_entries.async_update_entry(
                        entry, unique_id=identity.unique_id(port), data={**entry.data, CONF_PORT: port}
                    )
                    self.hass.config_entries.async_schedule_reload(entry.entry_id)
                    return self.async_create_entry(data={})
                errors["base"] = "other_device"
        return self.async_show_form(
            step_id="port",
            data_schema=PORT_SCHEMA,
            description_placeholders={"name": entry.title, "port": entry.data[CONF_PORT]},
            errors=errors,
        )


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """The only fixable issue of this integration is the missing port."""
    assert data is not None
    return PortMissingRepairFlow(str(data["entry_id"]))
