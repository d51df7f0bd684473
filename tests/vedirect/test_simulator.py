"""The simulator: block encoding, capture replay, synthesised devices, faults, pty and TCP outputs."""

import asyncio
import os
from pathlib import Path
import random

import pytest
import serialx

from custom_components.vemonitor.vedirect.framing import FrameParser, TextBlock
from custom_components.vemonitor.vedirect.hexproto import HexFrame
from tests.vedirect_sim import CAPTURES, WAIT
from vedirect_tools.simulator import (
    DEVICE_KINDS,
    CaptureSource,
    Faults,
    Simulator,
    apply_faults,
    encode_block,
    split_capture,
    synthetic_device,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

WIRE_ORDER = {
    "mppt": [
        [
            *("PID", "FW", "SER#", "V", "I", "VPV", "PPV", "CS", "MPPT", "OR", "ERR", "LOAD", "IL"),
            *("H19", "H20", "H21", "H22", "H23", "HSDS"),
        ]
    ],
    "bmv": [
        ["PID", "V", "VS", "I", "P", "CE", "SOC", "TTG", "Alarm", "Relay", "AR", "BMV", "FW", "MON"],
        [f"H{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 17, 18)],
    ],
    "inverter": [
        ["PID", "FW", "SER#", "MODE", "CS", "AC_OUT_V", "AC_OUT_I", "AC_OUT_S", "V", "AR", "WARN", "OR"]
    ],
}


def parse(data: bytes) -> tuple[list[TextBlock], list[HexFrame], FrameParser]:
    parser = FrameParser()
    events = parser.feed(data)
    blocks = [event for event in events if isinstance(event, TextBlock) and event.valid]
    frames = [event for event in events if isinstance(event, HexFrame)]
    return blocks, frames, parser


def test_encode_block_has_a_valid_checksum() -> None:
    data = encode_block([("PID", "0xA042"), ("V", "13370"), ("SER#", "caf\xe9")])
    assert data.startswith(b"\r\nPID\t0xA042\r\nV\t13370\r\nSER#\tcaf\xe9\r\nChecksum\t")
    assert sum(data) % 256 == 0
    blocks, _, _ = parse(data + encode_block([("PID", "0xA042"), ("SER#", "cafe")]))
    # The parser takes printable ASCII text only: the latin-1 block sums right, yet is no valid block.
    assert [block.fields for block in blocks] == [{"PID": "0xA042", "SER#": "cafe"}]


@pytest.mark.parametrize(
    "path", sorted(p for p in CAPTURES.iterdir() if p.suffix != ".md"), ids=lambda p: p.name
)
def test_capture_split_is_byte_exact(path: Path) -> None:
    data = path.read_bytes()
    emissions = split_capture(data)
    assert b"".join(b"".join(emission) for emission in emissions) == data
    source = CaptureSource(data)
    replayed = []
    while (emission := source.next_emission()) is not None:
        replayed.append(b"".join(emission))
    assert b"".join(replayed) == data


def test_bmv_capture_groups_main_and_history_blocks() -> None:
    emissions = split_capture((CAPTURES / "bmv-712_fw0403_a.log").read_bytes())
    assert 1480 <= len(emissions) <= 1490  # 2967 blocks, two per emission
    for emission in emissions[1:-1]:
        assert len(emission) == 2
        assert sum(b"\nPID\t" in chunk for chunk in emission) == 1


def test_mppt_capture_is_one_block_per_emission() -> None:
    emissions = split_capture((CAPTURES / "bluesolar-mppt-75-15_fw150.log").read_bytes())
    assert len(emissions) == 1057
    assert all(len(emission) == 1 for emission in emissions)


def test_capture_loop_wraps_around() -> None:
    source = CaptureSource.from_file(CAPTURES / "smartshunt-500a_fw0405.bin", loop=True)
    first = [source.next_emission() for _ in range(len(source.emissions))]
    assert source.next_emission() == first[0]
    assert CaptureSource(b"", loop=True).next_emission() is None


@pytest.mark.parametrize("kind", DEVICE_KINDS)
def test_synthetic_devices_send_real_label_sets_in_wire_order(kind: str) -> None:
    device = synthetic_device(kind, seed=3)  # type: ignore[arg-type]
    emissions = [device.next_emission() for _ in range(40)]
    blocks, _, parser = parse(b"".join(b"".join(emission) for emission in emissions))
    assert parser.stats.invalid_blocks == 0
    assert parser.stats.discarded_bytes == 0
    expected = WIRE_ORDER[kind]
    assert len(blocks) == 40 * len(expected)
    for index, block in enumerate(blocks):
        assert list(block.fields) == expected[index % len(expected)]
    # Values move like measurements do.
    assert len({block.fields["V"] for block in blocks if "V" in block.fields}) > 5


@pytest.mark.parametrize("kind", DEVICE_KINDS)
def test_same_seed_same_values(kind: str) -> None:
    one = synthetic_device(kind, seed=11)  # type: ignore[arg-type]
    two = synthetic_device(kind, seed=11)  # type: ignore[arg-type]
    assert [one.next_emission() for _ in range(20)] == [two.next_emission() for _ in range(20)]


def test_mppt_values_stay_plausible() -> None:
    device = synthetic_device("mppt", seed=5)
    blocks, _, _ = parse(b"".join(b"".join(device.next_emission()) for _ in range(2000)))
    states = set()
    for block in blocks:
        assert 11_000 <= int(block.fields["V"]) <= 15_500
        assert 0 <= int(block.fields["PPV"]) <= 290
        assert int(block.fields["H21"]) >= int(block.fields["PPV"])
        states.add(block.fields["CS"])
    assert len(states) >= 2


def test_faults_are_validated() -> None:
    with pytest.raises(ValueError):
        Faults(drop=1.5)
    with pytest.raises(ValueError):
        Faults(garbage=-0.1)


def fault_stats(faults: Faults, emissions: int = 300) -> tuple[int, int, FrameParser]:
    device = synthetic_device("bmv", seed=1)
    rng = random.Random(2)
    data = b"".join(apply_faults(device.next_emission(), faults, rng) for _ in range(emissions))
    blocks, frames, parser = parse(data)
    return len(blocks), len(frames), parser


def test_no_faults_means_clean_stream() -> None:
    valid, frames, parser = fault_stats(Faults())
    assert (valid, frames, parser.stats.invalid_blocks, parser.stats.discarded_bytes) == (600, 0, 0, 0)


def test_bad_checksum_fault() -> None:
    valid, _, parser = fault_stats(Faults(bad_checksum=0.2))
    assert parser.stats.invalid_blocks > 60
    assert 360 < valid < 540
    assert valid + parser.stats.invalid_blocks + (parser.stats.discarded_bytes > 0) == 600


def test_every_checksum_bad() -> None:
    valid, _, parser = fault_stats(Faults(bad_checksum=1.0), emissions=20)
    assert valid == 0
    assert parser.stats.invalid_blocks == 39  # the first block, not yet in sync, counts as discarded bytes


def test_garbage_fault() -> None:
    valid, _, parser = fault_stats(Faults(garbage=0.5))
    assert valid == 600
    assert parser.stats.discarded_bytes > 150


def test_drop_fault() -> None:
    valid, _, parser = fault_stats(Faults(drop=0.25))
    assert 350 < valid < 550
    assert parser.stats.invalid_blocks == 0
    nothing, _, _ = fault_stats(Faults(drop=1.0), emissions=10)
    assert nothing == 0


def test_hex_interleave_fault() -> None:
    valid, frames, parser = fault_stats(Faults(hex_interleave=0.5))
    assert valid == 600
    assert 100 < frames < 200
    assert parser.stats.hex_frames == frames
    assert parser.stats.invalid_hex_frames == 0


def test_capture_faults_corrupt_the_checksum_byte_only() -> None:
    source = CaptureSource.from_file(CAPTURES / "smartsolar-100-15_fw164.bin")
    rng = random.Random(0)
    clean = b"".join(
        b"".join(e) for e in split_capture((CAPTURES / "smartsolar-100-15_fw164.bin").read_bytes())
    )
    faulty = b""
    while (emission := source.next_emission()) is not None:
        faulty += apply_faults(emission, Faults(bad_checksum=1.0), rng)
    assert len(faulty) == len(clean)
    assert sum(a != b for a, b in zip(faulty, clean, strict=True)) == 12


def test_simulator_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        Simulator(synthetic_device("bmv"), rate=0)


async def read_until(reader: asyncio.StreamReader, size: int) -> bytes:
    data = b""
    async with asyncio.timeout(WAIT):
        while len(data) < size:
            chunk = await reader.read(65536)
            assert chunk, "EOF before the whole capture arrived"
            data += chunk
    return data


async def test_tcp_replay_is_byte_exact() -> None:
    data = (CAPTURES / "bluesolar-mppt-75-15_fw150.log").read_bytes()
    sim = Simulator(CaptureSource(data), rate=5000, tcp=("127.0.0.1", 0))
    sim.pause()  # connect first, so that the client gets the stream from its first byte
    async with sim:
        assert sim.url is not None
        reader, writer = await serialx.open_serial_connection(url=sim.url, baudrate=19200)
        async with asyncio.timeout(WAIT):
            while sim.tcp_clients < 1:
                await asyncio.sleep(0.01)
        sim.resume()
        received = await read_until(reader, len(data))
        await asyncio.wait_for(sim.finished.wait(), WAIT)
        writer.close()
        await writer.wait_closed()
    assert received == data
    assert sim.bytes_sent == len(data)
    assert sim.emissions_sent == 1057


async def test_pty_replay_is_byte_exact(tmp_path: Path) -> None:
    data = (CAPTURES / "smartsolar-100-15_fw164.bin").read_bytes()
    sim = Simulator(CaptureSource(data), rate=200, pty_link=tmp_path / "tty")
    sim.pause()
    async with sim:
        assert sim.url == str(tmp_path / "tty")
        reader, writer = await serialx.open_serial_connection(url=sim.url, baudrate=19200)
        sim.resume()
        received = await read_until(reader, len(data))
        writer.close()
        await writer.wait_closed()
    assert received == data


async def test_pty_survives_client_reopen(pty_simulator: Simulator) -> None:
    assert pty_simulator.url is not None
    for _ in range(3):
        reader, writer = await serialx.open_serial_connection(url=pty_simulator.url, baudrate=19200)
        parser = FrameParser()
        async with asyncio.timeout(WAIT):
            while parser.stats.valid_blocks < 4:
                parser.feed(await reader.read(4096))
        writer.close()
        await writer.wait_closed()


async def test_pty_without_reader_drops_old_bytes(tmp_path: Path) -> None:
    """Bytes nobody reads are lost, as on a serial line: a late reader gets a bounded backlog."""
    sim = Simulator.for_device("mppt", rate=2000, pty_link=tmp_path / "tty")
    async with sim:
        async with asyncio.timeout(WAIT):
            while sim.bytes_sent < 100_000:
                await asyncio.sleep(0.01)
        sim.pause()
        assert sim.url is not None
        fd = os.open(sim.url, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        try:
            backlog = b""
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                backlog += chunk
        finally:
            os.close(fd)
    assert 0 < len(backlog) < 20_000


async def test_stop_start_makes_a_new_pty_behind_the_link(tmp_path: Path) -> None:
    link = tmp_path / "serial-by-id"
    sim = Simulator.for_device("inverter", rate=50, pty_link=link)
    await sim.start()
    assert sim.is_running
    assert link.is_symlink()
    with pytest.raises(RuntimeError):
        await sim.start()
    await sim.stop()
    assert not link.exists()
    assert not link.is_symlink()
    await sim.stop()  # idempotent
    sim.inject(b"nobody listens")  # a closed output swallows bytes
    await sim.start()
    assert link.is_symlink()
    await sim.stop()


async def test_pty_without_link_returns_the_slave_path() -> None:
    async with Simulator.for_device("bmv", rate=50) as sim:
        assert sim.url is not None
        assert sim.url.startswith("/dev/pts/")
        assert Path(sim.url).exists()


async def test_tcp_restart_keeps_the_port_and_serves_several_clients() -> None:
    sim = Simulator.for_device("bmv", rate=100, tcp=("127.0.0.1", 0))
    url = await sim.start()
    try:
        clients = [await serialx.open_serial_connection(url=url, baudrate=19200) for _ in range(2)]
        for reader, _ in clients:
            parser = FrameParser()
            async with asyncio.timeout(WAIT):
                while parser.stats.valid_blocks < 2:
                    parser.feed(await reader.read(4096))
        await sim.stop()
        for reader, writer in clients:
            async with asyncio.timeout(WAIT):
                while await reader.read(4096):
                    pass
            writer.close()
            await writer.wait_closed()
        assert await sim.start() == url
    finally:
        await sim.stop()


async def test_inject_sends_raw_bytes(tcp_simulator: Simulator) -> None:
    assert tcp_simulator.url is not None
    tcp_simulator.pause()
    reader, writer = await serialx.open_serial_connection(url=tcp_simulator.url, baudrate=19200)
    async with asyncio.timeout(WAIT):
        while tcp_simulator.tcp_clients < 1:
            await asyncio.sleep(0.01)
    tcp_simulator.inject(b"hello")
    assert await read_until(reader, 5) == b"hello"
    writer.close()
    await writer.wait_closed()
