"""A Redis server entry at runtime: the settings of its kind (single server, Sentinel, Cluster), its shared
pool, health check and reauth, its diagnostics; the lookup its outputs use."""

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

from .const import (
    CONF_CA_CERT,
    CONF_DB,
    CONF_NODES,
    CONF_SENTINEL_PASSWORD,
    CONF_SENTINEL_USERNAME,
    CONF_SERVER_KIND,
    CONF_SERVICE_NAME,
    CONF_TLS,
    CONF_TLS_VERIFY,
    CONF_WAIT_REPLICAS,
    DEFAULT_REDIS_PORT,
    DOMAIN,
    LOGGER,
)
from .models import RedisServerConfigEntry, RedisServerRuntime, is_redis_server, signal_redis_server_ready
from .redis_validation import nodes_identity, split_node
from .redis_worker import (
    AUTH_ERRORS,
    CLUSTER,
    DEFAULT_SENTINEL_PORT,
    SENTINEL,
    SINGLE,
    CannotConnect,
    ClusterDown,
    InvalidAuth,
    InvalidCaCert,
    InvalidDatabase,
    InvalidSentinelAuth,
    NoMaster,
    NoSentinel,
    NotACluster,
    NotASentinel,
    NoWritePermission,
    OutputWorker,
    ReadOnlyServer,
    RedisConnector,
    RedisServerSettings,
    RedisWorkerError,
    ReplicasBehind,
    ServerKind,
    TlsError,
    UnknownService,
    WrongKind,
    probe,
)
from .redis_worker.errors import classify
from .validation import redis_server_identity

HEALTH_CHECK_INTERVAL = timedelta(seconds=30)
STANDBY_PING_INTERVAL = 1.0  # s between an output's PINGs while its server is away (after each one ends)

# The loaded Redis server entries by entry id: how an output finds its server's pool.
_SERVERS: HassKey[dict[str, RedisServerRuntime]] = HassKey(f"{DOMAIN}_redis_servers")

# The translation key of each failure class (config.error.* and exceptions.redis_*); the first match wins
# (subclasses first: InvalidSentinelAuth is an InvalidAuth; NoSentinel, NoMaster, ClusterDown CannotConnect).
_ERROR_KEYS: tuple[tuple[type[RedisWorkerError], str], ...] = (
    (InvalidCaCert, "invalid_ca_cert"),
    (InvalidDatabase, "invalid_db"),
    (InvalidSentinelAuth, "invalid_sentinel_auth"),
    (InvalidAuth, "invalid_auth"),
    (NoWritePermission, "no_write_permission"),
    (ReadOnlyServer, "read_only_server"),
    (TlsError, "tls_error"),
    (NoSentinel, "no_sentinel"),
    (UnknownService, "unknown_service"),
    (NoMaster, "no_master"),
    (NotASentinel, "not_a_sentinel"),
    (ClusterDown, "cluster_down"),
    (NotACluster, "not_a_cluster"),
    (ReplicasBehind, "replicas_behind"),
    (CannotConnect, "cannot_connect"),
)
# The sentinels' port, or a cluster node's, when a node is given without one.
DEFAULT_NODE_PORTS: dict[ServerKind, int] = {SENTINEL: DEFAULT_SENTINEL_PORT, CLUSTER: DEFAULT_REDIS_PORT}


def error_key(error: RedisWorkerError) -> str:
    """The translation key of a failure (a single-server entry given a sentinel or a cluster node:
    is_a_sentinel or is_a_cluster)."""
    if isinstance(error, WrongKind):
        return f"is_a_{error.found}"
    return next((key for cls, key in _ERROR_KEYS if isinstance(error, cls)), "server_error")


def server_kind(data: Mapping[str, Any]) -> ServerKind:
    """The kind of a Redis server entry (one of before the kinds: a single server)."""
    kind = data.get(CONF_SERVER_KIND)
    return SENTINEL if kind == SENTINEL else CLUSTER if kind == CLUSTER else SINGLE


def settings_from_data(data: Mapping[str, Any]) -> RedisServerSettings:
    """The redis_worker settings of a Redis server entry's data (a Sentinel or a Cluster entry: its first
    node as host and port, for messages)."""
    kind = server_kind(data)
    common: dict[str, Any] = {
        "password": data.get(CONF_PASSWORD) or None,
        "username": data.get(CONF_USERNAME) or None,
        "tls": bool(data.get(CONF_TLS, False)),
        "tls_verify": bool(data.get(CONF_TLS_VERIFY, True)),
        "ca_cert": data.get(CONF_CA_CERT) or None,
        "wait_replicas": data.get(CONF_WAIT_REPLICAS),
    }
    if kind == SINGLE:
        return RedisServerSettings(
            host=data[CONF_HOST], port=int(data[CONF_PORT]), db=int(data.get(CONF_DB, 0)), **common
        )
    nodes = tuple(split_node(node, DEFAULT_NODE_PORTS[kind]) for node in data[CONF_NODES])
    if kind == CLUSTER:
        return RedisServerSettings(host=nodes[0][0], port=nodes[0][1], kind=kind, nodes=nodes, **common)
    return RedisServerSettings(
        host=nodes[0][0],
        port=nodes[0][1],
        db=int(data.get(CONF_DB, 0)),
        kind=kind,
        nodes=nodes,
        service_name=data[CONF_SERVICE_NAME],
        sentinel_username=data.get(CONF_SENTINEL_USERNAME) or None,
        sentinel_password=data.get(CONF_SENTINEL_PASSWORD) or None,
        **common,
    )


