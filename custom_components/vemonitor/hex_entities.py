"""The entities of a device's HEX registers, per family: what each shows, and the base entity they share.

Read-only sensors for the settings and the daily history (always); switches, numbers and selects only when
the entry allows control. An entity is added once its register answered (a model without a load output gets
no load output switch), after the background read (settings.SettingsCoordinator): never during the setup.
Units, ranges and options come from the register table (vedirect.registers), the one truth for everyone.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, override

from homeassistant.components.number import NumberDeviceClass, NumberEntityDescription, NumberMode
from homeassistant.components.select import SelectEntityDescription
from homeassistant.components.sensor import SensorDeviceClass, SensorEntityDescription, SensorStateClass

# SwitchDeviceClass: in the package in 2026.5 (the ignore is unused there), in .const (re-exported implicitly)
# in 2026.10.
from homeassistant.components.switch import (  # type: ignore[attr-defined,unused-ignore]
    SwitchDeviceClass,
    SwitchEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import callback
from homeassistant.helpers import entity_platform, entity_registry as er
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .entity import HA_UNITS, ChangedStateWriter
from .identity import device_info, device_key
from .models import VeDirectConfigEntry
from .vedirect.registers import (
    ABSORPTION_VOLTAGE,
    AC_OUT_VOLTAGE_SETPOINT,
    BATTERY_CAPACITY,
    BATTERY_MAX_CURRENT,
    BATTERY_VOLTAGE,
    BMV_PEUKERT,
    BMV_TAIL_CURRENT,
    CHARGED_VOLTAGE,
    CHARGER_MAX_CURRENT,
    DC_MONITOR_MODE,
    DEVICE_MODE,
    DEVICE_UPTIME,
    EQUALISATION_VOLTAGE,
    FLOAT_VOLTAGE,
    HISTORY_TODAY,
    HISTORY_YESTERDAY,
    LOAD_OUTPUT_CONTROL,
    MPPT_ABSORPTION_TIME,
    MPPT_INTERNAL_TEMPERATURE,
    MPPT_REBULK_OFFSET,
    MPPT_TAIL_CURRENT,
    REGISTER_TABLES,
    SHUTDOWN_LOW_VOLTAGE,
    Family,
    HexValue,
    Register,
    as_number,
    find_register,
)


class RegisterDescription(Protocol):
    """What every HEX entity description has: its key (unique id suffix) and register."""

    @property
    def key(self) -> str:
        """The unique id suffix and, for most, the translation key."""

    @property
    def register(self) -> int:
        """The register id the entity shows (and writes)."""


def _option(value: HexValue) -> StateType:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, kw_only=True)
class HexSensorDescription(SensorEntityDescription):
    """A register (or one field of a history record) as a read-only sensor."""

    register: int
    value_fn: Callable[[HexValue], StateType] = as_number


@dataclass(frozen=True, kw_only=True)
class HexNumberDescription(NumberEntityDescription):
    """A numeric setting; min, max and step come from the register (and the device's battery voltage)."""

    register: int


@dataclass(frozen=True, kw_only=True)
class HexSwitchDescription(SwitchEntityDescription):
    """An enum register as on/off: ``off`` is written to switch off (and means off); switching on writes back
    the mode the register had before (``auto``, ``eco``...), ``on`` when none was seen."""

    register: int
    on: str = "on"
    off: str = "off"


@dataclass(frozen=True, kw_only=True)
class HexSelectDescription(SelectEntityDescription):
    """An enum register; the options are the register's option keys."""

    register: int


def options_of(register: Register) -> list[str]:
    """The option keys of an enum register, each once (MPPT device mode: 0 and 4 both read as "off")."""
    return list(dict.fromkeys((register.options or {}).values()))


def _register(family: Family, register_id: int) -> Register:
    return REGISTER_TABLES[family][register_id]


def _unit(register: Register) -> str | None:
    return None if register.unit is None else HA_UNITS[register.unit]


def _setting(
    family: Family,
    register_id: int,
    device_class: SensorDeviceClass | None,
    *,
    enabled: bool = True,
    key: str | None = None,
) -> HexSensorDescription:
    """A setting shown read-only: diagnostic (how the device is set up, not what it measures)."""
    register = _register(family, register_id)
    return HexSensorDescription(
        key=key or register.key,
        translation_key=key or register.key,
        register=register_id,
        device_class=device_class,
        native_unit_of_measurement=_unit(register),
        suggested_display_precision=register.decimals,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=enabled,
    )


def _enum_setting(family: Family, register_id: int, key: str, *, enabled: bool) -> HexSensorDescription:
    register = _register(family, register_id)
    return HexSensorDescription(
        key=key,
        translation_key=key,
        register=register_id,
        device_class=SensorDeviceClass.ENUM,
        options=options_of(register),
        value_fn=_option,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=enabled,
    )


def _record_field(name: str) -> Callable[[HexValue], StateType]:
    def value(record: HexValue) -> StateType:
        return as_number(record.get(name)) if isinstance(record, dict) else None

    return value


_HISTORY_FIELDS: tuple[tuple[str, str, SensorDeviceClass, str, int], ...] = (
    # (key suffix, record field, device class, unit, precision)
    ("yield", "yield_kwh", SensorDeviceClass.ENERGY, "kWh", 2),
    ("max_power", "power_max_w", SensorDeviceClass.POWER, "W", 0),
    ("bulk_time", "time_bulk_min", SensorDeviceClass.DURATION, "min", 0),
    ("absorption_time", "time_absorption_min", SensorDeviceClass.DURATION, "min", 0),
    ("float_time", "time_float_min", SensorDeviceClass.DURATION, "min", 0),
)


def _history(day: str, register_id: int) -> tuple[HexSensorDescription, ...]:
    """A day of the MPPT's history. Yield and maximum power are in the text block too (H20..H23): those
    are disabled by default, like every field of yesterday; today's times in bulk/absorption/float are not."""
    return tuple(
        HexSensorDescription(
            key=f"history_{day}_{suffix}",
            translation_key=f"history_{day}_{suffix}",
            register=register_id,
            device_class=device_class,
            native_unit_of_measurement=HA_UNITS[unit],
            suggested_display_precision=precision,
            # Today's yield only grows; a new day's record starts over (a meter reset for the statistics).
            state_class=SensorStateClass.TOTAL_INCREASING if suffix == "yield" and day == "today" else None,
            value_fn=_record_field(field),
            entity_registry_enabled_default=day == "today" and suffix.endswith("_time"),
        )
        for suffix, field, device_class, unit, precision in _HISTORY_FIELDS
    )


_VOLTAGE, _CURRENT = SensorDeviceClass.VOLTAGE, SensorDeviceClass.CURRENT
_MPPT, _BMV, _INVERTER = Family.MPPT, Family.BMV, Family.INVERTER

HEX_SENSORS: Mapping[Family, tuple[HexSensorDescription, ...]] = {
    _MPPT: (
        *_history("today", HISTORY_TODAY),
        *_history("yesterday", HISTORY_YESTERDAY),
        _setting(_MPPT, ABSORPTION_VOLTAGE, _VOLTAGE),
        _setting(_MPPT, FLOAT_VOLTAGE, _VOLTAGE),
        _setting(_MPPT, BATTERY_MAX_CURRENT, _CURRENT),
        _setting(_MPPT, EQUALISATION_VOLTAGE, _VOLTAGE, enabled=False),
        _setting(_MPPT, BATTERY_VOLTAGE, _VOLTAGE, key="system_voltage"),
        _setting(_MPPT, CHARGER_MAX_CURRENT, _CURRENT, enabled=False),
        _setting(_MPPT, MPPT_TAIL_CURRENT, _CURRENT, enabled=False),
        _setting(_MPPT, MPPT_ABSORPTION_TIME, SensorDeviceClass.DURATION, enabled=False),
        _setting(_MPPT, MPPT_REBULK_OFFSET, _VOLTAGE, enabled=False),
        _setting(_MPPT, MPPT_INTERNAL_TEMPERATURE, SensorDeviceClass.TEMPERATURE, enabled=False),
        _enum_setting(_MPPT, LOAD_OUTPUT_CONTROL, "load_output_mode", enabled=False),
    ),
    _BMV: (
        _setting(_BMV, BATTERY_CAPACITY, None),
        _setting(_BMV, CHARGED_VOLTAGE, _VOLTAGE),
        _setting(_BMV, BMV_TAIL_CURRENT, None, key="tail_current_percent"),
        _setting(_BMV, BMV_PEUKERT, None),
        _enum_setting(_BMV, DC_MONITOR_MODE, "dc_monitor_mode", enabled=False),
        _setting(_BMV, DEVICE_UPTIME, SensorDeviceClass.DURATION, enabled=False),
    ),
    _INVERTER: (
        _setting(_INVERTER, AC_OUT_VOLTAGE_SETPOINT, _VOLTAGE),
        _setting(_INVERTER, SHUTDOWN_LOW_VOLTAGE, _VOLTAGE, enabled=False),
    ),
}


def _control_number(
    family: Family, register_id: int, device_class: NumberDeviceClass | None, key: str | None = None
) -> HexNumberDescription:
    register = _register(family, register_id)
    return HexNumberDescription(
        key=key or register.key,
        translation_key=key or register.key,
        register=register_id,
        device_class=device_class,
        native_unit_of_measurement=_unit(register),
        native_step=register.scale,
        mode=NumberMode.BOX,
        entity_category=EntityCategory.CONFIG,
    )


_NUMBER_VOLTAGE, _NUMBER_CURRENT = NumberDeviceClass.VOLTAGE, NumberDeviceClass.CURRENT

HEX_NUMBERS: Mapping[Family, tuple[HexNumberDescription, ...]] = {
    _MPPT: (
        _control_number(_MPPT, BATTERY_MAX_CURRENT, _NUMBER_CURRENT),
        _control_number(_MPPT, ABSORPTION_VOLTAGE, _NUMBER_VOLTAGE),
        _control_number(_MPPT, FLOAT_VOLTAGE, _NUMBER_VOLTAGE),
    ),
    _BMV: (
        _control_number(_BMV, BATTERY_CAPACITY, None),
        _control_number(_BMV, CHARGED_VOLTAGE, _NUMBER_VOLTAGE),
        _control_number(_BMV, BMV_TAIL_CURRENT, None, key="tail_current_percent"),
        _control_number(_BMV, BMV_PEUKERT, None),
    ),
    _INVERTER: (
        _control_number(_INVERTER, AC_OUT_VOLTAGE_SETPOINT, _NUMBER_VOLTAGE),
        _control_number(_INVERTER, SHUTDOWN_LOW_VOLTAGE, _NUMBER_VOLTAGE),
    ),
}

HEX_SWITCHES: Mapping[Family, tuple[HexSwitchDescription, ...]] = {
    _MPPT: (
        HexSwitchDescription(
            key="load_output",
            translation_key="load_output",
            register=LOAD_OUTPUT_CONTROL,
            device_class=SwitchDeviceClass.OUTLET,
            on="auto",  # never seen on: the mode that still protects the battery from a deep discharge
        ),
        HexSwitchDescription(
            key="charger",
            translation_key="charger",
            register=DEVICE_MODE,
            device_class=SwitchDeviceClass.SWITCH,
        ),
    ),
    _INVERTER: (
        HexSwitchDescription(
            key="inverter",
            translation_key="inverter",
            register=DEVICE_MODE,
            device_class=SwitchDeviceClass.SWITCH,
        ),
    ),
}


def _select(family: Family, register_id: int, key: str) -> HexSelectDescription:
    return HexSelectDescription(
        key=key,
        translation_key=key,
        register=register_id,
        options=options_of(_register(family, register_id)),
        entity_category=EntityCategory.CONFIG,
    )


HEX_SELECTS: Mapping[Family, tuple[HexSelectDescription, ...]] = {
    _MPPT: (_select(_MPPT, LOAD_OUTPUT_CONTROL, "load_output_mode"),),
    _INVERTER: (_select(_INVERTER, DEVICE_MODE, "inverter_mode"),),
}

_ALL_DESCRIPTIONS: tuple[Mapping[Family, Sequence[RegisterDescription]], ...] = (
    HEX_SENSORS,
    HEX_NUMBERS,
    HEX_SWITCHES,
    HEX_SELECTS,
)
# Read first: what the others' bounds depend on (battery voltage, the charger's maximum current).
_BOUNDS_REGISTERS: Mapping[Family, tuple[int, ...]] = {_MPPT: (BATTERY_VOLTAGE, CHARGER_MAX_CURRENT)}

WANTED_REGISTERS: Mapping[Family, tuple[int, ...]] = {
    family: tuple(
        dict.fromkeys(
            (
                *_BOUNDS_REGISTERS.get(family, ()),
                *(
                    description.register
                    for table in _ALL_DESCRIPTIONS
                    for description in table.get(family, ())
                ),
            )
        )
    )
    for family in Family
}
"""The registers the settings coordinator reads per family, in this order."""


class HexEntity(ChangedStateWriter):
    """An entity of one HEX register: available while the link is up and the register answered; its state
    is written when the register or the link changes (no polling)."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, entry: VeDirectConfigEntry, description: EntityDescription, register_id: int) -> None:
        """Attach to the entry's device, its link coordinator and its HEX settings."""
        runtime = entry.runtime_data
        self.runtime = runtime
        self.settings = runtime.settings
        self.register_id = register_id
        self.entity_description = description
        self._attr_unique_id = f"{device_key(entry)}_{description.key}"
        self._attr_device_info = device_info(entry, runtime.client.frame)

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the registers and the link."""
        await super().async_added_to_hass()
        self.async_on_remove(self.settings.async_add_listener(self.async_write_changed_state))
        self.async_on_remove(self.runtime.coordinator.async_add_listener(self.async_write_changed_state))

    @property
    def register(self) -> Register:
        """The register of the device's family (the description names one of its table; one the device
        stopped answering makes the entity unavailable, not this lookup fail)."""
        register = find_register(self.settings.family, self.register_id)
        assert register is not None
        return register

    @property
    def register_value(self) -> HexValue:
        """The register's value as last read, set or sent by the device."""
        return self.settings.values.get(self.register_id)

    @property
    @override
    def available(self) -> bool:
        """Unavailable while the link is lost (the values may be stale) or the register is gone."""
        return self.runtime.coordinator.last_update_success and self.register_id in self.settings.values

    @override
    def shown(self) -> object:
        """Availability and the register's value."""
        return self.available, self.register_value

    async def async_write_register(self, value: HexValue) -> None:
        """Write through the settings (checked, read back: the state shows what the device took)."""
        await self.settings.async_write(self.register, value)


