"""The Stream structure (ids, fields, idempotent retries, MINID trimming) and the SET members option."""

from collections.abc import Callable
from pathlib import Path
import time
from typing import Any

import pytest
import redis

from custom_components.vemonitor.redis_worker import (
    DEFAULT_STRUCTURE,
    STREAM,
    HmapTimeSeries,
    OutputSettings,
    OutputWorker,
    RedisConnector,
    RedisServerSettings,
    Sample,
    ServerError,
    Stream,
    Value,
    create_structure,
    structure_names,
)
from tests.redis_server import RedisServer, free_port

SEED_COLUMNS = {"bmv700": ["V", "I", "P", "SOC", "Alarm", "AR", "Relay"]}
SEED_VALUES: dict[str, Value] = {
    "V": 12.064,
    "I": -7.52,
    "P": -91.0,
    "SOC": 83.8,
    "Alarm": 0,
    "AR": 0,
    "Relay": 0,
}
ZEROS = [("Alarm", "0"), ("AR", "0"), ("Relay", "0")]
KEY = "bat_bmv700_bmv700"


def make_worker(connector: RedisConnector, **kwargs: Any) -> OutputWorker:
    """A Stream output under bat_bmv700 (the seed's columns unless given)."""
    spool_path = kwargs.pop("spool_path", None)
    clock = kwargs.pop("clock", time.time)
    on_lost = kwargs.pop("on_lost", None)
    options = {"redis_node": "bat_bmv700", "columns": SEED_COLUMNS, "structure": STREAM} | kwargs
    return OutputWorker(
        lambda: connector, OutputSettings(**options), spool_path=spool_path, clock=clock, on_lost=on_lost
    )


def entries(client: redis.Redis, key: str = KEY) -> list[tuple[str, list[tuple[str, str]]]]:
    """XRANGE as (id, [(field, value), ...]) in stored order."""
    return [(entry_id, list(fields.items())) for entry_id, fields in client.xrange(key)]


def ids(client: redis.Redis, key: str = KEY) -> list[str]:
    return [entry_id for entry_id, _ in client.xrange(key)]


async def test_seed_example_as_a_stream(connector: RedisConnector, reader: redis.Redis) -> None:
    worker = make_worker(connector)
    # Not in column order, with a label the output ignores.
    worker.add(Sample(1725292361, {"PID": "0x203", **dict(reversed(SEED_VALUES.items()))}))
    worker.add(Sample(1725292362, SEED_VALUES | {"V": 12.065, "I": -7.537}))
    assert await worker.flush()
    assert set(reader.keys("*")) == {"bat_bmv700", KEY}
    assert reader.type(KEY) == "stream"
    assert reader.smembers("bat_bmv700") == {"bmv700"}
    assert entries(reader) == [
        (
            "1725292361000-0",
            [("V", "12.064"), ("I", "-7.52"), ("P", "-91.0"), ("SOC", "83.8"), *ZEROS],
        ),
        (
            "1725292362000-0",
            [("V", "12.065"), ("I", "-7.537"), ("P", "-91.0"), ("SOC", "83.8"), *ZEROS],
        ),
    ]
    assert worker.written_samples == 2


async def test_value_forms_and_absent_columns(connector: RedisConnector, reader: redis.Redis) -> None:
    worker = make_worker(
        connector, redis_node="van", columns={"bmv": ["V", "TTG", "PID", "Big", "Z"], "mppt": ["PPV"]}
    )
    worker.add(Sample(10, {"V": -0.0, "TTG": None, "PID": 'tëxt "q"', "Big": 10**20, "Z": float("nan")}))
    worker.add(Sample(11, {"PPV": 40}))  # no bmv column: no bmv entry
    worker.add(Sample(12, {"Relay": 1}))  # none of the columns: nothing at all
    worker.add(Sample(0, {"V": 1}))  # no entry id at the epoch (0-0 is refused): not buffered
    assert worker.pending_samples == 2
    assert await worker.flush()
    assert entries(reader, "van_bmv") == [
        ("10000-0", [("V", "-0.0"), ("TTG", ""), ("PID", 'tëxt "q"'), ("Big", "1" + "0" * 20), ("Z", "NaN")])
    ]
    assert entries(reader, "van_mppt") == [("11000-0", [("PPV", "40")])]
    assert reader.smembers("van") == {"bmv", "mppt"}
    structure = Stream("van", {"n": ["a", "b", "c"]})
    assert structure.decode(structure.encode(Sample(1, {"a": 1.5, "b": None, "c": True})) or b"") == {
        "a": 1.5,
        "b": None,
        "c": True,
    }


async def test_a_retried_batch_writes_nothing_twice(connector: RedisConnector, reader: redis.Redis) -> None:
    lost: list[object] = []
    worker = make_worker(connector, on_lost=lost.append)
    for ts in range(100, 103):
        worker.add(Sample(ts, SEED_VALUES))
    assert await worker.flush()
    # The same rows again (a chunk whose reply was lost, a spool segment reloaded twice), then new ones.
    for ts in range(100, 106):
        worker.add(Sample(ts, SEED_VALUES | {"V": 99.0}))
    reader.config_resetstat()
    assert await worker.flush()
    assert reader.xlen(KEY) == 6
    assert ids(reader) == [f"{ts}000-0" for ts in range(100, 106)]
    assert reader.xrange(KEY, "100000-0", "100000-0")[0][1]["V"] == "12.064"  # the first write stays
    assert lost == []
    assert worker.connected
    assert worker.last_error is None
    assert worker.pending_samples == 0
    assert reader.info("commandstats")["cmdstat_xadd"]["failed_calls"] == 3
    assert await worker.flush()  # nothing pending: nothing sent


