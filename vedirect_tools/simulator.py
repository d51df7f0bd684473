"""A VE.Direct device on a pseudo-terminal or a TCP listener, for tests, benchmarks and development.

The simulator replays a capture byte for byte (junk and HEX frames included) or synthesises an MPPT, a BMV or
a Phoenix inverter with plausible, changing values. Each *emission* is what a device sends in one period
(a BMV sends its main and history blocks together); emissions are paced at ``rate`` per second. Faults are
injected with a probability each: corrupted checksums, garbage between blocks, dropped blocks, HEX frames.

Outputs:

* a pseudo-terminal (``os.openpty``): clients open the slave path (optionally through a stable symlink, as
  ``/dev/serial/by-id`` gives). The simulator keeps its own slave descriptor open so that clients may close
  and reopen the port; bytes nobody reads are flushed, as they are lost on a real serial line.
* a TCP listener for serialx ``socket://`` clients: every connected client gets the stream from the moment it
  connects. A restart listens on the same port again.

``stop()`` closes the output (clients see the port vanish) and ``start()`` opens it again; ``pause()`` keeps
the output open but silent (clients see a stalled link); ``replug()`` closes the output and opens a new one
after a delay (a cable unplugged and plugged back: a new pty behind the same link).

``sent_log``: a JSON line per write, flushed at once, so that a test can count what the device really sent
without trusting the code under test: ``{"t": <POSIX time after the write>, "data": "<hex of the bytes>"}``
per emission or injection, and ``{"t": ..., "event": "unplugged" | "plugged"}`` around a replug. Bytes
written while the output is closed, or flushed because nobody read them, are logged all the same (a real
device does not know either): the reader judges them by the time they were sent.
"""

import asyncio
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
import fcntl
import json
import logging
import os
from pathlib import Path
import random
import struct
import termios
import time
import tty
from typing import IO, Literal, Protocol, Self

from .protocol import hexproto

_LOGGER = logging.getLogger(__name__)

type DeviceKind = Literal["mppt", "bmv", "inverter"]
type Emission = list[bytes]
"""What a device sends in one period; each chunk ends with a checksum byte (a capture's last may not)."""

DEVICE_KINDS: tuple[DeviceKind, ...] = ("mppt", "bmv", "inverter")
_CHECKSUM_MARK = b"Checksum\t"
# Unread bytes left in a pty beyond this mean nobody is reading: flush them.
_PTY_BACKLOG_LIMIT = 4096
# A TCP client that lets this much pile up is too slow: skip it until it catches up.
_TCP_BACKLOG_LIMIT = 256 * 1024


def encode_block(fields: Sequence[tuple[str, str]]) -> bytes:
    """Encode one text block (``\\r\\nlabel\\tvalue`` ... ``\\r\\nChecksum\\t<byte>``) with its checksum."""
    body = b"".join(
        b"\r\n%s\t%s" % (label.encode("latin-1"), value.encode("latin-1")) for label, value in fields
    )
    body += b"\r\n" + _CHECKSUM_MARK
    return body + bytes([-sum(body) & 0xFF])


class EmissionSource(Protocol):
    """Anything that yields a device's emissions, one per period."""

    def next_emission(self) -> Emission | None:
        """Return the next emission, or None once the source is exhausted."""
        ...


def split_capture(data: bytes) -> list[Emission]:
    """Cut a capture after each checksum byte and group a BMV's main + history blocks into one emission.

    The concatenation of all chunks is ``data`` itself: whatever lies between blocks (junk, HEX frames) stays
    at the start of the next chunk. An emission holds at most one block with a PID and one without.
    """
    chunks: list[bytes] = []
    start = 0
    while (mark := data.find(_CHECKSUM_MARK, start)) >= 0 and mark + len(_CHECKSUM_MARK) < len(data):
        end = mark + len(_CHECKSUM_MARK) + 1
        chunks.append(data[start:end])
        start = end
    if start < len(data):
        chunks.append(data[start:])
    emissions: list[Emission] = []
    kinds: set[bool] = set()
    for chunk in chunks:
        has_pid = b"\nPID\t" in chunk
        if not emissions or has_pid in kinds:
            emissions.append([])
            kinds = set()
        emissions[-1].append(chunk)
        kinds.add(has_pid)
    return emissions


