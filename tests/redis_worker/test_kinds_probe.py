"""probe() per server kind against real servers: every failure class, and what a successful probe returns."""

import asyncio
from collections.abc import Generator
from dataclasses import replace
import logging
from pathlib import Path

import pytest
import redis

from custom_components.vemonitor.redis_worker import (
    CLUSTER,
    SENTINEL,
    SINGLE,
    CannotConnect,
    ClusterDown,
    InvalidAuth,
    InvalidSentinelAuth,
    NoMaster,
    NoSentinel,
    NotACluster,
    NotASentinel,
    NoWritePermission,
    RedisConnector,
    RedisServerSettings,
    ServerInfo,
    TlsError,
    Topology,
    UnknownService,
    WrongKind,
    probe,
)
from tests.redis_server import AclUser, RedisServer, free_port
from tests.redis_topologies import HOST, RedisClusterNodes, SentinelGroup

from .kinds import (
    START,
    add,
    cluster_settings,
    make_worker,
    nothing_blocks_the_loop,
    sentinel_settings,
    until,
)

SECRET, SENTINEL_SECRET = "master-secret", "sentinel-secret"


def version_of(server: RedisServer) -> str:
    with redis.Redis(server.host, server.port, decode_responses=True) as client:
        return str(client.info("server")["redis_version"])


# -- single -----------------------------------------------------------------------------------------------


async def test_single_probe_returns_server_info(redis_server: RedisServer) -> None:
    info = await probe(RedisServerSettings(redis_server.host, redis_server.port))
    address = f"{redis_server.host}:{redis_server.port}"
    assert info == ServerInfo(version_of(redis_server), 0, Topology(SINGLE, address, None, None, 0))


async def test_single_pointed_at_a_sentinel_or_a_cluster_node(
    sentinel: SentinelGroup, cluster: RedisClusterNodes
) -> None:
    host, port = sentinel.sentinels[0]
    with pytest.raises(WrongKind, match="sentinel") as caught:
        await probe(RedisServerSettings(host, port))
    assert caught.value.found == SENTINEL
    node = cluster.nodes[0]
    with pytest.raises(WrongKind, match="cluster") as caught:
        await probe(RedisServerSettings(node.host, node.port))
    assert caught.value.found == CLUSTER


# -- sentinel ---------------------------------------------------------------------------------------------


