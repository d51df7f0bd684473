"""HmapTimeSeries, byte for byte as the seed (vemonitor_m8).

- nodes store: SET `<redis_node>` whose members are the node names of `columns`;
- time series store: one HASH `<redis_node>_<node>` per node; field = timestamp in whole Unix seconds
  (decimal text), value = JSON object of the node's columns in configured order, as `json.dumps` writes it
  (", " and ": " separators, ASCII), absent columns left out, None as null.

A row is the JSON text of every node, joined by "\n" (json.dumps escapes newlines inside strings, so the
separator cannot occur in a node's text); a node none of whose columns is in the sample gets no field.
"""

from collections.abc import Mapping, Sequence
import json
from typing import Any, override

from redis.asyncio.client import Pipeline

from ..sample import Sample, Value
from .base import DEFAULT_STRUCTURE, Columns, DataStructure, register_structure

_SEP = b"\n"


@register_structure(DEFAULT_STRUCTURE)
class HmapTimeSeries(DataStructure):
    """SET of nodes + one timestamp-keyed HASH of JSON rows per node."""

    def __init__(self, redis_node: str, columns: Columns) -> None:
        if not redis_node:
            raise ValueError("redis_node must not be empty")
        if not columns or not all(columns.values()):
            raise ValueError("columns must name at least one node, each with at least one label")
        self.redis_node = redis_node
        self.columns: dict[str, tuple[str, ...]] = {node: tuple(labels) for node, labels in columns.items()}
        self.nodes = tuple(self.columns)
        self.hash_keys = tuple(f"{redis_node}_{node}" for node in self.nodes)

    @property
    @override
    def layout(self) -> dict[str, Any]:
        return {
            "structure": DEFAULT_STRUCTURE,
            "redis_node": self.redis_node,
            "columns": {node: list(labels) for node, labels in self.columns.items()},
        }

    @staticmethod
    def node_json(labels: Sequence[str], values: Mapping[str, Value]) -> str:
        """One node's JSON object, columns in configured order (the seed's value format)."""
        return json.dumps({label: values[label] for label in labels if label in values})

    @override
    def encode(self, sample: Sample) -> bytes | None:
        values = sample.values
        parts = [
            self.node_json(labels, values) if any(label in values for label in labels) else ""
            for labels in self.columns.values()
        ]
        if not any(parts):
            return None
        return "\n".join(parts).encode("ascii")

    @override
    def decode(self, row: bytes) -> dict[str, Value]:
        values: dict[str, Value] = {}
        for part in row.split(_SEP):
            if part:
                values.update(json.loads(part))
        return values

    @override
    def queue_write(self, pipe: Pipeline, timestamps: Sequence[int], rows: Sequence[bytes]) -> None:
        # Fields pre-encoded as decimal bytes: redis-py's packer then skips its per-argument int conversion.
        field_keys = [b"%d" % timestamp for timestamp in timestamps]
        fields: list[dict[bytes, bytes]] = [{} for _ in self.nodes]
        if len(fields) == 1:
            fields[0] = dict(zip(field_keys, rows, strict=True))
        else:
            for field_key, row in zip(field_keys, rows, strict=True):
                for node_fields, part in zip(fields, row.split(_SEP), strict=True):
                    if part:
                        node_fields[field_key] = part
        pipe.sadd(self.redis_node, *self.nodes)
        for key, node_fields in zip(self.hash_keys, fields, strict=True):
            if node_fields:
                pipe.hset(key, mapping=node_fields)  # type: ignore[arg-type]
