"""OutputWorker: buffers every sample of one Redis output and delivers them, nothing lost or duplicated.

Every `time_interval x cache_interval` seconds the worker sends all buffered rows, oldest first, in chunks
of `batch_size` rows, each chunk one pipelined round trip (SADD of the node SET + one multi-field HSET per
node). The pipeline is not a MULTI transaction: every command is idempotent (HSET field = timestamp, SADD),
so a chunk that fails half-way is simply sent again, and without MULTI the server reports NOPERM, READONLY
or OOM as themselves instead of EXECABORT. A row leaves the backlog only when Redis answered its chunk.

While Redis is unreachable the rows stay in the bounded backlog and are appended to the spool (fsynced) at
every tick, and on a clean stop; on start the spool is read back. Disk is written only while Redis fails,
so a healthy system does not wear its SD card.

Hard-kill loss bound: the rows neither acknowledged nor spooled, i.e. at most the samples of the last
send interval plus one round trip (bounded by the client timeout): 5 s + 5 s = 10 s with 1 x 5 and the
default timeout; against a server that refuses connections (down, restarting) the round trip is instant,
so at most the last send interval (5 s).
"""

import asyncio
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
import datetime as dt
import logging
from pathlib import Path
from typing import Any

from .backlog import Backlog
from .connector import RedisConnector
from .errors import AUTH_ERRORS, CONNECTION_ERRORS, RedisWorkerError, classify
from .sample import Sample
from .spool import Spool, SpooledRows
from .structures import DataStructure, create_structure

_LOGGER = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400

type ConnectorProvider = Callable[[], RedisConnector]
"""Returns the server's current connector (the HA layer swaps it after a reauth)."""
type Listener = Callable[[], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputSettings:
    """One Redis output (the seed's `outputs.redis` item) as plain values.

    `backlog_limit` None means one day of samples (86,400 / time_interval). `retry_initial`/`retry_max`
    bound the exponential backoff between failed attempts; `batch_size` is rows per round trip.
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

    def __post_init__(self) -> None:
        if self.time_interval <= 0 or self.cache_interval < 1:
            raise ValueError("time_interval must be > 0 and cache_interval >= 1")
        if self.batch_size < 1 or self.retry_initial <= 0 or self.retry_max < self.retry_initial:
            raise ValueError("batch_size >= 1 and 0 < retry_initial <= retry_max required")

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
    ) -> None:
        self.settings = settings
        self.structure: DataStructure = create_structure(
            settings.structure, settings.redis_node, settings.columns
        )
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
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._loaded = False
        self._connected: bool | None = None  # None until the first attempt
        self._auth_reported = False
        self._dropping = False
        self._dropped = 0
        self._written = 0
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
            self.connected,
            self.pending_samples,
            self._dropped,
            self._written,
            self._last_write,
            self._last_error,
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
        try:
            client = self._provider().client
            while len(backlog):
                start = backlog.head
                timestamps, rows = backlog.rows(start, start + batch)
                async with client.pipeline(transaction=False) as pipe:
                    self.structure.queue_write(pipe, timestamps, rows)
                    await pipe.execute()
                backlog.release(start + len(rows))
                self._written += len(rows)
                self._last_write = dt.datetime.now(dt.UTC)
                if self._spool is not None and self._spool.releasable(backlog.head):
                    await asyncio.to_thread(self._spool.discard, backlog.head)
                await asyncio.sleep(0)  # let new samples and other outputs in between chunks
        except Exception as exc:  # every failure is classified and reported
            self._failed(self._classify(exc))
            return False
        self._succeeded()
        return True

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
