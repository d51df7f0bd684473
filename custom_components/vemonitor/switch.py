"""Switches of a VE.Direct device, when its entry allows control: the MPPT's load output, and the charger or
inverter on/off (device mode). Each writes over HEX and shows what the device reads back."""

from typing import Any, override

from homeassistant.components.switch import SwitchEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .hex_entities import HEX_SWITCHES, HexEntity, HexSwitchDescription, async_add_hex_entities
from .models import VeDirectConfigEntry

PARALLEL_UPDATES = 1  # one write at a time per platform: the port carries one HEX request at a time anyway


class HexSwitch(HexEntity, SwitchEntity):
    """An enum register seen as on/off: any mode but ``off`` is on (an inverter in eco mode is on)."""

    entity_description: HexSwitchDescription
    _resume: str | None = None  # the last mode other than off: what switching on restores

    @property
    @override
    def is_on(self) -> bool | None:
        """None when the register has no value."""
        value = self.register_value
        return None if value is None else value != self.entity_description.off

    @override
    def shown(self) -> object:
        """As the base entity; also notes the mode to restore (shown() runs at every update)."""
        value = self.register_value
        if isinstance(value, str) and value != self.entity_description.off:
            self._resume = value
        return super().shown()

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Write back the mode it had before it was switched off (auto stays auto, eco stays eco)."""
        await self.async_write_register(self._resume or self.entity_description.on)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Write the "off" option."""
        await self.async_write_register(self.entity_description.off)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: VeDirectConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """The switches of the registers the device answered, when control is allowed."""
    async_add_hex_entities(
        entry,
        HEX_SWITCHES,
        lambda description: HexSwitch(entry, description, description.register),
        async_add_entities,
        control=True,
    )
