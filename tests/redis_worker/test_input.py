"""InputReader against real servers: what our outputs write and what the vemonitor daemon 0.1 writes, read
back newest point first, in one round trip per read, on a single server and on a cluster."""

import json
import math
from typing import Any

import pytest
import redis

from custom_components.vemonitor.redis_worker import (
    STREAM,
    CannotConnect,
    OutputSettings,
    OutputWorker,
    RedisConnector,
    RedisServerSettings,
    Sample,
    ServerError,
)
from custom_components.vemonitor.redis_worker.input import (
    FIELD_BUDGET,
    FUTURE_SECONDS,
    RECENT_SECONDS,
    InputReader,
    InputSettings,
    NodePoint,
)
from tests.redis_server import free_port
from tests.redis_topologies import RedisClusterNodes

from .kinds import cluster_settings
from .test_cluster import spread_columns, stats

START = 1_700_000_000
SEED = {"V": 12.064, "I": -7.52, "P": -91.0, "SOC": 83.8, "Alarm": 0, "AR": 0, "Relay": 0}
COLUMNS = {"bmv700": list(SEED)}


class Clock:
    """The reader's wall clock, set by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def seed_sample(timestamp: int, **changes: Any) -> Sample:
    return Sample(timestamp, {**SEED, "V": 12.0 + (timestamp - START) / 1000, **changes})


async def write(connector: RedisConnector, samples: list[Sample], **options: Any) -> None:
    """Store `samples` the way an output of ours does (kept forever: the timestamps are in the past)."""
    settings = OutputSettings(**{"redis_node": "bat_bmv700", "columns": COLUMNS} | options)
    worker = OutputWorker(lambda: connector, settings)
    for sample in samples:
        worker.add(sample)
    assert await worker.flush()


def reader_of(connector: RedisConnector, clock: Clock, **options: Any) -> InputReader:
    settings = InputSettings(**{"redis_node": "bat_bmv700", "columns": COLUMNS} | options)
    return InputReader(lambda: connector, settings, clock=clock)


async def test_reads_the_newest_point_of_our_output(connector: RedisConnector, reader: redis.Redis) -> None:
    await write(connector, [seed_sample(START + offset) for offset in range(10)])
    clock = Clock(START + 9.5)
    input_reader = reader_of(connector, clock, columns={"bmv700": ["SOC", "V", "NOT_SENT"]})
    assert input_reader.set_members is None
    points = await input_reader.read()
    # Only the configured labels, in configured order; one not in the point is absent.
    assert points == {"bmv700": NodePoint(START + 9, {"SOC": 83.8, "V": 12.009})}
    assert list(points["bmv700"].values) == ["SOC", "V"]  # type: ignore[union-attr]
    assert input_reader.set_members == "nodes"
    assert input_reader.set_contents == ("bmv700",)
    # stale_after ago exactly is out of the window; just inside is in.
    clock.now = START + 9 + 15
    assert (await input_reader.read()) == {"bmv700": None}
    clock.now = START + 9 + 14.9
    assert (await input_reader.read())["bmv700"] is not None
    assert "bat_bmv700" in repr(input_reader)


async def test_reads_the_vemonitor_daemon_layout(connector: RedisConnector, reader: redis.Redis) -> None:
    """vemonitor 0.1 lists the hash names in the SET; its values are the seed's JSON."""
    reader.sadd("bat_bmv700", "bat_bmv700_bmv700", "bat_bmv700_mppt")
    reader.hset(
        "bat_bmv700_bmv700",
        mapping={
            "1725292361": '{"V": 12.064, "I": -7.52, "P": -91.0, "SOC": 83.8, "Alarm": 0, "AR": 0}',
            "1725292362": '{"V": 12.065, "I": -7.537, "P": -91.0, "SOC": 83.8, "Alarm": 0, "AR": 0}',
        },
    )
    reader.hset("bat_bmv700_mppt", mapping={"1725292360": '{"PPV": 120, "CS": 3, "FW": "0403", "T": null}'})
    clock = Clock(1725292363.2)
    input_reader = reader_of(
        connector, clock, columns={"bmv700": ["V", "I"], "mppt": ["PPV", "CS", "FW", "T"]}
    )
    points = await input_reader.read()
    assert points == {
        "bmv700": NodePoint(1725292362, {"V": 12.065, "I": -7.537}),
        "mppt": NodePoint(1725292360, {"PPV": 120, "CS": 3, "FW": "0403", "T": None}),
    }
    assert input_reader.set_members == "hashes"
    assert input_reader.set_contents == ("bat_bmv700_bmv700", "bat_bmv700_mppt")


