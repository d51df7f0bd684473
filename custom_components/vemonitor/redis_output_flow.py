"""The "Add Redis output" subentry flow of a VE.Direct device: settings, then nodes, then references."""

from collections.abc import Callable, Mapping
from typing import Any, override

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigEntryState,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME, CONF_SOURCE
from homeassistant.helpers.selector import (
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
from .redis_columns_flow import CONF_NODE_NAME, RedisColumnsFlow, known_labels
from .redis_outputs import output_subentries
from .redis_server import redis_server_entries, same_server
from .redis_worker import structure_names
from .validation import (
    BACKLOG_LIMIT_MAX,
    BACKLOG_LIMIT_MIN,
    CACHE_INTERVAL_MAX,
    CACHE_INTERVAL_MIN,
    NAME_PATTERN,
    TIME_INTERVAL_MAX,
    TIME_INTERVAL_MIN,
    InvalidInput,
    check_send_period,
    valid_backlog_limit,
    valid_cache_interval,
    valid_name,
    valid_retention,
    valid_time_interval,
    validate_form,
)

_SETTINGS_FIELDS: dict[str, Callable[[Any], object]] = {
    CONF_REDIS_NODE: valid_name,
    CONF_TIME_INTERVAL: valid_time_interval,
    CONF_CACHE_INTERVAL: valid_cache_interval,
    CONF_BACKLOG_LIMIT: valid_backlog_limit,
    CONF_RETENTION: valid_retention,
}
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
    return known_labels(sent_labels(device))


def suggested_columns(device: ConfigEntry) -> list[str]:
    """First columns offered for a new node: the usual measurements the device sends (else V and I)."""
    sent = sent_labels(device)
    return [label for label in SUGGESTED_COLUMNS if label in sent] or ["V", "I"]


class RedisOutputSubentryFlow(RedisColumnsFlow):
    """Add or reconfigure a Redis output of a VE.Direct entry: settings, then nodes, then references."""

    TITLE_KEY = CONF_REDIS_NODE

    @override
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
        for device in self.hass.config_entries.async_entries(DOMAIN):
            for subentry_id, subentry in output_subentries(device).items():
                other = servers.get(subentry.data[CONF_SOURCE])
                if (
                    subentry_id != editing
                    and other is not None
                    and subentry.data[CONF_REDIS_NODE] == redis_node
                    and same_server(other.data, source.data)
                ):
                    return True
        return False

    @override
    def _column_choices(self) -> list[str]:
        """The labels the device sends first, then every other known label."""
        return column_choices(self._get_entry())

    @override
    def _first_node(self) -> dict[str, Any]:
        """A first node named after the device, with the usual measurements it sends."""
        device = self._get_entry()
        first_name = device.title.lower() if NAME_PATTERN.fullmatch(device.title) else None
        return {CONF_NODE_NAME: first_name, CONF_COLUMNS: suggested_columns(device)}

    @override
    def _node_placeholders(self) -> dict[str, str]:
        """The Redis memory a node takes for the output's retention, and per day."""
        device = self._get_entry()
        structure = self._settings[CONF_REDIS_DATA_STRUCTURE]
        return {
            "days": f"{self._settings[CONF_RETENTION] / SECONDS_PER_DAY:g}",
            "memory": memory_text(node_memory(device, self._settings[CONF_RETENTION], structure)),
            "per_day": memory_text(node_memory(device, SECONDS_PER_DAY, structure)),
        }
