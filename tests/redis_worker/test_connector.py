"""probe() and RedisConnector against real servers: every failure class, TLS included."""

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
import ssl
import sys
import threading
from typing import Any

import pytest
import redis
from redis import exceptions as rx

from custom_components.vemonitor.redis_worker import (
    CannotConnect,
    InvalidAuth,
    InvalidCaCert,
    InvalidDatabase,
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

# The documented minimal ACL of a VE Monitor user (docs/user-guide.md, "No write permission").
MINIMAL_RULES = "resetkeys ~vemonitor:probe:* ~van* -@all +ping +hset +sadd +del"

# Audit events of file access; Home Assistant reports such calls made in its event loop.
_FILE_EVENTS = frozenset({"open", "os.listdir", "os.scandir"})
_file_recorders: dict[int, list[str]] = {}
_audit_hook_installed = False


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event in _FILE_EVENTS and (paths := _file_recorders.get(threading.get_ident())) is not None:
        paths.append(f"{event} {args[0]!r}")


@contextmanager
def files_touched_by_this_thread() -> Iterator[list[str]]:
    """The files this thread opens or lists meanwhile (a process-wide audit hook, installed once)."""
    global _audit_hook_installed  # noqa: PLW0603 - audit hooks cannot be removed: install one only
    if not _audit_hook_installed:
        sys.addaudithook(_audit)
        _audit_hook_installed = True
    paths: list[str] = []
    _file_recorders[threading.get_ident()] = paths
    try:
        yield paths
    finally:
        del _file_recorders[threading.get_ident()]


# The SSLContext methods Home Assistant reports as blocking calls in its event loop (block_async_io.py).
_SSL_LOADERS = ("load_default_certs", "load_verify_locations", "load_cert_chain", "set_default_verify_paths")


def watch_ssl_loading(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Record (method, thread id) of every call of the SSL context loaders, from now to the test's end."""
    calls: list[tuple[str, int]] = []

    def watched(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def record(context: ssl.SSLContext, *args: Any, **kwargs: Any) -> Any:
            calls.append((name, threading.get_ident()))
            return original(context, *args, **kwargs)

        return record

    for name in _SSL_LOADERS:
        monkeypatch.setattr(ssl.SSLContext, name, watched(name, getattr(ssl.SSLContext, name)))
    return calls


async def test_probe_ok_leaves_nothing(redis_server: RedisServer, reader: object) -> None:
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
        users=[AclUser("reader", "rpw", "~* +@read +ping"), AclUser("writer", "wpw", "~van* +@all")],
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


async def test_probe_tls_on_plain_port(make_server: MakeServer) -> None:
    """Told apart by a plain PING before any TLS attempt (which a plain Redis leaves hanging until the
    timeout): the server sees one connection only, and the probe does not wait for its timeout.
    """
    server = make_server(password=SECRET)
    admin = redis.Redis(server.host, server.port, password=SECRET)
    before = admin.info("stats")["total_connections_received"]
    with pytest.raises(TlsError, match="does not speak TLS"):
        await probe(RedisServerSettings(server.host, server.port, password=SECRET, tls=True, timeout=60))
    assert admin.info("stats")["total_connections_received"] == before + 1
    admin.close()


async def test_no_file_access_in_the_event_loop(settings: RedisServerSettings) -> None:
    """Creating clients and talking to Redis reads no file in the loop (redis-py would read its package
    metadata in every Redis() without our driver info: a "blocking call" warning in Home Assistant).
    """

    async def use_redis() -> None:
        connector = RedisConnector(settings)
        assert await connector.client.ping()
        await probe(settings)
        await connector.close()

    await use_redis()  # lazy imports of redis-py modules read their files once
    with files_touched_by_this_thread() as touched:
        await use_redis()
    assert touched == []


async def test_tls_context_built_off_the_event_loop(
    make_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With TLS, no SSL context loading (system CAs, the given CA) nor file access happens in the loop,
    and each connector loads its CA once, however many connections and pools it opens.
    """
    server = make_server(tls=True, password=SECRET)
    assert server.tls is not None
    verified = RedisServerSettings(
        server.host, server.port, password=SECRET, tls=True, ca_cert=server.tls.ca_pem, timeout=2
    )
    unverified = replace(verified, tls_verify=False, ca_cert=None)

    async def use_redis(settings: RedisServerSettings) -> None:
        await probe(settings)
        connector = await RedisConnector.create(settings)
        client = connector.client
        async with client.pipeline(transaction=False) as pipe:
            pipe.sadd("van", "bmv")
            pipe.hset("van_bmv", mapping={"1": "{}"})
            assert await pipe.execute() == [1, 1]
        assert await asyncio.gather(client.ping(), client.ping(), client.delete("van", "van_bmv"))
        await connector.close()
        assert await connector.client.ping()  # a new pool, the same context
        await connector.close()

    await use_redis(verified)  # lazy imports of redis-py and ssl modules read their files once
    loop_thread = threading.get_ident()
    ssl_calls = watch_ssl_loading(monkeypatch)
    with files_touched_by_this_thread() as touched:
        await use_redis(verified)
        await use_redis(unverified)
    assert touched == []
    assert [name for name, thread in ssl_calls if thread == loop_thread] == []
    # Built in worker threads: the CA once for the probe and once for the connector, nothing more.
    assert [name for name, _ in ssl_calls].count("load_verify_locations") == 2
    assert [name for name, _ in ssl_calls].count("load_default_certs") == 4


def test_tls_connector_needs_its_context() -> None:
    with pytest.raises(ValueError, match="create"):
        RedisConnector(RedisServerSettings("127.0.0.1", 1, tls=True))


BAD_CA_TEXTS = [
    "not a PEM",
    "\N{GRINNING FACE}",
    "\N{LATIN SMALL LETTER E WITH ACUTE}",
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
]


@pytest.mark.parametrize("ca_cert", BAD_CA_TEXTS)
async def test_probe_bad_ca_text(make_server: MakeServer, ca_cert: str) -> None:
    server = make_server(tls=True)
    assert server.tls is not None
    settings = RedisServerSettings(server.host, server.port, tls=True, ca_cert=ca_cert, timeout=2)
    with pytest.raises(InvalidCaCert):
        await probe(settings)
    with pytest.raises(InvalidCaCert):
        await probe(replace(settings, ca_cert=server.tls.key_file.read_text()))  # a key, no certificate
    with pytest.raises(InvalidCaCert):
        await RedisConnector.create(settings)  # what an entry's setup builds


async def test_probe_bad_ca_text_needs_no_server() -> None:
    """The CA is loaded before any connection: a server that is down does not hide a bad CA."""
    with pytest.raises(InvalidCaCert):
        await probe(RedisServerSettings("127.0.0.1", free_port(), tls=True, ca_cert="not a PEM", timeout=2))


@pytest.mark.parametrize("db", [16, -1])
async def test_probe_invalid_database(redis_server: RedisServer, db: int) -> None:
    """A default server has databases 0..15: the index is reported as such, not as a server error."""
    await probe(RedisServerSettings(redis_server.host, redis_server.port, db=15))
    with pytest.raises(InvalidDatabase, match="DB index is out of range"):
        await probe(RedisServerSettings(redis_server.host, redis_server.port, db=db))


# Hosts the resolver or the ssl module cannot even encode (issue 15: HTTP 500 with TLS on).
UNENCODABLE_HOSTS = [
    "a" * 10_000,
    "a" * 64 + ".x",
    ".",
    "a..b",
    "\u202e127.0.0.1",
    "127.0.0.1\x00x",
]


@pytest.mark.parametrize("tls", [False, True])
@pytest.mark.parametrize("host", UNENCODABLE_HOSTS)
async def test_probe_unencodable_host(redis_server: RedisServer, host: str, tls: bool) -> None:
    with pytest.raises(CannotConnect):
        await probe(RedisServerSettings(host, redis_server.port, tls=tls, timeout=2))


@pytest.mark.parametrize("tls", [False, True])
@pytest.mark.parametrize("port", [0, -1, 65_536, 2**70])
async def test_probe_impossible_port(redis_server: RedisServer, port: int, tls: bool) -> None:
    with pytest.raises(CannotConnect):
        await probe(RedisServerSettings(redis_server.host, port, tls=tls, timeout=2))


async def test_minimal_acl_user(make_server: MakeServer) -> None:
    """The documented rule is enough: no +@connection (no CLIENT SETNAME), no MULTI, no INFO."""
    server = make_server(
        users=[AclUser("vemonitor", "vpw", MINIMAL_RULES), AclUser("nodel", "npw", "~* +ping +hset +sadd")]
    )
    settings = RedisServerSettings(server.host, server.port, username="vemonitor", password="vpw")
    await probe(settings)
    connector = RedisConnector(settings)
    async with connector.client.pipeline(transaction=False) as pipe:
        pipe.sadd("van", "bmv")
        pipe.hset("van_bmv", mapping={"1": "{}"})
        assert await pipe.execute() == [1, 1]
    await connector.close()
    # Without DEL the probe cannot clean up after itself: refused, and nothing is left behind.
    with pytest.raises(NoWritePermission):
        await probe(RedisServerSettings(server.host, server.port, username="nodel", password="npw"))
    admin = redis.Redis(server.host, server.port, decode_responses=True)
    assert admin.keys("vemonitor:*") == []
    admin.close()


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
        (rx.ResponseError("DB index is out of range"), InvalidDatabase),
        (rx.ResponseError("ERR invalid DB index"), InvalidDatabase),
    ],
)
def test_classify(exc: Exception, expected: type[RedisWorkerError]) -> None:
    error = classify(exc, "h:1")
    assert type(error) is expected
    assert "h:1" in str(error)
    assert classify(error, "other") is error
