"""Config flows of the Redis part: Redis server entries (appConnectors) and Redis output subentries.

`RedisServerFlow` is a base class the integration's config flow derives from (it owns the domain and the
user menu); `RedisOutputSubentryFlow` is the "Add Redis output" flow of a VE.Direct entry.
"""

from collections.abc import Mapping
from typing import Any, cast

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import voluptuous as vol

from .const import (
    CONF_BACKLOG_LIMIT,
    CONF_CA_CERT,
    CONF_CACHE_INTERVAL,
    CONF_COLUMNS,
    CONF_DB,
    CONF_ENTRY_TYPE,
    CONF_HOST,
    CONF_NAME,
    CONF_PASSWORD,
    CONF_REDIS_DATA_STRUCTURE,
    CONF_REDIS_NODE,
    CONF_REDIS_PORT,
    CONF_REF_COLS,
    CONF_SOURCE,
    CONF_TIME_INTERVAL,
    CONF_TLS,
    CONF_TLS_VERIFY,
    CONF_USERNAME,
    DEFAULT_CACHE_INTERVAL,
    DEFAULT_REDIS_DATA_STRUCTURE,
    DEFAULT_REDIS_PORT,
    DEFAULT_TIME_INTERVAL,
    DOMAIN,
    ENTRY_TYPE_REDIS_SERVER,
    ENTRY_TYPE_VEDIRECT,
    NAME_PATTERN,
    SUBENTRY_REDIS_OUTPUT,
)
from .redis_runtime import (
    block_field_labels,
    default_backlog_limit,
    probe_redis_server,
    redis_data_structures,
    same_redis_database,
    suggested_columns,
)

# Form-only keys of the node and ref_cols steps (not stored as such).
CONF_NODE_NAME = "node_name"
CONF_ADD_ANOTHER = "add_another"
CONF_REF_NAME = "ref_name"
CONF_REF_COLUMN = "column"

_PORT_SELECTOR = vol.All(
    NumberSelector(NumberSelectorConfig(min=1, max=65535, step=1, mode=NumberSelectorMode.BOX)),
    vol.Coerce(int),
)
_DB_SELECTOR = vol.All(
    NumberSelector(NumberSelectorConfig(min=0, max=65535, step=1, mode=NumberSelectorMode.BOX)),
    vol.Coerce(int),
)
_POSITIVE_INT_SELECTOR = vol.All(
    NumberSelector(NumberSelectorConfig(min=1, step=1, mode=NumberSelectorMode.BOX)),
    vol.Coerce(int),
)
_PASSWORD_SELECTOR = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="current-password")
)
_USERNAME_SELECTOR = TextSelector(TextSelectorConfig(autocomplete="username"))
_CA_CERT_SELECTOR = TextSelector(TextSelectorConfig(multiline=True))


def _schema(fields: Mapping[Any, Any]) -> Any:
    """A form schema. Typed Any on purpose: HA 2026.9+ annotates probatio.Schema, 2026.5 voluptuous.Schema,
    and `voluptuous` is the right one of the two at runtime in each (HA installs probatio under that name).
    """
    return vol.Schema(fields)


def _connection_schema(defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    """Fields shared by the create and reconfigure steps (name and db excluded)."""
    return {
        vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, vol.UNDEFINED)): TextSelector(),
        vol.Required(
            CONF_REDIS_PORT, default=defaults.get(CONF_REDIS_PORT, DEFAULT_REDIS_PORT)
        ): _PORT_SELECTOR,
        vol.Optional(
            CONF_USERNAME, description={"suggested_value": defaults.get(CONF_USERNAME)}
        ): _USERNAME_SELECTOR,
        vol.Optional(CONF_PASSWORD): _PASSWORD_SELECTOR,
        vol.Required(CONF_TLS, default=defaults.get(CONF_TLS, False)): BooleanSelector(),
        vol.Required(CONF_TLS_VERIFY, default=defaults.get(CONF_TLS_VERIFY, True)): BooleanSelector(),
        vol.Optional(
            CONF_CA_CERT, description={"suggested_value": defaults.get(CONF_CA_CERT)}
        ): _CA_CERT_SELECTOR,
    }


