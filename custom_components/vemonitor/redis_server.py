"""A Redis server entry at runtime: its shared pool, health check and reauth; the lookup its outputs use."""

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util.hass_dict import HassKey

from .const import CONF_CA_CERT, CONF_DB, CONF_TLS, CONF_TLS_VERIFY, DOMAIN, LOGGER
from .models import RedisServerConfigEntry, RedisServerRuntime, is_redis_server, signal_redis_server_ready
from .redis_worker import (
    AUTH_ERRORS,
    CannotConnect,
    InvalidAuth,
    InvalidCaCert,
    InvalidDatabase,
    NoWritePermission,
    OutputWorker,
    ReadOnlyServer,
    RedisConnector,
    RedisServerSettings,
    RedisWorkerError,
    TlsError,
    probe,
)
from .redis_worker.errors import classify
from .validation import redis_server_identity

HEALTH_CHECK_INTERVAL = timedelta(seconds=30)
STANDBY_PING_INTERVAL = 1.0  # s between an output's PINGs while its server is away (after each one ends)

# The loaded Redis server entries by entry id: how an output finds its server's pool.
_SERVERS: HassKey[dict[str, RedisServerRuntime]] = HassKey(f"{DOMAIN}_redis_servers")

# The translation key of each failure class (config.error.* and exceptions.redis_*); the first match wins.
_ERROR_KEYS: tuple[tuple[type[RedisWorkerError], str], ...] = (
    (InvalidCaCert, "invalid_ca_cert"),
    (InvalidDatabase, "invalid_db"),
    (InvalidAuth, "invalid_auth"),
    (NoWritePermission, "no_write_permission"),
    (ReadOnlyServer, "read_only_server"),
    (TlsError, "tls_error"),
    (CannotConnect, "cannot_connect"),
)


def error_key(error: RedisWorkerError) -> str:
    """The translation key of a failure."""
    return next((key for cls, key in _ERROR_KEYS if isinstance(error, cls)), "server_error")


def settings_from_data(data: Mapping[str, Any]) -> RedisServerSettings:
    """The redis_worker settings of a Redis server entry's data."""
    return RedisServerSettings(
        host=data[CONF_HOST],
        port=int(data[CONF_PORT]),
        password=data.get(CONF_PASSWORD) or None,
        username=data.get(CONF_USERNAME) or None,
        db=int(data.get(CONF_DB, 0)),
        tls=bool(data.get(CONF_TLS, False)),
        tls_verify=bool(data.get(CONF_TLS_VERIFY, True)),
        ca_cert=data.get(CONF_CA_CERT) or None,
    )


def redis_server_entries(hass: HomeAssistant) -> list[RedisServerConfigEntry]:
    """The Redis server entries of the integration, loaded or not."""
    return [entry for entry in hass.config_entries.async_entries(DOMAIN) if is_redis_server(entry)]


def server_identity(data: Mapping[str, Any]) -> tuple[str, int, int]:
    """What identifies a Redis database: the host however it is spelt (localhost, 127.1, ::1 are one),
    the port and the database number."""
    return redis_server_identity(str(data[CONF_HOST]), int(data[CONF_PORT]), int(data.get(CONF_DB, 0)))


@callback
def async_get_redis_server(hass: HomeAssistant, entry_id: str) -> RedisServerRuntime | None:
    """The runtime of a loaded Redis server entry (None while it is not set up, or after its unload)."""
    return hass.data.get(_SERVERS, {}).get(entry_id)


