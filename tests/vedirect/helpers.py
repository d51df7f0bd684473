"""Shared test helpers: real capture bytes and hand-built blocks."""

from pathlib import Path
from typing import override

from custom_components.vemonitor.vedirect import FrameEvent, FrameParser, HexFrame, TextBlock

CAPTURES = Path(__file__).parent.parent / "fixtures" / "captures"


def capture(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


def make_block(fields: dict[str, str]) -> bytes:
    """A valid text block: the checksum byte makes all bytes sum to 0 mod 256."""
    body = b"".join(b"\r\n%s\t%s" % (label.encode(), value.encode()) for label, value in fields.items())
    body += b"\r\nChecksum\t"
    return body + bytes(((-sum(body)) & 0xFF,))


class ByteWiseParser(FrameParser):
    """The reference model: the byte-wise state machine alone (the fast path never takes a byte).

    Every feed through the real parser must give what this gives: that proves the fast path right.
    """

    __slots__ = ()

    @override
    def _fast(self, buf: bytes, pos: int, events: list[FrameEvent]) -> int:
        return pos


def feed_chunks(
    data: bytes, sizes: list[int], parser: FrameParser | None = None
) -> tuple[list[FrameEvent], FrameParser]:
    """Feed ``data`` cut into chunks of the given sizes (cycled); the remainder goes in one piece."""
    parser = parser or FrameParser()
    events: list[FrameEvent] = []
    pos = 0
    index = 0
    while pos < len(data):
        size = sizes[index % len(sizes)] if sizes else len(data)
        events += parser.feed(data[pos : pos + size])
        pos += size
        index += 1
    return events, parser


def valid_blocks(events: list[FrameEvent]) -> list[TextBlock]:
    return [event for event in events if isinstance(event, TextBlock) and event.valid]


def hex_frames(events: list[FrameEvent]) -> list[HexFrame]:
    return [event for event in events if isinstance(event, HexFrame)]