class CaptureSource:
    """Replays a capture byte for byte, once or in a loop."""

    def __init__(self, data: bytes, *, loop: bool = False) -> None:
        self.emissions = split_capture(data)
        self.loop = loop
        self._index = 0

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, loop: bool = False) -> Self:
        """Read a capture file (blocking: call it outside the event loop or in an executor)."""
        return cls(Path(path).read_bytes(), loop=loop)

    def next_emission(self) -> Emission | None:
        """Return the capture's next emission; wrap around when looping."""
        if self._index >= len(self.emissions):
            if not self.loop or not self.emissions:
                return None
            self._index = 0
        emission = self.emissions[self._index]
        self._index += 1
        return list(emission)


class _Walk:
    """A bounded random walk: values that drift like real measurements."""

    def __init__(self, rng: random.Random, low: float, high: float, start: float, step: float) -> None:
        self._rng = rng
        self.low, self.high, self.value, self.step = low, high, start, step

    def next(self) -> float:
        self.value = min(self.high, max(self.low, self.value + self._rng.uniform(-self.step, self.step)))
        return self.value


class SyntheticDevice:
    """Base of the synthesised devices: ``blocks()`` gives one emission's label/value lists, in wire order."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.tick = 0

    def next_emission(self) -> Emission:
        """Advance the device by one period and encode its blocks."""
        self.tick += 1
        return [encode_block(block) for block in self.blocks()]

    def blocks(self) -> list[list[tuple[str, str]]]:
        raise NotImplementedError


class MpptDevice(SyntheticDevice):
    """SmartSolar MPPT 100/20 (0xA05F) with a load output, charging a 12 V battery from a 290 W panel."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._sun = _Walk(rng, 0.0, 1.0, 0.6, 0.04)
        self._battery = _Walk(rng, 12.4, 14.4, 13.1, 0.02)
        self._load = _Walk(rng, 0.0, 4.0, 0.8, 0.1)
        self._yield_total = 61_400.0  # Wh
        self._yield_today = 0.0
        self._max_today = 0

    def blocks(self) -> list[list[tuple[str, str]]]:
        sun = self._sun.next()
        power = 0 if sun < 0.05 else round(290 * sun)
        battery_v = self._battery.next() + (0.3 if power else -0.2) * min(sun, 0.5)
        load_a = self._load.next()
        panel_v = 0.45 if power == 0 else 17.5 + 3.5 * sun
        charge_a = power * 0.97 / battery_v - load_a if power else -load_a
        self._yield_today += power / 3600
        self._yield_total += power / 3600
        self._max_today = max(self._max_today, power)
        if power == 0:
            cs, mppt, off_reason = 0, 0, 0x00000001
        elif battery_v < 14.1:
            cs, mppt, off_reason = 3, 2, 0
        else:
            cs, mppt, off_reason = (4 if self.tick % 600 < 300 else 5), 1, 0
        return [
            [
                ("PID", "0xA05F"),
                ("FW", "159"),
                ("SER#", "HQ2132QXH4K"),
                ("V", str(round(battery_v * 1000))),
                ("I", str(round(charge_a * 1000))),
                ("VPV", str(round(panel_v * 1000))),
                ("PPV", str(power)),
                ("CS", str(cs)),
                ("MPPT", str(mppt)),
                ("OR", f"0x{off_reason:08X}"),
                ("ERR", "0"),
                ("LOAD", "ON"),
                ("IL", str(round(load_a * 1000))),
                ("H19", str(round(self._yield_total / 10))),
                ("H20", str(round(self._yield_today / 10))),
                ("H21", str(self._max_today)),
                ("H22", "112"),
                ("H23", "268"),
                ("HSDS", "41"),
            ]
        ]