async def test_sentinel_probe_returns_server_info(
    sentinel: SentinelGroup, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = sentinel_settings(sentinel)
    await nothing_blocks_the_loop(settings, monkeypatch)
    info = await probe(settings)
    master = sentinel.master()
    assert info == ServerInfo(
        version_of(master), 1, Topology(SENTINEL, f"{master.host}:{master.port}", None, None, 1)
    )
    with sentinel.client(master) as client:
        assert client.dbsize() == 0  # the write check left nothing behind
    # One sentinel down of three: the others answer.
    dead = replace(settings, nodes=((HOST, free_port()), *settings.nodes))
    assert (await probe(dead)).topology.master == info.topology.master


async def test_no_sentinel_answers() -> None:
    settings = RedisServerSettings(
        HOST, 1, kind=SENTINEL, nodes=((HOST, free_port()), (HOST, free_port())), service_name="m", timeout=2
    )
    with pytest.raises(NoSentinel) as caught:
        await probe(settings)
    assert isinstance(caught.value, CannotConnect)  # the server is unreachable, as for a single server


async def test_unknown_service(sentinel: SentinelGroup) -> None:
    with pytest.raises(UnknownService, match="'nobody'"):
        await probe(sentinel_settings(sentinel, service_name="nobody"))


@pytest.fixture
def ghost(sentinel: SentinelGroup) -> Generator[str]:
    """A service the sentinels monitor whose master is down (a closed port): they mark it down, no replica
    can replace it."""
    name = "ghost"
    for server in sentinel.sentinel_servers:
        with sentinel.client(server) as client:
            client.execute_command("SENTINEL", "MONITOR", name, HOST, free_port(), sentinel.quorum)
            client.execute_command("SENTINEL", "SET", name, "down-after-milliseconds", 100)
    yield name
    for server in sentinel.sentinel_servers:
        with sentinel.client(server) as client:
            client.execute_command("SENTINEL", "REMOVE", name)


async def test_no_master(sentinel: SentinelGroup, ghost: str) -> None:
    def all_down() -> bool:
        for server in sentinel.sentinel_servers:
            with sentinel.client(server) as client:
                if not client.sentinel_master(ghost)["is_sdown"]:
                    return False
        return True

    await until(all_down, "the ghost master marked down")
    with pytest.raises(NoMaster, match="no usable master") as caught:
        await probe(sentinel_settings(sentinel, service_name=ghost))
    assert isinstance(caught.value, CannotConnect)


async def test_not_a_sentinel(redis_server: RedisServer, cluster: RedisClusterNodes) -> None:
    for server in (redis_server, cluster.nodes[0]):
        settings = RedisServerSettings(
            HOST, 1, kind=SENTINEL, nodes=((server.host, server.port),), service_name="m"
        )
        with pytest.raises(NotASentinel):
            await probe(settings)


async def test_sentinel_and_master_credentials(tmp_path: Path) -> None:
    group = SentinelGroup(
        tmp_path, replicas=0, sentinels=1, password=SECRET, sentinel_password=SENTINEL_SECRET
    )
    await asyncio.to_thread(group.start)
    with group:
        settings = sentinel_settings(group)
        assert (await probe(settings)).topology.kind == SENTINEL
        for sentinel_password in ("wrong", None):
            with pytest.raises(InvalidSentinelAuth) as caught:
                await probe(replace(settings, sentinel_password=sentinel_password))
            assert isinstance(caught.value, InvalidAuth)  # a reauth, as for the master's password
            assert SENTINEL_SECRET not in str(caught.value)
        with pytest.raises(InvalidAuth) as master_refused:
            await probe(replace(settings, password="wrong"))
        assert not isinstance(master_refused.value, InvalidSentinelAuth)
        assert SECRET not in str(master_refused.value)


async def test_sentinel_tls(tmp_path: Path, sentinel: SentinelGroup, monkeypatch: pytest.MonkeyPatch) -> None:
    group = SentinelGroup(tmp_path, replicas=0, sentinels=1, tls=True)
    await asyncio.to_thread(group.start)
    with group:
        settings = sentinel_settings(group)
        assert settings.tls
        assert (await probe(settings)).topology.kind == SENTINEL
        await nothing_blocks_the_loop(settings, monkeypatch)
        with pytest.raises(TlsError, match=r"(?i)certificate"):
            await probe(replace(settings, ca_cert=None))  # the test CA is no system CA
        with pytest.raises(NoSentinel):
            await probe(replace(settings, tls=False))  # a TLS sentinel drops a plain client
    with pytest.raises(TlsError, match="does not speak TLS"):
        await probe(replace(sentinel_settings(sentinel), tls=True, tls_verify=False))


# -- cluster ----------------------------------------------------------------------------------------------


async def test_cluster_probe_returns_server_info(
    cluster: RedisClusterNodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    await nothing_blocks_the_loop(cluster_settings(cluster), monkeypatch)
    info = await probe(cluster_settings(cluster))
    assert info == ServerInfo(version_of(cluster.nodes[0]), 1, Topology(CLUSTER, None, 3, 3, 1))
    for node in cluster.primaries():
        with cluster.client(node) as client:
            assert client.dbsize() == 0
    # A dead seed among good ones does not matter.
    settings = cluster_settings(cluster)
    assert (await probe(replace(settings, nodes=((HOST, free_port()), *settings.nodes)))).topology.shards == 3


async def test_cluster_unreachable() -> None:
    settings = RedisServerSettings(HOST, 1, kind=CLUSTER, nodes=((HOST, free_port()),), timeout=2)
    with pytest.raises(CannotConnect) as caught:
        await probe(settings)
    assert type(caught.value) is CannotConnect


async def test_not_a_cluster(redis_server: RedisServer, sentinel: SentinelGroup) -> None:
    for host, port in ((redis_server.host, redis_server.port), sentinel.sentinels[0]):
        with pytest.raises(NotACluster):
            await probe(RedisServerSettings(HOST, 1, kind=CLUSTER, nodes=((host, port),)))


async def test_cluster_down(tmp_path: Path) -> None:
    """A primary without replica dies: the others mark it failed, cluster_state:fail."""
    three = RedisClusterNodes(tmp_path, masters=3, replicas=0)
    await asyncio.to_thread(three.start)
    with three:
        dead = three.nodes[2]
        three.kill(dead)

        def failed() -> bool:
            with three.client(three.nodes[0]) as client:
                return "cluster_state:fail" in client.execute_command("CLUSTER", "INFO")

        await until(failed, "cluster_state:fail")
        with pytest.raises(ClusterDown, match="cluster_state is fail"):
            await probe(cluster_settings(three))


async def test_lone_node_cluster_credentials_tls_acl_and_slots(
    tmp_path: Path,
    cluster: RedisClusterNodes,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One node serving every slot (a cluster of one) with a password, ACL users and TLS; then half its
    slots go, then the node."""
    users = [
        AclUser("noshards", "npw", "~* &* +@all -cluster|shards"),
        AclUser("nowait", "wpw", "~* &* +@all -wait"),
    ]
    lone = RedisClusterNodes(tmp_path, masters=1, replicas=0, password=SECRET, users=users, tls=True)
    await asyncio.to_thread(lone.start)
    with lone:
        settings = cluster_settings(lone)
        assert (await probe(settings)).topology == Topology(CLUSTER, None, 1, 1, 0)
        await nothing_blocks_the_loop(settings, monkeypatch)
        for password in ("wrong", None):
            with pytest.raises(InvalidAuth) as caught:
                await probe(replace(settings, password=password))
            assert SECRET not in str(caught.value)
        with pytest.raises(TlsError, match=r"(?i)certificate"):
            await probe(replace(settings, ca_cert=None))  # the test CA is no system CA
        with pytest.raises(CannotConnect):
            await probe(replace(settings, tls=False))  # a TLS node drops a plain client
        # CLUSTER SHARDS refused: the client's own map tells the shards, not their replicas; no WAIT then.
        connector = await RedisConnector.create(replace(settings, username="noshards", password="npw"))
        with caplog.at_level(logging.WARNING):
            assert await connector.wait_replicas() == 0
        assert "refuses to tell the replicas" in caplog.text
        assert await connector.topology() == Topology(CLUSTER, None, 1, 1, None)
        await connector.close()
        # WAIT refused: the write is refused (a reauth: the ACL must change), not taken as unconfirmed.
        connector = await RedisConnector.create(
            replace(settings, username="nowait", password="wpw", wait_replicas=1)
        )
        worker = make_worker(connector, "van", time_interval=3600)
        add([worker], [START])
        assert not await worker.flush()
        assert isinstance(worker.last_error, NoWritePermission)
        await connector.close()
        with pytest.raises(NoWritePermission, match=r"(?i)wait"):  # the probe tells it first
            await probe(connector.settings)
        assert (await probe(replace(settings, wait_replicas=1))).topology.shards == 1  # WAIT 0 0: at once
        # Half the slots gone: the slot map does not cover them.
        connector = await RedisConnector.create(settings)
        await connector.topology()
        with lone.client(lone.nodes[0]) as client:
            client.execute_command("CLUSTER", "DELSLOTSRANGE", 8192, 16383)
        with pytest.raises(ClusterDown, match="slot") as caught_down:
            await probe(settings)
        assert isinstance(caught_down.value, CannotConnect)
        # The only node gone: nothing answers.
        lone.kill(lone.nodes[0])
        with pytest.raises(CannotConnect, match="any node"):
            await connector.topology()
        await connector.close()
    with pytest.raises(TlsError, match="does not speak TLS"):
        await probe(replace(cluster_settings(cluster), tls=True, tls_verify=False))
