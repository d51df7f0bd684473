"""Connectors: one Redis server of any kind, its shared client, and a send as one confirmed round trip.

redis-py's own clients do the failover and the routing (Sentinel, RedisCluster with MOVED/ASK); what the
connector adds is durability across a failover: a WAIT after each send, on the connection that wrote
(cluster: one per shard written), so that a chunk leaves the backlog only once N replicas hold it.
"""

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
import datetime as dt
import logging
import re
import ssl
from typing import Any, Self, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import NoPermissionError

from .clients import (
    REDIRECTED,
    WatchedCluster,
    cluster_client,
    master_client,
    sentinel_clients,
    single_client,
    stale_map,
)
from .errors import ReplicasBehind, classify
from .settings import DEFAULT_PORT, DEFAULT_SENTINEL_PORT, DEFAULT_TIMEOUT, RedisServerSettings, tls_context
from .structures.base import EXPIRY_MODES, AnyPipeline, ExpiryMode
from .topology import (
    CLUSTER,
    SENTINEL,
    SERVER_KINDS,
    SINGLE,
    ServerKind,
    Topology,
    answering,
    cluster_shards,
    connected_replicas,
    fewest_replicas,
    format_address,
    sentinel_master,
)

_LOGGER = logging.getLogger(__name__)

WAIT_TIMEOUT = 1.0
"""Seconds a send waits for its replicas (WAIT), kept below the socket timeout."""

type AnyRedis = Redis | RedisCluster
"""The shared client of a connector: a Redis (single server, Sentinel's master) or a RedisCluster."""

__all__ = [
    "CLUSTER",
    "DEFAULT_PORT",
    "DEFAULT_SENTINEL_PORT",
    "DEFAULT_TIMEOUT",
    "SENTINEL",
    "SERVER_KINDS",
    "SINGLE",
    "WAIT_TIMEOUT",
    "AnyPipeline",
    "AnyRedis",
    "RedisConnector",
    "RedisServerSettings",
    "SendResult",
    "ServerKind",
    "expiry_mode_of",
    "tls_context",
]


@dataclass(frozen=True, slots=True)
class SendResult:
    """A send's queued commands (their arguments) and their replies, errors in place, WAIT left out."""

    commands: list[tuple[Any, ...]]
    replies: list[Any]