class BmvDevice(SyntheticDevice):
    """BMV-712 Smart (0xA381) on a 200 Ah battery with a starter battery on the aux input."""

    CAPACITY_AH = 200.0

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._current = _Walk(rng, -25.0, 12.0, -4.0, 0.6)
        self._starter = _Walk(rng, 12.5, 12.9, 12.7, 0.005)
        self._consumed_ah = -18.0
        self._deepest_ah = -96.4
        self._last_ah = -41.0
        self._drawn_ah = -8_412.0
        self._min_v, self._max_v = 11.9, 14.6
        self._discharged_kwh, self._charged_kwh = 101.2, 98.7

    def blocks(self) -> list[list[tuple[str, str]]]:
        current = self._current.next()
        self._consumed_ah = min(0.0, self._consumed_ah + current / 3600)
        if current < 0:
            self._drawn_ah += current / 3600
            self._discharged_kwh += -current * 12.8 / 3.6e6
        else:
            self._charged_kwh += current * 13.2 / 3.6e6
        soc = 1.0 + self._consumed_ah / self.CAPACITY_AH
        voltage = 11.9 + 1.0 * soc + 0.03 * current
        self._min_v, self._max_v = min(self._min_v, voltage), max(self._max_v, voltage)
        ttg = -1 if current >= 0 else min(round(soc * self.CAPACITY_AH / -current * 60), 14_400)
        main = [
            ("PID", "0xA381"),
            ("V", str(round(voltage * 1000))),
            ("VS", str(round(self._starter.next() * 1000))),
            ("I", str(round(current * 1000))),
            ("P", str(round(voltage * current))),
            ("CE", str(round(self._consumed_ah * 1000))),
            ("SOC", str(round(soc * 1000))),
            ("TTG", str(ttg)),
            ("Alarm", "OFF"),
            ("Relay", "OFF"),
            ("AR", "0"),
            ("BMV", "712 Smart"),
            ("FW", "0413"),
            ("MON", "0"),
        ]
        history = [
            ("H1", str(round(self._deepest_ah * 1000))),
            ("H2", str(round(self._last_ah * 1000))),
            ("H3", "-38125"),
            ("H4", "148"),
            ("H5", "0"),
            ("H6", str(round(self._drawn_ah * 1000))),
            ("H7", str(round(self._min_v * 1000))),
            ("H8", str(round(self._max_v * 1000))),
            ("H9", str(5_400 + self.tick)),
            ("H10", "97"),
            ("H11", "0"),
            ("H12", "0"),
            ("H15", "11810"),
            ("H16", "14420"),
            ("H17", str(round(self._discharged_kwh * 100))),
            ("H18", str(round(self._charged_kwh * 100))),
        ]
        return [main, history]


