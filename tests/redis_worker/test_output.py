"""OutputWorker against real servers that go away, come back, refuse, or restart; and its spool."""

import asyncio
from collections.abc import Callable
from pathlib import Path
import subprocess
import sys
from typing import Any

import pytest
import redis

from custom_components.vemonitor.redis_worker import (
    CannotConnect,
    InvalidAuth,
    NoWritePermission,
    OutputSettings,
    OutputWorker,
    ReadOnlyServer,
    RedisConnector,
    RedisServerSettings,
    RedisWorkerError,
    Sample,
    ServerError,
)
from custom_components.vemonitor.redis_worker.spool import MAGIC
from tests.redis_server import AclUser, RedisServer, free_port

from .hard_kill_child import SPOOLED, UNSPOOLED

COLUMNS = {"bmv700": ["V", "I", "SOC"]}
HASH = "bat_bmv700_bmv700"
WAIT = 30  # safety net only: every wait below ends on an event


class Recorder:
    """Collects every callback of a worker, with events to wait on."""

    def __init__(self) -> None:
        self.lost: list[RedisWorkerError] = []
        self.back = 0
        self.auth: list[RedisWorkerError] = []
        self.dropped: list[int] = []
        self.changes = 0
        self.lost_event = asyncio.Event()
        self.back_event = asyncio.Event()
        self.changed = asyncio.Event()

    def kwargs(self) -> dict[str, Any]:
        return {
            "on_lost": self.on_lost,
            "on_back": self.on_back,
            "on_auth_failed": self.auth.append,
            "on_dropped": self.dropped.append,
        }

    def on_lost(self, error: RedisWorkerError) -> None:
        self.lost.append(error)
        self.lost_event.set()

    def on_back(self) -> None:
        self.back += 1
        self.back_event.set()

    def on_change(self) -> None:
        self.changes += 1
        self.changed.set()


def sample(ts: int) -> Sample:
    return Sample(ts, {"V": 12.0 + ts / 1000, "I": -ts / 100, "SOC": 80.5})


def expected(ts: int) -> str:
    return f'{{"V": {12.0 + ts / 1000}, "I": {-ts / 100}, "SOC": 80.5}}'


def make_worker(
    server: RedisServer | int,
    recorder: Recorder | None = None,
    spool: Path | None = None,
    connector: RedisConnector | None = None,
    **kwargs: Any,
) -> tuple[OutputWorker, RedisConnector]:
    """A worker with test-sized intervals on `server` (or a bare port)."""
    port = server if isinstance(server, int) else server.port
    connector = connector or RedisConnector(RedisServerSettings("127.0.0.1", port, timeout=2))
    options: dict[str, Any] = {
        "redis_node": "bat_bmv700",
        "columns": COLUMNS,
        "time_interval": 0.01,
        "cache_interval": 2,
        "retry_initial": 0.01,
        "retry_max": 0.05,
    } | kwargs
    worker = OutputWorker(
        lambda: connector,
        OutputSettings(**options),
        spool_path=spool,
        **(recorder.kwargs() if recorder else {}),
    )
    if recorder:
        worker.add_listener(recorder.on_change)
    return worker, connector


def plain_client(server: RedisServer) -> redis.Redis:
    return redis.Redis(server.host, server.port, decode_responses=True)


async def wait_until(recorder: Recorder, condition: Callable[[], bool]) -> None:
    """Wait for listener notifications until `condition` holds."""
    async with asyncio.timeout(WAIT):
        while not condition():
            recorder.changed.clear()
            await recorder.changed.wait()


async def test_sends_on_schedule(redis_server: RedisServer, reader: redis.Redis) -> None:
    recorder = Recorder()
    worker, connector = make_worker(redis_server, recorder)
    await worker.start()
    await worker.start()  # idempotent
    for ts in range(1, 21):
        worker.add(sample(ts))
    await wait_until(recorder, lambda: worker.written_samples == 20)
    await worker.stop()
    await connector.close()
    assert reader.hgetall(HASH) == {str(ts): expected(ts) for ts in range(1, 21)}
    state = worker.state
    assert state.connected
    assert state.pending_samples == state.dropped_samples == 0
    assert state.last_successful_write is not None
    assert worker.last_successful_write == state.last_successful_write
    assert state.last_successful_write.tzinfo is not None
    assert recorder.lost == []
    assert recorder.back == 0


