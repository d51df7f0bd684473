"""Config flow of VE Monitor: VE.Direct devices here, Redis servers and outputs in redis_flow.py."""

from collections.abc import Mapping
import re
from typing import Any, override

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
    OptionsFlowWithReload,
)
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SerialPortSelector,
    TextSelector,
)
from homeassistant.helpers.service_info.usb import UsbServiceInfo
import voluptuous as vol

from .const import (
    CONF_ENTRY_TYPE,
    CONF_NAME,
    CONF_PORT,
    CONF_TIME_INTERVAL,
    DEFAULT_TIME_INTERVAL,
    DOMAIN,
    ENTRY_TYPE_REDIS_SERVER,
    ENTRY_TYPE_VEDIRECT,
    NAME_PATTERN,
    SUBENTRY_REDIS_OUTPUT,
)
from .identity import (
    DeviceIdentity,
    ProbeError,
    async_probe_identity,
    async_probe_moved_device,
    async_same_port,
    async_stable_port,
)
from .redis_flow import RedisOutputSubentryFlow, RedisServerFlow

TIME_INTERVAL_SELECTOR = NumberSelector(
    NumberSelectorConfig(min=1, max=3600, step=1, mode=NumberSelectorMode.BOX, unit_of_measurement="s")
)


def form_schema(fields: Mapping[Any, Any]) -> Any:
    """A form schema. Typed Any on purpose: HA 2026.9+ annotates probatio.Schema, 2026.5 voluptuous.Schema,
    and `voluptuous` is the right one of the two at runtime in each (HA installs probatio under that name).
    """
    return vol.Schema(fields)


def _suggested_name(identity: DeviceIdentity) -> str:
    """A valid block name from the product name, e.g. "SmartSolar_MPPT_100_20"."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", identity.product_name).strip("_") or "VE_Direct"


def _time_interval(user_input: dict[str, Any]) -> int:
    """The number selector gives a float; the block's time_interval is whole seconds."""
    return int(user_input.get(CONF_TIME_INTERVAL, DEFAULT_TIME_INTERVAL))


