"""Mutation fuzzer of the VE.Direct parser: ``python -m vedirect_tools.fuzz [--cases N] [--seed S]``.

Why: the parser takes bytes from a serial line, where noise flips, drops and inserts bytes, and a device
may be joined at any byte. Its promises (a corrupted block is never accepted with wrong fields, chunking
never changes the result, memory stays bounded, whatever it accepts decodes to JSON-safe values) are checked
here on millions of corrupted copies of the real captures, much faster than hypothesis explores them.

Each case is a window of 1..4 blocks of one capture of ``tests/fixtures/captures`` (sometimes starting or
ending mid-block), corrupted by a mode drawn from the case's own seed:

* ``single``: exactly one byte replaced, flipped, inserted or deleted;
* ``multi``: 1..8 mutations: those, duplicated ranges, splices of another capture's bytes, and blocks whose
  bytes are changed and whose checksum byte is then recomputed (so the grammar, not the sum, must reject
  them, and the decoders see odd values);
* ``clean``: no mutation (a window that starts mid-block is a stream joined mid-way).

Invariants (their names appear in the failure file):

* ``exception``: feeding never raises;
* ``memory``: after every ``feed`` the block in progress holds at most ``MAX_BLOCK_LEN`` bytes, a HEX frame
  in progress at most ``1 + MAX_HEX_DIGITS`` (``:`` and digits), a label/value at most
  ``MAX_LABEL_LEN``/``MAX_VALUE_LEN``, at most ``MAX_FIELDS`` fields, and the memos at most their sizes;
* ``checksum``: every accepted block's raw bytes sum to 0 mod 256;
* ``chunking``: the bytes fed whole and in random chunks give the same events and statistics;
* ``byte-wise``: the fast path agrees with the byte-wise state machine alone (a quarter of the cases);
* ``grammar``: every accepted label matches ``LABEL_PATTERN`` and every value ``VALUE_PATTERN``;
* ``json``: ``decode_field`` (both forms) of every accepted field, and of random values for random labels,
  never raises and is ``json.dumps(..., allow_nan=False)``-able;
* ``single-mutation``: when the one mutated byte belongs to a valid block (any byte but its checksum byte:
  a changed checksum byte or junk between blocks leaves every block's own bytes intact), every accepted block
  is one of the capture's own valid blocks;
* ``stream-start``: in a ``clean`` case, every accepted block is one of the capture's own valid blocks, even
  when the window starts mid-block;
* ``kept``: in ``single`` and ``clean`` cases, every whole block of the window is accepted unless the
  mutation changed its bytes or the previous block's end mark (the 11 bytes from its ``\\nChecksum\\t``).

"The capture's own valid blocks" are those the clean capture yields, whose counts
tests/vedirect/test_captures.py checks to be exact. Deterministic: case ``i`` of seed ``s`` depends on
``(s, i)`` only (``run_case``). Failures go to a JSON lines file (the input as hex, the chunk sizes, the
invariant) to be turned into regression tests.
"""

import argparse
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
import json
from pathlib import Path
import random
import re
import sys
import time
from typing import Final, override

from .protocol import fields, framing

CAPTURES: Final = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "captures"
DEFAULT_CASES: Final = 1_000_000
DEFAULT_SEED: Final = 1
DEFAULT_FAILURES: Final = Path("fuzz-failures.jsonl")
_MAX_WRITTEN: Final = 1000  # failures written to the file; all are counted
_PROGRESS_SECONDS: Final = 60.0
# Bytes that matter to the grammar, drawn more often than their share of 1 in 256.
_INTERESTING: Final = b"\r\n\t:\x00\xff\x7f 0-x#_AFHPV"
_LABEL_RE: Final = re.compile(framing.LABEL_PATTERN)
_VALUE_RE: Final = re.compile(framing.VALUE_PATTERN)
_LABELS: Final = (*fields.FIELD_SPECS, "Checksum", "XYZ", "", "H19\x00", "SER#")
_JSON_CACHE_SIZE: Final = 1 << 16
_END_MARK: Final = b"\r\nChecksum\t"


@dataclass(frozen=True, slots=True)
class Capture:
    """One capture: its bytes, its valid blocks, and the spans of those that lie contiguous in the bytes."""

    name: str
    data: bytes
    raws: frozenset[bytes]
    field_sets: frozenset[frozenset[tuple[str, str]]]
    spans: tuple[tuple[int, int], ...]


