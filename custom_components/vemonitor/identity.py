"""Who is on a port: probe a VE.Direct device and derive the config entry's unique_id from it.

Shared by the config flow (user, USB discovery, reconfigure) and the repair flow (port moved).

Two keys per VE.Direct entry: its unique_id tells whether a device is configured already (SER#, or for a
BMV/SmartShunt, which sends none in text mode, product id @ port), so it follows the device to a new port;
its device key (see ``device_key``) names the HA device and entities, so it never changes with the port.
"""

from dataclasses import dataclass
import os
from pathlib import Path

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceInfo

from .const import DOMAIN, MANUFACTURER, PROBE_TIMEOUT
from .vedirect.client import NoDataError, PortOpenError, probe
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
    def from_frame(cls, frame: DeviceFrame) -> DeviceIdentity:
        """Read PID and SER# of a probed frame."""
        return cls(
            product_id=frame.product_id,
            product_name=frame.product_name or UNKNOWN_PRODUCT,
            serial_number=frame.serial_number,
        )

    @property
    def product_key(self) -> str:
        """The PID as the device writes it (e.g. 0xA381), or "unknown"."""
        return "unknown" if self.product_id is None else f"0x{self.product_id:04X}"

    def unique_id(self, port: str) -> str:
        """SER# when sent; a BMV/SmartShunt sends none in text mode: its PID plus the stable port path."""
        return self.serial_number or f"{self.product_key}{PORT_SEPARATOR}{port}"

    def matches(self, unique_id: str | None) -> bool:
        """True if a configured unique_id can be this device (serial-less devices: same product only)."""
        if self.serial_number:
            return unique_id == self.serial_number
        return unique_id is not None and unique_id.startswith(f"{self.product_key}{PORT_SEPARATOR}")


def device_key(entry: ConfigEntry) -> str:
    """The key of the entry's HA device and entity unique IDs: the SER# of a device that sends one, else
    the entry id, as a serial-less device's unique_id names its port, which reconfigure and repairs change."""
    unique_id = entry.unique_id
    if unique_id and PORT_SEPARATOR not in unique_id:
        return unique_id
    return entry.entry_id


def device_info(entry: ConfigEntry, frame: DeviceFrame | None) -> DeviceInfo:
    """The device registry entry of a VE.Direct device: named after its entry, described by its frame."""
    product_id = None if frame is None else frame.product_id
    return DeviceInfo(
        identifiers={(DOMAIN, device_key(entry))},
        name=entry.title,
        manufacturer=MANUFACTURER,
        model=None if frame is None else frame.product_name,
        model_id=None if product_id is None else f"0x{product_id:04X}",
        serial_number=None if frame is None else frame.serial_number,
        sw_version=None if frame is None else frame.firmware,
    )


async def async_probe_identity(port: str) -> DeviceIdentity:
    """Open the port and wait (up to PROBE_TIMEOUT s) for valid blocks."""
    try:
        frame = await probe(port, PROBE_TIMEOUT)
    except PortOpenError as err:
        raise ProbeError("cannot_open") from err
    except NoDataError as err:
        raise ProbeError("no_data") from err
    return DeviceIdentity.from_frame(frame)


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
