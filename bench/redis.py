"""Redis output benchmark: pipelined batches vs one round trip per sample, one-day backlog drain, memory;
retention on each expiry mode vs none, Stream vs HmapTimeSeries, Redis memory per stored point; and the
server kinds: a single server, Sentinel (WAIT 0 and 1), Cluster (WAIT 0 and 1), all in the same run.

Run with `scripts/bench redis` (`scripts/bench redis -- --only kinds` for the kinds alone). Starts its own
servers on free loopback ports (never 6379/26379) and, for scale, runs `redis-benchmark -P 16 -t hset`
against the single server as the ceiling.
Goals: >= 50,000 samples/s, one-day backlog (86,400 samples) drained in <= 5 s, <= 150 B per buffered sample;
writes with retention >= 0.8x the rate without, <= 120 B per point stored in a HmapTimeSeries hash. Kinds:
none beyond one round trip per shard per send (the WAITs per send column: one per shard written).
"""

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
import gc
import itertools
import math
from pathlib import Path
import re
import shutil
import subprocess
import tempfile
import time
import tracemalloc

import redis

from custom_components.vemonitor.redis_worker import (
    CLUSTER,
    DEFAULT_STRUCTURE,
    SENTINEL,
    STREAM,
    OutputSettings,
    OutputWorker,
    RedisConnector,
    RedisServerSettings,
    Sample,
)
from tests.redis_server import RedisServer
from tests.redis_topologies import RedisClusterNodes, SentinelGroup

COLUMNS = {"bmv700": ["V", "I", "P", "SOC", "Alarm", "AR", "Relay"]}
DAY = 86_400
START = int(time.time()) - DAY  # the last day: inside a week's retention, so HSETEX keeps every field
PER_SAMPLE_COUNT = 5_000
REPEAT = 3
VARIANT_REPEAT = 5  # the ratios compare best runs: more of them on a shared machine
TICK = 0.001  # the stall probe's period
BATCH = 1_000  # OutputSettings' default batch_size: rows per round trip
WEEK = 7 * DAY


def seed_sample(index: int) -> Sample:
    """A BMV-700 sample like the seed's, with varying current and voltage."""
    return Sample(
        START + index,
        {
            # Rounded as the VE.Direct parser's mV / 1000 are: the JSON has the seed's short numbers.
            "V": round(12.064 + (index % 7) / 1000, 3),
            "I": round(-7.52 - (index % 31) / 1000, 3),
            "P": -91.0,
            "SOC": 83.8,
            "Alarm": 0,
            "AR": 0,
            "Relay": 0,
            "PID": "0x203",
        },
    )


def make_worker(connector: RedisConnector, node: str, backlog_limit: int | None = None) -> OutputWorker:
    """An output writing the seed's columns under `node`."""
    settings = OutputSettings(redis_node=node, columns=COLUMNS, backlog_limit=backlog_limit)
    return OutputWorker(lambda: connector, settings)


async def max_loop_lag[T](during: Callable[[], Awaitable[T]]) -> tuple[T, float]:
    """Run the awaitable factory; measure how late a 1 ms ticker ran at worst (the longest loop stall)."""
    worst = 0.0
    done = False

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            worst = max(worst, now - last - TICK)
            last = now

    task = asyncio.create_task(ticker())
    result = await during()
    done = True
    await task
    return result, worst


async def pipelined_rate(connector: RedisConnector, samples: list[Sample]) -> tuple[float, float]:
    """Best of REPEAT: samples/s of one output sending what is buffered, and add() cost in us/sample."""
    best_rate, best_add = 0.0, float("inf")
    for _ in range(REPEAT):
        worker = make_worker(connector, "bench_pipe", backlog_limit=len(samples))
        start = time.perf_counter()
        for sample in samples:
            worker.add(sample)
        added = time.perf_counter()
        assert await worker.flush()
        end = time.perf_counter()
        best_rate = max(best_rate, len(samples) / (end - added))
        best_add = min(best_add, (added - start) / len(samples) * 1e6)
    return best_rate, best_add


@dataclass(frozen=True, slots=True)
class Variant:
    """One way of storing the day: a structure and its expiry mode (None: kept forever; "auto" for the
    Stream, whose retention is XTRIM whatever the mode)."""

    label: str
    structure: str
    mode: str | None = None

    @property
    def node(self) -> str:
        return f"bench_{self.structure}_{self.mode or 'none'}"

    @property
    def key(self) -> str:
        return f"{self.node}_bmv700"


