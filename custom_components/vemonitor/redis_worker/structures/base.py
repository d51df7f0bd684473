"""The DataStructure protocol, the registry of structures by name, and what the built-in structures share.

A structure turns a sample into one compact opaque row (bytes, encoded once at add time so the backlog holds
no dicts) and queues the commands that store a batch of rows. The output worker only knows this protocol, so
a new layout is one new module plus one `@register_structure` line.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
import json
import math
from typing import Any, ClassVar, Literal, Protocol

from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline

from ..sample import Sample, Value

type AnyPipeline = Pipeline | ClusterPipeline
"""What a structure queues its commands on: a server's pipeline, or a cluster's (commands of one key each,
so that the cluster routes every one to its shard)."""

DEFAULT_STRUCTURE = "HmapTimeSeries"

type Columns = Mapping[str, Sequence[str]]
"""Node name -> VE.Direct labels, in the order they are stored."""

type ExpiryMode = Literal["hsetex", "hexpire", "hdel"]
"""How a hash loses its old fields: HSETEX (Redis >= 8.0), HSET + HEXPIREAT (7.4), HDEL by the writer."""
EXPIRY_MODES: tuple[ExpiryMode, ...] = ("hsetex", "hexpire", "hdel")

type SetMembers = Literal["nodes", "hashes"]
"""What the SET `<redis_node>` holds: node names (the seed's documentation) or full key names (vemonitor
0.1.x's code, `<redis_node>_<node>`)."""
SET_MEMBERS: tuple[SetMembers, ...] = ("nodes", "hashes")
DEFAULT_SET_MEMBERS: SetMembers = "nodes"


@dataclass(frozen=True, slots=True)
class Retention:
    """What one send does about old data: keep `seconds` back from `now`, the way `mode` says.

    A point of timestamp ts is kept while now < ts + seconds; `cutoff` is the newest timestamp out of the
    window. `trim` (hdel mode) is the range (start, stop] of timestamps whose fields this send deletes: the
    writer knows which seconds it wrote, so it bounds the range instead of reading the hash.
    """

    seconds: float
    now: float
    mode: ExpiryMode = "hsetex"
    trim: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError("a retention is a positive number of seconds")

    @property
    def cutoff(self) -> int:
        """The newest timestamp that is out of the window (expired)."""
        return math.floor(self.now - self.seconds)

    def expire_at(self, timestamp: int) -> int:
        """The Unix second at which the point of `timestamp` leaves the window (never earlier)."""
        return math.ceil(timestamp + self.seconds)


class DataStructure(Protocol):
    """How one output lays its samples out in Redis."""

    @property
    def layout(self) -> dict[str, Any]:
        """JSON-able description (structure name + parameters): stored in spool headers to detect changes."""
        ...

    def encode(self, sample: Sample) -> bytes | None:
        """The row to buffer for this sample; None when none of the configured columns is present."""
        ...

    def decode(self, row: bytes) -> dict[str, Value]:
        """The values a row holds (to re-encode rows spooled under another layout)."""
        ...

    def queue_write(
        self,
        pipe: AnyPipeline,
        timestamps: Sequence[int],
        rows: Sequence[bytes],
        retention: Retention | None = None,
    ) -> None:
        """Queue on `pipe` the idempotent commands that store these rows (oldest first, maybe none).

        With a retention, also the commands that make what falls out of the window go away; the rows given
        are all inside it. The worker passes `retention` only when there is one, so a structure without
        retention support keeps working for outputs that keep forever.
        """
        ...

    def check_results(self, results: Sequence[Any]) -> None:
        """Raise the reply that fails the send; `results` holds the pipeline's replies, errors in place.

        Optional: a structure without it gets `raise_first_error`.
        """
        ...


def raise_first_error(results: Sequence[Any]) -> None:
    """The default check of a pipeline's replies: any error reply fails the send."""
    for result in results:
        if isinstance(result, Exception):
            raise result


def results_check(structure: DataStructure) -> Callable[[Sequence[Any]], None]:
    """The structure's `check_results`, or the default for structures that predate it."""
    check: Callable[[Sequence[Any]], None] = getattr(structure, "check_results", raise_first_error)
    return check


type StructureFactory = Callable[..., DataStructure]
"""Builds a structure: factory(redis_node, columns, **options), options such as set_members."""

_REGISTRY: dict[str, StructureFactory] = {}


def register_structure[F: StructureFactory](name: str) -> Callable[[F], F]:
    """Class decorator: make a structure selectable by `name` (the seed's `redis_data_structure`)."""

    def register(factory: F) -> F:
        if name in _REGISTRY:
            raise ValueError(f"data structure {name!r} registered twice")
        _REGISTRY[name] = factory
        return factory

    return register


def structure_names() -> list[str]:
    """The selectable names, the default first (for a config-flow selector)."""
    return sorted(_REGISTRY, key=lambda name: (name != DEFAULT_STRUCTURE, name))


def create_structure(
    name: str | None, redis_node: str, columns: Columns, *, set_members: str = DEFAULT_SET_MEMBERS
) -> DataStructure:
    """The structure called `name` for one output; an empty or None name means HmapTimeSeries.

    An option at its default is not passed on, so a structure that has no such option still works with the
    default (and fails with a TypeError for any other value).
    """
    factory = _REGISTRY.get(name or DEFAULT_STRUCTURE)
    if factory is None:
        raise ValueError(f"unknown data structure {name!r} (known: {', '.join(structure_names())})")
    if set_members not in SET_MEMBERS:
        raise ValueError(f"set_members must be one of {', '.join(SET_MEMBERS)}, not {set_members!r}")
    options = {} if set_members == DEFAULT_SET_MEMBERS else {"set_members": set_members}
    return factory(redis_node, columns, **options)


_SEP = b"\n"


class NodeKeyStructure:
    """What HmapTimeSeries and Stream share: the SET `<redis_node>` of the nodes, one key
    `<redis_node>_<node>` per node, and the row: the JSON text of every node joined by "\\n".

    A node's JSON is its columns in configured order as `json.dumps` writes them (the seed's value format;
    json.dumps escapes newlines inside strings, so the separator cannot occur in it); a node none of whose
    columns is in the sample has an empty part and gets nothing stored. Sharing the row also makes spools
    convertible between the two structures.
    """

    name: ClassVar[str]

    def __init__(
        self, redis_node: str, columns: Columns, *, set_members: SetMembers = DEFAULT_SET_MEMBERS
    ) -> None:
        if not redis_node:
            raise ValueError("redis_node must not be empty")
        if not columns or not all(columns.values()):
            raise ValueError("columns must name at least one node, each with at least one label")
        if set_members not in SET_MEMBERS:
            raise ValueError(f"set_members must be one of {', '.join(SET_MEMBERS)}, not {set_members!r}")
        self.redis_node = redis_node
        self.columns: dict[str, tuple[str, ...]] = {node: tuple(labels) for node, labels in columns.items()}
        self.nodes = tuple(self.columns)
        self.keys = tuple(f"{redis_node}_{node}" for node in self.nodes)
        self.set_members = set_members
        self.members = self.keys if set_members == "hashes" else self.nodes

    @property
    def layout(self) -> dict[str, Any]:
        """Structure name, redis_node, columns and set_members (see the protocol)."""
        return {
            "structure": self.name,
            "redis_node": self.redis_node,
            "columns": {node: list(labels) for node, labels in self.columns.items()},
            "set_members": self.set_members,
        }

    @staticmethod
    def node_json(labels: Sequence[str], values: Mapping[str, Value]) -> str:
        """One node's JSON object, columns in configured order (the seed's value format)."""
        return json.dumps({label: values[label] for label in labels if label in values})

    def encode(self, sample: Sample) -> bytes | None:
        """The row of `sample` (see the class); None when no node has a column in it."""
        values = sample.values
        parts = [
            self.node_json(labels, values) if any(label in values for label in labels) else ""
            for labels in self.columns.values()
        ]
        if not any(parts):
            return None
        return "\n".join(parts).encode("ascii")

    def decode(self, row: bytes) -> dict[str, Value]:
        """The values of every node of a row."""
        values: dict[str, Value] = {}
        for part in row.split(_SEP):
            if part:
                values.update(json.loads(part))
        return values

    def node_rows(
        self, timestamps: Sequence[int], rows: Sequence[bytes]
    ) -> list[tuple[Sequence[int], Sequence[bytes]]]:
        """Per node (in `keys` order), the timestamps and JSON texts of the rows that have a part for it."""
        if len(self.nodes) == 1:
            return [(timestamps, rows)]  # the row is the node's JSON: nothing to split or copy
        per_node: list[tuple[list[int], list[bytes]]] = [([], []) for _ in self.nodes]
        for timestamp, row in zip(timestamps, rows, strict=True):
            for (node_timestamps, parts), part in zip(per_node, row.split(_SEP), strict=True):
                if part:
                    node_timestamps.append(timestamp)
                    parts.append(part)
        return list(per_node)

    def queue_nodes(self, pipe: AnyPipeline) -> None:
        """SADD of the node SET, once per round trip (idempotent, and it heals a deleted SET)."""
        pipe.sadd(self.redis_node, *self.members)

    def check_results(self, results: Sequence[Any]) -> None:
        """Any error reply fails the send (see the protocol)."""
        raise_first_error(results)
