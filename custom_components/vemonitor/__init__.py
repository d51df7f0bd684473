"""VE Monitor: Victron VE.Direct devices in Home Assistant, with Redis outputs.

Two kinds of config entries (entry.data[CONF_ENTRY_TYPE]): a VE.Direct device ("block item": a client reading
the port in the background, a coordinator sampling it every time_interval, its Redis outputs as subentries)
and a Redis server ("appConnector", set up by redis_runtime.py). No update listener is registered: options
and reconfigure reload through the flows' helpers; Redis output subentries are followed live by redis_runtime.
"""

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant

from .const import CONF_ENTRY_TYPE, ENTRY_TYPE_REDIS_SERVER
from .coordinator import VeDirectConfigEntry, VeDirectCoordinator, VeDirectRuntime
from .redis_runtime import (
    REDIS_SERVER_PLATFORMS,
    async_remove_redis_outputs,
    async_setup_redis_outputs,
    async_setup_redis_server,
)
from .repairs import async_port_is_back

VEDIRECT_PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]


def _platforms(entry: ConfigEntry) -> list[Platform]:
    if entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_REDIS_SERVER:
        return REDIS_SERVER_PLATFORMS
    return VEDIRECT_PLATFORMS


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Set up a Redis server, or a VE.Direct device (not ready until its first valid block)."""
    if entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_REDIS_SERVER:
        await async_setup_redis_server(hass, entry)
    else:
        await _async_setup_vedirect(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, _platforms(entry))
    return True


async def _async_setup_vedirect(hass: HomeAssistant, entry: VeDirectConfigEntry) -> None:
    coordinator = VeDirectCoordinator(hass, entry)
    # Outputs first, so that they also store the first refresh's sample (the one the entities start with).
    redis_outputs = await async_setup_redis_outputs(hass, entry, coordinator)
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = VeDirectRuntime(
        coordinator=coordinator, client=coordinator.client, redis_outputs=redis_outputs
    )


async def async_unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Unload the platforms; the client, the outputs and the listeners stop through entry.async_on_unload."""
    return await hass.config_entries.async_unload_platforms(entry, _platforms(entry))


async def async_remove_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """A deleted VE.Direct device takes its port-missing issue and its Redis outputs' spools and issues."""
    if entry.data.get(CONF_ENTRY_TYPE) != ENTRY_TYPE_REDIS_SERVER:
        async_port_is_back(hass, entry)
        await async_remove_redis_outputs(hass, entry)
