"""A device's HEX registers: its settings and history, read in the background, and the one way to write them.

Read once after the entry is set up (in a background task tied to the entry: a device that does not answer
HEX costs its timeouts there, never the setup), then every HEX_READ_INTERVAL s; an async frame from the device
(or the read-back of a write) updates a register at once. A register the device does not know (flag 0x01, or
0x02 on a read) is dropped for the entry's life; a device found not to answer HEX at all gets no HEX entity,
and its diagnostics say so. Writes (entities and the write_register action) go through `async_write` only:
refused unless the entry allows control, while the link is down, or out of the register's range.
"""

import asyncio
from collections.abc import Mapping, Sequence
from datetime import timedelta
import re
from typing import Any, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .const import CONF_ALLOW_CONTROL, DOMAIN, HEX_READ_INTERVAL, LOGGER
from .identity import async_rekey_to_serial, device_key
from .vedirect import LinkState, VeDirectClient
from .vedirect.errors import (
    HexError,
    HexNotConnectedError,
    HexNotWritableError,
    HexParameterError,
    HexTimeoutError,
    HexUnknownCommandError,
    HexUnknownRegisterError,
    HexUnsupportedError,
)
from .vedirect.registers import (
    BATTERY_VOLTAGE,
    SERIAL_NUMBER,
    Family,
    HexValue,
    Register,
    as_number,
    family_of,
    find_register,
)

type HexValues = dict[int, HexValue]

# "Phoenix Inverter 12V 800VA 230V": the battery voltage of a model that has no register for it.
_MODEL_VOLTAGE = re.compile(r"\b(12|24|36|48)V\b")
# A device's answer to a read that says it has no such register: dropped for the entry's life.
_NO_SUCH_REGISTER = (HexUnknownRegisterError, HexNotWritableError, HexUnknownCommandError, ValueError)
# Why a write was refused, by the device or on the way: the translation key of the HomeAssistantError.
_WRITE_ERRORS: tuple[tuple[type[HexError], str], ...] = (
    (HexParameterError, "device_refused_value"),
    (HexNotWritableError, "register_not_supported"),
    (HexUnknownRegisterError, "device_lacks_register"),
    (HexTimeoutError, "hex_timeout"),
    (HexNotConnectedError, "not_connected"),
    (HexUnsupportedError, "hex_unsupported"),
)


