"""Regression tests of the parser holes of issue 11 (item 4) and of the cases ``scripts/fuzz`` found (item 5).

Every stream is fed whole, byte by byte, in uneven chunks and through the byte-wise state machine alone
(``parse``): the fast and the slow path must agree on each hole, not only close it.
"""

import json

import pytest

from custom_components.vemonitor.vedirect import (
    FIELD_SPECS,
    MAX_FIELDS,
    MAX_LABEL_LEN,
    MAX_VALUE_LEN,
    FrameEvent,
    FrameParser,
    HexFrame,
    ParserStats,
    TextBlock,
    decode_field,
    decode_value,
    scalar_value,
)
from custom_components.vemonitor.vedirect.fields import (
    MAX_HEX_INT_DIGITS,
    MAX_INT_DIGITS,
    format_firmware,
    format_firmware_24,
    parse_int,
)
from custom_components.vemonitor.vedirect.framing import BLOCK_START_LABELS, MAX_BLOCK_LEN
from custom_components.vemonitor.vedirect.hexproto import parse_frame

from .helpers import CAPTURES, ByteWiseParser, capture, feed_chunks, make_block, valid_blocks

MAIN = {"PID": "0xA042", "FW": "150", "SER#": "HQ1909TTJRP", "V": "13370", "I": "5420", "H19": "614"}
HISTORY = {"H1": "-161154", "H2": "-600", "H17": "1225", "H18": "1147"}
CAPTURE_NAMES = sorted(path.name for path in CAPTURES.iterdir() if path.suffix != ".md")


def parse(stream: bytes) -> tuple[list[FrameEvent], ParserStats]:
    """The events and statistics of ``stream``, the same in every chunking and in the byte-wise reference."""
    parser = FrameParser()
    events = parser.feed(stream)
    for sizes, reference in (([1], None), ([3, 7, 64], None), ([max(1, len(stream))], ByteWiseParser())):
        other, other_parser = feed_chunks(stream, sizes, reference)
        assert other == events, sizes
        assert other_parser.stats == parser.stats, sizes
    return events, parser.stats


def summed(body: bytes) -> bytes:
    """``body``, ``\\r\\nChecksum\\t`` and the byte that makes it sum to 0; ``body`` may break the grammar."""
    body += b"\r\nChecksum\t"
    return body + bytes(((-sum(body)) & 0xFF,))


def original_blocks(name: str) -> set[bytes]:
    return {block.raw for block in valid_blocks(FrameParser().feed(capture(name)))}


# --- D1: a ":" run that ends without "\n" is no HEX frame -------------------------------------------------

D1 = bytes.fromhex("0d0a5049440930783230330d0a560931323538300d0a4836092d393a303134330d0a436865636b73756d09f9")


def test_d1_hex_run_without_newline_abandons_the_block() -> None:
    events, stats = parse(D1)
    assert valid_blocks(events) == []  # was accepted with H6 = "-9"
    assert [event.raw for event in events if isinstance(event, HexFrame)] == [b":0143"]
    assert (stats.valid_blocks, stats.invalid_blocks, stats.invalid_hex_frames) == (0, 0, 1)
    assert stats.discarded_bytes == len(D1) - len(b":0143")


def test_d1_the_next_block_is_taken() -> None:
    block = make_block(MAIN)
    cut = block.index(b"13370") + 2
    events, _ = parse(make_block(MAIN) + block[:cut] + b":" + block[cut + 1 :] + make_block(HISTORY))
    assert [block.fields for block in valid_blocks(events)] == [MAIN, HISTORY]


def test_a_cr_turned_into_colon_is_no_hex_frame_either() -> None:
    """``:\\n`` ends like a HEX frame but is none: the block resumed would swallow the next block's start."""
    history = make_block(HISTORY)
    cr = history.index(b"\r\nChecksum")
    events, stats = parse(make_block(MAIN) + history[:cr] + b":" + history[cr + 1 :] + make_block(MAIN))
    assert [block.fields for block in valid_blocks(events)] == [MAIN, MAIN]
    assert (stats.invalid_blocks, stats.invalid_hex_frames) == (0, 1)


