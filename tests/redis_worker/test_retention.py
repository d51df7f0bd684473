"""Retention on each expiry mode (forced on the same Redis 8 server), capability detection, expired rows."""

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
import time
from typing import Any

import pytest
import redis

from custom_components.vemonitor.redis_worker import (
    OutputSettings,
    OutputWorker,
    RedisConnector,
    RedisServerSettings,
    Retention,
    Sample,
    ServerError,
    expiry_mode_of,
    output as output_module,
)
from custom_components.vemonitor.redis_worker.output import TRIM_LOOKBACK, TRIM_MAX_FIELDS
from custom_components.vemonitor.redis_worker.structures.hmap_timeseries import expiry_runs
from tests.redis_server import AclUser, RedisServer, free_port

KEY = "bat_n"
EXPIRING = ["hsetex", "hexpire"]
WAIT = 10  # bound of the waits for Redis's own expiry (a few seconds at most)


def make_worker(
    connector: RedisConnector, clock: Callable[[], float] = time.time, **kwargs: Any
) -> OutputWorker:
    """A worker of one node "n" with one column, under "bat"."""
    spool_path = kwargs.pop("spool_path", None)
    on_dropped = kwargs.pop("on_dropped", None)
    settings = OutputSettings(**({"redis_node": "bat", "columns": {"n": ["V"]}} | kwargs))
    return OutputWorker(
        lambda: connector, settings, spool_path=spool_path, clock=clock, on_dropped=on_dropped
    )


def add(worker: OutputWorker, timestamps: Sequence[int]) -> None:
    for timestamp in timestamps:
        worker.add(Sample(timestamp, {"V": timestamp % 1000}))


def expire_times(client: redis.Redis, key: str) -> dict[int, int]:
    """Field timestamp -> the Unix second it expires at (-1: never)."""
    fields = client.hkeys(key)
    times = client.execute_command("HEXPIRETIME", key, "FIELDS", len(fields), *fields)
    return dict(zip(map(int, fields), times, strict=True))


def stored(client: redis.Redis, key: str = KEY) -> list[int]:
    return sorted(map(int, client.hkeys(key)))


@pytest.mark.parametrize("mode", EXPIRING)
async def test_fields_expire_at_the_end_of_their_window(
    mode: str, connector: RedisConnector, reader: redis.Redis
) -> None:
    now = int(time.time())
    worker = make_worker(connector, lambda: now, retention=120, expiry_mode=mode)
    # One row already out of the window, then two runs more than a minute apart: each run expires at its
    # newest timestamp + 120 s, the first one 3 s from now.
    add(worker, [now - 130, now - 118, now - 117, now - 10, now])
    reader.config_resetstat()
    assert await worker.flush()
    assert (worker.expired_samples, worker.written_samples, worker.dropped_samples) == (1, 4, 0)
    assert worker.state.expired_samples == 1
    assert expire_times(reader, KEY) == {
        now - 118: now + 3,
        now - 117: now + 3,
        now - 10: now + 120,
        now: now + 120,
    }
    stats = reader.info("commandstats")
    if mode == "hsetex":
        assert stats["cmdstat_hsetex"]["calls"] == 2
        assert "cmdstat_hset" not in stats
    else:
        assert stats["cmdstat_hset"]["calls"] == stats["cmdstat_hexpireat"]["calls"] == 2
    assert "cmdstat_hdel" not in stats
    async with asyncio.timeout(WAIT):  # Redis drops the first run by itself
        while stored(reader) != [now - 10, now]:
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("mode", EXPIRING)
async def test_steady_send_is_one_command_per_node(
    mode: str, connector: RedisConnector, reader: redis.Redis
) -> None:
    now = int(time.time())
    worker = make_worker(
        connector, lambda: now, columns={"a": ["V"], "b": ["V"]}, retention=3600, expiry_mode=mode
    )
    add(worker, range(now - 4, now + 1))
    reader.config_resetstat()
    assert await worker.flush()
    stats = reader.info("commandstats")
    expected = {"hsetex": 2} if mode == "hsetex" else {"hset": 2, "hexpireat": 2}
    assert {name: stats[f"cmdstat_{name}"]["calls"] for name in expected} == expected
    assert stats["cmdstat_sadd"]["calls"] == 1
    assert set(expire_times(reader, "bat_a").values()) == {now + 3600}
    assert reader.hgetall("bat_b") == {str(ts): f'{{"V": {ts % 1000}}}' for ts in range(now - 4, now + 1)}


