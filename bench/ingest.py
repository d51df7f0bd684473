"""Ingest benchmark: what one VE.Direct device costs inside a real Home Assistant (issue 11, item 3).

`scripts/bench ingest` runs the full table (1, 10 and 50 devices, 60 s windows: about 12 minutes).
Options follow a `--`: `scripts/bench ingest -- --devices 1,10 --seconds 30 --profile 10` (--help lists them;
--entity-interval N sets the devices' entity update interval through their options flow, --integration DIR
loads another copy of custom_components/vemonitor, for A/B runs).
It starts its own redis-server on a free loopback port (never 6379), simulated BMV-712 Smart devices (the
real capture tests/fixtures/captures/bmv-712_fw0403_a.log looped, one emission, i.e. a main block and its
history block, per second, as the device sends them; each simulator starts at another point of the capture)
on pseudo-terminals in this process, and one Home Assistant (the "develop" environment's release, where
scripts/bench runs this module, with py-spy from "bench" on PATH) with its own temporary configuration: the
components of config/ (recorder included, at its defaults: as users have it), warning-level logging.
Everything is added through the integration's config flows over HA's REST API (tests/e2e/ha_client.py,
tests/e2e/demo.py), as a person does in the web UI; the Redis outputs are the demo's BMV output (9 columns,
HmapTimeSeries, sent every 5 s).

Measured, per row (K devices at time_interval 1, without and then with one Redis output each):
- HA's CPU per device-second: utime + stime of the HA process (/proc/PID/stat, all its threads) over the
  window, minus the same HA's idle rate (no device yet, measured first in the same run), / (K x seconds);
- state writes per device-second: the rows the recorder stored for the devices' entities in the window (one
  per state_changed event; counted in its database afterwards, so that counting costs HA nothing);
- HA's RSS growth per device (VmRSS at the end of the window against the idle one, / K);
- Redis: every slot of the window stored for every device (HKEYS of each output's hash, checked at the end).
Windows avoid the recorder's 5-minute statistics compile (clear_of_statistics). Also printed: what one more
device costs (between the two largest rows: HA's fixed costs, such as a recorder commit every 5 s, weigh on
small rows), and the bytes the recorder's states table takes per row.
The last line is `ingest: <K> devices: X ms CPU per device-second` of the largest row with Redis.
--profile K also records the HA process with py-spy (no native frames) for --profile-seconds after that
row's window (not inside it, so the profiler's own cost is not measured) and prints its top frames.
"""

import argparse
import asyncio
from collections import Counter
from collections.abc import Sequence
import contextlib
from dataclasses import dataclass, field, replace
import importlib.metadata
import math
import os
from pathlib import Path
import shutil
import sqlite3
import tempfile
import time
from typing import Any

from custom_components.vemonitor.const import DOMAIN
from tests.e2e.demo import DEVICES, REDIS_SERVER_NAME, _expect, _fill, add_redis_output
from tests.e2e.devstack import HA_NAME, HA_PASSWORD, HA_USERNAME, RedisTarget, Stack
from tests.e2e.ha_client import HaClient
from vedirect_tools.simulator import CaptureSource, Simulator

REPO = Path(__file__).resolve().parents[1]
CAPTURE = REPO / "tests" / "fixtures" / "captures" / "bmv-712_fw0403_a.log"
NODE = "bmv712"  # the demo BMV output's node (its hash: <redis_node>_bmv712)
DEVICE_PREFIX = "bench_"
CONFIGURATION = """\
# Written by bench/ingest.py: the components of config/configuration.yaml, the recorder at its defaults.
homeassistant:
  name: VE Monitor ingest benchmark
  unit_system: metric
  time_zone: UTC
  country: FR
  currency: EUR
  latitude: 48.85
  longitude: 2.35
  elevation: 35
frontend:
config:
energy:
history:
logbook:
usb:
system_health:
my:
backup:
recorder:
logger:
  default: warning
  logs:
    haffmpeg: critical
    homeassistant.components.camera.img_util: critical
"""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FLOW_CONCURRENCY = 8  # config flows in flight when adding devices (each probes its port for ~1 s)
SETTLE = 8.0  # seconds after a window before its rows are counted: the recorder commits every 5 s
STATISTICS_PERIOD = 300  # the recorder's statistics compile: every 5 minutes ...
STATISTICS_OFFSET = 10  # ... at second 10
STATISTICS_BUSY = 30  # seconds a compile may keep HA busy (50 devices: a few)
GOAL_MS = 1.4  # issue 11: CPU per device-second with one Redis output each


