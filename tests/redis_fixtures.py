"""Fixtures of the Home Assistant Redis tests: throwaway redis-servers and config entries pointing at them.

Registered for the whole suite through `pytest_plugins` in tests/conftest.py. Session-scoped servers are
shared (each test uses its own key names); a test that stops or restarts Redis takes `redis_owned`, a test
that kills a master its own SentinelGroup or RedisClusterNodes (tests/redis_topologies.py). The shared
Sentinel group and Cluster are started by the first test that asks for them, and never stopped by a test.
"""

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from homeassistant.const import (
    CONF_HOST,
    CONF_NAME,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_USERNAME,
)
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import pytest_socket
from redis import Redis

from custom_components.vemonitor.const import (
    CONF_DB,
    CONF_ENTRY_TYPE,
    CONF_NODES,
    CONF_SENTINEL_PASSWORD,
    CONF_SERVER_KIND,
    CONF_SERVICE_NAME,
    CONF_TLS,
    CONF_TLS_VERIFY,
    DOMAIN,
    ENTRY_TYPE_REDIS_SERVER,
)
from tests.redis_server import AclUser, RedisServer
from tests.redis_topologies import RedisClusterNodes, SentinelGroup

PASSWORD = "s3cret-pw"
WRITER = AclUser("writer", "writer-pw", "~* &* +@all")
READER = AclUser("reader", "reader-pw", "~* +@read +ping")
# The minimal rule documented for users (docs/user-guide.md): no +@connection, no MULTI.
MINIMAL = AclUser(
    "minimal",
    "minimal-pw",
    "resetkeys ~vemonitor:probe:* ~bat* -@all +ping +hset +sadd +del +info +hsetex +wait",
)
NO_INFO = AclUser("noinfo", "noinfo-pw", "~* &* +@all -info")  # may write, may not read the server's INFO
SENTINEL_PASSWORD = "sentinel-pw"  # requirepass of the shared group's sentinels (its nodes: PASSWORD)


@pytest.fixture(scope="session")
def redis_plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server without authentication, shared by the session."""
    pytest_socket.enable_socket()  # session fixtures run before a test's socket_enabled
    with RedisServer(tmp_path_factory.mktemp("redis-plain")) as server:
        yield server


@pytest.fixture(scope="session")
def redis_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server with a default-user password, a read-write ACL user and a read-only one."""
    pytest_socket.enable_socket()
    with RedisServer(
        tmp_path_factory.mktemp("redis-auth"), password=PASSWORD, users=[WRITER, READER, NO_INFO, MINIMAL]
    ) as server:
        yield server


@pytest.fixture(scope="session")
def redis_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A TLS-only redis-server whose certificate is signed by a CA generated for the test."""
    pytest_socket.enable_socket()
    with RedisServer(tmp_path_factory.mktemp("redis-tls"), tls=True) as server:
        yield server


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelGroup]:
    """A master, a replica and three sentinels, the nodes with PASSWORD and the sentinels with
    SENTINEL_PASSWORD; shared by the session: no test may kill or reconfigure its nodes."""
    pytest_socket.enable_socket()
    with SentinelGroup(
        tmp_path_factory.mktemp("redis-sentinel"), password=PASSWORD, sentinel_password=SENTINEL_PASSWORD
    ) as group:
        yield group


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    """A cluster of three primaries with a replica each, every node with PASSWORD; shared by the session."""
    pytest_socket.enable_socket()
    with RedisClusterNodes(tmp_path_factory.mktemp("redis-cluster"), password=PASSWORD) as cluster:
        yield cluster


@pytest.fixture
def redis_owned(tmp_path: Path, socket_enabled: None) -> Iterator[RedisServer]:
    """A redis-server of this test alone (it may stop and restart it)."""
    server = RedisServer(tmp_path / "redis-owned")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def server_data(server: RedisServer, name: str = "local", **extra: Any) -> dict[str, Any]:
    """The data of a Redis server entry pointing at `server`."""
    return {
        CONF_ENTRY_TYPE: ENTRY_TYPE_REDIS_SERVER,
        CONF_NAME: name,
        CONF_HOST: server.host,
        CONF_PORT: server.port,
        CONF_USERNAME: None,
        CONF_PASSWORD: server.password,
        CONF_DB: 0,
        CONF_TLS: False,
        CONF_TLS_VERIFY: True,
        **extra,
    }


def server_entry(server: RedisServer, name: str = "local", **extra: Any) -> MockConfigEntry:
    """A Redis server config entry (not yet added to hass)."""
    return MockConfigEntry(domain=DOMAIN, title=name, data=server_data(server, name, **extra))


def node_list(nodes: list[tuple[str, int]]) -> list[str]:
    """Nodes as a server entry stores them."""
    return [f"{host}:{port}" for host, port in nodes]


def sentinel_data(group: SentinelGroup, name: str = "sentinel", **extra: Any) -> dict[str, Any]:
    """The data of a Sentinel server entry reaching `group`'s master through its sentinels."""
    return {
        CONF_ENTRY_TYPE: ENTRY_TYPE_REDIS_SERVER,
        CONF_SERVER_KIND: "sentinel",
        CONF_NAME: name,
        CONF_NODES: node_list(group.sentinels),
        CONF_SERVICE_NAME: group.service_name,
        CONF_USERNAME: None,
        CONF_PASSWORD: group.password,
        CONF_SENTINEL_PASSWORD: group.sentinel_password,
        CONF_DB: 0,
        CONF_TLS: False,
        CONF_TLS_VERIFY: True,
        **extra,
    }


def cluster_data(cluster: RedisClusterNodes, name: str = "cluster", **extra: Any) -> dict[str, Any]:
    """The data of a Cluster server entry starting from every node of `cluster`."""
    return {
        CONF_ENTRY_TYPE: ENTRY_TYPE_REDIS_SERVER,
        CONF_SERVER_KIND: "cluster",
        CONF_NAME: name,
        CONF_NODES: node_list(cluster.seeds),
        CONF_USERNAME: None,
        CONF_PASSWORD: cluster.password,
        CONF_DB: 0,
        CONF_TLS: False,
        CONF_TLS_VERIFY: True,
        **extra,
    }


def kind_entry(data: dict[str, Any]) -> MockConfigEntry:
    """A Redis server config entry of any kind (not yet added to hass)."""
    return MockConfigEntry(domain=DOMAIN, title=data[CONF_NAME], data=data)


def sync_client(server: RedisServer, db: int = 0) -> Redis:
    """A plain redis-py client to look at what the integration wrote."""
    return Redis(host=server.host, port=server.port, db=db, password=server.password, decode_responses=True)


@pytest.fixture
def redis_reader(redis_plain: RedisServer) -> Generator[Redis]:
    """A client of the shared plain server."""
    client = sync_client(redis_plain)
    try:
        yield client
    finally:
        client.close()