async def test_minid_trims_the_window(connector: RedisConnector, reader: redis.Redis) -> None:
    now = 1_800_000_000  # trimming compares ids, not the server's clock
    forever = make_worker(connector)
    for ts in (now - 20, now - 11, now - 10):
        forever.add(Sample(ts, SEED_VALUES))
    assert await forever.flush()
    worker = make_worker(connector, retention=10, clock=lambda: now)
    for ts in (now - 15, now - 9, now):  # now - 15: out of the window, not sent
        worker.add(Sample(ts, SEED_VALUES))
    reader.config_resetstat()
    assert await worker.flush()
    assert ids(reader) == [f"{now - 9}000-0", f"{now}000-0"]
    assert (worker.expired_samples, worker.written_samples) == (1, 2)
    stats = reader.info("commandstats")
    assert stats["cmdstat_xtrim"]["calls"] == 1
    assert stats["cmdstat_xadd"]["calls"] == 2
    assert "failed_calls" not in stats["cmdstat_xadd"] or stats["cmdstat_xadd"]["failed_calls"] == 0


async def test_other_errors_still_fail_the_send(connector: RedisConnector, reader: redis.Redis) -> None:
    reader.set(KEY, "a string, not a stream")
    lost: list[object] = []
    worker = make_worker(connector, on_lost=lost.append)
    worker.add(Sample(1, SEED_VALUES))
    assert not await worker.flush()
    assert isinstance(worker.last_error, ServerError)
    assert "WRONGTYPE" in str(worker.last_error)
    assert f"(XADD {KEY})" in str(worker.last_error)  # which command and key, never the values
    assert "12.064" not in str(worker.last_error)
    assert len(lost) == 1
    assert worker.pending_samples == 1
    reader.delete(KEY)
    assert await worker.flush()
    assert reader.xlen(KEY) == 1


async def test_unknown_xtrim_is_no_expiry_fallback(make_server: Callable[..., RedisServer]) -> None:
    server = make_server(extra_config=['rename-command XTRIM ""'])
    connector = RedisConnector(RedisServerSettings(server.host, server.port))
    worker = make_worker(connector, retention=60)
    worker.add(Sample(int(time.time()), SEED_VALUES))
    assert not await worker.flush()
    assert "unknown command 'XTRIM'" in str(worker.last_error)
    assert await connector.expiry_mode() == "hsetex"
    await connector.close()


@pytest.mark.parametrize("structure", [DEFAULT_STRUCTURE, STREAM])
async def test_set_members_hashes(structure: str, connector: RedisConnector, reader: redis.Redis) -> None:
    """vemonitor 0.1.x readers find the full key names in the SET; the keys themselves are unchanged."""
    worker = make_worker(
        connector, structure=structure, columns={"bmv700": ["V"], "mppt": ["PPV"]}, set_members="hashes"
    )
    worker.add(Sample(1725292361, {"V": 12.064, "PPV": 40}))
    assert await worker.flush()
    assert reader.smembers("bat_bmv700") == {"bat_bmv700_bmv700", "bat_bmv700_mppt"}
    assert set(reader.keys("*")) == {"bat_bmv700", "bat_bmv700_bmv700", "bat_bmv700_mppt"}
    assert worker.structure.layout["set_members"] == "hashes"
    nodes = create_structure(structure, "bat_bmv700", {"bmv700": ["V"]})
    assert nodes.layout == {
        "structure": structure,
        "redis_node": "bat_bmv700",
        "columns": {"bmv700": ["V"]},
        "set_members": "nodes",
    }


async def test_spool_converted_between_structures(
    connector: RedisConnector, reader: redis.Redis, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    away = RedisConnector(RedisServerSettings("127.0.0.1", free_port()))
    hashes = make_worker(away, structure=DEFAULT_STRUCTURE, spool_path=spool)
    hashes.add(Sample(1725292361, SEED_VALUES))
    assert not await hashes.flush()
    await hashes.stop()
    await away.close()
    stream = make_worker(connector, spool_path=spool, set_members="hashes")  # reconfigured output
    await stream.start()
    assert await stream.flush()
    await stream.stop()
    assert ids(reader) == ["1725292361000-0"]
    assert reader.smembers("bat_bmv700") == {KEY}


def test_registry_and_options() -> None:
    assert structure_names()[:2] == [DEFAULT_STRUCTURE, STREAM]
    assert isinstance(create_structure(STREAM, "x", {"n": ["V"]}), Stream)
    assert isinstance(create_structure(None, "x", {"n": ["V"]}, set_members="hashes"), HmapTimeSeries)
    with pytest.raises(ValueError, match="set_members"):
        create_structure(STREAM, "x", {"n": ["V"]}, set_members="keys")
    with pytest.raises(ValueError, match="set_members"):
        Stream("x", {"n": ["V"]}, set_members="keys")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="redis_node"):
        Stream("", {"n": ["V"]})
