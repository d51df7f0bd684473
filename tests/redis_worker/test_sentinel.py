"""Sentinel kind against a real group (1 master, 1 replica, 3 sentinels): writes across SIGKILLed masters."""

import asyncio
import logging
from pathlib import Path
import time

import pytest

from custom_components.vemonitor.redis_worker import (
    SENTINEL,
    STREAM,
    RedisConnector,
    RedisWorkerError,
    ReplicasBehind,
    Topology,
)
from tests.redis_topologies import SentinelGroup

from .kinds import (
    START,
    Producer,
    add,
    flushed,
    hash_fields,
    make_worker,
    sentinel_settings,
    stream_ids,
    until,
)

FAILOVERS = 5


async def test_five_failovers_every_sample_once_with_wait_1(
    sentinel: SentinelGroup, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGKILL the master 5 times during continuous writes (the killed one back as a replica each time):
    with WAIT 1 every sample taken is stored exactly once, in a hash and in a stream alike."""
    caplog.set_level(logging.INFO, "custom_components.vemonitor.redis_worker")
    connector = RedisConnector(sentinel_settings(sentinel, wait_replicas=1))
    lost: list[str] = []  # the failure each outage of a worker starts with

    def on_lost(error: RedisWorkerError) -> None:
        lost.append(type(error).__name__)

    hashes = make_worker(connector, "van", on_lost)
    streams = make_worker(connector, "vans", on_lost, structure=STREAM)
    producer = Producer([hashes, streams])
    try:
        for worker in (hashes, streams):
            await worker.start()
        producer.start()
        await producer.progress()
        masters = [(await connector.topology()).master]
        for round_ in range(FAILOVERS):
            old = sentinel.kill_master()
            new = await asyncio.to_thread(sentinel.wait_failover, old)
            assert new is not old
            await asyncio.to_thread(sentinel.restart, old)
            await producer.progress()
            topology = await connector.topology()
            # (a spurious failover of a loaded machine may have moved it again since: the data still counts)
            assert topology.master == f"127.0.0.1:{sentinel.master().port}"
            assert topology == Topology(SENTINEL, topology.master, None, None, 1)
            assert connector.failovers >= round_ + 1
            masters.append(topology.master)
        await producer.drain()
    finally:
        await producer.stop()
        for worker in (hashes, streams):
            await worker.stop()
        await connector.close()

    taken = list(range(START, START + producer.added))
    with sentinel.client(sentinel.master()) as client:
        assert hash_fields(client, "van_bmv") == taken
        assert stream_ids(client, "vans_bmv") == taken
        assert client.smembers("van") == {"bmv"}
    assert hashes.written_samples == streams.written_samples == len(taken)
    assert hashes.dropped_samples == streams.dropped_samples == 0
    assert len(set(masters)) == 2  # back and forth between the two nodes
    assert connector.last_failover is not None
    assert caplog.text.count("master moved from") == connector.failovers
    assert lost  # the workers did see the outages (and were told when the replica was missing)
    print(f"\n{connector.failovers} failovers seen, {len(taken)} samples x 2 outputs, outages: {lost}")


@pytest.mark.parametrize("wait_replicas", [0, 1])
async def test_what_a_failover_loses(tmp_path: Path, wait_replicas: int) -> None:
    """The master acknowledges writes its replica never gets (replication held back), then dies and the
    replica is promoted: with WAIT 0 those samples are gone; with WAIT 1 they were never acknowledged, stay in
    the backlog, and reach the new master."""
    group = SentinelGroup(tmp_path / "group", relay=True)
    await asyncio.to_thread(group.start)
    with group:
        connector = RedisConnector(sentinel_settings(group, wait_replicas=wait_replicas))
        worker = make_worker(connector, "van", time_interval=3600)  # sends on flush() only
        replica = group.replicas()[0]
        add([worker], range(START, START + 100))
        assert await worker.flush()
        with group.client(replica) as client:
            await until(lambda: client.hlen("van_bmv") == 100, "replicated")
        with group.replication_held():
            add([worker], range(START + 100, START + 200))
            started = time.monotonic()
            assert await worker.flush() is (wait_replicas == 0)
            if wait_replicas:
                assert isinstance(worker.last_error, ReplicasBehind)
                assert worker.pending_samples == 100
                assert time.monotonic() - started >= 0.9  # WAIT's timeout: the master did wait
            with group.client(group.master()) as client:
                assert client.hlen("van_bmv") == 200  # acknowledged by the master either way
            old = group.kill_master()
            new = await asyncio.to_thread(group.wait_failover, old)
        assert new.port == replica.port
        if wait_replicas:
            assert not await worker.flush()  # the new master has no replica yet: not confirmed
            await asyncio.to_thread(group.restart, old)
        add([worker], range(START + 200, START + 300))
        await flushed(worker)
        await connector.close()
        with group.client(new) as client:
            stored = hash_fields(client, "van_bmv")
    if wait_replicas:
        assert stored == list(range(START, START + 300))
    else:
        assert stored == [*range(START, START + 100), *range(START + 200, START + 300)]  # 100 lost