# -- the environment ----------------------------------------------------------------------------------------


# -- measuring the process ----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@dataclass
class Window:
    """One measuring window of the HA process."""

    devices: int
    redis: bool
    start: float
    end: float
    cpu: float  # seconds of CPU in the window
    rss: int
    state_rows: int = 0
    missing_slots: int = 0
    checked_slots: int = 0

    @property
    def seconds(self) -> float:
        return self.end - self.start


async def measure(pid: int, devices: int, redis: bool, seconds: float) -> Window:
    start, cpu_start = time.time(), cpu_seconds(pid)
    await asyncio.sleep(seconds)
    end, cpu_end = time.time(), cpu_seconds(pid)
    return Window(devices, redis, start, end, cpu_end - cpu_start, rss_bytes(pid))


def state_storage(database: Path) -> tuple[int, int]:
    """Rows of the recorder's states table and the bytes it takes with its indices (SQLite's dbstat; the
    whole database file when this SQLite lacks it, an upper bound)."""
    uri = f"file:{database}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as connection:
        (rows,) = connection.execute("SELECT COUNT(*) FROM states").fetchone()
        try:
            (size,) = connection.execute(
                "SELECT SUM(pgsize) FROM dbstat WHERE name = 'states' OR name LIKE 'ix_states_%'"
            ).fetchone()
        except sqlite3.OperationalError:
            (pages,) = connection.execute("PRAGMA page_count").fetchone()
            (page_size,) = connection.execute("PRAGMA page_size").fetchone()
            size = pages * page_size
    return int(rows), int(size or 0)


async def clear_of_statistics(seconds: float) -> None:
    """Wait, if need be, until the next `seconds` hold no 5-minute statistics compile of the recorder.

    The recorder compiles the statistics of every sensor with a state class at minute % 5 == 0, second 10
    (UTC), which takes seconds of CPU with 50 devices: a window that held one would not compare with one that
    did not. Its cost (per sensor, every 5 minutes) is not in the figures; the state writes it reads are.
    """
    if seconds > STATISTICS_PERIOD - STATISTICS_BUSY:
        return
    now = time.time()
    compile_at = now - (now - STATISTICS_OFFSET) % STATISTICS_PERIOD  # the last one
    if now < compile_at + STATISTICS_BUSY:
        await asyncio.sleep(compile_at + STATISTICS_BUSY - now)
    elif now + seconds > compile_at + STATISTICS_PERIOD:
        await asyncio.sleep(compile_at + STATISTICS_PERIOD + STATISTICS_BUSY - now)


def count_state_rows(database: Path, start: float, end: float) -> int:
    """Rows the recorder stored for the entities of the benchmark's devices and of their Redis outputs
    (sensor.bench_00_..., sensor.redis_output_bench_00_of_bench_00_...): their state changes in
    [start, end)."""
    uri = f"file:{database}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as connection:
        (count,) = connection.execute(
            "SELECT COUNT(*) FROM states JOIN states_meta USING (metadata_id)"
            " WHERE states_meta.entity_id LIKE ? ESCAPE '!' AND last_updated_ts >= ? AND last_updated_ts < ?",
            (f"%{DEVICE_PREFIX.replace('_', '!_')}%", start, end),
        ).fetchone()
    return int(count)


# -- py-spy -------------------------------------------------------------------------------------------------


def _ours(frame: str) -> bool:
    """A frame of the integration (py-spy names files relative to a sys.path entry, or to a folder above an
    --integration copy: custom_components/vemonitor/..., or vemonitor/...)."""
    return "(vemonitor/" in frame or "/vemonitor/" in frame


