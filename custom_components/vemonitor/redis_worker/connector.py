"""appConnectors: the settings of one Redis server, its shared client, and the config-flow probe."""

import asyncio
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
import logging
import re
import secrets
import ssl
from typing import Any, Self

from redis import __version__ as REDIS_PY_VERSION
from redis.asyncio import ConnectionPool, Redis, SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.driver_info import DriverInfo
from redis.exceptions import ConnectionError as RedisConnectionError, NoPermissionError

from .errors import CannotConnect, InvalidCaCert, TlsError, classify
from .structures.base import EXPIRY_MODES, ExpiryMode

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT = 6379
DEFAULT_TIMEOUT = 5.0

# Given to every client: without it redis-py reads its own package metadata (files) in each Redis(),
# which would be blocking I/O in Home Assistant's event loop. `redis.__version__` is a plain constant.
_DRIVER_INFO = DriverInfo(lib_version=REDIS_PY_VERSION)


@dataclass(frozen=True, slots=True)
class RedisServerSettings:
    """How to reach one Redis server; plain values so a config entry can hold them.

    `ca_cert` is PEM text of the CA that signed the server certificate (None: the system CAs).
    `tls_verify=False` accepts any certificate (self-signed without a CA at hand). The password is
    left out of repr/str and so of every log line and exception built from these settings.
    """

    host: str
    port: int = DEFAULT_PORT
    password: str | None = field(default=None, repr=False)
    username: str | None = None
    db: int = 0
    tls: bool = False
    tls_verify: bool = True
    ca_cert: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def address(self) -> str:
        """host:port, for messages."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def pool_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for a redis.asyncio ConnectionPool (the TLS context aside: `tls_context`).

        One immediate retry on a connection error, on a new connection: a pooled connection the server
        closed (restart, CLIENT KILL, idle timeout) heals itself instead of failing one command. Every
        command we send is idempotent, so a repeated one writes nothing twice. Timeouts are not retried
        (an unreachable host would cost two timeouts); the output worker owns retrying beyond that, with
        its backoff and its lost/back reporting. No client name: CLIENT SETNAME needs +@connection in the
        ACL, and its refusal would look like a refused write.
        """
        return {
            "host": self.host,
            "port": self.port,
            "db": self.db,
            "username": self.username,
            "password": self.password,
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
            "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            "driver_info": _DRIVER_INFO,
        }


def tls_context(settings: RedisServerSettings) -> ssl.SSLContext:
    """The TLS context of `settings`, the one redis-py would build from the same options.

    tls_verify: certificate and host name checked against the system CAs plus `ca_cert`; otherwise
    nothing is checked. Blocking (it reads the CA store and parses certificates): call it in a worker
    thread, never in the event loop, where Home Assistant reports it as a blocking call.
    InvalidCaCert if OpenSSL cannot load `ca_cert` (not PEM, not a certificate, not ASCII).
    """
    context = ssl.create_default_context()
    context.check_hostname = settings.tls_verify
    context.verify_mode = ssl.CERT_REQUIRED if settings.tls_verify else ssl.CERT_NONE
    if settings.tls_verify and settings.ca_cert:
        try:
            context.load_verify_locations(cadata=settings.ca_cert)
        except (ssl.SSLError, ValueError, TypeError) as err:  # TypeError: a text that is not ASCII
            raise InvalidCaCert(f"Redis {settings.address}: the CA certificate is unusable: {err}") from None
    return context


class _PrebuiltTlsConnection(SSLConnection):
    """redis-py's TLS connection with a context built beforehand, off the event loop.

    redis-py would build one per connection, lazily inside its connect, in the event loop. Ours is built
    once per connector and shared by its connections (an SSLContext is meant to be shared).
    """

    def __init__(self, *, tls_context: ssl.SSLContext, **kwargs: Any) -> None:
        super().__init__(
            ssl_cert_reqs=tls_context.verify_mode, ssl_check_hostname=tls_context.check_hostname, **kwargs
        )
        self.ssl_context.context = tls_context  # what RedisSSLContext.get() returns instead of building one