VARIANTS = (
    Variant("HmapTimeSeries, no retention", DEFAULT_STRUCTURE),
    Variant("HmapTimeSeries, HSETEX (8.0+)", DEFAULT_STRUCTURE, "hsetex"),
    Variant("HmapTimeSeries, HSET+HEXPIREAT (7.4)", DEFAULT_STRUCTURE, "hexpire"),
    Variant("HmapTimeSeries, HSET+HDEL (older)", DEFAULT_STRUCTURE, "hdel"),
    Variant("Stream, no retention", STREAM),
    Variant("Stream, XTRIM MINID", STREAM, "auto"),
)


def advancing_clock(start: float, step: float) -> Callable[[], float]:
    """A clock moving `step` seconds per reading. The worker reads it once per round trip, so with step =
    rows per trip the HDEL mode deletes as many seconds as it writes: its steady state at any speed."""
    readings = itertools.count()
    return lambda: start + step * next(readings)


async def variant_rate(connector: RedisConnector, samples: list[Sample], variant: Variant) -> float:
    """Samples/s of one output of `variant` sending the day (its key emptied first: new fields, as live)."""
    now = time.time()
    settings = OutputSettings(
        redis_node=variant.node,
        columns=COLUMNS,
        structure=variant.structure,
        backlog_limit=len(samples),
        retention=WEEK if variant.mode else None,
        expiry_mode=variant.mode or "auto",
    )
    worker = OutputWorker(lambda: connector, settings, clock=advancing_clock(now, BATCH))
    # HDEL's steady state, as after the first day of running: the seconds before the window are done
    # (the first send after a start also looks one day back, TRIM_MAX_FIELDS per trip; not measured here).
    worker._trimmed = math.floor(now - WEEK)  # benchmark only: a private attribute
    await connector.client.delete(variant.key)
    for sample in samples:
        worker.add(sample)
    start = time.perf_counter()
    assert await worker.flush()
    elapsed = time.perf_counter() - start
    assert worker.written_samples == len(samples), worker.state
    return len(samples) / elapsed


async def variant_rates(connector: RedisConnector, samples: list[Sample]) -> dict[Variant, float]:
    """Best of VARIANT_REPEAT per variant, interleaved so that a busy moment hits them all alike."""
    best = dict.fromkeys(VARIANTS, 0.0)
    for _ in range(VARIANT_REPEAT):
        for variant in VARIANTS:
            best[variant] = max(best[variant], await variant_rate(connector, samples, variant))
    return best


async def bytes_per_point(connector: RedisConnector, variant: Variant, points: int) -> float:
    """MEMORY USAGE (every element counted: SAMPLES 0) of the variant's key, per stored point."""
    client = connector.client
    stored = await (client.xlen(variant.key) if variant.structure == STREAM else client.hlen(variant.key))
    assert stored == points, (variant, stored)
    usage = await client.memory_usage(variant.key, samples=0)
    assert usage is not None
    return float(usage) / points


async def per_sample_rate(connector: RedisConnector, samples: list[Sample]) -> float:
    """Best of REPEAT: samples/s when every sample is its own round trip (SADD + HSET of one field)."""
    best = 0.0
    for _ in range(REPEAT):
        worker = make_worker(connector, "bench_single", backlog_limit=len(samples))
        start = time.perf_counter()
        for sample in samples:
            worker.add(sample)
            assert await worker.flush()
        best = max(best, len(samples) / (time.perf_counter() - start))
    return best


async def drain(server: RedisServer, connector: RedisConnector, samples: list[Sample]) -> tuple[float, float]:
    """Seconds to deliver a one-day backlog taken while Redis was down, and the worst event loop stall."""
    worker = make_worker(connector, "bench_drain")
    server.stop()
    for sample in samples:
        worker.add(sample)
    assert not await worker.flush()
    server.start()
    await connector.close()
    start = time.perf_counter()
    delivered, lag = await max_loop_lag(worker.flush)
    elapsed = time.perf_counter() - start
    assert delivered
    assert worker.pending_samples == 0
    fields = await connector.client.hlen("bench_drain_bmv700")
    assert fields == len(samples), fields
    return elapsed, lag


def memory_per_sample(samples: list[Sample]) -> float:
    """tracemalloc bytes per buffered sample (the row encoded at add time, in the compact backlog)."""
    worker = make_worker(RedisConnector(RedisServerSettings("127.0.0.1", 1)), "bench_mem")
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for sample in samples:
        worker.add(sample)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert worker.pending_samples == len(samples)
    return used / len(samples)