@dataclass(slots=True)
class Failure:
    """One broken invariant: enough to replay the case (``data`` and ``chunks``) and to read why."""

    case: int
    invariant: str
    detail: str
    data: bytes
    chunks: list[int]

    def as_json(self, seed: int) -> str:
        return json.dumps(
            {
                "seed": seed,
                "case": self.case,
                "invariant": self.invariant,
                "detail": self.detail,
                "hex": self.data.hex(),
                "chunks": self.chunks,
            }
        )


@dataclass(slots=True)
class Corpus:
    """Every capture, plus a cache of (label, value) pairs already checked by the ``json`` invariant."""

    captures: tuple[Capture, ...]
    checked: dict[tuple[str, str], None] = field(default_factory=dict)


class ByteWiseParser(framing.FrameParser):
    """The byte-wise state machine alone: the fast path never takes a byte (the reference model)."""

    __slots__ = ()

    @override
    def _fast(self, buf: bytes, pos: int, events: list[framing.FrameEvent]) -> int:
        return pos


def load_capture(path: Path) -> Capture:
    """Parse a clean capture once: its valid blocks are what a corrupted copy may yield, and nothing else."""
    data = path.read_bytes()
    parser = framing.FrameParser()
    raws: set[bytes] = set()
    field_sets: set[frozenset[tuple[str, str]]] = set()
    spans: list[tuple[int, int]] = []
    # Feed up to each checksum byte: a valid block it completes is contiguous iff its raw ends right there
    # (a block with a HEX frame inside is not, and has no span; chunking does not change what is parsed).
    cuts: list[int] = []
    mark = data.find(_END_MARK)
    while mark >= 0:
        cuts.append(mark + len(_END_MARK) + 1)
        mark = data.find(_END_MARK, mark + 1)
    done = 0
    for cut in [*cuts, len(data)]:
        for event in parser.feed(data[done:cut]):
            if isinstance(event, framing.TextBlock) and event.valid:
                raws.add(event.raw)
                field_sets.add(frozenset(event.fields.items()))
                if data[cut - len(event.raw) : cut] == event.raw:
                    spans.append((cut - len(event.raw), cut))
        done = max(done, cut)
    return Capture(path.name, data, frozenset(raws), frozenset(field_sets), tuple(spans))


def load_corpus(folder: Path = CAPTURES) -> Corpus:
    paths = sorted(path for path in folder.iterdir() if path.is_file() and path.suffix != ".md")
    if not paths:
        raise FileNotFoundError(f"no captures in {folder}")
    return Corpus(tuple(load_capture(path) for path in paths))


def _random_byte(rng: random.Random) -> int:
    return rng.choice(_INTERESTING) if rng.random() < 0.5 else rng.randrange(256)


def _window(rng: random.Random, capture: Capture) -> tuple[bytes, list[tuple[int, int]]]:
    """A few consecutive blocks (with the spans of the whole ones, window-relative), edges sometimes cut."""
    data = capture.data
    spans = capture.spans
    if not spans:
        start = rng.randrange(len(data))
        return data[start : start + rng.randint(40, 1200)], []
    first = rng.randrange(len(spans))
    last = min(len(spans), first + rng.randint(1, 4)) - 1
    start, end = spans[first][0], spans[last][1]
    if rng.random() < 0.3:
        start = max(0, start + rng.randint(-120, 60))  # joined mid-block, or junk before the first block
    if rng.random() < 0.2:
        end = min(len(data), max(start + 1, end + rng.randint(-60, 120)))
    inside = [(s - start, e - start) for s, e in spans[first : last + 1] if start <= s and e <= end]
    return data[start:end], inside


def _resum(rng: random.Random, window: bytearray, span: tuple[int, int]) -> None:
    """Corrupt a block's own bytes, then make its checksum byte right again: only the grammar stands guard."""
    start, end = span
    body = bytearray(window[start : end - 1])
    for _ in range(rng.randint(1, 3)):
        where = rng.randrange(2, len(body) + 1)
        kind = rng.randrange(4)
        if kind == 0 and where < len(body):
            body[where] = _random_byte(rng)
        elif kind == 1:
            body[where:where] = bytes((_random_byte(rng),))
        elif kind == 2 and where < len(body):
            del body[where]
        else:  # a value of its own: digits galore, a sign, hex, or printable noise
            value = rng.choice(
                (b"9" * rng.randint(1, 400), b"-" + b"1" * rng.randint(1, 30), b"0x" + b"F" * 30)
            )
            tab = body.find(b"\t", where)
            line_end = body.find(b"\r", tab) if tab >= 0 else -1
            if line_end > tab >= 0:
                body[tab + 1 : line_end] = value[: rng.randint(1, 70)]
    window[start:end] = body + bytes(((-sum(body)) & 0xFF,))


