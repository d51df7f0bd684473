"""Retention on the Sentinel and Cluster kinds: every expiry mode's commands are single-key, so they route."""

import time
from typing import Any

import pytest
import redis

from custom_components.vemonitor.redis_worker import (
    STREAM,
    OutputSettings,
    OutputWorker,
    RedisConnector,
    RedisServerSettings,
)
from custom_components.vemonitor.redis_worker.output import TRIM_LOOKBACK
from tests.redis_topologies import RedisClusterNodes, SentinelGroup

from .kinds import add, cluster_settings, sentinel_settings

HOUR = 3600
COLUMNS = {"a": ["V", "I"], "b": ["V", "I"], "c": ["V", "I"], "d": ["V", "I"]}  # keys on several shards


class Kind:
    """The server of one kind, with what the test needs of it: settings and a client per key."""

    def __init__(self, name: str, request: pytest.FixtureRequest) -> None:
        self.name = name
        if name == "sentinel":
            self.group: SentinelGroup = request.getfixturevalue("sentinel")
        else:
            self.cluster: RedisClusterNodes = request.getfixturevalue("cluster")

    def settings(self) -> RedisServerSettings:
        return sentinel_settings(self.group) if self.name == "sentinel" else cluster_settings(self.cluster)

    def client(self, key: str) -> redis.Redis:
        if self.name == "sentinel":
            return self.group.client(self.group.master())
        return self.cluster.client(self.cluster.shard_of(key))


def worker(connector: RedisConnector, now: float, **kwargs: Any) -> OutputWorker:
    settings = OutputSettings(
        **(
            {
                "redis_node": "van",
                "columns": COLUMNS,
                "time_interval": HOUR,
                "retention": HOUR,
                "backlog_limit": 1000,
            }
            | kwargs
        )
    )
    return OutputWorker(lambda: connector, settings, clock=lambda: now)


@pytest.mark.parametrize(
    ("kind", "mode"), [("sentinel", "auto"), ("cluster", "auto"), ("cluster", "hexpire"), ("cluster", "hdel")]
)
async def test_hash_retention(request: pytest.FixtureRequest, kind: str, mode: str) -> None:
    server = Kind(kind, request)
    connector = RedisConnector(server.settings())
    now = time.time()
    cutoff = int(now) - HOUR
    old = cutoff - TRIM_LOOKBACK + 10  # an earlier run's, out of the window: the first HDEL trim takes it
    for node in COLUMNS:
        with server.client(f"van_{node}") as client:
            client.hset(f"van_{node}", str(old), "{}")
    output = worker(connector, now, expiry_mode=mode)
    add([output], range(cutoff - 30, cutoff + 30))  # half of them already out of the window
    assert await output.flush()
    await connector.close()
    assert output.expired_samples == 31
    assert output.written_samples == 29
    for node in COLUMNS:
        key = f"van_{node}"
        with server.client(key) as client:
            fields = sorted(int(field) for field in client.hkeys(key))
            kept = list(range(cutoff + 1, cutoff + 30))
            if mode == "hdel":
                assert fields == kept
            else:  # the server expires them: each field has its time, none before its window ends
                assert fields == [old, *kept]
                times = client.execute_command("HEXPIRETIME", key, "FIELDS", len(kept), *kept)
                assert all(at >= field + HOUR for at, field in zip(times, kept, strict=True))


@pytest.mark.parametrize("kind", ["sentinel", "cluster"])
async def test_stream_retention(request: pytest.FixtureRequest, kind: str) -> None:
    server = Kind(kind, request)
    connector = RedisConnector(server.settings())
    now = time.time()
    cutoff = int(now) - HOUR
    for node in COLUMNS:
        with server.client(f"vans_{node}") as client:
            client.xadd(f"vans_{node}", {"V": "1"}, id=f"{(cutoff - 10) * 1000}-0")  # out of the window
    output = worker(connector, now, redis_node="vans", structure=STREAM)
    add([output], range(cutoff + 1, cutoff + 21))
    assert await output.flush()
    await connector.close()
    for node in COLUMNS:
        with server.client(f"vans_{node}") as client:
            ids = [int(entry_id.split("-")[0]) // 1000 for entry_id, _ in client.xrange(f"vans_{node}")]
        assert ids == list(range(cutoff + 1, cutoff + 21))  # XTRIM MINID took the old entry
