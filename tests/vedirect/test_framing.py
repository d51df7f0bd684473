"""Framing rules on hand-built streams: checksum bytes of any value, HEX inside blocks, junk, caps."""

import pytest

from custom_components.vemonitor.vedirect import (
    MAX_FIELDS,
    MAX_HEX_DIGITS,
    MAX_LABEL_LEN,
    MAX_VALUE_LEN,
    FrameParser,
    HexFrame,
    TextBlock,
)
from custom_components.vemonitor.vedirect.framing import MAX_BLOCK_LEN

from .helpers import ByteWiseParser, feed_chunks, make_block, valid_blocks

MAIN = {"PID": "0x203", "V": "12064", "I": "-7520", "P": "-91", "SOC": "838", "Alarm": "OFF", "Relay": "OFF"}


def _block_with_checksum_byte(wanted: int) -> bytes:
    """A valid block whose checksum byte is ``wanted`` (tuned through one digit-padded value)."""
    for pad in range(256 * 4):
        block = make_block({"V": "12064", "X": "A" * (pad % 64) + "B" * (pad // 64)})
        if block[-1] == wanted:
            return block
    raise AssertionError(wanted)


@pytest.mark.parametrize("checksum_byte", [0x00, 0x09, 0x0A, 0x0D, 0x3A, 0x80, 0xFF])
@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_checksum_byte_of_any_value(checksum_byte: int, chunk: int) -> None:
    block = _block_with_checksum_byte(checksum_byte)
    stream = block + make_block(MAIN) + block
    events, parser = feed_chunks(stream, [chunk])
    assert [event.fields["V"] for event in valid_blocks(events)] == ["12064"] * 3
    assert parser.stats.hex_frames == parser.stats.invalid_hex_frames == 0
    assert parser.stats.discarded_bytes == 0


def test_bad_checksum_block_is_dropped_whole() -> None:
    bad = make_block(MAIN).replace(b"12064", b"12065")
    parser = FrameParser()
    events = parser.feed(make_block(MAIN) + bad + make_block(MAIN))
    assert [event.valid for event in events if isinstance(event, TextBlock)] == [True, False, True]
    invalid = [event for event in events if isinstance(event, TextBlock) and not event.valid]
    assert invalid[0].fields == {}
    assert invalid[0].raw == bad
    assert parser.stats.invalid_blocks == 1


def test_first_bad_block_after_connect_counts_as_discarded() -> None:
    bad = make_block(MAIN).replace(b"12064", b"12065")
    parser = FrameParser()
    parser.feed(bad + make_block(MAIN))
    assert parser.stats.invalid_blocks == 0
    assert parser.stats.valid_blocks == 1
    assert parser.stats.discarded_bytes == len(bad)


@pytest.mark.parametrize("chunk", [1, 2, 7, 10_000])
def test_hex_frame_inside_a_block_keeps_the_block(chunk: int) -> None:
    block = make_block(MAIN)
    cut = block.index(b"\r\nI\t") + 4
    stream = block[:cut] + b":A0102000543\n" + block[cut:]
    events, parser = feed_chunks(stream, [chunk])
    assert isinstance(events[0], HexFrame)
    assert events[0].valid
    assert events[0].register == 0x0201
    assert events[0].value == "float"  # device state 5, decoded through the register table
    assert valid_blocks(events)[0].fields == MAIN
    assert parser.stats.hex_frames == 1


def test_hex_frames_between_blocks_and_bad_hex() -> None:
    stream = make_block(MAIN) + b":154\n:155\n" + make_block(MAIN) + b":1Z\r" + make_block(MAIN)
    events, parser = feed_chunks(stream, [5])
    assert parser.stats.valid_blocks == 3
    assert parser.stats.hex_frames == 1
    assert parser.stats.invalid_hex_frames == 2
    frames = [event for event in events if isinstance(event, HexFrame)]
    assert [frame.valid for frame in frames] == [True, False, False]


def test_colon_checksum_byte_does_not_start_hex() -> None:
    block = _block_with_checksum_byte(0x3A)
    parser = FrameParser()
    events = parser.feed(block + b"\r\nPID\t0x203" + block)
    assert parser.stats.hex_frames == parser.stats.invalid_hex_frames == 0
    # The second candidate swallows the stray field: one invalid block, no HEX frame.
    assert [isinstance(event, TextBlock) and event.valid for event in events] == [True, False]


def test_leading_junk_is_discarded_and_counted() -> None:
    junk = bytes(range(256)).replace(b"\r", b"").replace(b":", b"")
    parser = FrameParser()
    events = parser.feed(junk + make_block(MAIN))
    assert valid_blocks(events)[0].fields == MAIN
    assert parser.stats.discarded_bytes == len(junk)


@pytest.mark.parametrize(
    "broken",
    [
        b"\r\nV\t" + b"1" * (MAX_VALUE_LEN + 1) + b"\r\n",
        b"\r\n" + b"L" * (MAX_LABEL_LEN + 1) + b"\t1\r\n",
        b"".join(b"\r\nF%d\t1" % n for n in range(MAX_FIELDS + 1)) + b"\r\n",
        b"\r\nV\t12\rX",
        b"\r\nV\t1\n2",
    ],
)
@pytest.mark.parametrize("chunk", [1, 4096])
def test_resync_after_malformed_block(broken: bytes, chunk: int) -> None:
    stream = make_block(MAIN) + broken + make_block(MAIN)
    events, parser = feed_chunks(stream, [chunk])
    assert len(valid_blocks(events)) == 2
    assert parser.stats.invalid_blocks == 0


def test_caps_accept_the_largest_legal_block() -> None:
    fields = {f"L{n:0{MAX_LABEL_LEN - 1}d}": "9" * MAX_VALUE_LEN for n in range(MAX_FIELDS)}
    block = make_block(fields)
    assert len(block) == MAX_BLOCK_LEN
    # After a valid block (in sync): out of sync, only a block that begins with a start label counts.
    events = FrameParser().feed(make_block(MAIN) + block)
    assert valid_blocks(events)[1].fields == fields


def test_overlong_hex_frame_is_cut() -> None:
    parser = FrameParser()
    events = parser.feed(b":" + b"A" * (MAX_HEX_DIGITS + 50) + b"\n" + make_block(MAIN))
    assert parser.stats.invalid_hex_frames == 1
    assert valid_blocks(events)[0].fields == MAIN
    frame = events[0]
    assert isinstance(frame, HexFrame)
    assert len(frame.raw) <= MAX_HEX_DIGITS + 2


def test_unbounded_junk_keeps_memory_flat() -> None:
    parser = FrameParser()
    for _ in range(64):
        assert parser.feed(b"\r\nJ\t" + b"x" * 4096) == []
    assert parser.feed(b"\r\n:" + b"0" * 4096) != []
    assert valid_blocks(parser.feed(make_block(MAIN) + make_block(MAIN)))[-1].fields == MAIN


def test_empty_block_and_duplicate_labels() -> None:
    parser = FrameParser()
    empty = make_block({})
    duplicate = b"\r\nV\t1\r\nV\t2\r\nChecksum\t"
    duplicate += bytes(((-sum(duplicate)) & 0xFF,))
    events = parser.feed(make_block(MAIN) + empty + duplicate)
    assert [block.fields for block in valid_blocks(events)] == [MAIN, {}, {"V": "2"}]


def test_partial_block_at_the_end_waits_for_more() -> None:
    block = make_block(MAIN)
    parser = FrameParser()
    assert parser.feed(block[:-1]) == []
    assert valid_blocks(parser.feed(block[-1:]))[0].fields == MAIN


def _summing(body: bytes) -> bytes:
    """Append "Checksum\\t" and the byte that makes even a malformed block sum to 0."""
    body += b"\r\nChecksum\t"
    return body + bytes(((-sum(body)) & 0xFF,))


@pytest.mark.parametrize(
    "malformed",
    [
        _summing(b"\r\nV\t1\r2"),  # stray CR
        _summing(b"\r\nV\t1\r\nNOTAB"),  # line without TAB
        _summing(b"\r\n" + b"L" * (MAX_LABEL_LEN + 1) + b"\t1"),  # label over the cap
        _summing(b"\r\nV\t" + b"9" * (MAX_VALUE_LEN + 1)),  # value over the cap
        _summing(b"".join(b"\r\nF%d\t1" % n for n in range(MAX_FIELDS + 1))),  # too many fields
    ],
)
@pytest.mark.parametrize("chunk", [1, 4096])
def test_malformed_blocks_never_validate_even_when_they_sum(malformed: bytes, chunk: int) -> None:
    events, parser = feed_chunks(make_block(MAIN) + malformed + make_block(MAIN), [chunk])
    assert [block.fields for block in valid_blocks(events)] == [MAIN, MAIN]
    assert parser.stats.valid_blocks == 2


def test_long_blocks_byte_by_byte() -> None:
    fields = {f"L{n:0{MAX_LABEL_LEN - 1}d}": "9" * MAX_VALUE_LEN for n in range(MAX_FIELDS)}
    events, _ = feed_chunks(make_block(MAIN) + make_block(fields), [1])
    assert valid_blocks(events)[1].fields == fields


def test_colon_after_a_lone_cr_between_blocks() -> None:
    parser = FrameParser()
    events = parser.feed(make_block(MAIN) + b"\r:154\n" + make_block(MAIN))
    assert parser.stats.hex_frames == 1
    assert parser.stats.discarded_bytes == 1
    assert len(valid_blocks(events)) == 2


@pytest.mark.parametrize("junk", [b"\r", b"\r\r", b"\rx"])
def test_lone_cr_at_a_chunk_end(junk: bytes) -> None:
    parser = FrameParser()
    events = parser.feed(make_block(MAIN) + junk[:1])
    events += parser.feed(junk[1:] + b":154\n" + make_block(MAIN))
    assert parser.stats.hex_frames == 1
    assert parser.stats.discarded_bytes == len(junk)
    assert len(valid_blocks(events)) == 2


def test_block_cut_anywhere_by_a_chunk_end_is_still_taken() -> None:
    """A block cut by a chunk end is walked byte-wise, then handed back whole to the fast path."""
    block = make_block(MAIN)
    bad = block.replace(b"12064", b"12065")
    stream = block + block + bad + block
    whole_events, whole_parser = feed_chunks(stream, [len(stream)])
    for cut in range(1, len(stream)):
        events, parser = feed_chunks(stream, [cut, len(stream)])
        assert events == whole_events, cut
        assert parser.stats == whole_parser.stats, cut
    assert [block.valid for block in whole_events if isinstance(block, TextBlock)] == [
        True,
        True,
        False,
        True,
    ]


def test_long_blocks_are_checked_over_every_byte() -> None:
    fields = {f"L{n:02d}": "9" * MAX_VALUE_LEN for n in range(MAX_FIELDS)}
    block = make_block(fields)
    assert len(block) > 2000
    bad = block[:1500] + b"8" + block[1501:]
    parser = FrameParser()
    events = parser.feed(make_block(MAIN) + block + bad + block)
    assert [event.valid for event in events if isinstance(event, TextBlock)] == [True, True, False, True]
    assert valid_blocks(events)[1].fields == fields


def test_many_distinct_blocks_and_repeats_give_independent_fields() -> None:
    """More distinct lines and blocks than the parser remembers; repeats still get their own dict."""
    blocks = [make_block({"V": str(12000 + n), "I": str(n % 7), "SER#": f"HQ{n}"}) for n in range(600)]
    stream = b"".join(blocks + blocks[:50])
    events, _ = feed_chunks(stream, [5000])
    reference, _ = feed_chunks(stream, [len(stream)], ByteWiseParser())
    assert events == reference
    taken = valid_blocks(events)
    assert [block.fields["V"] for block in taken[600:]] == [str(12000 + n) for n in range(50)]
    taken[0].fields["V"] = "changed"
    assert taken[600].fields["V"] == "12000"
