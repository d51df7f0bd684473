"""HmapTimeSeries, byte for byte as the seed (vemonitor_m8).

- nodes store: SET `<redis_node>` whose members are the node names of `columns` (set_members="hashes":
  the hash names, as the vemonitor daemon 0.1.x stores them);
- time series store: one HASH `<redis_node>_<node>` per node; field = timestamp in whole Unix seconds
  (decimal text), value = JSON object of the node's columns in configured order, as `json.dumps` writes it
  (", " and ": " separators, ASCII), absent columns left out, None as null.

Retention, in the same round trip as the write (the worker picks the mode from the server's version):
- hsetex (Redis >= 8.0): `HSETEX key EXAT t FIELDS n f v ...` instead of HSET;
- hexpire (Redis 7.4): `HSET key f v ...` then `HEXPIREAT key t FIELDS n f ...`;
- hdel (older servers): `HSET` as without retention, then `HDEL key f ...` of the range the worker gives.
The rows of a chunk are grouped in runs spanning at most BUCKET_SECONDS, each run expiring at its newest
timestamp + retention: a field never expires before its own window ends and at most a minute after, and a
steady send (a few seconds of rows) is one command per node.
"""

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import islice
from operator import le

from .base import DEFAULT_STRUCTURE, AnyPipeline, NodeKeyStructure, Retention, register_structure

BUCKET_SECONDS = 60


def expiry_runs(timestamps: Sequence[int]) -> Iterator[tuple[int, int, int]]:
    """(start, stop, newest timestamp) of consecutive runs of `timestamps` spanning at most BUCKET_SECONDS."""
    count = len(timestamps)
    if all(map(le, timestamps, islice(timestamps, 1, None), strict=False)):  # in order: bisect, no row loop
        start = 0
        while start < count:
            stop = bisect_right(timestamps, timestamps[start] + BUCKET_SECONDS, start)
            yield start, stop, timestamps[stop - 1]
            start = stop
        return
    start = 0
    low = high = timestamps[0]
    for index in range(1, count):
        timestamp = timestamps[index]
        if max(high, timestamp) - min(low, timestamp) > BUCKET_SECONDS:
            yield start, index, high
            start, low, high = index, timestamp, timestamp
        else:
            low, high = min(low, timestamp), max(high, timestamp)
    yield start, count, high


def _interleave(fields: Sequence[bytes], values: Sequence[bytes]) -> list[bytes]:
    """field, value, field, value... (a second written twice is set twice: the last one wins, as in dicts)."""
    flat: list[bytes] = [b""] * (2 * len(fields))
    flat[::2] = fields
    flat[1::2] = values
    return flat


@register_structure(DEFAULT_STRUCTURE)
class HmapTimeSeries(NodeKeyStructure):
    """SET of nodes + one timestamp-keyed HASH of JSON rows per node."""

    name = DEFAULT_STRUCTURE

    def queue_write(
        self,
        pipe: AnyPipeline,
        timestamps: Sequence[int],
        rows: Sequence[bytes],
        retention: Retention | None = None,
    ) -> None:
        """SADD, then per node one multi-field HSET (or its retention form, see the module)."""
        self.queue_nodes(pipe)
        expiring = retention is not None and retention.mode != "hdel"
        trimmed: list[bytes] = []
        if retention is not None and retention.trim is not None:
            start, stop = retention.trim
            trimmed = [b"%d" % timestamp for timestamp in range(start + 1, stop + 1)]
        for key, (node_timestamps, parts) in zip(self.keys, self.node_rows(timestamps, rows), strict=True):
            # Fields pre-encoded as decimal bytes: redis-py's packer then skips its per-argument conversion.
            fields = [b"%d" % timestamp for timestamp in node_timestamps]
            if fields and not expiring:
                pipe.execute_command("HSET", key, *_interleave(fields, parts))
            elif fields:
                assert retention is not None
                for start, stop, newest in expiry_runs(node_timestamps):
                    # One run: its fields expire together, at its newest timestamp + retention.
                    run, expire_at = fields[start:stop], retention.expire_at(newest)
                    pairs = _interleave(run, parts[start:stop])
                    if retention.mode == "hsetex":
                        pipe.execute_command("HSETEX", key, "EXAT", expire_at, "FIELDS", len(run), *pairs)
                    else:
                        pipe.execute_command("HSET", key, *pairs)
                        pipe.execute_command("HEXPIREAT", key, expire_at, "FIELDS", len(run), *run)
            if trimmed:
                pipe.execute_command("HDEL", key, *trimmed)