class VeMonitorConfigFlow(RedisServerFlow, domain=DOMAIN):
    """VE.Direct devices (block items) and, through RedisServerFlow, Redis servers (appConnectors)."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with nothing discovered."""
        super().__init__()
        self._discovered_port: str | None = None
        self._discovered_identity: DeviceIdentity | None = None

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask which kind of entry to add."""
        return self.async_show_menu(
            step_id="user", menu_options=[ENTRY_TYPE_VEDIRECT, ENTRY_TYPE_REDIS_SERVER]
        )

    async def async_step_vedirect(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add a VE.Direct device: name, port (local or URL) and time_interval, tested before creating."""
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_NAME].strip()
            port = user_input[CONF_PORT].strip()
            if error := self._name_error(name):
                errors[CONF_NAME] = error
            else:
                try:
                    identity = await async_probe_identity(port)
                except ProbeError as err:
                    errors["base"] = err.reason
                else:
                    port = await async_stable_port(self.hass, port)
                    await self.async_set_unique_id(identity.unique_id(port))
                    self._abort_if_unique_id_configured()
                    return self._create_vedirect_entry(name, port, _time_interval(user_input))
        schema = form_schema(
            {
                vol.Required(CONF_NAME): TextSelector(),
                vol.Required(CONF_PORT): SerialPortSelector(),
                vol.Required(CONF_TIME_INTERVAL, default=DEFAULT_TIME_INTERVAL): TIME_INTERVAL_SELECTOR,
            }
        )
        return self.async_show_form(
            step_id=ENTRY_TYPE_VEDIRECT,
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    @override
    async def async_step_usb(self, discovery_info: UsbServiceInfo) -> ConfigFlowResult:
        """A VE.Direct USB cable was plugged in: probe it, and keep the stable /dev/serial/by-id path."""
        port = await async_stable_port(self.hass, discovery_info.device)
        for entry in self._async_current_entries(include_ignore=False):
            if entry.data.get(CONF_ENTRY_TYPE) != ENTRY_TYPE_VEDIRECT:
                continue
            if await async_same_port(self.hass, entry.data[CONF_PORT], discovery_info.device):
                # Already read by this entry (maybe as /dev/ttyUSBn): keep the stable path; no probe, as the
                # entry's client reads the port (two readers would split the byte stream).
                return self.async_update_reload_and_abort(
                    entry,
                    data_updates={CONF_PORT: port},
                    reason="already_configured",
                    reload_even_if_entry_is_unchanged=False,
                )
        try:
            identity = await async_probe_identity(port)
        except ProbeError as err:
            return self.async_abort(reason=err.reason)
        await self.async_set_unique_id(identity.unique_id(port))
        self._abort_if_unique_id_configured(updates={CONF_PORT: port})
        self._discovered_port = port
        self._discovered_identity = identity
        self.context["title_placeholders"] = {"product": identity.product_name}
        return await self.async_step_usb_confirm()

    async def async_step_usb_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Confirm a discovered device and give it a block name."""
        assert self._discovered_port is not None
        assert self._discovered_identity is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_NAME].strip()
            if error := self._name_error(name):
                errors[CONF_NAME] = error
            else:
                return self._create_vedirect_entry(name, self._discovered_port, _time_interval(user_input))
        schema = form_schema(
            {
                vol.Required(CONF_NAME): TextSelector(),
                vol.Required(CONF_TIME_INTERVAL, default=DEFAULT_TIME_INTERVAL): TIME_INTERVAL_SELECTOR,
            }
        )
        return self.async_show_form(
            step_id="usb_confirm",
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or {CONF_NAME: _suggested_name(self._discovered_identity)}
            ),
            description_placeholders={
                "product": self._discovered_identity.product_name,
                CONF_PORT: self._discovered_port,
            },
            errors=errors,
        )

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change the port of a VE.Direct device (re-probed; must be the same device)."""
        entry = self._get_reconfigure_entry()
        if entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_REDIS_SERVER:
            return await self.async_step_reconfigure_redis_server(user_input)
        errors: dict[str, str] = {}
        if user_input is not None:
            port = user_input[CONF_PORT].strip()
            if await async_same_port(self.hass, entry.data[CONF_PORT], port):
                # The same port: the entry's client reads it (a probe would split its byte stream).
                return self.async_update_reload_and_abort(entry, data_updates={CONF_PORT: port})
            try:
                port, unique_id = await async_probe_moved_device(self.hass, entry, port)
            except ProbeError as err:
                if err.reason == "other_device":
                    return self.async_abort(reason="unique_id_mismatch")
                errors["base"] = err.reason
            else:
                # A BMV's unique_id names its port; its device and entities keep their ids (device_key).
                return self.async_update_reload_and_abort(
                    entry, unique_id=unique_id, data_updates={CONF_PORT: port}
                )
        schema = form_schema({vol.Required(CONF_PORT): SerialPortSelector()})
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or dict(entry.data)),
            description_placeholders={CONF_NAME: entry.title},
            errors=errors,
        )

    def _name_error(self, name: str) -> str | None:
        """The translated error key for a block name, or None when it is valid and free."""
        if not NAME_PATTERN.match(name):
            return "invalid_name"
        for entry in self._async_current_entries(include_ignore=False):
            if entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_VEDIRECT and entry.data.get(CONF_NAME) == name:
                return "name_in_use"
        return None

    def _create_vedirect_entry(self, name: str, port: str, time_interval: int) -> ConfigFlowResult:
        """Connection settings in data, the tunable time_interval in options."""
        return self.async_create_entry(
            title=name,
            data={CONF_ENTRY_TYPE: ENTRY_TYPE_VEDIRECT, CONF_NAME: name, CONF_PORT: port},
            options={CONF_TIME_INTERVAL: time_interval},
        )

    @classmethod
    @callback
    @override
    def async_supports_options_flow(cls, config_entry: ConfigEntry) -> bool:
        """Only VE.Direct devices have options (time_interval)."""
        return config_entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_VEDIRECT

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """The VE.Direct options flow."""
        return VeDirectOptionsFlow()

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Redis outputs hang under VE.Direct devices only."""
        if config_entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_VEDIRECT:
            return {SUBENTRY_REDIS_OUTPUT: RedisOutputSubentryFlow}
        return {}


class VeDirectOptionsFlow(OptionsFlowWithReload):
    """Change the sampling interval; the entry reloads so the coordinator and outputs use it."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Edit time_interval."""
        if user_input is not None:
            return self.async_create_entry(data={CONF_TIME_INTERVAL: _time_interval(user_input)})
        schema = form_schema({vol.Required(CONF_TIME_INTERVAL): TIME_INTERVAL_SELECTOR})
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                schema,
                {
                    CONF_TIME_INTERVAL: self.config_entry.options.get(
                        CONF_TIME_INTERVAL, DEFAULT_TIME_INTERVAL
                    )
                },
            ),
        )