@pytest.mark.parametrize("mode", EXPIRING)
async def test_rows_out_of_order_expire_with_their_own_run(
    mode: str, connector: RedisConnector, reader: redis.Redis
) -> None:
    """Rows are not always in order (a clock set back, a spool older than what was sent): runs follow the
    order of the rows, each spanning at most a minute, so no field expires before its window ends."""
    now = int(time.time())
    worker = make_worker(connector, lambda: now, retention=600, expiry_mode=mode)
    add(worker, [now, now - 100, now - 61, now - 30, now - 30])  # a second twice: stored once
    assert await worker.flush()
    assert expire_times(reader, KEY) == {
        now: now + 600,
        now - 100: now + 539,
        now - 61: now + 539,
        now - 30: now + 570,
    }


def test_expiry_runs() -> None:
    assert list(expiry_runs([0, 1, 60, 61, 200])) == [(0, 3, 60), (3, 4, 61), (4, 5, 200)]
    assert list(expiry_runs([5])) == [(0, 1, 5)]
    assert list(expiry_runs([100, 50, 90, 39, 160])) == [(0, 3, 100), (3, 4, 39), (4, 5, 160)]


@pytest.mark.parametrize("mode", EXPIRING)
async def test_a_changed_window_applies_to_new_writes(
    mode: str, connector: RedisConnector, reader: redis.Redis
) -> None:
    now = int(time.time())
    before = make_worker(connector, lambda: now, retention=1000, expiry_mode=mode)
    add(before, [now])
    assert await before.flush()
    after = make_worker(connector, lambda: now + 1, retention=50, expiry_mode=mode)  # reconfigured output
    add(after, [now + 1])
    assert await after.flush()
    assert expire_times(reader, KEY) == {now: now + 1000, now + 1: now + 51}


async def test_hdel_deletes_exactly_the_seconds_out_of_the_window(
    connector: RedisConnector, reader: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output_module, "TRIM_MAX_FIELDS", 2 * TRIM_LOOKBACK)  # one send covers the day
    now = 1_800_000_000  # no field gets a TTL on this path: any clock will do
    beyond = now - 10 - TRIM_LOOKBACK  # older than the first send after a start looks back
    previous = (beyond, now - 86_000, now - 5_000, now - 11, now - 10)
    reader.hset(KEY, mapping={str(ts): "{}" for ts in previous})
    reader.hset(KEY, str(now - 9), "{}")  # still inside a 10 s window
    clock = [float(now)]
    worker = make_worker(connector, lambda: clock[0], retention=10, expiry_mode="hdel")
    add(worker, [now - 12, now - 2, now - 1, now])
    reader.config_resetstat()
    assert await worker.flush()
    assert stored(reader) == [beyond, now - 9, now - 2, now - 1, now]
    assert worker.expired_samples == 1
    stats = reader.info("commandstats")
    assert stats["cmdstat_hset"]["calls"] == stats["cmdstat_hdel"]["calls"] == 1
    assert set(expire_times(reader, KEY).values()) == {-1}
    # Five seconds later: the next send deletes (now - 10, now - 5], nothing else.
    clock[0] += 5
    add(worker, [now + 5])
    assert await worker.flush()
    assert stored(reader) == [beyond, now - 2, now - 1, now, now + 5]
    # A reconfigured (shorter) window: the new worker trims with it.
    clock[0] += 1
    shorter = make_worker(connector, lambda: clock[0], retention=2, expiry_mode="hdel")
    add(shorter, [now + 6])
    assert await shorter.flush()
    assert stored(reader) == [beyond, now + 5, now + 6]


