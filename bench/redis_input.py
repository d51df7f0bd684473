"""Redis input benchmark: the newest point of a node holding one day (86,400 points), read by InputReader,
against the reads that scan the whole key, in the same run, for HmapTimeSeries and Stream.

Run with `scripts/bench redis_input`. Starts its own redis-server on a free loopback port (never 6379) and
fills it the way an output of ours does (OutputWorker, a BMV row of 7 columns, one point per second for the
last day, the newest one now). Then, per way of reading, `--reads` reads (fewer for the scans), median and
95th percentile of the time of one read (a whole round trip, parsing included) and the commands per read:

- InputReader, HmapTimeSeries: one HMGET; steady (the reader knows the newest point: the seconds from it
  on), and of the whole window (stale_after + FUTURE_SECONDS fields: the first read, a node without a recent
  point) for the default window (15 s) and the widest ones a user may choose;
- baselines: HGETALL and the newest field of the result (what a reader without the grid does), and the
  user guide's redis-cli recipe (HKEYS, sort, HGET: two round trips);
- InputReader, Stream: XREVRANGE + - COUNT 1; baseline XRANGE - + (the whole stream) and its last entry.

Goal: the reader's newest-point read of the default window (steady and whole) stays below 1 ms on a local
server, and at least 100x faster than the scan of the same key.
"""

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
import json
from pathlib import Path
import statistics
import tempfile
import time
from typing import Any

from bench import redis as redis_bench
from custom_components.vemonitor.redis_worker import (
    DEFAULT_STRUCTURE,
    STREAM,
    OutputSettings,
    OutputWorker,
    RedisConnector,
    RedisServerSettings,
    Sample,
)
from custom_components.vemonitor.redis_worker.input import InputReader, InputSettings
from tests.redis_server import RedisServer

DAY = 86_400
COLUMNS = {"bmv700": ["V", "I", "P", "SOC", "Alarm", "AR", "Relay"]}
NOW = int(time.time())
START = NOW - DAY + 1  # the last day: the newest point is now
GOAL_MS = 1.0
GOAL_RATIO = 100.0


def seed_sample(index: int) -> Sample:
    """The output benchmark's BMV-700 sample, on this day's clock (the newest point is now)."""
    return Sample(START + index, redis_bench.seed_sample(index).values)


def redis_node(structure: str) -> str:
    return f"bench_in_{structure}"


async def fill(connector: RedisConnector, structure: str) -> None:
    """One day of points, as an output stores them (kept forever: no retention)."""
    node = redis_node(structure)
    await connector.client.delete(node, f"{node}_bmv700")
    settings = OutputSettings(redis_node=node, columns=COLUMNS, structure=structure, backlog_limit=DAY)
    worker = OutputWorker(lambda: connector, settings)
    for index in range(DAY):
        worker.add(seed_sample(index))
    assert await worker.flush()
    key = f"{node}_bmv700"
    stored = await (connector.client.xlen(key) if structure == STREAM else connector.client.hlen(key))
    assert stored == DAY, (structure, stored)


@dataclass(frozen=True, slots=True)
class Way:
    """One way of reading the newest point: a label, how, and whether it is one of ours."""

    label: str
    structure: str
    read: Callable[[], Awaitable[tuple[int, dict[str, Any]]]]
    ours: bool
    reads: int


def reader_way(
    connector: RedisConnector, structure: str, stale_after: int, reads: int, *, steady: bool
) -> Way:
    """InputReader's read; `steady`: a reader that knows the node's newest point (it asks the seconds from
    it on), else a new one each read (the whole window: the first read, or a node without a recent point)."""
    settings = InputSettings(
        redis_node=redis_node(structure),
        columns=COLUMNS,
        structure=structure,
        stale_after=stale_after,
        set_members="nodes",  # no SMEMBERS: what it asks once known
    )

    def new_reader() -> InputReader:
        return InputReader(lambda: connector, settings, clock=lambda: NOW + 0.5)

    kept = new_reader()

    async def read() -> tuple[int, dict[str, Any]]:
        point = (await (kept if steady else new_reader()).read())["bmv700"]
        assert point is not None
        return point.timestamp, point.values

    if structure == STREAM:
        label = "InputReader: XREVRANGE + - COUNT 1"
    else:
        fields = len(kept.window(NOW + 0.5, NOW if steady else None))
        window = f"stale_after {stale_after:,} s"
        label = f"InputReader, {'steady' if steady else 'whole window'}: HMGET {fields:,} fields ({window})"
    return Way(label, structure, read, True, reads)


