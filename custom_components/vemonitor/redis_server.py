"""A Redis server entry at runtime: its shared pool, health check and reauth; the lookup its outputs use."""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
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
    ReadOnlyServer,
    RedisConnector,
    RedisServerSettings,
    RedisWorkerError,
    TlsError,
    probe,
)
from .validation import redis_server_identity

HEALTH_CHECK_INTERVAL = timedelta(seconds=30)

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