# --- D2: a HEX frame between a block's opening CR and LF --------------------------------------------------

D2 = bytes.fromhex(
    "0d0a504944093078413034320d0a560931323538300d0a436865636b73756d09bb0d3a3135340a0a504944093078413034"
    "320d0a560931323538300d0a436865636b73756d09bb0d0a504944093078413034320d0a560931323538300d0a43686563"
    "6b73756d09bb"
)


def test_d2_hex_frame_between_a_blocks_opening_cr_and_lf() -> None:
    events, stats = parse(D2)
    assert [block.fields for block in valid_blocks(events)] == [{"PID": "0xA042", "V": "12580"}] * 3
    assert [type(event) for event in events] == [TextBlock, HexFrame, TextBlock, TextBlock]
    assert (stats.invalid_blocks, stats.hex_frames, stats.discarded_bytes) == (0, 1, 0)


def test_d2_cut_anywhere_by_a_chunk_end() -> None:
    """Found by scripts/fuzz (seed 1, cases 462578, 501130, 817849): a chunk ending ``\\r:`` lost its CR."""
    _, stats = parse(b"\r:")
    assert stats.discarded_bytes == 0  # the CR waits: the frame may end and the block's LF follow
    whole, whole_stats = parse(D2)
    for cut in range(1, len(D2)):
        events, parser = feed_chunks(D2, [cut, len(D2)])
        assert (events, parser.stats) == (whole, whole_stats), cut


def test_d2_an_invalid_frame_there_costs_only_that_block() -> None:
    block = make_block(MAIN)
    events, stats = parse(block + b"\r:15\n" + block[1:] + block)
    assert [block.fields for block in valid_blocks(events)] == [MAIN, MAIN]
    assert (stats.invalid_blocks, stats.invalid_hex_frames) == (0, 1)


# --- decoders: never raise, always JSON-safe --------------------------------------------------------------

NASTY_VALUES = [
    "2" + "0" * 308,  # a float overflow when scaled
    "9" * 5000,  # beyond int()'s 4300-digit limit
    "-" + "9" * 400,
    "+" + "6932747867251646959645517223175300315885407447094634687784797966393430635560024",  # found by fuzz
    "0x" + "F" * 400,
    "1" * (MAX_INT_DIGITS + 1),
    "0x" + "1" * (MAX_HEX_INT_DIGITS + 1),
    "1e999",
    "nan",
    "inf",
    "-inf",
    "\u0661\u0662",  # Arabic-Indic digits, which int() takes
    "\uff11",
    "0x 5",
    "0x-5",
    "0x0x5",
    "0x",
    " 5",
    "5 ",
    "1_000",
    "",
    "-",
    "\x00",
    "\ud800",
    "---",
    "C" + "9" * 5000,
    "9" * 5000 + "FF",
]


@pytest.mark.parametrize("label", [*FIELD_SPECS, "XYZ"])
def test_decoders_never_raise_and_stay_json_serialisable(label: str) -> None:
    for raw in NASTY_VALUES:
        value, scalar = decode_field(label, raw)
        assert decode_value(label, raw) == value
        assert scalar_value(label, raw) == scalar
        json.dumps([value, scalar], allow_nan=False)


def test_a_number_longer_than_any_reading_is_malformed() -> None:
    assert decode_value("PPV", "2" + "0" * 308) is None
    assert scalar_value("PPV", "2" + "0" * 308) is None
    assert decode_field("H4", "9" * 5000) == (None, None)
    assert parse_int("9" * MAX_INT_DIGITS) == int("9" * MAX_INT_DIGITS)
    assert parse_int("-" + "9" * MAX_INT_DIGITS) == -int("9" * MAX_INT_DIGITS)
    assert parse_int("9" * (MAX_INT_DIGITS + 1)) is None
    assert parse_int("0x" + "F" * MAX_HEX_INT_DIGITS) == 2**64 - 1
    assert parse_int("0x" + "F" * (MAX_HEX_INT_DIGITS + 1)) is None
    assert format_firmware("1" * 5000) is None
    assert format_firmware_24("1" * 5000 + "FF") is None


