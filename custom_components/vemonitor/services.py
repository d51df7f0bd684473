"""The actions: read any register of a device's table over HEX, and write one (only where control is allowed).

For experts: the register is given by id (a number, or text such as "0xEDF0") or by its key (e.g.
"absorption_voltage"), values in base units (V, A, Ah...) or as an option key for enum registers. The
response is {register, key, value, unit}. Writes go through the device's settings (settings.async_write):
the same checks and read-back as the entities.

create_dashboard (administrators) makes or updates the "Energy system" dashboard: see dashboard.py.
"""

import math
from typing import Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.service import async_register_admin_service
import voluptuous as vol

from .const import DOMAIN
from .dashboard import SERVICE_CREATE_DASHBOARD, async_create_dashboard
from .flow_forms import form_schema
from .models import DeviceSettings, is_vedirect
from .vedirect.registers import REGISTER_TABLES, HexValue, Register, RegisterType, find_register

SERVICE_READ_REGISTER: Final = "read_register"
SERVICE_WRITE_REGISTER: Final = "write_register"
ATTR_REGISTER: Final = "register"
ATTR_VALUE: Final = "value"

_REGISTER = vol.Any(vol.All(vol.Coerce(int), vol.Range(min=0, max=0xFFFF)), cv.string)
READ_SCHEMA: Final = form_schema(
    {vol.Required(ATTR_DEVICE_ID): cv.string, vol.Required(ATTR_REGISTER): _REGISTER}
)
WRITE_SCHEMA: Final = READ_SCHEMA.extend(
    {vol.Required(ATTR_VALUE): vol.Any(vol.Coerce(float), cv.string)}  # numbers as float, option keys
)


def _settings_of(hass: HomeAssistant, device_id: str) -> DeviceSettings:
    """The HEX settings of the loaded VE.Direct entry of a device (translated errors otherwise)."""
    devices = dr.async_get(hass)
    for entry in hass.config_entries.async_entries(DOMAIN):
        if not is_vedirect(entry):
            continue
        if any(
            device.id == device_id for device in dr.async_entries_for_config_entry(devices, entry.entry_id)
        ):
            if entry.state is not ConfigEntryState.LOADED:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="device_not_loaded",
                    translation_placeholders={"name": entry.title},
                )
            return entry.runtime_data.settings
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="unknown_device",
        translation_placeholders={"device_id": device_id},
    )


def _register_of(settings: DeviceSettings, given: int | str) -> Register:
    """The register named by id or key in the device's table (none for a device without one)."""
    family = settings.family
    register_id: int | None = None
    if isinstance(given, int):
        register_id = given
    else:
        text = given.strip()
        by_key = {register.key: register for register in REGISTER_TABLES[family].values()} if family else {}
        if text in by_key:
            register_id = by_key[text].id
        else:
            try:
                register_id = int(text, 0)
            except ValueError:
                register_id = None
    register = (
        None
        if family is None or register_id is None or find_register(family, register_id) is None
        else settings.register(register_id)
    )
    if register is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_register",
            translation_placeholders={"register": str(given)},
        )
    return register


def _value_for(register: Register, value: float | str) -> HexValue:
    """An action's value as the register takes it: whole numbers for whole units, text for options."""
    if register.options is not None and not isinstance(value, str):
        code = int(value) if math.isfinite(value) and value.is_integer() else None
        return register.options.get(code, str(value)) if code is not None else str(value)  # a raw code
    if register.options is not None or register.type is RegisterType.STRING:
        return value if isinstance(value, str) else str(value)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value  # refused by the settings' check, with the register's range
    if math.isfinite(value) and register.decimals == 0 and value.is_integer():
        return int(value)
    return value


def _jsonable(value: HexValue) -> Any:
    """Response data: numbers (a flag set as its number), text and records as they are."""
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _response(register: Register, value: HexValue) -> ServiceResponse:
    return {
        "register": f"0x{register.id:04X}",
        "key": register.key,
        "value": _jsonable(value),
        "unit": register.unit,
    }


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register read_register (anyone), write_register and create_dashboard (administrators; automations run
    as the system)."""

    async def read_register(call: ServiceCall) -> ServiceResponse:
        settings = _settings_of(hass, call.data[ATTR_DEVICE_ID])
        register = _register_of(settings, call.data[ATTR_REGISTER])
        return _response(register, await settings.async_read(register))

    async def write_register(call: ServiceCall) -> ServiceResponse:
        settings = _settings_of(hass, call.data[ATTR_DEVICE_ID])
        register = _register_of(settings, call.data[ATTR_REGISTER])
        value = _value_for(register, call.data[ATTR_VALUE])
        return _response(register, await settings.async_write(register, value))

    async def create_dashboard(call: ServiceCall) -> ServiceResponse:
        return await async_create_dashboard(hass)

    hass.services.async_register(
        DOMAIN,
        SERVICE_READ_REGISTER,
        read_register,
        schema=READ_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_WRITE_REGISTER,
        write_register,
        schema=WRITE_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_CREATE_DASHBOARD,
        create_dashboard,
        supports_response=SupportsResponse.OPTIONAL,
    )