def redis_benchmark(server: RedisServer) -> float | None:
    """HSET requests/s of redis-benchmark with 16 commands per pipeline, the same server: the ceiling."""
    binary = shutil.which("redis-benchmark")
    if binary is None:
        return None
    output = subprocess.run(
        [binary, "-h", server.host, "-p", str(server.port), "-P", "16", "-t", "hset", "-n", "500000", "-q"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"HSET: ([\d.]+) requests per second", output.replace("\r", "\n"))
    return float(match.group(1)) if match else None


async def main_sections() -> None:
    """The single-server sections: rates, drain, memory, storage variants."""
    samples = [seed_sample(index) for index in range(DAY)]
    gc.freeze()  # the benchmark's own 86,400 input dicts must not weigh on the measured GC pauses
    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp)) as server:
        connector = RedisConnector(RedisServerSettings(server.host, server.port))
        rate, add_us = await pipelined_rate(connector, samples)
        single = await per_sample_rate(connector, samples[:PER_SAMPLE_COUNT])
        rates = await variant_rates(connector, samples)
        memory_points = {variant: await bytes_per_point(connector, variant, DAY) for variant in VARIANTS}
        drain_s, lag = await drain(server, connector, samples)
        await connector.close()
        ceiling = redis_benchmark(server)
    memory = memory_per_sample(samples)

    rows = [
        (
            "write rate, pipelined (1,000 samples/trip)",
            f"{rate:,.0f} samples/s",
            ">= 50,000",
            rate >= 50_000,
        ),
        ("one round trip per sample", f"{single:,.0f} samples/s", "(peer)", None),
        ("speed-up pipelined / per sample", f"x {rate / single:,.1f}", "", None),
        ("add() cost, encode + buffer (not in rates)", f"{add_us:.2f} us/sample", "", None),
        ("drain one-day backlog (86,400 samples)", f"{drain_s:.2f} s", "<= 5 s", drain_s <= 5),
        ("longest event loop stall during drain", f"{lag * 1000:.1f} ms", "", None),
        ("memory per buffered sample (tracemalloc)", f"{memory:.1f} B", "<= 150 B", memory <= 150),
    ]
    if ceiling is not None:
        rows.append(("redis-benchmark -P 16 -t hset (ceiling)", f"{ceiling:,.0f} HSET/s", "", None))
        rows.append(("pipelined / ceiling", f"{rate / ceiling:.0%}", "", None))
    width = max(len(row[0]) for row in rows)
    print(f"{'measure':<{width}}  {'value':>22}  {'goal':>10}  ok")
    for name, value, goal, ok in rows:
        mark = "" if ok is None else ("yes" if ok else "NO")
        print(f"{name:<{width}}  {value:>22}  {goal:>10}  {mark}")
    print()
    print_storage_table(rates, memory_points)


def print_storage_table(rates: dict[Variant, float], memory: dict[Variant, float]) -> None:
    """Write rate and Redis memory per structure and retention mode, ratios against the same run's peers."""
    plain = {variant.structure: rates[variant] for variant in VARIANTS if variant.mode is None}
    width = max(len(variant.label) for variant in VARIANTS)
    print(f"{DAY:,} points of a BMV row ({len(COLUMNS['bmv700'])} columns), {BATCH:,} samples/trip, best of")
    print(f"{VARIANT_REPEAT}; goals (HmapTimeSeries): retention >= 0.8x none, <= 120 B per point")
    print(
        f"{'structure, retention':<{width}}  {'samples/s':>10}  {'vs none':>7}  {'vs hash':>7}"
        f"  {'>=0.8x':>6}  {'B/point':>7}  {'<=120 B':>7}"
    )
    for variant in VARIANTS:
        rate, hash_goals = rates[variant], variant.structure == DEFAULT_STRUCTURE
        versus_none = rate / plain[variant.structure]
        versus_hash = "" if hash_goals else f"{rate / plain[DEFAULT_STRUCTURE]:.2f}x"
        rate_ok = _mark(versus_none >= 0.8) if hash_goals and variant.mode else ""
        memory_ok = _mark(memory[variant] <= 120) if hash_goals else ""
        print(
            f"{variant.label:<{width}}  {rate:>10,.0f}  {versus_none:>6.2f}x  {versus_hash:>7}"
            f"  {rate_ok:>6}  {memory[variant]:>7.1f}  {memory_ok:>7}"
        )


def _mark(ok: bool) -> str:
    return "yes" if ok else "NO"


KIND_SAMPLES = 20_000
KIND_REPEAT = 3
# Three hashes besides the SET: with the usual split of the slots, the four keys are on the three shards.
KIND_COLUMNS = {"bmv700": COLUMNS["bmv700"], "mppt1": ["V", "I", "P"], "mppt3": ["V", "I", "P"]}
KIND_NODE = "bench_kinds"