@pytest.mark.parametrize("raw", ["\u0661\u0662", "0x 5", "0x-5", "0x+5", "0x0x5", "0x", " 5", "5 ", "1_0"])
def test_parse_int_takes_ascii_digits_only(raw: str) -> None:
    assert parse_int(raw) is None


def test_real_values_still_decode() -> None:
    assert parse_int("-7520") == -7520
    assert parse_int("+5") == 5
    assert parse_int("0x00000101") == 0x101
    assert parse_int("0XA381") == 0xA381
    assert decode_value("V", "12064") == 12.064
    assert decode_value("FW", "0308") == "3.08"
    assert decode_value("FWE", "0208FF") == "2.08"


# --- parse_frame: hex digits only --------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b":1  54\n", b":1\t\t54\n", b":15 4 \n", b":1\x0b\x0c54\n"])
def test_parse_frame_takes_hex_digits_only(raw: bytes) -> None:
    frame = parse_frame(raw)
    assert not frame.valid
    assert frame.data == b""


def test_parse_frame_still_takes_real_frames() -> None:
    assert parse_frame(b":154\n").valid
    assert parse_frame(b":A0102000543\n").value == "float"  # device state 5
    assert parse_frame(b":a0102000543\n").valid  # lower-case digits, as the parser takes them


# --- the field grammar: labels [A-Za-z0-9#_]+, values printable ASCII -------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        b"H19\x00\t614",  # a NUL adds 0 to the sum: the phantom label "H19\x00"
        b"\x00H19\t614",
        b"H19\t61\x004",
        b"H19\t614\x00",
        b"\tH19",  # empty label
        b"H 19\t614",
        b"H-19\t614",
        b"H19\t6\t14",  # TAB in a value
        b"H19\t61\x7f4",
        b"H19\t61\x804",
        b"H\xe919\t614",
        b"SER#\tHQ\xe9\xff\x80\x01",
    ],
)
def test_a_field_outside_the_grammar_makes_its_block_invalid(field: bytes) -> None:
    bad = summed(b"\r\nPID\t0xA042\r\n" + field + b"\r\nV\t13370")
    events, stats = parse(make_block(MAIN) + bad + make_block(MAIN))
    assert [event.valid for event in events if isinstance(event, TextBlock)] == [True, False, True]
    assert [block.fields for block in valid_blocks(events)] == [MAIN, MAIN]
    assert stats.invalid_blocks == 1


def test_grammar_allows_every_label_the_registry_knows() -> None:
    labels = list(FIELD_SPECS)
    for first in range(0, len(labels), MAX_FIELDS):
        fields = dict.fromkeys(labels[first : first + MAX_FIELDS], " !~09azAZ")
        events, _ = parse(make_block(MAIN) + make_block(fields))
        assert valid_blocks(events)[1].fields == fields


# --- out of sync, a block counts only from a block-starting label ------------------------------------------

TAIL = make_block({"SOC": "838", "TTG": "-1", "Alarm": "OFF"})  # sums to 0, as a cut block may


def test_block_start_labels() -> None:
    assert sorted(BLOCK_START_LABELS) == ["H1", "PID", "V"]  # BMV history; MPPT, BMV-70x...; BMV-600 main


