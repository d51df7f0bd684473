"""What a server of each kind looks like right now: the master the sentinels name, the cluster's shards.

Read with the kind's own commands (SENTINEL MASTER, CLUSTER SHARDS, INFO replication) so that the health
check and the config-flow probe tell the user what is wrong (no sentinel, unknown service, no master, slots
not covered) instead of redis-py's one "master not found" or "cluster cannot be connected".
"""

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from redis import exceptions as rx
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

from .errors import (
    CannotConnect,
    ClusterDown,
    InvalidAuth,
    InvalidSentinelAuth,
    NoMaster,
    NoSentinel,
    NotASentinel,
    NoWritePermission,
    TlsError,
    UnknownService,
    classify,
)

type ServerKind = Literal["single", "sentinel", "cluster"]
SINGLE: Final = "single"
SENTINEL: Final = "sentinel"
CLUSTER: Final = "cluster"
SERVER_KINDS: tuple[ServerKind, ...] = (SINGLE, SENTINEL, CLUSTER)


@dataclass(frozen=True, slots=True)
class Topology:
    """One health check's view of the server.

    `master`: "host:port" of the master (sentinel: as the sentinels name it; single: the address; cluster:
    None). `shards`/`shards_answering`: the primaries of the slot map and those that answered PING (cluster
    only). `replicas`: connected replicas of the master (cluster: the fewest of any shard); None when the
    ACL refuses the command that tells.
    """

    kind: ServerKind
    master: str | None
    shards: int | None
    shards_answering: int | None
    replicas: int | None


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What a successful probe learnt: the server version (None if INFO is refused), replicas, topology."""

    version: str | None
    replicas: int
    topology: Topology


@dataclass(frozen=True, slots=True)
class Shard:
    """One shard of a cluster with slots: its primary's node name ("host:port", as redis-py names nodes)
    and how many of its replicas are not failed (None: the ACL refuses CLUSTER SHARDS)."""

    primary: str
    replicas: int | None


def fewest_replicas(shards: Sequence[Shard]) -> int | None:
    """The replicas of the shard that has the fewest; None when unknown."""
    counts = [shard.replicas for shard in shards]
    return None if None in counts else min((count for count in counts if count is not None), default=0)


def format_address(host: str, port: int | str) -> str:
    """host:port, IPv6 hosts in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def connected_replicas(client: Redis | RedisCluster, **options: Any) -> int | None:
    """`connected_slaves` of INFO replication; None when the ACL refuses INFO."""
    try:
        info = await client.info("replication", **options)
    except rx.NoPermissionError:
        return None
    return int(info.get("connected_slaves", 0))


# -- Sentinel ---------------------------------------------------------------------------------------------


def _usable(state: Mapping[str, Any]) -> bool:
    """redis-py's own test of a sentinel's master state (Sentinel.check_master_state)."""
    return bool(state.get("is_master")) and not state.get("is_sdown") and not state.get("is_odown")


async def sentinel_master(
    sentinels: Sequence[tuple[str, Redis]], service: str, where: str
) -> tuple[str, int]:
    """(host, port) of the master the first sentinel that knows a usable one names, asked of all at once.

    Otherwise the most telling failure: NoMaster (a sentinel knows the service, its master is down or being
    replaced), UnknownService, NotASentinel, InvalidSentinelAuth, TlsError, NoSentinel (none answered).
    """
    replies = await asyncio.gather(
        *(sentinel.sentinel_master(service) for _, sentinel in sentinels), return_exceptions=True
    )
    down: Mapping[str, Any] | None = None
    unknown: list[str] = []
    not_sentinel: list[str] = []
    failures: list[Exception] = []
    for (address, _), reply in zip(sentinels, replies, strict=True):
        if isinstance(reply, Exception):
            words = str(reply).lower()
            if isinstance(reply, rx.ResponseError) and "no such master" in words:
                unknown.append(address)
            elif isinstance(reply, rx.ResponseError) and "unknown" in words and "sentinel" in words:
                not_sentinel.append(address)
            else:
                failures.append(classify(reply, f"sentinel {address}"))
            continue
        state = cast(Mapping[str, Any], reply)
        if _usable(state):
            return str(state["ip"]), int(state["port"])
        down = state
    if down is not None:
        flags = down.get("flags", "")
        raise NoMaster(f"Redis {where}: the sentinels name no usable master for {service!r} ({flags})")
    if unknown:
        raise UnknownService(f"Redis {where}: no sentinel monitors a master called {service!r}")
    if not_sentinel:
        raise NotASentinel(f"Redis {where}: {', '.join(not_sentinel)} is no sentinel (SENTINEL unknown)")
    if auth := [failure for failure in failures if isinstance(failure, InvalidAuth | NoWritePermission)]:
        raise InvalidSentinelAuth(f"Redis {where}: the sentinel refused the sentinel credentials: {auth[0]}")
    if tls := [failure for failure in failures if isinstance(failure, TlsError)]:
        raise tls[0]
    raise NoSentinel(f"Redis {where}: no sentinel answered: {failures[0] if failures else 'none given'}")


