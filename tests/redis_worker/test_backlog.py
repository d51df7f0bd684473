"""Backlog: order, sequence-number acknowledgement, limit, chunk reuse and memory per sample."""

import tracemalloc

import pytest

from custom_components.vemonitor.redis_worker import HmapTimeSeries, Sample
from custom_components.vemonitor.redis_worker.backlog import CHUNK_ROWS, Backlog


def test_rows_across_chunks_and_release() -> None:
    backlog = Backlog(10 * CHUNK_ROWS)
    count = 3 * CHUNK_ROWS + 5
    for ts in range(count):
        assert backlog.append(ts, f"r{ts}".encode()) == 0
    assert len(backlog) == count
    timestamps, rows = backlog.rows(CHUNK_ROWS - 2, CHUNK_ROWS + 2)
    assert timestamps == list(range(CHUNK_ROWS - 2, CHUNK_ROWS + 2))
    assert rows == [f"r{ts}".encode() for ts in timestamps]
    backlog.release(2 * CHUNK_ROWS + 1)
    assert len(backlog) == count - 2 * CHUNK_ROWS - 1
    assert backlog.rows(0, 2 * CHUNK_ROWS + 3)[0] == [2 * CHUNK_ROWS + 1, 2 * CHUNK_ROWS + 2]
    backlog.release(5)  # a late, older acknowledgement changes nothing
    assert backlog.head == 2 * CHUNK_ROWS + 1
    backlog.release(count + 100)
    assert len(backlog) == 0
    assert backlog.rows(0, count) == ([], [])


def test_full_chunk_released_starts_afresh() -> None:
    backlog = Backlog(5 * CHUNK_ROWS)
    for ts in range(CHUNK_ROWS):
        backlog.append(ts, b"x")
    backlog.release(CHUNK_ROWS)
    backlog.append(7, b"y")
    assert backlog.rows(0, 10 * CHUNK_ROWS) == ([7], [b"y"])


def test_limit_drops_oldest() -> None:
    backlog = Backlog(3)
    dropped = [backlog.append(ts, b"%d" % ts) for ts in range(5)]
    assert dropped == [0, 0, 0, 1, 1]
    assert backlog.rows(0, 10) == ([2, 3, 4], [b"2", b"3", b"4"])
    with pytest.raises(ValueError, match="limit"):
        Backlog(0)


def test_memory_per_buffered_sample_within_150_bytes() -> None:
    """The seed's 7 columns: rows encoded once, held in flat containers (the benchmark measures a day)."""
    structure = HmapTimeSeries("bat_bmv700", {"bmv700": ["V", "I", "P", "SOC", "Alarm", "AR", "Relay"]})
    samples = 20 * CHUNK_ROWS
    rows = [
        structure.encode(
            Sample(
                0,
                {
                    "V": 12.064,
                    "I": -7.52 - ts % 97 / 1000,
                    "P": -91.0,
                    "SOC": 83.8,
                    "Alarm": 0,
                    "AR": 0,
                    "Relay": 0,
                },
            )
        )
        for ts in range(2000)
    ]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    backlog = Backlog(samples)
    for ts in range(samples):
        row = rows[ts % 2000]
        assert row is not None
        backlog.append(1725292361 + ts, row)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert used / samples <= 150