@pytest.mark.parametrize(
    "before",
    [
        pytest.param(b"", id="stream start"),
        pytest.param(b"\x00\xffjunk", id="junk at the start"),
        pytest.param(make_block(MAIN) + b"x", id="junk between blocks"),
        pytest.param(make_block(MAIN) + b"\r\nV\t1\n2", id="abandoned block"),
        pytest.param(make_block(MAIN) + b"\r\nV\t1:2", id="hex run cutting a block"),
        pytest.param(make_block(MAIN) + b"\r\nV\t" + b"9" * (MAX_VALUE_LEN + 1), id="over-long value"),
    ],
)
def test_out_of_sync_a_block_counts_only_from_a_start_label(before: bytes) -> None:
    events, stats = parse(before + TAIL + make_block(MAIN))
    assert TAIL not in [block.raw for block in valid_blocks(events)]
    assert valid_blocks(events)[-1].fields == MAIN
    assert stats.invalid_blocks == 0  # the tail counts as discarded bytes


@pytest.mark.parametrize("label", sorted(BLOCK_START_LABELS))
def test_a_block_from_a_start_label_counts_at_the_stream_start(label: str) -> None:
    block = make_block({label: "1", "SOC": "838"})
    events, _ = parse(block)
    assert [block.raw for block in valid_blocks(events)] == [block]


def test_in_sync_any_block_counts() -> None:
    """After a valid block or an invalid one (its checksum byte ends it) the next block starts right there."""
    bad = make_block(MAIN).replace(b"13370", b"13371")
    events, _ = parse(make_block(MAIN) + TAIL + bad + TAIL + b":154\n" + TAIL)
    assert [block.raw for block in valid_blocks(events)] == [make_block(MAIN), TAIL, TAIL, TAIL]


def test_the_tail_puts_the_parser_back_in_sync() -> None:
    events, _ = parse(TAIL + TAIL)
    assert [block.raw for block in valid_blocks(events)] == [TAIL]


@pytest.mark.parametrize("name", [name for name in CAPTURE_NAMES if "mangled" not in name])
def test_joining_a_capture_at_any_byte_never_yields_a_cut_block(name: str) -> None:
    data = capture(name)
    originals = original_blocks(name)
    for start in range(min(len(data), 700)):
        events = FrameParser().feed(data[start : start + 1500])
        assert all(block.raw in originals for block in valid_blocks(events)), start


# --- memory bound ------------------------------------------------------------------------------------------


def test_the_block_in_progress_never_exceeds_max_block_len() -> None:
    fields = b"".join(
        b"\r\nL%0*d\t%s" % (MAX_LABEL_LEN - 1, n, b"9" * MAX_VALUE_LEN) for n in range(MAX_FIELDS)
    )
    parser = FrameParser()
    parser.feed(make_block(MAIN))
    for byte in fields + b"\r\n" + b"L" * MAX_LABEL_LEN + b"\t" + b"9" * MAX_VALUE_LEN + b"\r\n":
        parser.feed(bytes((byte,)))
        assert len(parser._raw) <= MAX_BLOCK_LEN
    assert valid_blocks(parser.feed(make_block(MAIN))) == [TextBlock(MAIN, make_block(MAIN))]


# --- cases scripts/fuzz found -------------------------------------------------------------------------------
# Against the parser before these fixes (seed 1, a draft of the fuzzer: these case numbers do not replay),
# trimmed to the blocks that matter. Found after the fixes: KEPT below, test_d2_cut_anywhere_by_a_chunk_end.

