"""Frame benchmark: ``scripts/bench frame`` (runs ``python -m bench.frame`` in the bench env).

CPU time per valid block of what a VE.Direct entry does for every block: FrameParser -> DeviceFrame.update ->
``copy()`` (the snapshot the client hands to the coordinator) -> the Redis ``Sample``, over real captures.
Three paths share everything up to ``copy()``:

- floor: no sample at all (what both sample paths pay anyway);
- before: the sample's values built as ``sample_from`` did, one ``scalar_value`` call per merged field;
- after: ``frame.scalars``, decoded once per changed raw text inside ``update``.

The "sample" column is the path minus the floor, per round: the cost of building the sample alone. On a
checkout whose DeviceFrame has no ``scalars`` yet, the after path is left out (to measure the old code).
Same method as bench/parser.py: the host is shared and its load swings, so every path runs once per round,
rounds alternate the order, and ratios are medians of per-round ratios. Times are CPU time of this process.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
import statistics
import time

from custom_components.vemonitor.redis_worker.sample import Sample
from custom_components.vemonitor.vedirect import DeviceFrame, FrameParser, TextBlock, scalar_value

CAPTURES = Path(__file__).parent.parent / "tests" / "fixtures" / "captures"
FILES = ("bmv-712_fw0403_a.log", "bluesolar-mppt-75-15_fw150.log", "smartsolar-100-20_fw139.dump")
READ_SIZE = 4096  # the client's read size
BLOCKS_PER_RUN = 20_000  # the capture is repeated up to this many blocks
ROUNDS = 9

type SampleOf = Callable[[DeviceFrame, int], Sample | None]


def no_sample(frame: DeviceFrame, timestamp: int) -> None:
    return None


def sample_before(frame: DeviceFrame, timestamp: int) -> Sample:
    """What redis_runtime.sample_from did: every merged raw field decoded again for every sample."""
    return Sample(timestamp, {label: scalar_value(label, raw) for label, raw in frame.fields.items()})


def sample_after(frame: DeviceFrame, timestamp: int) -> Sample:
    return Sample(timestamp, frame.scalars)


@dataclass
class Contender:
    """One path over one capture: ``run`` processes the input once and returns the valid blocks seen."""

    name: str
    run: Callable[[], int]
    micros: list[float] = field(default_factory=list)  # CPU microseconds per block, one per round
    count: int = 0

    def measure(self) -> None:
        started = time.process_time()
        self.count = self.run()
        self.micros.append((time.process_time() - started) * 1e6 / self.count)


def client_run(chunks: list[bytes], sample_of: SampleOf) -> Callable[[], int]:
    def run() -> int:
        parser = FrameParser()
        device = DeviceFrame()
        blocks = 0
        for chunk in chunks:
            for event in parser.feed(chunk):
                if type(event) is TextBlock and device.update(event):
                    blocks += 1
                    sample_of(device.copy(), blocks)
        return blocks

    return run


def _chunks(name: str) -> tuple[list[bytes], int]:
    """The capture repeated to about BLOCKS_PER_RUN valid blocks, cut in reads; also its blocks per copy."""
    capture = (CAPTURES / name).read_bytes()
    per_copy = sum(type(event) is TextBlock and event.valid for event in FrameParser().feed(capture))
    data = capture * max(1, BLOCKS_PER_RUN // per_copy)
    return [data[pos : pos + READ_SIZE] for pos in range(0, len(data), READ_SIZE)], per_copy


def _median_ratio(one: list[float], other: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(one, other, strict=True))


def _minus(path: list[float], floor: list[float]) -> list[float]:
    return [a - b for a, b in zip(path, floor, strict=True)]


def main() -> None:
    has_scalars = hasattr(DeviceFrame, "scalars")
    paths: dict[str, list[Contender]] = {}
    per_copy: dict[str, int] = {}
    for name in FILES:
        chunks, per_copy[name] = _chunks(name)
        paths[name] = [
            Contender("floor: parse + update + copy()", client_run(chunks, no_sample)),
            Contender("before: scalar_value per field", client_run(chunks, sample_before)),
        ]
        if has_scalars:
            paths[name].append(Contender("after: frame.scalars", client_run(chunks, sample_after)))
    every = [path for group in paths.values() for path in group]
    for round_index in range(ROUNDS):
        for path in every if round_index % 2 == 0 else reversed(every):
            path.measure()

    print(f"{ROUNDS} interleaved rounds; CPU microseconds per valid block (one core); median [min - max]")
    if not has_scalars:
        print("DeviceFrame has no scalars here: after path left out")
    header = f"{'path':<34} {'µs/block':>9} {'[min - max]':>15} {'sample µs':>10} {'blocks/run':>11}"
    for name, (floor, *samples) in paths.items():
        print(f"\n{name}: {per_copy[name]:,} valid blocks per copy\n{header}")
        for path in (floor, *samples):
            spread = f"[{min(path.micros):.2f} - {max(path.micros):.2f}]"
            median = statistics.median(path.micros)
            own = "" if path is floor else f"{statistics.median(_minus(path.micros, floor.micros)):.2f}"
            print(f"{path.name:<34} {median:>9.2f} {spread:>15} {own:>10} {path.count:>11,}")
        if len(samples) == 2:
            ratio = _median_ratio(samples[0].micros, samples[1].micros)
            print(f"{'ratio before/after':<34} {ratio:>8.2f}x (median of per-round ratios)")


if __name__ == "__main__":
    main()
