"""Numbers of a VE.Direct device, when its entry allows control: charge current and voltages of an MPPT,
battery settings of a BMV/SmartShunt, output settings of an inverter. Bounded by the register's range for the
device's battery voltage (and the charger's maximum current); each write is read back."""

from typing import override

from homeassistant.components.number import NumberEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .hex_entities import HEX_NUMBERS, HexEntity, HexNumberDescription, async_add_hex_entities
from .models import VeDirectConfigEntry
from .vedirect.registers import as_number

PARALLEL_UPDATES = 1  # one write at a time per platform: the port carries one HEX request at a time anyway

# A bound the register leaves open and the device did not tell (e.g. the charger's maximum current): the
# box still needs one; the device refuses what it cannot do (flag 0x04, shown as an error).
OPEN_MAXIMUM = 100.0


class HexNumber(HexEntity, NumberEntity):
    """A numeric register in its base unit."""

    entity_description: HexNumberDescription

    @property
    @override
    def native_value(self) -> float | None:
        """None when the register has no value."""
        return as_number(self.register_value)

    @property
    @override
    def native_min_value(self) -> float:
        """The register's minimum for this battery voltage."""
        low, _high = self.settings.bounds(self.register)
        return 0.0 if low is None else float(low)

    @property
    @override
    def native_max_value(self) -> float:
        """The register's maximum for this battery voltage, capped by the device's own limit when known."""
        _low, high = self.settings.bounds(self.register)
        return OPEN_MAXIMUM if high is None else float(high)

    @override
    def shown(self) -> object:
        """The value, and the bounds (the battery voltage or the charger's maximum may arrive later)."""
        return super().shown(), self.native_min_value, self.native_max_value

    @override
    async def async_set_native_value(self, value: float) -> None:
        """Write the value in the register's resolution (a whole number for whole units)."""
        register = self.register
        rounded = round(value, register.decimals)
        await self.async_write_register(int(rounded) if register.decimals == 0 else rounded)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: VeDirectConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """The numbers of the registers the device answered, when control is allowed."""
    async_add_hex_entities(
        entry,
        HEX_NUMBERS,
        lambda description: HexNumber(entry, description, description.register),
        async_add_entities,
        control=True,
    )
