"""The connector's kind-independent parts: settings, error classes, WAIT (how many, what a refusal does)."""

from collections.abc import Callable
from dataclasses import replace
import logging
import time

import pytest
import redis
from redis import exceptions as rx
from redis.asyncio.sentinel import MasterNotFoundError

from custom_components.vemonitor.redis_worker import (
    AUTH_ERRORS,
    CLUSTER,
    CONNECTION_ERRORS,
    SENTINEL,
    SINGLE,
    CannotConnect,
    ClusterDown,
    InvalidAuth,
    InvalidSentinelAuth,
    NoMaster,
    NoSentinel,
    NotACluster,
    NoWritePermission,
    RedisConnector,
    RedisServerSettings,
    RedisWorkerError,
    ReplicasBehind,
    SendResult,
    ServerError,
    Topology,
    WrongKind,
    probe,
)
from custom_components.vemonitor.redis_worker.errors import classify
from custom_components.vemonitor.redis_worker.topology import Shard, parse_shards
from tests.redis_server import AclUser, RedisServer, free_port
from tests.redis_topologies import HOST, RedisClusterNodes, SentinelGroup

from .kinds import START, add, cluster_settings, make_worker, sentinel_settings, until

type MakeServer = Callable[..., RedisServer]
SECRET = "s3nt1nel-secret"


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"kind": "replicated"}, "kind"),
        ({"kind": SENTINEL, "service_name": "m"}, "node"),
        ({"kind": CLUSTER}, "node"),
        ({"kind": SENTINEL, "nodes": ((HOST, 26379),)}, "service name"),
        ({"kind": CLUSTER, "nodes": ((HOST, 7000),), "db": 1}, "database 0"),
        ({"wait_replicas": -1}, "wait_replicas"),
    ],
)
def test_settings_refused(options: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        RedisServerSettings(HOST, **options)  # type: ignore[arg-type]


def test_settings_addresses_and_secrets() -> None:
    sentinel = RedisServerSettings(
        HOST,
        kind=SENTINEL,
        nodes=[(HOST, "26379"), ("::1", 26380)],  # type: ignore[list-item]  # a config entry's list
        service_name="mymaster",
        sentinel_password=SECRET,
    )
    assert sentinel.nodes == ((HOST, 26379), ("::1", 26380))
    assert sentinel.address == "mymaster via sentinels 127.0.0.1:26379, [::1]:26380"
    assert SECRET not in repr(sentinel)
    assert SECRET not in repr(RedisConnector(sentinel))
    cluster = RedisServerSettings(HOST, kind=CLUSTER, nodes=((HOST, 7000), (HOST, 7001)))
    assert cluster.address == "cluster 127.0.0.1:7000, 127.0.0.1:7001"
    assert RedisServerSettings(HOST, 6380).address == "127.0.0.1:6380"
    with pytest.raises(ValueError, match="create"):
        RedisConnector(RedisServerSettings(HOST, kind=CLUSTER, nodes=((HOST, 7000),), tls=True))


def _cluster_unreachable(cause: Exception) -> rx.RedisClusterException:
    try:
        raise rx.RedisClusterException("Redis Cluster cannot be connected. Please provide ...") from cause
    except rx.RedisClusterException as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (MasterNotFoundError("No master found for 'm'"), NoMaster),
        (rx.ClusterDownError("CLUSTERDOWN The cluster is down"), ClusterDown),
        (rx.MasterDownError("MASTERDOWN Link with MASTER is down"), CannotConnect),
        (rx.SlotNotCoveredError('Slot "3" not covered by the cluster.'), ClusterDown),
        (rx.ClusterError("TTL exhausted."), ClusterDown),
        (rx.MovedError("3999 127.0.0.1:6381"), WrongKind),
        (rx.AskError("3999 127.0.0.1:6381"), WrongKind),
        (
            rx.RedisClusterException("All slots are not covered after query all startup_nodes. 1 of 16384"),
            ClusterDown,
        ),
        (
            rx.RedisClusterException("startup_nodes could not agree on a valid slots cache: a vs b"),
            ClusterDown,
        ),
        (
            rx.RedisClusterException("... reachable node: Cluster mode is not enabled on this node"),
            NotACluster,
        ),
        (
            _cluster_unreachable(rx.AuthenticationError("WRONGPASS invalid username-password pair")),
            InvalidAuth,
        ),
        (_cluster_unreachable(rx.ConnectionError("Error 111 connecting")), CannotConnect),
        (rx.RedisClusterException("No targets were found to execute"), ServerError),
    ],
)
def test_classify_kinds(exc: Exception, expected: type[RedisWorkerError]) -> None:
    error = classify(exc, "cluster h:1")
    assert type(error) is expected
    assert "cluster h:1" in str(error)
    if expected is WrongKind:
        assert isinstance(error, WrongKind)
        assert error.found == CLUSTER


