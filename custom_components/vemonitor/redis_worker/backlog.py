"""The per-output buffer of encoded rows: compact, bounded, released only on acknowledgement.

Rows live in fixed-size chunks of three flat containers (an int64 array of timestamps, a uint32 array of
row end offsets, one bytes blob), so a buffered sample costs its row's text plus 12 bytes, not a dict.
Every row has a sequence number; the worker acknowledges "everything below seq N", so rows dropped or
added while a batch is in flight never shift what a late acknowledgement removes.
"""

from array import array
from collections import deque

CHUNK_ROWS = 1024


class _Chunk:
    """Up to CHUNK_ROWS rows; the blob is frozen to exact-size bytes once the chunk is full."""

    __slots__ = ("data", "ends", "timestamps")

    def __init__(self) -> None:
        self.timestamps = array("q")
        self.ends = array("I")
        self.data: bytearray | bytes = bytearray()

    def append(self, timestamp: int, row: bytes) -> None:
        data = self.data
        assert isinstance(data, bytearray)
        data += row
        self.timestamps.append(timestamp)
        self.ends.append(len(data))
        if len(self.timestamps) == CHUNK_ROWS:
            self.data = bytes(data)

    def slice(self, start: int, stop: int, timestamps: list[int], rows: list[bytes]) -> None:
        """Append rows [start, stop) of this chunk to the output lists."""
        ends, data = self.ends, self.data
        timestamps.extend(self.timestamps[start:stop])
        begin = ends[start - 1] if start else 0
        for index in range(start, stop):
            end = ends[index]
            rows.append(bytes(data[begin:end]))
            begin = end


class Backlog:
    """Rows waiting for Redis, oldest first, at most `limit` (the oldest are dropped beyond)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("backlog limit must be at least 1")
        self.limit = limit
        self._chunks: deque[_Chunk] = deque([_Chunk()])
        self._base = 0  # seq of the first row of _chunks[0]
        self.head = 0  # seq of the oldest pending row
        self.tail = 0  # seq the next row gets

    def __len__(self) -> int:
        return self.tail - self.head

    def append(self, timestamp: int, row: bytes) -> int:
        """Buffer one row; return how many of the oldest rows were dropped to stay within the limit."""
        last = self._chunks[-1]
        if len(last.timestamps) == CHUNK_ROWS:
            last = _Chunk()
            self._chunks.append(last)
        last.append(timestamp, row)
        self.tail += 1
        excess = len(self) - self.limit
        if excess > 0:
            self.release(self.head + excess)
            return excess
        return 0

    def rows(self, start: int, stop: int) -> tuple[list[int], list[bytes]]:
        """Timestamps and rows of seqs [start, stop), clipped to what is pending."""
        start, stop = max(start, self.head), min(stop, self.tail)
        timestamps: list[int] = []
        rows: list[bytes] = []
        seq = start
        while seq < stop:
            index, offset = divmod(seq - self._base, CHUNK_ROWS)
            count = min(CHUNK_ROWS - offset, stop - seq)
            self._chunks[index].slice(offset, offset + count, timestamps, rows)
            seq += count
        return timestamps, rows

    def release(self, stop: int) -> None:
        """Forget every row below seq `stop` (acknowledged by Redis, or dropped)."""
        self.head = min(max(self.head, stop), self.tail)
        while len(self._chunks) > 1 and self._base + CHUNK_ROWS <= self.head:
            self._chunks.popleft()
            self._base += CHUNK_ROWS
        if self.head == self.tail and self.tail - self._base == CHUNK_ROWS:
            # Everything released and the only chunk is full: start afresh instead of keeping its blob.
            self._chunks[0] = _Chunk()
            self._base = self.tail
