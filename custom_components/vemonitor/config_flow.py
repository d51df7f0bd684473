"""Config flow for VE Monitor (replaced by the HA-layer work of issue 4)."""

from homeassistant.config_entries import ConfigFlow

from .const import DOMAIN


class VeMonitorConfigFlow(ConfigFlow, domain=DOMAIN):
    """VE Monitor config flow."""

    VERSION = 1
