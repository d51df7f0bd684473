"""What the Redis output and Redis input subentry flows share: their `node` and `ref_cols` steps.

Both describe the same layout (the nodes of `columns`, each with its labels, then the optional ref_cols
pairs of a reference name and a column), stored the same way. A flow sets `_settings` in its first step,
then calls `async_step_node()`; the base ends with `_async_finish()`, which creates the subentry (or
updates the one being reconfigured) with `{**_settings, columns, ref_cols}`, titled by the value of its
`TITLE_KEY` (an output's redis_node, an input's name).
"""

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.config_entries import SOURCE_RECONFIGURE, ConfigSubentryFlow, SubentryFlowResult
from homeassistant.helpers.selector import (
    BooleanSelector,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
import voluptuous as vol

from .const import CONF_COLUMNS, CONF_REF_COLS
from .flow_forms import form_schema
from .validation import (
    MAX_NODES,
    MAX_REF_COLS,
    InvalidInput,
    check_count,
    valid_columns,
    valid_name,
    validate_form,
)
from .vedirect import FIELD_SPECS

# Form-only keys of the node and ref_cols steps (not stored as such).
CONF_NODE_NAME = "node_name"
CONF_ADD_ANOTHER = "add_another"
CONF_REF_NAME = "ref_name"
CONF_REF_COLUMN = "column"

_NODE_FIELDS: dict[str, Callable[[Any], object]] = {CONF_NODE_NAME: valid_name, CONF_COLUMNS: valid_columns}
_REF_FIELDS: dict[str, Callable[[Any], object]] = {CONF_REF_NAME: valid_name}


def known_labels(first: list[str] | None = None) -> list[str]:
    """Labels to offer as columns: `first` (in its order), then every other label the registry knows."""
    first = first or []
    return first + sorted(label for label in FIELD_SPECS if label not in first)


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


class RedisColumnsFlow(ConfigSubentryFlow):
    """The node and ref_cols steps; subclasses give the first step, TITLE_KEY, and may change what the node
    form offers and says."""

    TITLE_KEY: str

    def __init__(self) -> None:
        """Start with no settings; reconfigure fills the suggestions from the subentry (`_load_previous`)."""
        super().__init__()
        self._settings: dict[str, Any] = {}
        self._columns: dict[str, list[str]] = {}
        self._ref_cols: list[list[str]] = []
        # When reconfiguring: the stored nodes and references, offered one by one as suggestions.
        self._previous_nodes: list[dict[str, Any]] = []
        self._previous_refs: list[dict[str, Any]] = []

    # -- what a flow gives ---------------------------------------------------------------------------------

    def _column_choices(self) -> list[str]:
        """The labels the node form offers (any label may be typed too)."""
        return known_labels()

    def _first_node(self) -> dict[str, Any]:
        """The suggestion of the first node of a new subentry (node name, columns)."""
        return {}

    def _node_placeholders(self) -> dict[str, str]:
        """The node form's description placeholders besides its number ("count")."""
        return {}

    async def _async_step_settings(
        self, step_id: str, user_input: dict[str, Any] | None, stored: Mapping[str, Any]
    ) -> SubentryFlowResult:
        """The first form ("user" or "reconfigure", `stored` the subentry's data when reconfiguring): sets
        `_settings`, then goes on with `async_step_node()`."""
        raise NotImplementedError

    # -- the steps -----------------------------------------------------------------------------------------

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """A new subentry: its settings first."""
        return await self._async_step_settings("user", user_input, {})

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Change a subentry: the same steps, filled with its current settings."""
        stored = self._get_reconfigure_subentry().data
        if user_input is None:
            self._load_previous(stored)
        return await self._async_step_settings("reconfigure", user_input, stored)

    def _load_previous(self, stored: Mapping[str, Any]) -> None:
        """Reconfigure: offer the stored nodes and references again, one by one."""
        self._previous_nodes = [
            {CONF_NODE_NAME: node, CONF_COLUMNS: list(labels)}
            for node, labels in stored[CONF_COLUMNS].items()
        ]
        self._previous_refs = [
            {CONF_REF_NAME: name, CONF_REF_COLUMN: column} for name, column in stored.get(CONF_REF_COLS, [])
        ]

    async def async_step_node(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """One node of `columns`: its name and its labels, in the order given."""
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
        first = self._first_node() if index == 0 else {}
        suggested = _suggestion(self._previous_nodes, index, first, user_input)
        schema = form_schema(
            {
                vol.Required(CONF_NODE_NAME): TextSelector(),
                vol.Required(CONF_COLUMNS): SelectSelector(
                    SelectSelectorConfig(
                        options=self._column_choices(),
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
            description_placeholders={"count": str(index + 1), **self._node_placeholders()},
        )

    async def async_step_ref_cols(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Optional [reference name, column] pairs, one per form; an empty form finishes."""
        all_columns = list(dict.fromkeys(label for labels in self._columns.values() for label in labels))
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
            if column not in all_columns:
                errors[CONF_REF_COLUMN] = "invalid_ref_column"
            if not errors and user_input.get(CONF_ADD_ANOTHER):
                _check_room(errors, len(self._ref_cols) + 1, MAX_REF_COLS, "too_many_refs")
            if not errors:
                self._ref_cols.append([values[CONF_REF_NAME], column])
                if user_input.get(CONF_ADD_ANOTHER):
                    return await self.async_step_ref_cols()
                return self._async_finish()
        # A stored reference to a column no node has any more is not offered again.
        previous = [ref for ref in self._previous_refs if ref[CONF_REF_COLUMN] in all_columns]
        suggested = _suggestion(previous, len(self._ref_cols), {}, user_input)
        schema = form_schema(
            {
                vol.Optional(CONF_REF_NAME): TextSelector(),
                # custom_value: a column typed by hand gets this flow's translated error, not a refusal.
                vol.Optional(CONF_REF_COLUMN): SelectSelector(
                    SelectSelectorConfig(
                        options=all_columns, custom_value=True, mode=SelectSelectorMode.DROPDOWN
                    )
                ),
                vol.Required(CONF_ADD_ANOTHER): BooleanSelector(),
            }
        )
        return self.async_show_form(
            step_id="ref_cols",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders={"columns": ", ".join(all_columns)},
        )

    def _async_finish(self) -> SubentryFlowResult:
        data = {**self._settings, CONF_COLUMNS: self._columns, CONF_REF_COLS: self._ref_cols}
        title = str(data[self.TITLE_KEY])
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_and_abort(
                self._get_entry(), self._get_reconfigure_subentry(), title=title, data=data
            )
        return self.async_create_entry(title=title, data=data)
