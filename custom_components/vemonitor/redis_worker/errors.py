"""The failures the Redis layer reports, and the one place that maps redis-py exceptions onto them.

The Home Assistant layer turns each class into a config-flow error key or a repair/reauth, so the classes
say what the user must fix, not what the library raised. Messages carry host:port and the server's words,
never a password (redis-py messages never echo the AUTH arguments).
"""

import ssl
from typing import Literal

from redis import exceptions as rx
from redis.asyncio.sentinel import MasterNotFoundError


class RedisWorkerError(Exception):
    """Base class of every failure reported by redis_worker."""


class CannotConnect(RedisWorkerError):
    """The server is unreachable, timed out, closed the link or is still loading its data."""


class InvalidAuth(RedisWorkerError):
    """The server refused the username/password (or wants one we did not give)."""


class NoWritePermission(RedisWorkerError):
    """Authenticated, but the ACL user may not run the write commands on the keys we use."""


class ReadOnlyServer(RedisWorkerError):
    """The server is a read-only replica (READONLY): writes go to its primary."""


class TlsError(RedisWorkerError):
    """TLS failed: certificate not trusted/valid for the host, or no TLS on the other side."""


class InvalidCaCert(RedisWorkerError):
    """The CA certificate text is nothing OpenSSL can load (found before any connection is tried)."""


class InvalidDatabase(RedisWorkerError):
    """The server has no database of that index (SELECT: "DB index is out of range"; 16 by default)."""


class ServerError(RedisWorkerError):
    """Any other error reply (out of memory, a key of the wrong type...)."""


class NoSentinel(CannotConnect):
    """None of the sentinels answered (down, wrong address or port)."""


class InvalidSentinelAuth(InvalidAuth):
    """A sentinel refused the sentinel username/password (its own requirepass, not the master's)."""


class UnknownService(RedisWorkerError):
    """The sentinels answered, but none of them monitors a master of that service name."""


class NoMaster(CannotConnect):
    """The sentinels know the service but name no usable master (it is down, a failover is under way)."""


class NotASentinel(RedisWorkerError):
    """A sentinel address is a plain Redis or a cluster node: it does not know the SENTINEL command."""


class ClusterDown(CannotConnect):
    """The cluster does not serve every slot (cluster_state:fail, a shard without any node left)."""


class NotACluster(RedisWorkerError):
    """The node answers but has cluster support disabled (a plain Redis or a sentinel)."""


class WrongKind(RedisWorkerError):
    """A single-server entry points at a sentinel or a cluster node: `found` says which."""

    def __init__(self, message: str, found: Literal["sentinel", "cluster"]) -> None:
        super().__init__(message)
        self.found: Literal["sentinel", "cluster"] = found


class ReplicasBehind(RedisWorkerError):
    """Fewer replicas than asked confirmed a write in time (WAIT): the chunk stays and is sent again."""


AUTH_ERRORS: tuple[type[RedisWorkerError], ...] = (InvalidAuth, NoWritePermission)
"""Failures that need the user (new credentials or ACL rules): the HA layer starts a reauth flow."""

CONNECTION_ERRORS: tuple[type[RedisWorkerError], ...] = (
    CannotConnect,
    TlsError,
    InvalidAuth,
    InvalidCaCert,
    InvalidDatabase,
    UnknownService,
    NotASentinel,
    NotACluster,
    WrongKind,
)
"""Failures that make the whole server unusable (a PING would fail too). The others (NOPERM, READONLY,
WRONGTYPE, OOM, too few replicas...) concern what one output writes: the server itself still answers.
"""

# How Redis (and Valkey) refuse the SELECT of a database they do not have: an index beyond `databases`, or a
# negative one (redis-py drops the "ERR " prefix).
_DB_INDEX_ERRORS = ("DB index is out of range", "invalid DB index")


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    """The ssl error a redis-py ConnectionError wraps (as __cause__ or __context__), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def classify(exc: BaseException, where: str) -> RedisWorkerError:
    """Map a redis-py (or OS) exception to our class; `where` is the server's address, for the message."""
    if isinstance(exc, RedisWorkerError):
        return exc
    reason = str(exc) or type(exc).__name__
    if (cluster := _classify_cluster(exc, where, reason)) is not None:
        return cluster
    # Order matters: AuthenticationError and BusyLoadingError are ConnectionErrors, NoPermissionError and
    # AuthenticationWrongNumberOfArgsError are ResponseErrors.
    if isinstance(
        exc, rx.AuthenticationError | rx.AuthenticationWrongNumberOfArgsError | rx.AuthorizationError
    ):
        return InvalidAuth(f"Redis {where} refused the credentials: {reason}")
    if isinstance(exc, rx.NoPermissionError):
        return NoWritePermission(f"Redis {where}: the user may not write: {reason}")
    if isinstance(exc, rx.ReadOnlyError):
        return ReadOnlyServer(f"Redis {where} is a read-only replica: {reason}")
    if (tls := _ssl_cause(exc)) is not None:
        return TlsError(f"TLS with Redis {where} failed: {tls.reason or tls}")
    if isinstance(exc, MasterNotFoundError):
        return NoMaster(f"Redis {where}: no usable master: {reason}")
    if isinstance(exc, rx.MasterDownError):
        return CannotConnect(f"Redis {where} lost its master: {reason}")
    if isinstance(exc, rx.ConnectionError | rx.TimeoutError | OSError | TimeoutError):
        return CannotConnect(f"Cannot reach Redis {where}: {reason}")
    if isinstance(exc, rx.ResponseError) and reason.startswith("NOAUTH"):
        return InvalidAuth(f"Redis {where} wants authentication: {reason}")
    if isinstance(exc, rx.ResponseError) and any(words in reason for words in _DB_INDEX_ERRORS):
        return InvalidDatabase(f"Redis {where} has no such database: {reason}")
    return ServerError(f"Redis {where} error: {reason}")


# What redis-py's RedisCluster says, in its own words, when it cannot build its slot map.
_NOT_COVERED = ("All slots are not covered", "could not agree on a valid slots cache")
_NOT_A_CLUSTER = "Cluster mode is not enabled"


def _classify_cluster(exc: BaseException, where: str, reason: str) -> RedisWorkerError | None:
    """The classes of the cluster's failures (redis-py raises its own exceptions, wrapping the cause)."""
    if isinstance(exc, rx.MasterDownError):
        return None
    if isinstance(exc, rx.ClusterDownError | rx.SlotNotCoveredError | rx.ClusterError):
        return ClusterDown(f"Redis {where} is down: {reason}")
    if isinstance(exc, rx.AskError):  # MOVED or ASK: a cluster node, not the single server it was taken for
        return WrongKind(f"Redis {where} is a cluster node ({reason})", "cluster")
    if not isinstance(exc, rx.RedisClusterException):
        return None
    if any(words in reason for words in _NOT_COVERED):
        return ClusterDown(f"Redis {where} does not serve every slot: {reason}")
    if _NOT_A_CLUSTER in reason:
        return NotACluster(f"Redis {where} is not a cluster node: {reason}")
    if exc.__cause__ is not None:  # "Redis Cluster cannot be connected ...": what the last node said
        return classify(exc.__cause__, where)
    return ServerError(f"Redis {where} error: {reason}")