async def test_stream(connector: RedisConnector, reader: redis.Redis) -> None:
    await write(
        connector,
        [seed_sample(START), seed_sample(START + 1, P=None, AR=8, Relay=1, SOC=math.nan)],
        structure=STREAM,
        set_members="hashes",
    )
    columns = {"bmv700": ["V", "P", "AR", "Relay", "SOC", "I"]}
    input_reader = reader_of(connector, Clock(START + 3), structure=STREAM, columns=columns)
    (point,) = (await input_reader.read()).values()
    assert point is not None
    assert point.timestamp == START + 1
    soc = point.values.pop("SOC")
    assert isinstance(soc, float)
    assert math.isnan(soc)
    assert point.values == {"V": 12.001, "P": None, "AR": 8, "Relay": 1, "I": -7.52}
    assert type(point.values["AR"]) is int
    assert input_reader.set_members == "hashes"
    # Older than the window: none; an empty or missing stream: none.
    assert (await reader_of(connector, Clock(START + 100), structure=STREAM).read()) == {"bmv700": None}
    other = reader_of(connector, Clock(START), structure=STREAM, redis_node="nothing_here")
    assert (await other.read()) == {"bmv700": None}
    assert other.set_members is None
    assert other.set_contents == ()


async def test_stream_text_values(connector: RedisConnector, reader: redis.Redis) -> None:
    """Text stays text; JSON numbers come back as numbers, with exponents and constants."""
    reader.xadd(
        "txt_node",
        {"FW": "0403", "SER#": "HQ1234", "E": "1e-3", "BIG": "-2.5E+3", "INF": "-Infinity", "Z": "0"},
        id=f"{START * 1000}-0",
    )
    columns = {"node": ["FW", "SER#", "E", "BIG", "INF", "Z"]}
    settings = InputSettings(redis_node="txt", columns=columns, structure=STREAM)
    (point,) = (await InputReader(lambda: connector, settings, clock=lambda: START).read()).values()
    assert point == NodePoint(
        START, {"FW": "0403", "SER#": "HQ1234", "E": 0.001, "BIG": -2500.0, "INF": -math.inf, "Z": 0}
    )


async def test_stale_and_back(connector: RedisConnector, reader: redis.Redis) -> None:
    clock = Clock(START + 1)
    input_reader = reader_of(connector, clock, stale_after=5)
    assert (await input_reader.read()) == {"bmv700": None}  # nothing written yet
    await write(connector, [seed_sample(START)])
    assert (await input_reader.read())["bmv700"] == NodePoint(START, {**SEED, "V": 12.0})
    clock.now = START + 6
    assert (await input_reader.read()) == {"bmv700": None}
    await write(connector, [seed_sample(START + 6)])
    point = (await input_reader.read())["bmv700"]
    assert point is not None
    assert point.timestamp == START + 6


async def test_a_writer_a_little_ahead(connector: RedisConnector, reader: redis.Redis) -> None:
    """A point up to FUTURE_SECONDS ahead of the reader's clock is its newest; further ahead is not seen."""
    await write(connector, [seed_sample(START), seed_sample(START + 3), seed_sample(START + 30)])
    point = (await reader_of(connector, Clock(START)).read())["bmv700"]
    assert point is not None
    assert point.timestamp == START + 3 <= START + FUTURE_SECONDS


