"""Config flow of VE Monitor: the menu and the VE.Direct steps (Redis servers: redis_server_flow.py; the
import of a vemonitor configuration: import_flow.py)."""

from collections.abc import Callable, Mapping
import re
from typing import Any, override

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_NAME, CONF_PORT
from homeassistant.core import callback
from homeassistant.data_entry_flow import UnknownHandler
from homeassistant.helpers.selector import BooleanSelector, SerialPortSelector, TextSelector
from homeassistant.helpers.service_info.usb import UsbServiceInfo
import voluptuous as vol

from .const import (
    CONF_ALLOW_CONTROL,
    CONF_ENTITY_INTERVAL,
    CONF_ENTRY_TYPE,
    CONF_TIME_INTERVAL,
    DEFAULT_ENTITY_INTERVAL,
    DEFAULT_TIME_INTERVAL,
    DOMAIN,
    ENTRY_MINOR_VERSION,
    ENTRY_TYPE_REDIS_SERVER,
    ENTRY_TYPE_VEDIRECT,
    SUBENTRY_REDIS_INPUT,
    SUBENTRY_REDIS_OUTPUT,
)
from .flow_forms import form_schema, number_selector, redisplayed
from .identity import (
    DeviceIdentity,
    ProbeError,
    async_probe_identity,
    async_probe_moved_device,
    async_same_port,
    async_stable_port,
)
from .import_flow import IMPORT_STEP, VemonitorImportFlow
from .models import VeMonitorConfigEntry, is_redis_server, is_vedirect
from .redis_input_flow import RedisInputSubentryFlow
from .redis_output_flow import RedisOutputSubentryFlow
from .redis_server_flow import RedisServerFlow
from .validation import (
    ENTITY_INTERVAL_MAX,
    ENTITY_INTERVAL_MIN,
    TIME_INTERVAL_MAX,
    TIME_INTERVAL_MIN,
    InvalidInput,
    check_entity_interval,
    valid_entity_interval,
    valid_flag,
    valid_name,
    valid_serial_port,
    valid_time_interval,
    validate_form,
)

TIME_INTERVAL_SELECTOR = number_selector(TIME_INTERVAL_MIN, TIME_INTERVAL_MAX, "s")
ENTITY_INTERVAL_SELECTOR = number_selector(ENTITY_INTERVAL_MIN, ENTITY_INTERVAL_MAX, "s")


def new_entity_interval(time_interval: int) -> int:
    """A new device's entity interval: DEFAULT_ENTITY_INTERVAL, or its time interval when that is longer.

    Redis outputs store every sample whatever this is; the recorder writes a row per changed entity state,
    so refreshing entities every few seconds rather than every second divides its rows (and their writes
    to the SD card of a Raspberry Pi) by as much, for dashboards a few seconds behind.
    """
    return max(DEFAULT_ENTITY_INTERVAL, time_interval)


