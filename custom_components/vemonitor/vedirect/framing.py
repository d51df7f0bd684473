"""VE.Direct framing: a byte stream in any chunking -> text blocks and HEX frames.

Two paths give identical results. The fast path works on whole buffers with C-speed bytes operations and
only takes blocks it can decide completely (a full block, no ``:`` inside, well formed, checksum right). Every
other byte goes through the byte-wise slow path, whose state survives across ``feed`` calls, so a block or HEX
frame split across chunks is still recovered; once a later chunk completes such a block, its bytes go back to
the fast path (``_rewind``). The fast path costs a few C calls per block because devices repeat themselves:
whole blocks (a BMV's history block) and field lines (93 % of a BMV's lines) are parsed once and remembered in
small per-parser memos that are cleared when full. The tests check it against the byte-wise path alone.

Grammar (after the opening ``\\r\\n``): ``label TAB value CR LF`` fields, then ``Checksum TAB <any byte>``.
A label is ``[A-Za-z0-9#_]+``, a value printable ASCII (0x20..0x7E). Bytes that break the line structure (a
CR or LF out of place, a cap exceeded) abandon the block; a label or value outside that character set leaves
the structure intact, so the block runs to its checksum byte and is then invalid whatever its sum: a NUL adds
0 to the sum, and a block with one inserted would otherwise pass (with a phantom label such as ``H19\\x00``).

A ``:`` anywhere but the checksum byte starts a HEX frame, which ends at ``\\n``; its bytes never enter the
text sum and the interrupted text state resumes afterwards (also between a block's opening CR and LF). A run
of ``:`` and hex digits that ends any other way, or that is no valid frame, was rather a corrupted text byte:
it is reported as an invalid HEX frame, and the block it interrupted is abandoned, since the run's bytes are
missing from the sum (a block whose remaining bytes still summed to 0 would be accepted with a cut value).

Memory caps (every real capture and the VDP guideline of 22 fields, 8-char labels, 32-char values fit with
slack): ``MAX_FIELDS`` fields per block, ``MAX_LABEL_LEN``/``MAX_VALUE_LEN`` bytes per label/value,
``MAX_HEX_DIGITS`` digits per HEX frame. Exceeding one abandons the block (its bytes count as discarded) and
the parser resynchronises on the next ``\\r\\n``. Hence the bound (``scripts/fuzz`` checks it after every
``feed``): the block in progress holds at most ``MAX_BLOCK_LEN`` bytes, a HEX frame in progress at most
``1 + MAX_HEX_DIGITS`` (the ``:`` and its digits), the memos at most ``_KNOWN_BLOCKS`` blocks and
``_KNOWN_LINES`` lines.

Synchronisation: the parser is in sync when the bytes before the next ``\\r\\n`` were a block's checksum byte
(possibly followed by HEX frames). At the stream start, after an abandoned block and after any byte discarded
between blocks it is not, and the next block may be the tail of a block joined mid-way, whose first
``\\r\\n`` is a field's: such a block counts only if it begins with one of ``BLOCK_START_LABELS`` (else a cut
block whose remaining bytes happen to sum to 0, 1 in 256, would be accepted with its first fields missing),
and if it fails, its bytes count as discarded rather than as an invalid block. Its checksum byte, at the end
of a block either way, puts the parser back in sync.
"""

from dataclasses import dataclass
import re
from typing import Final
from zlib import adler32

from .hexproto import HexFrame, parse_frame

MAX_FIELDS: Final = 32
MAX_LABEL_LEN: Final = 16
MAX_VALUE_LEN: Final = 64
MAX_HEX_DIGITS: Final = 160

CHECKSUM_LABEL: Final = "Checksum"
BLOCK_START_LABELS: Final = frozenset({"PID", "H1", "V"})
"""The labels a block can begin with, the only blocks trusted after the stream start or a resync.

PID opens the main block of every device that has a product id (MPPT, BMV-70x/71x, SmartShunt, inverters,
chargers), H1 the history block of a BMV/SmartShunt, and V the main block of a BMV-600, which sends no PID
(its main block is the others' ``PID V ...`` without the PID). Out of sync, the first ``\\r\\n`` may be a
field's rather than a block's: a block that begins anywhere else is the tail of one joined mid-way. V is
also a field inside MPPT and BMV-70x blocks, so a tail cut just before it still passes when its missing
head sums to 0 mod 256; its fields then are whole and right, only the head's are missing.
"""
_END_MARK: Final = b"\r\nChecksum\t"
_END_MARK_LEN: Final = len(_END_MARK)
# Longest block the grammar allows, checksum byte included: the fast path never searches further.
MAX_BLOCK_LEN: Final = 2 + MAX_FIELDS * (MAX_LABEL_LEN + 1 + MAX_VALUE_LEN + 2) + _END_MARK_LEN - 2 + 1

