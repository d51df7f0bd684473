"""VE Monitor: Victron VE.Direct devices in Home Assistant, with Redis outputs.

Two kinds of config entries (see models.is_redis_server): a VE.Direct device (a client reading the port in
the background, a coordinator sampling it every time_interval, its Redis outputs as subentries) and a Redis
server (a pool shared by the outputs writing to it). No update listener is registered: options and
reconfigure reload through the flows, and Redis output subentries are followed live by redis_outputs.
"""

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant

from .const import LOGGER
from .coordinator import VeDirectCoordinator
from .models import VeDirectRuntime, VeMonitorConfigEntry, is_redis_server
from .redis_outputs import async_remove_redis_outputs, async_setup_redis_outputs
from .redis_server import async_setup_redis_server
from .repairs import async_port_is_back

VEDIRECT_PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]
REDIS_SERVER_PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR]


def _platforms(entry: VeMonitorConfigEntry) -> list[Platform]:
    return REDIS_SERVER_PLATFORMS if is_redis_server(entry) else VEDIRECT_PLATFORMS


async def async_migrate_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """1.1 -> 1.2: VE.Direct options may hold entity_interval. A device added before the option has none,
    which means "every sample" (following its time interval, whatever it becomes): it keeps refreshing its
    entities as it did, while new devices get a longer default.

    An entry of a later release (back on this one) is not touched: a newer major version is refused (Home
    Assistant 2026.10 refuses it before calling this, 2026.5 does not), a newer minor one is compatible by
    definition. A Redis server entry only changes version.
    """
    if entry.version > 1:
        return False
    if entry.minor_version >= 2:
        return True
    hass.config_entries.async_update_entry(entry, minor_version=2)
    LOGGER.debug("Migrated entry %r to version 1.2", entry.title)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: VeMonitorConfigEntry) -> bool:
    """Set up a Redis server, or a VE.Direct device (not ready until its first valid block)."""
    if is_redis_server(entry):
        entry.runtime_data = await async_setup_redis_server(hass, entry)
    else:
        coordinator = VeDirectCoordinator(hass, entry)
        # Outputs first, so that they also store the first refresh's sample (the one the entities start with).
        redis_outputs = await async_setup_redis_outputs(hass, entry)
        entry.async_on_unload(coordinator.async_add_sample_listener(redis_outputs.async_add_sample))
        await coordinator.async_config_entry_first_refresh()
        entry.runtime_data = VeDirectRuntime(
            coordinator=coordinator, client=coordinator.client, redis_outputs=redis_outputs
        )
    await hass.config_entries.async_forward_entry_setups(entry, _platforms(entry))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: VeMonitorConfigEntry) -> bool:
    """Unload the platforms; the client, the outputs and the listeners stop through entry.async_on_unload."""
    return await hass.config_entries.async_unload_platforms(entry, _platforms(entry))


async def async_remove_entry(hass: HomeAssistant, entry: VeMonitorConfigEntry) -> None:
    """A deleted VE.Direct device takes its port-missing issue and its Redis outputs' spools and issues."""
    if not is_redis_server(entry):
        async_port_is_back(hass, entry)
        await async_remove_redis_outputs(hass, entry)
