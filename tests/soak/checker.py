"""The soak's independent count: what the devices sent, against what Redis holds.

It imports nothing of the integration (nor of the simulator): it reads the simulators' sent logs (the bytes
they wrote, with the time), finds the blocks in them with its own reading of the VE.Direct text protocol,
converts each column the way the Redis layout documents it (base units, ON/OFF as 1/0, codes as integers),
and compares with the HmapTimeSeries hashes in Redis, slot by slot.

A slot (a whole second; time_interval 1) is *expected* when Home Assistant was up around it, the device had
sent a block in the second before it, and no fault of the device itself (cable out, network serial server
restarted) was within its reconnect bound. Each stored point must hold the values of a block the device sent
within the sampling window of its slot (the newest block before the tick, which falls in the first half
second of the slot; a late tick may still take a block up to the stall window old); and the blocks stored in
successive slots must not go back in time (a rewrite would).

Each loss or bad point is put down to the latest fault begun before it (within a minute), losses within the
hard-kill bound to the SIGKILL of Home Assistant they precede.

Slots within the hard-kill bound before a SIGKILL of Home Assistant may be lost (samples neither sent nor
spooled yet: the worker's send interval plus one round trip); they are counted apart.
"""

import argparse
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
import json
import math
from pathlib import Path
import re
import sys
from typing import Any

import redis

# Units of the Redis layout: the wire integer divided by this gives the stored number (VE.Direct protocol:
# mV, mA, 0.1 % state of charge, mAh, 0.01 kWh, 0.01 V / 0.1 A on the AC side).
DIVISORS: Mapping[str, int] = {
    "V": 1000, "VS": 1000, "VM": 1000, "VPV": 1000, "I": 1000, "IL": 1000, "CE": 1000, "SOC": 10,
    "H19": 100, "H20": 100, "H22": 100, "AC_OUT_V": 100, "AC_OUT_I": 10,
}  # fmt: skip
# Codes and bit masks are stored as integers; every measured quantity as a float, as the Redis layout shows
# it (`"P": -91.0`, `"AR": 0`).
CODE_LABELS = frozenset({"CS", "MPPT", "ERR", "MODE", "AR", "WARN", "OR", "MON", "HSDS"})
_LABEL = re.compile(rb"[A-Za-z0-9#_]+")
_BLOCK_END = b"\r\nChecksum\t"

# Where a slot's block may come from, relative to the slot start: the tick falls within the slot (a scheduled
# one in its first half second, HA's stagger; the first after a start as soon as the first block is in), and
# takes the newest block received before it.
WINDOW_BEFORE = 5.0  # the stall window of time_interval 1 (5 s): an older block gives no sample
WINDOW_AFTER = 1.0
# After the cable is back, the client's reconnect backoff (1, 2, 4 s...) may take this long.
RECONNECT_BOUND = 8.0
# Hard kill of Home Assistant: the samples of the last send interval (1 x 5 s) plus one round trip (5 s).
HARD_KILL_BOUND = 10.0
# After Home Assistant is up (entries loaded, values shown), the first whole slot.
START_MARGIN = 2.0


def block_fields(block: bytes) -> dict[str, str] | None:
    """The fields of one text block (from its opening CR LF to its checksum byte), or None if it is bad."""
    if sum(block) & 0xFF:
        return None
    lines = block[2 : -len(_BLOCK_END) - 1].split(b"\r\n") if len(block) > len(_BLOCK_END) + 1 else []
    fields: dict[str, str] = {}
    for line in lines:
        label, tab, value = line.partition(b"\t")
        if not tab or not _LABEL.fullmatch(label) or any(not 0x20 <= byte < 0x7F for byte in value):
            return None
        fields[label.decode()] = value.decode()
    return fields


def blocks_in(data: bytes) -> Iterator[dict[str, str]]:
    """The valid blocks in what a device wrote at once (noise before them is skipped)."""
    start = 0
    while (mark := data.find(_BLOCK_END, start)) >= 0 and mark + len(_BLOCK_END) < len(data):
        end = mark + len(_BLOCK_END) + 1
        opening = data.find(b"\r\n", start, mark + 1)
        while opening >= 0:
            fields = block_fields(data[opening:end])
            if fields is not None:
                yield fields
                break
            opening = data.find(b"\r\n", opening + 2, mark + 1)
        start = end