def _mutate_once(rng: random.Random, window: bytearray, corpus: Corpus) -> None:
    kind = rng.randrange(7)
    where = rng.randrange(len(window) + 1)
    if kind == 0 and where < len(window):
        window[where] = _random_byte(rng)
    elif kind == 1 and where < len(window):
        window[where] ^= 1 << rng.randrange(8)
    elif kind == 2:
        window[where:where] = bytes((_random_byte(rng),))
    elif kind == 3 and where < len(window):
        del window[where : where + rng.randint(1, 4)]
    elif kind == 4 and window:  # a range repeated elsewhere
        start = rng.randrange(len(window))
        piece = bytes(window[start : start + rng.randint(1, 200)])
        window[where:where] = piece
    else:  # a splice of another capture's bytes, inserted or written over
        other = rng.choice(corpus.captures).data
        start = rng.randrange(len(other))
        piece = other[start : start + rng.randint(1, 300)]
        if rng.random() < 0.5:
            window[where:where] = piece
        else:
            window[where : where + len(piece)] = piece


def _mutate_single(rng: random.Random, window: bytearray, spans: list[tuple[int, int]]) -> tuple[int, bool]:
    """One byte replaced, flipped, deleted or inserted; returns its position and True iff it was an insert.

    An insert at ``where`` goes between the bytes ``where - 1`` and ``where``.
    """
    if spans and rng.random() < 0.8:  # aim at blocks mostly: junk and edges get the rest
        start, end = rng.choice(spans)
        where = rng.randrange(start, end + 1)
    else:
        where = rng.randrange(len(window) + 1)
    kind = rng.randrange(4) if where < len(window) else 3
    if kind == 0:
        old = window[where]
        window[where] = _random_byte(rng)
        if window[where] == old:
            window[where] = (old + 1 + rng.randrange(255)) & 0xFF
    elif kind == 1:
        window[where] ^= 1 << rng.randrange(8)
    elif kind == 2:
        del window[where]
    else:
        window[where:where] = bytes((_random_byte(rng),))
    return where, kind == 3


def _of_a_block(where: int, insert: bool, spans: list[tuple[int, int]]) -> bool:
    """True iff a single mutation changed a valid block's own bytes (its checksum byte is not one of them).

    A changed checksum byte or junk between blocks leaves every block's text intact: a block then accepted
    still holds the capture's own fields. An insert right before the checksum byte does change the block.
    """
    if insert:
        return any(start < where < end for start, end in spans)
    return any(start <= where < end - 1 for start, end in spans)


