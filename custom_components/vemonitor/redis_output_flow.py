"""The "Add Redis output" subentry flow of a VE.Direct device: settings, then nodes, then references."""

from collections.abc import Callable, Mapping
from typing import Any, cast

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigEntryState,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME, CONF_SOURCE
from homeassistant.helpers.selector import (
    BooleanSelector,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
import voluptuous as vol

from .const import (
    CONF_BACKLOG_LIMIT,
    CONF_CACHE_INTERVAL,
    CONF_COLUMNS,
    CONF_REDIS_DATA_STRUCTURE,
    CONF_REDIS_NODE,
    CONF_REF_COLS,
    CONF_RETENTION,
    CONF_SET_MEMBERS,
    CONF_TIME_INTERVAL,
    DEFAULT_CACHE_INTERVAL,
    DEFAULT_REDIS_DATA_STRUCTURE,
    DEFAULT_RETENTION,
    DEFAULT_TIME_INTERVAL,
    DOMAIN,
    SET_MEMBERS_HASHES,
    SET_MEMBERS_NODES,
)
from .flow_forms import DURATION_SELECTOR, form_schema, number_selector, redisplayed
from .models import is_vedirect
from .redis_outputs import output_subentries
from .redis_server import redis_server_entries, server_identity
from .redis_worker import structure_names
from .validation import (
    BACKLOG_LIMIT_MAX,
    BACKLOG_LIMIT_MIN,
    CACHE_INTERVAL_MAX,
    CACHE_INTERVAL_MIN,
    MAX_NODES,
    MAX_REF_COLS,
    NAME_PATTERN,
    TIME_INTERVAL_MAX,
    TIME_INTERVAL_MIN,
    InvalidInput,
    check_count,
    check_send_period,
    valid_backlog_limit,
    valid_cache_interval,
    valid_columns,
    valid_name,
    valid_retention,
    valid_time_interval,
    validate_form,
)
from .vedirect import FIELD_SPECS

# Form-only keys of the node and ref_cols steps (not stored as such).
CONF_NODE_NAME = "node_name"
CONF_ADD_ANOTHER = "add_another"
CONF_REF_NAME = "ref_name"
CONF_REF_COLUMN = "column"

_SETTINGS_FIELDS: dict[str, Callable[[Any], object]] = {
    CONF_REDIS_NODE: valid_name,
    CONF_TIME_INTERVAL: valid_time_interval,
    CONF_CACHE_INTERVAL: valid_cache_interval,
    CONF_BACKLOG_LIMIT: valid_backlog_limit,
    CONF_RETENTION: valid_retention,
}
_NODE_FIELDS: dict[str, Callable[[Any], object]] = {CONF_NODE_NAME: valid_name, CONF_COLUMNS: valid_columns}
_REF_FIELDS: dict[str, Callable[[Any], object]] = {CONF_REF_NAME: valid_name}
SECONDS_PER_DAY = 86_400
# Redis memory of one point of a BMV row (7 columns) with its expiry, measured on Redis 8.0 (scripts/bench
# redis): a hash field with its TTL, a stream entry.
BYTES_PER_POINT = {"HmapTimeSeries": 164, "Stream": 52}
# Columns suggested for a new node: the usual measurements, those the device sends.
SUGGESTED_COLUMNS = ("V", "I", "P", "SOC", "VPV", "PPV", "CS")


def device_interval(device: ConfigEntry) -> int:
    """Seconds between two samples of the device (each one is a point of every output)."""
    return max(1, int(device.options.get(CONF_TIME_INTERVAL, DEFAULT_TIME_INTERVAL)))


def default_backlog_limit(device: ConfigEntry) -> int:
    """One day of the device's samples."""
    return max(1, SECONDS_PER_DAY // device_interval(device))


def node_memory(device: ConfigEntry, seconds: float, structure: str = DEFAULT_REDIS_DATA_STRUCTURE) -> float:
    """Bytes one node of an output takes in Redis for `seconds` of the device's points."""
    per_point = BYTES_PER_POINT.get(structure, BYTES_PER_POINT[DEFAULT_REDIS_DATA_STRUCTURE])
    return seconds / device_interval(device) * per_point


def memory_text(size: float) -> str:
    """A memory figure as a person reads it: 850 kB, 8.6 MB, 1.2 GB (decimal units, as Redis reports)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{max(1, round(size / 1e3))} kB"


def duration(seconds: int) -> dict[str, int]:
    """Whole seconds as the duration selector shows them."""
    days, rest = divmod(int(seconds), SECONDS_PER_DAY)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return {"days": days, "hours": hours, "minutes": minutes, "seconds": secs}


def sent_labels(device: ConfigEntry) -> list[str]:
    """The labels the device sends, in its order (none while its entry is not loaded)."""
    if is_vedirect(device) and device.state is ConfigEntryState.LOADED:
        return list(device.runtime_data.client.frame.fields)
    return []


def column_choices(device: ConfigEntry) -> list[str]:
    """Labels to offer as columns: those the device sends (in its order), then every other known label."""
    sent = sent_labels(device)
    return sent + sorted(label for label in FIELD_SPECS if label not in sent)


def suggested_columns(device: ConfigEntry) -> list[str]:
    """First columns offered for a new node: the usual measurements the device sends (else V and I)."""
    sent = sent_labels(device)
    return [label for label in SUGGESTED_COLUMNS if label in sent] or ["V", "I"]


def _check_room(errors: dict[str, str], count: int, maximum: int, key: str) -> None:
    """Refuse "add another" once the form would hold more than `maximum` items (error on that toggle)."""
    try:
        check_count(count, maximum, key)
    except InvalidInput as err:
        errors[CONF_ADD_ANOTHER] = err.key


def _suggestion(
    previous: list[dict[str, Any]], index: int, first: dict[str, Any], user_input: dict[str, Any] | None
) -> dict[str, Any]:
    """What a repeated form (node, reference) shows: what was typed, else the stored item at this place
    (reconfigure), else `first`; "add another" is on while stored items follow."""
    if user_input is not None:
        return dict(user_input)
    if index < len(previous):
        return {**previous[index], CONF_ADD_ANOTHER: index + 1 < len(previous)}
    return {**first, CONF_ADD_ANOTHER: False}


class RedisOutputSubentryFlow(ConfigSubentryFlow):
    """Add or reconfigure a Redis output of a VE.Direct entry: settings, then nodes, then references."""

    def __init__(self) -> None:
        """Start with no settings; reconfigure fills them from the subentry."""
        super().__init__()
        self._settings: dict[str, Any] = {}
        self._columns: dict[str, list[str]] = {}
        self._ref_cols: list[list[str]] = []
        # When reconfiguring: the stored nodes and references, offered one by one as suggestions.
        self._previous_nodes: list[dict[str, Any]] = []
        self._previous_refs: list[dict[str, Any]] = []

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """First step: where and how often the output writes."""
        return await self._async_step_settings("user", user_input, {})

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Change an output: the same steps, filled with its current settings."""
        stored = self._get_reconfigure_subentry().data
        if user_input is None:
            self._previous_nodes = [
                {CONF_NODE_NAME: node, CONF_COLUMNS: list(labels)}
                for node, labels in stored[CONF_COLUMNS].items()
            ]
            self._previous_refs = [
                {CONF_REF_NAME: name, CONF_REF_COLUMN: column}
                for name, column in stored.get(CONF_REF_COLS, [])
            ]
        return await self._async_step_settings("reconfigure", user_input, stored)

    async def _async_step_settings(
        self, step_id: str, user_input: dict[str, Any] | None, stored: Mapping[str, Any]
    ) -> SubentryFlowResult:
        servers = {entry.entry_id: entry for entry in redis_server_entries(self.hass)}
        if not servers:
            return self.async_abort(reason="no_redis_server")
        errors: dict[str, str] = {}
        # Outputs made before retention existed keep everything (absent = 0 = forever); new ones 7 days.
        retention = duration(stored.get(CONF_RETENTION, 0) if stored else DEFAULT_RETENTION)
        if user_input is not None:
            user_input = {CONF_RETENTION: retention, **user_input}
            values, errors = validate_form(user_input, _SETTINGS_FIELDS)
            source = servers.get(user_input.get(CONF_SOURCE, ""))
            if source is None:
                errors[CONF_SOURCE] = "unknown_source"
            elif CONF_REDIS_NODE not in errors and self._redis_node_in_use(source, values[CONF_REDIS_NODE]):
                errors[CONF_REDIS_NODE] = "redis_node_in_use"
            if not errors:
                try:
                    check_send_period(values[CONF_TIME_INTERVAL], values[CONF_CACHE_INTERVAL])
                except InvalidInput as err:
                    errors[CONF_CACHE_INTERVAL] = err.key
            if not errors and source is not None:
                self._settings = {
                    CONF_SOURCE: source.entry_id,
                    CONF_REDIS_DATA_STRUCTURE: user_input.get(CONF_REDIS_DATA_STRUCTURE)
                    or DEFAULT_REDIS_DATA_STRUCTURE,
                    CONF_SET_MEMBERS: user_input.get(CONF_SET_MEMBERS) or SET_MEMBERS_NODES,
                    **values,
                }
                return await self.async_step_node()
        device = self._get_entry()
        defaults = {
            CONF_SOURCE: next(iter(servers)),
            CONF_REDIS_DATA_STRUCTURE: DEFAULT_REDIS_DATA_STRUCTURE,
            CONF_TIME_INTERVAL: DEFAULT_TIME_INTERVAL,
            CONF_CACHE_INTERVAL: DEFAULT_CACHE_INTERVAL,
            CONF_BACKLOG_LIMIT: default_backlog_limit(device),
            CONF_SET_MEMBERS: SET_MEMBERS_NODES,
            **stored,
            CONF_RETENTION: retention,
            **redisplayed(user_input),
        }
        source_options = [
            SelectOptionDict(value=entry_id, label=entry.title) for entry_id, entry in servers.items()
        ]
        schema = form_schema(
            {
                vol.Required(CONF_SOURCE): SelectSelector(
                    SelectSelectorConfig(options=source_options, mode=SelectSelectorMode.DROPDOWN)
                ),
                vol.Required(CONF_REDIS_NODE): TextSelector(),
                vol.Optional(CONF_REDIS_DATA_STRUCTURE): SelectSelector(
                    SelectSelectorConfig(options=structure_names(), mode=SelectSelectorMode.DROPDOWN)
                ),
                vol.Required(CONF_TIME_INTERVAL): number_selector(TIME_INTERVAL_MIN, TIME_INTERVAL_MAX, "s"),
                vol.Required(CONF_CACHE_INTERVAL): number_selector(CACHE_INTERVAL_MIN, CACHE_INTERVAL_MAX),
                vol.Optional(CONF_RETENTION): DURATION_SELECTOR,
                vol.Optional(CONF_SET_MEMBERS): SelectSelector(
                    SelectSelectorConfig(
                        options=[SET_MEMBERS_NODES, SET_MEMBERS_HASHES],
                        translation_key=CONF_SET_MEMBERS,
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Required(CONF_BACKLOG_LIMIT): number_selector(BACKLOG_LIMIT_MIN, BACKLOG_LIMIT_MAX),
            }
        )
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, defaults),
            errors=errors,
            description_placeholders={
                CONF_NAME: device.title,
                "interval": str(device_interval(device)),
                "per_day": memory_text(node_memory(device, SECONDS_PER_DAY)),
                "per_week": memory_text(node_memory(device, 7 * SECONDS_PER_DAY)),
            },
        )

    def _redis_node_in_use(self, source: ConfigEntry, redis_node: str) -> bool:
        """Whether another output already writes `redis_node` to the same server and database."""
        servers = {entry.entry_id: entry for entry in redis_server_entries(self.hass)}
        editing = self._reconfigure_subentry_id if self.source == SOURCE_RECONFIGURE else None
        identity = server_identity(source.data)
        for device in self.hass.config_entries.async_entries(DOMAIN):
            for subentry_id, subentry in output_subentries(device).items():
                other = servers.get(subentry.data[CONF_SOURCE])
                if (
                    subentry_id != editing
                    and other is not None
                    and subentry.data[CONF_REDIS_NODE] == redis_node
                    and server_identity(other.data) == identity
                ):
                    return True
        return False

    async def async_step_node(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """One node of `columns`: its name and the device's labels it stores, in the order given."""
        errors: dict[str, str] = {}
        if user_input is not None:
            values, errors = validate_form(user_input, _NODE_FIELDS)
            if CONF_NODE_NAME not in errors and values[CONF_NODE_NAME] in self._columns:
                errors[CONF_NODE_NAME] = "node_name_in_use"
            if not errors and user_input.get(CONF_ADD_ANOTHER):
                _check_room(errors, len(self._columns) + 1, MAX_NODES, "too_many_nodes")
            if not errors:
                self._columns[values[CONF_NODE_NAME]] = values[CONF_COLUMNS]
                if user_input.get(CONF_ADD_ANOTHER):
                    return await self.async_step_node()
                return await self.async_step_ref_cols()
        index = len(self._columns)
        device = self._get_entry()
        structure = self._settings[CONF_REDIS_DATA_STRUCTURE]
        first: dict[str, Any] = {}
        if index == 0:
            first_name = device.title.lower() if NAME_PATTERN.fullmatch(device.title) else None
            first = {CONF_NODE_NAME: first_name, CONF_COLUMNS: suggested_columns(device)}
        suggested = _suggestion(self._previous_nodes, index, first, user_input)
        schema = form_schema(
            {
                vol.Required(CONF_NODE_NAME): TextSelector(),
                vol.Required(CONF_COLUMNS): SelectSelector(
                    SelectSelectorConfig(
                        options=column_choices(device),
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
            description_placeholders={
                "count": str(index + 1),
                "days": f"{self._settings[CONF_RETENTION] / SECONDS_PER_DAY:g}",
                "memory": memory_text(node_memory(device, self._settings[CONF_RETENTION], structure)),
                "per_day": memory_text(node_memory(device, SECONDS_PER_DAY, structure)),
            },
        )

    async def async_step_ref_cols(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Optional [reference name, column] pairs, one per form; an empty form finishes."""
        output_columns = list(dict.fromkeys(label for labels in self._columns.values() for label in labels))
        errors: dict[str, str] = {}
        if user_input is not None:
            ref_name = user_input.get(CONF_REF_NAME) or ""
            ref_name = ref_name.strip() if isinstance(ref_name, str) else ref_name
            column = user_input.get(CONF_REF_COLUMN) or ""
            if not ref_name and not column:
                return self._async_finish()
            values, errors = validate_form(user_input, _REF_FIELDS)
            if CONF_REF_NAME not in errors and any(pair[0] == ref_name for pair in self._ref_cols):
                errors[CONF_REF_NAME] = "ref_name_in_use"
            if column not in output_columns:
                errors[CONF_REF_COLUMN] = "invalid_ref_column"
            if not errors and user_input.get(CONF_ADD_ANOTHER):
                _check_room(errors, len(self._ref_cols) + 1, MAX_REF_COLS, "too_many_refs")
            if not errors:
                self._ref_cols.append([values[CONF_REF_NAME], column])
                if user_input.get(CONF_ADD_ANOTHER):
                    return await self.async_step_ref_cols()
                return self._async_finish()
        # A stored reference to a column the output no longer stores is not offered again.
        previous = [ref for ref in self._previous_refs if ref[CONF_REF_COLUMN] in output_columns]
        suggested = _suggestion(previous, len(self._ref_cols), {}, user_input)
        schema = form_schema(
            {
                vol.Optional(CONF_REF_NAME): TextSelector(),
                # custom_value: a column typed by hand gets this flow's translated error, not a refusal.
                vol.Optional(CONF_REF_COLUMN): SelectSelector(
                    SelectSelectorConfig(
                        options=output_columns, custom_value=True, mode=SelectSelectorMode.DROPDOWN
                    )
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
