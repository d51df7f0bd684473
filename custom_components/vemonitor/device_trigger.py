"""Device triggers of a VE.Direct device: alarm raised / cleared, charger (or device) state changed, error
raised, link lost / back, each for the devices that send its label.

Each trigger follows the state of one entity of the device (the alarm reason AR, the state of operation CS,
the error code ERR, the VE.Direct link) and fires once per change of what that entity shows: the entities
write a state only when their value changed (entity.ChangedStateWriter), and codes, flags and the link at
once (coordinator._MAY_WAIT). It fires neither on an entity's first state (Home Assistant starting, the entry
set up) nor on a change from or to unavailable or unknown (a restored state, an entry reloaded, the link
lost: the link triggers follow the link entity, on and off, which is always available).

Which trigger a device has: those of the labels it sends (its entities in the entity registry, enabled): a
BMV/SmartShunt AR, an MPPT CS and ERR, a Phoenix inverter AR and CS. CS is the charger state of a charger
and the device state of an inverter (the family of its product id or, without one, of its labels).

Trigger variables, besides Home Assistant's (``trigger.id``, ``trigger.idx``, ``trigger.alias``):
``platform`` ("device"), ``domain``, ``device_id``, ``type``, ``entity_id`` (the entity followed),
``from_state`` / ``to_state`` (its states), ``description``, and per type:

* alarm_raised / alarm_cleared: ``reasons`` (the reasons raised, or cleared, by this change: snake_case keys
  such as "low_voltage"), ``active_reasons`` (all active after it), ``code`` (the AR bit mask after it);
* charger_state_changed / device_state_changed: ``state``, ``previous_state`` (enum keys such as "float"),
  ``code`` (the CS number);
* error_raised: ``error``, ``previous_error`` (keys such as "battery_voltage_too_high", "no_error"),
  ``code`` (the ERR number);
* link_lost / link_back: nothing more.

Options (the trigger's extra fields): ``reason`` (alarms: only a change of that reason), ``to`` (states: only
a change to that state), ``error`` (only that error); the choices are the enum options of the entity followed.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.components.device_automation.exceptions import InvalidDeviceAutomationConfig
from homeassistant.components.sensor import ATTR_OPTIONS
from homeassistant.const import (
    CONF_DEVICE_ID,
    CONF_DOMAIN,
    CONF_PLATFORM,
    CONF_TYPE,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    Platform,
)
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HassJob,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
    translation,
)
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
from homeassistant.helpers.typing import ConfigType
import voluptuous as vol

from .binary_sensor import LINK_DESCRIPTION
from .const import DOMAIN
from .field_descriptions import NO_FLAGS, SEVERAL_FLAGS
from .identity import device_key
from .models import is_vedirect
from .vedirect.codes import AlarmReason, ChargeState, ErrorCode
from .vedirect.registers import Family, family_of

ALARM_RAISED: Final = "alarm_raised"
ALARM_CLEARED: Final = "alarm_cleared"
CHARGER_STATE_CHANGED: Final = "charger_state_changed"
DEVICE_STATE_CHANGED: Final = "device_state_changed"
ERROR_RAISED: Final = "error_raised"
LINK_LOST: Final = "link_lost"
LINK_BACK: Final = "link_back"

CONF_REASON: Final = "reason"
CONF_TO: Final = "to"
CONF_ERROR: Final = "error"

_NOT_SHOWN: Final = frozenset({STATE_UNAVAILABLE, STATE_UNKNOWN})

type Firing = Callable[[State, State, str | None], dict[str, Any] | None]
"""(old state, new state, the option chosen or None) -> the variables of a firing, or None: no firing."""


def _reasons(state: State) -> list[str]:
    """The active reasons of an alarm reason state (its raw AR code, decoded by the protocol's table)."""
    code = state.attributes.get("code")
    return AlarmReason(code).keys if isinstance(code, int) else []


def _alarm(raised: bool) -> Firing:
    def fire(old: State, new: State, reason: str | None) -> dict[str, Any] | None:
        before, after = _reasons(old), _reasons(new)
        gone, come = (before, after) if raised else (after, before)
        changed = [key for key in come if key not in gone]
        if not changed or (reason is not None and reason not in changed):
            return None
        return {"reasons": changed, "active_reasons": after, "code": new.attributes.get("code")}

    return fire


def _state_changed(old: State, new: State, to: str | None) -> dict[str, Any] | None:
    if new.state == old.state or (to is not None and new.state != to):
        return None
    return {"state": new.state, "previous_state": old.state, "code": new.attributes.get("code")}


def _error_raised(old: State, new: State, error: str | None) -> dict[str, Any] | None:
    if new.state in (old.state, ErrorCode.NO_ERROR.key) or (error is not None and new.state != error):
        return None
    return {"error": new.state, "previous_error": old.state, "code": new.attributes.get("code")}


def _link(before: str, after: str) -> Firing:
    def fire(old: State, new: State, _option: str | None) -> dict[str, Any] | None:
        return {} if (old.state, new.state) == (before, after) else None

    return fire


@dataclass(frozen=True, slots=True)
class TriggerKind:
    """One trigger type: the entity it follows, its option and when it fires."""

    key: str  # the unique id suffix of the entity followed: a VE.Direct label, or the link
    platform: Platform
    fire: Firing
    option: str | None = None  # the extra field, a choice among the entity's enum options
    choices: tuple[str, ...] = ()  # every option the protocol's table knows
    no_choice: frozenset[str] = frozenset()  # enum options that are no change to wait for
    inverter: bool | None = None  # CS: the device state of an inverter (True), else the charger state


_REASONS = tuple(member.name.lower() for member in AlarmReason if member.name)
_STATES = tuple(member.key for member in ChargeState)
_ERRORS = tuple(member.key for member in ErrorCode)
# "unavailable" is CS 255 ("not available"), which Home Assistant shows as the entity being unavailable.
_STATE_NO_CHOICE = frozenset({ChargeState.UNAVAILABLE.key})


def _alarm_kind(raised: bool) -> TriggerKind:
    no_choice = frozenset({NO_FLAGS, SEVERAL_FLAGS})  # no reason, several: not a reason to choose
    return TriggerKind("AR", Platform.SENSOR, _alarm(raised), CONF_REASON, _REASONS, no_choice)


def _state_kind(inverter: bool) -> TriggerKind:
    return TriggerKind("CS", Platform.SENSOR, _state_changed, CONF_TO, _STATES, _STATE_NO_CHOICE, inverter)


TRIGGER_KINDS: Mapping[str, TriggerKind] = {
    ALARM_RAISED: _alarm_kind(raised=True),
    ALARM_CLEARED: _alarm_kind(raised=False),
    CHARGER_STATE_CHANGED: _state_kind(inverter=False),
    DEVICE_STATE_CHANGED: _state_kind(inverter=True),
    ERROR_RAISED: TriggerKind(
        "ERR", Platform.SENSOR, _error_raised, CONF_ERROR, _ERRORS, frozenset({ErrorCode.NO_ERROR.key})
    ),
    LINK_LOST: TriggerKind(LINK_DESCRIPTION.key, Platform.BINARY_SENSOR, _link(STATE_ON, STATE_OFF)),
    LINK_BACK: TriggerKind(LINK_DESCRIPTION.key, Platform.BINARY_SENSOR, _link(STATE_OFF, STATE_ON)),
}


def _schema(trigger_type: str, kind: TriggerKind) -> Any:
    """The config of one trigger type: its option only, one the protocol's table knows."""
    fields: dict[Any, Any] = {vol.Required(CONF_TYPE): trigger_type}
    if kind.option is not None:
        choices = [choice for choice in kind.choices if choice not in kind.no_choice]
        fields[vol.Optional(kind.option)] = vol.In(choices)
    return DEVICE_TRIGGER_BASE_SCHEMA.extend(fields)


# Any: probatio.Schema in HA 2026.9+, voluptuous in 2026.5 (see flow_forms.form_schema).
TRIGGER_SCHEMA: Final[Any] = cv.key_value_schemas(
    CONF_TYPE, {trigger_type: _schema(trigger_type, kind) for trigger_type, kind in TRIGGER_KINDS.items()}
)


def _followed(hass: HomeAssistant, device_id: str) -> dict[str, er.RegistryEntry]:
    """Trigger type -> the enabled entity it follows, for every trigger the device has (none: not a
    VE.Direct device)."""
    devices = dr.async_get(hass)
    found = next(
        (
            (entry, device)
            for entry in hass.config_entries.async_entries(DOMAIN)
            if is_vedirect(entry)
            for device in dr.async_entries_for_config_entry(devices, entry.entry_id)
            if device.id == device_id
        ),
        None,
    )
    if found is None:
        return {}
    entry, device = found
    prefix = f"{device_key(entry)}_"
    entities = {
        entity.unique_id.removeprefix(prefix): entity
        for entity in er.async_entries_for_device(er.async_get(hass), device_id)
        if entity.platform == DOMAIN and entity.unique_id.startswith(prefix)
    }
    product_id = int(device.model_id, 16) if device.model_id else None
    inverter = family_of(product_id, dict.fromkeys(entities, "")) is Family.INVERTER
    return {
        trigger_type: entity
        for trigger_type, kind in TRIGGER_KINDS.items()
        if (entity := entities.get(kind.key)) is not None
        and entity.domain == kind.platform
        and kind.inverter in (None, inverter)
    }


def _entity_of(hass: HomeAssistant, config: ConfigType) -> er.RegistryEntry:
    """The entity a trigger follows; a translated error if the device has no such trigger."""
    device_id, trigger_type = config[CONF_DEVICE_ID], config[CONF_TYPE]
    if (entity := _followed(hass, device_id).get(trigger_type)) is not None:
        return entity
    device = dr.async_get(hass).async_get(device_id)
    raise InvalidDeviceAutomationConfig(
        translation_domain=DOMAIN,
        translation_key="trigger_not_supported",
        translation_placeholders={
            "device": device_id if device is None else device.name_by_user or device.name or device_id,
            "trigger": trigger_type,
        },
    )


async def async_validate_trigger_config(hass: HomeAssistant, config: ConfigType) -> ConfigType:
    """A known type with its own option only, of a device that has that trigger."""
    validated: ConfigType = TRIGGER_SCHEMA(config)
    _entity_of(hass, validated)
    return validated


async def async_get_triggers(hass: HomeAssistant, device_id: str) -> list[dict[str, Any]]:
    """The triggers of a device, in the order of TRIGGER_KINDS."""
    return [
        {CONF_PLATFORM: "device", CONF_DOMAIN: DOMAIN, CONF_DEVICE_ID: device_id, CONF_TYPE: trigger_type}
        for trigger_type in _followed(hass, device_id)
    ]


async def async_get_trigger_capabilities(hass: HomeAssistant, config: ConfigType) -> dict[str, Any]:
    """The option of a trigger: a choice among the enum options of its entity, named as its states are (in
    the server's language: the capabilities are asked without the browser's)."""
    kind = TRIGGER_KINDS.get(config.get(CONF_TYPE, ""))
    if kind is None or kind.option is None:
        return {}
    entity = _entity_of(hass, config)
    options = [
        option
        for option in (entity.capabilities or {}).get(ATTR_OPTIONS, kind.choices)
        if option not in kind.no_choice
    ]
    texts = await translation.async_get_translations(hass, hass.config.language, "entity", {DOMAIN})
    prefix = f"component.{DOMAIN}.entity.{entity.domain}.{entity.translation_key}.state."
    choices = [SelectOptionDict(value=option, label=texts.get(prefix + option, option)) for option in options]
    selector = SelectSelector(SelectSelectorConfig(options=choices, mode=SelectSelectorMode.DROPDOWN))
    return {"extra_fields": vol.Schema({vol.Optional(kind.option): selector})}


async def async_attach_trigger(
    hass: HomeAssistant,
    config: ConfigType,
    action: TriggerActionType,
    trigger_info: TriggerInfo,
) -> CALLBACK_TYPE:
    """Follow the trigger's entity: run the action once per change that fires it."""
    trigger_type = config[CONF_TYPE]
    kind = TRIGGER_KINDS[trigger_type]
    entity_id = _entity_of(hass, config).entity_id
    option = None if kind.option is None else config.get(kind.option)
    job = HassJob(action, f"{DOMAIN} {trigger_type} trigger of {entity_id}")
    payload = {
        **trigger_info["trigger_data"],
        CONF_PLATFORM: "device",
        CONF_DOMAIN: DOMAIN,
        CONF_DEVICE_ID: config[CONF_DEVICE_ID],
        CONF_TYPE: trigger_type,
        "entity_id": entity_id,
        "description": f"{trigger_type.replace('_', ' ')} ({entity_id})",  # e.g. "alarm raised (sensor...)"
    }

    @callback
    def state_changed(event: Event[EventStateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if old is None or new is None or {old.state, new.state} & _NOT_SHOWN:
            return
        if (variables := kind.fire(old, new, option)) is None:
            return
        trigger = {**payload, "from_state": old, "to_state": new, **variables}
        hass.async_run_hass_job(job, {"trigger": trigger}, event.context)

    return async_track_state_change_event(hass, entity_id, state_changed)
