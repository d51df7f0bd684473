"""InputReader: the newest point of every node of one Redis input, in one round trip per read.

The reader reads the layouts the outputs write (see structures/): the SET `<redis_node>` and one key
`<redis_node>_<node>` per node, a HASH (HmapTimeSeries) or a STREAM (Stream). It never scans a key:

- HmapTimeSeries: `HMGET key <now> <now - 1> ...`, the whole seconds of the window (now - stale_after, now]
  newest first, plus FUTURE_SECONDS ahead for a writer whose clock runs a little ahead of ours. Fields are
  Unix seconds and the writer's grid (its time interval) is unknown here, so every second of the window is
  asked; the first reply that is not nil is the newest point. No point in the window: None. Once a node's
  newest point is known, the next reads ask only the seconds from it on (itself included): a steady read
  asks a few fields, however wide the window. A read asks at most FIELD_BUDGET fields per node: beyond, the
  newest RECENT_SECONDS and a slice of the older seconds, the next slice at the next read, so that a window
  of a day (a writer sending every few hours) is swept in about 25 reads without stalling the event loop.
  Points come in late (an output sends its last seconds every send interval) but never newer than the
  newest point stored, so nothing newer is missed; should that point vanish (deleted, expired) the read
  asks the whole window again, in a second round trip.
- Stream: `XREVRANGE key + - COUNT 1`, the newest entry (id: seconds x 1000), None when older than the window.

The commands of all nodes go in one pipeline: one round trip per read (not MULTI: each command reads one key,
so a cluster routes each to its shard, one round trip per shard at once). With set_members "auto" the first
round trips also ask `SMEMBERS <redis_node>`, until the SET tells what it lists: the node names (our outputs)
or the hash names (the vemonitor daemon 0.1). The keys read are the same either way; what was found is for
the user (diagnostics): a SET that lists neither of the input's nodes hints at a wrong Redis node or column.

Values come back as stored: HmapTimeSeries the JSON object's values (floats in base units, integers, text,
null); a Stream's text is turned back into them (a JSON number as int or float, "" as None, other text as
is). Only the configured labels of a node are kept, in configured order; a label absent from the point is
absent from its values.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
import json
import math
import re
import time
from typing import Any, Literal

from .connector import RedisConnector
from .errors import classify
from .output import ConnectorProvider
from .sample import Value
from .structures import DEFAULT_STRUCTURE, STREAM

type InputSetMembers = Literal["auto", "nodes", "hashes"]
INPUT_SET_MEMBERS: tuple[InputSetMembers, ...] = ("auto", "nodes", "hashes")
INPUT_STRUCTURES = (DEFAULT_STRUCTURE, STREAM)
FUTURE_SECONDS = 5
"""HmapTimeSeries: seconds after now also asked (a writer's clock a little ahead: its newest points)."""
FIELD_BUDGET = 4_096
"""HmapTimeSeries: the most fields asked per node and read (about 10 ms of replies to parse)."""
RECENT_SECONDS = 600
"""HmapTimeSeries: the newest seconds always asked, whatever the budget (a writer's last sends)."""
MAX_SET_MEMBERS = 64
"""Members of the SET kept for the diagnostics (the SET of one output lists at most 16 nodes)."""

_JSON_NUMBER = re.compile(rb"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_JSON_CONSTANTS = {b"NaN": math.nan, b"Infinity": math.inf, b"-Infinity": -math.inf}


@dataclass(frozen=True, slots=True, kw_only=True)
class InputSettings:
    """One Redis input (the seed's `inputs.redis` item) as plain values.

    `time_interval` is the read interval in seconds (the caller schedules the reads), `stale_after` how old
    (seconds) the newest point of a node may be before the node has none. `set_members` "auto" detects what
    the SET lists; "nodes" or "hashes" skip the detection.
    """

    redis_node: str
    columns: Mapping[str, Sequence[str]]
    structure: str | None = None
    time_interval: float = 1.0
    stale_after: float = 15.0
    set_members: InputSetMembers = "auto"

    def __post_init__(self) -> None:
        if not self.redis_node:
            raise ValueError("redis_node must not be empty")
        if not self.columns or not all(self.columns.values()):
            raise ValueError("columns must name at least one node, each with at least one label")
        if (self.structure or DEFAULT_STRUCTURE) not in INPUT_STRUCTURES:
            raise ValueError(
                f"structure must be one of {', '.join(INPUT_STRUCTURES)}, not {self.structure!r}"
            )
        if not (self.time_interval > 0 and 1 <= self.stale_after < math.inf):
            raise ValueError("time_interval must be > 0 and stale_after a number of seconds >= 1")
        if self.set_members not in INPUT_SET_MEMBERS:
            raise ValueError(f"set_members must be one of {', '.join(INPUT_SET_MEMBERS)}")

    @property
    def stream(self) -> bool:
        """Whether the nodes are Streams (else HmapTimeSeries hashes)."""
        return self.structure == STREAM

    def key(self, node: str) -> str:
        """The key of a node: `<redis_node>_<node>`."""
        return f"{self.redis_node}_{node}"


@dataclass(frozen=True, slots=True)
class NodePoint:
    """The newest point of one node: its timestamp (whole Unix seconds) and its configured labels' values."""

    timestamp: int
    values: dict[str, Value]


class InputReader:
    """Reads the newest point of each node of one input; `read()` from a polling loop (HA: a coordinator).

    `set_members` is what the SET was found to list ("nodes", "hashes"), None until known (set_members
    "auto": while the SET is missing, or lists neither); `set_contents` the members seen at the last look.
    """

    def __init__(
        self,
        connector_provider: ConnectorProvider,
        settings: InputSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._provider = connector_provider
        self._clock = clock
        self.columns: dict[str, tuple[str, ...]] = {
            node: tuple(labels) for node, labels in settings.columns.items()
        }
        self._keys = {node: settings.key(node) for node in self.columns}
        self.set_members: Literal["nodes", "hashes"] | None = (
            None if settings.set_members == "auto" else settings.set_members
        )
        self.set_contents: tuple[str, ...] | None = None
        self._seen: dict[str, int] = {}  # HmapTimeSeries: the newest point found of each node
        self._sweep: dict[str, int] = {}  # HmapTimeSeries: where the next slice of a wide window starts

    def __repr__(self) -> str:
        return f"InputReader({self.settings.redis_node!r}, {self.settings.structure or DEFAULT_STRUCTURE})"

    def window(self, now: float, since: int | None = None, node: str | None = None) -> list[bytes]:
        """HmapTimeSeries: the fields asked, newest first: the whole seconds of the window (see the module),
        from `since` on (the newest point seen, itself included) when it is inside; within FIELD_BUDGET, the
        newest RECENT_SECONDS and the next slice of the rest (`node` keeps the sweep's place)."""
        top = math.floor(now) + FUTURE_SECONDS
        oldest = since - 1 if since is not None and self._inside(now, since) else self._cutoff(now)
        if top - oldest <= FIELD_BUDGET:
            return [b"%d" % second for second in range(top, oldest, -1)]
        recent = top - RECENT_SECONDS
        start = self._sweep.get(node or "", recent)
        if not oldest < start <= recent:
            start = recent
        end = max(oldest, start - (FIELD_BUDGET - RECENT_SECONDS))
        self._sweep[node or ""] = end if end > oldest else recent
        return [b"%d" % second for second in (*range(top, recent, -1), *range(start, end, -1))]

    def _cutoff(self, now: float) -> int:
        """The newest whole second out of the window."""
        return math.floor(now - self.settings.stale_after)

    def _inside(self, now: float, second: int) -> bool:
        return self._cutoff(now) < second <= math.floor(now) + FUTURE_SECONDS

    async def read(self) -> dict[str, NodePoint | None]:
        """The newest point of every node (None: none inside the window); a RedisWorkerError if the round
        trip fails or a node's command is refused (a key of another type, an ACL refusal...)."""
        now = self._clock()
        connector: RedisConnector | None = None
        try:
            connector = self._provider()
            since = dict(self._seen)
            points = await self._read(connector, now, since)
            lost = [
                node
                for node, point in points.items()
                if point is None and self._inside(now, since.get(node, 0))
            ]
            if lost:
                # The newest point seen is gone (deleted, expired): the whole window, in a second round trip.
                points |= await self._read(connector, now, {}, lost)
        except Exception as exc:
            raise classify(exc, connector.settings.address if connector is not None else "?") from None
        return points

    async def _read(
        self, connector: RedisConnector, now: float, since: dict[str, int], nodes: list[str] | None = None
    ) -> dict[str, NodePoint | None]:
        """One round trip for `nodes` (all by default), hashes from the newest point seen of each."""
        columns = {node: self.columns[node] for node in nodes or self.columns}
        detecting = self.set_members is None and nodes is None
        fields: dict[str, list[bytes]] = {}
        async with connector.client.pipeline(transaction=False) as pipe:
            if detecting:
                pipe.smembers(self.settings.redis_node)
            for node in columns:
                if self.settings.stream:
                    pipe.xrevrange(self._keys[node], "+", "-", count=1)
                else:
                    fields[node] = self.window(now, since.get(node), node)
                    pipe.execute_command("HMGET", self._keys[node], *fields[node])
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        if detecting:
            self._detect(replies.pop(0))
        points: dict[str, NodePoint | None] = {}
        cutoff = now - self.settings.stale_after
        for (node, labels), reply in zip(columns.items(), replies, strict=True):
            if isinstance(reply, Exception):
                raise reply
            point = (
                _stream_point(reply, labels)
                if self.settings.stream
                else _hash_point(reply, labels, fields[node])
            )
            if point is not None and point.timestamp > cutoff:
                points[node] = point
                if not self.settings.stream:
                    self._seen[node] = point.timestamp
            else:
                points[node] = None
                self._seen.pop(node, None)
        return points

    def _detect(self, reply: Any) -> None:
        """What the SET lists (an error reply, such as a key of another type, tells nothing)."""
        if isinstance(reply, Exception):
            return
        members = sorted(_text(member) for member in reply)
        self.set_contents = tuple(members[:MAX_SET_MEMBERS])
        listed = set(members)
        if not listed.isdisjoint(self.columns):
            self.set_members = "nodes"
        elif not listed.isdisjoint(self._keys.values()):
            self.set_members = "hashes"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value


def _hash_point(
    reply: Sequence[bytes | None], labels: Sequence[str], fields: Sequence[bytes]
) -> NodePoint | None:
    """The newest field asked (`fields`, newest first) holding a JSON object (anything else is skipped)."""
    for field, raw in zip(fields, reply, strict=True):
        if raw is None:
            continue
        try:
            stored = json.loads(raw)
        except ValueError:
            continue
        if isinstance(stored, dict):
            return NodePoint(int(field), {label: stored[label] for label in labels if label in stored})
    return None


def _stream_point(
    reply: Sequence[tuple[bytes, Mapping[bytes, bytes]]], labels: Sequence[str]
) -> NodePoint | None:
    """The newest entry of a Stream (its id: `<milliseconds>-<sequence>`)."""
    if not reply:
        return None
    entry_id, fields = reply[0]
    stored = {_text(label): raw for label, raw in fields.items()}
    values = {label: _stream_value(stored[label]) for label in labels if label in stored}
    return NodePoint(int(_text(entry_id).partition("-")[0]) // 1000, values)


def _stream_value(raw: bytes) -> Value:
    """A Stream field's text as the value the output was given (see the module)."""
    if raw == b"":
        return None
    if (number := _JSON_NUMBER.fullmatch(raw)) is not None:
        return float(raw) if number[1] or number[2] else int(raw)
    if raw in _JSON_CONSTANTS:
        return _JSON_CONSTANTS[raw]
    return _text(raw)