# -- Cluster ----------------------------------------------------------------------------------------------


def _node_name(node: Mapping[Any, Any], default_host: str) -> str:
    """redis-py's node name (host:port, no brackets) of a CLUSTER SHARDS node: its preferred endpoint (a
    lone node that never met another does not know its address: the one it was asked at, as redis-py)."""
    host = _field(node, "endpoint") or _field(node, "ip") or default_host
    return f"{host}:{_field(node, 'port') or _field(node, 'tls-port')}"  # a TLS-only node has no "port"


def _field(node: Mapping[Any, Any], name: str) -> str:
    return _text(node.get(name.encode(), node.get(name, "")))


def _failed(node: Mapping[Any, Any]) -> bool:
    """Whether CLUSTER SHARDS calls the node failed (Redis says "fail"; its documentation "failed")."""
    return _field(node, "health") in ("fail", "failed")


def parse_shards(reply: Sequence[Mapping[str, Any]], default_host: str) -> list[Shard]:
    """The shards that hold slots, from redis-py's parsed CLUSTER SHARDS (node keys bytes or text)."""
    shards = []
    for shard in reply:
        nodes = shard.get("nodes", [])
        # After a failover the dead primary stays in its shard, as a failed "master" (often listed first),
        # until it comes back as a replica: the primary is the master that has not failed, if any.
        masters = [node for node in nodes if _field(node, "role") == "master"]
        primary = next((node for node in masters if not _failed(node)), None)
        primary = primary or next(iter(masters), None)
        if not shard.get("slots") or primary is None:
            continue
        replicas = sum(1 for node in nodes if _field(node, "role") == "replica" and not _failed(node))
        shards.append(Shard(_node_name(primary, default_host), replicas))
    return shards


async def cluster_shards(client: RedisCluster, where: str) -> list[Shard]:
    """The shards of the cluster as the first node of the client's slot map that answers sees them.

    ClusterDown when that node reports cluster_state other than ok; CannotConnect when no node answers.
    """
    failure: Exception | None = None
    for node in [*client.get_primaries(), *client.get_replicas()]:
        try:
            info: Mapping[str, Any] = await client.execute_command("CLUSTER INFO", target_nodes=node)
            reply = await client.execute_command("CLUSTER SHARDS", target_nodes=node)
        except rx.NoPermissionError:  # the ACL refuses to tell: the client's own slot map, replicas unknown
            return [Shard(primary.name, None) for primary in client.get_primaries()]
        except (rx.ConnectionError, rx.TimeoutError) as exc:
            failure = exc
            continue
        if (state := _text(info.get("cluster_state", ""))) != "ok":
            raise ClusterDown(f"Redis {where}: cluster_state is {state or 'unknown'} on {node.name}")
        return parse_shards(reply, node.host)
    raise CannotConnect(f"Cannot reach any node of Redis {where}: {failure or 'no node known'}")


async def answering(client: RedisCluster, names: Sequence[str]) -> int:
    """How many of the nodes called `names` answer PING (unknown to the client's map: not answering)."""
    nodes: list[ClusterNode] = [
        node for name in names if (node := client.get_node(node_name=name)) is not None
    ]
    replies = await asyncio.gather(
        *(client.execute_command("PING", target_nodes=node) for node in nodes), return_exceptions=True
    )
    return sum(1 for reply in replies if reply is True or reply == b"PONG")
