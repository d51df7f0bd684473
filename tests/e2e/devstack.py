"""The development stack: an embedded Redis, three simulated VE.Direct devices and Home Assistant.

`scripts/develop` runs it in the foreground until Ctrl-C; `scripts/test --e2e` runs the browser test inside it
(`--then`), so both start exactly the same things. It runs in the "develop" environment (Home Assistant
2026.11.0), inside the private root when there is one.
"""

import argparse
import asyncio
from collections.abc import Mapping, Sequence
import contextlib
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import shutil
import signal
import socket
from subprocess import PIPE, STDOUT
import sys
import time
from typing import IO, Any, Literal, TextIO
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis

from custom_components.vemonitor.const import DOMAIN
from tests.e2e.control import serve_control
from tests.e2e.demo import (
    DEVICES,
    SimulatedDevice,
    configure_energy,
    create_demo,
    solar_day_devices,
    wait_live,
)
from tests.e2e.ha_client import HaClient
from vedirect_tools.solarday import SolarDayConfig

type Output = Literal["log", "pipe", "merged", "terminal"]

REPO = Path(__file__).resolve().parents[2]

# The development user that onboarding creates (a development instance: do not expose it).
HA_NAME = "Developer"
HA_USERNAME = "dev"
HA_PASSWORD = "vemonitor"  # a development login, printed on purpose
DEFAULT_HA_PORT = 8123

ONBOARDING_STORE = {
    "version": 4,
    "minor_version": 1,
    "key": "onboarding",
    "data": {"done": ["core_config", "analytics", "integration"]},
}

HA_START_TIMEOUT = 300.0
LIVE_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """Whether a server can listen on the port (a connection of the last run in TIME_WAIT does not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def stored_ha_port(config_dir: Path) -> int | None:
    """The port of an existing configuration: HA keeps it in .storage/http (SETUP_PORT sets a new one's)."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        data = json.loads((config_dir / ".storage" / "http").read_text())["data"]
        port: int = (data["pending"] or data["stable"])["server_port"]
        return port
    return None


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the stack dies without stopping it (e.g. SIGKILL)."""
    import ctypes  # only the forked child needs it

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Child:
    """A process of the stack, in its own process group: Ctrl-C reaches the stack, which stops it in order."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        key: str = "",
    ):
        self.name = name
        self.key = key or name  # what `scripts/develop ctl` calls it
        self.argv = list(argv)
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.process: asyncio.subprocess.Process | None = None
        self.output: Output = "log"
        self.paused = False  # SIGSTOPped by the control command
        self.reported = False  # its exit was told once

    async def start(self, output: Output = "log") -> None:
        """Start it (again); `output`: all to its log, stdout piped (stderr to the log), both piped, or
        inherited."""
        if self.running:
            raise RuntimeError(f"{self.key} is already running")
        self.output, self.paused, self.reported = output, False, False
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            stdout: int | IO[bytes] | None
            stderr: int | IO[bytes] | None
            match output:
                case "log":
                    stdout, stderr = log, STDOUT
                case "pipe":
                    stdout, stderr = PIPE, log
                case "merged":
                    stdout, stderr = PIPE, STDOUT
                case "terminal":
                    stdout = stderr = None
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                cwd=REPO,
                env=self.env,
                process_group=0,
                preexec_fn=_die_with_parent,
            )

    async def first_line(self, timeout: float) -> str:
        """The first line the child prints (the simulator prints the port to open)."""
        assert self.process is not None
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"{self.name} exited before printing its port; see {self.log_path}")
        return line.decode().strip()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def signal(self, signum: int) -> None:
        """Send a signal to the running process (SIGSTOP/SIGCONT are tracked as paused)."""
        if self.process is None or not self.running:
            raise RuntimeError(f"{self.key} is not running")
        self.process.send_signal(signum)
        if signum == signal.SIGSTOP:
            self.paused = True
        elif signum == signal.SIGCONT:
            self.paused = False
        elif signum == signal.SIGKILL:
            self.reported = True  # asked for: not news

    @property
    def status(self) -> str:
        if self.process is None:
            return "not started"
        if self.process.returncode is not None:
            return f"exited ({self.process.returncode})"
        return f"{'paused' if self.paused else 'running'} (pid {self.process.pid})"

    async def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.reported = True
        with contextlib.suppress(ProcessLookupError):
            if self.paused:
                self.process.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            print(f"[develop] {self.name} did not stop within {timeout:.0f} s: killed", flush=True)
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


