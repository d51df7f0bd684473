"""VE Monitor: Victron VE.Direct devices in Home Assistant, with Redis outputs.

Two kinds of config entries (see models.is_redis_server): a VE.Direct device (a client reading the port in
the background, a coordinator sampling it every time_interval, its HEX settings read in the background, its
Redis outputs as subentries) and a Redis server (a pool shared by the outputs writing to it). No update
listener is registered: options and reconfigure reload through the flows, and Redis output subentries are
followed live by redis_outputs. The actions (read_register, write_register, create_dashboard) are registered
once, in async_setup.
"""

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .const import CONF_DEVICE_KEY, DOMAIN, ENTRY_MINOR_VERSION, LOGGER
from .coordinator import VeDirectCoordinator
from .dashboard import async_offer_dashboard
from .hex_entities import WANTED_REGISTERS
from .identity import default_device_key
from .models import VeDirectRuntime, VeMonitorConfigEntry, is_redis_server, is_vedirect
from .redis_inputs import async_setup_redis_inputs
from .redis_outputs import async_remove_redis_outputs, async_setup_redis_outputs
from .redis_server import async_setup_redis_server
from .repairs import async_port_is_back
from .services import async_setup_services
from .settings import SettingsCoordinator

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

VEDIRECT_PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]
REDIS_SERVER_PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]


def _platforms(entry: VeMonitorConfigEntry) -> list[Platform]:
    return REDIS_SERVER_PLATFORMS if is_redis_server(entry) else VEDIRECT_PLATFORMS


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions (they find their device's entry when called)."""
    async_setup_services(hass)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """1.1 -> 1.2: VE.Direct options may hold entity_interval. A device added before the option has none,
    which means "every sample" (following its time interval, whatever it becomes): it keeps refreshing its
    entities as it did, while new devices get a longer default.

    1.2 -> 1.3: a VE.Direct entry stores its device key (entry.data["device_key"]: its SER#, or the entry id
    of a serial-less BMV/SmartShunt), which device_key() used to guess from the unique_id. A BMV's key then
    changes once, to the serial it answers over HEX (settings.SettingsCoordinator re-keys it), and never with
    its port.

    An entry of a later release (back on this one) is not touched: a newer major version is refused (Home
    Assistant 2026.10 refuses it before calling this, 2026.5 does not), a newer minor one is compatible by
    definition. A Redis server entry only changes version.
    """
    if entry.version > 1:
        return False
    if entry.minor_version >= ENTRY_MINOR_VERSION:
        return True
    data = dict(entry.data)
    if is_vedirect(entry) and CONF_DEVICE_KEY not in data:
        data[CONF_DEVICE_KEY] = default_device_key(entry)
    hass.config_entries.async_update_entry(entry, data=data, minor_version=ENTRY_MINOR_VERSION)
    LOGGER.debug("Migrated entry %r to version 1.%d", entry.title, ENTRY_MINOR_VERSION)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: VeMonitorConfigEntry) -> bool:
    """Set up a Redis server, or a VE.Direct device (not ready until its first valid block)."""
    if is_redis_server(entry):
        entry.runtime_data = await async_setup_redis_server(hass, entry)
        await async_setup_redis_inputs(hass, entry)  # before the sensors: they add the inputs' ones
    else:
        if (
            CONF_DEVICE_KEY not in entry.data
        ):  # created since 1.3: store it, so that it is never guessed again
            hass.config_entries.async_update_entry(
                entry, data={**entry.data, CONF_DEVICE_KEY: default_device_key(entry)}
            )
        coordinator = VeDirectCoordinator(hass, entry)
        # Outputs first, so that they also store the first refresh's sample (the one the entities start with).
        redis_outputs = await async_setup_redis_outputs(hass, entry)
        entry.async_on_unload(coordinator.async_add_sample_listener(redis_outputs.async_add_sample))
        await coordinator.async_config_entry_first_refresh()
        client = coordinator.client
        settings = SettingsCoordinator(hass, entry, client, WANTED_REGISTERS)
        client.on_register = settings.async_handle_register
        entry.async_on_unload(lambda: setattr(client, "on_register", None))
        entry.runtime_data = VeDirectRuntime(
            coordinator=coordinator, client=client, redis_outputs=redis_outputs, settings=settings
        )
        await hass.config_entries.async_forward_entry_setups(entry, VEDIRECT_PLATFORMS)
        async_offer_dashboard(hass)  # the "Energy system" dashboard, unless it exists
        # After the setup, never in it: a device that does not answer HEX costs its timeouts there.
        frame = client.frame
        entry.async_create_background_task(
            hass, settings.async_start(frame.product_id, frame.fields), f"{DOMAIN} HEX read {entry.title}"
        )
        return True
    await hass.config_entries.async_forward_entry_setups(entry, REDIS_SERVER_PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: VeMonitorConfigEntry) -> bool:
    """Unload the platforms; the client, the outputs and the listeners stop through entry.async_on_unload."""
    return await hass.config_entries.async_unload_platforms(entry, _platforms(entry))


async def async_remove_entry(hass: HomeAssistant, entry: VeMonitorConfigEntry) -> None:
    """A deleted VE.Direct device takes its port-missing issue and its Redis outputs' spools and issues."""
    if not is_redis_server(entry):
        async_port_is_back(hass, entry)
        await async_remove_redis_outputs(hass, entry)