class InverterDevice(SyntheticDevice):
    """Phoenix Inverter 12V 800VA 230V (0xA261) feeding a varying AC load."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._load_va = _Walk(rng, 20.0, 700.0, 180.0, 25.0)
        self._battery = _Walk(rng, 12.1, 13.4, 12.8, 0.01)

    def blocks(self) -> list[list[tuple[str, str]]]:
        load_va = self._load_va.next()
        ac_v = 230.0 + self.rng.uniform(-0.4, 0.4)
        battery_v = self._battery.next() - load_va / 4000
        warn = 1 if battery_v < 11.5 else 0
        return [
            [
                ("PID", "0xA261"),
                ("FW", "0114"),
                ("SER#", "HQ2049X7CKM"),
                ("MODE", "2"),
                ("CS", "9"),
                ("AC_OUT_V", str(round(ac_v * 100))),
                ("AC_OUT_I", str(round(load_va / ac_v * 10))),
                ("AC_OUT_S", str(round(load_va))),
                ("V", str(round(battery_v * 1000))),
                ("AR", "0"),
                ("WARN", str(warn)),
                ("OR", "0x00000000"),
            ]
        ]


_DEVICES: dict[DeviceKind, Callable[[random.Random], SyntheticDevice]] = {
    "mppt": MpptDevice,
    "bmv": BmvDevice,
    "inverter": InverterDevice,
}


def synthetic_device(kind: DeviceKind, *, seed: int | None = None) -> SyntheticDevice:
    """Build a synthesised device; the same seed gives the same values."""
    return _DEVICES[kind](random.Random(seed))


@dataclass(frozen=True, slots=True, kw_only=True)
class Faults:
    """Fault probabilities, each in [0, 1]: per block (checksum, drop) or per emission (garbage, HEX)."""

    bad_checksum: float = 0.0
    garbage: float = 0.0
    drop: float = 0.0
    hex_interleave: float = 0.0

    def __post_init__(self) -> None:
        for name in ("bad_checksum", "garbage", "drop", "hex_interleave"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"fault probability {name} must be within [0, 1]")


# Async HEX frames a device sends on its own (register, value bytes): battery voltage, charger current, state.
_ASYNC_REGISTERS: tuple[tuple[int, Callable[[random.Random], bytes]], ...] = (
    (0xEDD5, lambda rng: struct.pack("<H", rng.randint(1250, 1440))),
    (0xEDD7, lambda rng: struct.pack("<H", rng.randint(0, 200))),
    (0x0201, lambda rng: bytes([rng.choice((0, 3, 4, 5))])),
)
# Garbage avoids ":" (it would open a HEX frame and swallow the next block's start) and CR/LF.
_GARBAGE_BYTES = bytes(b for b in range(256) if b not in b":\r\n")


def apply_faults(emission: Emission, faults: Faults, rng: random.Random) -> bytes:
    """Turn an emission into the bytes to send, with the configured faults injected."""
    out = bytearray()
    if faults.garbage and rng.random() < faults.garbage:
        out += bytes(rng.choice(_GARBAGE_BYTES) for _ in range(rng.randint(1, 24)))
    for chunk in emission:
        if faults.drop and rng.random() < faults.drop:
            continue
        out += chunk
        if (
            faults.bad_checksum
            and chunk.rfind(_CHECKSUM_MARK) == len(chunk) - len(_CHECKSUM_MARK) - 1
            and rng.random() < faults.bad_checksum
        ):
            out[-1] = (out[-1] + rng.randint(1, 255)) & 0xFF
    if faults.hex_interleave and rng.random() < faults.hex_interleave:
        register, value = rng.choice(_ASYNC_REGISTERS)
        out += hexproto.encode_frame(hexproto.Command.ASYNC, struct.pack("<HB", register, 0) + value(rng))
    return bytes(out)


class _Output(Protocol):
    async def open(self) -> str: ...
    def send(self, data: bytes) -> None: ...
    async def close(self) -> None: ...


class _PtyOutput:
    """A pseudo-terminal in raw mode at 19200 8N1; the slave path (or its symlink) is the port to open."""

    def __init__(self, link: Path | None) -> None:
        self._link = link
        self._master: int | None = None
        self._slave: int | None = None
        self._path = ""

    async def open(self) -> str:
        master, slave = os.openpty()
        tty.setraw(slave)
        attrs = termios.tcgetattr(slave)
        attrs[4] = attrs[5] = termios.B19200
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._path = os.ttyname(slave)
        if self._link is None:
            return self._path
        tmp = self._link.with_name(f".{self._link.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(self._path)
        tmp.replace(self._link)
        return str(self._link)

    def send(self, data: bytes) -> None:
        if self._master is None or self._slave is None:
            return  # closed: like a device with its cable unplugged
        unread = fcntl.ioctl(self._slave, termios.FIONREAD, b"\0\0\0\0")
        if int.from_bytes(unread, "little") > _PTY_BACKLOG_LIMIT:
            termios.tcflush(self._slave, termios.TCIFLUSH)
        view = memoryview(data)
        flushed = False
        while view:
            try:
                view = view[os.write(self._master, view) :]
            except BlockingIOError:
                if flushed:
                    return  # nobody reads and the queue stays full: the rest is lost, as on a real line
                termios.tcflush(self._slave, termios.TCIFLUSH)
                flushed = True

    async def close(self) -> None:
        if self._link is not None and self._link.is_symlink() and str(self._link.readlink()) == self._path:
            self._link.unlink()
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None


class _TcpOutput:
    """A TCP listener; each connected client gets every byte sent while it is connected."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._server: asyncio.Server | None = None
        self.clients: dict[asyncio.StreamWriter, asyncio.Task[None] | None] = {}

    async def open(self) -> str:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return f"socket://{self.host}:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients[writer] = asyncio.current_task()
        try:
            while await reader.read(4096):
                pass  # a VE.Direct device ignores what it does not understand
        except OSError:
            pass
        finally:
            self.clients.pop(writer, None)
            writer.close()

    def send(self, data: bytes) -> None:
        for writer in list(self.clients):
            if not writer.is_closing() and writer.transport.get_write_buffer_size() < _TCP_BACKLOG_LIMIT:
                writer.write(data)

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        handlers = [task for task in self.clients.values() if task is not None]
        for writer in list(self.clients):
            writer.close()
        if handlers:
            await asyncio.wait(handlers)
        await self._server.wait_closed()
        self._server = None