async def test_outage_and_recovery_loses_nothing(
    make_server: Callable[..., RedisServer], tmp_path: Path
) -> None:
    server = make_server()
    recorder = Recorder()
    worker, connector = make_worker(server, recorder, spool=tmp_path / "spool")
    await worker.start()
    for ts in range(1, 51):
        worker.add(sample(ts))
    await wait_until(recorder, lambda: worker.written_samples == 50)
    server.stop()
    for ts in range(51, 101):
        worker.add(sample(ts))
    async with asyncio.timeout(WAIT):
        await recorder.lost_event.wait()
    assert isinstance(recorder.lost[0], CannotConnect)
    assert not worker.connected
    assert isinstance(worker.last_error, CannotConnect)
    # Let a few retries (and spool ticks) pass while down: still one "lost".
    await wait_until(recorder, lambda: recorder.changes >= 8)
    assert list((tmp_path / "spool").glob("*.seg"))
    for ts in range(101, 151):
        worker.add(sample(ts))
    server.start()
    async with asyncio.timeout(WAIT):
        await recorder.back_event.wait()
    for ts in range(151, 161):
        worker.add(sample(ts))
    await wait_until(recorder, lambda: worker.pending_samples == 0 and worker.written_samples >= 160)
    await worker.stop()
    await connector.close()
    client = plain_client(server)
    assert client.hlen(HASH) == 160
    assert client.hgetall(HASH) == {str(ts): expected(ts) for ts in range(1, 161)}
    client.close()
    assert len(recorder.lost) == 1
    assert recorder.back == 1
    assert worker.state.connected
    assert worker.dropped_samples == 0
    assert not list((tmp_path / "spool").glob("*.seg"))  # delivered segments are deleted


async def test_restart_while_redis_down(make_server: Callable[..., RedisServer], tmp_path: Path) -> None:
    server = make_server()
    server.stop()
    spool = tmp_path / "spool"
    first, connector = make_worker(server, spool=spool, time_interval=3600, backlog_limit=10_000)
    await first.start()
    for ts in range(1, 301):
        first.add(sample(ts))
    assert not await first.flush()
    for ts in range(301, 401):
        first.add(sample(ts))
    await first.stop()  # last attempt fails: the rest goes to the spool
    assert first.pending_samples == 400
    await first.start()  # a restart of the same worker does not read its spool twice
    assert first.pending_samples == 400
    await first.stop()
    second, _ = make_worker(
        server, spool=spool, connector=connector, time_interval=3600, backlog_limit=10_000
    )
    second.add(sample(401))  # taken before start(): not on disk yet
    await second.start()
    assert second.pending_samples == 401
    await second.stop()  # 401 reaches the spool too
    third, _ = make_worker(server, spool=spool, connector=connector, time_interval=3600, backlog_limit=10_000)
    await third.start()
    assert third.pending_samples >= 401  # reloaded rows may be on disk twice: HSET makes that harmless
    third.add(sample(402))
    server.start()
    assert await third.flush()
    await third.stop()
    await connector.close()
    client = plain_client(server)
    assert client.hgetall(HASH) == {str(ts): expected(ts) for ts in range(1, 403)}
    client.close()
    assert not list(spool.glob("*.seg"))


