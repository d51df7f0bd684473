"""HmapTimeSeries byte for byte as the seed, and the structure registry."""

from collections.abc import Sequence
import json
from typing import Any

import pytest
import redis
from redis.asyncio.client import Pipeline

from custom_components.vemonitor.redis_worker import (
    DEFAULT_STRUCTURE,
    HmapTimeSeries,
    OutputSettings,
    OutputWorker,
    RedisConnector,
    Sample,
    Value,
    create_structure,
    register_structure,
    structure_names,
)
from custom_components.vemonitor.redis_worker.structures import Columns

SEED_COLUMNS = {"bmv700": ["V", "I", "P", "SOC", "Alarm", "AR", "Relay"]}
SEED_HASH = {
    "1725292361": '{"V": 12.064, "I": -7.52, "P": -91.0, "SOC": 83.8, "Alarm": 0, "AR": 0, "Relay": 0}',
    "1725292362": '{"V": 12.065, "I": -7.537, "P": -91.0, "SOC": 83.8, "Alarm": 0, "AR": 0, "Relay": 0}',
    "1725292363": '{"V": 12.064, "I": -7.537, "P": -91.0, "SOC": 83.8, "Alarm": 0, "AR": 0, "Relay": 0}',
    "1725292364": '{"V": 12.064, "I": -7.514, "P": -91.0, "SOC": 83.8, "Alarm": 0, "AR": 0, "Relay": 0}',
    "1725292365": '{"V": 12.064, "I": -7.536, "P": -91.0, "SOC": 83.8, "Alarm": 0, "AR": 0, "Relay": 0}',
}


def seed_samples() -> list[Sample]:
    """The seed's five points, as the VE.Direct layer delivers them (more labels than the columns)."""
    currents = [-7.52, -7.537, -7.537, -7.514, -7.536]
    volts = [12.064, 12.065, 12.064, 12.064, 12.064]
    return [
        Sample(
            1725292361 + index,
            # Deliberately not in column order, with extra labels the output must ignore.
            {"Relay": 0, "AR": 0, "PID": "0x203", "SOC": 83.8, "P": -91.0, "I": i, "V": v, "Alarm": 0},
        )
        for index, (i, v) in enumerate(zip(currents, volts, strict=True))
    ]


def make_worker(connector: RedisConnector, **kwargs: Any) -> OutputWorker:
    """A worker on `connector` (no spool unless given)."""
    spool_path = kwargs.pop("spool_path", None)
    settings = OutputSettings(**({"redis_node": "bat_bmv700", "columns": SEED_COLUMNS} | kwargs))
    return OutputWorker(lambda: connector, settings, spool_path=spool_path)


async def test_golden_seed_example(connector: RedisConnector, reader: redis.Redis) -> None:
    worker = make_worker(connector)
    for sample in seed_samples():
        worker.add(sample)
    assert worker.pending_samples == 5
    assert await worker.flush()
    assert set(reader.keys("*")) == {"bat_bmv700", "bat_bmv700_bmv700"}
    assert reader.smembers("bat_bmv700") == {"bmv700"}
    assert reader.hgetall("bat_bmv700_bmv700") == SEED_HASH
    assert worker.pending_samples == 0
    assert worker.written_samples == 5


async def test_one_round_trip_per_send(connector: RedisConnector, reader: redis.Redis) -> None:
    worker = make_worker(connector, columns={"a": ["V"], "b": ["I"]})
    reader.config_resetstat()
    for ts in range(100, 130):
        worker.add(Sample(ts, {"V": 1.0, "I": 2.0}))
    assert await worker.flush()
    stats = reader.info("commandstats")
    assert stats["cmdstat_sadd"]["calls"] == 1
    assert stats["cmdstat_hset"]["calls"] == 2  # one multi-field HSET per node
    assert reader.hlen("bat_bmv700_a") == reader.hlen("bat_bmv700_b") == 30


async def test_chunks_oldest_first(connector: RedisConnector, reader: redis.Redis) -> None:
    worker = make_worker(connector, batch_size=3)
    reader.config_resetstat()
    for ts in range(1, 11):
        worker.add(Sample(ts, {"V": float(ts)}))
    assert await worker.flush()
    assert reader.info("commandstats")["cmdstat_hset"]["calls"] == 4
    assert reader.hgetall("bat_bmv700_bmv700") == {str(ts): f'{{"V": {float(ts)}}}' for ts in range(1, 11)}