class SettingsCoordinator(DataUpdateCoordinator[HexValues]):
    """The HEX registers of one device (register id -> decoded value; a register that answered "no value",
    e.g. an empty history day, holds None)."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        client: VeDirectClient,
        wanted: Mapping[Family, Sequence[int]],
    ) -> None:
        """``wanted``: the registers each family's entities (and bounds) need, read in the order given."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"VE.Direct HEX {entry.title}",
            update_interval=timedelta(seconds=HEX_READ_INTERVAL),
            always_update=False,
        )
        self.client = client
        self.family: Family | None = None
        self._wanted = wanted
        self._dropped: set[int] = set()
        self._read_done = asyncio.Event()

    @property
    def allow_control(self) -> bool:
        """Whether the entry's options allow writes (control entities exist only then)."""
        return bool(self.config_entry.options.get(CONF_ALLOW_CONTROL, False))

    @property
    def hex_support(self) -> bool | None:
        """The client's finding: None unknown yet, False the device does not answer HEX."""
        return self.client.hex_support

    @property
    def values(self) -> Mapping[int, HexValue]:
        """The registers answered so far (empty before the first read and on a device without HEX)."""
        return self.data or {}

    async def async_first_read(self) -> None:
        """Wait until the first read is over (whatever its outcome)."""
        await self._read_done.wait()

    async def async_start(self, frame_product_id: int | None, fields: Mapping[str, str]) -> None:
        """The background task of the entry: the first read, then the interval (listeners, HA's timer)."""
        self.family = family_of(frame_product_id, fields)
        try:
            if self.family is not None:
                await self.async_refresh()
        finally:
            self._read_done.set()
        if self.hex_support is False:  # logged once by the client; nothing to read any more
            self.update_interval = None
            self._async_unsub_refresh()

    @callback
    def _rekey_once_serial_known(self, values: Mapping[int, HexValue]) -> None:
        """A device keyed on its entry id (a BMV) answered its serial, at whichever read: re-key, reload."""
        serial = values.get(SERIAL_NUMBER)
        if isinstance(serial, str) and serial and async_rekey_to_serial(self.hass, self.config_entry, serial):
            self.hass.config_entries.async_schedule_reload(self.config_entry.entry_id)

    def register(self, register_id: int) -> Register | None:
        """The register of this device's family, unless the device does not have it."""
        if register_id in self._dropped:
            return None
        return find_register(self.family, register_id)

    def _to_read(self) -> list[Register]:
        if self.family is None or self.hex_support is False:
            return []
        wanted = list(self._wanted.get(self.family, ()))
        if device_key(self.config_entry) == self.config_entry.entry_id:
            wanted.insert(0, SERIAL_NUMBER)  # a BMV/SmartShunt: its unique id and device key (re-keyed)
        return [register for register_id in wanted if (register := self.register(register_id)) is not None]

    @override
    async def _async_update_data(self) -> HexValues:
        """Read every wanted register the device has. A timeout ends the read (the device went silent or
        never answered: 3 s a register would hold the HEX channel for minutes); the rest keep theirs."""
        values = dict(self.values)
        if self.client.link_state is not LinkState.CONNECTED:
            return values  # the device coordinator tells of the link (once); the registers keep theirs
        for register in self._to_read():
            try:
                values[register.id] = await self.client.get(register)
            except HexParameterError:
                values[register.id] = None  # it has the register, without a value (an empty history day)
            except _NO_SUCH_REGISTER:
                self._drop_unless_answered(register, values)
            except HexNotConnectedError, HexTimeoutError, HexUnsupportedError:
                # The link went down (told once by the device coordinator), no device any more, or one
                # gone silent: no 3 s per register; the rest keep theirs until the next read.
                break
            except HexError:
                self._drop_unless_answered(register, values)
        self._rekey_once_serial_known(values)
        return values

    def _drop_unless_answered(self, register: Register, values: dict[int, HexValue]) -> None:
        """A register the device says it lacks (or answers oddly) is dropped for the entry's life, unless it
        answered before: one odd reply (a stray frame, line noise) then only keeps its value until the next
        read, and its entity stays."""
        if register.id in values:
            LOGGER.debug("%s: odd reply for %s, kept", self.config_entry.title, _register_name(register))
            return
        LOGGER.debug("%s has no register %s", self.config_entry.title, _register_name(register))
        self._dropped.add(register.id)

    @callback
    def async_handle_register(self, register_id: int, payload: bytes) -> None:
        """An async frame (or a reply) of the client: update a register the entities show at once."""
        if self.data is None or register_id not in self.data:
            return  # not read yet (the first read gets it), or not one of ours
        register = self.register(register_id)
        if register is None:
            return
        try:
            value = register.decode(payload)
        except ValueError:
            return
        self._set_value(register_id, value)

    @callback
    def _set_value(self, register_id: int, value: HexValue) -> None:
        if register_id in self.values and self.values[register_id] == value:
            return
        # Not async_set_updated_data: that would also postpone the next full read, forever on a device
        # sending async frames every few seconds.
        self.data = {**self.values, register_id: value}
        self.async_update_listeners()

    @property
    def battery_voltage(self) -> float | None:
        """The system voltage (12, 24, 36, 48 V): the MPPT's register, else the model name, else the nominal
        voltage nearest to the battery's, else unknown."""
        value = as_number(self.values.get(BATTERY_VOLTAGE))
        if value is not None and value > 0:
            return float(value)
        frame = self.client.frame
        if match := _MODEL_VOLTAGE.search(frame.product_name or ""):
            return float(match.group(1))
        # A model the product table does not know yet: the nominal voltage nearest to the battery's now
        # (a 24 V bank reads 21..29 V, a 48 V one 42..58 V).
        measured = as_number(frame.values.get("V"))
        if measured is not None and measured > 6:
            return float(min((12, 24, 36, 48), key=lambda nominal: abs(nominal - measured)))
        return None

    def bounds(self, register: Register) -> tuple[float | None, float | None]:
        """The range a write must be in: the register's own, for this battery voltage, capped by the
        register that limits it on this device (e.g. the charger's maximum current) when known."""
        low, high = register.bounds(self.battery_voltage)
        if register.maximum_from is not None:
            cap = as_number(self.values.get(register.maximum_from))
            if cap is not None:
                high = cap if high is None else min(high, cap)
        return low, high

    async def async_read(self, register: Register) -> HexValue:
        """One register now (the read_register action); translated errors, the value stored if ours."""
        self._check_link()
        try:
            value = await self.client.get(register)
        except HexError as err:
            raise _hex_error(err, self.config_entry.title, register) from err
        if self.data is not None and register.id in self.data:
            self._set_value(register.id, value)
        return value

    async def async_write(self, register: Register, value: HexValue) -> HexValue:
        """Write ``value`` (base units, or an option key) and return what the device reads back, which the
        entities then show. Refused (ServiceValidationError) unless control is allowed, for a read-only
        register or a value out of range; a failure on the way or a refusal by the device raises a
        translated HomeAssistantError and changes nothing."""
        name = self.config_entry.title
        if not self.allow_control:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="control_disabled",
                translation_placeholders={"name": name},
            )
        if not register.writable:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="register_read_only",
                translation_placeholders={"register": _register_name(register)},
            )
        self._check_value(register, value)
        self._check_link()
        try:
            read_back = await self.client.set(register, value, battery_voltage=self.battery_voltage)
        except HexError as err:
            raise _hex_error(err, name, register) from err
        LOGGER.info("%s: %s set to %r (read back %r)", name, _register_name(register), value, read_back)
        self._set_value(register.id, read_back)
        return read_back

    def _check_link(self) -> None:
        if self.client.link_state is not LinkState.CONNECTED:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="not_connected",
                translation_placeholders={"name": self.config_entry.title},
            )

    def _check_value(self, register: Register, value: HexValue) -> None:
        """The value's type and range (ServiceValidationError with what is allowed)."""
        placeholders = {"register": _register_name(register), "value": repr(value)}
        if register.options is not None:
            options = sorted(set(register.options.values()))
            if value not in options:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="invalid_option",
                    translation_placeholders={**placeholders, "options": ", ".join(options)},
                )
            return
        low, high = self.bounds(register)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="value_out_of_range",
                translation_placeholders={
                    **placeholders,
                    "minimum": _bound(low),
                    "maximum": _bound(high),
                    "unit": register.unit or "",
                },
            )
        try:
            register.encode(value, battery_voltage=self.battery_voltage)
        except ValueError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_value",
                translation_placeholders=placeholders,
            ) from err

    def diagnostics(self) -> dict[str, Any]:
        """What the device answered: whether it speaks HEX at all, its registers, the ones it lacks."""
        return {
            "family": self.family,
            "hex_support": self.hex_support,
            "status": _status(self.family, self.hex_support, self._read_done.is_set()),
            "allow_control": self.allow_control,
            "last_read_success": self.last_update_success,
            # Keyed by register key: "serial_number" is redacted like the other serial numbers.
            "registers": {
                _key(self.family, register_id): value for register_id, value in self.values.items()
            },
            "dropped": sorted(f"0x{register_id:04X}" for register_id in self._dropped),
        }


def _status(family: Family | None, hex_support: bool | None, read: bool) -> str:
    if family is None:
        return "no_register_table"
    if hex_support is False:
        return "no_hex_answer"
    return "read" if read else "reading"


def _key(family: Family | None, register_id: int) -> str:
    register = find_register(family, register_id)
    return register.key if register is not None else f"0x{register_id:04X}"


def _bound(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _register_name(register: Register) -> str:
    return f"{register.key} (0x{register.id:04X})"


def _hex_error(err: HexError, name: str, register: Register) -> HomeAssistantError:
    """The translated error of a failed request (the device's refusal, a timeout, the link)."""
    key = next((key for kind, key in _WRITE_ERRORS if isinstance(err, kind)), "hex_failed")
    placeholders = {"name": name, "register": _register_name(register), "error": str(err)}
    if isinstance(err, HexParameterError):
        placeholders["value"] = repr(err.value)
    return HomeAssistantError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )
