"""The config-flow probe: can VE Monitor write to this server, and if not, what must the user fix."""

import asyncio
from contextlib import suppress
import secrets
from typing import Any, cast

from redis import exceptions as rx
from redis.asyncio.cluster import RedisCluster

from .connector import RedisConnector, RedisServerSettings
from .errors import CannotConnect, NoSentinel, TlsError, WrongKind, classify
from .topology import CLUSTER, SENTINEL, SINGLE, ServerInfo, format_address, sentinel_master


async def probe(settings: RedisServerSettings, *, key_prefix: str = "vemonitor") -> ServerInfo:
    """Connect, authenticate, PING, and prove the user may write; raise a RedisWorkerError subclass if not.

    Per kind: a single server must be one (INFO's redis_mode: WrongKind for a sentinel or a cluster node);
    the sentinels must answer and name a usable master of the service (NoSentinel, InvalidSentinelAuth,
    UnknownService, NoMaster, NotASentinel), which is then probed like a single server; a cluster must
    answer and serve every slot (NotACluster, ClusterDown).
    The write check: DEL of two fresh random keys under `key_prefix` (give the output's redis_node when the
    ACL restricts key patterns), a no-op proving the cleanup will be allowed; then one pipelined round
    trip of HSET and SADD on them and DEL of both, which Redis runs even when a command before it was
    refused: nothing is left behind. It needs the commands a default output uses (HSET, SADD) plus PING
    and DEL, nothing more (no MULTI, no CLIENT). Outputs may need more, which the probe does not check:
    XADD (Stream), and with a retention INFO (else HDEL is used) and HSETEX, HSET + HEXPIREAT or HDEL
    by server version (HmapTimeSeries), XTRIM (Stream). WAIT is checked when the settings ask for
    replicas (an automatic WAIT the ACL refuses only stops waiting: see RedisConnector.send).
    With TLS, the CA certificate is loaded first (InvalidCaCert without any connection), then a plain Redis
    on each address is detected (see `_plain_redis_answers`). Whatever fails, the probe raises a
    RedisWorkerError, never another exception: a config flow shows each as a form error.
    """
    try:
        return await _probe(settings, key_prefix)
    except Exception as exc:
        raise classify(exc, settings.address) from None


async def _probe(settings: RedisServerSettings, key_prefix: str) -> ServerInfo:
    connector = await RedisConnector.create(settings)  # the TLS context first: a bad CA needs no server
    try:
        if settings.kind == CLUSTER:
            if settings.tls:
                await _refuse_plain(settings, settings.nodes, CannotConnect)
            client: Any = await connector.client.initialize()
        else:
            if settings.kind == SENTINEL:
                if settings.tls:
                    await _refuse_plain(settings, settings.nodes, NoSentinel)
                service = cast(str, settings.service_name)
                master = await sentinel_master(connector.sentinels, service, settings.address)
            else:
                master = (settings.host, settings.port)
            if settings.tls:
                await _refuse_plain(settings, [master], CannotConnect)
            client = connector.client
            await client.ping()
        version = await _version(client, settings)
        topology = await connector.topology()  # a cluster: cluster_state:ok, before writes to a failed shard
        await _write_check(client, key_prefix, wait=bool(settings.wait_replicas))
        return ServerInfo(version, topology.replicas or 0, topology)
    finally:
        await connector.close()


async def _version(client: Any, settings: RedisServerSettings) -> str | None:
    """The server version from INFO server (None when refused); WrongKind for a single server that is not."""
    try:
        info = await client.info("server")
    except rx.NoPermissionError:
        return None
    mode = info.get("redis_mode")
    if settings.kind == SINGLE and mode in (SENTINEL, CLUSTER):
        raise WrongKind(f"Redis {settings.address} is a {mode} node, not a single server", mode)
    version = info.get("valkey_version", info.get("redis_version"))
    return None if version is None else str(version)


async def _write_check(client: Any, key_prefix: str, *, wait: bool) -> None:
    token = secrets.token_hex(8)
    hash_key, set_key = f"{key_prefix}:probe:{token}:h", f"{key_prefix}:probe:{token}:s"
    async with client.pipeline(transaction=False) as pipe:
        pipe.execute_command("DEL", hash_key)
        pipe.execute_command("DEL", set_key)
        await _execute(pipe)
    async with client.pipeline(transaction=False) as pipe:
        pipe.hset(hash_key, "probe", "1")
        pipe.sadd(set_key, "probe")
        pipe.execute_command("DEL", hash_key)
        pipe.execute_command("DEL", set_key)
        await _execute(pipe)
    if wait:
        # WAIT for no replica, answered at once: the ACL allows the WAIT each send then needs (a cluster
        # routes it to a node: the shard of the probe's key).
        cluster = isinstance(client, RedisCluster)
        target = {"target_nodes": client.get_node_from_key(hash_key)} if cluster else {}
        await client.execute_command("WAIT", 0, 0, **target)


async def _execute(pipe: Any) -> None:
    """Run the pipeline to its end, then raise its first error (the cleanup ran even after a refusal)."""
    for reply in await pipe.execute(raise_on_error=False):
        if isinstance(reply, Exception):
            raise reply


async def _refuse_plain(
    settings: RedisServerSettings, addresses: Any, unreachable: type[CannotConnect]
) -> None:
    """TlsError if a plain Redis answers on one of `addresses`; `unreachable` if none can be reached."""
    answers = await asyncio.gather(
        *(_plain_redis_answers(host, port, settings.timeout) for host, port in addresses),
        return_exceptions=True,
    )
    for (host, port), answer in zip(addresses, answers, strict=True):
        if answer is True:
            raise TlsError(f"Redis {format_address(host, port)} does not speak TLS (plain Redis answered)")
    if all(isinstance(answer, BaseException) for answer in answers):
        raise unreachable(str(answers[0]))


async def _plain_redis_answers(host: str, port: int, seconds: float) -> bool:
    """Whether a plain (non-TLS) Redis answers an inline PING on the address; CannotConnect if no TCP.

    Asked before a TLS attempt: a plain Redis reads a TLS ClientHello as an unfinished inline command and
    waits, so the TLS attempt would only end with the timeout and look like an unreachable host. A TLS
    server drops the plain PING at once (nothing secret is sent: no AUTH).
    Any failure to open the connection is CannotConnect: beyond OSError and TimeoutError, a host the resolver
    cannot encode raises UnicodeError (a label over 63 characters, an empty one, U+202E), ValueError (NUL)
    and a port beyond 65535 OverflowError (redis-py's connect wraps the same failures in ConnectionError).
    """
    try:
        async with asyncio.timeout(seconds):
            reader, writer = await asyncio.open_connection(host, port)
    except Exception as exc:
        address = format_address(host, port)
        raise CannotConnect(f"Cannot reach Redis {address}: {exc or type(exc).__name__}") from None
    try:
        async with asyncio.timeout(seconds):
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
