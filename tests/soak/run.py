"""`scripts/soak`: Home Assistant, K simulated devices and Redis under a seeded schedule of faults, then the
independent count (tests/soak/checker.py) of what was lost.

The stack is the development stack (tests/e2e/devstack.py, Home Assistant 2026.11.0) in a folder of its own,
with synthetic devices (values that change every second, so a stale or misplaced point shows) that log what
they send, a Redis made durable (appendfsync always: a Redis SIGKILL loses nothing it acknowledged), and one
HmapTimeSeries output per device, at time_interval 1. Faults run one at a time, in rounds: each round is
every fault kind once, in an order drawn from the seed, with a quiet gap before each.
"""

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Sequence
import contextlib
from dataclasses import dataclass
import json
from pathlib import Path
import random
import signal
import sys
import tempfile
import time
from typing import Any

import redis.asyncio as aioredis

from tests.e2e.demo import SimulatedDevice, create_demo, wait_live
from tests.e2e.devstack import HA_NAME, HA_PASSWORD, HA_USERNAME, RedisTarget, Stack, parse_args
from tests.e2e.ha_client import HaClient
from tests.soak import checker
from vedirect_tools.ser2net import Ser2Net

KINDS = ("bmv", "mppt", "inverter")
COLUMNS = {
    "bmv": ("V", "VS", "I", "P", "CE", "SOC", "TTG", "Alarm", "Relay", "AR"),
    "mppt": ("V", "I", "VPV", "PPV", "CS", "MPPT", "ERR", "LOAD", "IL", "H19", "H20"),
    "inverter": ("V", "AC_OUT_V", "AC_OUT_I", "AC_OUT_S", "MODE", "CS", "AR", "WARN"),
}
REPLUG_DELAY = 3.0
READY_TIMEOUT = 180.0


@dataclass(frozen=True)
class SoakDevice:
    name: str
    kind: str
    device: SimulatedDevice
    sent_log: Path


def soak_devices(count: int, seed: int, workdir: Path) -> list[SoakDevice]:
    devices = []
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        name = f"{kind}{index + 1}"
        sent_log = workdir / "sent" / f"{name}.jsonl"
        simulated = SimulatedDevice(
            name=name,
            description=f"synthetic {kind}",
            simulate_args=(
                "--device", kind, "--seed", str(seed * 100 + index), "--sent-log", str(sent_log),
                "--replug-delay", str(REPLUG_DELAY),
            ),
            redis_node=f"soak_{name}",
            columns={name: COLUMNS[kind]},
        )  # fmt: skip
        devices.append(SoakDevice(name, kind, simulated, sent_log))
    return devices