class RedisConnector:
    """One client per Redis server (a pool, or one per node for a cluster), shared by every output.

    A TLS server needs its TLS context: get the connector from `await RedisConnector.create(settings)`,
    which builds it in a worker thread. `failovers`/`last_failover` count the changes of master (sentinel)
    or of the set of primaries (cluster) seen by `topology()` since the connector was created.
    """

    def __init__(self, settings: RedisServerSettings, tls_context: ssl.SSLContext | None = None) -> None:
        if settings.tls and tls_context is None:
            raise ValueError("a TLS connector needs its TLS context: use await RedisConnector.create()")
        self.settings = settings
        self._tls_context = tls_context if settings.tls else None
        self._client: AnyRedis | None = None
        self._sentinels: list[tuple[str, Redis]] = []
        self._known_nodes: tuple[tuple[str, int], ...] = ()  # cluster: every node seen, seeds of a new client
        self._expiry_mode: ExpiryMode | None = None
        self._wait_replicas: int | None = None
        self._seen: object = None  # what the last topology() saw: the master, or the set of primaries
        self.failovers = 0
        self.last_failover: dt.datetime | None = None

    @classmethod
    async def create(cls, settings: RedisServerSettings) -> Self:
        """The connector of `settings`, its TLS context (if any) built off the event loop."""
        return cls(settings, await asyncio.to_thread(tls_context, settings) if settings.tls else None)

    def __repr__(self) -> str:
        return f"RedisConnector({self.settings!r})"

    # -- clients ------------------------------------------------------------------------------------------

    @property
    def client(self) -> AnyRedis:
        """The shared client (created on first use; connections are opened lazily)."""
        if self._client is None:
            settings, context = self.settings, self._tls_context
            if settings.kind == CLUSTER:
                # After a connection-class failure the connector makes a new client (seeded with every node
                # seen) rather than reusing this one: redis-py 8.0.0's cluster pipeline keeps a connection
                # per failed send to a node as in use, and one reused through a long outage runs out.
                self._client = cluster_client(settings, context, self._known_nodes)
            elif settings.kind == SENTINEL:
                self._client = master_client(settings, context, [client for _, client in self.sentinels])
            else:
                self._client = single_client(settings, context)
        return self._client

    @property
    def sentinels(self) -> list[tuple[str, Redis]]:
        """Sentinel kind: ("host:port", client) of every sentinel (created on first use)."""
        if not self._sentinels:
            self._sentinels = sentinel_clients(self.settings, self._tls_context)
        return self._sentinels

    def _master(self) -> Redis:
        client = self.client
        assert isinstance(client, Redis)
        return client

    def _cluster(self) -> WatchedCluster:
        client = self.client
        assert isinstance(client, WatchedCluster)
        return client

    async def _drop_cluster(self, client: RedisCluster) -> None:
        """Forget a cluster client whose slot map may be wrong; the next use makes a new one."""
        if self._client is not client:
            return  # another send dropped it already
        # A client that never got its slot map (nothing answered) knows no node: keep the seeds it was
        # given (the nodes seen before), or an outage would leave only the configured seeds, maybe dead.
        nodes = client.get_nodes() or list(client.nodes_manager.startup_nodes.values())
        self._known_nodes = tuple((node.host, int(node.port)) for node in nodes)
        self._client = None
        await client.aclose()

    async def close(self) -> None:
        """Close every client; a later use of `client` opens new ones (with the same TLS context)."""
        client, self._client = self._client, None
        sentinels, self._sentinels = self._sentinels, []
        self._expiry_mode = None
        self._wait_replicas = None
        if isinstance(client, RedisCluster):
            await client.aclose()
        elif client is not None:
            await client.aclose(close_connection_pool=True)
        for _, sentinel in sentinels:
            await sentinel.aclose(close_connection_pool=True)

    # -- sending ------------------------------------------------------------------------------------------

    async def send(self, queue: Callable[[AnyPipeline], None]) -> SendResult:
        """One pipelined round trip (cluster: one per shard, at once) of what `queue` puts on the pipeline,
        then WAIT for `wait_replicas()` replicas on the same connection(s).

        ReplicasBehind when fewer replicas confirmed in WAIT_TIMEOUT, or when a write of a cluster send was
        redirected (MOVED/ASK: sent on another connection than its shard's WAIT): the caller sends the
        same (idempotent) commands again. Errors of single commands come back in the replies.
        WAIT covers what its connection wrote up to then: a resend that writes nothing new (a Stream chunk
        whose XADDs are all refused as present) on another pooled connection confirms that connection's
        writes only; HSET always writes, so a HmapTimeSeries resend is always covered.
        """
        replicas = await self.wait_replicas()
        if self.settings.kind == CLUSTER:
            return await self._send_cluster(queue, replicas)
        async with self._master().pipeline(transaction=False) as pipe:
            queue(pipe)
            commands = [args for args, _options in pipe.command_stack]
            wait = bool(replicas and commands)
            if wait:
                pipe.execute_command("WAIT", replicas, round(WAIT_TIMEOUT * 1000))
            replies = await pipe.execute(raise_on_error=False)
        if wait and not self._wait_refused(reply := replies.pop()):
            self._confirmed(reply, replicas)
        return SendResult(commands, replies)

    async def _send_cluster(self, queue: Callable[[AnyPipeline], None], replicas: int) -> SendResult:
        client = self._cluster()
        redirected: list[object] = []
        token = REDIRECTED.set(redirected)
        try:
            pipe = client.pipeline(transaction=False)
            async with pipe:  # entering builds the slot map if needed
                queue(pipe)
                commands = list(pipe.queued)
                shards: dict[object, str] = {}
                if replicas and commands:
                    shards = {args[1]: self._shard(client, args[1]).name for args in commands}
                    for name in dict.fromkeys(shards.values()):
                        node = client.get_node(node_name=name)
                        pipe.execute_command("WAIT", replicas, round(WAIT_TIMEOUT * 1000), target_nodes=node)
                replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            if stale_map(exc):
                await self._drop_cluster(client)
            raise
        finally:
            REDIRECTED.reset(token)
        waits, replies = replies[len(commands) :], replies[: len(commands)]
        if any(stale_map(reply) for reply in [*replies, *waits]):
            await self._drop_cluster(client)
        if error := next((wait for wait in waits if isinstance(wait, Exception)), None):
            if self._wait_refused(error):
                return SendResult(commands, replies)
            raise error
        if shards and (
            redirected or any(self._shard(client, key).name != name for key, name in shards.items())
        ):
            raise ReplicasBehind(
                f"Redis {self.settings.address}: writes were redirected (MOVED/ASK) during the send; "
                "sending them again to have them confirmed"
            )
        for wait in waits:
            self._confirmed(wait, replicas)
        return SendResult(commands, replies)

    @staticmethod
    def _shard(client: RedisCluster, key: Any) -> ClusterNode:
        node = client.get_node_from_key(key)
        assert node is not None
        return node

    def _wait_refused(self, reply: object) -> bool:
        """Whether the ACL refused an automatic WAIT (the writes before it were done): from then on no
        replica is waited for, with one warning, as when it refuses INFO. The rule VE Monitor documented
        before WAIT existed has no +wait, and a refusal would fail every send and start a reauth that
        cannot help. A WAIT the user asked for stays a refused write (NoWritePermission; probe checks it)."""
        if self.settings.wait_replicas is not None or not isinstance(reply, NoPermissionError):
            return False
        if self._wait_replicas != 0:
            _LOGGER.warning(
                "Redis %s: the ACL refuses WAIT (%s); not waiting for any replica",
                self.settings.address,
                reply,
            )
        self._wait_replicas = 0
        return True

    def _confirmed(self, reply: object, replicas: int) -> None:
        """Raise unless the WAIT reply says `replicas` replicas have the writes."""
        if isinstance(reply, Exception):
            raise reply
        if not isinstance(reply, int) or reply < replicas:
            raise ReplicasBehind(
                f"Redis {self.settings.address}: {reply} of {replicas} replicas confirmed the write "
                f"within {WAIT_TIMEOUT:g} s"
            )

    async def wait_replicas(self) -> int:
        """The replicas each send waits for: the setting, or automatic (asked once per pool): 1 when the
        master (every primary of a cluster) has a connected replica, else 0; 0 when INFO (CLUSTER SHARDS)
        or WAIT is refused."""
        if self.settings.wait_replicas is not None:
            return self.settings.wait_replicas
        if self._wait_replicas is None:
            if self.settings.kind == CLUSTER:
                cluster = await self._cluster().initialize()
                fewest = fewest_replicas(await cluster_shards(cluster, self.settings.address))
            else:
                fewest = await connected_replicas(self._master())
            if fewest is None:
                _LOGGER.warning(
                    "Redis %s: the ACL refuses to tell the replicas; not waiting for any",
                    self.settings.address,
                )
            self._wait_replicas = 1 if fewest else 0
        return self._wait_replicas

    # -- what the server supports -------------------------------------------------------------------------

    async def expiry_mode(self) -> ExpiryMode:
        """How this server expires hash fields, asked once per pool (`INFO server`; cluster: the oldest mode
        of the primaries). An ACL user refused INFO gets "hdel", which works on every server.
        """
        if self._expiry_mode is not None:
            return self._expiry_mode
        mode: ExpiryMode
        try:
            if isinstance(client := self.client, RedisCluster):
                await client.initialize()
                infos = await asyncio.gather(
                    *(client.info("server", target_nodes=node) for node in client.get_primaries())
                )
                mode = max([expiry_mode_of(info) for info in infos] or ["hdel"], key=EXPIRY_MODES.index)
            else:
                mode = expiry_mode_of(await client.info("server"))
        except NoPermissionError:
            address = self.settings.address
            _LOGGER.warning("Redis %s: INFO refused by the ACL; old fields go with HDEL", address)
            mode = "hdel"
        self._expiry_mode = mode
        return mode

    def expiry_unsupported(self, mode: ExpiryMode) -> bool:
        """The server called `mode`'s command unknown (renamed, or not the version it says): fall back to
        the next older mode until the pool is recreated. False when there is none left.
        """
        index = EXPIRY_MODES.index(mode)
        if index + 1 == len(EXPIRY_MODES):
            return False
        fallback = EXPIRY_MODES[index + 1]
        if self._expiry_mode is None or EXPIRY_MODES.index(self._expiry_mode) < index + 1:
            _LOGGER.info("Redis %s: %s is not available, using %s", self.settings.address, mode, fallback)
            self._expiry_mode = fallback
        return True

    # -- health -------------------------------------------------------------------------------------------

    async def topology(self) -> Topology:
        """The server's topology now (the health check); a RedisWorkerError if the server is unusable.

        A master (sentinel) or a set of primaries (cluster) other than the previous call's is a failover:
        counted, timed and logged once.
        """
        try:
            topology, seen = await self._topology()
        except Exception as exc:
            raise classify(exc, self.settings.address) from None
        if seen is not None:
            if self._seen is not None and seen != self._seen:
                self.failovers += 1
                self.last_failover = dt.datetime.now(dt.UTC)
                _LOGGER.info(
                    "Redis %s: master moved from %s to %s",
                    self.settings.address,
                    _named(self._seen),
                    _named(seen),
                )
            self._seen = seen
        return topology

    async def _topology(self) -> tuple[Topology, object]:
        """The topology, and what a failover changes (None: nothing to track, a single server)."""
        kind, address = self.settings.kind, self.settings.address
        if kind == SINGLE:
            client = self._master()
            await client.ping()
            return Topology(SINGLE, address, None, None, await connected_replicas(client)), None
        if kind == SENTINEL:
            host, port = await sentinel_master(self.sentinels, cast(str, self.settings.service_name), address)
            client = self._master()
            await client.ping()
            master = format_address(host, port)
            return Topology(SENTINEL, master, None, None, await connected_replicas(client)), master
        cluster = await self._cluster().initialize()
        shards = await cluster_shards(cluster, address)
        if any(cluster.get_node(node_name=shard.primary) is None for shard in shards):
            await self._drop_cluster(cluster)  # a primary the client does not know: its map is old
            cluster = await self._cluster().initialize()
        primaries = [shard.primary for shard in shards]
        answered = await answering(cluster, primaries)
        topology = Topology(CLUSTER, None, len(shards), answered, fewest_replicas(shards))
        return topology, frozenset(primaries)


def _named(seen: object) -> str:
    """A master's address, or a set of primaries, for the failover log line."""
    if isinstance(seen, frozenset):
        return ", ".join(sorted(seen))
    return str(seen)


def expiry_mode_of(info: Mapping[str, Any]) -> ExpiryMode:
    """The newest field-expiry mode a server supports, from its `INFO server` fields.

    Redis: HSETEX since 8.0, HEXPIREAT since 7.4. Valkey reports `redis_version` 7.2.4 whatever its own
    version, which is `valkey_version`; it has both commands (same syntax) since 9.0.
    """
    if "valkey_version" in info:
        return "hsetex" if _version(info["valkey_version"]) >= (9, 0) else "hdel"
    version = _version(info.get("redis_version", ""))
    if version >= (8, 0):
        return "hsetex"
    if version >= (7, 4):
        return "hexpire"
    return "hdel"


def _version(text: object) -> tuple[int, ...]:
    """(major, minor) of a version text such as "7.4.2"."""
    return tuple(int(part) for part in re.findall(r"\d+", str(text))[:2])
