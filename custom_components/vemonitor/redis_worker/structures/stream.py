"""Stream: one Redis Stream per node, for consumers that `XREAD BLOCK` the live data.

- nodes store: the SET `<redis_node>` exactly as HmapTimeSeries writes it;
- one STREAM `<redis_node>_<node>` per node (the hash's name); one entry per sample with the id
  `<timestamp x 1000>-0` (whole seconds), fields = the node's columns present in the sample in configured
  order, values as text: numbers exactly as `json.dumps` writes them (`12.064`, `-7.52`, `0`), None as an
  empty string, text as is.

Retention: one `XTRIM key MINID <first kept second x 1000>` per node in the same round trip (exact, not `~`:
the entries are small and a chunk trims a few of them).
Retries stay idempotent: XADD refuses an id equal to or below the stream's newest ("ERR The ID specified in
XADD is equal or smaller than the target stream top item"), which means the entry is already there (a chunk
sent again after a lost reply, a spool segment reloaded twice). A sample older than the newest entry (a
wall clock set back) is refused the same way and skipped; in one second only the first sample is kept.
"""

from collections.abc import Sequence
import json
from typing import Any

from redis.exceptions import ResponseError

from ..sample import Sample
from .base import AnyPipeline, NodeKeyStructure, Retention, raise_first_error, register_structure

STREAM = "Stream"
ALREADY_WRITTEN = "equal or smaller than the target stream top item"

# Numbers (NaN and Infinity too) keep their JSON text through the parse hooks; JSON's literals as text. One
# decoder for all: json.loads with hooks would build a new one per call (twice the cost of the parse).
_DECODER = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=str)
_LITERALS: dict[object, bytes] = {None: b"", True: b"true", False: b"false"}


def entry_fields(part: bytes) -> list[bytes]:
    """The field, value, field, value... of one node's JSON object, values as text (see the module).

    Encoded here (UTF-8, as redis-py would): bytes take the packer's shortest path.
    """
    values = _DECODER.decode(part.decode("ascii"))
    fields: list[bytes] = []
    for label, value in values.items():
        fields += (label.encode(), value.encode() if type(value) is str else _LITERALS[value])
    return fields


@register_structure(STREAM)
class Stream(NodeKeyStructure):
    """SET of nodes + one Stream of entries per node."""

    name = STREAM

    def encode(self, sample: Sample) -> bytes | None:
        """As HmapTimeSeries; None for a sample at or before the epoch, which no entry id (> 0-0) can hold
        and Redis would refuse at every retry, holding up the backlog behind it."""
        return super().encode(sample) if sample.timestamp > 0 else None

    def queue_write(
        self,
        pipe: AnyPipeline,
        timestamps: Sequence[int],
        rows: Sequence[bytes],
        retention: Retention | None = None,
    ) -> None:
        """SADD, one XADD per sample and node, then per node the XTRIM of the window."""
        self.queue_nodes(pipe)
        for key, (node_timestamps, parts) in zip(self.keys, self.node_rows(timestamps, rows), strict=True):
            for timestamp, part in zip(node_timestamps, parts, strict=True):
                pipe.execute_command("XADD", key, b"%d-0" % (timestamp * 1000), *entry_fields(part))
            if retention is not None:
                pipe.execute_command("XTRIM", key, "MINID", (retention.cutoff + 1) * 1000)

    def check_results(self, results: Sequence[Any]) -> None:
        """An XADD refused as not newer than the stream's top is already written; any other error fails."""
        raise_first_error(
            [
                result
                for result in results
                if not (isinstance(result, ResponseError) and ALREADY_WRITTEN in str(result))
            ]
        )