@dataclass(frozen=True, slots=True)
class Kind:
    """One server kind and WAIT setting to write to."""

    label: str
    settings: RedisServerSettings
    admin: Callable[[], list[redis.Redis]]  # clients of the primaries, for INFO commandstats


async def kind_rate(connector: RedisConnector, samples: list[Sample]) -> float:
    """Samples/s of one output sending `samples` (its keys emptied first: new fields, as live)."""
    settings = OutputSettings(redis_node=KIND_NODE, columns=KIND_COLUMNS, backlog_limit=len(samples))
    worker = OutputWorker(lambda: connector, settings)
    client = connector.client
    for key in (KIND_NODE, *(f"{KIND_NODE}_{node}" for node in KIND_COLUMNS)):
        await client.delete(key)
    for sample in samples:
        worker.add(sample)
    start = time.perf_counter()
    assert await worker.flush(), worker.state
    elapsed = time.perf_counter() - start
    assert worker.written_samples == len(samples), worker.state
    return len(samples) / elapsed


def wait_calls(kind: Kind) -> int:
    """WAIT commands the primaries of `kind` have run."""
    total = 0
    for client in kind.admin():
        with client:
            total += int(client.info("commandstats").get("cmdstat_wait", {}).get("calls", 0))
    return total


async def kinds_table(samples: list[Sample]) -> None:
    """Samples/s per server kind and WAIT, best of KIND_REPEAT interleaved, ratio to the single server."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        RedisServer(Path(tmp) / "single") as single,
        SentinelGroup(Path(tmp) / "sentinel") as group,
        RedisClusterNodes(Path(tmp) / "cluster") as cluster,
    ):
        host, port = group.sentinels[0]
        sentinel = RedisServerSettings(
            host, port, kind=SENTINEL, nodes=tuple(group.sentinels), service_name=group.service_name
        )
        seed_host, seed_port = cluster.seeds[0]
        clustered = RedisServerSettings(seed_host, seed_port, kind=CLUSTER, nodes=tuple(cluster.seeds[:1]))
        kinds = [
            Kind("single server", RedisServerSettings(single.host, single.port, wait_replicas=0), list),
            Kind(
                "Sentinel, WAIT 0", replace(sentinel, wait_replicas=0), lambda: [group.client(group.master())]
            ),
            Kind(
                "Sentinel, WAIT 1", replace(sentinel, wait_replicas=1), lambda: [group.client(group.master())]
            ),
            Kind(
                "Cluster, WAIT 0",
                replace(clustered, wait_replicas=0),
                lambda: [cluster.client(node) for node in cluster.primaries()],
            ),
            Kind(
                "Cluster, WAIT 1",
                replace(clustered, wait_replicas=1),
                lambda: [cluster.client(node) for node in cluster.primaries()],
            ),
        ]
        connectors = {kind: RedisConnector(kind.settings) for kind in kinds}
        best = dict.fromkeys(kinds, 0.0)
        waits = dict.fromkeys(kinds, 0.0)
        sends = math.ceil(len(samples) / BATCH)
        for _ in range(KIND_REPEAT):
            for kind, connector in connectors.items():
                before = wait_calls(kind)
                best[kind] = max(best[kind], await kind_rate(connector, samples))
                waits[kind] = (wait_calls(kind) - before) / sends
        keys = (KIND_NODE, *(f"{KIND_NODE}_{node}" for node in KIND_COLUMNS))
        shards = len({cluster.shard_of(key).port for key in keys})
        for connector in connectors.values():
            await connector.close()
    base = best[kinds[0]]
    width = max(len(kind.label) for kind in kinds)
    described = f"{len(KIND_COLUMNS)} nodes ({len(keys)} keys, on {shards} of 3 cluster shards)"
    print(f"Server kinds: {len(samples):,} samples of {described},")
    print(f"{BATCH:,} samples/send, pipelined, best of {KIND_REPEAT} interleaved")
    print(f"{'kind':<{width}}  {'samples/s':>10}  {'vs single':>9}  {'WAITs/send':>10}")
    for kind in kinds:
        print(
            f"{kind.label:<{width}}  {best[kind]:>10,.0f}  {best[kind] / base:>8.2f}x  {waits[kind]:>10.1f}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["all", "single", "kinds"], default="all", help="sections to run")
    only = parser.parse_args().only
    if only in ("all", "single"):
        await main_sections()
    if only in ("all", "kinds"):
        if only == "all":
            print()
        await kinds_table([seed_sample(index) for index in range(KIND_SAMPLES)])


if __name__ == "__main__":
    asyncio.run(main())