def _untouched(where: int, insert: bool, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The whole blocks a single mutation cannot cost: none of their bytes changed, nor the end mark before.

    From the previous block's ``\\nChecksum\\t`` on (11 bytes before its end), any parser state is forced
    back to a block boundary, so a block whose bytes and those 11 are intact must be accepted.
    """
    kept = []
    previous_end = None
    for start, end in spans:
        guard = (start if previous_end is None else previous_end) - 11
        if not (guard <= where <= end if insert else guard <= where < end):
            kept.append((start, end))
        previous_end = end
    return kept


def _chunk_sizes(rng: random.Random, length: int) -> list[int]:
    sizes: list[int] = []
    style = rng.randrange(3)
    total = 0
    while total < length:
        if style == 0:
            size = rng.randint(1, 8)
        elif style == 1:
            size = rng.randint(1, 300)
        else:  # one cut anywhere
            size = rng.randint(1, length) if not sizes else length - total
        sizes.append(size)
        total += size
    return sizes


def _memory_problem(parser: framing.FrameParser) -> str | None:
    """The parser's buffers against the bound framing.py states (white box: these are its own attributes)."""
    sizes = (
        ("block", len(parser._raw), framing.MAX_BLOCK_LEN),
        ("hex", len(parser._hex), 1 + framing.MAX_HEX_DIGITS),
        ("label", len(parser._label), framing.MAX_LABEL_LEN),
        ("value", len(parser._value), framing.MAX_VALUE_LEN),
        ("fields", len(parser._fields), framing.MAX_FIELDS),
        ("known blocks", len(parser._known_blocks), framing._KNOWN_BLOCKS),
        ("known lines", len(parser._known_lines), framing._KNOWN_LINES),
    )
    over = [f"{name} {size} > {bound}" for name, size, bound in sizes if size > bound]
    return ", ".join(over) or None


def _feed(
    parser: framing.FrameParser, data: bytes, sizes: Sequence[int], fail: Callable[[str, str], None]
) -> tuple[list[framing.FrameEvent], framing.ParserStats]:
    events: list[framing.FrameEvent] = []
    pos = 0
    for size in sizes:
        events += parser.feed(data[pos : pos + size])
        pos += size
        if (problem := _memory_problem(parser)) is not None:
            fail("memory", f"after {pos} bytes: {problem}")
    return events, parser.stats


def _json_problem(label: str, raw: str) -> str | None:
    try:
        value, scalar = fields.decode_field(label, raw)
        json.dumps([value, scalar], allow_nan=False)
    except Exception as error:  # any exception is the finding
        return f"decode_field({label!r}, {raw[:80]!r}...): {error!r}"
    return None


def _random_value(rng: random.Random) -> str:
    """A value no device sends: long numbers, odd prefixes, blanks, non-ASCII digits, surrogates."""
    pick = rng.randrange(8)
    if pick == 0:
        return rng.choice(("", "-", "+")) + "".join(rng.choices("0123456789", k=rng.randint(1, 400)))
    if pick == 1:
        return rng.choice(("0x", "0X", "-0x", "0x0x")) + "".join(
            rng.choices("0123456789abcdefABCDEF", k=rng.randint(0, 40))
        )
    if pick == 2:
        return rng.choice(
            ("nan", "inf", "-inf", "1e999", "1e-999", "---", "0", "-0", "0308", "C208", "0208FF")
        )
    if pick == 3:
        return "".join(rng.choices(" \t\n_+-.0123456789eExX", k=rng.randint(0, 12)))
    if pick == 4:
        return "".join(rng.choices("\u0661\u0662\u00b2\u2460\uff11\U0001d7ce", k=rng.randint(1, 6)))
    if pick == 5:
        return "".join(chr(rng.randrange(0x20, 0x7F)) for _ in range(rng.randint(0, 64)))
    if pick == 6:
        return "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randint(0, 8)))
    return rng.choice(("ON", "off", "On", "OFF ", "0x00000101", "-1", "4294967295", "18446744073709551616"))


def run_case(corpus: Corpus, seed: int, case: int) -> list[Failure]:
    """One fuzz case, a pure function of ``(seed, case)``: the invariants it broke (none, normally)."""
    rng = random.Random(seed * 0x1_0000_0000 + case)
    capture = rng.choice(corpus.captures)
    original, spans = _window(rng, capture)
    window = bytearray(original)
    draw = rng.random()
    mode = "single" if draw < 0.45 else "multi" if draw < 0.85 else "clean"
    of_a_block = False
    kept = spans
    if mode == "single":
        where, insert = _mutate_single(rng, window, spans)
        of_a_block = _of_a_block(where, insert, spans)
        kept = _untouched(where, insert, spans)
    elif mode == "multi":
        if spans and rng.random() < 0.4:
            _resum(rng, window, rng.choice(spans))
        for _ in range(rng.randint(1, 8)):
            _mutate_once(rng, window, corpus)
    data = bytes(window)
    sizes = _chunk_sizes(rng, len(data))
    failures: list[Failure] = []

    def fail(invariant: str, detail: str) -> None:
        failures.append(Failure(case, invariant, detail, data, sizes))

    try:
        events, stats = _feed(framing.FrameParser(), data, [len(data)], fail)
        chunked, chunked_stats = _feed(framing.FrameParser(), data, sizes, fail)
        if chunked != events or chunked_stats != stats:
            fail("chunking", f"whole: {stats}, chunked: {chunked_stats}")
        if rng.random() < 0.25:
            reference, reference_stats = _feed(ByteWiseParser(), data, [len(data)], fail)
            if reference != events or reference_stats != stats:
                fail("byte-wise", f"fast: {stats}, byte-wise: {reference_stats}")
        _check_blocks(
            corpus=corpus, capture=capture, events=events, mode=mode, of_a_block=of_a_block, fail=fail
        )
        if mode != "multi":
            accepted = Counter(
                event.raw for event in events if isinstance(event, framing.TextBlock) and event.valid
            )
            lost = Counter(original[start:end] for start, end in kept) - accepted
            if lost:
                fail("kept", f"{lost.total()} untouched block(s) lost, e.g. {next(iter(lost))!r}")
        label = rng.choice(_LABELS)
        if (problem := _json_problem(label, _random_value(rng))) is not None:
            fail("json", problem)
    except Exception as error:  # any exception is the finding
        fail("exception", repr(error))
    return failures


def _check_blocks(
    *,
    corpus: Corpus,
    capture: Capture,
    events: list[framing.FrameEvent],
    mode: str,
    of_a_block: bool,
    fail: Callable[[str, str], None],
) -> None:
    checked = corpus.checked
    for event in events:
        if not isinstance(event, framing.TextBlock) or not event.valid:
            continue
        if sum(event.raw) & 0xFF:
            fail("checksum", f"accepted block sums to {sum(event.raw) & 0xFF}: {event.raw!r}")
        for label, raw in event.fields.items():
            if (label, raw) in checked:
                continue
            good = True
            if not _LABEL_RE.fullmatch(label) or not _VALUE_RE.fullmatch(raw):
                fail("grammar", f"accepted field {label!r}: {raw!r}")
                good = False
            if (problem := _json_problem(label, raw)) is not None:
                fail("json", problem)
                good = False
            if good:  # only good pairs are skipped later: a failure shows in every case that has it
                if len(checked) >= _JSON_CACHE_SIZE:
                    checked.clear()
                checked[label, raw] = None
        if (
            (mode == "clean" or of_a_block)
            and event.raw not in capture.raws
            and frozenset(event.fields.items()) not in capture.field_sets
        ):
            invariant = "stream-start" if mode == "clean" else "single-mutation"
            fail(invariant, f"accepted a block the capture does not hold: {event.fields}")


def fuzz(cases: int, seed: int, failures_path: Path, say: Callable[[str], None]) -> int:
    """Run ``cases`` cases; returns the failure count (written to ``failures_path`` when there are any)."""
    corpus = load_corpus()
    say(f"fuzz: {cases} cases, seed {seed}, {len(corpus.captures)} captures from {CAPTURES}")
    found: list[Failure] = []
    count = 0
    started = last = time.monotonic()
    step = max(1, cases // 10)
    for case in range(cases):
        failures = run_case(corpus, seed, case)
        if failures:
            count += len(failures)
            found += failures[: max(0, _MAX_WRITTEN - len(found))]
        now = time.monotonic()
        if (case + 1) % step == 0 or now - last > _PROGRESS_SECONDS:
            last = now
            rate = (case + 1) / max(now - started, 1e-9)
            say(f"fuzz: {case + 1}/{cases} cases, {count} failures, {rate:,.0f} cases/s")
    elapsed = time.monotonic() - started
    say(f"fuzz: {elapsed:.1f} s, {cases / max(elapsed, 1e-9):,.0f} cases/s")
    if found:
        with failures_path.open("w", encoding="utf-8") as out:
            for failure in found:
                out.write(failure.as_json(seed) + "\n")
        by_invariant: dict[str, int] = {}
        for failure in found:
            by_invariant[failure.invariant] = by_invariant.get(failure.invariant, 0) + 1
        say(f"fuzz: failing cases written to {failures_path} ({by_invariant})")
    return count


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text} is not > 0")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/fuzz", description="Mutation fuzzing of the VE.Direct parser over every capture."
    )
    parser.add_argument(
        "--cases", type=_positive, default=DEFAULT_CASES, help="cases to run (default: 1000000)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the cases (default: 1)")
    parser.add_argument(
        "--failures",
        type=Path,
        default=DEFAULT_FAILURES,
        help="file for the failing cases, written only when there are any (default: ./fuzz-failures.jsonl)",
    )
    args = parser.parse_args(argv)

    def say(text: str) -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    count = fuzz(args.cases, args.seed, args.failures, say)
    say(f"fuzz: {args.cases} cases, {count} failures")
    return 1 if count else 0


if __name__ == "__main__":
    raise SystemExit(main())