def _category(frame: str) -> str | None:
    if _ours(frame):
        return "ours (custom_components/vemonitor)"
    if "components/recorder" in frame or "sqlalchemy" in frame or "sqlite3" in frame:
        return "recorder (+ SQLAlchemy, sqlite3)"
    if "(redis/" in frame or "/redis/" in frame:
        return "redis-py"
    if "serialx" in frame:
        return "serialx"
    if any(part in frame for part in ("helpers/entity", "homeassistant/core.py", "components/sensor")):
        return "HA entities, states, event bus"
    if "homeassistant/" in frame:
        return "HA other"
    return None


# Leaf frames of threads that wait (py-spy cannot always tell an idle thread here): the event loop in
# select, executor and logging threads on their queues, the recorder thread on its queue, pycares' shutdown.
IDLE_LEAVES = (
    "select (selectors.py)",
    "_worker (concurrent/futures/thread.py)",
    "dequeue (logging/handlers.py)",
    "_run_event_loop (homeassistant/components/recorder/core.py)",
    "_run_safe_shutdown_loop (pycares/__init__.py)",
    "wait (threading.py)",
)


def summarise_profile(raw: Path) -> list[str]:
    """Top frames of a py-spy raw (collapsed stacks) file, waiting threads left out; a sample counts for the
    innermost frame of a known package (a json encode called from our structure is ours), and as "ours
    inclusive" when any frame is."""
    own: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    ours_inclusive = total = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if not stack or frames[-1].endswith(IDLE_LEAVES):  # (no stack: a thread in no Python frame)
            idle += count
            continue
        total += count
        own[frames[-1]] += count
        categories[next(filter(None, map(_category, reversed(frames))), "other (asyncio, stdlib)")] += count
        if any(map(_ours, frames)):
            ours_inclusive += count
    if not total:
        return ["py-spy: no samples"]
    lines = [
        f"py-spy: {total} busy samples ({idle} of waiting or non-Python threads left out); a vemonitor"
        f" frame on the stack in {ours_inclusive / total:.0%}; by the innermost known frame:"
    ]
    lines += [f"  {share / total:6.1%}  {name}" for name, share in categories.most_common()]
    lines.append("  top frames (self):")
    lines += [f"  {share / total:6.1%}  {name}" for name, share in own.most_common(15)]
    return lines