async def test_column_order_is_the_configured_one(connector: RedisConnector, reader: redis.Redis) -> None:
    worker = make_worker(connector, columns={"n": ["SOC", "V", "CS", "PID"]})
    worker.add(Sample(1, {"V": 12.5, "PID": "0xA053", "CS": 3, "SOC": 99.5}))
    assert await worker.flush()
    assert reader.hget("bat_bmv700_n", "1") == '{"SOC": 99.5, "V": 12.5, "CS": 3, "PID": "0xA053"}'


async def test_multi_node_and_absent_columns(connector: RedisConnector, reader: redis.Redis) -> None:
    worker = make_worker(
        connector, redis_node="van", columns={"bmv": ["V", "I", "TTG"], "mppt": ["PPV", "CS"]}
    )
    worker.add(Sample(10, {"V": 12.5, "I": -1.25, "TTG": None, "PPV": 40, "CS": 3}))
    worker.add(Sample(11, {"V": 12.6, "PPV": 41}))  # I, TTG and CS absent: left out
    worker.add(Sample(12, {"V": 12.7}))  # no mppt column at all: no mppt field
    worker.add(Sample(13, {"Relay": 1}))  # none of the columns: nothing stored
    assert worker.pending_samples == 3
    assert await worker.flush()
    assert reader.smembers("van") == {"bmv", "mppt"}
    assert reader.hgetall("van_bmv") == {
        "10": '{"V": 12.5, "I": -1.25, "TTG": null}',
        "11": '{"V": 12.6}',
        "12": '{"V": 12.7}',
    }
    assert reader.hgetall("van_mppt") == {"10": '{"PPV": 40, "CS": 3}', "11": '{"PPV": 41}'}


def test_encode_is_json_dumps() -> None:
    structure = HmapTimeSeries("node", {"n": ["a", "b", "c", "d"]})
    values: dict[str, Value] = {"a": 'tëxt "q"\n', "b": float("nan"), "c": 10**20, "d": -0.0}
    row = structure.encode(Sample(1, values))
    assert row == json.dumps(values).encode()
    assert structure.decode(b'{"a": 1}\n\n{"b": null}') == {"a": 1, "b": None}


def test_structure_validation() -> None:
    with pytest.raises(ValueError, match="redis_node"):
        HmapTimeSeries("", {"n": ["V"]})
    with pytest.raises(ValueError, match="columns"):
        HmapTimeSeries("x", {"n": []})
    with pytest.raises(ValueError, match="columns"):
        HmapTimeSeries("x", {})


def test_registry() -> None:
    assert structure_names()[0] == DEFAULT_STRUCTURE
    assert isinstance(create_structure(None, "x", {"n": ["V"]}), HmapTimeSeries)
    assert isinstance(create_structure("", "x", {"n": ["V"]}), HmapTimeSeries)
    with pytest.raises(ValueError, match="unknown data structure"):
        create_structure("Nope", "x", {"n": ["V"]})
    with pytest.raises(ValueError, match="registered twice"):
        register_structure(DEFAULT_STRUCTURE)(HmapTimeSeries)


@register_structure("TestListStructure")
class ListStructure:
    """A second layout (one Redis list of "ts:V" strings), to show the worker needs no change."""

    def __init__(self, redis_node: str, columns: Columns) -> None:
        self.key = redis_node

    @property
    def layout(self) -> dict[str, Any]:
        return {"structure": "TestListStructure", "redis_node": self.key, "columns": {}}

    def encode(self, sample: Sample) -> bytes | None:
        return f"{sample.timestamp}:{sample.values.get('V')}".encode()

    def decode(self, row: bytes) -> dict[str, Value]:
        return {"V": row.decode().split(":")[1]}

    def queue_write(self, pipe: Pipeline, timestamps: Sequence[int], rows: Sequence[bytes]) -> None:
        pipe.rpush(self.key, *rows)


async def test_second_structure_through_the_registry(connector: RedisConnector, reader: redis.Redis) -> None:
    worker = make_worker(connector, redis_node="list", structure="TestListStructure")
    worker.add(Sample(1, {"V": 1}))
    worker.add(Sample(2, {"V": 2}))
    assert await worker.flush()
    assert reader.lrange("list", 0, -1) == ["1:1", "2:2"]