@dataclass
class RedisTarget:
    """Where the Redis outputs write: the embedded server or the one of --redis URL."""

    host: str
    port: int
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> RedisTarget:
        parts = urlsplit(url)
        if parts.scheme not in {"redis", "rediss"} or not parts.hostname:
            raise argparse.ArgumentTypeError(f"{url} is not a redis:// or rediss:// URL")
        db_text = parts.path.lstrip("/")
        return cls(
            host=parts.hostname,
            port=parts.port or 6379,
            db=int(db_text) if db_text else 0,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=parts.scheme == "rediss",
        )

    def client(self) -> aioredis.Redis:
        return aioredis.Redis(
            host=self.host,
            port=self.port,
            db=self.db,
            username=self.username,
            password=self.password,
            ssl=self.tls,
            decode_responses=True,
        )

    def flow_input(self) -> dict[str, Any]:
        """The "Redis server" form, filled in (but the name)."""
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "db": self.db,
            "tls": self.tls,
            "tls_verify": True,
        }
        if self.username:
            values["username"] = self.username
        if self.password:
            values["password"] = self.password
        return values

    def cli_hint(self) -> str:
        auth = f" --user {self.username}" if self.username else ""
        auth += " -a '***'" if self.password else ""
        tls = " --tls" if self.tls else ""
        return f"scripts/run redis-cli -h {self.host} -p {self.port} -n {self.db}{auth}{tls} MONITOR"


@dataclass
class StackInfo:
    """What is where, printed for a person and written as JSON for the browser test."""

    ha_url: str
    username: str
    password: str
    config_dir: str
    redis: RedisTarget
    embedded_redis: bool
    redis_dir: str = ""
    ports: dict[str, str] = field(default_factory=dict)
    hex_states: dict[str, str] = field(default_factory=dict)  # simulator -> its HEX registers (JSON file)
    access_token: str = ""
    devices: Sequence[SimulatedDevice] = DEVICES
    control: str = ""  # the control socket of `scripts/develop ctl`

    def to_json(self) -> str:
        return json.dumps(
            {
                "ha_url": self.ha_url,
                "username": self.username,
                "password": self.password,
                "config_dir": self.config_dir,
                "redis": {"host": self.redis.host, "port": self.redis.port, "db": self.redis.db},
                "embedded_redis": self.embedded_redis,
                "ports": self.ports,
                "hex_states": self.hex_states,
                "devices": {
                    device.name: {
                        "description": device.description,
                        "redis_node": device.redis_node,
                        "columns": {node: list(labels) for node, labels in device.columns.items()},
                    }
                    for device in self.devices
                },
                "access_token": self.access_token,
                "control": self.control,
            },
            indent=2,
        )


def say(text: str) -> None:
    print(f"[develop] {text}", flush=True)