async def profile(pid: int, seconds: float, rate: int, output: Path) -> list[str]:
    """py-spy record (Python frames only, idle threads left out) for `seconds`; its summary."""
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        return ["py-spy not found (requirements/bench.txt): no profile"]
    process = await asyncio.create_subprocess_exec(
        py_spy, "record", "--pid", str(pid), "--duration", str(math.ceil(seconds)), "--rate", str(rate),
        "--format", "raw", "--nolineno", "--output", str(output),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await process.communicate()
    if process.returncode != 0:
        return [f"py-spy failed: {stderr.decode(errors='replace').strip()[-400:]}"]
    return await asyncio.to_thread(summarise_profile, output)


# -- the stack ----------------------------------------------------------------------------------------------


@dataclass
class Bench:
    """The running stack: HA, Redis, the simulators, and what was added through the flows."""

    args: argparse.Namespace
    workdir: Path
    stack: Stack
    client: HaClient
    redis: RedisTarget
    server_id: str = ""
    simulators: list[Simulator] = field(default_factory=list)
    entries: dict[str, str] = field(default_factory=dict)  # device name -> entry id
    outputs: dict[str, str] = field(default_factory=dict)  # device name -> redis_node of its output
    windows: list[Window] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    async def start(cls, args: argparse.Namespace, workdir: Path) -> Bench:
        """Redis, then HA on a configuration of its own (devstack.Stack: onboarded, our integration linked),
        then the Redis server entry. Stopped by close(), also when starting fails half-way."""
        config = workdir / "config"
        config.mkdir(parents=True)
        (config / "configuration.yaml").write_text(CONFIGURATION)
        stack_args = argparse.Namespace(
            workdir=workdir / "stack", config=config, ha_port=0, redis=None, quiet=True
        )
        # HA runs in the checkout (devstack), whose custom_components/ would come first on sys.path: load the
        # integration from the configuration's custom_components/, as an installed one is (and --integration).
        os.environ["PYTHONSAFEPATH"] = "1"
        stack = Stack(stack_args)
        client = HaClient(f"http://127.0.0.1:{stack.ha_port}")
        bench = cls(args, workdir, stack, client, RedisTarget("127.0.0.1", 0))  # Redis: once it listens
        try:
            bench.redis = await stack.start_redis()
            stack.prepare_config()
            if args.integration is not None:  # an A/B run: load a copy of the integration instead
                link = config / "custom_components" / DOMAIN
                link.unlink()
                link.symlink_to(args.integration.resolve(), target_is_directory=True)
            await stack.start_hass()
            await stack.wait_hass(client)
            await bench.client.onboard(name=HA_NAME, username=HA_USERNAME, password=HA_PASSWORD)
            bench.server_id = await bench.add_redis_server()
        except BaseException:
            await bench.close()
            raise
        return bench

    @property
    def pid(self) -> int:
        assert self.stack.hass_child is not None
        assert self.stack.hass_child.process is not None
        pid: int = self.stack.hass_child.process.pid
        return pid

    async def close(self) -> None:
        await self.client.__aexit__(None, None, None)
        await self.stack.close()
        for simulator in self.simulators:
            await simulator.stop()

    async def add_redis_server(self) -> str:
        flow = _expect(await self.client.start_flow(DOMAIN), "menu", "start")
        form = await self.client.flow_step(flow["flow_id"], {"next_step_id": "redis_server"})
        values = {**self.redis.flow_input(), "name": REDIS_SERVER_NAME}
        result = await self.client.flow_step(form["flow_id"], _fill(_expect(form, "form", "menu"), values))
        entry_id: str = _expect(result, "create_entry", "Redis server")["result"]["entry_id"]
        return entry_id

    async def start_simulators(self, count: int) -> None:
        capture = CAPTURE.read_bytes()
        links = self.workdir / "dev"
        links.mkdir(exist_ok=True)
        while len(self.simulators) < count:
            index = len(self.simulators)
            source = CaptureSource(capture, loop=True)
            for _ in range((index * 97) % len(source.emissions)):  # devices out of step with each other
                source.next_emission()
            simulator = Simulator(source, rate=self.args.rate, pty_link=links / f"ttyVE{index}")
            await simulator.start()
            self.simulators.append(simulator)

    async def add_devices(self, count: int) -> None:
        """Devices bench_00.. up to `count`, through the VE.Direct config flow, a few at a time."""
        await self.start_simulators(count)
        gate = asyncio.Semaphore(FLOW_CONCURRENCY)

        async def add(index: int) -> None:
            async with gate:
                await self.add_device(f"{DEVICE_PREFIX}{index:02d}", self.simulators[index].url)

        await asyncio.gather(*(add(index) for index in range(len(self.entries), count)))

    async def add_device(self, name: str, port: str) -> None:
        flow = _expect(await self.client.start_flow(DOMAIN), "menu", "start")
        form = _expect(
            await self.client.flow_step(flow["flow_id"], {"next_step_id": "vedirect"}), "form", "menu"
        )
        values: dict[str, Any] = {"name": name, "port": port, "time_interval": 1}
        result = await self.client.flow_step(form["flow_id"], _fill(form, values))
        entry_id: str = _expect(result, "create_entry", f"device {name}")["result"]["entry_id"]
        if self.args.entity_interval is not None:  # the device's options flow (the entry reloads)
            options = await self.client.post("/api/config/config_entries/options/flow", {"handler": entry_id})
            wanted = {"time_interval": 1, "entity_interval": self.args.entity_interval}
            answer = await self.client.post(
                f"/api/config/config_entries/options/flow/{options['flow_id']}",
                _fill(_expect(options, "form", "options"), wanted),
            )
            _expect(answer, "create_entry", f"options of {name}")
        self.entries[name] = entry_id

    async def add_outputs(self) -> None:
        """One Redis output per device: the demo's BMV output, on a node of the device's own."""
        template = next(device for device in DEVICES if NODE in device.columns)
        for name, entry_id in self.entries.items():
            if name not in self.outputs:
                device = replace(template, name=name, redis_node=name)
                await add_redis_output(self.client, entry_id, self.server_id, device)
                self.outputs[name] = name

    async def remove_outputs(self) -> None:
        for name in list(self.outputs):
            entry_id = self.entries[name]
            for subentry in await self.client.ws_command("config_entries/subentries/list", entry_id=entry_id):
                await self.client.ws_command(
                    "config_entries/subentries/delete", entry_id=entry_id, subentry_id=subentry["subentry_id"]
                )
        self.outputs.clear()

    async def wait_loaded(self, limit: float = 120.0) -> None:
        """Every device entry loaded (setup waits for the first valid block), within `limit` seconds."""
        deadline = time.monotonic() + limit
        while True:
            entries = await self.client.config_entries(DOMAIN)
            pending = [e["title"] for e in entries if e["title"] in self.entries and e["state"] != "loaded"]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"not loaded after {limit:.0f} s: {pending}")
            await asyncio.sleep(1.0)

    async def window(self, devices: int, redis: bool) -> Window:
        await asyncio.sleep(self.args.warmup)
        await clear_of_statistics(self.args.seconds)
        window = await measure(self.pid, devices, redis, self.args.seconds)
        self.windows.append(window)
        label = "with Redis" if redis else "without Redis"
        print(
            f"[ingest] {devices} devices {label}: {window.cpu:.2f} s CPU in {window.seconds:.0f} s",
            flush=True,
        )
        return window

    async def check(self) -> None:
        """After the run: recorder rows and Redis slots of every window."""
        await asyncio.sleep(SETTLE)
        database = self.stack.config_dir / "home-assistant_v2.db"
        redis = self.redis.client()
        try:
            for window in self.windows:
                window.state_rows = await asyncio.to_thread(
                    count_state_rows, database, window.start, window.end
                )
                if window.redis:
                    names = [f"{DEVICE_PREFIX}{index:02d}" for index in range(window.devices)]
                    slots = set(range(math.ceil(window.start), math.floor(window.end)))
                    for name in names:
                        stored = {int(field) for field in await redis.hkeys(f"{name}_{NODE}")}
                        window.missing_slots += len(slots - stored)
                        window.checked_slots += len(slots)
            rows, size = await asyncio.to_thread(state_storage, database)
            if rows:
                self.notes.append(
                    f"recorder: {rows:,} state rows take {size / 2**20:.1f} MiB with their indices,"
                    f" {size / rows:.0f} B a row: {size / rows * 86_400 / 2**20:.1f} MiB a day per state"
                    " write a second"
                )
        finally:
            await redis.aclose()