def _credentials(user_input: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """Username and password from a form: an empty password keeps the stored one, an empty username none."""
    credentials: dict[str, Any] = {CONF_USERNAME: (user_input.get(CONF_USERNAME) or "").strip() or None}
    credentials[CONF_PASSWORD] = user_input.get(CONF_PASSWORD) or stored.get(CONF_PASSWORD)
    return credentials


def _ca_cert(user_input: Mapping[str, Any]) -> str | None:
    return (user_input.get(CONF_CA_CERT) or "").strip() or None


def _redis_server_entries(hass: HomeAssistant) -> list[ConfigEntry]:
    return [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_REDIS_SERVER
    ]


class RedisServerFlow(ConfigFlow):
    """Steps of the "Redis server" entries, mixed into the integration's config flow."""

    async def async_step_redis_server(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add a Redis server: test the connection, the credentials and the write permission first."""
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_NAME].strip()
            if not NAME_PATTERN.fullmatch(name):
                errors[CONF_NAME] = "invalid_name"
            elif any(entry.data.get(CONF_NAME) == name for entry in _redis_server_entries(self.hass)):
                errors[CONF_NAME] = "redis_name_in_use"
            else:
                data = {
                    CONF_ENTRY_TYPE: ENTRY_TYPE_REDIS_SERVER,
                    CONF_NAME: name,
                    CONF_HOST: user_input[CONF_HOST].strip(),
                    CONF_REDIS_PORT: user_input[CONF_REDIS_PORT],
                    CONF_DB: user_input[CONF_DB],
                    CONF_TLS: user_input[CONF_TLS],
                    CONF_TLS_VERIFY: user_input[CONF_TLS_VERIFY],
                    CONF_CA_CERT: _ca_cert(user_input),
                    **_credentials(user_input, {}),
                }
                if (error := await probe_redis_server(data)) is None:
                    return self.async_create_entry(title=name, data=data)
                errors["base"] = error
        schema = _schema(
            {
                vol.Required(CONF_NAME): TextSelector(),
                **_connection_schema({}),
                vol.Required(CONF_DB, default=0): _DB_SELECTOR,
            }
        )
        return self.async_show_form(
            step_id="redis_server",
            data_schema=self.add_suggested_values_to_schema(schema, _without_password(user_input)),
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
            # An empty password keeps the stored one: a server or user without a password accepts any
            # password, so a stale one never has to be cleared.
            credentials = _credentials(user_input, entry.data)
            if (error := await probe_redis_server({**entry.data, **credentials})) is None:
                return self.async_update_reload_and_abort(
                    entry, data_updates=credentials, reason="redis_reauth_successful"
                )
            errors["base"] = error
        schema = _schema(
            {
                vol.Optional(
                    CONF_USERNAME, description={"suggested_value": entry.data.get(CONF_USERNAME)}
                ): _USERNAME_SELECTOR,
                vol.Optional(CONF_PASSWORD): _PASSWORD_SELECTOR,
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
            updates = {
                CONF_HOST: user_input[CONF_HOST].strip(),
                CONF_REDIS_PORT: user_input[CONF_REDIS_PORT],
                CONF_TLS: user_input[CONF_TLS],
                CONF_TLS_VERIFY: user_input[CONF_TLS_VERIFY],
                CONF_CA_CERT: _ca_cert(user_input),
                **_credentials(user_input, entry.data),
            }
            if (error := await probe_redis_server({**entry.data, **updates})) is None:
                return self.async_update_reload_and_abort(
                    entry, data_updates=updates, reason="redis_reconfigure_successful"
                )
            errors["base"] = error
        return self.async_show_form(
            step_id="reconfigure_redis_server",
            data_schema=_schema(_connection_schema(entry.data)),
            errors=errors,
            description_placeholders={CONF_NAME: entry.title},
        )


def _without_password(user_input: Mapping[str, Any] | None) -> dict[str, Any]:
    """A form's input to show again: never send a password back to the browser."""
    return {key: value for key, value in (user_input or {}).items() if key != CONF_PASSWORD}


def _address(data: Mapping[str, Any]) -> str:
    return f"{data[CONF_HOST]}:{data[CONF_REDIS_PORT]}/{data.get(CONF_DB, 0)}"


class RedisOutputSubentryFlow(ConfigSubentryFlow):
    """Add or reconfigure a Redis output of a VE.Direct entry: settings, then nodes, then references."""

    def __init__(self) -> None:
        """Start with no settings; reconfigure fills them from the subentry."""
        super().__init__()
        self._settings: dict[str, Any] = {}
        self._columns: dict[str, list[str]] = {}
        self._ref_cols: list[list[str]] = []
        # When reconfiguring: the stored nodes and references, offered one by one as suggestions.
        self._previous_nodes: list[tuple[str, list[str]]] = []
        self._previous_refs: list[list[str]] = []

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """First step: where and how often the output writes."""
        return await self._async_step_settings("user", user_input, {})

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Change an output: the same steps, filled with its current settings."""
        stored = self._get_reconfigure_subentry().data
        if user_input is None:
            self._previous_nodes = [(node, list(labels)) for node, labels in stored[CONF_COLUMNS].items()]
            self._previous_refs = [list(pair) for pair in stored.get(CONF_REF_COLS, [])]
        return await self._async_step_settings("reconfigure", user_input, stored)

    async def _async_step_settings(
        self, step_id: str, user_input: dict[str, Any] | None, stored: Mapping[str, Any]
    ) -> SubentryFlowResult:
        servers = {entry.entry_id: entry for entry in _redis_server_entries(self.hass)}
        if not servers:
            return self.async_abort(reason="no_redis_server")
        errors: dict[str, str] = {}
        if user_input is not None:
            redis_node = user_input[CONF_REDIS_NODE].strip()
            source = servers.get(user_input[CONF_SOURCE])
            if source is None:
                errors[CONF_SOURCE] = "unknown_source"
            elif not NAME_PATTERN.fullmatch(redis_node):
                errors[CONF_REDIS_NODE] = "invalid_name"
            elif self._redis_node_in_use(source, redis_node):
                errors[CONF_REDIS_NODE] = "redis_node_in_use"
            else:
                self._settings = {
                    CONF_SOURCE: source.entry_id,
                    CONF_REDIS_DATA_STRUCTURE: user_input.get(CONF_REDIS_DATA_STRUCTURE)
                    or DEFAULT_REDIS_DATA_STRUCTURE,
                    CONF_TIME_INTERVAL: user_input[CONF_TIME_INTERVAL],
                    CONF_CACHE_INTERVAL: user_input[CONF_CACHE_INTERVAL],
                    CONF_REDIS_NODE: redis_node,
                    CONF_BACKLOG_LIMIT: user_input[CONF_BACKLOG_LIMIT],
                }
                return await self.async_step_node()
        block = self._get_entry()
        defaults = {
            CONF_SOURCE: next(iter(servers)),
            CONF_REDIS_DATA_STRUCTURE: DEFAULT_REDIS_DATA_STRUCTURE,
            CONF_TIME_INTERVAL: DEFAULT_TIME_INTERVAL,
            CONF_CACHE_INTERVAL: DEFAULT_CACHE_INTERVAL,
            CONF_BACKLOG_LIMIT: default_backlog_limit(block),
            **stored,
            **_without_password(user_input),
        }
        source_options = [
            SelectOptionDict(value=entry_id, label=entry.title) for entry_id, entry in servers.items()
        ]
        schema = _schema(
            {
                vol.Required(CONF_SOURCE): SelectSelector(
                    SelectSelectorConfig(options=source_options, mode=SelectSelectorMode.DROPDOWN)
                ),
                vol.Required(CONF_REDIS_NODE): TextSelector(),
                vol.Optional(CONF_REDIS_DATA_STRUCTURE): SelectSelector(
                    SelectSelectorConfig(options=redis_data_structures(), mode=SelectSelectorMode.DROPDOWN)
                ),
                vol.Required(CONF_TIME_INTERVAL): _POSITIVE_INT_SELECTOR,
                vol.Required(CONF_CACHE_INTERVAL): _POSITIVE_INT_SELECTOR,
                vol.Required(CONF_BACKLOG_LIMIT): _POSITIVE_INT_SELECTOR,
            }
        )
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, defaults),
            errors=errors,
            description_placeholders={CONF_NAME: block.title},
        )

    def _redis_node_in_use(self, source: ConfigEntry, redis_node: str) -> bool:
        """Whether another output already writes `redis_node` to the same server and database."""
        servers = {entry.entry_id: entry for entry in _redis_server_entries(self.hass)}
        editing = self._reconfigure_subentry_id if self.source == SOURCE_RECONFIGURE else None
        for block in self.hass.config_entries.async_entries(DOMAIN):
            if block.data.get(CONF_ENTRY_TYPE) != ENTRY_TYPE_VEDIRECT:
                continue
            for subentry in block.subentries.values():
                if subentry.subentry_type != SUBENTRY_REDIS_OUTPUT or subentry.subentry_id == editing:
                    continue
                other = servers.get(subentry.data[CONF_SOURCE])
                if (
                    other is not None
                    and subentry.data[CONF_REDIS_NODE] == redis_node
                    and same_redis_database(other.data, source.data)
                ):
                    return True
        return False

    async def async_step_node(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """One node of `columns`: its name and the block's field labels it stores, in the order given."""
        errors: dict[str, str] = {}
        if user_input is not None:
            node_name = user_input[CONF_NODE_NAME].strip()
            labels = [label.strip() for label in user_input[CONF_COLUMNS] if label.strip()]
            if not NAME_PATTERN.fullmatch(node_name):
                errors[CONF_NODE_NAME] = "invalid_name"
            elif node_name in self._columns:
                errors[CONF_NODE_NAME] = "node_name_in_use"
            elif not labels:
                errors[CONF_COLUMNS] = "no_columns"
            else:
                self._columns[node_name] = list(dict.fromkeys(labels))
                if user_input[CONF_ADD_ANOTHER]:
                    return await self.async_step_node()
                return await self.async_step_ref_cols()
        index = len(self._columns)
        block = self._get_entry()
        suggested: dict[str, Any] = {CONF_ADD_ANOTHER: False}
        if index == 0:
            first_name = block.title.lower() if NAME_PATTERN.fullmatch(block.title) else None
            suggested |= {CONF_NODE_NAME: first_name, CONF_COLUMNS: suggested_columns(block)}
        if index < len(self._previous_nodes):
            node_name, labels = self._previous_nodes[index]
            suggested = {
                CONF_NODE_NAME: node_name,
                CONF_COLUMNS: labels,
                CONF_ADD_ANOTHER: index + 1 < len(self._previous_nodes),
            }
        if user_input is not None:
            suggested = dict(user_input)
        schema = _schema(
            {
                vol.Required(CONF_NODE_NAME): TextSelector(),
                vol.Required(CONF_COLUMNS): SelectSelector(
                    SelectSelectorConfig(
                        options=block_field_labels(block),
                        multiple=True,
                        custom_value=True,
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Required(CONF_ADD_ANOTHER): BooleanSelector(),
            }
        )
        return self.async_show_form(
            step_id="node",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders={"count": str(index + 1)},
        )

    async def async_step_ref_cols(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Optional [reference name, column] pairs, one per form; an empty form finishes."""
        output_columns = list(dict.fromkeys(label for labels in self._columns.values() for label in labels))
        errors: dict[str, str] = {}
        if user_input is not None:
            ref_name = (user_input.get(CONF_REF_NAME) or "").strip()
            column = user_input.get(CONF_REF_COLUMN) or ""
            if not ref_name and not column:
                return self._async_finish()
            if not NAME_PATTERN.fullmatch(ref_name):
                errors[CONF_REF_NAME] = "invalid_name"
            elif any(pair[0] == ref_name for pair in self._ref_cols):
                errors[CONF_REF_NAME] = "ref_name_in_use"
            elif column not in output_columns:
                errors[CONF_REF_COLUMN] = "invalid_ref_column"
            else:
                self._ref_cols.append([ref_name, column])
                if user_input[CONF_ADD_ANOTHER]:
                    return await self.async_step_ref_cols()
                return self._async_finish()
        index = len(self._ref_cols)
        suggested: dict[str, Any] = {CONF_ADD_ANOTHER: False}
        if index < len(self._previous_refs):
            ref_name, column = self._previous_refs[index]
            suggested = {
                CONF_REF_NAME: ref_name,
                CONF_REF_COLUMN: column,
                CONF_ADD_ANOTHER: index + 1 < len(self._previous_refs),
            }
        if user_input is not None:
            suggested = dict(user_input)
        schema = _schema(
            {
                vol.Optional(CONF_REF_NAME): TextSelector(),
                vol.Optional(CONF_REF_COLUMN): SelectSelector(
                    SelectSelectorConfig(options=output_columns, mode=SelectSelectorMode.DROPDOWN)
                ),
                vol.Required(CONF_ADD_ANOTHER): BooleanSelector(),
            }
        )
        return self.async_show_form(
            step_id="ref_cols",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders={"columns": ", ".join(output_columns)},
        )

    def _async_finish(self) -> SubentryFlowResult:
        data = {**self._settings, CONF_COLUMNS: self._columns, CONF_REF_COLS: self._ref_cols}
        title = cast(str, data[CONF_REDIS_NODE])
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_and_abort(
                self._get_entry(), self._get_reconfigure_subentry(), title=title, data=data
            )
        return self.async_create_entry(title=title, data=data)
