"""VeDirectClient and probe() against the simulator, through real pseudo-terminals and real TCP sockets."""

import asyncio
from pathlib import Path

import pytest
import serialx

from custom_components.vemonitor.vedirect.client import (
    LinkState,
    NoDataError,
    PortOpenError,
    VeDirectClient,
    open_port,
    probe,
)
from custom_components.vemonitor.vedirect.codes import ChargeState
from custom_components.vemonitor.vedirect.device import DeviceFrame
from tests.vedirect_sim import WAIT, Recorder, fast_client, running_client, running_simulator
from vedirect_tools.simulator import Faults, Simulator

pytestmark = pytest.mark.usefixtures("socket_enabled")

BMV_MAIN = ["PID", "V", "VS", "I", "P", "CE", "SOC", "TTG", "Alarm", "Relay", "AR", "BMV", "FW", "MON"]
BMV_HISTORY = [f"H{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 17, 18)]


async def wait_until(condition: object, timeout: float = WAIT) -> None:
    """Poll a condition that no callback reports (counters); bounded, never a timing assertion."""
    assert callable(condition)
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def port_open(client: VeDirectClient) -> bool:
    """Read through a call, so that mypy does not pin the property across awaits."""
    return client.is_port_open


async def assert_port_released(url: str) -> None:
    """serialx opens ports exclusively: opening again proves the client closed its descriptor."""
    _, writer = await serialx.open_serial_connection(url=url, baudrate=19200)
    writer.close()
    await writer.wait_closed()


async def test_pty_frames_merge_bmv_main_and_history(pty_simulator: Simulator) -> None:
    assert pty_simulator.url is not None
    recorder = Recorder()
    client = fast_client(pty_simulator.url, recorder)
    async with running_client(client):
        await recorder.wait_for(lambda: any({"PID", "H18"} <= set(frame.fields) for frame in recorder.frames))
        frame = recorder.frames[-1]
        assert set(frame.fields) == {*BMV_MAIN, *BMV_HISTORY}
        assert frame.product_id == 0xA381
        assert frame.product_name is not None
        assert "BMV-712" in frame.product_name
        assert isinstance(frame.values["V"], float)
        assert 10.0 < frame.values["V"] < 16.0
        assert client.last_raw is not None
        assert client.last_raw.startswith(b"\r\n")
        assert client.link_state is LinkState.CONNECTED
        assert port_open(client)
    assert recorder.states == [LinkState.CONNECTED, LinkState.DISCONNECTED]
    assert not port_open(client)
    assert client.stats.valid_blocks >= 2
    assert client.stats.invalid_blocks == 0
    await assert_port_released(pty_simulator.url)


async def test_frames_are_snapshots(pty_simulator: Simulator) -> None:
    """Each frame handed over is a copy: later blocks must not change what a consumer already holds."""
    assert pty_simulator.url is not None
    recorder = Recorder()
    async with running_client(fast_client(pty_simulator.url, recorder)):
        await recorder.wait_frames(6)
    first = recorder.frames[0]
    assert first.blocks == 1
    assert [frame.blocks for frame in recorder.frames[:6]] == [1, 2, 3, 4, 5, 6]
    assert set(first.fields) in ({*BMV_MAIN}, {*BMV_HISTORY})


async def test_tcp_frames(tcp_simulator: Simulator) -> None:
    assert tcp_simulator.url is not None
    assert tcp_simulator.url.startswith("socket://127.0.0.1:")
    recorder = Recorder()
    client = fast_client(tcp_simulator.url, recorder)
    async with running_client(client):
        await recorder.wait_frames(3)
        frame = recorder.frames[-1]
        assert frame.serial_number == "HQ2132QXH4K"
        assert frame.product_id == 0xA05F
        assert frame.firmware is not None
        assert isinstance(frame.values["CS"], ChargeState)
        assert tcp_simulator.tcp_clients == 1
    assert recorder.states == [LinkState.CONNECTED, LinkState.DISCONNECTED]
    await wait_until(lambda: tcp_simulator.tcp_clients == 0)


async def test_pty_restart_is_survived(tmp_path: Path) -> None:
    """Closing the pty master (device unplugged) and serving a new one at the same link path."""
    link = tmp_path / "by-id-victron"
    async with running_simulator("bmv", pty_link=link) as sim:
        recorder = Recorder()
        client = fast_client(str(link), recorder)
        async with running_client(client):
            await recorder.wait_frames(3)
            await sim.stop()
            assert not link.exists()
            await recorder.wait_state(LinkState.DISCONNECTED)
            failed = client.failed_opens
            await wait_until(lambda: client.failed_opens >= failed + 3)
            await sim.start()
            await recorder.wait_state(LinkState.CONNECTED)
            count = len(recorder.frames)
            await recorder.wait_frames(3)
            assert len(recorder.frames) > count
            assert client.connections == 2
        assert recorder.states == [
            LinkState.CONNECTED,
            LinkState.DISCONNECTED,
            LinkState.CONNECTED,
            LinkState.DISCONNECTED,
        ]
        assert client.stats.valid_blocks == len(recorder.frames)


async def test_tcp_restart_on_same_port_is_survived() -> None:
    async with running_simulator("mppt", tcp=True) as sim:
        url = sim.url
        assert url is not None
        recorder = Recorder()
        client = fast_client(url, recorder)
        async with running_client(client):
            await recorder.wait_frames(3)
            await sim.stop()
            await recorder.wait_state(LinkState.DISCONNECTED)
            failed = client.failed_opens
            await wait_until(lambda: client.failed_opens >= failed + 3)
            assert await sim.start() == url
            await recorder.wait_state(LinkState.CONNECTED)
            await recorder.wait_frames(3)
        assert recorder.states == [
            LinkState.CONNECTED,
            LinkState.DISCONNECTED,
            LinkState.CONNECTED,
            LinkState.DISCONNECTED,
        ]


async def test_stall_is_reported_once_and_recovers(pty_simulator: Simulator) -> None:
    assert pty_simulator.url is not None
    recorder = Recorder()
    client = fast_client(pty_simulator.url, recorder, stall_timeout=0.5)
    async with running_client(client):
        await recorder.wait_frames(2)
        pty_simulator.pause()
        await recorder.wait_state(LinkState.STALLED)
        pty_simulator.resume()
        await recorder.wait_state(LinkState.CONNECTED)
    assert recorder.states == [
        LinkState.CONNECTED,
        LinkState.STALLED,
        LinkState.CONNECTED,
        LinkState.DISCONNECTED,
    ]


async def test_long_stall_reopens_the_port_without_new_reports(tcp_simulator: Simulator) -> None:
    """A half-open bridge heals by reopening; the consumer keeps seeing one 'stalled' until data flows."""
    assert tcp_simulator.url is not None
    recorder = Recorder()
    client = fast_client(tcp_simulator.url, recorder, stall_timeout=0.5, stall_reopen_timeout=0.2)
    async with running_client(client):
        await recorder.wait_frames(2)
        tcp_simulator.pause()
        await recorder.wait_state(LinkState.STALLED)
        await wait_until(lambda: client.connections >= 3)
        assert recorder.states == [LinkState.CONNECTED, LinkState.STALLED]
        tcp_simulator.resume()
        await recorder.wait_state(LinkState.CONNECTED)
    assert recorder.states == [
        LinkState.CONNECTED,
        LinkState.STALLED,
        LinkState.CONNECTED,
        LinkState.DISCONNECTED,
    ]


async def test_silent_port_goes_from_open_to_stalled(tmp_path: Path) -> None:
    link = tmp_path / "tty"
    sim = Simulator.for_device("mppt", rate=50, pty_link=link)
    sim.pause()
    async with sim:
        recorder = Recorder()
        async with running_client(fast_client(str(link), recorder, stall_timeout=0.1)):
            await recorder.wait_state(LinkState.STALLED)
    assert recorder.states == [LinkState.STALLED, LinkState.DISCONNECTED]
    assert recorder.frames == []


async def test_missing_port_is_reported_once(tmp_path: Path) -> None:
    recorder = Recorder()
    client = fast_client(str(tmp_path / "nothing-here"), recorder)
    async with running_client(client):
        await recorder.wait_state(LinkState.DISCONNECTED)
        await wait_until(lambda: client.failed_opens >= 4)
    assert recorder.states == [LinkState.DISCONNECTED]
    assert client.connections == 0


async def test_stop_leaves_no_task_and_closes_the_port(pty_simulator: Simulator) -> None:
    assert pty_simulator.url is not None
    before = asyncio.all_tasks()
    recorder = Recorder()
    client = fast_client(pty_simulator.url, recorder)
    task = asyncio.create_task(client.run())
    await recorder.wait_frames(2)
    await client.stop()
    assert task.done()
    assert task.exception() is None
    assert not port_open(client)
    assert asyncio.all_tasks() <= before
    await assert_port_released(pty_simulator.url)
    await client.stop()  # idempotent


async def test_cancelling_run_closes_the_port(tcp_simulator: Simulator) -> None:
    assert tcp_simulator.url is not None
    recorder = Recorder()
    client = fast_client(tcp_simulator.url, recorder)
    task = asyncio.create_task(client.run())
    await recorder.wait_frames(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not port_open(client)
    assert recorder.states[-1] is LinkState.DISCONNECTED
    await wait_until(lambda: tcp_simulator.tcp_clients == 0)


async def test_run_twice_is_refused(tcp_simulator: Simulator) -> None:
    assert tcp_simulator.url is not None
    recorder = Recorder()
    client = fast_client(tcp_simulator.url, recorder)
    async with running_client(client):
        await recorder.wait_frames(1)
        with pytest.raises(RuntimeError):
            await client.run()


async def test_faults_move_counters_while_frames_arrive(tmp_path: Path) -> None:
    faults = Faults(bad_checksum=0.3, garbage=0.5, drop=0.2, hex_interleave=0.5)
    async with running_simulator("bmv", faults=faults, pty_link=tmp_path / "tty", seed=7) as sim:
        assert sim.url is not None
        recorder = Recorder()
        client = fast_client(sim.url, recorder)
        async with running_client(client):
            await recorder.wait_for(
                lambda: (
                    client.stats.invalid_blocks >= 2
                    and client.stats.hex_frames >= 2
                    and len(recorder.frames) >= 10
                )
            )
    stats = client.stats
    assert stats.discarded_bytes > 0
    assert stats.valid_blocks == len(recorder.frames)
    assert recorder.states == [LinkState.CONNECTED, LinkState.DISCONNECTED]


async def test_consumer_errors_do_not_break_the_link(tcp_simulator: Simulator) -> None:
    assert tcp_simulator.url is not None
    states: list[LinkState] = []

    def broken_consumer(frame: DeviceFrame) -> None:
        raise ValueError("consumer bug")

    def broken_state_consumer(state: LinkState) -> None:
        states.append(state)
        raise ValueError("consumer bug")

    client = VeDirectClient(tcp_simulator.url, broken_consumer, broken_state_consumer, backoff_initial=0.01)
    async with running_client(client):
        await wait_until(lambda: client.frame.blocks >= 5)
    assert states == [LinkState.CONNECTED, LinkState.DISCONNECTED]


async def test_client_without_consumers(tcp_simulator: Simulator) -> None:
    assert tcp_simulator.url is not None
    client = VeDirectClient(tcp_simulator.url)
    async with running_client(client):
        await wait_until(lambda: client.frame.blocks >= 2)
    assert client.link_state is LinkState.DISCONNECTED


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        VeDirectClient("/dev/null", stall_timeout=0)
    with pytest.raises(ValueError):
        VeDirectClient("/dev/null", backoff_initial=5, backoff_max=1)
    with pytest.raises(ValueError):
        VeDirectClient("/dev/null", jitter=1.0)


async def test_probe_bmv_waits_for_both_blocks(pty_simulator: Simulator) -> None:
    assert pty_simulator.url is not None
    frame = await probe(pty_simulator.url, timeout=WAIT)
    assert {*BMV_MAIN, *BMV_HISTORY} <= set(frame.fields)
    assert frame.product_id == 0xA381
    await assert_port_released(pty_simulator.url)


async def test_probe_mppt_over_tcp(tcp_simulator: Simulator) -> None:
    assert tcp_simulator.url is not None
    frame = await probe(tcp_simulator.url, timeout=WAIT)
    assert frame.serial_number == "HQ2132QXH4K"
    assert frame.blocks == 2


async def test_probe_cannot_open(tmp_path: Path) -> None:
    with pytest.raises(PortOpenError):
        await probe(str(tmp_path / "missing"), timeout=1.0)
    with pytest.raises(PortOpenError):
        await probe("nosuchscheme://device", timeout=1.0)
    with pytest.raises(PortOpenError):
        await probe(str(tmp_path), timeout=1.0)  # a directory is no serial port


async def test_an_open_that_hangs_names_its_timeout() -> None:
    """An RFC 2217 server that accepts and never negotiates (a frozen ser2net): the open times out, and the
    error says so rather than ending on an empty message."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(PortOpenError, match=r"^cannot open rfc2217://127\.0\.0\.1:\d+: TimeoutError$"):
            await open_port(f"rfc2217://127.0.0.1:{port}", open_timeout=0.3)
    finally:
        server.close()
        await server.wait_closed()


async def test_probe_no_data(tmp_path: Path) -> None:
    sim = Simulator.for_device("bmv", pty_link=tmp_path / "tty")
    sim.pause()
    async with sim:
        assert sim.url is not None
        with pytest.raises(NoDataError):
            await probe(sim.url, timeout=0.3)
        sim.inject(b"\r\nPID\t0xA381\r\nChecksum\t\x00 not VE.Direct at all")
        with pytest.raises(NoDataError):
            await probe(sim.url, timeout=0.3)


async def test_probe_returns_a_lone_block_at_eof() -> None:
    """A source that sends one block and hangs up still identifies the device."""
    block = Simulator.for_device("inverter", seed=1).source.next_emission()
    assert block is not None

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"".join(block))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        frame = await probe(f"socket://127.0.0.1:{port}", timeout=WAIT)
    finally:
        server.close()
        await server.wait_closed()
    assert frame.product_id == 0xA261
    assert frame.blocks == 1