def report(bench: Bench, total: float) -> None:
    idle = bench.windows[0]
    idle_rate = idle.cpu / idle.seconds
    print()
    print(
        f"HA {importlib.metadata.version('homeassistant')}, BMV-712 capture looped at "
        f"{bench.args.rate:g} emission/s,"
        f" time_interval 1, window {bench.args.seconds:g} s after {bench.args.warmup:g} s warm-up; idle HA: "
        f"{idle_rate * 1000:.1f} ms CPU/s, RSS {idle.rss / 2**20:.0f} MiB"
    )
    header = (
        f"{'devices':>7}  {'Redis':>5}  {'CPU ms/dev-s':>12}  {'% of a core':>11}  {'writes/dev-s':>12}"
        f"  {'RSS MiB/dev':>11}  {'Redis slots':>15}"
    )
    print(header)
    last = None
    for window in bench.windows[1:]:
        extra = window.cpu - idle_rate * window.seconds
        per_device_second = extra / (window.devices * window.seconds) * 1000
        core = extra / window.seconds
        writes = window.state_rows / (window.devices * window.seconds)
        rss = (window.rss - idle.rss) / window.devices / 2**20
        slots = (
            f"{window.checked_slots - window.missing_slots}/{window.checked_slots}" if window.redis else "-"
        )
        print(
            f"{window.devices:>7}  {'yes' if window.redis else 'no':>5}  {per_device_second:>12.2f}"
            f"  {core:>11.1%}  {writes:>12.2f}  {rss:>11.2f}  {slots:>15}"
        )
        if window.redis:
            last = (window.devices, per_device_second)
    for redis in (False, True):
        rows = [window for window in bench.windows[1:] if window.redis is redis]
        if len(rows) >= 2 and rows[-2].devices != rows[-1].devices:
            small, large = rows[-2], rows[-1]  # the largest rows: the least noise of HA's own work
            slope = (large.cpu / large.seconds - small.cpu / small.seconds) / (large.devices - small.devices)
            label = "with" if redis else "without"
            print(
                f"one more device ({small.devices} -> {large.devices} devices, {label} Redis):"
                f" {slope * 1000:.2f} ms CPU per device-second"
            )
    lost = sum(window.missing_slots for window in bench.windows)
    print(f"Redis: {'every slot stored' if not lost else f'{lost} slots MISSING'}")
    print("(windows avoid the recorder's 5-minute statistics compile: see clear_of_statistics)")
    print(f"Home Assistant logged {bench.stack.startup_errors} errors; total run time {total / 60:.1f} min")
    for note in bench.notes:
        print(note)
    if last is not None:
        goal = "goal met" if last[1] <= GOAL_MS else "goal NOT met"
        print(f"(goal <= {GOAL_MS} ms per device-second with one Redis output: {goal})")
        print(f"ingest: {last[0]} devices: {last[1]:.2f} ms CPU per device-second")


