"""`scripts/develop ctl`: the development stack's processes stopped, started, paused and disturbed one at a
time over its control socket, the rest running on (real simulator processes, a real Unix socket)."""

import asyncio
from collections.abc import AsyncIterator, Callable
import json
from pathlib import Path

import pytest
import pytest_socket

from tests.e2e.control import request, serve_control
from tests.e2e.demo import SimulatedDevice
from tests.e2e.devstack import Stack, parse_args


def _device(name: str, kind: str, workdir: Path) -> SimulatedDevice:
    log = workdir / f"{name}.sent.jsonl"
    return SimulatedDevice(
        name=name,
        description=kind,
        simulate_args=("--device", kind, "--seed", "1", "--sent-log", str(log), "--replug-delay", "0.5"),
        redis_node=name,
        columns={name: ("V",)},
    )


@pytest.fixture
async def stack(tmp_path: Path, socket_enabled: None) -> AsyncIterator[Stack]:
    # Home Assistant's test plugin allows loopback TCP only; the control socket is a Unix one.
    pytest_socket.socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)
    args = parse_args(["--workdir", str(tmp_path), "--config", str(tmp_path / "config"), "--ha-port", "0"])
    devices = [_device("mppt", "mppt", tmp_path), _device("bmv", "bmv", tmp_path)]
    running = Stack(args, devices=devices)
    server = await serve_control(running, running.control_path)
    running.closing.append(server)
    await running.start_simulators()
    yield running
    await running.close()


async def _ctl(stack: Stack, *words: str) -> tuple[bool, list[str]]:
    return await request(stack.control_path, words)


def _sent(stack: Stack, name: str) -> list[dict[str, object]]:
    path = stack.workdir / f"{name}.sent.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


async def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def test_status_lists_every_process(stack: Stack) -> None:
    ok, lines = await _ctl(stack, "status")
    assert ok
    assert [line.split()[0] for line in lines] == ["mppt", "bmv"]
    assert all(" running (pid " in line for line in lines)


async def test_a_stopped_simulator_leaves_the_other_running_and_starts_again(stack: Stack) -> None:
    link = stack.workdir / "dev" / "ttyVE-mppt"
    ok, lines = await _ctl(stack, "stop", "mppt")
    assert ok
    assert lines[0].startswith("mppt         exited")
    assert stack.child("bmv").running
    ok, lines = await _ctl(stack, "start", "mppt")
    assert ok
    assert "running" in lines[0]
    assert link.is_symlink()
    assert link.readlink().exists()


async def test_pause_silences_a_device_until_resumed(stack: Stack) -> None:
    await _wait_for(lambda: len(_sent(stack, "bmv")) >= 1)
    ok, lines = await _ctl(stack, "pause", "bmv")
    assert ok
    assert "paused" in lines[0]
    count = len(_sent(stack, "bmv"))
    await asyncio.sleep(1.5)
    assert len(_sent(stack, "bmv")) == count  # silent: nothing sent while stopped
    ok, lines = await _ctl(stack, "resume", "bmv")
    assert ok
    assert "running" in lines[0]
    await _wait_for(lambda: len(_sent(stack, "bmv")) > count)


async def test_garbage_and_replug_reach_the_simulator(stack: Stack) -> None:
    await _wait_for(lambda: len(_sent(stack, "mppt")) >= 1)
    link = stack.workdir / "dev" / "ttyVE-mppt"
    assert (await _ctl(stack, "garbage", "mppt"))[0]
    await _wait_for(lambda: any(len(str(e.get("data", ""))) == 64 for e in _sent(stack, "mppt")))
    assert (await _ctl(stack, "replug", "mppt"))[0]
    await _wait_for(
        lambda: [e.get("event") for e in _sent(stack, "mppt") if "event" in e] == ["unplugged", "plugged"]
    )
    assert link.is_symlink()
    assert stack.child("mppt").running  # the same process: a new pty behind the same link


async def test_kill_and_bad_requests(stack: Stack) -> None:
    ok, lines = await _ctl(stack, "kill", "bmv")
    assert ok
    await _wait_for(lambda: not stack.child("bmv").running)
    ok, lines = await _ctl(stack, "status")
    assert "bmv          exited (-9)" in lines
    ok, lines = await _ctl(stack, "pause", "bmv")
    assert not ok
    assert lines == ["error: bmv is not running"]
    ok, lines = await _ctl(stack, "stop", "nothing")
    assert not ok
    assert lines[0].startswith("error: no 'nothing' in this stack (it has: mppt, bmv")
    ok, lines = await _ctl(stack, "explode", "mppt")
    assert not ok
    assert lines == ["error: unknown action 'explode'"]


async def test_registers_prints_the_simulators_hex_state(stack: Stack) -> None:
    await _wait_for(lambda: stack.hex_state_path("mppt").is_file())
    ok, lines = await _ctl(stack, "registers", "mppt")
    assert ok
    state = json.loads("\n".join(lines))
    assert state["family"] == "mppt"
    assert state["registers"]["0xEDAB"]["key"] == "load_output_control"
    ok, lines = await _ctl(stack, "registers", "bmv")
    assert ok
    assert json.loads("\n".join(lines))["registers"]["0x1000"]["value"] == 200
    stack.hex_state_path("bmv").unlink()
    ok, lines = await _ctl(stack, "registers", "bmv")
    assert not ok
    assert lines == ["error: bmv keeps no HEX registers (a text-only device, or not started yet)"]