class RedisConnector:
    """One connection pool per Redis server, shared by every output writing to it.

    A TLS server needs its TLS context: get the connector from `await RedisConnector.create(settings)`,
    which builds it in a worker thread.
    """

    def __init__(self, settings: RedisServerSettings, tls_context: ssl.SSLContext | None = None) -> None:
        if settings.tls and tls_context is None:
            raise ValueError("a TLS connector needs its TLS context: use await RedisConnector.create()")
        self.settings = settings
        self._tls_context = tls_context if settings.tls else None
        self._client: Redis | None = None
        self._expiry_mode: ExpiryMode | None = None

    @classmethod
    async def create(cls, settings: RedisServerSettings) -> Self:
        """The connector of `settings`, its TLS context (if any) built off the event loop."""
        return cls(settings, await asyncio.to_thread(tls_context, settings) if settings.tls else None)

    def __repr__(self) -> str:
        return f"RedisConnector({self.settings!r})"

    @property
    def client(self) -> Redis:
        """The shared client (created on first use; connections are opened lazily by the pool)."""
        if self._client is None:
            kwargs = self.settings.pool_kwargs()
            if self._tls_context is None:
                pool = ConnectionPool(**kwargs)
            else:
                pool = ConnectionPool(
                    connection_class=_PrebuiltTlsConnection, tls_context=self._tls_context, **kwargs
                )
            self._client = Redis(connection_pool=pool)
        return self._client

    async def expiry_mode(self) -> ExpiryMode:
        """How this server expires hash fields, asked once per connection pool (`INFO server`).

        An ACL user refused INFO gets "hdel", which works on every server.
        """
        if self._expiry_mode is None:
            try:
                info = await self.client.info("server")
            except NoPermissionError:
                address = self.settings.address
                _LOGGER.warning("Redis %s: INFO refused by the ACL; old fields go with HDEL", address)
                self._expiry_mode = "hdel"
            else:
                self._expiry_mode = expiry_mode_of(info)
        return self._expiry_mode

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

    async def close(self) -> None:
        """Close the pool; a later use of `client` opens a new one (with the same TLS context)."""
        client, self._client = self._client, None
        self._expiry_mode = None
        if client is not None:
            await client.aclose(close_connection_pool=True)


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


async def probe(settings: RedisServerSettings, *, key_prefix: str = "vemonitor") -> None:
    """Connect, authenticate, PING, and prove the user may write; raise a RedisWorkerError subclass if not.

    The write check: DEL of two fresh random keys under `key_prefix` (give the output's redis_node when the
    ACL restricts key patterns), a no-op proving the cleanup will be allowed; then one pipelined round
    trip of HSET and SADD on them and DEL of both, which Redis runs even when a command before it was
    refused: nothing is left behind. It needs the commands a default output uses (HSET, SADD) plus PING
    and DEL, nothing more (no MULTI, no CLIENT). Outputs may need more, which the probe does not check:
    XADD (Stream), and with a retention INFO (else HDEL is used) and HSETEX, HSET + HEXPIREAT or HDEL
    by server version (HmapTimeSeries), XTRIM (Stream).
    With TLS, the CA certificate is loaded first (InvalidCaCert without any connection), then a plain Redis
    on the port is detected (see `_plain_redis_answers`). Whatever fails, the probe raises a
    RedisWorkerError, never another exception: a config flow shows each as a form error.
    """
    try:
        await _probe(settings, key_prefix)
    except Exception as exc:
        raise classify(exc, settings.address) from None


async def _probe(settings: RedisServerSettings, key_prefix: str) -> None:
    connector = await RedisConnector.create(settings)  # the TLS context first: a bad CA needs no server
    token = secrets.token_hex(8)
    hash_key, set_key = f"{key_prefix}:probe:{token}:h", f"{key_prefix}:probe:{token}:s"
    try:
        if settings.tls and await _plain_redis_answers(settings):
            raise TlsError(f"Redis {settings.address} does not speak TLS (plain Redis answered)")
        client = connector.client
        await client.ping()
        await client.delete(hash_key, set_key)
        async with client.pipeline(transaction=False) as pipe:
            pipe.hset(hash_key, "probe", "1")
            pipe.sadd(set_key, "probe")
            pipe.delete(hash_key, set_key)
            await pipe.execute()
    finally:
        await connector.close()


async def _plain_redis_answers(settings: RedisServerSettings) -> bool:
    """Whether a plain (non-TLS) Redis answers an inline PING on the address; CannotConnect if no TCP.

    Asked before a TLS attempt: a plain Redis reads a TLS ClientHello as an unfinished inline command and
    waits, so the TLS attempt would only end with the timeout and look like an unreachable host. A TLS
    server drops the plain PING at once (nothing secret is sent: no AUTH).
    Any failure to open the connection is CannotConnect: beyond OSError and TimeoutError, a host the resolver
    cannot encode raises UnicodeError (a label over 63 characters, an empty one, U+202E), ValueError (NUL)
    and a port beyond 65535 OverflowError (redis-py's connect wraps the same failures in ConnectionError).
    """
    try:
        async with asyncio.timeout(settings.timeout):
            reader, writer = await asyncio.open_connection(settings.host, settings.port)
    except Exception as exc:
        raise CannotConnect(f"Cannot reach Redis {settings.address}: {exc or type(exc).__name__}") from None
    try:
        async with asyncio.timeout(settings.timeout):
            writer.write(b"PING\r\n")
            await writer.drain()
            reply = await reader.read(64)
    except OSError, TimeoutError:
        return False
    finally:
        writer.close()
        with suppress(OSError):
            await writer.wait_closed()
    # "+PONG", or an error reply such as "-NOAUTH Authentication required.": plain RESP either way.
    return reply[:1] in (b"+", b"-")
