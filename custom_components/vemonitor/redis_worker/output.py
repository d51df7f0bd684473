"""OutputWorker: buffers every sample of one Redis output and delivers them, nothing lost or duplicated.

Every `time_interval x cache_interval` seconds the worker sends all buffered rows, oldest first, in chunks
of `batch_size` rows, each chunk one pipelined round trip (HmapTimeSeries: SADD of the node SET + one
multi-field HSET per node). The pipeline is not a MULTI transaction: every command is idempotent (HSET field
= timestamp, SADD; a Stream's XADD of an id already there is refused, which its structure counts as
written), so a chunk that fails half-way is simply sent again, and without MULTI the server reports NOPERM,
READONLY or OOM as themselves instead of EXECABORT. The replies are read in full and the structure says which
errors fail the chunk (`check_results`). A row leaves the backlog only when Redis answered its chunk, and
the replicas the connector waits for confirmed it (WAIT; ReplicasBehind fails the chunk like a refusal, so
a failover loses no acknowledged row). On a cluster a chunk is one round trip per shard, sent at once.

While Redis is unreachable the rows stay in the bounded backlog and are appended to the spool (fsynced) at
every tick, and on a clean stop; on start the spool is read back. Disk is written only while Redis fails,
so a healthy system does not wear its SD card.

Retention (`OutputSettings.retention`, seconds; None or 0 keeps forever): a point of timestamp ts is kept
while now < ts + retention. The structure expires or trims what leaves the window in the same pipeline as
the write (see HmapTimeSeries and Stream), so a send is still one round trip. Rows already out of the window
when their turn comes (buffered or spooled through a long outage) are not sent, since they would go at once:
they are "expired" (`expired_samples`), apart from the samples the backlog limit dropped.
The expiry mode comes from the server's version, asked once per connection pool (RedisConnector.expiry_mode);
a server that calls the mode's command unknown makes the same chunk go again in the next older mode.
The HDEL mode (servers before 7.4) deletes the seconds (trimmed_until, now - retention], at most
TRIM_MAX_FIELDS per node and round trip; the first send after a start goes back TRIM_LOOKBACK (one day)
only: fields older than that which an earlier run left (after a long stop, or a shorter new window) stay.
Trimming runs with the writes: while an output writes nothing, nothing is deleted in this mode.

Hard-kill loss bound: the rows neither acknowledged nor spooled, i.e. at most the samples of the last
send interval plus one round trip (bounded by the client timeout): 5 s + 5 s = 10 s with 1 x 5 and the
default timeout; against a server that refuses connections (down, restarting) the round trip is instant,
so at most the last send interval (5 s).
"""

import asyncio
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
import datetime as dt
import logging
import math
from pathlib import Path
import time
from typing import Any, Literal

from redis.exceptions import ResponseError

from .backlog import Backlog
from .connector import AnyPipeline, RedisConnector
from .errors import AUTH_ERRORS, CONNECTION_ERRORS, RedisWorkerError, ReplicasBehind, classify
from .sample import Sample
from .spool import Spool, SpooledRows
from .structures import (
    DEFAULT_SET_MEMBERS,
    EXPIRY_MODES,
    SET_MEMBERS,
    DataStructure,
    ExpiryMode,
    Retention,
    create_structure,
    results_check,
)

_LOGGER = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400
TRIM_LOOKBACK = SECONDS_PER_DAY
"""HDEL mode: how far before the window the first send after a start deletes."""
TRIM_MAX_FIELDS = 3_600
"""HDEL mode: the most fields deleted per node and round trip (a catch-up spreads over several sends)."""

# The command each expiry mode needs beyond HSET: the one a server may not know.
_EXPIRY_COMMANDS: dict[ExpiryMode, str] = {"hsetex": "HSETEX", "hexpire": "HEXPIREAT", "hdel": "HDEL"}