FUZZER_FOUND = [
    # a field's CR turned into a blank: abandoned, the rest (H22..HSDS) summed to 0
    pytest.param(
        "bluesolar-mppt-75-15_fw150.log",
        (
            "0d0a504944093078413034320d0a4657093135300d0a534552230948513139303954544a52500d0a560931333337300d"
            "0a4909353339300d0a5650560931363531300d0a5050560937330d0a435309330d0a4d50505409320d0a45525209300d"
            "0a4c4f4144094f46460d0a494c09300d0a483139093631350d0a4832300931370d0a483231093734200a483232093234"
            "0d0a4832330938340d0a485344530933350d0a436865636b73756d09ba"
        ),
        id="seed1-case964-single-mutation",
    ),
    # a NUL inserted into a label (H6\x00)
    pytest.param(
        "bmv-700_fw0308.dump",
        (
            "0d0a4831092d3134393332320d0a4832092d38323835340d0a483309300d0a483409300d0a483509300d0a483600092d"
            "353532363434310d0a48370931313733330d0a48380931363136310d0a4839093336383037330d0a4831300932360d0a"
            "48313109300d0a48313209300d0a48313709363834330d0a48313809383532370d0a436865636b73756d09bb"
        ),
        id="seed1-case2931-single-mutation",
    ),
    # a NUL in the Checksum label: the history block swallowed the next block
    pytest.param(
        "bmv-712_fw0403_b-junk-start.log",
        (
            "0d0a4831092d3136313135340d0a4832092d3630340d0a483309300d0a483409300d0a483509300d0a4836092d393830"
            "3135340d0a48370932390d0a48380931343337310d0a483909313237320d0a48313009310d0a48313109300d0a483132"
            "09300d0a4831350932360d0a48313609393034370d0a48313709313232350d0a48313809313134370d0a436865636b73"
            "756d0009d30d0a504944093078413338310d0a560931323637370d0a540932330d0a49092d323336300d0a50092d3330"
            "0d0a4345092d3630340d0a534f43093939390d0a5454470931313135310d0a416c61726d094f46460d0a52656c617909"
            "4f46460d0a415209300d0a424d560937313220536d6172740d0a465709303430330d0a436865636b73756d0940"
        ),
        id="seed1-case7005-single-mutation",
    ),
    # a NUL before the Checksum label: the main block swallowed the history block
    pytest.param(
        "bmv-712_fw0403_a.log",
        (
            "0d0a504944093078413338310d0a560931333138380d0a540932330d0a4909373832320d0a50093130330d0a43450930"
            "0d0a534f4309313030300d0a545447092d310d0a416c61726d094f46460d0a52656c6179094f46460d0a415209300d0a"
            "424d560937313220536d6172740d0a465709303430330d0a00436865636b73756d097f0d0a4831092d3136313135340d"
            "0a483209300d0a483309300d0a483409300d0a483509300d0a4836092d3937393535300d0a48370932390d0a48380931"
            "343337310d0a483909300d0a48313009310d0a48313109300d0a48313209300d0a4831350932360d0a48313609393034"
            "370d0a48313709313232340d0a48313809313134360d0a436865636b73756d0900"
        ),
        id="seed1-case13550-single-mutation",
    ),
    # a field's LF deleted: abandoned, the rest (FW) summed to 0
    pytest.param(
        "bmv-712_fw0403_b-junk-start.log",
        (
            "0d0a504944093078413338310d0a560931323638320d0a540932330d0a49092d313836370d0a50092d32340d0a434509"
            "2d3538380d0a534f43093939390d0a5454470931313233340d0a416c61726d094f46460d0a52656c6179094f46460d0a"
            "415209300d424d560937313220536d6172740d0a465709303430330d0a436865636b73756d0929"
        ),
        id="seed1-case15095-single-mutation",
    ),
    # a byte inserted after the PID line's CR: abandoned, the rest (T..FW) summed to 0
    pytest.param(
        "bmv-712_fw0403_b-junk-start.log",
        (
            "0d0a504944093078413338310d300a560931323637380d0a540932330d0a49092d323234350d0a50092d32380d0a4345"
            "092d3631320d0a534f43093939390d0a5454470931313232320d0a416c61726d094f46460d0a52656c6179094f46460d"
            "0a415209300d0a424d560937313220536d6172740d0a465709303430330d0a436865636b73756d0938"
        ),
        id="seed1-case17373-single-mutation",
    ),
    # a non-ASCII byte in a label of a block whose checksum was made right again
    pytest.param(
        "bmv-700_fw0308.dump",
        (
            "0d0a5049440930783230330d0a560931323135380d0a49092d323636360d0a50092d33320d0a4345092d36353836330d"
            "0a534f43093833370d0a54de544709313734370d0a416c61726d094f46460d0a52656c6179094f46460d0a415209300d"
            "0a424d56093730300d0a465709303330380d0a436865636b73756d0961"
        ),
        id="seed1-case275-grammar",
    ),
    # non-ASCII bytes in a label and a value of a block whose checksum was made right again
    pytest.param(
        "bmv-712_fw0403_b-junk-start.log",
        (
            "0d0a5049440930784133d2310d0a560931323638320d0a540932330d0a49092d313836370d0a50092d32340d0a434509"
            "2d3538380d0a534faa093939390d0a5454470931313233340d0a416c61726d094f46460d0a52656c6179094f46460d0a"
            "415209300d0a424d560937313220536d6172740d0a4657092d3430330d0a436865636b73756d092b"
        ),
        id="seed1-case281-grammar",
    ),
    # a stream joined mid-block: the tail (SOC..FW) summed to 0
    pytest.param(
        "bmv-700_fw0308.dump",
        (
            "0d0a534f43093833370d0a54544709323639370d0a416c61726d094f46460d0a52656c6179094f46460d0a415209300d"
            "0a424d56093730300d0a465709303330380d0a436865636b73756d0938"
        ),
        id="seed1-case995-stream-start",
    ),
    # a stream joined mid-block: the tail (T..FW) summed to 0
    pytest.param(
        "bmv-712_fw0403_a.log",
        (
            "0d0a540932330d0a49092d3632360d0a50092d380d0a4345092d370d0a534f4309313030300d0a545447093134343030"
            "0d0a416c61726d094f46460d0a52656c6179094f46460d0a415209300d0a424d560937313220536d6172740d0a465709"
            "303430330d0a436865636b73756d09e4"
        ),
        id="seed1-case10680-stream-start",
    ),
    # a stream joined mid-block: the tail (AR..FW) summed to 0
    pytest.param(
        "bmv-712_fw0403_a.log",
        "0d0a415209300d0a424d560937313220536d6172740d0a465709303430330d0a436865636b73756d0980",
        id="seed1-case17188-stream-start",
    ),
]