async def test_skips_what_is_no_point(connector: RedisConnector, reader: redis.Redis) -> None:
    """A field that is no JSON object is skipped for the next older one."""
    reader.hset(
        "bat_bmv700_bmv700",
        mapping={str(START - 2): '{"V": 12.5}', str(START - 1): "[1, 2]", str(START): "not json"},
    )
    reader.sadd("bat_bmv700", "someone_else")
    input_reader = reader_of(connector, Clock(START))
    assert (await input_reader.read()) == {"bmv700": NodePoint(START - 2, {"V": 12.5})}
    # A SET listing neither the nodes nor the hashes: shown, and asked again at the next read.
    assert input_reader.set_members is None
    assert input_reader.set_contents == ("someone_else",)
    reader.sadd("bat_bmv700", "bmv700")
    await input_reader.read()
    assert input_reader.set_members == "nodes"


async def test_a_wide_window_is_swept_within_the_field_budget(
    connector: RedisConnector, reader: redis.Redis
) -> None:
    """A day-wide window (a writer sending every few hours) never asks more than FIELD_BUDGET fields of a
    node per read: the newest seconds every time, the older ones a slice per read, so that a point 20 hours
    old is found within a sweep, and a new point at once."""
    day = 86_400
    await write(connector, [seed_sample(START)], redis_node="bat_wide")
    clock = Clock(START + 20 * 3600 + 0.5)
    input_reader = reader_of(connector, clock, redis_node="bat_wide", stale_after=day, set_members="nodes")
    sweeps = math.ceil(day / (FIELD_BUDGET - RECENT_SECONDS))
    reads, point = 0, None
    while point is None and reads < sweeps:
        assert len(input_reader.window(clock.now, None, "probe")) <= FIELD_BUDGET
        before = stats(reader)
        point = (await input_reader.read())["bmv700"]
        assert stats(reader)["hmget"] - before["hmget"] == 1
        reads += 1
    assert point == NodePoint(START, {**SEED, "V": 12.0})
    assert reads > 1  # the 20-hour-old point was in a later slice, not in the first read
    # Found: the next read asks from it on, still within the budget; a new point shows at once.
    clock.now += 1
    await write(connector, [seed_sample(START + 20 * 3600)], redis_node="bat_wide")
    assert (await input_reader.read())["bmv700"].timestamp == START + 20 * 3600  # type: ignore[union-attr]


async def test_steady_reads_ask_from_the_newest_point(connector: RedisConnector, reader: redis.Redis) -> None:
    """Once a node's newest point is known, a read asks the seconds from it on; a point that vanished costs
    one more round trip over the whole window; a clock set back asks the whole window again."""
    await write(connector, [seed_sample(START + offset) for offset in range(10)])
    clock = Clock(START + 9.5)
    input_reader = reader_of(connector, clock, stale_after=3600, set_members="nodes")
    assert len(input_reader.window(clock.now)) == 3600 + FUTURE_SECONDS
    assert (await input_reader.read())["bmv700"].timestamp == START + 9  # type: ignore[union-attr]
    assert input_reader.window(clock.now, START + 9) == [
        b"%d" % (START + 9 + back) for back in range(5, -1, -1)
    ]
    # A point sent late (older than the clock, newer than the newest seen) is found.
    clock.now = START + 12
    await write(connector, [seed_sample(START + 10)])
    assert (await input_reader.read())["bmv700"].timestamp == START + 10  # type: ignore[union-attr]
    # The newest points are deleted: the whole window again, in a second round trip.
    reader.hdel("bat_bmv700_bmv700", str(START + 10), str(START + 9))
    before = stats(reader)
    assert (await input_reader.read())["bmv700"].timestamp == START + 8  # type: ignore[union-attr]
    assert stats(reader)["hmget"] - before["hmget"] == 2
    # The clock set back before the newest point seen: the whole window.
    clock.now = START + 0.5
    assert (await input_reader.read())["bmv700"].timestamp == START + FUTURE_SECONDS  # type: ignore[union-attr]
    # Older than the window: none (and nothing seen any more).
    clock.now = START + 8 + 3600
    assert (await input_reader.read()) == {"bmv700": None}


