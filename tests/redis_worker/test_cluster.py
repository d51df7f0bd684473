"""Cluster kind against a real cluster (3 primaries + 3 replicas): failover, MOVED/ASK, round trips."""

import asyncio
from dataclasses import replace
import time
from typing import Any

import pytest
import redis
from redis.asyncio.cluster import ClusterNode

from custom_components.vemonitor.redis_worker import (
    CLUSTER,
    STREAM,
    ClusterDown,
    RedisConnector,
    RedisWorkerError,
    Topology,
)
from tests.redis_server import RedisServer
from tests.redis_topologies import HOST, RedisClusterNodes, Relay

from .kinds import (
    START,
    WAIT,
    Producer,
    add,
    cluster_settings,
    flushed,
    hash_fields,
    make_worker,
    stream_ids,
    until,
)


def spread_columns(cluster: RedisClusterNodes, redis_node: str, per_shard: int = 1) -> dict[str, list[str]]:
    """Node names whose keys `<redis_node>_<node>` land on every shard, `per_shard` on each."""
    chosen: dict[int, list[str]] = {node.port: [] for node in cluster.primaries()}
    for index in range(200):
        name = f"n{index}"
        shard = cluster.shard_of(f"{redis_node}_{name}").port
        if len(chosen[shard]) < per_shard:
            chosen[shard].append(name)
        if all(len(names) == per_shard for names in chosen.values()):
            return {name: ["V", "I"] for names in chosen.values() for name in names}
    raise AssertionError("no spread found")  # pragma: no cover


def stats(client: redis.Redis) -> dict[str, int]:
    """Reads processed (the server's socket reads of client queries) and calls per command of a node, in
    one command (asking adds one read; the client's connection setup is counted before its first answer)."""
    info: dict[str, Any] = client.execute_command("INFO", "stats", "commandstats")
    counts = {"reads": int(info["total_reads_processed"])}
    counts |= {
        name.removeprefix("cmdstat_"): int(value["calls"])
        for name, value in info.items()
        if name.startswith("cmdstat_")
    }
    return counts


def errors(cluster: RedisClusterNodes, node: RedisServer, code: str) -> int:
    """How many `code` (MOVED, ASK) error replies a node gave."""
    with cluster.client(node) as client:
        value = client.info("errorstats").get(f"errorstat_{code}", {})
    return int(value.get("count", 0)) if isinstance(value, dict) else 0


def stored(cluster: RedisClusterNodes, key: str, stream: bool = False) -> list[int]:
    """The timestamps under `key`, read on the primary serving it."""
    with cluster.client(cluster.shard_of(key)) as client:
        return stream_ids(client, key) if stream else hash_fields(client, key)


async def test_failover_nothing_lost_with_wait_1(cluster: RedisClusterNodes) -> None:
    """Continuous writes to keys on every shard; SIGKILL a primary; its replica takes over; the killed node
    comes back as a replica: with WAIT 1 every sample is stored exactly once, hashes and streams alike."""
    connector = RedisConnector(cluster_settings(cluster, wait_replicas=1))
    outages: list[str] = []

    def on_lost(error: RedisWorkerError) -> None:
        outages.append(type(error).__name__)

    hashes = make_worker(connector, "van", on_lost, columns=spread_columns(cluster, "van"))
    streams = make_worker(
        connector, "vans", on_lost, structure=STREAM, columns=spread_columns(cluster, "vans")
    )
    producer = Producer([hashes, streams])
    try:
        for worker in (hashes, streams):
            await worker.start()
        producer.start()
        await producer.progress()
        assert await connector.topology() == Topology(CLUSTER, None, 3, 3, 1)
        victim = cluster.shard_of(f"van_{next(iter(hashes.settings.columns))}")
        cluster.kill(victim)
        try:
            during = await connector.topology()
        except ClusterDown:
            pass  # the others already agreed it failed: no slot of it is served until its replica is promoted
        else:
            assert (during.shards, during.shards_answering) == (3, 2)
        await asyncio.to_thread(cluster.wait_failover, victim)
        # The dead primary stays listed in its shard (a failed "master") until it is back: its successor
        # is the shard's primary, which answers (without a replica yet); the failover is seen.
        assert await connector.topology() == Topology(CLUSTER, None, 3, 3, 0)
        assert connector.failovers == 1
        await asyncio.to_thread(cluster.restart, victim)
        await producer.progress()
        assert await connector.topology() == Topology(CLUSTER, None, 3, 3, 1)
        assert connector.failovers == 1
        assert connector.last_failover is not None
        await producer.drain()
    finally:
        await producer.stop()
        for worker in (hashes, streams):
            await worker.stop()
        await connector.close()
    taken = list(range(START, START + producer.added))
    for node in hashes.settings.columns:
        assert stored(cluster, f"van_{node}") == taken
    for node in streams.settings.columns:
        assert stored(cluster, f"vans_{node}", stream=True) == taken
    assert hashes.written_samples == streams.written_samples == len(taken)
    assert outages
    print(f"\n1 cluster failover, {len(taken)} samples x 2 outputs x 3 shards, outages seen: {outages}")