class ServerLink:
    """How one Redis output reaches its server entry: the lookup behind the output's connector.

    While the entry is loaded: its shared pool. While it is not (after a restart with Redis down HA retries
    the setup with its own backoff, up to 80 s), a pool of the output's own built from the entry's data, so
    that the backlog does not wait for that retry; released once the entry's pool is back, and closed when
    the output stops. A disabled entry gets none: the user turned that server off.
    """

    def __init__(self, hass: HomeAssistant, source: str) -> None:
        self.hass = hass
        self.source = source
        self._own: RedisConnector | None = None

    def connector(self) -> RedisConnector:
        """The pool to send with (the worker's connector provider); CannotConnect while there is none."""
        if (shared := self._shared()) is not None:
            return shared
        entry = self._entry()
        if (
            self._own is not None
            and entry is not None
            and self._own.settings == settings_from_data(entry.data)
        ):
            return self._own
        known = self.hass.config_entries.async_get_entry(self.source)
        raise CannotConnect(f"the Redis server entry {known.title if known else self.source!r} is not loaded")

    async def async_standby(self, worker: OutputWorker) -> None:
        """Have the worker deliver as soon as the server answers: PING it every second, one PING at a time,
        from the worker's start or from when it found the server away (CannotConnect) until it delivered.

        The worker's own retries back off to a minute, and its first send after a start waits a send
        interval; this keeps the wait after Redis comes back within about a second, without more spool
        writes or failure reports. It also ends when the worker fails otherwise (credentials, TLS, a refused
        write: the worker's backoff handles those).
        """
        while not worker.connected and isinstance(worker.last_error, CannotConnect | None):
            error = await self._async_ping()
            if error is None:
                # Shielded: a flush cut short by the output's stop could leave the spool half-written.
                await asyncio.shield(worker.flush())
            elif not isinstance(error, CannotConnect):
                return
            if not worker.connected:
                await asyncio.sleep(STANDBY_PING_INTERVAL)

    async def async_close(self) -> None:
        """The output stopped: close the own pool (the worker is stopped, nothing sends with it)."""
        own, self._own = self._own, None
        if own is not None:
            await own.close()

    async def _async_ping(self) -> RedisWorkerError | None:
        """PING through the pool to send with: None if the server answered. An answer through the own pool
        has HA retry the entry's setup now (its connectivity entity comes back), not after its backoff."""
        connector: RedisConnector | None = None
        try:
            connector = await self._async_connector()
            await connector.client.ping()
        except Exception as exc:
            return classify(exc, connector.settings.address if connector is not None else self.source)
        entry = self._entry()
        if connector is self._own and entry is not None and entry.state is ConfigEntryState.SETUP_RETRY:
            LOGGER.debug("Redis server %r answers: retrying its setup now", entry.title)
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return None

    async def _async_connector(self) -> RedisConnector:
        """The pool to send with, building the own one (TLS context off the loop) if need be."""
        if (shared := self._shared()) is not None:
            return shared
        if (entry := self._entry()) is None:
            raise CannotConnect(f"the Redis server entry {self.source!r} is gone or disabled")
        settings = settings_from_data(entry.data)
        if self._own is None or self._own.settings != settings:
            self._release_own()
            self._own = await RedisConnector.create(settings)
        return self._own

    def _shared(self) -> RedisConnector | None:
        """The server entry's pool while it is loaded (the own one, if any, is no longer needed)."""
        if (server := async_get_redis_server(self.hass, self.source)) is None:
            return None
        self._release_own()
        return server.connector

    def _entry(self) -> RedisServerConfigEntry | None:
        """The server entry, unless it was deleted or is disabled."""
        entry = self.hass.config_entries.async_get_entry(self.source)
        if entry is None or entry.disabled_by is not None or not is_redis_server(entry):
            return None
        return entry

    def _release_own(self) -> None:
        own, self._own = self._own, None
        if own is not None:
            self.hass.async_create_background_task(own.close(), f"{DOMAIN} close a standby Redis pool")


async def async_setup_redis_server(hass: HomeAssistant, entry: RedisServerConfigEntry) -> RedisServerRuntime:
    """Test the server (connect, auth, write permission), then share one pool for all its outputs."""
    settings = settings_from_data(entry.data)
    placeholders = {"name": entry.title, "address": settings.address}
    try:
        await probe(settings)
    except RedisWorkerError as err:
        # Refused credentials need the user (reauth); anything else may heal by itself (setup retries).
        failure = ConfigEntryAuthFailed if isinstance(err, AUTH_ERRORS) else ConfigEntryNotReady
        raise failure(
            translation_domain=DOMAIN,
            translation_key=f"redis_{error_key(err)}",
            translation_placeholders=placeholders,
        ) from err
    connector = await RedisConnector.create(settings)  # the probe passed: its TLS context builds too
    version: str | None = None
    try:
        info = await connector.client.info("server")
        version = str(info.get("redis_version")) if "redis_version" in info else None
    except Exception:  # the version is cosmetic
        LOGGER.debug("Cannot read the version of Redis %r", entry.title)
    runtime = RedisServerRuntime(hass, entry, connector, version)
    servers = hass.data.setdefault(_SERVERS, {})
    servers[entry.entry_id] = runtime

    async def _async_close() -> None:
        """No output may use this pool any more: they buffer until the entry is set up again."""
        if servers.get(entry.entry_id) is runtime:
            del servers[entry.entry_id]
        await connector.close()

    entry.async_on_unload(_async_close)
    entry.async_on_unload(async_track_time_interval(hass, runtime.async_check, HEALTH_CHECK_INTERVAL))
    async_dispatcher_send(hass, signal_redis_server_ready(entry.entry_id))
    return runtime


def redis_server_diagnostics(entry: ConfigEntry, runtime: RedisServerRuntime | None) -> dict[str, Any]:
    """A Redis server's settings and state; host, username, password and CA are left out."""
    settings = settings_from_data(entry.data)
    server: dict[str, Any] = {
        "name": entry.title,
        "port": settings.port,
        "db": settings.db,
        "username_set": settings.username is not None,
        "password_set": settings.password is not None,
        "tls": settings.tls,
        "tls_verify": settings.tls_verify,
        "ca_cert_set": settings.ca_cert is not None,
    }
    if runtime is not None:
        server |= {
            "connected": runtime.connected,
            "server_version": runtime.server_version,
            "last_error": None if runtime.last_error is None else type(runtime.last_error).__name__,
        }
    return server
