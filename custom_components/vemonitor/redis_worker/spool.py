"""The on-disk mirror of an output's backlog: append-only segment files, fsynced, deleted once delivered.

Blocking file I/O: the worker calls every method through asyncio.to_thread, one call at a time.

A segment is `NNNNNNNN.seg`: MAGIC, the structure layout as one JSON line, then records of
`<int64 timestamp><uint32 length><uint32 crc32>` + row. A record torn by a hard kill fails its length or
CRC check and ends the read of that segment. Segments map to backlog sequence numbers in memory only; a
segment is deleted when every row in it is acknowledged, so after a crash at most one partly acknowledged
segment is sent again, which HSET (field = timestamp) makes harmless.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
import json
import logging
import os
from pathlib import Path
import struct
from typing import Any, BinaryIO
import zlib

_LOGGER = logging.getLogger(__name__)

MAGIC = b"VEMSPOOL1\n"
SUFFIX = ".seg"
_RECORD = struct.Struct("<qII")
SEGMENT_ROWS = 16384


@dataclass(slots=True)
class SpooledRows:
    """The rows of one segment read back at start, with the layout they were encoded under."""

    path: Path
    layout: dict[str, Any]
    timestamps: list[int] = field(default_factory=list)
    rows: list[bytes] = field(default_factory=list)


@dataclass(slots=True)
class _Segment:
    path: Path
    end_seq: int
    rows: int = 0
    file: BinaryIO | None = None


class Spool:
    """Segment files in `directory` for one output."""

    def __init__(self, directory: Path, layout: dict[str, Any]) -> None:
        self.directory = directory
        self._header = MAGIC + json.dumps(layout, sort_keys=True).encode() + b"\n"
        self._segments: list[_Segment] = []
        self._next_number = 1

    def __repr__(self) -> str:
        return f"Spool({str(self.directory)!r}, segments={len(self._segments)})"

    def releasable(self, head: int) -> bool:
        """Whether `discard(head)` would delete a file (cheap, no I/O: call it on the loop)."""
        return bool(self._segments) and self._segments[0].end_seq <= head

    def load(self) -> list[SpooledRows]:
        """Read every segment, oldest first; the caller then tells `loaded()` the seqs it gave them."""
        self.directory.mkdir(parents=True, exist_ok=True)
        loaded: list[SpooledRows] = []
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            self._next_number = max(self._next_number, _number(path) + 1)
            if (spooled := _read_segment(path)) is not None:
                loaded.append(spooled)
        return loaded

    def loaded(self, spooled: SpooledRows, end_seq: int) -> None:
        """Track a segment read by `load()`, whose rows got seqs below `end_seq` (no I/O)."""
        self._segments.append(_Segment(spooled.path, end_seq, len(spooled.rows)))

    def append(self, first_seq: int, timestamps: Sequence[int], rows: Sequence[bytes]) -> None:
        """Write rows with seqs [first_seq, first_seq + len) durably (fsync) before returning."""
        current = self._segments[-1] if self._segments else None
        if (
            current is None
            or current.file is None
            or current.end_seq != first_seq
            or current.rows + len(rows) > SEGMENT_ROWS
        ):
            current = self._new_segment(first_seq)
        assert current.file is not None
        current.file.write(b"".join(_records(timestamps, rows)))
        current.file.flush()
        os.fsync(current.file.fileno())
        current.rows += len(rows)
        current.end_seq = first_seq + len(rows)

    def discard(self, head: int) -> None:
        """Delete the segments whose rows are all below seq `head` (delivered or dropped)."""
        while self._segments and self._segments[0].end_seq <= head:
            segment = self._segments.pop(0)
            if segment.file is not None:
                segment.file.close()
            segment.path.unlink(missing_ok=True)

    def close(self) -> None:
        """Close the open segment; the files stay for the next start."""
        for segment in self._segments:
            if segment.file is not None:
                segment.file.close()
                segment.file = None

    def _new_segment(self, first_seq: int) -> _Segment:
        if self._segments and (previous := self._segments[-1]).file is not None:
            previous.file.close()
            previous.file = None
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self._next_number:08d}{SUFFIX}"
        self._next_number += 1
        file = path.open("xb")
        file.write(self._header)
        segment = _Segment(path, first_seq, 0, file)
        self._segments.append(segment)
        _fsync_directory(self.directory)
        return segment


def _records(timestamps: Sequence[int], rows: Sequence[bytes]) -> Iterator[bytes]:
    for timestamp, row in zip(timestamps, rows, strict=True):
        yield _RECORD.pack(timestamp, len(row), zlib.crc32(row))
        yield row


def _number(path: Path) -> int:
    try:
        return int(path.stem)
    except ValueError:
        return 0


def _read_segment(path: Path) -> SpooledRows | None:
    """The rows of one segment up to the first torn or corrupt record; None if it is no segment."""
    data = path.read_bytes()
    header_end = data.find(b"\n", len(MAGIC))
    try:
        if not data.startswith(MAGIC) or header_end < 0:
            raise ValueError("bad magic")  # noqa: TRY301
        layout = json.loads(data[len(MAGIC) : header_end])
    except ValueError:
        _LOGGER.warning("Ignoring %s: not a VE Monitor spool segment", path)
        return None
    spooled = SpooledRows(path, layout)
    offset, size = header_end + 1, len(data)
    while offset + _RECORD.size <= size:
        timestamp, length, crc = _RECORD.unpack_from(data, offset)
        start = offset + _RECORD.size
        row = data[start : start + length]
        if len(row) != length or zlib.crc32(row) != crc:
            _LOGGER.warning("Spool segment %s: torn record at byte %d, rest ignored", path, offset)
            break
        spooled.timestamps.append(timestamp)
        spooled.rows.append(row)
        offset = start + length
    return spooled


def _fsync_directory(directory: Path) -> None:
    """Make a new file's directory entry durable too."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
