"""probe() and RedisConnector against real servers: every failure class, TLS included."""

from collections.abc import Callable
from dataclasses import replace

import pytest
from redis import exceptions as rx

from custom_components.vemonitor.redis_worker import (
    CannotConnect,
    InvalidAuth,
    NoWritePermission,
    ReadOnlyServer,
    RedisConnector,
    RedisServerSettings,
    RedisWorkerError,
    ServerError,
    TlsError,
    probe,
)
from custom_components.vemonitor.redis_worker.errors import classify
from tests.redis_server import AclUser, RedisServer, free_port

SECRET = "pa55-w0rd-secret"
type MakeServer = Callable[..., RedisServer]


async def test_probe_ok_leaves_nothing(redis_server: RedisServer, reader: object) -> None:
    import redis

    await probe(RedisServerSettings(redis_server.host, redis_server.port))
    client = redis.Redis(redis_server.host, redis_server.port)
    assert client.dbsize() == 0
    client.close()


@pytest.mark.parametrize("tls", [False, True])
async def test_probe_cannot_connect(tls: bool) -> None:
    with pytest.raises(CannotConnect):
        await probe(RedisServerSettings("127.0.0.1", free_port(), tls=tls, timeout=2))


@pytest.mark.parametrize(
    ("username", "password"),
    [(None, "wrong"), (None, None), ("nobody", SECRET), ("reader", "wrong")],
)
async def test_probe_invalid_auth(
    make_server: MakeServer, username: str | None, password: str | None
) -> None:
    server = make_server(password=SECRET, users=[AclUser("reader", "rpw", "~* +@read")])
    with pytest.raises(InvalidAuth) as caught:
        await probe(RedisServerSettings(server.host, server.port, password=password, username=username))
    assert SECRET not in str(caught.value)
    assert "wrong" not in str(caught.value)


async def test_probe_password_where_none_is_set(redis_server: RedisServer) -> None:
    # redis-py ignores "AUTH called without any password configured": such a server simply works.
    await probe(RedisServerSettings(redis_server.host, redis_server.port, password=SECRET))


async def test_probe_with_password_and_acl_users(make_server: MakeServer) -> None:
    server = make_server(
        password=SECRET,
        users=[AclUser("reader", "rpw", "~* +@read +@connection"), AclUser("writer", "wpw", "~van* +@all")],
    )
    await probe(RedisServerSettings(server.host, server.port, password=SECRET))
    await probe(
        RedisServerSettings(server.host, server.port, username="writer", password="wpw"), key_prefix="van"
    )
    with pytest.raises(NoWritePermission):
        await probe(RedisServerSettings(server.host, server.port, username="reader", password="rpw"))
    # The key pattern matters: the writer may not write outside van*.
    with pytest.raises(NoWritePermission):
        await probe(RedisServerSettings(server.host, server.port, username="writer", password="wpw"))


async def test_probe_read_only_replica(make_server: MakeServer) -> None:
    server = make_server(extra_config=[f"replicaof 127.0.0.1 {free_port()}"])
    with pytest.raises(ReadOnlyServer):
        await probe(RedisServerSettings(server.host, server.port))


async def test_probe_tls(make_server: MakeServer) -> None:
    server = make_server(tls=True, password=SECRET)
    assert server.tls is not None
    base = RedisServerSettings(server.host, server.port, password=SECRET, tls=True, timeout=2)
    with pytest.raises(TlsError) as caught:
        await probe(base)  # self-signed CA unknown to the system store
    assert "certificate" in str(caught.value).lower()
    await probe(replace(base, tls_verify=False))
    await probe(replace(base, ca_cert=server.tls.ca_pem))
    # Plain client on a TLS port: the server hangs up; nothing tells it apart from a dead link.
    with pytest.raises(CannotConnect):
        await probe(replace(base, tls=False))


async def test_probe_tls_on_plain_port(redis_server: RedisServer) -> None:
    with pytest.raises(TlsError, match="does not speak TLS"):
        await probe(RedisServerSettings(redis_server.host, redis_server.port, tls=True, timeout=0.5))


def test_password_never_shown() -> None:
    settings = RedisServerSettings("h", 1, password=SECRET, username="u", ca_cert="PEM")
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert SECRET not in repr(RedisConnector(settings))
    assert SECRET not in repr(RedisConnector(settings).client)
    assert RedisServerSettings("::1", 2).address == "[::1]:2"


async def test_connector_shares_one_client(settings: RedisServerSettings) -> None:
    connector = RedisConnector(settings)
    client = connector.client
    assert connector.client is client
    assert await client.ping()
    await connector.close()
    await connector.close()
    assert connector.client is not client
    await connector.close()


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (rx.BusyLoadingError("LOADING Redis is loading the dataset in memory"), CannotConnect),
        (rx.TimeoutError("Timeout reading"), CannotConnect),
        (ConnectionResetError(104, "reset"), CannotConnect),
        (rx.AuthenticationWrongNumberOfArgsError("wrong number of arguments"), InvalidAuth),
        (rx.ResponseError("NOAUTH Authentication required."), InvalidAuth),
        (rx.NoPermissionError("NOPERM no write"), NoWritePermission),
        (rx.ReadOnlyError("READONLY replica"), ReadOnlyServer),
        (rx.OutOfMemoryError("OOM command not allowed"), ServerError),
        (rx.ResponseError("WRONGTYPE Operation against a key"), ServerError),
    ],
)
def test_classify(exc: Exception, expected: type[RedisWorkerError]) -> None:
    error = classify(exc, "h:1")
    assert type(error) is expected
    assert "h:1" in str(error)
    assert classify(error, "other") is error
