"""How to reach one Redis server of any kind, as plain values a config entry holds; its TLS context."""

from dataclasses import dataclass, field
import ssl
from typing import Any

from redis import __version__ as REDIS_PY_VERSION
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.driver_info import DriverInfo
from redis.exceptions import ConnectionError as RedisConnectionError

from .errors import InvalidCaCert
from .topology import CLUSTER, SENTINEL, SERVER_KINDS, SINGLE, ServerKind, format_address

DEFAULT_PORT = 6379
DEFAULT_SENTINEL_PORT = 26379
DEFAULT_TIMEOUT = 5.0

# Given to every client: without it redis-py reads its own package metadata (files) in each Redis(),
# which would be blocking I/O in Home Assistant's event loop. `redis.__version__` is a plain constant.
DRIVER_INFO = DriverInfo(lib_version=REDIS_PY_VERSION)


@dataclass(frozen=True, slots=True)
class RedisServerSettings:
    """How to reach one Redis server; plain values so a config entry can hold them.

    `kind` "single": `host`/`port` is the server. "sentinel": `nodes` are the sentinels, `service_name` the
    master they monitor, `sentinel_username`/`sentinel_password` their own credentials; username/password
    are the master's. "cluster": `nodes` are seed nodes (db 0 only). For those two, host/port only name the
    entry in messages. TLS applies to every connection of the kind, with the same settings.
    `ca_cert` is PEM text of the CA that signed the server certificate (None: the system CAs).
    `tls_verify=False` accepts any certificate (self-signed without a CA at hand). `wait_replicas`: replicas
    that must confirm each send (WAIT), None for automatic (1 when the master, every primary of a cluster,
    has a replica; else 0). Passwords are left out of repr/str and so of every log line and exception.
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
    kind: ServerKind = SINGLE
    nodes: tuple[tuple[str, int], ...] = ()
    service_name: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)
    wait_replicas: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in SERVER_KINDS:
            raise ValueError(f"kind must be one of {', '.join(SERVER_KINDS)}, not {self.kind!r}")
        object.__setattr__(self, "nodes", tuple((str(host), int(port)) for host, port in self.nodes))
        if self.kind != SINGLE and not self.nodes:
            raise ValueError(f"a {self.kind} server needs at least one node")
        if self.kind == SENTINEL and not self.service_name:
            raise ValueError("a sentinel server needs the master's service name")
        if self.kind == CLUSTER and self.db != 0:
            raise ValueError("a cluster has database 0 only")
        if self.wait_replicas is not None and self.wait_replicas < 0:
            raise ValueError("wait_replicas must be None (automatic) or >= 0")

    @property
    def address(self) -> str:
        """For messages: "host:port"; "<service> via sentinels h:p, h:p"; "cluster h:p, h:p"."""
        nodes = ", ".join(format_address(host, port) for host, port in self.nodes)
        if self.kind == SENTINEL:
            return f"{self.service_name} via sentinels {nodes}"
        if self.kind == CLUSTER:
            return f"cluster {nodes}"
        return format_address(self.host, self.port)

    def connection_kwargs(self) -> dict[str, Any]:
        """What every connection to a data node gets: credentials, database, timeouts, retry, driver info.

        One immediate retry on a connection error, on a new connection: a pooled connection the server
        closed (restart, CLIENT KILL, idle timeout) heals itself instead of failing one command. Every
        command we send is idempotent, so a repeated one writes nothing twice. Timeouts are not retried
        (an unreachable host would cost two timeouts); the output worker owns retrying beyond that, with
        its backoff and its lost/back reporting. No client name: CLIENT SETNAME needs +@connection in the
        ACL, and its refusal would look like a refused write.
        """
        return {
            "db": self.db,
            "username": self.username,
            "password": self.password,
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
            "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            "driver_info": DRIVER_INFO,
        }

    def pool_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for a redis.asyncio ConnectionPool of the single server (TLS aside)."""
        return {"host": self.host, "port": self.port} | self.connection_kwargs()

    def sentinel_kwargs(self, host: str, port: int) -> dict[str, Any]:
        """Keyword arguments for the ConnectionPool of one sentinel (its own credentials, no database)."""
        return self.connection_kwargs() | {
            "host": host,
            "port": port,
            "db": 0,
            "username": self.sentinel_username,
            "password": self.sentinel_password,
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
