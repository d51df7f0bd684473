"""A VE.Direct device on a pseudo-terminal or a TCP listener, for tests, benchmarks and development.

The simulator replays a capture byte for byte (junk and HEX frames included) or synthesises an MPPT, a BMV or
a Phoenix inverter with plausible, changing values (``devices.py``), or one of them as a view of a small
solar system living through compressed days (``solarday.py``, ``solardevices.py``). Each *emission* is what a
device sends in one period (a BMV sends its main and history blocks together); emissions are paced at ``rate``
per second.
Faults are injected with a probability each: corrupted checksums, garbage between blocks, dropped blocks, HEX
frames, and on HEX requests no answer, a corrupted reply or a late one.

Outputs:

* a pseudo-terminal (``os.openpty``): clients open the slave path (optionally through a stable symlink, as
  ``/dev/serial/by-id`` gives). The simulator keeps its own slave descriptor open so that clients may close
  and reopen the port; bytes nobody reads are flushed, as they are lost on a real serial line.
* a TCP listener for serialx ``socket://`` clients: every connected client gets the stream from the moment it
  connects. A restart listens on the same port again.

``stop()`` closes the output (clients see the port vanish) and ``start()`` opens it again; ``pause()`` keeps
the output open but silent (clients see a stalled link); ``replug()`` closes the output and opens a new one
after a delay (a cable unplugged and plugged back: a new pty behind the same link).

HEX: the simulator reads what clients send (the pty's master side, each TCP client) and answers HEX requests
at once, between emissions, from the device's register model (``hexdevice.HexDevice``, ``Simulator.hex``;
a capture replay gets the default model of its device's family). ``hex=False`` is a text-only device that
never answers. A synthesised device's text fields follow its registers (load output, device mode, ...).

``sent_log``: a JSON line per write, flushed at once, so that a test can count what the device really sent
without trusting the code under test: ``{"t": <POSIX time after the write>, "data": "<hex of the bytes>"}``
per emission, injection or HEX reply, and ``{"t": ..., "event": "unplugged" | "plugged"}`` around a
replug. Bytes written while the output is closed, or flushed because nobody read them, are logged all the
same (a real device does not know either): the reader judges them by the time they were sent.
"""

import asyncio
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, fields
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
from typing import IO, Protocol, Self

from . import hexdevice
from .devices import (
    DEVICE_KINDS,
    BmvDevice,
    DeviceKind,
    Emission,
    InverterDevice,
    MpptDevice,
    SyntheticDevice,
    encode_block,
    synthetic_device,
)
from .hexdevice import HexDevice
from .protocol import hexproto

_LOGGER = logging.getLogger(__name__)

_CHECKSUM_MARK = b"Checksum\t"
# Unread bytes left in a pty beyond this mean nobody is reading: flush them.
_PTY_BACKLOG_LIMIT = 4096
# A TCP client that lets this much pile up is too slow: skip it until it catches up.
_TCP_BACKLOG_LIMIT = 256 * 1024


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
        self._head = data[:65536]
        self._hex: HexDevice | None = None

    @property
    def hex(self) -> HexDevice:
        """The default register model of the family of the capture's device (built on first use)."""
        if self._hex is None:
            self._hex = hexdevice.model_for_capture(self._head)
        return self._hex

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Faults:
    """Fault probabilities, each in [0, 1]: per block (checksum, drop), per emission (garbage, async HEX
    frame) or per HEX request (no answer, a corrupted reply check byte, the reply held until after the next
    emission)."""

    bad_checksum: float = 0.0
    garbage: float = 0.0
    drop: float = 0.0
    hex_interleave: float = 0.0
    hex_no_answer: float = 0.0
    hex_bad_checksum: float = 0.0
    hex_late: float = 0.0

    def __post_init__(self) -> None:
        for item in fields(self):
            if not 0.0 <= getattr(self, item.name) <= 1.0:
                raise ValueError(f"fault probability {item.name} must be within [0, 1]")


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


type RequestCallback = Callable[[bytes], None]
"""Called with each HEX frame a client sent (``:`` .. ``\\n``)."""


class _Output(Protocol):
    on_request: RequestCallback

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
        self.on_request: RequestCallback = lambda frame: None
        self._requests = hexdevice.RequestBuffer()

    async def open(self) -> str:
        master, slave = os.openpty()
        tty.setraw(slave)
        attrs = termios.tcgetattr(slave)
        attrs[4] = attrs[5] = termios.B19200
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._requests = hexdevice.RequestBuffer()
        asyncio.get_running_loop().add_reader(master, self._read)
        self._path = os.ttyname(slave)
        if self._link is None:
            return self._path
        tmp = self._link.with_name(f".{self._link.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(self._path)
        tmp.replace(self._link)
        return str(self._link)

    def _read(self) -> None:
        """What the client wrote to its side of the pty."""
        assert self._master is not None
        try:
            data = os.read(self._master, 4096)
        except OSError:  # pragma: no cover - nothing after all: try again on the next readiness
            return
        for frame in self._requests.feed(data):
            self.on_request(frame)

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
        if self._master is not None:
            asyncio.get_running_loop().remove_reader(self._master)
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
        self.on_request: RequestCallback = lambda frame: None

    async def open(self) -> str:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return f"socket://{self.host}:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients[writer] = asyncio.current_task()
        requests = hexdevice.RequestBuffer()  # a device ignores anything else it is sent
        try:
            while data := await reader.read(4096):
                for frame in requests.feed(data):
                    self.on_request(frame)
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

    ``hex``: answer HEX requests from ``hex_model`` (by default the source's own: a synthesised device's, or
    the default model of a capture's family); False is a text-only device. ``sim.hex`` is that model (None
    when it does not answer); ``hex_state`` names a JSON file of its registers, rewritten on every change.
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
        hex: bool = True,
        hex_model: HexDevice | None = None,
        hex_state: str | os.PathLike[str] | None = None,
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
        model = (hex_model or getattr(source, "hex", None)) if hex else None
        self.hex: HexDevice | None = model if isinstance(model, HexDevice) else None
        self._late: list[bytes] = []  # replies held until after the next emission (fault hex_late)
        if self.hex is not None:
            self.hex.on_async = self.inject
            self.hex.state_path = Path(hex_state) if hex_state is not None else None
            self._output.on_request = self._answer

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
        if self.hex is not None and self.hex.state_path is not None:
            self.hex.write_state(self.hex.state_path)
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

    def _answer(self, request: bytes) -> None:
        """Answer one HEX request now, with the HEX faults; a paused (silent) device answers nothing."""
        assert self.hex is not None
        frames = self.hex.answer(request)
        if not frames or not self._running.is_set():
            return
        faults, rng = self.faults, self._rng
        if faults.hex_no_answer and rng.random() < faults.hex_no_answer:
            return
        if faults.hex_bad_checksum and rng.random() < faults.hex_bad_checksum:
            frames[0] = hexdevice.corrupt_check(frames[0])
        if faults.hex_late and rng.random() < faults.hex_late:
            self._late += frames
            return
        self.inject(b"".join(frames))

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
            if self._late:
                late, self._late = b"".join(self._late), []
                self.inject(late)
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