class Stack:
    """Starts, watches and stops the processes of the stack."""

    def __init__(
        self,
        args: argparse.Namespace,
        devices: Sequence[SimulatedDevice] = DEVICES,
        redis_args: Sequence[str] = (),
    ) -> None:
        self.args = args
        self.devices = tuple(devices)
        self.redis_args = tuple(redis_args)  # extra redis-server options (the soak makes it durable)
        self.workdir: Path = args.workdir.resolve()
        self.config_dir: Path = args.config.resolve()
        self.logs = self.workdir / "logs"
        self.children: list[Child] = []
        self.redis_child: Child | None = None
        self.hass_child: Child | None = None
        self.startup_errors = 0
        self.ha_port: int = stored_ha_port(self.config_dir) or args.ha_port or free_port()
        self.info: StackInfo | None = None
        self.relay: asyncio.Task[None] | None = None
        self.control_path = self.workdir / "control.sock"
        self.closing: list[asyncio.Server] = []

    # Redis.

    def _redis_port(self) -> int:
        """The embedded Redis keeps its port across runs when it can, so that entries made stay valid."""
        record = self.workdir / "redis" / "port"
        if record.is_file():
            port = int(record.read_text())
            if port_is_free(port):
                return port
        port = free_port()
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(f"{port}\n")
        return port

    async def start_redis(self) -> RedisTarget:
        if self.args.redis is not None:
            target: RedisTarget = self.args.redis
            await self._wait_redis(target, timeout=10.0)
            return target
        port = self._redis_port()
        data_dir = self.workdir / "redis"
        redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
        child = Child(
            "redis-server",
            [
                redis_server,
                "--bind", "127.0.0.1",
                "--port", str(port),
                "--dir", str(data_dir),
                "--save", "60 1",
                "--appendonly", "no",
                "--protected-mode", "yes",
                *self.redis_args,
            ],
            self.logs / "redis-server.log",
            key="redis",
        )  # fmt: skip
        self.children.append(child)
        self.redis_child = child
        await child.start()
        target = RedisTarget(host="127.0.0.1", port=port)
        await self._wait_redis(target, timeout=20.0)
        return target

    async def _wait_redis(self, target: RedisTarget, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = target.client()
        try:
            while True:
                try:
                    await client.ping()
                except (aioredis.ConnectionError, OSError) as err:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"Redis at {target.host}:{target.port} does not answer: {err}"
                        ) from err
                    await asyncio.sleep(0.1)
                else:
                    return
        finally:
            await client.aclose()

    # Simulators.

    def hex_state_path(self, name: str) -> Path:
        """The JSON file of a simulator's HEX registers, rewritten by it on every change."""
        return self.workdir / "hex" / f"{name}.json"

    async def start_simulators(self) -> dict[str, str]:
        links = self.workdir / "dev"
        links.mkdir(parents=True, exist_ok=True)
        self.hex_state_path("").parent.mkdir(parents=True, exist_ok=True)
        children = []
        for device in self.devices:
            # Every device that answers HEX keeps its registers in a file: `ctl registers NAME`, the e2e.
            answers_hex = "--no-hex" not in device.simulate_args
            hex_state = ["--hex-state", str(self.hex_state_path(device.name))] if answers_hex else []
            child = Child(
                f"simulator {device.name}",
                [
                    sys.executable, "-m", "vedirect_tools", "simulate",
                    *device.simulate_args, "--link", str(links / f"ttyVE-{device.name}"), *hex_state,
                ],
                self.logs / f"simulator-{device.name}.log",
                key=device.name,
            )  # fmt: skip
            self.children.append(child)
            children.append(child)
        paths = await asyncio.gather(*(self._start_simulator(child) for child in children))
        return {device.name: path for device, path in zip(self.devices, paths, strict=True)}

    @staticmethod
    async def _start_simulator(child: Child) -> str:
        """Start a simulator; its first line is the port (the stable link: the same on every start)."""
        await child.start("pipe")
        return await child.first_line(timeout=30.0)

    # Home Assistant.

    def prepare_config(self) -> None:
        """config/ holds configuration.yaml; the integration is found through a symlink to the checkout."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        onboarding = self.config_dir / ".storage" / "onboarding"
        if not onboarding.exists():
            # Only the user step is left for the API: the core config is in configuration.yaml, and finishing
            # the core_config step would add the weather, radio and TTS entries that a new instance gets.
            onboarding.parent.mkdir(parents=True, exist_ok=True)
            onboarding.write_text(json.dumps(ONBOARDING_STORE, indent=2))
        yaml = self.config_dir / "configuration.yaml"
        if not yaml.exists():
            shutil.copyfile(REPO / "config" / "configuration.yaml", yaml)
        link = self.config_dir / "custom_components" / DOMAIN
        link.parent.mkdir(parents=True, exist_ok=True)
        target = Path(os.path.relpath(REPO / "custom_components" / DOMAIN, link.parent))
        if not (link.is_symlink() and link.readlink() == target):
            if link.is_symlink() or link.is_file():
                link.unlink()
            elif link.exists():
                raise RuntimeError(f"{link} exists and is not the symlink to the checkout: move it away")
            link.symlink_to(target, target_is_directory=True)

    async def start_hass(self) -> None:
        if not port_is_free(self.ha_port):
            raise RuntimeError(f"port {self.ha_port} is taken: is another Home Assistant running?")
        child = Child(
            "home-assistant",
            # --skip-pip: requirements/develop.txt installs everything up front, so that start is offline.
            [sys.executable, "-m", "homeassistant", "--config", str(self.config_dir), "--skip-pip"],
            self.logs / "home-assistant.console.log",
            env={"SETUP_PORT": str(self.ha_port)},
            key="hass",
        )
        self.children.append(child)
        self.hass_child = child
        await self._start_hass_process(child)

    async def _start_hass_process(self, child: Child) -> None:
        await child.start("merged")
        self.relay = asyncio.create_task(self._relay_hass_output(child))

    # Control: `scripts/develop ctl` (tests/e2e/control.py) and the soak.

    def child(self, key: str) -> Child:
        for child in self.children:
            if child.key == key:
                return child
        names = ", ".join(child.key for child in self.children)
        raise KeyError(f"no {key!r} in this stack (it has: {names})")

    async def start_child(self, key: str) -> None:
        """Start a stopped or exited process again, as the stack first started it."""
        child = self.child(key)
        if child is self.hass_child:
            if not port_is_free(self.ha_port):
                raise RuntimeError(f"port {self.ha_port} is still taken")
            await self._start_hass_process(child)
        elif child is self.redis_child:
            await child.start()
            await self._wait_redis(RedisTarget(host="127.0.0.1", port=self._redis_port()), timeout=20.0)
        elif child.output == "pipe":  # a simulator
            await self._start_simulator(child)
        else:
            await child.start(child.output)

    async def stop_child(self, key: str) -> None:
        """Stop a process the way Ctrl-C would (SIGTERM, then SIGKILL after the timeout)."""
        child = self.child(key)
        await child.stop(timeout=STOP_TIMEOUT if child is self.hass_child else 15.0)

    async def _relay_hass_output(self, child: Child) -> None:
        """Copy HA's console to its log file; show warnings and errors (with their traceback) here."""
        assert child.process is not None
        assert child.process.stdout is not None
        showing = False
        with child.log_path.open("a", encoding="utf-8", errors="replace") as log:
            async for raw in child.process.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                log.write(line + "\n")
                log.flush()
                starts_record = line[:4].isdigit() and " (" in line[:40]
                if starts_record:
                    level = line.split(" ")[2] if line.count(" ") >= 2 else ""
                    showing = level in {"WARNING", "ERROR", "CRITICAL"}
                    if level in {"ERROR", "CRITICAL"}:
                        self.startup_errors += 1
                if showing and not self.args.quiet:
                    print(f"  {line}", flush=True)

    async def wait_hass(self, client: HaClient) -> None:
        deadline = time.monotonic() + HA_START_TIMEOUT
        while not await client.is_up():
            if self.hass_child is None or not self.hass_child.running:
                raise RuntimeError(
                    f"Home Assistant exited; see {self.hass_child and self.hass_child.log_path}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"Home Assistant did not answer within {HA_START_TIMEOUT:.0f} s")
            await asyncio.sleep(0.5)

    async def close(self) -> None:
        """Home Assistant first (it flushes the Redis outputs), then the simulators, then Redis."""
        for server in self.closing:
            server.close()
        self.control_path.unlink(missing_ok=True)
        if self.hass_child is not None:
            await self.hass_child.stop(timeout=STOP_TIMEOUT)
        await asyncio.gather(*(child.stop() for child in self.children if child is not self.redis_child))
        if self.redis_child is not None:
            await self.redis_child.stop()


def print_banner(info: StackInfo, out: TextIO) -> None:
    width = max(len(name) for name in info.ports) if info.ports else 8
    lines = [
        "",
        "VE Monitor development stack",
        f"  Home Assistant   {info.ha_url}   (login: {info.username} / {info.password})",
        f"  configuration    {info.config_dir}   (log: {info.config_dir}/home-assistant.log)",
        f"  Redis            redis://{info.redis.host}:{info.redis.port}/{info.redis.db}"
        + (f"   (embedded, data in {info.redis_dir})" if info.embedded_redis else ""),
        "  simulated VE.Direct devices (type the path in the port field):",
        *(f"    {name:<{width}}  {path}" for name, path in info.ports.items()),
        f"  watch Redis      {info.redis.cli_hint()}",
        "  faults           scripts/develop ctl status | stop|start|restart|kill|pause|resume NAME"
        " | garbage|replug SIMULATOR",
        "  HEX registers    scripts/develop ctl registers SIMULATOR   (what the device holds, as JSON)",
        f"                   (NAME: {', '.join(['redis', 'hass', *info.ports])})",
        "  stop             Ctrl-C",
        "",
    ]
    out.write("\n".join(lines) + "\n")
    out.flush()


async def run_stack(stack: Stack, started: float) -> int:
    args = stack.args
    stack.prepare_config()
    ha_url = f"http://127.0.0.1:{stack.ha_port}"
    control = await serve_control(stack, stack.control_path)
    stack.closing.append(control)
    redis_target, ports = await asyncio.gather(stack.start_redis(), stack.start_simulators())
    say(f"Redis and {len(ports)} simulators up after {time.monotonic() - started:.1f} s")
    await stack.start_hass()
    async with HaClient(ha_url) as client:
        await stack.wait_hass(client)
        created = await client.onboard(name=HA_NAME, username=HA_USERNAME, password=HA_PASSWORD)
        say(
            f"Home Assistant up after {time.monotonic() - started:.1f} s"
            + (" (onboarding done, user created)" if created else "")
        )
        if DOMAIN not in await client.flow_handlers():
            raise RuntimeError("Home Assistant does not offer the VE Monitor integration: see its log")
        info = StackInfo(
            ha_url=ha_url,
            username=HA_USERNAME,
            password=HA_PASSWORD,
            config_dir=str(stack.config_dir),
            redis=redis_target,
            embedded_redis=args.redis is None,
            redis_dir=str(stack.workdir / "redis"),
            ports=ports,
            hex_states={
                name: str(stack.hex_state_path(name))
                for name in ports
                if stack.hex_state_path(name).is_file()
            },
            access_token=client.token,
            devices=stack.devices,
            control=str(stack.control_path),
        )
        stack.info = info
        if args.demo:
            for line in await create_demo(client, redis_target.flow_input(), ports, stack.devices):
                say(f"demo: added {line}")
            live = await wait_live(client, LIVE_TIMEOUT, stack.devices)
            counts = ", ".join(f"{name}: {count}" for name, count in live.items())
            say(f"three devices live after {time.monotonic() - started:.1f} s (numeric sensors: {counts})")
            say(solar_day_summary(SolarDayConfig()))
            if energy := await configure_energy(client):
                say(f"demo: {energy}")
            dashboard = await client.post("/api/services/vemonitor/create_dashboard?return_response", {})
            say(f"demo: dashboard {dashboard['service_response']['url']} ready")
        print_banner(info, sys.stdout)
        say(f"errors logged by Home Assistant so far: {stack.startup_errors}")
        if args.state_file is not None:
            args.state_file.write_text(info.to_json())
    if args.then:
        then = Child("test", args.then, stack.logs / "test.log")
        stack.children.append(then)
        await then.start("terminal")
        assert then.process is not None
        status = await then.process.wait()
        say(f"errors logged by Home Assistant: {stack.startup_errors}")
        if args.strict_log and stack.startup_errors:
            say(f"failed: Home Assistant logged errors (see {stack.config_dir}/home-assistant.log)")
            return status or 1
        return status
    return await watch(stack)


def solar_day_summary(day: SolarDayConfig) -> str:
    """What `--demo`'s devices do, for the person who started them."""

    def clock(hour: float) -> str:
        return f"{int(hour):02d}:{round(hour % 1 * 60):02d}"

    return (
        f"demo: the three devices are one solar system living a day every {day.day_length / 60:g} min, from "
        f"{clock(day.start)} (sunrise {clock(day.sunrise)}, sunset {clock(day.sunset)}): panel power by day, "
        "the battery charging from it, the inverter's load, the BMV's low-voltage alarm at night now and then"
    )


async def watch(stack: Stack) -> int:
    """Run until stopped from outside. A process that exits is told once; the rest keeps running, so that
    "Redis went away" or "the device fell silent" can be tried by hand (`scripts/develop ctl`)."""
    while True:
        for child in stack.children:
            if not child.running and not child.reported:
                child.reported = True
                say(
                    f"{child.name} exited with status {child.process and child.process.returncode}; the rest "
                    f"keeps running (start it again: scripts/develop ctl start {child.key})"
                )
        await asyncio.sleep(1.0)


async def main_async(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if args.pid_file is not None:
        args.pid_file.write_text(f"{os.getpid()}\n")
    # --demo: the devices are one solar system, its day starting now (tests/e2e/demo.py).
    stack = Stack(args, solar_day_devices(time.time()) if args.demo else DEVICES)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    main = asyncio.create_task(run_stack(stack, started))
    stopped = asyncio.create_task(stop.wait())
    status = 130
    try:
        await asyncio.wait({main, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if main.done():
            status = main.result()
        else:
            say("stopping")
            main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await main
    except Exception as err:  # a person reads this, not a traceback
        say(f"error: {err}")
        status = 1
    finally:
        stopped.cancel()
        await stack.close()
        say(f"stopped; everything it started has exited (logs in {stack.logs})")
    return status


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/develop", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--demo",
        action="store_true",
        help="simulate a solar day (a day in 10 minutes) with the three devices; add a Redis server, the "
        "devices and outputs",
    )
    parser.add_argument(
        "--redis", type=RedisTarget.from_url, metavar="URL", help="use this Redis, not one of ours"
    )
    parser.add_argument("--workdir", type=Path, default=REPO / ".develop", help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, default=REPO / "config", help=argparse.SUPPRESS)
    parser.add_argument("--ha-port", type=int, default=DEFAULT_HA_PORT, help=argparse.SUPPRESS)  # 0: any
    parser.add_argument("--state-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pid-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--quiet", action="store_true", help="do not echo Home Assistant's warnings and errors"
    )
    # The browser test: fail when Home Assistant logged an error.
    parser.add_argument("--strict-log", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("then", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.then and args.then[0] == "--":
        args.then = args.then[1:]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