def test_error_families() -> None:
    """What the HA layer tells apart: unreachable (retry), credentials (reauth), a write not confirmed."""
    for cls in (NoSentinel, NoMaster, ClusterDown):
        assert issubclass(cls, CannotConnect)
    assert issubclass(InvalidSentinelAuth, InvalidAuth)
    assert issubclass(InvalidSentinelAuth, AUTH_ERRORS)
    assert not issubclass(ReplicasBehind, CONNECTION_ERRORS)
    assert issubclass(NotACluster, CONNECTION_ERRORS)


def test_shards_after_a_failover() -> None:
    """CLUSTER SHARDS keeps a dead primary in its shard as a failed master until it is back, often first:
    the shard's primary is its successor; with none yet, the failed one (it does not answer)."""

    def node(port: int, role: str, health: str) -> dict[bytes, object]:
        return {b"ip": HOST.encode(), b"port": port, b"role": role.encode(), b"health": health.encode()}

    reply = [
        {"slots": [0, 5460], "nodes": [node(7000, "master", "fail"), node(7003, "master", "online")]},
        {"slots": [5461, 10922], "nodes": [node(7001, "master", "failed"), node(7004, "replica", "online")]},
        {"slots": [10923, 16383], "nodes": [node(7002, "master", "online"), node(7005, "replica", "failed")]},
        {"slots": [], "nodes": [node(7006, "master", "online")]},  # no slots: no shard
    ]
    assert parse_shards(reply, HOST) == [
        Shard(f"{HOST}:7003", 0),
        Shard(f"{HOST}:7001", 1),
        Shard(f"{HOST}:7002", 0),
    ]


async def test_wait_replicas_setting_asks_nothing() -> None:
    connector = RedisConnector(RedisServerSettings(HOST, free_port(), wait_replicas=2))
    assert await connector.wait_replicas() == 2  # no server there: not asked


async def test_automatic_wait_replicas_per_kind(
    make_server: MakeServer, sentinel: SentinelGroup, cluster: RedisClusterNodes
) -> None:
    """1 when the master (every primary) has a replica, else 0."""
    alone = make_server()
    primary = make_server()
    replica = make_server(extra_config=[f"replicaof {primary.host} {primary.port}"])
    with redis.Redis(replica.host, replica.port, decode_responses=True) as client:
        await until(lambda: client.info("replication")["master_link_status"] == "up", "replica in sync")
    expected = {
        RedisServerSettings(alone.host, alone.port): 0,
        RedisServerSettings(primary.host, primary.port): 1,
        sentinel_settings(sentinel): 1,
        cluster_settings(cluster): 1,
    }
    for settings, replicas in expected.items():
        connector = RedisConnector(settings)
        assert await connector.wait_replicas() == replicas, settings
        await connector.close()
    connector = RedisConnector(RedisServerSettings(primary.host, primary.port))
    result = await connector.send(lambda pipe: pipe.hset("van_bmv", "1", "{}"))  # type: ignore[arg-type]
    assert result == SendResult([("HSET", "van_bmv", "1", "{}")], [1])  # WAIT confirmed, left out
    topology = await connector.topology()
    assert topology == Topology(SINGLE, f"{primary.host}:{primary.port}", None, None, 1)
    await connector.close()