async def test_hdel_range_is_bounded_per_send(connector: RedisConnector, reader: redis.Redis) -> None:
    now = 1_800_000_000
    cutoff = now - 60
    first = cutoff - TRIM_LOOKBACK  # the first send deletes (first, first + TRIM_MAX_FIELDS]
    fields = [first, first + 1, first + TRIM_MAX_FIELDS, first + TRIM_MAX_FIELDS + 1, cutoff - 1]
    reader.hset(KEY, mapping={str(ts): "{}" for ts in fields})
    worker = make_worker(connector, lambda: now, retention=60, expiry_mode="hdel")
    add(worker, [now])
    assert await worker.flush()
    assert stored(reader) == [first, first + TRIM_MAX_FIELDS + 1, cutoff - 1, now]
    add(worker, [now + 1])  # the catch-up continues with each send
    assert await worker.flush()
    assert stored(reader) == [first, cutoff - 1, now, now + 1]
    for _ in range(TRIM_LOOKBACK // TRIM_MAX_FIELDS):
        add(worker, [now + 1])
        assert await worker.flush()
    assert stored(reader) == [first, now, now + 1]


async def test_expired_spooled_rows_are_counted_apart(
    connector: RedisConnector, reader: redis.Redis, tmp_path: Path
) -> None:
    now = int(time.time())
    spool = tmp_path / "spool"
    away = RedisConnector(RedisServerSettings("127.0.0.1", free_port()))
    down = make_worker(away, spool_path=spool)
    add(down, range(now - 100, now - 90))  # taken during an outage longer than the window
    add(down, range(now - 5, now + 1))
    assert not await down.flush()
    await down.stop()
    await away.close()
    dropped: list[int] = []
    worker = make_worker(
        connector,
        lambda: now,
        spool_path=spool,
        retention=30,
        expiry_mode="hsetex",
        on_dropped=dropped.append,
    )
    await worker.start()
    assert worker.pending_samples == 16
    assert await worker.flush()
    await worker.stop()
    state = worker.state
    assert (state.expired_samples, state.written_samples, state.dropped_samples) == (10, 6, 0)
    assert dropped == []
    assert stored(reader) == list(range(now - 5, now + 1))
    assert not list(spool.glob("*.seg"))


async def test_a_chunk_of_expired_rows_only_still_talks_to_redis(
    connector: RedisConnector, reader: redis.Redis
) -> None:
    now = int(time.time())
    worker = make_worker(connector, lambda: now, retention=10, expiry_mode="hsetex", batch_size=2)
    add(worker, [now - 30, now - 20, now - 1])
    assert await worker.flush()
    assert worker.connected
    assert (worker.expired_samples, worker.written_samples, worker.pending_samples) == (2, 1, 0)
    assert stored(reader) == [now - 1]
    nowhere = RedisConnector(RedisServerSettings("127.0.0.1", free_port()))
    away = make_worker(nowhere, lambda: now, retention=10)
    add(away, [now - 30])
    assert not await away.flush()  # no success reported without the server
    assert away.expired_samples == 0
    assert away.pending_samples == 1
    await nowhere.close()


async def test_capability_detected_once_per_pool(connector: RedisConnector, reader: redis.Redis) -> None:
    reader.config_resetstat()
    assert await connector.expiry_mode() == "hsetex"  # Redis 8.0.6
    assert await connector.expiry_mode() == "hsetex"
    assert reader.info("commandstats")["cmdstat_info"]["calls"] == 1
    await connector.close()  # a new pool asks again
    reader.config_resetstat()
    assert await connector.expiry_mode() == "hsetex"
    assert reader.info("commandstats")["cmdstat_info"]["calls"] == 1


async def test_auto_mode_writes_with_hsetex(connector: RedisConnector, reader: redis.Redis) -> None:
    now = int(time.time())
    worker = make_worker(connector, lambda: now, retention=60)
    add(worker, [now])
    reader.config_resetstat()
    assert await worker.flush()
    assert reader.info("commandstats")["cmdstat_hsetex"]["calls"] == 1
    assert expire_times(reader, KEY) == {now: now + 60}


@pytest.mark.parametrize(
    ("info", "mode"),
    [
        ({"redis_version": "8.0.6"}, "hsetex"),
        ({"redis_version": "8.2.1"}, "hsetex"),
        ({"redis_version": "7.4.2"}, "hexpire"),
        ({"redis_version": 7.4}, "hexpire"),  # redis-py parses what looks like a float
        ({"redis_version": "7.2.4"}, "hdel"),
        ({"redis_version": "7.0.15"}, "hdel"),  # Debian 12
        ({"redis_version": "6.0.16"}, "hdel"),
        ({}, "hdel"),
        ({"redis_version": "7.2.4", "valkey_version": "8.1.1"}, "hdel"),
        ({"redis_version": "7.2.4", "valkey_version": "9.0.0"}, "hsetex"),
    ],
)
def test_expiry_mode_of_versions(info: dict[str, Any], mode: str) -> None:
    assert expiry_mode_of(info) == mode


async def test_info_refused_by_the_acl_means_hdel(
    make_server: Callable[..., RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server(users=[AclUser("writer", "wpw", "~* -@all +ping +hset +sadd +hdel")])
    settings = RedisServerSettings(server.host, server.port, username="writer", password="wpw")
    connector = RedisConnector(settings)
    now = 1_800_000_000
    admin = redis.Redis(server.host, server.port, decode_responses=True)
    admin.hset(KEY, str(now - 10 - TRIM_LOOKBACK + 1), "{}")  # within the first send's bounded range
    worker = make_worker(connector, lambda: now, retention=10)
    add(worker, [now])
    assert await worker.flush()
    assert await connector.expiry_mode() == "hdel"
    assert "INFO refused by the ACL" in caplog.text
    assert stored(admin) == [now]
    admin.close()
    await connector.close()


@pytest.mark.parametrize(("renamed", "mode"), [(["HSETEX"], "hexpire"), (["HSETEX", "HEXPIREAT"], "hdel")])
async def test_unknown_expiry_command_falls_back_in_the_same_send(
    make_server: Callable[..., RedisServer], renamed: list[str], mode: str
) -> None:
    """A server that reports 8.x but lacks a command (renamed away, a fork): the next older mode, at once."""
    server = make_server(extra_config=[f'rename-command {command} ""' for command in renamed])
    connector = RedisConnector(RedisServerSettings(server.host, server.port))
    lost: list[object] = []
    now = int(time.time())
    worker = OutputWorker(
        lambda: connector,
        OutputSettings(redis_node="bat", columns={"n": ["V"]}, retention=100),
        clock=lambda: now,
        on_lost=lost.append,
    )
    add(worker, [now])
    assert await worker.flush()
    assert lost == []
    assert await connector.expiry_mode() == mode
    admin = redis.Redis(server.host, server.port, decode_responses=True)
    assert stored(admin) == [now]
    assert admin.info("commandstats").get("cmdstat_hexpireat", {}).get("calls", 0) == (mode == "hexpire")
    admin.close()
    # Forced, the mode does not fall back: the send fails and says why.
    forced = make_worker(connector, lambda: now, retention=100, expiry_mode="hsetex")
    add(forced, [now])
    assert not await forced.flush()
    assert isinstance(forced.last_error, ServerError)
    assert "unknown command" in str(forced.last_error)
    assert "(HSETEX bat_n)" in str(forced.last_error)
    assert not connector.expiry_unsupported("hdel")  # nothing older than HDEL
    assert connector.expiry_unsupported("hsetex")  # another output's late report: no step back up
    assert await connector.expiry_mode() == mode
    await connector.close()


def test_settings_and_retention_validation() -> None:
    base: dict[str, Any] = {"redis_node": "n", "columns": {"a": ["V"]}}
    assert OutputSettings(**base).window is None
    assert OutputSettings(**base, retention=0).window is None
    assert OutputSettings(**base, retention=3600).window == 3600
    for bad in ({"retention": -1}, {"retention": float("inf")}, {"retention": float("nan")}):
        with pytest.raises(ValueError, match="retention"):
            OutputSettings(**base, **bad)
    with pytest.raises(ValueError, match="set_members"):
        OutputSettings(**base, set_members="keys")
    with pytest.raises(ValueError, match="expiry_mode"):
        OutputSettings(**base, expiry_mode="ttl")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="retention"):
        Retention(0, 1.0)
    retention = Retention(10.5, 100.25)
    assert retention.cutoff == 89  # 89 + 10.5 <= 100.25: out; 90 + 10.5 > 100.25: in
    assert retention.expire_at(90) == 101