class Soak:
    """Runs the stack and the fault schedule, writing what happened when to events.jsonl."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir: Path = args.workdir
        self.rng = random.Random(args.seed)
        self.devices = soak_devices(args.devices, args.seed, self.workdir)
        (self.workdir / "sent").mkdir(parents=True, exist_ok=True)
        stack_args = parse_args(
            [
                "--workdir",
                str(self.workdir),
                "--config",
                str(self.workdir / "config"),
                "--ha-port",
                "0",
                "--quiet",
            ]
        )
        self.stack = Stack(
            stack_args,
            devices=[device.device for device in self.devices],
            redis_args=("--appendonly", "yes", "--appendfsync", "always", "--save", ""),
        )
        self.events = (self.workdir / "events.jsonl").open("a", encoding="utf-8", buffering=1)
        specs = [
            {
                "name": device.name,
                "key": f"{device.device.redis_node}_{device.name}",
                "columns": list(COLUMNS[device.kind]),
                "sent_log": str(device.sent_log),
            }
            for device in self.devices
        ]
        (self.workdir / "devices.json").write_text(json.dumps(specs, indent=2))  # the checker's map
        self.redis: RedisTarget | None = None
        self.ports: dict[str, str] = {}
        # One device is read over the network, through ser2net's RFC 2217 accepter (the second, or the only).
        self.networked = self.devices[min(1, len(self.devices) - 1)].name
        self.ser2net: Ser2Net | None = None

    def log(self, **event: Any) -> None:
        self.events.write(json.dumps(event) + "\n")

    def say(self, text: str) -> None:
        print(f"[soak {time.strftime('%H:%M:%S')}] {text}", flush=True)

    # Home Assistant.

    @property
    def ha_url(self) -> str:
        return f"http://127.0.0.1:{self.stack.ha_port}"

    async def hass_ready(self, first: bool = False) -> None:
        """Wait until HA answers, every entry is loaded and every device shows values; log `ha_up`."""
        async with HaClient(self.ha_url) as client:
            await self.stack.wait_hass(client)
            await client.onboard(name=HA_NAME, username=HA_USERNAME, password=HA_PASSWORD)
            if first:
                assert self.redis is not None
                await create_demo(
                    client, self.redis.flow_input(), self.ports, [d.device for d in self.devices]
                )
            await wait_live(client, READY_TIMEOUT, [d.device for d in self.devices], devices_only=True)
        self.log(kind="ha_up", t=time.time())

    async def hass_stop(self) -> None:
        self.log(kind="ha_down", t=time.time(), hard=False)
        await self.stack.stop_child("hass")

    async def hass_kill(self) -> None:
        child = self.stack.child("hass")
        self.log(kind="ha_down", t=time.time(), hard=True)
        child.signal(signal.SIGKILL)
        assert child.process is not None
        await child.process.wait()

    async def hass_start(self) -> None:
        await self.stack.start_child("hass")
        await self.hass_ready()

    # Faults.

    async def redis_client(self) -> aioredis.Redis:
        assert self.redis is not None
        return self.redis.client()

    async def fault_redis_kill(self) -> str:
        self.stack.child("redis").signal(signal.SIGKILL)
        await asyncio.sleep(5)
        await self.stack.start_child("redis")
        return "redis"

    async def fault_redis_pause(self) -> str:
        redis_child = self.stack.child("redis")
        redis_child.signal(signal.SIGSTOP)
        try:
            await asyncio.sleep(30)
        finally:
            redis_child.signal(signal.SIGCONT)
        return "redis"

    async def fault_redis_oom(self) -> str:
        client = await self.redis_client()
        try:
            await client.config_set("maxmemory-policy", "noeviction")
            await client.config_set("maxmemory", "1mb")
            await asyncio.sleep(20)
            await client.config_set("maxmemory", "0")
        finally:
            await client.aclose()
        return "redis"

    async def fault_sim_pause(self) -> str:
        device = self.rng.choice(self.devices)
        child = self.stack.child(device.name)
        child.signal(signal.SIGSTOP)
        try:
            await asyncio.sleep(15)
        finally:
            child.signal(signal.SIGCONT)
        return device.name

    async def fault_sim_replug(self) -> str:
        device = self.rng.choice(self.devices)
        self.stack.child(device.name).signal(signal.SIGUSR2)
        await asyncio.sleep(REPLUG_DELAY + 1)
        return device.name

    async def fault_garbage(self) -> str:
        device = self.rng.choice(self.devices)
        for _ in range(3):
            self.stack.child(device.name).signal(signal.SIGUSR1)
            await asyncio.sleep(self.rng.uniform(0.2, 1.5))
        return device.name

    async def fault_ser2net_restart(self) -> str:
        assert self.ser2net is not None
        await self.ser2net.stop()
        await asyncio.sleep(3)
        await self.ser2net.start()
        return self.networked

    async def fault_ha_stop(self) -> str:
        await self.hass_stop()
        await asyncio.sleep(3)
        await self.hass_start()
        return "hass"

    async def fault_ha_kill(self) -> str:
        await self.hass_kill()
        await asyncio.sleep(3)
        await self.hass_start()
        return "hass"

    async def fault_ha_restart_redis_down(self) -> str:
        await self.stack.stop_child("redis")
        await asyncio.sleep(8)
        await self.hass_stop()
        await asyncio.sleep(2)
        await self.hass_start()
        await asyncio.sleep(8)
        await self.stack.start_child("redis")
        return "hass+redis"

    def faults(self) -> dict[str, Callable[[], Awaitable[str]]]:
        return {
            name.removeprefix("fault_"): getattr(self, name)
            for name in sorted(dir(self))
            if name.startswith("fault_")
        }

    # The run.

    async def run(self) -> int:
        started = time.monotonic()
        deadline = started + self.args.minutes * 60
        self.stack.prepare_config()
        self.redis, self.ports = await asyncio.gather(self.stack.start_redis(), self.stack.start_simulators())
        self.ser2net = Ser2Net(self.ports[self.networked])
        await self.ser2net.start()
        self.ports[self.networked] = self.ser2net.rfc2217_url
        await self.stack.start_hass()
        await self.hass_ready(first=True)
        self.say(
            f"{len(self.devices)} devices live after {time.monotonic() - started:.0f} s; faults until "
            f"{self.args.minutes:g} min"
        )
        kinds = self.faults()
        count = 0
        while True:
            order = list(kinds)
            self.rng.shuffle(order)
            for kind in order:
                gap = self.rng.uniform(5, 15)
                if time.monotonic() + gap + 40 > deadline:
                    return await self.finish(count)
                await asyncio.sleep(gap)
                t0 = time.time()
                target = await kinds[kind]()
                t1 = time.time()
                count += 1
                self.log(kind=kind, target=target, t0=t0, t1=t1)
                self.say(f"fault {count}: {kind} ({target}), {t1 - t0:.0f} s")

    async def finish(self, faults: int) -> int:
        """A quiet end (every output catches up), a clean stop of HA, then the count."""
        await asyncio.sleep(15)
        await self.hass_stop()
        assert self.redis is not None
        self.events.close()
        self.say(f"{faults} faults done; counting")
        sync = checker.redis.Redis(host=self.redis.host, port=self.redis.port, decode_responses=True)
        try:
            return checker.check(self.workdir, sync)
        finally:
            sync.close()


async def main_async(args: argparse.Namespace) -> int:
    soak = Soak(args)
    loop = asyncio.get_running_loop()
    main = asyncio.create_task(soak.run())
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, main.cancel)
    try:
        return await main
    except asyncio.CancelledError:
        soak.say("interrupted")
        return 130
    finally:
        await soak.stack.close()
        if soak.ser2net is not None:
            await soak.ser2net.close()
        soak.say(f"stopped; logs and data in {soak.workdir}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long the faults go on (default 30)")
    parser.add_argument("--devices", type=int, default=3, help="simulated devices (default 3)")
    parser.add_argument("--seed", type=int, default=None, help="the fault schedule's seed (default: random)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the run keeps its files")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(10**6)
    if args.workdir is None:
        args.workdir = Path(tempfile.mkdtemp(prefix="vemonitor-soak-"))
    args.workdir = args.workdir.resolve()
    print(
        f"[soak] seed {args.seed}, {args.devices} devices, {args.minutes:g} min, in {args.workdir}",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main_async(args))
    return 130


if __name__ == "__main__":
    sys.exit(main())
