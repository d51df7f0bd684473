"""Who is on a port: probe a VE.Direct device and derive the config entry's unique_id from it.

Shared by the config flow (user, USB discovery, reconfigure) and the repair flow (port moved).

Two keys per VE.Direct entry: its unique_id tells whether a device is configured already (SER#; a
BMV/SmartShunt sends none in text mode: its serial read over HEX, else product id @ port), so it follows the
device to a new port; its device key (see ``device_key``) names the HA device and entities, so it never
changes with the port.
"""

from dataclasses import dataclass
import os
from pathlib import Path

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo

from .const import CONF_DEVICE_KEY, DOMAIN, LOGGER, MANUFACTURER, PROBE_TIMEOUT
from .vedirect.client import NoDataError, PortOpenError, Probe, probe_device
from .vedirect.device import DeviceFrame

UNKNOWN_PRODUCT = "VE.Direct device"
SERIAL_BY_ID = Path("/dev/serial/by-id")
PORT_SEPARATOR = "@"  # in the unique_id of a serial-less device, between its product id and its port


class ProbeError(Exception):
    """The probe failed; ``reason`` is the translation key of the flow error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """What a device tells about itself in text mode."""

    product_id: int | None
    product_name: str
    serial_number: str | None

    @classmethod
    def from_frame(cls, frame: DeviceFrame, hex_serial: str | None = None) -> DeviceIdentity:
        """Read PID and SER# of a probed frame; without SER#, the serial read over HEX (if any)."""
        return cls(
            product_id=frame.product_id,
            product_name=frame.product_name or UNKNOWN_PRODUCT,
            serial_number=frame.serial_number or hex_serial or None,
        )

    @classmethod
    def from_probe(cls, found: Probe) -> DeviceIdentity:
        """The identity of a probe: its frame, and its HEX serial for a device that sends no SER#."""
        return cls.from_frame(found.frame, found.hex_serial)

    @property
    def product_key(self) -> str:
        """The PID as the device writes it (e.g. 0xA381), or "unknown"."""
        return "unknown" if self.product_id is None else f"0x{self.product_id:04X}"

    def unique_id(self, port: str) -> str:
        """SER# when sent; a BMV/SmartShunt sends none in text mode: its PID plus the stable port path."""
        return self.serial_number or f"{self.product_key}{PORT_SEPARATOR}{port}"

    def matches(self, unique_id: str | None) -> bool:
        """True if a configured unique_id can be this device: its serial, or for an entry known by product
        and port (a BMV not re-keyed yet, or one that did not answer HEX), the same product."""
        if self.serial_number and unique_id == self.serial_number:
            return True
        return unique_id is not None and unique_id.startswith(f"{self.product_key}{PORT_SEPARATOR}")


def is_serial(unique_id: str | None) -> bool:
    """Whether a VE.Direct unique_id is a serial number (else product id @ port, or none)."""
    return bool(unique_id) and PORT_SEPARATOR not in str(unique_id)


def device_key(entry: ConfigEntry) -> str:
    """The key of the entry's HA device and entity unique IDs.

    Stored in entry.data[CONF_DEVICE_KEY] since config entry 1.3 (the migration writes it, a new entry's
    first setup too; a BMV/SmartShunt re-keyed to its HEX serial changes it once). Absent (a new entry not
    set up yet): the serial of its unique_id, else the entry id, as a serial-less device's unique_id names
    its port, which reconfigure and repairs change.
    """
    stored = entry.data.get(CONF_DEVICE_KEY)
    if isinstance(stored, str) and stored:
        return stored
    return default_device_key(entry)


def default_device_key(entry: ConfigEntry) -> str:
    """The device key an entry without a stored one gets (also what the 1.3 migration stores)."""
    return entry.unique_id if entry.unique_id and is_serial(entry.unique_id) else entry.entry_id


_HELD_SERIALS: set[tuple[str, str]] = set()  # (entry id, serial) found held by another entry, logged once


