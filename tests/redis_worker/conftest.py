"""Fixtures: one real redis-server per session (plus per-test servers for fault tests), one Sentinel group and
one Redis Cluster per session (tests that kill nodes restart them), no Home Assistant."""

from collections.abc import AsyncGenerator, Callable, Generator
from pathlib import Path

import pytest
import pytest_socket
import redis

from custom_components.vemonitor.redis_worker import RedisConnector, RedisServerSettings
from tests.redis_server import RedisServer
from tests.redis_topologies import RedisClusterNodes, SentinelGroup


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """These tests need no hass instance: override the suite-wide autouse fixture."""


@pytest.fixture(autouse=True)
def allow_loopback_sockets(socket_enabled: None) -> None:
    """Let tests reach their redis-server (PHACC still allows 127.0.0.1 only)."""


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Generator[RedisServer]:
    """The shared server of the session (tests that stop servers start their own)."""
    pytest_socket.enable_socket()  # session fixtures start before the per-test socket_enabled
    with RedisServer(tmp_path_factory.mktemp("redis-shared")) as server:
        yield server


@pytest.fixture
def reader(redis_server: RedisServer) -> Generator[redis.Redis]:
    """A plain client on the shared server, its database emptied before each test."""
    client = redis.Redis(redis_server.host, redis_server.port, decode_responses=True)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def settings(redis_server: RedisServer) -> RedisServerSettings:
    """Settings of the shared server."""
    return RedisServerSettings(redis_server.host, redis_server.port)


@pytest.fixture
async def connector(settings: RedisServerSettings) -> AsyncGenerator[RedisConnector]:
    """A connector on the shared server, closed after the test."""
    connector = RedisConnector(settings)
    yield connector
    await connector.close()


@pytest.fixture
def make_server(tmp_path: Path) -> Generator[Callable[..., RedisServer]]:
    """Start a private server (stopped at the end) for tests that stop, restart or configure it."""
    servers: list[RedisServer] = []

    def make(**kwargs: object) -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(servers)}", **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def sentinel_group(tmp_path_factory: pytest.TempPathFactory) -> Generator[SentinelGroup]:
    """1 master + 1 replica + 3 sentinels, shared by the session."""
    pytest_socket.enable_socket()
    with SentinelGroup(tmp_path_factory.mktemp("sentinel-shared")) as group:
        yield group


@pytest.fixture
def sentinel(sentinel_group: SentinelGroup) -> SentinelGroup:
    """The shared group, healthy (a failover of an earlier test settled) and emptied."""
    sentinel_group.wait_healthy()
    with sentinel_group.client(sentinel_group.master()) as client:
        client.flushall()
    return sentinel_group


@pytest.fixture(scope="session")
def cluster_nodes(tmp_path_factory: pytest.TempPathFactory) -> Generator[RedisClusterNodes]:
    """3 primaries + 3 replicas, shared by the session."""
    pytest_socket.enable_socket()
    with RedisClusterNodes(tmp_path_factory.mktemp("cluster-shared")) as cluster:
        yield cluster


@pytest.fixture
def cluster(cluster_nodes: RedisClusterNodes) -> RedisClusterNodes:
    """The shared cluster, ok (every node of an earlier test back) and emptied."""
    cluster_nodes.wait_ok()
    for node in cluster_nodes.primaries():
        with cluster_nodes.client(node) as client:
            client.flushall()
    return cluster_nodes
