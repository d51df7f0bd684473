"""Config flow steps of Redis server entries: add (a menu of the three kinds, then the kind's form, tested
first), reauthenticate, reconfigure (the menu again: the kind may change, then the kind's form, prefilled).

`RedisServerFlow` is a base class of the integration's config flow (which owns the domain and the menu). The
forms themselves (fields, checks, stored data, the test of the server) are in redis_server_forms.
"""

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PASSWORD, CONF_USERNAME
from homeassistant.helpers.selector import TextSelector
import voluptuous as vol

from .const import CONF_DB, CONF_ENTRY_TYPE, CONF_SENTINEL_PASSWORD, ENTRY_TYPE_REDIS_SERVER
from .flow_forms import PASSWORD_SELECTOR, USERNAME_SELECTOR, form_schema, redisplayed
from .redis_server import redis_server_entries, same_server, server_kind
from .redis_server_forms import (
    CONNECTION_FIELDS,
    REAUTH_FIELDS,
    add_fields,
    async_probe_redis_server,
    connection_data,
    connection_schema,
    credentials,
    describe_address,
    form_defaults,
    has_db,
)
from .redis_worker import CLUSTER, SENTINEL, SINGLE, ServerKind
from .validation import validate_form

# The menu option (and form step) of each kind, when adding and when reconfiguring.
ADD_STEPS: dict[ServerKind, str] = {
    SINGLE: "redis_single",
    SENTINEL: "redis_sentinel",
    CLUSTER: "redis_cluster",
}
RECONFIGURE_STEPS: dict[ServerKind, str] = {kind: f"reconfigure_{step}" for kind, step in ADD_STEPS.items()}


class RedisServerFlow(ConfigFlow):
    """Steps of the Redis server entries, mixed into the integration's config flow."""

    def _redis_server_configured(self, data: Mapping[str, Any], *, editing: str | None = None) -> bool:
        """Whether another Redis server entry already writes to the same database (see same_server)."""
        return any(
            same_server(entry.data, data)
            for entry in redis_server_entries(self.hass)
            if entry.entry_id != editing
        )

    async def async_step_redis_server(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add a Redis server: which kind of Redis it is."""
        return self.async_show_menu(step_id="redis_server", menu_options=list(ADD_STEPS.values()))

    async def async_step_redis_single(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add one Redis server (with or without replicas)."""
        return await self._async_add_server(SINGLE, user_input)

    async def async_step_redis_sentinel(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add a master watched by Redis Sentinel: the sentinels and the master's name."""
        return await self._async_add_server(SENTINEL, user_input)

    async def async_step_redis_cluster(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add a Redis Cluster: some of its nodes."""
        return await self._async_add_server(CLUSTER, user_input)

    async def _async_add_server(
        self, kind: ServerKind, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """The add form of a kind: checked, compared with the other entries, then the server tested."""
        errors: dict[str, str] = {}
        fields = add_fields(kind)
        if user_input is not None:
            values, errors = validate_form(user_input, fields)
            if CONF_NAME not in errors and any(
                entry.data.get(CONF_NAME) == values[CONF_NAME] for entry in redis_server_entries(self.hass)
            ):
                errors[CONF_NAME] = "redis_name_in_use"
            if not errors:
                data = {
                    CONF_ENTRY_TYPE: ENTRY_TYPE_REDIS_SERVER,
                    CONF_DB: 0,
                    **connection_data(kind, values, user_input, {}),
                }
                if self._redis_server_configured(data):
                    return self.async_abort(reason="already_configured")
                if not (errors := await async_probe_redis_server(data, fields)):
                    return self.async_create_entry(title=data[CONF_NAME], data=data)
        schema = form_schema(
            {vol.Required(CONF_NAME): TextSelector(), **connection_schema(kind, {}, db=has_db(kind))}
        )
        return self.async_show_form(
            step_id=ADD_STEPS[kind],
            data_schema=self.add_suggested_values_to_schema(schema, redisplayed(user_input)),
            errors=errors,
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The server refused the stored credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for new credentials (of the master, and of the sentinels) and check them before storing."""
        entry = self._get_reauth_entry()
        kind = server_kind(entry.data)
        fields = REAUTH_FIELDS[kind]
        errors: dict[str, str] = {}
        if user_input is not None:
            values, errors = validate_form(user_input, fields)
            if not errors:
                updates = credentials(kind, values, entry.data)
                if not (errors := await async_probe_redis_server({**entry.data, **updates}, fields)):
                    return self.async_update_reload_and_abort(
                        entry, data_updates=updates, reason="redis_reauth_successful"
                    )
        schema: dict[Any, Any] = {
            vol.Optional(
                CONF_USERNAME, description={"suggested_value": entry.data.get(CONF_USERNAME)}
            ): USERNAME_SELECTOR,
            vol.Optional(CONF_PASSWORD): PASSWORD_SELECTOR,
        }
        if CONF_SENTINEL_PASSWORD in fields:
            schema[vol.Optional(CONF_SENTINEL_PASSWORD)] = PASSWORD_SELECTOR
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=form_schema(schema),
            errors=errors,
            description_placeholders={CONF_NAME: entry.title, CONF_HOST: describe_address(entry.data)},
        )

    async def async_step_reconfigure_redis_server(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change how a Redis server is reached: its kind first (the same, or another one)."""
        entry = self._get_reconfigure_entry()
        return self.async_show_menu(
            step_id="reconfigure_redis_server",
            menu_options=list(RECONFIGURE_STEPS.values()),
            description_placeholders={CONF_NAME: entry.title},
        )

    async def async_step_reconfigure_redis_single(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Reach the server as one Redis server."""
        return await self._async_reconfigure_server(SINGLE, user_input)

    async def async_step_reconfigure_redis_sentinel(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Reach the server through Redis Sentinel."""
        return await self._async_reconfigure_server(SENTINEL, user_input)

    async def async_step_reconfigure_redis_cluster(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Reach the server as a Redis Cluster."""
        return await self._async_reconfigure_server(CLUSTER, user_input)

    async def _async_reconfigure_server(
        self, kind: ServerKind, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """The form of a kind, filled with the entry's values: the whole connection is replaced (the name and
        the database stay; a cluster has database 0 only), tested first."""
        entry = self._get_reconfigure_entry()
        fields = CONNECTION_FIELDS[kind]
        errors: dict[str, str] = {}
        if user_input is not None:
            values, errors = validate_form(user_input, fields)
            if not errors:
                data = {
                    CONF_ENTRY_TYPE: ENTRY_TYPE_REDIS_SERVER,
                    CONF_NAME: entry.data.get(CONF_NAME, entry.title),
                    CONF_DB: int(entry.data.get(CONF_DB, 0)) if has_db(kind) else 0,
                    **connection_data(kind, values, user_input, entry.data),
                }
                if self._redis_server_configured(data, editing=entry.entry_id):
                    return self.async_abort(reason="already_configured")
                if not (errors := await async_probe_redis_server(data, fields)):
                    return self.async_update_reload_and_abort(
                        entry, data=data, reason="redis_reconfigure_successful"
                    )
        schema = form_schema(connection_schema(kind, form_defaults(kind, entry.data)))
        return self.async_show_form(
            step_id=RECONFIGURE_STEPS[kind],
            data_schema=self.add_suggested_values_to_schema(schema, redisplayed(user_input)),
            errors=errors,
            description_placeholders={CONF_NAME: entry.title},
        )
