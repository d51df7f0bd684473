"""appConnectors: the settings of one Redis server, its shared client, and the config-flow probe."""

from dataclasses import dataclass, field
import secrets
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .errors import CannotConnect, TlsError, classify

DEFAULT_PORT = 6379
DEFAULT_TIMEOUT = 5.0


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

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for redis.asyncio.Redis.

        redis-py's own retries are off (retries=0): the output worker owns retrying, with its backoff and
        its lost/back reporting, and the probe must answer quickly.
        """
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "db": self.db,
            "username": self.username,
            "password": self.password,
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
            "retry": Retry(NoBackoff(), 0),
            "client_name": "vemonitor",
        }
        if self.tls:
            kwargs |= {
                "ssl": True,
                "ssl_cert_reqs": "required" if self.tls_verify else "none",
                "ssl_check_hostname": self.tls_verify,
                "ssl_ca_data": self.ca_cert if self.tls_verify else None,
            }
        return kwargs


class RedisConnector:
    """One connection pool per Redis server, shared by every output writing to it."""

    def __init__(self, settings: RedisServerSettings) -> None:
        self.settings = settings
        self._client: Redis | None = None

    def __repr__(self) -> str:
        return f"RedisConnector({self.settings!r})"

    @property
    def client(self) -> Redis:
        """The shared client (created on first use; connections are opened lazily by the pool)."""
        if self._client is None:
            self._client = Redis(**self.settings.client_kwargs())
        return self._client

    async def close(self) -> None:
        """Close the pool; a later use of `client` opens a new one."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


async def probe(settings: RedisServerSettings, *, key_prefix: str = "vemonitor") -> None:
    """Connect, authenticate, PING, and prove the user may write; raise a RedisWorkerError subclass if not.

    The write check is one MULTI/EXEC: HSET and SADD on two fresh random keys under `key_prefix` (give the
    output's redis_node when the ACL restricts key patterns), then DEL of both. Redis checks ACLs and
    READONLY when it queues each command, so a refused write aborts the whole transaction; an accepted one
    deletes its own keys atomically: nothing is left behind, on any Redis from 6.0 (ACL) and older.
    """
    connector = RedisConnector(settings)
    token = secrets.token_hex(8)
    hash_key, set_key = f"{key_prefix}:probe:{token}:h", f"{key_prefix}:probe:{token}:s"
    try:
        client = connector.client
        await client.ping()
        async with client.pipeline(transaction=True) as pipe:
            pipe.hset(hash_key, "probe", "1")
            pipe.sadd(set_key, "probe")
            pipe.delete(hash_key, set_key)
            await pipe.execute()
    except Exception as exc:
        error = classify(exc, settings.address)
        if isinstance(error, CannotConnect) and settings.tls and await _speaks_plain_redis(settings):
            error = TlsError(f"Redis {settings.address} does not speak TLS (plain Redis answered)")
        raise error from None
    finally:
        await connector.close()


async def _speaks_plain_redis(settings: RedisServerSettings) -> bool:
    """Whether a plain (non-TLS) Redis answers on the address: tells a TLS-on-plain-port mistake apart.

    A plain Redis reads a TLS ClientHello as an unfinished inline command and just waits, so the TLS
    attempt ends in a timeout that looks like an unreachable host.
    """
    plain = RedisConnector(
        RedisServerSettings(settings.host, settings.port, db=settings.db, timeout=settings.timeout)
    )
    try:
        await plain.client.ping()
    except Exception as exc:
        return not isinstance(classify(exc, settings.address), CannotConnect | TlsError)
    finally:
        await plain.close()
    return True