_CR: Final = 0x0D
_LF: Final = 0x0A
_TAB: Final = 0x09
_COLON: Final = 0x3A
_HEX_DIGITS: Final = frozenset(b"0123456789ABCDEFabcdef")
_CHECKSUM_LABEL_BYTES: Final = CHECKSUM_LABEL.encode()
_CHECKSUM_LABEL_LEN: Final = len(_CHECKSUM_LABEL_BYTES)
_START_LABEL_BYTES: Final = frozenset(label.encode() for label in BLOCK_START_LABELS)
# The field grammar (str patterns, for checks outside the parser too). The slow path never holds a ":" in a
# label or value (it starts a HEX frame); the fast path leaves any line with one to it.
LABEL_PATTERN: Final = "[A-Za-z0-9#_]+"
VALUE_PATTERN: Final = "[\x20-\x7e]*"
_LABEL_RE: Final = re.compile(LABEL_PATTERN.encode())
_VALUE_RE: Final = re.compile(VALUE_PATTERN.encode())
# adler32's low half is exactly 1 + the byte sum up to this length (256 * 0xFF + 1 < 65521).
_ADLER_EXACT_LEN: Final = 256
# Fast-path memo sizes: whole blocks (a BMV repeats its history block) and field lines.
_KNOWN_BLOCKS: Final = 32
_KNOWN_LINES: Final = 256

# Slow-path states.
_SEEK: Final = 0  # between blocks, waiting for "\r\n"
_SEEK_CR: Final = 1  # saw "\r" between blocks
_LABEL: Final = 2
_VALUE: Final = 3
_FIELD_CR: Final = 4  # saw the "\r" ending a value
_CHECKSUM: Final = 5  # saw "Checksum\t": the next byte ends the block
_HEX: Final = 6
_IN_BLOCK: Final = frozenset((_LABEL, _VALUE, _FIELD_CR, _CHECKSUM))  # a block is open: its bytes are in _raw


@dataclass(slots=True)
class TextBlock:
    """One text block; an invalid one carries no fields so that nothing of it reaches a consumer."""

    fields: dict[str, str]
    raw: bytes
    valid: bool = True


type FrameEvent = TextBlock | HexFrame


@dataclass(slots=True)
class ParserStats:
    """Counters since the parser was created."""

    valid_blocks: int = 0
    invalid_blocks: int = 0
    hex_frames: int = 0
    invalid_hex_frames: int = 0
    discarded_bytes: int = 0


def block_checksum_ok(block: bytes | bytearray) -> bool:
    """True iff the bytes sum to 0 mod 256.

    adler32's low half is 1 + the byte sum mod 65521, exact for up to 256 bytes: summing it per 256-byte
    slice runs in C, many times faster than ``sum`` over the ints.
    """
    view = memoryview(block)
    total = 0
    for offset in range(0, len(view), _ADLER_EXACT_LEN):
        total += adler32(view[offset : offset + _ADLER_EXACT_LEN]) - 1
    return total & 0xFF == 0


class _IrregularLine(Exception):
    """A field line the fast path leaves to the byte-wise state machine."""


class _KnownLines(dict[bytes, tuple[str, str]]):
    """Field line -> (label, value), checked once: devices repeat most lines block after block.

    A BMV-712 repeats 93 % of its lines within the last 256 distinct ones, so a block costs one split and
    a lookup per line instead of a split, a decode and the grammar checks per line. Cleared when full.
    """

    __slots__ = ()

    def __missing__(self, line: bytes) -> tuple[str, str]:
        text = line.decode("latin-1")
        label, tab, value = text.partition("\t")
        # The grammar with str methods (faster than a regex here): ASCII isalnum is [A-Za-z0-9], ASCII
        # isprintable is 0x20..0x7E; no ":" (a HEX frame: the slow path's), no CR/LF (neither passes).
        if not (
            tab
            and len(label) <= MAX_LABEL_LEN
            and len(value) <= MAX_VALUE_LEN
            and text.isascii()
            and value.isprintable()
            and ":" not in value
            and (label.isalnum() or label.replace("#", "0").replace("_", "0").isalnum())
        ):
            raise _IrregularLine
        if len(self) >= _KNOWN_LINES:
            self.clear()
        pair = self[line] = (label, value)
        return pair


