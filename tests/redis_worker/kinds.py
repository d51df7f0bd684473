"""What the Sentinel and Cluster tests share: settings of a topology, workers, a steady sample producer."""

import asyncio
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
import threading
import time
from typing import Any

import pytest
import redis

from custom_components.vemonitor.redis_worker import (
    CLUSTER,
    SENTINEL,
    OutputSettings,
    OutputWorker,
    RedisConnector,
    RedisServerSettings,
    RedisWorkerError,
    Sample,
)
from tests.redis_topologies import RedisClusterNodes, SentinelGroup

from .test_connector import files_touched_by_this_thread, watch_ssl_loading

START = 1_700_000_000  # sample timestamps: START, START + 1, ... (one field / entry id each)
WAIT = 60.0  # safety net of every wait below (each ends on its condition)


def sentinel_settings(group: SentinelGroup, **kwargs: Any) -> RedisServerSettings:
    """Settings of a Sentinel kind entry for `group` (its passwords, its CA)."""
    options: dict[str, Any] = {
        "kind": SENTINEL,
        "nodes": tuple(group.sentinels),
        "service_name": group.service_name,
        "password": group.password,
        "sentinel_password": group.sentinel_password,
        "timeout": 2.0,
    }
    if group.tls_files is not None:
        options |= {"tls": True, "ca_cert": group.tls_files.ca_pem}
    host, port = group.sentinels[0]
    return RedisServerSettings(host, port, **(options | kwargs))


def cluster_settings(cluster: RedisClusterNodes, seeds: int = 1, **kwargs: Any) -> RedisServerSettings:
    """Settings of a Cluster kind entry with the first `seeds` nodes as seeds."""
    options: dict[str, Any] = {
        "kind": CLUSTER,
        "nodes": tuple(cluster.seeds[:seeds]),
        "password": cluster.password,
        "timeout": 2.0,
    }
    if cluster.tls_files is not None:
        options |= {"tls": True, "ca_cert": cluster.tls_files.ca_pem}
    host, port = cluster.seeds[0]
    return RedisServerSettings(host, port, **(options | kwargs))


def make_worker(
    connector: RedisConnector,
    redis_node: str,
    on_lost: Callable[[RedisWorkerError], None] | None = None,
    **kwargs: Any,
) -> OutputWorker:
    """A worker sending every 20 ms, retrying within 0.05..0.2 s."""
    options: dict[str, Any] = {
        "redis_node": redis_node,
        "columns": {"bmv": ["V", "I"]},
        "time_interval": 0.01,
        "cache_interval": 2,
        "retry_initial": 0.05,
        "retry_max": 0.2,
        "backlog_limit": 1_000_000,
    } | kwargs
    return OutputWorker(lambda: connector, OutputSettings(**options), on_lost=on_lost)


def sample(timestamp: int) -> Sample:
    return Sample(timestamp, {"V": round(12 + (timestamp % 100) / 100, 2), "I": -1.5})


def add(workers: Iterable[OutputWorker], timestamps: Iterable[int]) -> None:
    workers = list(workers)
    for timestamp in timestamps:
        for worker in workers:
            worker.add(sample(timestamp))


async def until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll `condition` every 20 ms until it holds; AssertionError naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(0.02)


async def flushed(worker: OutputWorker, timeout: float = WAIT) -> None:
    """flush() until it delivers everything (it fails while a failover settles)."""
    deadline = time.monotonic() + timeout
    while not await worker.flush():
        if time.monotonic() > deadline:
            raise AssertionError(f"not delivered within {timeout:.0f} s: {worker.state}")
        await asyncio.sleep(0.1)


async def nothing_blocks_the_loop(settings: RedisServerSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sending through a connector of `settings`, asking its topology, closing it: no file is opened and no
    TLS context is loaded in the event loop (Home Assistant reports both as blocking calls), and one TLS
    context serves every connection of the connector (sentinels, master, cluster nodes)."""

    def queue(pipe: Any) -> None:
        pipe.hset("van_loop", "1", "{}")
        pipe.execute_command("DEL", "van_loop")

    async def use() -> None:
        connector = await RedisConnector.create(settings)
        await connector.send(queue)
        await connector.topology()
        await connector.close()

    await use()  # lazy imports of redis-py and ssl modules read their files once
    loop_thread = threading.get_ident()
    ssl_calls = watch_ssl_loading(monkeypatch)
    with files_touched_by_this_thread() as touched:
        await use()
    assert touched == []
    assert [name for name, thread in ssl_calls if thread == loop_thread] == []
    assert [name for name, _ in ssl_calls].count("load_verify_locations") == (1 if settings.ca_cert else 0)


class Producer:
    """Adds one sample every `period` seconds to each worker, timestamps START, START + 1, ..., in the
    background (the coordinator's steady stream), until stopped."""

    def __init__(self, workers: Sequence[OutputWorker], period: float = 0.005) -> None:
        self.workers = list(workers)
        self.period = period
        self.added = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            add(self.workers, [START + self.added])
            self.added += 1
            await asyncio.sleep(self.period)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop adding (again: nothing)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def progress(self, count: int = 20) -> None:
        """Until every worker wrote `count` more samples than now (writes go on)."""
        marks = [worker.written_samples + count for worker in self.workers]
        await until(
            lambda: all(
                worker.written_samples >= mark for worker, mark in zip(self.workers, marks, strict=True)
            ),
            f"{count} more samples written",
        )

    async def drain(self) -> None:
        """Stop producing; until every worker has nothing pending."""
        await self.stop()
        await until(lambda: all(worker.pending_samples == 0 for worker in self.workers), "backlog drained")


def hash_fields(client: redis.Redis, key: str) -> list[int]:
    """The timestamps stored in a HmapTimeSeries hash, sorted."""
    return sorted(int(field) for field in client.hkeys(key))


def stream_ids(client: redis.Redis, key: str) -> list[int]:
    """The timestamps of a Stream's entries (id = timestamp x 1000 - 0), in order."""
    return [int(entry_id.split("-")[0]) // 1000 for entry_id, _ in client.xrange(key)]
