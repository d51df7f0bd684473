"""Config flow steps of Redis server entries: add (tested first), reauthenticate, reconfigure.

`RedisServerFlow` is a base class of the integration's config flow (which owns the domain and the menu).
"""

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.helpers.selector import BooleanSelector, TextSelector
import voluptuous as vol

from .const import (
    CONF_CA_CERT,
    CONF_DB,
    CONF_ENTRY_TYPE,
    CONF_TLS,
    CONF_TLS_VERIFY,
    DEFAULT_REDIS_PORT,
    ENTRY_TYPE_REDIS_SERVER,
    LOGGER,
)
from .flow_forms import (
    MULTILINE_SELECTOR,
    PASSWORD_SELECTOR,
    USERNAME_SELECTOR,
    form_schema,
    number_selector,
    redisplayed,
)
from .redis_server import error_key, redis_server_entries, server_identity, settings_from_data
from .redis_worker import RedisWorkerError, probe
from .validation import (
    REDIS_DB_MAX,
    REDIS_DB_MIN,
    REDIS_PORT_MAX,
    REDIS_PORT_MIN,
    valid_ca_cert,
    valid_host,
    valid_name,
    valid_password,
    valid_redis_db,
    valid_redis_port,
    valid_username,
    validate_form,
)

PORT_SELECTOR = number_selector(REDIS_PORT_MIN, REDIS_PORT_MAX)
DB_SELECTOR = number_selector(REDIS_DB_MIN, REDIS_DB_MAX)

_CREDENTIAL_FIELDS: dict[str, Callable[[Any], object]] = {
    CONF_USERNAME: valid_username,
    CONF_PASSWORD: valid_password,
}
_CONNECTION_FIELDS: dict[str, Callable[[Any], object]] = {
    CONF_HOST: valid_host,
    CONF_PORT: valid_redis_port,
    CONF_CA_CERT: valid_ca_cert,
    **_CREDENTIAL_FIELDS,
}
_SERVER_FIELDS: dict[str, Callable[[Any], object]] = {
    CONF_NAME: valid_name,
    **_CONNECTION_FIELDS,
    CONF_DB: valid_redis_db,
}
# The field a server-side refusal is about (the others go on the whole form).
_ERROR_FIELDS = {"invalid_db": CONF_DB, "invalid_ca_cert": CONF_CA_CERT}


async def async_probe_redis_server(data: Mapping[str, Any]) -> dict[str, str]:
    """Connect, authenticate, PING and check the write permission: the form errors (none when fine), on the
    field a failure is about (a database the server lacks, a CA OpenSSL rejects), else on the form."""
    try:
        await probe(settings_from_data(data))
    except RedisWorkerError as err:
        LOGGER.debug("Probe of Redis server %r failed: %r", data.get(CONF_NAME), err)
        key = error_key(err)
        return {_ERROR_FIELDS.get(key, "base"): key}
    return {}


def _connection_schema(defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    """Fields shared by the create and reconfigure steps (name and db excluded)."""
    return {
        vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, vol.UNDEFINED)): TextSelector(),
        vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_REDIS_PORT)): PORT_SELECTOR,
        vol.Optional(
            CONF_USERNAME, description={"suggested_value": defaults.get(CONF_USERNAME)}
        ): USERNAME_SELECTOR,
        vol.Optional(CONF_PASSWORD): PASSWORD_SELECTOR,
        vol.Required(CONF_TLS, default=defaults.get(CONF_TLS, False)): BooleanSelector(),
        vol.Required(CONF_TLS_VERIFY, default=defaults.get(CONF_TLS_VERIFY, True)): BooleanSelector(),
        vol.Optional(
            CONF_CA_CERT, description={"suggested_value": defaults.get(CONF_CA_CERT)}
        ): MULTILINE_SELECTOR,
    }