async def test_one_round_trip_per_read(connector: RedisConnector, reader: redis.Redis) -> None:
    """Every node in one pipeline; SMEMBERS only until the SET told what it lists."""
    columns = {"a": ["V"], "b": ["I"], "c": ["P"]}
    await write(connector, [seed_sample(START)], columns=columns)
    input_reader = reader_of(connector, Clock(START + 1), columns=columns)
    before = stats(reader)
    await input_reader.read()  # connects (HELLO, CLIENT SETINFO...) and detects
    assert stats(reader).get("smembers", 0) - before.get("smembers", 0) == 1
    for _ in range(3):
        before = stats(reader)
        points = await input_reader.read()
        after = stats(reader)
        assert all(point is not None for point in points.values())
        assert after.get("hmget", 0) - before.get("hmget", 0) == 3
        assert after.get("smembers", 0) == before.get("smembers", 0)
        assert after["reads"] - before["reads"] == 2  # the read's pipeline, and the INFO of `stats`
    assert input_reader.set_members == "nodes"


async def test_a_refused_read_and_an_unreachable_server(
    connector: RedisConnector, reader: redis.Redis
) -> None:
    reader.set("bat_bmv700_bmv700", "a string, not a hash")
    reader.set("bat_bmv700", "not a set either")  # the SET's error tells nothing: no failure for it
    input_reader = reader_of(connector, Clock(START))
    with pytest.raises(ServerError, match="WRONGTYPE"):
        await input_reader.read()
    assert input_reader.set_members is None
    down = RedisConnector(RedisServerSettings("127.0.0.1", free_port(), timeout=1.0))
    try:
        with pytest.raises(CannotConnect):
            await reader_of(down, Clock(START)).read()
    finally:
        await down.close()

    def no_connector() -> RedisConnector:
        raise CannotConnect("the Redis server entry is not loaded")

    with pytest.raises(CannotConnect, match="not loaded"):
        await InputReader(no_connector, InputSettings(redis_node="x", columns={"n": ["V"]})).read()


async def test_known_set_members_are_not_asked(connector: RedisConnector, reader: redis.Redis) -> None:
    await write(connector, [seed_sample(START)])
    input_reader = reader_of(connector, Clock(START), set_members="hashes")
    before = stats(reader)
    assert (await input_reader.read())["bmv700"] is not None
    assert stats(reader).get("smembers", 0) == before.get("smembers", 0)
    assert input_reader.set_members == "hashes"
    assert input_reader.set_contents is None


@pytest.mark.parametrize(
    "options",
    [
        {"redis_node": ""},
        {"columns": {}},
        {"columns": {"n": []}},
        {"structure": "Nope"},
        {"time_interval": 0},
        {"stale_after": 0.5},
        {"stale_after": math.inf},
        {"set_members": "both"},
    ],
)
def test_settings_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        InputSettings(**{"redis_node": "bat", "columns": COLUMNS} | options)


async def test_cluster(cluster: RedisClusterNodes) -> None:
    """Nodes on every shard, one pipelined read routed per shard."""
    connector = RedisConnector(cluster_settings(cluster))
    try:
        samples = [Sample(START + offset, {"V": 12.5 + offset, "I": -1.5}) for offset in range(3)]
        for structure in ("HmapTimeSeries", STREAM):
            columns = spread_columns(cluster, f"van{structure}")
            await write(
                connector, samples, redis_node=f"van{structure}", columns=columns, structure=structure
            )
            settings = InputSettings(redis_node=f"van{structure}", columns=columns, structure=structure)
            points = await InputReader(lambda: connector, settings, clock=lambda: START + 2).read()
            assert points == {node: NodePoint(START + 2, {"V": 14.5, "I": -1.5}) for node in columns}
    finally:
        await connector.close()


def test_window_is_newest_first() -> None:
    settings = InputSettings(redis_node="bat", columns=COLUMNS, stale_after=3)
    reader = InputReader(lambda: RedisConnector(RedisServerSettings("127.0.0.1")), settings)
    fields = reader.window(100.5)
    assert fields[0] == b"%d" % (100 + FUTURE_SECONDS)
    assert fields[-3:] == [b"100", b"99", b"98"]  # (97.5, 100.5]
    assert json.dumps([field.decode() for field in fields]).count(",") == FUTURE_SECONDS + 2