def redis_server_entries(hass: HomeAssistant) -> list[RedisServerConfigEntry]:
    """The Redis server entries of the integration, loaded or not."""
    return [entry for entry in hass.config_entries.async_entries(DOMAIN) if is_redis_server(entry)]


def same_server(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """Whether two Redis server entries write to the same database, without asking the network: a single
    server by host (however it is spelt: localhost, 127.1, ::1 are one), port and database; a Sentinel
    entry by master name and database, through any sentinel both name (a sentinel monitors one master per
    name); a Cluster entry through any node both name. Entries of different kinds never count as one."""
    kind = server_kind(first)
    if server_kind(second) != kind:
        return False
    if kind == SINGLE:
        return _single_identity(first) == _single_identity(second)
    if kind == SENTINEL and (
        first.get(CONF_SERVICE_NAME) != second.get(CONF_SERVICE_NAME)
        or int(first.get(CONF_DB, 0)) != int(second.get(CONF_DB, 0))
    ):
        return False
    return not nodes_identity(first.get(CONF_NODES)).isdisjoint(nodes_identity(second.get(CONF_NODES)))


def _single_identity(data: Mapping[str, Any]) -> tuple[str, int, int]:
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
        info = await probe(settings)
    except RedisWorkerError as err:
        # Refused credentials need the user (reauth); anything else may heal by itself (setup retries).
        failure = ConfigEntryAuthFailed if isinstance(err, AUTH_ERRORS) else ConfigEntryNotReady
        raise failure(
            translation_domain=DOMAIN,
            translation_key=f"redis_{error_key(err)}",
            translation_placeholders=placeholders,
        ) from err
    connector = await RedisConnector.create(settings)  # the probe passed: its TLS context builds too
    runtime = RedisServerRuntime(hass, entry, connector, info.version)
    servers = hass.data.setdefault(_SERVERS, {})
    servers[entry.entry_id] = runtime

    async def _async_close() -> None:
        """No output may use this pool any more: they buffer until the entry is set up again."""
        if servers.get(entry.entry_id) is runtime:
            del servers[entry.entry_id]
        await connector.close()

    entry.async_on_unload(_async_close)
    # The first health check now: the entities start with the topology, and failovers count from here.
    await runtime.async_check()
    entry.async_on_unload(async_track_time_interval(hass, runtime.async_check, HEALTH_CHECK_INTERVAL))
    async_dispatcher_send(hass, signal_redis_server_ready(entry.entry_id))
    return runtime


def _port_of(address: str | None) -> int | None:
    """The port of a "host:port" (diagnostics leave hosts out)."""
    if address is None or not address.rpartition(":")[2].isdigit():
        return None
    return int(address.rpartition(":")[2])


async def async_redis_server_diagnostics(
    entry: ConfigEntry, runtime: RedisServerRuntime | None
) -> dict[str, Any]:
    """A Redis server's settings and state; hosts (ports only), user names, passwords and CA are left out."""
    settings = settings_from_data(entry.data)
    server: dict[str, Any] = {"name": entry.title, "kind": settings.kind}
    if settings.kind == SINGLE:
        server["port"] = settings.port
    else:
        server |= {"node_count": len(settings.nodes), "node_ports": [port for _host, port in settings.nodes]}
    if settings.kind == SENTINEL:
        server |= {
            "service_name": settings.service_name,
            "sentinel_username_set": settings.sentinel_username is not None,
            "sentinel_password_set": settings.sentinel_password is not None,
        }
    server |= {
        "db": settings.db,
        "username_set": settings.username is not None,
        "password_set": settings.password is not None,
        "tls": settings.tls,
        "tls_verify": settings.tls_verify,
        "ca_cert_set": settings.ca_cert is not None,
        "wait_replicas_configured": settings.wait_replicas,
    }
    if runtime is not None:
        server |= await _async_runtime_diagnostics(runtime)
    return server


async def _async_runtime_diagnostics(runtime: RedisServerRuntime) -> dict[str, Any]:
    """The state of a loaded server entry: connectivity, topology, failovers, the WAIT it uses."""
    connector, topology = runtime.connector, runtime.topology
    effective: int | None = None
    if runtime.connected:
        try:
            effective = await connector.wait_replicas()
        except Exception:  # the server went away meanwhile: unknown
            LOGGER.debug("Cannot read the replicas of Redis %r", runtime.entry.title)
    last_failover = connector.last_failover
    return {
        "connected": runtime.connected,
        "server_version": runtime.server_version,
        "last_error": None if runtime.last_error is None else type(runtime.last_error).__name__,
        "wait_replicas_effective": effective,
        "topology": None
        if topology is None
        else {
            "master_port": _port_of(topology.master),
            "shards": topology.shards,
            "shards_answering": topology.shards_answering,
            "replicas": topology.replicas,
        },
        "failovers": connector.failovers,
        "last_failover": None if last_failover is None else last_failover.isoformat(),
    }