@pytest.mark.parametrize(("name", "data"), FUZZER_FOUND)
def test_fuzzer_found_case_yields_only_the_captures_own_blocks(name: str, data: str) -> None:
    events, _ = parse(bytes.fromhex(data))
    originals = original_blocks(name)
    assert all(block.raw in originals for block in valid_blocks(events))


# A history block whose CR before "\nChecksum" became ":" (seed 2, case 129301): ":\n" ended like a HEX frame,
# the block resumed in its H18 value and swallowed the next, untouched main block.
KEPT = (
    "0d0a4831092d3136313135340d0a4832092d3630300d0a483309300d0a483409300d0a483509300d0a4836092d3938303135"
    "300d0a48370932390d0a48380931343337310d0a483909313236360d0a48313009310d0a48313109300d0a48313209300d0a"
    "4831350932360d0a48313609393034370d0a48313709313232350d0a48313809313134373a0a436865636b73756d09d80d0a"
    "504944093078413338310d0a560931323637340d0a540932330d0a49092d323332310d0a50092d32390d0a4345092d363031"
    "0d0a534f43093939390d0a5454470931313136360d0a416c61726d094f46460d0a52656c6179094f46460d0a415209300d0a"
    "424d560937313220536d6172740d0a465709303430330d0a436865636b73756d093b"
)


def test_fuzzer_found_untouched_block_is_kept() -> None:
    data = bytes.fromhex(KEPT)
    events, _ = parse(data)
    main = data[data.index(b"\r\nPID") :]
    assert [block.raw for block in valid_blocks(events)] == [main]
    assert main in original_blocks("bmv-712_fw0403_b-junk-start.log")