def scan_ways(connector: RedisConnector, reads: int) -> list[Way]:
    client = connector.client
    hash_key = f"{redis_node(DEFAULT_STRUCTURE)}_bmv700"
    stream_key = f"{redis_node(STREAM)}_bmv700"

    async def hgetall() -> tuple[int, dict[str, Any]]:
        fields = await client.hgetall(hash_key)
        newest = max(fields, key=int)
        return int(newest), json.loads(fields[newest])

    async def hkeys() -> tuple[int, dict[str, Any]]:
        newest = max(await client.hkeys(hash_key), key=int)
        return int(newest), json.loads(await client.hget(hash_key, newest))

    async def xrange() -> tuple[int, dict[str, Any]]:
        entry_id, fields = (await client.xrange(stream_key, "-", "+"))[-1]
        return int(entry_id.split(b"-")[0]) // 1000, {
            label.decode(): value for label, value in fields.items()
        }

    return [
        Way("baseline: HGETALL, newest field", DEFAULT_STRUCTURE, hgetall, False, reads),
        Way("baseline: HKEYS, sort, HGET (2 trips)", DEFAULT_STRUCTURE, hkeys, False, reads),
        Way("baseline: XRANGE - +, last entry", STREAM, xrange, False, reads),
    ]


def commands(info: dict[str, Any]) -> int:
    return sum(int(value["calls"]) for name, value in info.items() if name.startswith("cmdstat_"))


async def measure(connector: RedisConnector, way: Way) -> tuple[float, float, float]:
    """Median and 95th percentile of one read (ms), and the commands a read sends."""
    timestamp, _values = await way.read()  # warm: the connection is open, the parse paths loaded
    assert timestamp == NOW, (way.label, timestamp)
    times = []
    before = commands(await connector.client.info("commandstats"))
    for _ in range(way.reads):
        start = time.perf_counter()
        await way.read()
        times.append((time.perf_counter() - start) * 1000)
    after = commands(await connector.client.info("commandstats"))
    per_read = (after - before - 1) / way.reads  # the INFO itself is counted once
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], per_read


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=500, help="reads per InputReader way")
    parser.add_argument("--scans", type=int, default=10, help="reads per baseline (each scans the key)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, RedisServer(Path(directory)) as server:
        connector = RedisConnector(RedisServerSettings(server.host, server.port, wait_replicas=0))
        try:
            for structure in (DEFAULT_STRUCTURE, STREAM):
                await fill(connector, structure)
            reads, scans = arguments.reads, arguments.scans
            ways = [
                reader_way(connector, DEFAULT_STRUCTURE, 15, reads, steady=True),
                reader_way(connector, DEFAULT_STRUCTURE, DAY, reads, steady=True),
                reader_way(connector, DEFAULT_STRUCTURE, 15, reads, steady=False),
                reader_way(connector, DEFAULT_STRUCTURE, 3_600, reads, steady=False),
                reader_way(connector, DEFAULT_STRUCTURE, DAY, scans, steady=False),
                reader_way(connector, STREAM, 15, reads, steady=True),
                *scan_ways(connector, scans),
            ]
            results = {way: await measure(connector, way) for way in ways}
            version = (await connector.client.info("server"))["redis_version"]
        finally:
            await connector.close()
    baseline = {
        structure: min(
            result[0] for way, result in results.items() if not way.ours and way.structure == structure
        )
        for structure in (DEFAULT_STRUCTURE, STREAM)
    }
    print(
        f"Newest point of a node holding {DAY:,} points (a BMV row of {len(COLUMNS['bmv700'])} columns), "
        "Redis"
    )
    print(
        f"{version} on loopback; median and p95 of one read; 'vs scan': the best scan of the same structure"
    )
    print(f"divided by this read; goal: the default window < {GOAL_MS:g} ms and >= {GOAL_RATIO:g}x the scan")
    print()
    width = max(len(way.label) for way in ways)
    print(
        f"| {'structure':<14} | {'read':<{width}} | {'median ms':>9} | {'p95 ms':>8} | {'cmds':>4} "
        f"| {'vs scan':>8} |"
    )
    print(f"|{'-' * 16}|{'-' * (width + 2)}|{'-' * 11}|{'-' * 10}|{'-' * 6}|{'-' * 10}|")
    for way, (median, p95, per_read) in results.items():
        ratio = baseline[way.structure] / median
        print(
            f"| {way.structure:<14} | {way.label:<{width}} | {median:>9.3f} | {p95:>8.3f} | {per_read:>4.1f} "
            f"| {ratio:>7.1f}x |"
        )
    # The default window, read whole (the first read; a node without a recent point) or steady.
    checked = (ways[0], ways[2], ways[5])
    ok = all(
        results[way][0] < GOAL_MS and baseline[way.structure] / results[way][0] >= GOAL_RATIO
        for way in checked
    )
    default_hash, default_stream = results[ways[2]][0], results[ways[5]][0]
    print()
    print(
        f"goal {'met' if ok else 'NOT met'}: HmapTimeSeries {default_hash:.3f} ms, "
        f"Stream {default_stream:.3f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