async def test_hard_kill_loses_at_most_the_unspooled_tick(
    make_server: Callable[..., RedisServer], tmp_path: Path
) -> None:
    server = make_server()
    server.stop()
    spool = tmp_path / "spool"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.redis_worker.hard_kill_child", str(spool), str(server.port)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    child.kill()  # SIGKILL: no stop(), no flush, no atexit
    child.wait()
    child.stdout.close()
    worker, connector = make_worker(server, spool=spool, redis_node="hk", columns={"n": ["V"]})
    await worker.start()
    server.start()
    assert await worker.flush()
    await worker.stop()
    await connector.close()
    client = plain_client(server)
    stored = client.hgetall("hk_n")
    client.close()
    assert stored == {str(ts): f'{{"V": {ts}}}' for ts in range(1, SPOOLED + 1)}
    # Lost: only the samples taken since the last spool tick (the stated bound), nothing else.
    missing = set(range(1, SPOOLED + UNSPOOLED + 1)) - {int(ts) for ts in stored}
    assert missing == set(range(SPOOLED + 1, SPOOLED + UNSPOOLED + 1))


async def test_backlog_limit_drops_oldest(tmp_path: Path) -> None:
    recorder = Recorder()
    worker, connector = make_worker(free_port(), recorder, spool=tmp_path / "spool", backlog_limit=5)
    for ts in range(1, 9):
        worker.add(sample(ts))
    assert worker.dropped_samples == 3
    assert worker.pending_samples == 5
    assert recorder.dropped == [1]  # fired once, when dropping started
    assert not await worker.flush()
    assert recorder.auth == []
    await worker.stop()
    # Restarting with a smaller limit drops the oldest spooled samples too.
    again, _ = make_worker(free_port(), recorder, spool=tmp_path / "spool", backlog_limit=2)
    await again.start()
    assert again.pending_samples == 2
    assert again.dropped_samples == 3
    await again.stop()
    await connector.close()


async def test_auth_failure_reported_distinctly(make_server: Callable[..., RedisServer]) -> None:
    server = make_server(password="right")
    recorder = Recorder()
    wrong = RedisConnector(RedisServerSettings(server.host, server.port, password="wrong"))
    current = [wrong]
    worker = OutputWorker(
        lambda: current[0],
        OutputSettings(redis_node="n", columns={"a": ["V"]}),
        **recorder.kwargs(),
    )
    worker.add(Sample(1, {"V": 1}))
    assert not await worker.flush()
    assert not await worker.flush()
    assert len(recorder.auth) == 1
    assert isinstance(recorder.auth[0], InvalidAuth)
    assert "wrong" not in str(recorder.auth[0])
    assert len(recorder.lost) == 1
    # The HA layer's reauth swaps the connector: delivery resumes, "back" once.
    current[0] = RedisConnector(RedisServerSettings(server.host, server.port, password="right"))
    assert await worker.flush()
    assert recorder.back == 1
    # Password changed on the server (auth revoked): reported again after the recovery.
    client = redis.Redis(server.host, server.port, password="right")
    client.config_set("requirepass", "rotated")
    client.close()
    await current[0].close()  # drop pooled connections, as a server restart would
    worker.add(Sample(2, {"V": 2}))
    assert not await worker.flush()
    assert len(recorder.auth) == 2
    assert worker.pending_samples == 1
    await wrong.close()
    await current[0].close()


async def test_no_write_permission_and_read_only(make_server: Callable[..., RedisServer]) -> None:
    server = make_server(users=[AclUser("reader", "rpw", "~* +@read +ping")])
    recorder = Recorder()
    reader = RedisConnector(RedisServerSettings(server.host, server.port, username="reader", password="rpw"))
    worker = OutputWorker(
        lambda: reader, OutputSettings(redis_node="n", columns={"a": ["V"]}), **recorder.kwargs()
    )
    worker.add(Sample(1, {"V": 1}))
    assert not await worker.flush()
    assert isinstance(recorder.auth[0], NoWritePermission)
    await reader.close()

    replica = make_server(extra_config=[f"replicaof 127.0.0.1 {free_port()}"])
    recorder = Recorder()
    worker, connector = make_worker(replica, recorder)
    worker.add(sample(1))
    assert not await worker.flush()
    assert isinstance(recorder.lost[0], ReadOnlyServer)
    assert recorder.auth == []  # a failover is not the user's credentials
    await connector.close()


