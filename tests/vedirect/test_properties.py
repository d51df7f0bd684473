"""Properties: chunking never changes the result; corruption never yields a wrong block nor loses a clean one.

``ByteWiseParser`` runs the byte-wise state machine alone: every result of the real parser (fast path, memos,
blocks cut by chunk ends and handed back to the fast path) must equal its result on the same bytes.
"""

from collections import Counter

from hypothesis import HealthCheck, given, settings, strategies as st

from custom_components.vemonitor.vedirect import FrameParser, TextBlock

from .helpers import CAPTURES, ByteWiseParser, capture, feed_chunks, make_block

BLUESOLAR = capture("bluesolar-mppt-75-15_fw150.log")[:40_000]  # has async HEX frames
BMV712 = capture("bmv-712_fw0403_a.log")[:20_000]
SMARTSOLAR = capture("smartsolar-100-20_fw139.dump")  # starts mid-field, HEX frames
BMV700 = capture("bmv-700_fw0308.dump")[:20_000]  # ':' checksum bytes
SAMPLES = [BLUESOLAR, BMV712, SMARTSOLAR, BMV700]
CAPTURE_NAMES = sorted(path.name for path in CAPTURES.iterdir() if path.suffix != ".md")

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _whole(data: bytes) -> tuple[list[object], object]:
    parser = FrameParser()
    return list(parser.feed(data)), parser.stats


@FAST
@given(
    sample=st.sampled_from(SAMPLES),
    sizes=st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=20),
)
def test_any_chunking_of_a_capture_equals_the_whole_feed(sample: bytes, sizes: list[int]) -> None:
    events, parser = feed_chunks(sample, sizes)
    whole_events, whole_stats = _whole(sample)
    assert events == whole_events
    assert parser.stats == whole_stats


def test_byte_by_byte_equals_whole_feed_on_every_sample() -> None:
    for sample in SAMPLES:
        events, parser = feed_chunks(sample[:12_000], [1])
        whole_events, whole_stats = _whole(sample[:12_000])
        assert events == whole_events
        assert parser.stats == whole_stats


def test_fast_path_equals_the_byte_wise_reference_on_every_capture() -> None:
    for name in CAPTURE_NAMES:
        data = capture(name)
        for sizes in ([len(data)], [4096], [137, 64, 1000]):
            reference, reference_parser = feed_chunks(data, sizes, ByteWiseParser())
            events, parser = feed_chunks(data, sizes)
            assert events == reference, name
            assert parser.stats == reference_parser.stats, name


_GOOD = make_block({"PID": "0xA042", "V": "13370", "I": "5420"})
_PIECES = st.one_of(
    st.sampled_from(
        [
            _GOOD,
            _GOOD[:-1],
            _GOOD[:9],
            _GOOD[9:],
            b"\r\n",
            b"\r",
            b"\n",
            b"\t",
            b":",
            b"Checksum\t",
            b"\r\nChecksum\t",
            b":A0102000543\n",
            b":154",
            b"\x00",
            b"V\t1" * 30,
        ]
    ),
    st.binary(max_size=40),
)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(_PIECES, max_size=30), sizes=st.lists(st.integers(1, 64), min_size=1, max_size=8))
def test_fast_and_slow_paths_agree_on_arbitrary_streams(pieces: list[bytes], sizes: list[int]) -> None:
    stream = b"".join(pieces)
    whole_events, whole_stats = _whole(stream)
    events, parser = feed_chunks(stream, sizes)
    assert events == whole_events
    assert parser.stats == whole_stats
    single, single_parser = feed_chunks(stream, [1])
    assert single == whole_events
    assert single_parser.stats == whole_stats
    reference, reference_parser = feed_chunks(stream, [len(stream)], ByteWiseParser())
    assert reference == whole_events
    assert reference_parser.stats == whole_stats


def _block_spans(data: bytes) -> list[tuple[int, int, bytes]]:
    """(start, end) of each valid block of a clean capture whose blocks hold no HEX frame."""
    spans = []
    cursor = 0
    for event in FrameParser().feed(data):
        if isinstance(event, TextBlock) and event.valid:
            start = data.index(event.raw, cursor)
            spans.append((start, start + len(event.raw), event.raw))
            cursor = start + len(event.raw)
    return spans


_SPANS = {id(sample): _block_spans(sample) for sample in SAMPLES}

_MUTATION = st.tuples(
    st.sampled_from(["replace", "insert", "delete"]),
    st.floats(min_value=0, max_value=1, exclude_max=True),
    st.integers(0, 255),
)


@settings(max_examples=150, deadline=None)
@given(sample=st.sampled_from(SAMPLES), mutations=st.lists(_MUTATION, min_size=1, max_size=25))
def test_corruption_never_yields_a_bad_block_and_keeps_untouched_ones(
    sample: bytes, mutations: list[tuple[str, float, int]]
) -> None:
    # One mutation per original position, applied from the end so that positions stay original offsets.
    by_position = {int(where * len(sample)): (kind, byte) for kind, where, byte in mutations}
    positions = sorted(
        ((position, kind, byte) for position, (kind, byte) in by_position.items()), reverse=True
    )
    mutated = bytearray(sample)
    for position, kind, byte in positions:
        if kind == "replace":
            mutated[position] = byte
        elif kind == "insert":
            mutated[position:position] = bytes((byte,))
        else:
            del mutated[position]
    parser = FrameParser()
    events = parser.feed(bytes(mutated))
    emitted = Counter[bytes]()
    for event in events:
        if isinstance(event, TextBlock):
            if event.valid:
                assert sum(event.raw) % 256 == 0
                emitted[event.raw] += 1
            else:
                assert event.fields == {}
    # Untouched: nothing changed from the previous block's "\r\nChecksum\t" (where any parser state is
    # forced back to a block boundary) through this block's checksum byte.
    touched = [position for position, _, _ in positions]
    expected = Counter[bytes]()
    spans = _SPANS[id(sample)]
    for index, (_start, end, raw) in enumerate(spans):
        guard = spans[index - 1][1] - 11 if index else 0
        if not any(guard <= position < end for position in touched):
            expected[raw] += 1
    for raw, count in expected.items():
        assert emitted[raw] >= count