def stored_value(label: str, raw: str) -> Any:
    """A raw VE.Direct text as the Redis layout stores it."""
    if raw == "---":
        return None
    if raw.upper() in {"ON", "OFF"}:
        return 1 if raw.upper() == "ON" else 0
    try:
        number = int(raw, 16) if raw.lower().startswith("0x") else int(raw)
    except ValueError:
        return raw
    if label in CODE_LABELS:
        return number
    return number / DIVISORS.get(label, 1)


@dataclass
class Emission:
    t: float
    row: str  # the stored JSON the block's columns should give


@dataclass
class Device:
    name: str
    key: str
    columns: list[str]
    emissions: list[Emission] = field(default_factory=list)
    offline: list[tuple[float, float]] = field(default_factory=list)  # cable out (+ reconnect bound)

    def sending(self, t0: float, t1: float) -> bool:
        """Whether a block was sent in (t0, t1] while the cable was in."""
        times = self._times
        lo = bisect_right(times, t0)
        for index in range(lo, len(times)):
            if times[index] > t1:
                return False
            if not any(a <= times[index] <= b for a, b in self.offline):
                return True
        return False

    def index(self) -> None:
        self._times = [emission.t for emission in self.emissions]
        self.by_row: dict[str, list[int]] = defaultdict(list)
        for position, emission in enumerate(self.emissions):
            self.by_row[emission.row].append(position)


def load_device(spec: Mapping[str, Any]) -> Device:
    device = Device(spec["name"], spec["key"], list(spec["columns"]))
    unplugged: float | None = None
    for line in Path(spec["sent_log"]).read_text().splitlines():
        record = json.loads(line)
        if record.get("event") == "unplugged":
            unplugged = record["t"]
        elif record.get("event") == "plugged" and unplugged is not None:
            device.offline.append((unplugged, record["t"] + RECONNECT_BOUND))
            unplugged = None
        elif "data" in record:
            merged: dict[str, str] = {}
            for fields in blocks_in(bytes.fromhex(record["data"])):
                merged.update(fields)
            if merged:
                row = {
                    label: stored_value(label, merged[label]) for label in device.columns if label in merged
                }
                device.emissions.append(Emission(record["t"], json.dumps(row)))
    device.index()
    return device


@dataclass
class Fault:
    kind: str
    target: str
    t0: float
    t1: float


@dataclass
class Tally:
    count: int = 0
    expected: int = 0
    stored: int = 0
    lost: int = 0
    lost_in_bound: int = 0
    wrong: int = 0
    out_of_window: int = 0
    overwritten: int = 0


def ha_windows(events: Iterable[Mapping[str, Any]]) -> tuple[list[tuple[float, float]], list[float]]:
    """(Home Assistant's up windows, its hard-kill times) from the soak's event log."""
    windows: list[tuple[float, float]] = []
    kills: list[float] = []
    up: float | None = None
    for event in events:
        if event["kind"] == "ha_up":
            up = event["t"]
        elif event["kind"] == "ha_down" and up is not None:
            windows.append((up, event["t"]))
            up = None
            if event.get("hard"):
                kills.append(event["t"])
    return windows, kills