@callback
def async_add_hex_entities[DescriptionT: RegisterDescription](
    entry: VeDirectConfigEntry,
    descriptions: Mapping[Family, Sequence[DescriptionT]],
    build: Callable[[DescriptionT], Entity],
    async_add_entities: AddConfigEntryEntitiesCallback,
    *,
    control: bool = False,
) -> None:
    """Add the entity of each description whose register the device answered, as registers answer (the
    first read runs after the setup); control entities (``control``) only when the entry allows control."""
    settings = entry.runtime_data.settings
    if control and not settings.allow_control:
        _remove_control_entities(entry)
        return
    added: set[str] = set()

    @callback
    def add_new() -> None:
        family = settings.family
        if family is None:
            return
        new = [
            description
            for description in descriptions.get(family, ())
            if description.key not in added and description.register in settings.values
        ]
        if new:
            added.update(description.key for description in new)
            async_add_entities([build(description) for description in new])

    add_new()
    entry.async_on_unload(settings.async_add_listener(add_new))


@callback
def _remove_control_entities(entry: VeDirectConfigEntry) -> None:
    """The option was turned off: the platform's control entities leave the registry (no "no longer
    provided" leftovers); turned on again, they come back with the same entity ids."""
    platform = entity_platform.async_get_current_platform()
    registry = er.async_get(platform.hass)
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        if entity.domain == platform.domain:
            registry.async_remove(entity.entity_id)
