"""Selects of a VE.Direct device, when its entry allows control: its enum registers (the MPPT's load output
mode, the inverter's mode). Each writes over HEX and shows what the device reads back."""

from typing import override

from homeassistant.components.select import SelectEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .hex_entities import HEX_SELECTS, HexEntity, HexSelectDescription, async_add_hex_entities
from .models import VeDirectConfigEntry

PARALLEL_UPDATES = 1  # one write at a time per platform: the port carries one HEX request at a time anyway


class HexSelect(HexEntity, SelectEntity):
    """One option key of an enum register."""

    entity_description: HexSelectDescription

    @property
    @override
    def current_option(self) -> str | None:
        """None for a code the table does not know."""
        value = self.register_value
        return value if isinstance(value, str) and value in self.options else None

    @override
    async def async_select_option(self, option: str) -> None:
        """Write the option (HA checks it is one of the options)."""
        await self.async_write_register(option)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: VeDirectConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """The selects of the registers the device answered, when control is allowed."""
    async_add_hex_entities(
        entry,
        HEX_SELECTS,
        lambda description: HexSelect(entry, description, description.register),
        async_add_entities,
        control=True,
    )