async def test_keys_on_every_shard_one_round_trip_each(cluster: RedisClusterNodes) -> None:
    """One output's keys (the SET + 6 hashes) land on the 3 shards and are all written; each send is one
    socket read per shard however many commands it holds, and one WAIT per shard when replicas are waited
    for (counted by the servers: INFO stats total_reads_processed and INFO commandstats)."""
    columns = spread_columns(cluster, "van", per_shard=2)
    sends = 40
    for wait_replicas in (0, 1):
        connector = RedisConnector(cluster_settings(cluster, wait_replicas=wait_replicas))
        worker = make_worker(connector, "van", columns=columns, time_interval=3600, batch_size=1)
        add([worker], [START])
        await flushed(worker)  # the slot map and the connections are made
        primaries = cluster.primaries()
        admins = {node.port: cluster.client(node) for node in primaries}
        before = {port: stats(admin) for port, admin in admins.items()}
        add([worker], range(START + 1, START + 1 + sends))
        assert await worker.flush()
        after = {port: stats(admin) for port, admin in admins.items()}
        for admin in admins.values():
            admin.close()
        await connector.close()
        for node in primaries:
            delta = {name: after[node.port].get(name, 0) - count for name, count in before[node.port].items()}
            delta |= {
                name: count for name, count in after[node.port].items() if name not in before[node.port]
            }
            written = delta.get("hset", 0) + delta.get("sadd", 0)
            assert written >= 2 * sends, delta  # 2 or 3 keys of the output on this shard
            if wait_replicas:
                assert delta.get("wait", 0) == sends, delta  # one WAIT per shard and send
            else:
                # one read per send (+1 for the INFO asking, +2 for a replica's REPLCONF ACK meanwhile)
                assert sends <= delta["reads"] <= sends + 3, delta
                assert "wait" not in delta or delta["wait"] == 0
    for node in columns:
        assert stored(cluster, f"van_{node}") == list(range(START, START + 1 + sends))
    with cluster.client(cluster.shard_of("van")) as client:
        assert client.smembers("van") == set(columns)


async def test_moved_and_ask_during_writes(cluster: RedisClusterNodes) -> None:
    """A key's slot migrates to another primary while the output writes (ASK while half-moved, MOVED after):
    redis-py follows, the redirected writes are confirmed again, and nothing is lost."""
    connector = RedisConnector(cluster_settings(cluster, wait_replicas=1))
    columns = spread_columns(cluster, "van")
    worker = make_worker(connector, "van", columns=columns)
    producer = Producer([worker])
    moving = f"van_{next(iter(columns))}"
    source = cluster.shard_of(moving)
    target = next(node for node in cluster.primaries() if node is not source)
    asks, moves = errors(cluster, source, "ASK"), errors(cluster, source, "MOVED")
    try:
        await worker.start()
        producer.start()
        await producer.progress()

        def while_half_moved() -> None:  # in the launcher's thread, while the loop writes
            deadline = time.monotonic() + WAIT
            while errors(cluster, source, "ASK") <= asks:
                assert time.monotonic() < deadline, "no write was answered -ASK"
                time.sleep(0.02)

        await asyncio.to_thread(cluster.migrate_slot, moving, target, while_half_moved)
        await until(lambda: errors(cluster, source, "MOVED") > moves, "MOVED")
        await producer.progress()
        await producer.drain()
    finally:
        await producer.stop()
        await worker.stop()
        await connector.close()
    assert cluster.shard_of(moving) is target
    taken = list(range(START, START + producer.added))
    for node in columns:
        assert stored(cluster, f"van_{node}") == taken


async def test_nodes_seen_outlive_an_outage(
    cluster: RedisClusterNodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The configured seed is gone for good (here: a relay to a node, closed), the connector found the others
    meanwhile; then nothing answers for a while, long enough for a client to fail its start: once the nodes
    answer again, the connector finds them, not only the dead seed."""
    relay = Relay(cluster.nodes[0].port)
    connector = RedisConnector(replace(cluster_settings(cluster), nodes=((HOST, relay.port),)))
    worker = make_worker(connector, "van", time_interval=3600)
    try:
        add([worker], [START])
        assert await worker.flush()  # the slot map: every node
        relay.close()

        async def unreachable(*args: Any, **kwargs: Any) -> Any:
            raise redis.ConnectionError("network down")

        with monkeypatch.context() as outage:
            outage.setattr(ClusterNode, "execute_pipeline", unreachable)
            outage.setattr(ClusterNode, "execute_command", unreachable)
            for timestamp in (START + 1, START + 2):  # a send fails, then the next client cannot start
                add([worker], [timestamp])
                assert not await worker.flush()
        add([worker], [START + 3])
        assert await worker.flush(), worker.last_error
        assert stored(cluster, "van_bmv") == list(range(START, START + 4))
    finally:
        await worker.stop()
        await connector.close()
        relay.close()
