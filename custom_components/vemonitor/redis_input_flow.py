"""The "Add Redis input" subentry flow of a Redis server: settings, then nodes, then references.

An input reads back what an output (ours, or the vemonitor daemon) writes to the server: its subentry
stores {name, redis_node, redis_data_structure, time_interval (the read interval), stale_after, columns,
ref_cols}, titled by its name (unique among the server's inputs).
"""

from collections.abc import Callable, Mapping
from typing import Any, override

from homeassistant.config_entries import SOURCE_RECONFIGURE, SubentryFlowResult
from homeassistant.const import CONF_NAME
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
import voluptuous as vol

from .const import (
    CONF_REDIS_DATA_STRUCTURE,
    CONF_REDIS_NODE,
    CONF_STALE_AFTER,
    CONF_TIME_INTERVAL,
    DEFAULT_REDIS_DATA_STRUCTURE,
    DEFAULT_STALE_AFTER,
    DEFAULT_TIME_INTERVAL,
)
from .flow_forms import form_schema, number_selector, redisplayed
from .redis_columns_flow import RedisColumnsFlow
from .redis_inputs import input_subentries
from .redis_worker.input import INPUT_STRUCTURES
from .validation import (
    TIME_INTERVAL_MAX,
    TIME_INTERVAL_MIN,
    valid_name,
    valid_time_interval,
    validate_form,
    whole_number,
)

STALE_AFTER_MIN = 2
STALE_AFTER_MAX = 86_400
"""Seconds the newest point may be old: from 2 (a writer sending every second) to one day."""


def valid_stale_after(value: object) -> int:
    """Seconds after which an input's newest point is too old to show."""
    return whole_number(value, STALE_AFTER_MIN, STALE_AFTER_MAX)


_SETTINGS_FIELDS: dict[str, Callable[[Any], object]] = {
    CONF_NAME: valid_name,
    CONF_REDIS_NODE: valid_name,
    CONF_TIME_INTERVAL: valid_time_interval,
    CONF_STALE_AFTER: valid_stale_after,
}


class RedisInputSubentryFlow(RedisColumnsFlow):
    """Add or reconfigure a Redis input of a Redis server: settings, then nodes, then references."""

    TITLE_KEY = CONF_NAME

    @override
    async def _async_step_settings(
        self, step_id: str, user_input: dict[str, Any] | None, stored: Mapping[str, Any]
    ) -> SubentryFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            values, errors = validate_form(user_input, _SETTINGS_FIELDS)
            if CONF_NAME not in errors and self._name_in_use(values[CONF_NAME]):
                errors[CONF_NAME] = "input_name_in_use"
            if not errors:
                # The selector only lets the offered structures through; none chosen is the default.
                structure = user_input.get(CONF_REDIS_DATA_STRUCTURE) or DEFAULT_REDIS_DATA_STRUCTURE
                self._settings = {**values, CONF_REDIS_DATA_STRUCTURE: structure}
                return await self.async_step_node()
        defaults = {
            CONF_REDIS_DATA_STRUCTURE: DEFAULT_REDIS_DATA_STRUCTURE,
            CONF_TIME_INTERVAL: DEFAULT_TIME_INTERVAL,
            CONF_STALE_AFTER: DEFAULT_STALE_AFTER,
            **stored,
            **redisplayed(user_input),
        }
        schema = form_schema(
            {
                vol.Required(CONF_NAME): TextSelector(),
                vol.Required(CONF_REDIS_NODE): TextSelector(),
                vol.Optional(CONF_REDIS_DATA_STRUCTURE): SelectSelector(
                    SelectSelectorConfig(options=list(INPUT_STRUCTURES), mode=SelectSelectorMode.DROPDOWN)
                ),
                vol.Required(CONF_TIME_INTERVAL): number_selector(TIME_INTERVAL_MIN, TIME_INTERVAL_MAX, "s"),
                vol.Required(CONF_STALE_AFTER): number_selector(STALE_AFTER_MIN, STALE_AFTER_MAX, "s"),
            }
        )
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, defaults),
            errors=errors,
            description_placeholders={CONF_NAME: self._get_entry().title},
        )

    def _name_in_use(self, name: str) -> bool:
        """Whether another input of this server has the name."""
        editing = self._reconfigure_subentry_id if self.source == SOURCE_RECONFIGURE else None
        return any(
            subentry.data.get(CONF_NAME) == name
            for subentry_id, subentry in input_subentries(self._get_entry()).items()
            if subentry_id != editing
        )
