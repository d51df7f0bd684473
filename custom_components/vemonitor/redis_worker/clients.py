"""redis-py's client of each kind, as the connector needs them: our TLS context on every connection, and a
cluster client whose sends can be confirmed shard by shard.

redis-py would build a TLS context per connection inside the event loop (a blocking call Home Assistant
reports), and its cluster pipeline retries or redirects writes on connections other than their shard's
WAIT; the classes here keep redis-py's behaviour and only make those visible or avoidable.
"""

from contextvars import ContextVar
import ssl
from typing import Any, cast

from redis.asyncio import ConnectionPool, Redis, SSLConnection
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelManagedConnection
from redis.backoff import NoBackoff
from redis.exceptions import (
    ClusterError,
    ConnectionError as RedisConnectionError,
    RedisClusterException,
    TimeoutError as RedisTimeoutError,
)
from redis.typing import EncodableT

from .settings import RedisServerSettings
from .topology import format_address


class PrebuiltTlsConnection(SSLConnection):
    """redis-py's TLS connection with a context built beforehand, off the event loop.

    redis-py would build one per connection, lazily inside its connect, in the event loop. Ours is built
    once per connector and shared by its connections (an SSLContext is meant to be shared).
    """

    def __init__(self, *, tls_context: ssl.SSLContext, **kwargs: Any) -> None:
        super().__init__(
            ssl_cert_reqs=tls_context.verify_mode, ssl_check_hostname=tls_context.check_hostname, **kwargs
        )
        self.ssl_context.context = tls_context  # what RedisSSLContext.get() returns instead of building one


class PrebuiltTlsSentinelConnection(SentinelManagedConnection, PrebuiltTlsConnection):
    """The master connection of a Sentinel pool (address asked of the sentinels), with our TLS context."""


def _tls(
    context: ssl.SSLContext | None, connection_class: type[SSLConnection] = PrebuiltTlsConnection
) -> dict[str, Any]:
    return {} if context is None else {"connection_class": connection_class, "tls_context": context}


def single_client(settings: RedisServerSettings, context: ssl.SSLContext | None) -> Redis:
    """The client of a single server: one pool."""
    return Redis(connection_pool=ConnectionPool(**settings.pool_kwargs(), **_tls(context)))


def sentinel_clients(
    settings: RedisServerSettings, context: ssl.SSLContext | None
) -> list[tuple[str, Redis]]:
    """("host:port", client) of every sentinel, with the sentinels' own credentials."""
    return [
        (
            format_address(host, port),
            Redis.from_pool(ConnectionPool(**settings.sentinel_kwargs(host, port), **_tls(context))),
        )
        for host, port in settings.nodes
    ]


def master_client(
    settings: RedisServerSettings, context: ssl.SSLContext | None, sentinels: list[Redis]
) -> Redis:
    """The client of the master the sentinels name (redis-py finds it again after a failover)."""
    sentinel = Sentinel([])  # type: ignore[no-untyped-call]
    sentinel.sentinels = list(sentinels)  # ours: with our TLS context (Sentinel() would build its own)
    kwargs = settings.connection_kwargs() | _tls(context, PrebuiltTlsSentinelConnection)
    return cast(Redis, sentinel.master_for(cast(str, settings.service_name), redis_class=Redis, **kwargs))


REDIRECTED: ContextVar[list[object] | None] = ContextVar("vemonitor_redirected", default=None)
"""Set by a cluster send: the commands its client then sends singly, i.e. pipeline writes redirected by
MOVED/ASK/TRYAGAIN, on another connection than their shard's WAIT."""


class RecordingClusterPipeline(ClusterPipeline):
    """redis-py's cluster pipeline, keeping the arguments of what is queued (keys to route WAIT by)."""

    def __init__(self, client: RedisCluster, transaction: bool | None = None) -> None:
        super().__init__(client, transaction)
        self.queued: list[tuple[Any, ...]] = []

    def execute_command(self, *args: Any, **kwargs: Any) -> ClusterPipeline:
        self.queued.append(args)
        return super().execute_command(*args, **kwargs)


class WatchedCluster(RedisCluster):
    """RedisCluster whose pipelines record their commands, and which tells a send (REDIRECTED) the
    commands it sends singly meanwhile."""

    def pipeline(
        self, transaction: Any | None = None, shard_hint: Any | None = None
    ) -> RecordingClusterPipeline:
        return RecordingClusterPipeline(self, transaction)  # type: ignore[abstract]  # as redis-py's pipeline()

    async def execute_command(self, *args: EncodableT, **kwargs: Any) -> Any:
        if (redirected := REDIRECTED.get()) is not None:
            redirected.append(args[0])
        return await super().execute_command(*args, **kwargs)


def cluster_client(
    settings: RedisServerSettings, context: ssl.SSLContext | None, known: tuple[tuple[str, int], ...]
) -> WatchedCluster:
    """A RedisCluster seeded with the settings' nodes and every node seen before, which never retries a
    whole pipeline by itself: its retry would send WAIT to a random node (redis-py drops a command's
    target_nodes on the first attempt), a false confirmation.
    """
    kwargs = settings.connection_kwargs()
    del kwargs["db"]
    client = WatchedCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in dict.fromkeys([*settings.nodes, *known])],
        **(kwargs | {"retry": Retry(NoBackoff(), 0)}),
    )
    if context is not None:
        # Its connections are SSLConnections otherwise, each building a context in the event loop; the same
        # update redis-py makes for its maintenance notifications (every node, those found later too).
        client.connection_kwargs.update(_tls(context))
        for node in client.nodes_manager.startup_nodes.values():
            node.connection_class = PrebuiltTlsConnection
            node.connection_kwargs["tls_context"] = context
    return client


# ClusterError covers CLUSTERDOWN replies, RedisClusterException a slot map that does not cover the slots.
_STALE_MAP_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError, ClusterError, RedisClusterException)


def stale_map(error: object) -> bool:
    """Whether a cluster client that failed so should start over: its slot map may be wrong."""
    return isinstance(error, _STALE_MAP_ERRORS)
