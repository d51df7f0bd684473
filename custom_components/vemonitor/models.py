"""Runtime types of the two kinds of config entries, and the accessors that tell the kinds apart.

This module sits below the coordinator, settings and Redis modules and imports none of them: what other
modules need of a device's Redis outputs and of its HEX settings are the small protocols below, so the import
graph has no circle.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeGuard

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .const import CONF_ENTRY_TYPE, DOMAIN, ENTRY_TYPE_REDIS_SERVER, LOGGER
from .redis_worker import AUTH_ERRORS, CONNECTION_ERRORS, RedisConnector, RedisWorkerError, Topology
from .redis_worker.errors import classify
from .vedirect import DeviceFrame, VeDirectClient
from .vedirect.registers import Family, HexValue, Register


@dataclass(frozen=True, slots=True)
class VeDirectSample:
    """The device's state in one slot: what the entities show and every Redis output stores.

    The slots a late tick fills (coordinator.SlotClock) get a sample each, all with that tick's frame.
    """

    timestamp: datetime  # aware UTC, whole seconds: the slot, floor(t / time_interval) * time_interval
    frame: DeviceFrame  # the client's snapshot of the merged frame; nothing mutates it
    received_at: datetime  # aware UTC: when the newest block of that frame arrived


class DeviceRedisOutputs(Protocol):
    """What the platforms and diagnostics use of a device's Redis outputs (redis_outputs.RedisOutputs)."""

    def async_add_sensors(self, async_add_entities: AddConfigEntryEntitiesCallback) -> None:
        """Add the sensors of every output, now and for outputs added later."""

    def diagnostics(self) -> dict[str, Any]:
        """Every output's settings and state."""


class DeviceSettings(Protocol):
    """What the platforms, actions and diagnostics use of a device's HEX registers
    (settings.SettingsCoordinator)."""

    @property
    def family(self) -> Family | None:
        """The device's register table (None: none, no HEX entity)."""

    @property
    def allow_control(self) -> bool:
        """Whether the entry's options allow writes."""

    @property
    def hex_support(self) -> bool | None:
        """None unknown yet, False the device does not answer HEX, True it did."""

    @property
    def values(self) -> Mapping[int, HexValue]:
        """Register id -> decoded value of every register the device answered."""

    def register(self, register_id: int) -> Register | None:
        """The register of the device's family, unless the device lacks it."""

    def bounds(self, register: Register) -> tuple[float | None, float | None]:
        """The range a write of ``register`` must be in on this device."""

    def async_add_listener(self, update_callback: CALLBACK_TYPE, context: Any = None) -> Callable[[], None]:
        """Call ``update_callback()`` when registers change; returns the unsubscribe function."""

    async def async_first_read(self) -> None:
        """Wait until the first read is over."""

    async def async_read(self, register: Register) -> HexValue:
        """Read one register now."""

    async def async_write(self, register: Register, value: HexValue) -> HexValue:
        """Write one register (checked first), return the value read back."""

    def diagnostics(self) -> dict[str, Any]:
        """What the device answered over HEX."""


@dataclass(frozen=True, slots=True)
class VeDirectRuntime:
    """entry.runtime_data of a VE.Direct device."""

    coordinator: DataUpdateCoordinator[VeDirectSample]
    client: VeDirectClient
    redis_outputs: DeviceRedisOutputs
    settings: DeviceSettings


def signal_redis_server_ready(entry_id: str) -> str:
    """Dispatcher signal: the Redis server entry is set up or answers again (its outputs send at once)."""
    return f"{DOMAIN}_redis_server_ready_{entry_id}"


class RedisServerRuntime:
    """entry.runtime_data of a Redis server: the pool every output of this server shares, whether the
    server answers (health check + what the outputs report), and its topology at the last health check
    (the master the sentinels name, the cluster's shards; failovers are counted by the connector)."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, connector: RedisConnector, version: str | None
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.connector = connector
        self.server_version = version
        self.connected = True
        self.last_error: RedisWorkerError | None = None
        self.topology: Topology | None = None
        self._listeners: list[CALLBACK_TYPE] = []

    def __repr__(self) -> str:
        return f"RedisServerRuntime({self.entry.title!r}, {self.connector!r}, connected={self.connected})"

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `listener()` when the connectivity changes and after every health check that reached the
        server (the entities write their state only if what they show changed); returns the unsubscribe
        function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def async_report_failure(self, error: RedisWorkerError) -> None:
        """A command failed: start a reauth if credentials fail; mark the server lost (logged once) only if
        it is unusable as a whole. A refusal of one output's writes (WRONGTYPE, OOM, NOPERM...) leaves the
        server connected: the output reports it, and the PING health check would otherwise turn the
        connectivity back on at once, again and again.
        """
        if isinstance(error, AUTH_ERRORS):
            self.entry.async_start_reauth(self.hass)
        if not isinstance(error, CONNECTION_ERRORS):
            return
        self.last_error = error
        if not self.connected:
            return
        self.connected = False
        self.topology = None  # unknown until a health check reaches the server again
        LOGGER.info("Redis server %r is unavailable: %s", self.entry.title, error)
        self._notify()

    @callback
    def async_report_success(self) -> None:
        """The server answered: mark it back (logged once) and tell its outputs to send now. Back through
        an output's write, a health check follows at once, so that the topology entities show the master
        or the shards it came back with (unavailable until then), never those of before the outage."""
        self.last_error = None
        if self.connected:
            return
        self.connected = True
        LOGGER.info("Redis server %r is available again", self.entry.title)
        if self.topology is None:
            self.entry.async_create_background_task(
                self.hass, self.async_check(), f"{DOMAIN} health check of {self.entry.title}"
            )
        self._notify()
        async_dispatcher_send(self.hass, signal_redis_server_ready(self.entry.entry_id))

    async def async_check(self, _now: datetime | None = None) -> None:
        """Ask the topology with the shared pool (a connection the server closed reconnects by itself): a
        PING of a single server, the master the sentinels name, a PING of every cluster primary."""
        try:
            topology = await self.connector.topology()
        except Exception as exc:
            self.async_report_failure(classify(exc, self.connector.settings.address))
            return
        self.topology = topology
        if self.connected:
            self._notify()  # the topology and the last failover may have changed
        self.async_report_success()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()


type VeDirectConfigEntry = ConfigEntry[VeDirectRuntime]
type RedisServerConfigEntry = ConfigEntry[RedisServerRuntime]
type VeMonitorConfigEntry = ConfigEntry[VeDirectRuntime | RedisServerRuntime]
"""An entry of either kind: what the entry points shared by both kinds receive."""


def is_redis_server(entry: ConfigEntry) -> TypeGuard[RedisServerConfigEntry]:
    """Whether the entry is a Redis server (else a VE.Direct device)."""
    return entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_REDIS_SERVER


def is_vedirect(entry: ConfigEntry) -> TypeGuard[VeDirectConfigEntry]:
    """Whether the entry is a VE.Direct device."""
    return not is_redis_server(entry)


def is_closing(entry: ConfigEntry) -> bool:
    """Unloading or not loaded: start nothing more, add no entity (Home Assistant unloads the platforms
    before the entry's unload callbacks run, so an entity added now would stay behind)."""
    return entry.state not in (ConfigEntryState.LOADED, ConfigEntryState.SETUP_IN_PROGRESS)