async def run(args: argparse.Namespace) -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vemonitor-ingest-") as tmp:
        bench = await Bench.start(args, Path(tmp))
        try:
            print(f"[ingest] Home Assistant up after {time.monotonic() - started:.0f} s", flush=True)
            await bench.window(0, redis=False)  # idle: the warm-up also lets HA's start-up work settle
            for count in args.devices:
                await bench.add_devices(count)
                await bench.wait_loaded()
                await bench.window(count, redis=False)
                await bench.add_outputs()
                await bench.window(count, redis=True)
                if count == args.profile:
                    output = Path(tmp) / "py-spy.raw"
                    await clear_of_statistics(args.profile_seconds)
                    bench.notes += await profile(bench.pid, args.profile_seconds, args.profile_rate, output)
                    if args.profile_output is not None:
                        shutil.copyfile(output, args.profile_output)
                await bench.remove_outputs()
            await bench.check()
        finally:
            await bench.close()
        report(bench, time.monotonic() - started)


def _counts(text: str) -> list[int]:
    counts = sorted({int(part) for part in text.split(",") if part.strip()})
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError("device counts are whole numbers >= 1, e.g. 1,10,50")
    return counts


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench ingest", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--devices", type=_counts, default=[1, 10, 50], help="device counts (default 1,10,50)"
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="measuring window (default 60 s)")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before each window (default 20)")
    parser.add_argument("--rate", type=float, default=1.0, help="emissions per second per device (default 1)")
    parser.add_argument(
        "--entity-interval",
        type=int,
        help="set the devices' entity update interval (default: a new device's)",
    )
    parser.add_argument(
        "--profile", type=int, metavar="K", help="py-spy the HA process after row K (with Redis)"
    )
    parser.add_argument("--profile-seconds", type=float, default=60.0, help="py-spy duration (default 60 s)")
    parser.add_argument("--profile-rate", type=int, default=1000, help="py-spy samples/s (default 1000)")
    parser.add_argument(
        "--integration", type=Path, help="load this copy of custom_components/vemonitor (A/B runs)"
    )
    parser.add_argument("--profile-output", type=Path, help="keep py-spy's raw stacks in this file")
    return parser.parse_args(argv)


def main() -> None:
    asyncio.run(run(parse_args()))


if __name__ == "__main__":
    main()
