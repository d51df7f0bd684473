"""Parser benchmark: ``scripts/bench parser`` (runs ``python -m bench.parser`` in the bench env).

Measures on the BMV-712 capture: framing blocks/s of FrameParser (valid blocks with raw fields), decoded
frames/s (framing + DeviceFrame.update + values), the same bytes fed byte by byte through the per-byte
decoders of vedirect-m8 and vedirect-jmfife, and FrameParser's peak memory on 100 MB of garbage.

The bench host is shared and its load swings by 2x within seconds, so every contender runs once per round,
rounds alternate the order (A B C / C B A), and the ratios are the median of the per-round ratios: each
ratio compares runs made seconds apart. Times are CPU seconds of this process (one core).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
import importlib
from pathlib import Path
import random
import statistics
import time
import tracemalloc
from typing import Any

from custom_components.vemonitor.vedirect import DeviceFrame, FrameParser, TextBlock

CAPTURE = Path(__file__).parent.parent / "tests" / "fixtures" / "captures" / "bmv-712_fw0403_a.log"
CHUNK = 64 * 1024
OUR_COPIES = 25  # ~10 MB, about as many CPU seconds per run as the peers' 2 copies byte by byte
PEER_COPIES = 2
ROUNDS = 9
FRAMING_GOAL = 200_000
DECODED_GOAL = 100_000
RATIO_GOAL = 10.0


@dataclass
class Contender:
    """One decoder under test: ``run`` processes its input once and returns the blocks it yielded."""

    name: str
    run: Callable[[], int]
    rates: list[float] = field(default_factory=list)
    count: int = 0

    def measure(self) -> None:
        started = time.process_time()
        self.count = self.run()
        self.rates.append(self.count / (time.process_time() - started))


def _chunks(data: bytes) -> list[bytes]:
    return [data[pos : pos + CHUNK] for pos in range(0, len(data), CHUNK)]


def framing_run(chunks: list[bytes]) -> Callable[[], int]:
    def run() -> int:
        parser = FrameParser()
        blocks = 0
        for chunk in chunks:
            for event in parser.feed(chunk):
                if type(event) is TextBlock and event.valid:
                    blocks += 1
        return blocks

    return run


def decoded_run(chunks: list[bytes]) -> Callable[[], int]:
    def run() -> int:
        parser = FrameParser()
        device = DeviceFrame()
        frames = 0
        for chunk in chunks:
            for event in parser.feed(chunk):
                if type(event) is TextBlock and device.update(event):
                    values = device.values
                    frames += bool(values)
        return frames

    return run


def _m8_decoder() -> Callable[[bytes], Any]:
    module = importlib.import_module("vedirect_m8.vedirect")
    decoder = module.Vedirect.__new__(module.Vedirect)
    decoder._delimiters = {"header1": 0x0D, "header2": 0x0A, "hexmarker": 0x3A, "delimiter": 0x09}
    decoder.max_blocks = None  # its default (18) raises on the BMV's merged main + history dict
    decoder.init_data_read()
    return decoder.input_read  # type: ignore[no-any-return]


def _jmfife_decoder() -> Callable[[bytes], Any]:
    module = importlib.import_module("vedirect.vedirect")
    decoder = module.VEDirect.__new__(module.VEDirect)
    decoder.header1, decoder.header2, decoder.hexmarker, decoder.delimiter = b"\r", b"\n", b":", b"\t"
    decoder.key = decoder.value = b""
    decoder.bytes_sum = 0
    decoder.state = decoder.WAIT_HEADER1
    decoder.dict = {}
    return decoder._input  # type: ignore[no-any-return]


def peer_run(make: Callable[[], Callable[[bytes], Any]], data: bytes) -> Callable[[], int]:
    make()  # import now: an ImportError must not surface in the middle of a round
    single_bytes = [data[pos : pos + 1] for pos in range(len(data))]

    def run() -> int:
        feed = make()
        blocks = 0
        for byte in single_bytes:
            try:
                if feed(byte) is not None:
                    blocks += 1
            except Exception:
                continue
        return blocks

    return run


def garbage_peak(total: int = 100 * 1024 * 1024) -> tuple[int, int]:
    """Peak traced bytes while feeding ``total`` random bytes in 64 KiB chunks; also the events seen."""
    rng = random.Random(1)
    pool = [rng.randbytes(CHUNK) for _ in range(16)]
    parser = FrameParser()
    events = 0
    tracemalloc.start()
    tracemalloc.reset_peak()
    for index in range(total // CHUNK):
        events += len(parser.feed(pool[index % len(pool)]))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, events


def _median_ratio(ours: Contender, peer: Contender) -> float:
    return statistics.median(a / b for a, b in zip(ours.rates, peer.rates, strict=True))


def main() -> None:
    capture = CAPTURE.read_bytes()
    ours = capture * OUR_COPIES
    chunks = _chunks(ours)
    framing = Contender("FrameParser framing (64 KiB chunks)", framing_run(chunks))
    whole = Contender(f"FrameParser framing (one {len(ours) // 10**6} MB feed)", framing_run([ours]))
    decoded = Contender("FrameParser + DeviceFrame decoded", decoded_run(chunks))
    contenders = [framing, whole, decoded]
    peers: list[Contender] = []
    for name, make in (("vedirect-m8 1.3.4", _m8_decoder), ("vedirect-jmfife 1.0.2", _jmfife_decoder)):
        try:
            peers.append(Contender(f"{name} byte by byte", peer_run(make, capture * PEER_COPIES)))
        except ImportError as error:
            print(f"{name}: not installed ({error})")
    contenders += peers
    for round_index in range(ROUNDS):
        for contender in contenders if round_index % 2 == 0 else reversed(contenders):
            contender.measure()

    print(f"capture: {CAPTURE.name}, {len(capture):,} bytes, 2967 valid blocks per copy")
    print(f"{ROUNDS} interleaved rounds; per second of CPU time (one core); median [min - max] over rounds")
    print(f"{'decoder':<42} {'blocks/s median':>16} {'[min - max]':>21} {'blocks/run':>11}")
    for contender in contenders:
        rates = contender.rates
        spread = f"[{min(rates):,.0f} - {max(rates):,.0f}]"
        print(f"{contender.name:<42} {statistics.median(rates):>16,.0f} {spread:>21} {contender.count:>11,}")
    for peer in peers:
        print(
            f"ratio (median of rounds) vs {peer.name.removesuffix(' byte by byte')}: "
            f"framing {_median_ratio(framing, peer):5.1f}x, one feed {_median_ratio(whole, peer):5.1f}x, "
            f"decoded {_median_ratio(decoded, peer):5.1f}x (goal: framing >= {RATIO_GOAL:.0f}x)"
        )
    print(
        f"goals: framing >= {FRAMING_GOAL:,}/s: {statistics.median(framing.rates):,.0f}; "
        f"decoded >= {DECODED_GOAL:,}/s: {statistics.median(decoded.rates):,.0f}"
    )
    peak, events = garbage_peak()
    print(f"peak memory on 100 MB of random garbage in 64 KiB chunks: {peak:,} bytes ({events:,} events)")


if __name__ == "__main__":
    main()
