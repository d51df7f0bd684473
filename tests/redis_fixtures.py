"""Fixtures of the Home Assistant Redis tests: throwaway redis-servers and config entries pointing at them.

Registered for the whole suite through `pytest_plugins` in tests/conftest.py. Session-scoped servers are
shared (each test uses its own key names); a test that stops or restarts Redis takes `redis_owned`.
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
    CONF_TLS,
    CONF_TLS_VERIFY,
    DOMAIN,
    ENTRY_TYPE_REDIS_SERVER,
)
from tests.redis_server import AclUser, RedisServer

PASSWORD = "s3cret-pw"
WRITER = AclUser("writer", "writer-pw", "~* &* +@all")
READER = AclUser("reader", "reader-pw", "~* +@read +ping")
# The minimal rule documented for users (docs/user-guide.md): no +@connection, no MULTI.
MINIMAL = AclUser(
    "minimal", "minimal-pw", "resetkeys ~vemonitor:probe:* ~bat* -@all +ping +hset +sadd +del +info +hsetex"
)
NO_INFO = AclUser("noinfo", "noinfo-pw", "~* &* +@all -info")  # may write, may not read the server's INFO


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