def _suggested_name(identity: DeviceIdentity) -> str:
    """A valid block name from the product name, e.g. "SmartSolar_MPPT_100_20"."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", identity.product_name).strip("_") or "VE_Direct"


_INTERVAL_FIELDS: dict[str, Callable[[Any], object]] = {CONF_TIME_INTERVAL: valid_time_interval}
_OPTIONS_FIELDS: dict[str, Callable[[Any], object]] = {
    **_INTERVAL_FIELDS,
    CONF_ENTITY_INTERVAL: valid_entity_interval,
    CONF_ALLOW_CONTROL: valid_flag,
}
_PORT_FIELDS: dict[str, Callable[[Any], object]] = {CONF_PORT: valid_serial_port}
_CONFIRM_FIELDS: dict[str, Callable[[Any], object]] = {CONF_NAME: valid_name, **_INTERVAL_FIELDS}
_DEVICE_FIELDS: dict[str, Callable[[Any], object]] = {**_CONFIRM_FIELDS, **_PORT_FIELDS}


class VeMonitorConfigFlow(RedisServerFlow, VemonitorImportFlow, domain=DOMAIN):
    """VE.Direct devices, and Redis servers (RedisServerFlow), and the import of a vemonitor configuration
    (VemonitorImportFlow)."""

    VERSION = 1
    # 1.2: VE.Direct options hold entity_interval; 1.3: VE.Direct data its device key (async_migrate_entry)
    MINOR_VERSION = ENTRY_MINOR_VERSION

    def __init__(self) -> None:
        """Start with nothing discovered."""
        super().__init__()
        self._discovered_port: str | None = None
        self._discovered_identity: DeviceIdentity | None = None

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask which kind of entry to add."""
        return self.async_show_menu(
            step_id="user", menu_options=[ENTRY_TYPE_VEDIRECT, ENTRY_TYPE_REDIS_SERVER, IMPORT_STEP]
        )

    async def async_step_vedirect(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add a VE.Direct device: name, port (local or URL) and time_interval, tested before creating."""
        errors: dict[str, str] = {}
        if user_input is not None:
            values, errors = self._validate_device(user_input, _DEVICE_FIELDS)
            if not errors:
                try:
                    identity = await async_probe_identity(values[CONF_PORT])
                except ProbeError as err:
                    errors["base"] = err.reason
                else:
                    port = await async_stable_port(self.hass, values[CONF_PORT])
                    await self.async_set_unique_id(identity.unique_id(port))
                    self._abort_if_unique_id_configured()
                    return self._create_vedirect_entry(values[CONF_NAME], port, values[CONF_TIME_INTERVAL])
        schema = form_schema(
            {
                vol.Required(CONF_NAME): TextSelector(),
                vol.Required(CONF_PORT): SerialPortSelector(),
                vol.Required(CONF_TIME_INTERVAL, default=DEFAULT_TIME_INTERVAL): TIME_INTERVAL_SELECTOR,
            }
        )
        return self.async_show_form(
            step_id=ENTRY_TYPE_VEDIRECT,
            data_schema=self.add_suggested_values_to_schema(schema, redisplayed(user_input)),
            errors=errors,
        )

    @override
    async def async_step_usb(self, discovery_info: UsbServiceInfo) -> ConfigFlowResult:
        """A VE.Direct USB cable was plugged in: probe it, and keep the stable /dev/serial/by-id path."""
        port = await async_stable_port(self.hass, discovery_info.device)
        for entry in self._async_current_entries(include_ignore=False):
            if is_vedirect(entry) and await async_same_port(
                self.hass, entry.data[CONF_PORT], discovery_info.device
            ):
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
        """Confirm a discovered device and give it a name."""
        assert self._discovered_port is not None
        assert self._discovered_identity is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            values, errors = self._validate_device(user_input, _CONFIRM_FIELDS)
            if not errors:
                return self._create_vedirect_entry(
                    values[CONF_NAME], self._discovered_port, values[CONF_TIME_INTERVAL]
                )
        schema = form_schema(
            {
                vol.Required(CONF_NAME): TextSelector(),
                vol.Required(CONF_TIME_INTERVAL, default=DEFAULT_TIME_INTERVAL): TIME_INTERVAL_SELECTOR,
            }
        )
        return self.async_show_form(
            step_id="usb_confirm",
            data_schema=self.add_suggested_values_to_schema(
                schema, redisplayed(user_input) or {CONF_NAME: _suggested_name(self._discovered_identity)}
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
        if is_redis_server(entry):
            return await self.async_step_reconfigure_redis_server(user_input)
        errors: dict[str, str] = {}
        if user_input is not None:
            values, errors = validate_form(user_input, _PORT_FIELDS)
            port = values.get(CONF_PORT, "")
            if errors:
                pass  # shown on the port field
            elif await async_same_port(self.hass, entry.data[CONF_PORT], port):
                # The same port: the entry's client reads it (a probe would split its byte stream).
                return self.async_update_reload_and_abort(entry, data_updates={CONF_PORT: port})
            else:
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
            data_schema=self.add_suggested_values_to_schema(
                schema, redisplayed(user_input) or dict(entry.data)
            ),
            description_placeholders={CONF_NAME: entry.title},
            errors=errors,
        )

    def _validate_device(
        self, user_input: dict[str, Any], fields: Mapping[str, Callable[[Any], object]]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The form's values and errors; a valid name must also be free among the VE.Direct devices."""
        values, errors = validate_form(user_input, fields)
        if CONF_NAME not in errors and any(
            is_vedirect(entry) and entry.data.get(CONF_NAME) == values[CONF_NAME]
            for entry in self._async_current_entries(include_ignore=False)
        ):
            errors[CONF_NAME] = "name_in_use"
        return values, errors

    def _create_vedirect_entry(self, name: str, port: str, time_interval: int) -> ConfigFlowResult:
        """Connection settings in data, the tunable intervals in options."""
        return self.async_create_entry(
            title=name,
            data={CONF_ENTRY_TYPE: ENTRY_TYPE_VEDIRECT, CONF_NAME: name, CONF_PORT: port},
            options={
                CONF_TIME_INTERVAL: time_interval,
                CONF_ENTITY_INTERVAL: new_entity_interval(time_interval),
            },
        )

    @classmethod
    @callback
    @override
    def async_supports_options_flow(cls, config_entry: ConfigEntry) -> bool:
        """Only VE.Direct devices have options (time_interval)."""
        return is_vedirect(config_entry)

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: VeMonitorConfigEntry) -> OptionsFlow:
        """The VE.Direct options flow. A Redis server has none: the UI offers no Configure button for it
        (async_supports_options_flow), and a flow started anyway (REST API) finds no handler (HTTP 404)."""
        if not is_vedirect(config_entry):
            raise UnknownHandler
        return VeDirectOptionsFlow()

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Redis outputs hang under VE.Direct devices, Redis inputs under Redis servers."""
        if is_vedirect(config_entry):
            return {SUBENTRY_REDIS_OUTPUT: RedisOutputSubentryFlow}
        return {SUBENTRY_REDIS_INPUT: RedisInputSubentryFlow}


class VeDirectOptionsFlow(OptionsFlowWithReload):
    """Change the sampling and entity intervals and whether the device may be controlled; the entry reloads
    so the coordinator, the outputs and the control entities follow."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Edit time_interval, entity_interval (empty: entities follow every sample) and allow_control."""
        errors: dict[str, str] = {}
        if user_input is not None:
            values, errors = validate_form(user_input, _OPTIONS_FIELDS)
            if not errors:
                try:
                    entity_interval = check_entity_interval(
                        values[CONF_TIME_INTERVAL], values.pop(CONF_ENTITY_INTERVAL, None)
                    )
                except InvalidInput as err:
                    errors[CONF_ENTITY_INTERVAL] = err.key
            if not errors:
                if entity_interval is not None:  # empty: none stored, entities follow every sample
                    values[CONF_ENTITY_INTERVAL] = entity_interval
                return self.async_create_entry(data=values)
        options = self.config_entry.options
        shown = {
            CONF_TIME_INTERVAL: options.get(CONF_TIME_INTERVAL, DEFAULT_TIME_INTERVAL),
            CONF_ALLOW_CONTROL: bool(options.get(CONF_ALLOW_CONTROL, False)),
        }
        if options.get(CONF_ENTITY_INTERVAL) is not None:
            shown[CONF_ENTITY_INTERVAL] = options[CONF_ENTITY_INTERVAL]
        schema = form_schema(
            {
                vol.Required(CONF_TIME_INTERVAL): TIME_INTERVAL_SELECTOR,
                vol.Optional(CONF_ENTITY_INTERVAL): ENTITY_INTERVAL_SELECTOR,
                vol.Optional(CONF_ALLOW_CONTROL): BooleanSelector(),
            }
        )
        return self.async_show_form(
            step_id="init",
            errors=errors,
            data_schema=self.add_suggested_values_to_schema(
                schema,
                redisplayed(user_input) or shown,
            ),
        )