def _credentials(values: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """Validated username and password: an empty password keeps the stored one, an empty username none."""
    return {
        CONF_USERNAME: values.get(CONF_USERNAME),
        CONF_PASSWORD: values.get(CONF_PASSWORD) or stored.get(CONF_PASSWORD),
    }


def _address(data: Mapping[str, Any]) -> str:
    return f"{data[CONF_HOST]}:{data[CONF_PORT]}/{data.get(CONF_DB, 0)}"


class RedisServerFlow(ConfigFlow):
    """Steps of the Redis server entries, mixed into the integration's config flow."""

    def _redis_server_configured(self, data: Mapping[str, Any], *, editing: str | None = None) -> bool:
        """Whether another Redis server entry already points at the same server and database."""
        identity = server_identity(data)
        return any(
            server_identity(entry.data) == identity
            for entry in redis_server_entries(self.hass)
            if entry.entry_id != editing
        )

    async def async_step_redis_server(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add a Redis server: test the connection, the credentials and the write permission first."""
        errors: dict[str, str] = {}
        if user_input is not None:
            values, errors = validate_form(user_input, _SERVER_FIELDS)
            if CONF_NAME not in errors and any(
                entry.data.get(CONF_NAME) == values[CONF_NAME] for entry in redis_server_entries(self.hass)
            ):
                errors[CONF_NAME] = "redis_name_in_use"
            if not errors:
                data = {
                    CONF_ENTRY_TYPE: ENTRY_TYPE_REDIS_SERVER,
                    **values,
                    CONF_TLS: bool(user_input.get(CONF_TLS)),
                    CONF_TLS_VERIFY: bool(user_input.get(CONF_TLS_VERIFY, True)),
                }
                if self._redis_server_configured(data):
                    return self.async_abort(reason="already_configured")
                if not (errors := await async_probe_redis_server(data)):
                    return self.async_create_entry(title=data[CONF_NAME], data=data)
        schema = form_schema(
            {
                vol.Required(CONF_NAME): TextSelector(),
                **_connection_schema({}),
                vol.Required(CONF_DB, default=0): DB_SELECTOR,
            }
        )
        return self.async_show_form(
            step_id="redis_server",
            data_schema=self.add_suggested_values_to_schema(schema, redisplayed(user_input)),
            errors=errors,
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The server refused the stored credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for new credentials and check them before storing."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            values, errors = validate_form(user_input, _CREDENTIAL_FIELDS)
            if not errors:
                credentials = _credentials(values, entry.data)
                if not (errors := await async_probe_redis_server({**entry.data, **credentials})):
                    return self.async_update_reload_and_abort(
                        entry, data_updates=credentials, reason="redis_reauth_successful"
                    )
        schema = form_schema(
            {
                vol.Optional(
                    CONF_USERNAME, description={"suggested_value": entry.data.get(CONF_USERNAME)}
                ): USERNAME_SELECTOR,
                vol.Optional(CONF_PASSWORD): PASSWORD_SELECTOR,
            }
        )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=schema,
            errors=errors,
            description_placeholders={CONF_NAME: entry.title, CONF_HOST: _address(entry.data)},
        )

    async def async_step_reconfigure_redis_server(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the host, port, credentials or TLS of a Redis server (its name and database stay)."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            values, errors = validate_form(user_input, _CONNECTION_FIELDS)
            if not errors:
                updates = {
                    **values,
                    CONF_TLS: bool(user_input.get(CONF_TLS)),
                    CONF_TLS_VERIFY: bool(user_input.get(CONF_TLS_VERIFY, True)),
                    **_credentials(values, entry.data),
                }
                if self._redis_server_configured({**entry.data, **updates}, editing=entry.entry_id):
                    return self.async_abort(reason="already_configured")
                if not (errors := await async_probe_redis_server({**entry.data, **updates})):
                    return self.async_update_reload_and_abort(
                        entry, data_updates=updates, reason="redis_reconfigure_successful"
                    )
        return self.async_show_form(
            step_id="reconfigure_redis_server",
            data_schema=self.add_suggested_values_to_schema(
                form_schema(_connection_schema(entry.data)), redisplayed(user_input)
            ),
            errors=errors,
            description_placeholders={CONF_NAME: entry.title},
        )