class FrameParser:
    """Incremental VE.Direct parser: ``feed`` bytes, get the completed events."""

    __slots__ = (
        "_fields",
        "_hex",
        "_hex_return_mode",
        "_known_blocks",
        "_known_lines",
        "_label",
        "_mode",
        "_raw",
        "_synced",
        "_value",
        "stats",
    )

    def __init__(self) -> None:
        self.stats = ParserStats()
        self._mode = _SEEK
        self._hex_return_mode = _SEEK
        self._raw = bytearray()
        self._label = bytearray()
        self._value = bytearray()
        self._fields: list[tuple[bytes, bytes]] = []
        self._hex = bytearray()
        self._synced = False
        self._known_blocks: dict[bytes, dict[str, str]] = {}
        self._known_lines = _KnownLines()

    def feed(self, data: bytes | bytearray | memoryview) -> list[FrameEvent]:
        """Consume a chunk; return the blocks and HEX frames completed by it, in stream order."""
        buf = bytes(data)
        if self._mode in _IN_BLOCK and self._completes_block(buf):
            buf = self._rewind() + buf
        events: list[FrameEvent] = []
        end = len(buf)
        pos = 0
        while pos < end:
            if self._mode == _SEEK:
                pos = self._fast(buf, pos, events)
                if pos >= end:
                    break
            pos = self._slow(buf, pos, events)
        return events

    def _completes_block(self, data: bytes) -> bool:
        """True iff ``data`` holds the end of the block in progress (its mark may straddle the cut)."""
        tail = self._raw[-_END_MARK_LEN:] + data[:MAX_BLOCK_LEN]
        mark = tail.find(_END_MARK)
        return 0 <= mark < len(tail) - _END_MARK_LEN

    def _rewind(self) -> bytes:
        """Give back the bytes of the block in progress and return to SEEK.

        A block cut by a chunk end is walked byte by byte up to the cut; once the next chunk completes it, the
        fast path takes it whole. Exact: re-parsing these bytes from SEEK rebuilds the state they left (they
        hold no HEX byte and emitted nothing), and the fast path hands back to it anything it would not take.
        """
        block_start = bytes(self._raw)
        self._reset_block()
        return block_start

    def _fast(self, buf: bytes, pos: int, events: list[FrameEvent]) -> int:
        """Take whole well-formed blocks from ``pos`` (SEEK state); return where the slow path goes on."""
        end = len(buf)
        stats = self.stats
        find = buf.find
        append = events.append
        known_blocks = self._known_blocks
        parse_line = self._known_lines.__getitem__
        synced = self._synced
        taken = 0
        try:
            while True:
                start = find(b"\r\n", pos)
                if start != pos:
                    # Junk up to the next "\r\n", or without one up to the last byte (it may be the "\r" of
                    # the next block), or up to a HEX frame's ":" (the last byte too) and a lone "\r" before
                    # it (the frame may come between a block's opening CR and LF).
                    if start >= 0:
                        stop = start
                        colon = find(b":", pos, start)
                    else:
                        stop = end - 1
                        colon = find(b":", pos)
                    if colon >= 0:
                        stop = colon - 1 if colon > pos and buf[colon - 1] == _CR else colon
                    if stop > pos:
                        stats.discarded_bytes += stop - pos
                        synced = False
                    if stop != start:
                        return max(stop, pos)
                mark = find(_END_MARK, start, start + MAX_BLOCK_LEN)
                pos = mark + _END_MARK_LEN + 1
                if mark < 0 or pos > end:
                    return start
                raw = buf[start:pos]
                fields = known_blocks.get(raw)
                if fields is None:
                    if (
                        (adler32(raw) - 1) & 0xFF
                        if pos - start <= _ADLER_EXACT_LEN
                        else not block_checksum_ok(raw)
                    ):
                        return start
                    if mark > start:
                        lines = buf[start + 2 : mark].split(b"\r\n")
                        if len(lines) > MAX_FIELDS:
                            return start
                        try:
                            fields = dict(map(parse_line, lines))
                        except _IrregularLine:
                            return start
                        if len(fields) != len(lines):
                            return start  # duplicate labels: the slow path merges them
                    else:
                        fields = {}
                    if len(known_blocks) >= _KNOWN_BLOCKS:
                        known_blocks.clear()
                    known_blocks[raw] = fields
                if not synced and next(iter(fields), None) not in BLOCK_START_LABELS:
                    return start  # maybe the tail of a block: the slow path discards it
                append(TextBlock(fields.copy(), raw))
                taken += 1
                synced = True
        finally:
            stats.valid_blocks += taken
            self._synced = synced

    def _slow(self, buf: bytes, pos: int, events: list[FrameEvent]) -> int:
        """Byte-wise state machine from ``pos``; return once back between blocks (or at the buffer end)."""
        end = len(buf)
        stats = self.stats
        raw = self._raw
        while pos < end:
            byte = buf[pos]
            pos += 1
            mode = self._mode
            if mode == _HEX:
                hex_buf = self._hex
                if byte == _LF:
                    hex_buf.append(byte)
                    if not self._end_hex(events):
                        self._cut_by_hex_run()
                elif byte in _HEX_DIGITS and len(hex_buf) <= MAX_HEX_DIGITS:
                    hex_buf.append(byte)
                else:
                    self._end_hex(events)
                    self._cut_by_hex_run()
                    pos -= 1  # the byte belongs to the resumed text state
            elif byte == _COLON and mode != _CHECKSUM:
                self._hex_return_mode = mode
                self._hex.append(byte)
                self._mode = _HEX
            elif mode == _SEEK:
                if byte == _CR:
                    self._mode = _SEEK_CR
                else:
                    stats.discarded_bytes += 1
                    self._synced = False
            elif mode == _SEEK_CR:
                if byte == _LF:
                    raw += b"\r\n"
                    self._mode = _LABEL
                elif byte == _CR:
                    stats.discarded_bytes += 1
                    self._synced = False
                else:
                    stats.discarded_bytes += 2
                    self._synced = False
                    self._mode = _SEEK
            elif mode == _LABEL:
                label = self._label
                # After MAX_FIELDS fields only the checksum may follow: the block stays within MAX_BLOCK_LEN.
                full = len(self._fields) >= MAX_FIELDS
                if byte == _TAB:
                    if label == _CHECKSUM_LABEL_BYTES:
                        raw.append(byte)
                        self._mode = _CHECKSUM
                    elif full:
                        self._abandon()
                        pos -= 1
                    else:
                        raw.append(byte)
                        self._mode = _VALUE
                elif byte in (_CR, _LF) or len(label) >= (_CHECKSUM_LABEL_LEN if full else MAX_LABEL_LEN):
                    self._abandon()
                    pos -= 1
                else:
                    label.append(byte)
                    raw.append(byte)
            elif mode == _VALUE:
                if byte == _CR:
                    raw.append(byte)
                    self._mode = _FIELD_CR
                elif byte == _LF or len(self._value) >= MAX_VALUE_LEN:
                    self._abandon()
                    pos -= 1
                else:
                    self._value.append(byte)
                    raw.append(byte)
            elif mode == _FIELD_CR:
                if byte == _LF:
                    raw.append(byte)
                    self._fields.append((bytes(self._label), bytes(self._value)))
                    self._label.clear()
                    self._value.clear()
                    self._mode = _LABEL
                else:
                    self._abandon()
                    pos -= 1
            else:  # _CHECKSUM
                raw.append(byte)
                self._end_block(events)
            if self._mode == _SEEK:
                break
        return pos

    def _end_block(self, events: list[FrameEvent]) -> None:
        """Judge the block at its checksum byte: sum, grammar, and out of sync, its first label."""
        block = bytes(self._raw)
        fields = self._fields
        if (
            (self._synced or (fields and fields[0][0] in _START_LABEL_BYTES))
            and block_checksum_ok(block)
            and all(_LABEL_RE.fullmatch(label) and _VALUE_RE.fullmatch(value) for label, value in fields)
        ):
            events.append(TextBlock({label.decode(): value.decode() for label, value in fields}, block))
            self.stats.valid_blocks += 1
        elif self._synced:
            events.append(TextBlock({}, block, valid=False))
            self.stats.invalid_blocks += 1
        else:
            self.stats.discarded_bytes += len(block)
        self._synced = True
        self._reset_block()

    def _cut_by_hex_run(self) -> None:
        """A ``:`` run that is no valid HEX frame: abandon the block it cut (a CR before it counts as junk).

        It was rather a text byte turned into ``:``, and the run's bytes are missing from the block's sum.
        With no ``\\n`` the block would run on and might still sum to 0; with one (a CR turned into ``:``,
        giving ``:\\n``) it would resume in the middle of a value and swallow the next block's start.
        """
        if self._mode in _IN_BLOCK:
            self._abandon()
        elif self._mode == _SEEK_CR:
            self.stats.discarded_bytes += 1
            self._synced = False
            self._mode = _SEEK

    def _abandon(self) -> None:
        """Drop a malformed or over-long block: its bytes are discarded and the next block may be partial."""
        self.stats.discarded_bytes += len(self._raw)
        self._synced = False
        self._reset_block()

    def _reset_block(self) -> None:
        self._raw.clear()
        self._label.clear()
        self._value.clear()
        self._fields.clear()
        self._mode = _SEEK

    def _end_hex(self, events: list[FrameEvent]) -> bool:
        """Emit the HEX frame in progress, resume the interrupted text state; True iff the frame is valid."""
        frame = parse_frame(bytes(self._hex))
        self._hex.clear()
        if frame.valid:
            self.stats.hex_frames += 1
        else:
            self.stats.invalid_hex_frames += 1
        events.append(frame)
        self._mode = self._hex_return_mode
        return frame.valid
