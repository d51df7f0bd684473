"""What every form of the integration is built from: the schema shim and the shared selectors."""

from collections.abc import Mapping
from typing import Any, override

from homeassistant.const import CONF_PASSWORD
from homeassistant.helpers.selector import (
    DurationSelector,
    DurationSelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import voluptuous as vol

from .const import CONF_SENTINEL_PASSWORD

# Fields never shown back to a form (nor kept in its suggested values).
SECRET_FIELDS = frozenset({CONF_PASSWORD, CONF_SENTINEL_PASSWORD})


def form_schema(fields: Mapping[Any, Any]) -> Any:
    """A form (or action) schema. Typed Any on purpose: HA 2026.9+ annotates probatio.Schema, 2026.5
    voluptuous.Schema, and `voluptuous` is the right one of the two at runtime in each (HA installs probatio
    under that name).
    """
    return vol.Schema(fields)


class BoundedNumberSelector(NumberSelector):
    """A number box that shows its bounds to the browser but leaves checking them to the flow.

    NumberSelector itself would refuse a value out of bounds with an untranslated schema error (HTTP 400), and
    lets NaN through; the flows' validators refuse both with a translated error on the field instead.
    """

    @override
    def __call__(self, data: Any) -> Any:
        if isinstance(data, bool):
            return data
        try:
            return float(data)
        except TypeError, ValueError, OverflowError:
            return data  # not a number: the flow's validator says so, on its field


class CheckedDurationSelector(DurationSelector):
    """A duration (days, hours, minutes, seconds) whose value the flow checks, for the same reason."""

    @override
    def __call__(self, data: Any) -> Any:
        return data


DURATION_SELECTOR = CheckedDurationSelector(DurationSelectorConfig(enable_day=True))


def number_selector(minimum: int, maximum: int, unit: str | None = None) -> NumberSelector:
    """A whole-number box with its bounds (checked by the flows: the browser is not the only client)."""
    config = NumberSelectorConfig(min=minimum, max=maximum, step=1, mode=NumberSelectorMode.BOX)
    if unit is not None:
        config["unit_of_measurement"] = unit
    return BoundedNumberSelector(config)


PASSWORD_SELECTOR = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="current-password")
)
USERNAME_SELECTOR = TextSelector(TextSelectorConfig(autocomplete="username"))
MULTILINE_SELECTOR = TextSelector(TextSelectorConfig(multiline=True))


def redisplayed(user_input: Mapping[str, Any] | None) -> dict[str, Any]:
    """A refused form's input to show again: never a password (the master's or the sentinels'), and only
    values a form field holds (the REST API can send anything)."""
    return {
        key: value
        for key, value in (user_input or {}).items()
        if key not in SECRET_FIELDS and isinstance(value, str | int | float | list | dict)
    }