type ConnectorProvider = Callable[[], RedisConnector]
"""Returns the server's current connector (the HA layer swaps it after a reauth)."""
type Listener = Callable[[], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputSettings:
    """One Redis output (the seed's `outputs.redis` item) as plain values.

    `backlog_limit` None means one day of samples (86,400 / time_interval). `retry_initial`/`retry_max`
    bound the exponential backoff between failed attempts; `batch_size` is rows per round trip.
    `retention` is the window kept in Redis in seconds (None or 0: forever); `expiry_mode` "auto" follows
    the server's version, the others force a mode (tests). `set_members` is "nodes" or "hashes" (what the
    node SET holds, see HmapTimeSeries).
    """

    redis_node: str
    columns: Mapping[str, Sequence[str]]
    structure: str | None = None
    time_interval: float = 1.0
    cache_interval: int = 5
    backlog_limit: int | None = None
    batch_size: int = 1000
    retry_initial: float = 1.0
    retry_max: float = 60.0
    retention: float | None = None
    set_members: str = DEFAULT_SET_MEMBERS
    expiry_mode: ExpiryMode | Literal["auto"] = "auto"

    def __post_init__(self) -> None:
        if self.time_interval <= 0 or self.cache_interval < 1:
            raise ValueError("time_interval must be > 0 and cache_interval >= 1")
        if self.batch_size < 1 or self.retry_initial <= 0 or self.retry_max < self.retry_initial:
            raise ValueError("batch_size >= 1 and 0 < retry_initial <= retry_max required")
        if self.retention is not None and not 0 <= self.retention < math.inf:
            raise ValueError("retention must be None or a finite number of seconds >= 0")
        if self.set_members not in SET_MEMBERS:
            raise ValueError(f"set_members must be one of {', '.join(SET_MEMBERS)}")
        if self.expiry_mode != "auto" and self.expiry_mode not in EXPIRY_MODES:
            raise ValueError(f"expiry_mode must be auto or one of {', '.join(EXPIRY_MODES)}")

    @property
    def window(self) -> float | None:
        """The retention in seconds, None when the output keeps forever."""
        return self.retention or None

    @property
    def send_interval(self) -> float:
        """Seconds between sends: time_interval x cache_interval."""
        return self.time_interval * self.cache_interval

    @property
    def max_pending(self) -> int:
        """The backlog limit in samples."""
        if self.backlog_limit is not None:
            return max(1, self.backlog_limit)
        return max(1, round(SECONDS_PER_DAY / self.time_interval))


@dataclass(frozen=True, slots=True)
class OutputState:
    """A snapshot for entities and diagnostics."""

    connected: bool
    pending_samples: int
    dropped_samples: int
    written_samples: int
    expired_samples: int
    last_successful_write: dt.datetime | None
    last_error: RedisWorkerError | None = field(default=None, repr=False)


class OutputWorker:
    """Writes one output's samples to Redis; `add()` from the coordinator, `start()`/`stop()` from setup.

    Callbacks (all optional, called on the event loop, exceptions logged and swallowed):
    on_lost(error) when writes start failing and again if the class of the failure changes (the caller
    tells CONNECTION_ERRORS, the server is gone, from a refusal of this output's writes such as WRONGTYPE
    or OOM), on_back() once when writes succeed again,
    on_auth_failed(error) once per outage whose cause is InvalidAuth/NoWritePermission (start a reauth),
    on_dropped(total) when the backlog limit starts dropping the oldest samples (raise a repair issue).
    Listeners from add_listener() are called whenever the state changes: after each send attempt, and at every
    send interval while the server is away (so that a pending count is never older than one send interval).
    """

    def __init__(
        self,
        connector_provider: ConnectorProvider,
        settings: OutputSettings,
        *,
        spool_path: Path | str | None = None,
        name: str | None = None,
        on_lost: Callable[[RedisWorkerError], None] | None = None,
        on_back: Callable[[], None] | None = None,
        on_auth_failed: Callable[[RedisWorkerError], None] | None = None,
        on_dropped: Callable[[int], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.structure: DataStructure = create_structure(
            settings.structure, settings.redis_node, settings.columns, set_members=settings.set_members
        )
        self._check_results = results_check(self.structure)
        self._clock = clock  # Unix time, as sample timestamps are: the retention window's "now"
        self.name = name or settings.redis_node
        self._provider = connector_provider
        self._backlog = Backlog(settings.max_pending)
        self._spool = Spool(Path(spool_path), self.structure.layout) if spool_path is not None else None
        self._spooled = 0  # every row below this seq is on disk (or released)
        self._on_lost, self._on_back = on_lost, on_back
        self._on_auth_failed, self._on_dropped = on_auth_failed, on_dropped
        self._listeners: list[Listener] = []
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._back_on_schedule = False  # a flush() from outside delivered: restart the send schedule
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._loaded = False
        self._connected: bool | None = None  # None until the first attempt
        self._auth_reported = False
        self._dropping = False
        self._dropped = 0
        self._written = 0
        self._expired = 0
        self._trimmed: int | None = None  # HDEL mode: every second up to this one was deleted
        self._last_write: dt.datetime | None = None
        self._last_error: RedisWorkerError | None = None

    def __repr__(self) -> str:
        return f"OutputWorker({self.name!r}, pending={self.pending_samples}, connected={self.connected})"

    # -- observable state -------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the last write attempt succeeded."""
        return bool(self._connected)

    @property
    def pending_samples(self) -> int:
        """Samples taken but not yet acknowledged by Redis."""
        return len(self._backlog)

    @property
    def dropped_samples(self) -> int:
        """Samples dropped because the backlog limit was reached (the only way a sample is lost)."""
        return self._dropped

    @property
    def written_samples(self) -> int:
        """Samples acknowledged by Redis since this worker was created."""
        return self._written

    @property
    def expired_samples(self) -> int:
        """Samples not sent because they were already out of the retention window when their turn came."""
        return self._expired

    @property
    def last_successful_write(self) -> dt.datetime | None:
        """When Redis last acknowledged a write (UTC)."""
        return self._last_write

    @property
    def last_error(self) -> RedisWorkerError | None:
        """The last failure of the current outage (connection or refused write), None while writing."""
        return self._last_error

    @property
    def state(self) -> OutputState:
        """All of the above at once."""
        return OutputState(
            connected=self.connected,
            pending_samples=self.pending_samples,
            dropped_samples=self._dropped,
            written_samples=self._written,
            expired_samples=self._expired,
            last_successful_write=self._last_write,
            last_error=self._last_error,
        )

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener()` on state changes; returns the function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # -- lifecycle ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Reload the spool (rows of a previous run go first), then send on schedule in the background."""
        if self._task is not None:
            return
        self._stopping = False
        if self._spool is not None and not self._loaded:
            self._loaded = True  # a restarted worker still holds its rows: read the spool once only
            async with self._lock:
                await self._reload(self._spool, await asyncio.to_thread(self._spool.load))
        self._task = asyncio.create_task(self._run(), name=f"vemonitor redis output {self.name}")

    async def stop(self) -> None:
        """One last delivery attempt, then everything still pending is written to the spool."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            await task
        async with self._lock:
            if len(self._backlog):
                await self._deliver()
            await self._spool_pending()
            if self._spool is not None:
                await asyncio.to_thread(self._spool.discard, self._backlog.head)
                await asyncio.to_thread(self._spool.close)
        self._notify()

    def add(self, sample: Sample) -> None:
        """Buffer one sample (sync and cheap: one JSON encoding, no I/O)."""
        row = self.structure.encode(sample)
        if row is None:
            return
        dropped = self._backlog.append(sample.timestamp, row)
        if dropped:
            self._count_dropped(dropped)

    async def flush(self) -> bool:
        """Deliver everything pending now (then spool what failed); True if Redis took it all."""
        async with self._lock:
            delivered = await self._deliver()
            if not delivered:
                await self._spool_pending()
        if delivered:
            # The schedule may be backed off to a minute: the server is back, send on schedule again.
            self._back_on_schedule = True
            self._wake.set()
        return delivered

    # -- internals ----------------------------------------------------------------------------------------

    async def _reload(self, spool: Spool, spooled: list[SpooledRows]) -> None:
        """Queue rows read back from the spool, re-encoding those stored under another layout."""
        layout = self.structure.layout
        total = 0
        all_on_disk = self._spooled >= self._backlog.tail  # no sample was added before start()
        for segment in spooled:
            timestamps, rows = segment.timestamps, segment.rows
            if segment.layout != layout:
                timestamps, rows = self._convert(segment, timestamps)
            for timestamp, row in zip(timestamps, rows, strict=True):
                if dropped := self._backlog.append(timestamp, row):
                    self._count_dropped(dropped)
            spool.loaded(segment, self._backlog.tail)
            total += len(rows)
            await asyncio.sleep(0)
        if all_on_disk:
            self._spooled = self._backlog.tail
        if total:
            _LOGGER.info("Redis output %s: %d samples reloaded from the spool", self.name, total)

    def _convert(self, segment: SpooledRows, timestamps: list[int]) -> tuple[list[int], list[bytes]]:
        """Rows spooled by an earlier configuration, re-encoded for the current one."""
        try:
            old = create_structure(
                segment.layout.get("structure"),
                segment.layout.get("redis_node", ""),
                segment.layout.get("columns", {}),
            )
        except ValueError, TypeError, AttributeError:
            _LOGGER.warning("Redis output %s: spool of an unknown layout ignored", self.name)
            return [], []
        kept: tuple[list[int], list[bytes]] = ([], [])
        for timestamp, row in zip(timestamps, segment.rows, strict=True):
            new_row = self.structure.encode(Sample(timestamp, old.decode(row)))
            if new_row is not None:
                kept[0].append(timestamp)
                kept[1].append(new_row)
        return kept

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.settings.send_interval
        backoff = 0.0
        next_attempt = loop.time() + interval
        next_spool = 0.0
        while not self._stopping:
            if self._back_on_schedule:
                self._back_on_schedule = False
                backoff = 0.0
                next_attempt = loop.time() + interval
            due = min(next_attempt, next_spool) if self._connected is False else next_attempt
            if (delay := due - loop.time()) > 0:
                self._wake.clear()
                with suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                continue
            async with self._lock:
                if loop.time() >= next_attempt:
                    if await self._deliver():
                        backoff = 0.0
                        next_attempt = loop.time() + interval
                    else:
                        backoff = min(max(backoff * 2, self.settings.retry_initial), self.settings.retry_max)
                        next_attempt = loop.time() + backoff
                if self._connected is False:
                    # Down: the rows taken since the last tick go to disk at every tick, and the listeners
                    # see the backlog grow at the same pace (the retries back off to a minute).
                    await self._spool_pending()
                    next_spool = loop.time() + interval
                    self._notify()

    async def _deliver(self) -> bool:
        """Send the backlog oldest first, one chunk per round trip; False at the first failure."""
        backlog, batch = self._backlog, self.settings.batch_size
        expired = 0
        try:
            connector = self._provider()
            while len(backlog):
                start = backlog.head
                timestamps, rows = backlog.rows(start, start + batch)
                retention = await self._retention(connector)
                kept_timestamps, kept = timestamps, rows
                if retention is not None:
                    kept_timestamps, kept = _inside_window(retention.cutoff, timestamps, rows)
                try:
                    await self._send(connector, kept_timestamps, kept, retention)
                except ResponseError as exc:
                    if self._fall_back(connector, retention, exc):
                        continue  # the same chunk again, in the next older mode
                    raise
                if retention is not None and retention.trim is not None:
                    self._trimmed = retention.trim[1]
                backlog.release(start + len(rows))
                self._written += len(kept)
                expired += len(rows) - len(kept)
                self._last_write = dt.datetime.now(dt.UTC)
                if self._spool is not None and self._spool.releasable(backlog.head):
                    await asyncio.to_thread(self._spool.discard, backlog.head)
                await asyncio.sleep(0)  # let new samples and other outputs in between chunks
        except Exception as exc:  # every failure is classified and reported
            self._failed(self._classify(exc))
            return False
        finally:
            self._count_expired(expired)
        self._succeeded()
        return True

    async def _retention(self, connector: RedisConnector) -> Retention | None:
        """What the next round trip does about old data (None: the output keeps forever)."""
        seconds = self.settings.window
        if seconds is None:
            return None
        mode = self.settings.expiry_mode
        if mode == "auto":
            mode = await connector.expiry_mode()
        retention = Retention(seconds, self._clock(), mode)
        if mode != "hdel":
            return retention
        cutoff = retention.cutoff
        low = cutoff - TRIM_LOOKBACK if self._trimmed is None else self._trimmed
        high = min(cutoff, low + TRIM_MAX_FIELDS)
        return replace(retention, trim=(low, high)) if high > low else retention

    async def _send(
        self, connector: RedisConnector, timestamps: list[int], rows: list[bytes], retention: Retention | None
    ) -> None:
        """One pipelined round trip of the chunk (cluster: one per shard), confirmed by the replicas the
        connector waits for (ReplicasBehind otherwise); raises the reply the structure calls a failure."""

        def queue(pipe: AnyPipeline) -> None:
            if retention is None:
                self.structure.queue_write(pipe, timestamps, rows)
            else:
                self.structure.queue_write(pipe, timestamps, rows, retention)

        result = await connector.send(queue)
        try:
            self._check_results(result.replies)
        except ResponseError as exc:
            # Name the command and key (never the values) for the user, as the server's words do not.
            index = next((i for i, reply in enumerate(result.replies) if reply is exc), None)
            if index is not None and exc.args and isinstance(exc.args[0], str):
                name = " ".join(str(arg) for arg in result.commands[index][:2])
                exc.args = (f"{exc.args[0]} ({name})", *exc.args[1:])
            raise

    def _fall_back(self, connector: RedisConnector, retention: Retention | None, exc: ResponseError) -> bool:
        """Whether the server called the expiry command unknown and an older mode is to be tried."""
        if retention is None or self.settings.expiry_mode != "auto":
            return False
        command = _EXPIRY_COMMANDS[retention.mode]
        if not str(exc).lower().startswith(f"unknown command '{command.lower()}'"):
            return False
        return connector.expiry_unsupported(retention.mode)

    def _classify(self, exc: Exception) -> RedisWorkerError:
        try:
            where = self._provider().settings.address
        except Exception:
            where = "?"
        return classify(exc, where)

    async def _spool_pending(self) -> None:
        """Append the rows not yet on disk to the spool (fsynced)."""
        if self._spool is None:
            return
        start, stop = max(self._spooled, self._backlog.head), self._backlog.tail
        if start >= stop:
            return
        timestamps, rows = self._backlog.rows(start, stop)
        try:
            await asyncio.to_thread(self._spool.append, start, timestamps, rows)
        except OSError:
            _LOGGER.exception("Redis output %s: cannot write the spool in %s", self.name, self._spool)
            return
        self._spooled = stop

    def _failed(self, error: RedisWorkerError) -> None:
        previous, self._last_error = self._last_error, error
        self._connected = False
        if previous is None or type(previous) is not type(error):
            # Logged once per outage, and again only if its cause changes (e.g. WRONGTYPE, then down).
            if isinstance(error, CONNECTION_ERRORS):
                _LOGGER.warning(
                    "Redis output %s: cannot write (%s); buffering samples until the server is back",
                    self.name,
                    error,
                )
            elif isinstance(error, ReplicasBehind):
                _LOGGER.warning(
                    "Redis output %s: writes not confirmed by the replicas (%s); buffering samples and "
                    "retrying",
                    self.name,
                    error,
                )
            else:
                _LOGGER.warning(
                    "Redis output %s: the server refused the write (%s); buffering samples and retrying",
                    self.name,
                    error,
                )
            self._call(self._on_lost, error)
        if isinstance(error, AUTH_ERRORS) and not self._auth_reported:
            self._auth_reported = True
            if self._on_auth_failed is None:
                _LOGGER.warning("Redis output %s: credentials refused: %s", self.name, error)
            self._call(self._on_auth_failed, error)
        self._notify()

    def _succeeded(self) -> None:
        was = self._connected
        self._connected = True
        self._last_error = None
        self._auth_reported = False
        self._dropping = False
        if was is False:
            _LOGGER.info("Redis output %s: server back, buffered samples delivered", self.name)
            self._call(self._on_back)
        self._notify()

    def _count_expired(self, count: int) -> None:
        if count:
            self._expired += count
            _LOGGER.info(
                "Redis output %s: %d samples older than the retention window were not sent", self.name, count
            )

    def _count_dropped(self, count: int) -> None:
        self._dropped += count
        if not self._dropping:
            self._dropping = True
            _LOGGER.warning(
                "Redis output %s: backlog limit of %d samples reached, dropping the oldest",
                self.name,
                self._backlog.limit,
            )
            self._call(self._on_dropped, self._dropped)
            self._notify()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            self._call(listener)

    def _call(self, callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            _LOGGER.exception("Redis output %s: error in callback %r", self.name, callback)


def _inside_window(cutoff: int, timestamps: list[int], rows: list[bytes]) -> tuple[list[int], list[bytes]]:
    """The rows newer than `cutoff` (all of them, uncopied, in the usual case)."""
    if not timestamps or min(timestamps) > cutoff:
        return timestamps, rows
    kept = [index for index, timestamp in enumerate(timestamps) if timestamp > cutoff]
    return [timestamps[index] for index in kept], [rows[index] for index in kept]