def check(workdir: Path, client: redis.Redis, out: Any = sys.stdout) -> int:
    """Compare, print the per-fault table and the summary line; return the exit status."""
    specs = json.loads((workdir / "devices.json").read_text())
    events = [json.loads(line) for line in (workdir / "events.jsonl").read_text().splitlines()]
    faults = [Fault(e["kind"], e.get("target", ""), e["t0"], e["t1"]) for e in events if "t0" in e]
    windows, kills = ha_windows(events)
    tallies: dict[str, Tally] = defaultdict(Tally)
    for fault in faults:
        tallies[fault.kind].count += 1
    for fault in faults:
        if fault.kind == "ser2net_restart":  # the network serial server: like a cable out, for its device
            for spec in specs:
                if spec["name"] == fault.target:
                    spec.setdefault("extra_offline", []).append((fault.t0, fault.t1 + RECONNECT_BOUND))

    def blame(t: float) -> Tally:
        """The fault a slot's trouble belongs to: the latest one started before it (within 60 s)."""
        latest = max((f for f in faults if f.t0 - 2 <= t <= f.t1 + 60), key=lambda f: f.t0, default=None)
        return tallies[latest.kind if latest else "(steady)"]

    kill_losses: dict[tuple[float, str], int] = defaultdict(int)
    for spec in specs:
        device = load_device(spec)
        device.offline.extend(tuple(window) for window in spec.get("extra_offline", []))
        points = {int(slot): value for slot, value in client.hgetall(device.key).items()}
        first = math.ceil(min((w[0] for w in windows), default=0) + START_MARGIN)
        last = math.floor(max((w[1] for w in windows), default=0))
        previous_index = -1
        for slot in range(first, last + 1):
            up = any(a + START_MARGIN <= slot and slot + 2 <= b for a, b in windows)
            in_bound = any(k - HARD_KILL_BOUND < slot <= k for k in kills)
            expected = (
                up
                and device.sending(slot - 1, slot)
                and not any(a - 1 <= slot <= b for a, b in device.offline)
            )
            tally = tallies["ha_kill"] if in_bound else blame(slot)
            row = points.get(slot)
            if expected:
                tally.expected += 1
                if row is None:
                    if in_bound:
                        tally.lost_in_bound += 1
                        kill = min(k for k in kills if k - HARD_KILL_BOUND < slot <= k)
                        kill_losses[kill, device.name] += 1
                    else:
                        tally.lost += 1
                        print(f"  lost: {device.name} slot {slot}", file=out)
                    continue
                tally.stored += 1
            if row is None:
                continue
            candidates = device.by_row.get(row, [])
            if not candidates:
                tally.wrong += 1
                print(f"  wrong: {device.name} slot {slot}: {row}", file=out)
                continue
            in_window = [
                i for i in candidates if slot - WINDOW_BEFORE <= device.emissions[i].t <= slot + WINDOW_AFTER
            ]
            if not in_window:
                tally.out_of_window += 1
                print(f"  out of window: {device.name} slot {slot}", file=out)
                continue
            onward = [i for i in in_window if i >= previous_index]
            if not onward:
                tally.overwritten += 1
                print(f"  back in time: {device.name} slot {slot}", file=out)
                continue
            previous_index = onward[0]
    if kills:
        worst = max(kill_losses.values(), default=0)
        print(
            f"hard kills of Home Assistant: {len(kills)}; samples lost per kill and device: at most {worst} "
            f"(bound {HARD_KILL_BOUND:.0f})",
            file=out,
        )
    return report(tallies, len(faults), out)


def report(tallies: Mapping[str, Tally], faults: int, out: Any) -> int:
    columns = ("times", 6), ("expected", 10), ("stored", 8), ("lost", 6), ("in bound", 9), ("wrong", 7)
    columns += ("window", 8), ("rewrite", 8)
    print(f"{'fault':<24}" + "".join(f"{name:>{width}}" for name, width in columns), file=out)
    total = Tally()
    for kind in sorted(tallies):
        t = tallies[kind]
        print(
            f"{kind:<24}{t.count:>6}{t.expected:>10}{t.stored:>8}{t.lost:>6}{t.lost_in_bound:>9}"
            f"{t.wrong:>7}{t.out_of_window:>8}{t.overwritten:>8}",
            file=out,
        )
        for name in vars(total):
            setattr(total, name, getattr(total, name) + getattr(t, name))
    bad = total.lost + total.wrong + total.out_of_window + total.overwritten
    print(
        f"soak: {total.expected} expected, {total.stored} stored, {total.lost} lost, {total.wrong} wrong, "
        f"{faults} faults ({total.lost_in_bound} lost within the hard-kill bound of {HARD_KILL_BOUND:.0f} s, "
        f"{total.out_of_window} out of window, {total.overwritten} rewritten)",
        file=out,
    )
    return 1 if bad else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument(
        "--redis", required=True, metavar="URL", help="the soak's Redis (redis://host:port/db)"
    )
    args = parser.parse_args(argv)
    client = redis.Redis.from_url(args.redis, decode_responses=True)
    try:
        return check(args.workdir, client)
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