async def test_acl_refusing_info_or_wait(make_server: MakeServer, caplog: pytest.LogCaptureFixture) -> None:
    """A user without INFO: no WAIT (with one warning), the topology without its replicas. A user without
    WAIT asked to wait: its writes are refused (NoWritePermission, a reauth), not taken as unconfirmed."""
    server = make_server(
        users=[
            AclUser("writer", "wpw", "~* -@all +ping +hset +sadd +del"),
            AclUser("nowait", "npw", "~* -@all +ping +hset +sadd +del +info"),
        ]
    )
    nowait = RedisConnector(
        RedisServerSettings(server.host, server.port, username="nowait", password="npw", wait_replicas=1)
    )
    worker = make_worker(nowait, "van", time_interval=3600)
    add([worker], [START])
    assert not await worker.flush()
    assert isinstance(worker.last_error, NoWritePermission)
    assert "'wait'" in str(worker.last_error)
    await nowait.close()
    connector = RedisConnector(
        RedisServerSettings(server.host, server.port, username="writer", password="wpw")
    )
    with caplog.at_level(logging.WARNING):
        assert await connector.wait_replicas() == 0
        assert await connector.wait_replicas() == 0
    assert caplog.text.count("refuses to tell the replicas") == 1
    address = f"{server.host}:{server.port}"
    assert await connector.topology() == Topology(SINGLE, address, None, None, None)
    assert (await probe(connector.settings)).replicas == 0
    await connector.close()


async def test_acl_refusing_wait(make_server: MakeServer, caplog: pytest.LogCaptureFixture) -> None:
    """A server with a replica and a user without WAIT (the rule of the guide before WAIT): automatic, the
    writes go on without WAIT (one warning), not a refused write (a reauth that cannot help); asked for by
    the settings, the probe tells at once (NoWritePermission), instead of every send later."""
    rules = "~* -@all +ping +hset +sadd +del +info"
    primary = make_server(users=[AclUser("nowait", "npw", rules)])
    replica = make_server(extra_config=[f"replicaof {primary.host} {primary.port}"])
    with redis.Redis(replica.host, replica.port, decode_responses=True) as client:
        await until(lambda: client.info("replication")["master_link_status"] == "up", "replica in sync")
    settings = RedisServerSettings(primary.host, primary.port, username="nowait", password="npw")
    connector = RedisConnector(settings)
    worker = make_worker(connector, "van", time_interval=3600)
    with caplog.at_level(logging.WARNING):
        assert await connector.wait_replicas() == 1
        add([worker], [START])
        assert await worker.flush()
        add([worker], [START + 1])
        assert await worker.flush()
    assert caplog.text.count("refuses WAIT") == 1
    assert await connector.wait_replicas() == 0
    assert (await probe(settings)).replicas == 1
    await connector.close()
    with pytest.raises(NoWritePermission, match=r"(?i)wait"):
        await probe(replace(settings, wait_replicas=1))


async def test_replicas_behind_keeps_the_chunk(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """WAIT 1 on a server without a replica: the write is refused as unconfirmed after WAIT_TIMEOUT, the
    samples stay (reported once), and are delivered when no replica is asked for any more."""
    lost: list[RedisWorkerError] = []
    settings = RedisServerSettings(redis_server.host, redis_server.port, wait_replicas=1)
    connector = RedisConnector(settings)
    worker = make_worker(connector, "van", lost.append, time_interval=3600)
    add([worker], range(START, START + 10))
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        assert not await worker.flush()
    assert time.monotonic() - started >= 0.9
    assert isinstance(worker.last_error, ReplicasBehind)
    assert "0 of 1 replicas" in str(worker.last_error)
    assert [type(error) for error in lost] == [ReplicasBehind]
    assert "not confirmed by the replicas" in caplog.text
    assert worker.pending_samples == 10
    connector.settings = RedisServerSettings(redis_server.host, redis_server.port, wait_replicas=0)
    assert await worker.flush()
    assert worker.pending_samples == 0
    await connector.close()


async def test_empty_send_waits_for_nothing(redis_server: RedisServer) -> None:
    connector = RedisConnector(RedisServerSettings(redis_server.host, redis_server.port, wait_replicas=1))
    assert await connector.send(lambda pipe: None) == SendResult([], [])
    await connector.close()


async def test_no_sentinel_behind_tls() -> None:
    settings = RedisServerSettings(
        HOST, 1, kind=SENTINEL, nodes=((HOST, free_port()),), service_name="m", tls=True, timeout=2
    )
    with pytest.raises(NoSentinel):
        await probe(settings)