class Simulator:
    """A simulated VE.Direct device: ``url = await sim.start()``, then ``await sim.stop()`` (restartable).

    ``tcp=(host, port)`` serves ``socket://`` clients (port 0 picks a free port, kept across restarts);
    otherwise the output is a new pseudo-terminal each start, reachable through ``pty_link`` when given.
    """

    def __init__(
        self,
        source: EmissionSource,
        *,
        rate: float = 1.0,
        faults: Faults | None = None,
        seed: int | None = None,
        tcp: tuple[str, int] | None = None,
        pty_link: str | os.PathLike[str] | None = None,
        sent_log: str | os.PathLike[str] | None = None,
    ) -> None:
        if not rate > 0:
            raise ValueError("rate must be > 0")
        self.source = source
        self.rate = rate
        self.faults = faults or Faults()
        self._rng = random.Random(seed)
        self._output: _Output = _TcpOutput(*tcp) if tcp else _PtyOutput(Path(pty_link) if pty_link else None)
        self._task: asyncio.Task[None] | None = None
        self._running = asyncio.Event()
        self._running.set()
        self.finished = asyncio.Event()
        self.url: str | None = None
        self.emissions_sent = 0
        self.bytes_sent = 0
        self._sent_log_path = Path(sent_log) if sent_log is not None else None
        self._sent_log: IO[str] | None = None

    @classmethod
    def for_device(
        cls,
        kind: DeviceKind,
        *,
        rate: float = 1.0,
        faults: Faults | None = None,
        seed: int | None = None,
        tcp: tuple[str, int] | None = None,
        pty_link: str | os.PathLike[str] | None = None,
    ) -> Self:
        """A simulator that synthesises ``kind`` (mppt, bmv, inverter)."""
        source = synthetic_device(kind, seed=seed)
        return cls(source, rate=rate, faults=faults, seed=seed, tcp=tcp, pty_link=pty_link)

    def garbage(self, length: int = 32) -> bytes:
        """Random bytes of any value (CR, LF and ``:`` included), as line noise sends them."""
        return bytes(self._rng.randrange(256) for _ in range(length))

    @property
    def tcp_clients(self) -> int:
        """How many TCP clients are connected now (always 0 on a pty)."""
        return len(self._output.clients) if isinstance(self._output, _TcpOutput) else 0

    @property
    def is_running(self) -> bool:
        """True between start() and stop()."""
        return self._task is not None

    async def start(self) -> str:
        """Open the output and start emitting; return the URL a client opens (pty path or socket:// URL)."""
        if self._task is not None:
            raise RuntimeError("simulator already started")
        self.url = await self._output.open()
        if self._sent_log_path is not None:
            self._sent_log = self._sent_log_path.open("a", encoding="ascii", buffering=1)
        self.finished.clear()
        self._task = asyncio.create_task(self._emit(), name=f"vedirect-simulator {self.url}")
        _LOGGER.debug("Simulator serving %s", self.url)
        return self.url

    async def stop(self) -> None:
        """Stop emitting and close the output: clients see the port disappear."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await self._output.close()
        if self._sent_log is not None:
            self._sent_log.close()
            self._sent_log = None

    async def replug(self, delay: float) -> None:
        """Close the output, wait ``delay`` seconds, open a new one (emissions meanwhile are lost)."""
        await self._output.close()
        self._log_event("unplugged")
        await asyncio.sleep(delay)
        self.url = await self._output.open()
        self._log_event("plugged")

    def pause(self) -> None:
        """Go silent with the output left open (a stalled link)."""
        self._running.clear()

    def resume(self) -> None:
        """Emit again after pause()."""
        self._running.set()

    def inject(self, data: bytes) -> None:
        """Send arbitrary bytes now, between emissions."""
        self._output.send(data)
        self.bytes_sent += len(data)
        self._log_sent(data)

    def _log_sent(self, data: bytes) -> None:
        if self._sent_log is not None:
            self._sent_log.write(json.dumps({"t": time.time(), "data": data.hex()}) + "\n")

    def _log_event(self, event: str) -> None:
        if self._sent_log is not None:
            self._sent_log.write(json.dumps({"t": time.time(), "event": event}) + "\n")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _emit(self) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / self.rate
        next_at = loop.time()
        while True:
            await self._running.wait()
            emission = self.source.next_emission()
            if emission is None:
                self.finished.set()
                return
            data = apply_faults(emission, self.faults, self._rng)
            if data:
                self._output.send(data)
                self._log_sent(data)
            self.emissions_sent += 1
            self.bytes_sent += len(data)
            next_at = max(next_at + period, loop.time())
            await asyncio.sleep(next_at - loop.time())


__all__ = [
    "DEVICE_KINDS",
    "BmvDevice",
    "CaptureSource",
    "DeviceKind",
    "Emission",
    "EmissionSource",
    "Faults",
    "InverterDevice",
    "MpptDevice",
    "Simulator",
    "SyntheticDevice",
    "apply_faults",
    "encode_block",
    "split_capture",
    "synthetic_device",
]