@callback
def async_rekey_to_serial(hass: HomeAssistant, entry: ConfigEntry, serial: str) -> bool:
    """A device keyed on its entry id (a BMV/SmartShunt, unique_id product id @ port) answered its serial
    over HEX: make the serial its unique_id, device identifier and device key, once. Entity unique ids
    "<old key>_<x>" become "<serial>_<x>" in the registry, so entity ids, names and history are kept.
    Returns whether it re-keyed (the entry is then to be reloaded, for its entities to take the new ids).

    A serial another entry holds already (the same device configured twice, on two ports) is left alone, and
    logged once.
    """
    if device_key(entry) != entry.entry_id or not is_serial(serial):
        return False  # keyed on a serial already (SER#, or re-keyed before)
    holder = hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, serial)
    if holder is not None and holder.entry_id != entry.entry_id:
        if (entry.entry_id, serial) not in _HELD_SERIALS:
            _HELD_SERIALS.add((entry.entry_id, serial))
            LOGGER.warning(
                "%s answers the serial number that %r holds already: the same device twice? Kept as it is",
                entry.title,
                holder.title,
            )
        return False
    old_key = device_key(entry)
    entities = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(entities, entry.entry_id):
        if entity.unique_id.startswith(f"{old_key}_"):
            new_unique_id = f"{serial}_{entity.unique_id.removeprefix(f'{old_key}_')}"
            entities.async_update_entity(entity.entity_id, new_unique_id=new_unique_id)
    devices = dr.async_get(hass)
    for device in dr.async_entries_for_config_entry(devices, entry.entry_id):
        if (DOMAIN, old_key) in device.identifiers:
            devices.async_update_device(device.id, new_identifiers={(DOMAIN, serial)}, serial_number=serial)
    hass.config_entries.async_update_entry(
        entry, unique_id=serial, data={**entry.data, CONF_DEVICE_KEY: serial}
    )
    LOGGER.info("%s: unique id and device key are now its serial number", entry.title)
    return True


def device_info(entry: ConfigEntry, frame: DeviceFrame | None) -> DeviceInfo:
    """The device registry entry of a VE.Direct device: named after its entry, described by its frame."""
    product_id = None if frame is None else frame.product_id
    return DeviceInfo(
        identifiers={(DOMAIN, device_key(entry))},
        name=entry.title,
        manufacturer=MANUFACTURER,
        model=None if frame is None else frame.product_name,
        model_id=None if product_id is None else f"0x{product_id:04X}",
        # A BMV/SmartShunt sends no SER#: its unique_id is the serial it answered over HEX.
        serial_number=None
        if frame is None
        else frame.serial_number or (entry.unique_id if is_serial(entry.unique_id) else None),
        sw_version=None if frame is None else frame.firmware,
    )


async def async_probe_identity(port: str) -> DeviceIdentity:
    """Open the port and wait (up to PROBE_TIMEOUT s) for valid blocks; a device sending no SER# is asked
    its serial over HEX (a few seconds more if it does not answer)."""
    try:
        found = await probe_device(port, PROBE_TIMEOUT)
    except PortOpenError as err:
        raise ProbeError("cannot_open") from err
    except NoDataError as err:
        raise ProbeError("no_data") from err
    return DeviceIdentity.from_probe(found)


async def async_probe_moved_device(hass: HomeAssistant, entry: ConfigEntry, port: str) -> tuple[str, str]:
    """Probe ``port`` for the device of ``entry`` moved there: its stable path and the entry's new unique_id.

    ProbeError "other_device" when another device answers, including one that another entry holds.
    """
    identity = await async_probe_identity(port)
    if not identity.matches(entry.unique_id):
        raise ProbeError("other_device")
    port = await async_stable_port(hass, port)
    unique_id = identity.unique_id(port)
    holder = hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, unique_id)
    if holder is not None and holder.entry_id != entry.entry_id:
        raise ProbeError("other_device")
    return port, unique_id


def is_local_port(port: str) -> bool:
    """Device paths are local; anything else is a serialx URL (socket://, rfc2217://, esphome://...)."""
    return port.startswith("/")


def stable_port_path(port: str) -> str:
    """The /dev/serial/by-id link of a local port when there is one (blocking: run in the executor).

    /dev/ttyUSBn numbers change with plug order; the by-id name holds the cable's USB serial number.
    """
    real = os.path.realpath(port)
    if SERIAL_BY_ID.is_dir():
        for link in sorted(SERIAL_BY_ID.iterdir()):
            if link.is_symlink() and os.path.realpath(link) == real:
                return str(link)
    return port


async def async_stable_port(hass: HomeAssistant, port: str) -> str:
    """The stable path of a local port (see stable_port_path); URLs are returned as given."""
    if not is_local_port(port):
        return port
    return await hass.async_add_executor_job(stable_port_path, port)


async def async_same_port(hass: HomeAssistant, first: str, second: str) -> bool:
    """True if both name the same local device (by-id links resolved) or are the same URL."""
    if first == second:
        return True
    if not (is_local_port(first) and is_local_port(second)):
        return False
    real_first, real_second = await hass.async_add_executor_job(
        lambda: (os.path.realpath(first), os.path.realpath(second))
    )
    return real_first == real_second
