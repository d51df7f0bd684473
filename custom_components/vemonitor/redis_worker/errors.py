"""The failures the Redis layer reports, and the one place that maps redis-py exceptions onto them.

The Home Assistant layer turns each class into a config-flow error key or a repair/reauth, so the classes
say what the user must fix, not what the library raised. Messages carry host:port and the server's words,
never a password (redis-py messages never echo the AUTH arguments).
"""

import ssl

from redis import exceptions as rx


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


AUTH_ERRORS: tuple[type[RedisWorkerError], ...] = (InvalidAuth, NoWritePermission)
"""Failures that need the user (new credentials or ACL rules): the HA layer starts a reauth flow."""

CONNECTION_ERRORS: tuple[type[RedisWorkerError], ...] = (
    CannotConnect,
    TlsError,
    InvalidAuth,
    InvalidCaCert,
    InvalidDatabase,
)
"""Failures that make the whole server unusable (a PING would fail too). The others (NOPERM, READONLY,
WRONGTYPE, OOM...) concern what one output writes: the server itself still answers.
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
    """Map a redis-py (or OS) exception to our class; `where` is "host:port" for the message."""
    if isinstance(exc, RedisWorkerError):
        return exc
    reason = str(exc) or type(exc).__name__
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
    if isinstance(exc, rx.ConnectionError | rx.TimeoutError | OSError | TimeoutError):
        return CannotConnect(f"Cannot reach Redis {where}: {reason}")
    if isinstance(exc, rx.ResponseError) and reason.startswith("NOAUTH"):
        return InvalidAuth(f"Redis {where} wants authentication: {reason}")
    if isinstance(exc, rx.ResponseError) and any(words in reason for words in _DB_INDEX_ERRORS):
        return InvalidDatabase(f"Redis {where} has no such database: {reason}")
    return ServerError(f"Redis {where} error: {reason}")