async def test_pooled_connections_heal_after_a_server_restart(
    make_server: Callable[..., RedisServer],
) -> None:
    """Every pooled connection the restart closed reconnects by itself: no write fails, nothing "lost"."""
    server = make_server()
    recorder = Recorder()
    worker, connector = make_worker(server, recorder)
    client = connector.client
    await asyncio.gather(*(client.ping() for _ in range(4)))  # several connections in the pool
    worker.add(sample(1))
    assert await worker.flush()
    await asyncio.to_thread(server.restart)
    for ts in range(2, 8):
        worker.add(sample(ts))
        assert await worker.flush()
        assert await client.ping()
    assert recorder.lost == []
    reader = plain_client(server)
    assert reader.hgetall(HASH) == {str(ts): expected(ts) for ts in range(1, 8)}
    reader.close()
    await connector.close()


async def test_refused_write_reported_on_the_output(
    make_server: Callable[..., RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    """WRONGTYPE (a user's key of another type with our name) is the output's error, logged once; the
    samples wait until the key is fixed; a later outage is reported as such.
    """
    server = make_server()
    admin = plain_client(server)
    admin.set(HASH, "a string, not a hash")
    recorder = Recorder()
    worker, connector = make_worker(server, recorder)
    for ts in (1, 2):
        worker.add(sample(ts))
        assert not await worker.flush()
    assert len(recorder.lost) == 1
    assert isinstance(recorder.lost[0], ServerError)
    assert "WRONGTYPE" in str(worker.state.last_error)
    assert caplog.text.count("the server refused the write") == 1
    assert recorder.auth == []
    await asyncio.to_thread(server.stop)
    assert not await worker.flush()
    assert isinstance(recorder.lost[1], CannotConnect)
    assert caplog.text.count("buffering samples until the server is back") == 1
    await asyncio.to_thread(server.start)
    admin.delete(HASH)
    assert await worker.flush()
    assert worker.state.last_error is None
    assert recorder.back == 1
    assert admin.hgetall(HASH) == {"1": expected(1), "2": expected(2)}
    admin.close()
    await connector.close()


async def test_spool_write_failure_keeps_samples(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    worker, connector = make_worker(free_port(), spool=blocker / "spool")
    worker.add(sample(1))
    assert not await worker.flush()
    assert "cannot write the spool" in caplog.text
    assert worker.pending_samples == 1
    await connector.close()


async def test_auth_failure_logged_without_callback(
    make_server: Callable[..., RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server(password="right")
    worker, connector = make_worker(
        server.port, connector=RedisConnector(RedisServerSettings(server.host, server.port))
    )
    worker.add(sample(1))
    assert not await worker.flush()
    assert "credentials refused" in caplog.text
    await connector.close()


async def test_provider_failure_is_reported() -> None:
    recorder = Recorder()

    def broken() -> RedisConnector:
        raise OSError("no connector")

    worker = OutputWorker(broken, OutputSettings(redis_node="n", columns={"a": ["V"]}), **recorder.kwargs())
    worker.add(Sample(1, {"V": 1}))
    assert not await worker.flush()
    assert "?" in str(recorder.lost[0])


async def test_spool_of_an_older_configuration_is_converted(
    redis_server: RedisServer, reader: redis.Redis, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    old, connector = make_worker(free_port(), spool=spool, columns={"bmv700": ["V", "I", "SOC"], "x": ["Z"]})
    old.add(Sample(1, {"V": 1.5, "I": 2.5, "SOC": 3.5, "Z": 9}))
    old.add(Sample(2, {"Z": 9}))  # nothing left for the new columns
    await old.stop()
    (spool / "00000099.seg").write_bytes(MAGIC + b'{"structure": "Gone", "columns": {}}\n')
    (spool / "junk.seg").write_bytes(b"not a segment")
    new, new_connector = make_worker(redis_server, spool=spool, columns={"bmv700": ["SOC", "V"]})
    await new.start()
    assert new.pending_samples == 1
    assert await new.flush()
    await new.stop()
    await connector.close()
    await new_connector.close()
    assert reader.hgetall(HASH) == {"1": '{"SOC": 3.5, "V": 1.5}'}


async def test_torn_spool_tail_is_ignored(
    redis_server: RedisServer, reader: redis.Redis, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    old, connector = make_worker(free_port(), spool=spool)
    for ts in range(1, 4):
        old.add(sample(ts))
    await old.stop()
    (segment,) = spool.glob("*.seg")
    data = segment.read_bytes()
    segment.write_bytes(data[:-3])  # the last record cut short, as by a crash mid-write
    new, new_connector = make_worker(redis_server, spool=spool)
    await new.start()
    assert new.pending_samples == 2
    assert await new.flush()
    new.add(sample(9))
    await new.stop()
    await connector.close()
    await new_connector.close()
    assert set(reader.hkeys(HASH)) == {"1", "2", "9"}


async def test_listener_errors_and_unsubscribe(redis_server: RedisServer, reader: redis.Redis) -> None:
    worker, connector = make_worker(redis_server)
    calls: list[str] = []

    def boom() -> None:
        calls.append("boom")
        raise RuntimeError("listener bug")

    unsubscribe = worker.add_listener(boom)
    worker.add(sample(1))
    assert await worker.flush()  # a failing listener does not break delivery
    unsubscribe()
    unsubscribe()
    assert await worker.flush()
    assert calls == ["boom"]
    assert "pending=0" in repr(worker)
    await connector.close()


def test_settings_validation() -> None:
    settings = OutputSettings(redis_node="n", columns={"a": ["V"]}, time_interval=2)
    assert settings.max_pending == 43_200
    assert settings.send_interval == 10
    assert OutputSettings(redis_node="n", columns={"a": ["V"]}, backlog_limit=0).max_pending == 1
    with pytest.raises(ValueError, match="cache_interval"):
        OutputSettings(redis_node="n", columns={"a": ["V"]}, cache_interval=0)
    with pytest.raises(ValueError, match="retry"):
        OutputSettings(redis_node="n", columns={"a": ["V"]}, retry_initial=5, retry_max=1)


async def test_pending_count_follows_the_backlog_while_retries_back_off(tmp_path: Path) -> None:
    """While the server is away the retries back off (here to 30 s), yet the listeners hear of the growing
    backlog at every send interval (20 ms): a pending count is never older than one send interval."""
    recorder = Recorder()
    worker, connector = make_worker(
        free_port(), recorder, spool=tmp_path / "spool", retry_initial=30.0, retry_max=30.0
    )
    worker.add(sample(1))
    await worker.start()
    await wait_until(recorder, lambda: bool(recorder.lost))  # the first attempt failed: now 30 s of backoff
    seen: list[int] = []
    worker.add_listener(lambda: seen.append(worker.pending_samples))
    for ts in range(2, 7):
        worker.add(sample(ts))
        target = len(seen) + 1
        await wait_until(recorder, lambda target=target: len(seen) >= target)
        assert seen[-1] == ts
    assert len(recorder.lost) == 1  # no retry in between: those notifications came from the ticks
    await worker.stop()
    await connector.close()


async def test_a_successful_flush_ends_the_backoff(make_server: Callable[..., RedisServer]) -> None:
    """The server came back and a flush() from outside (the HA layer's readiness probe) delivered: the next
    samples go out on schedule, not after the remaining backoff (here 60 s, past the 30 s wait)."""
    server = make_server()
    port = server.port
    server.stop()
    recorder = Recorder()
    worker, connector = make_worker(port, recorder, retry_initial=60.0, retry_max=60.0)
    worker.add(sample(1))
    await worker.start()
    await wait_until(recorder, lambda: bool(recorder.lost))  # failed once: the next attempt is 60 s away
    server.start()
    assert await worker.flush()
    worker.add(sample(2))
    await wait_until(recorder, lambda: worker.written_samples == 2)  # on schedule (20 ms), not in 60 s
    await worker.stop()
    await connector.close()
