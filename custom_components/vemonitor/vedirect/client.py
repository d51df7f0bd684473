"""Async VE.Direct client: reads a serialx URL forever, heals the link, reports its state.

``VeDirectClient.run()`` opens the port with ``serialx.open_serial_connection`` (device paths,
``/dev/serial/by-id/...``, ``socket://``, ``tcp://``, ``rfc2217://``, ``esphome://``: whatever serialx
resolves), parses the bytes and hands the merged ``DeviceFrame`` to ``on_frame`` after every valid block.

Link states, each reported once per transition through ``on_link_state``:

* ``connected``: valid VE.Direct blocks are arriving;
* ``stalled``: the port is open but no valid block came for ``stall_timeout`` seconds (device silent, in HEX
  mode, wrong baud rate). After ``stall_reopen_timeout`` seconds without a valid block (counted from the last
  block or reopen) the port is closed and reopened, which heals half-open TCP bridges; the state stays
  ``stalled`` while reopening succeeds;
* ``disconnected``: the port could not be opened, hit EOF or failed; also reported by ``stop()``.

Reconnects use capped exponential backoff: ``backoff_initial * 2**n`` up to ``backoff_max``, each delay
shortened by a random fraction up to ``jitter`` (so that many clients of one bridge spread out). The backoff
restarts once a connection has delivered a valid block.

Each connection gets a fresh ``FrameParser`` (a block torn by a reconnect must never be glued to the next
one); ``stats`` adds up the counters of all of them. The merged ``frame`` survives reconnects (same port, same
device), so that a BMV's history fields do not vanish until its next history block.

HEX: ``ping()``, ``product_id()``, ``get()`` and ``set()`` go through a ``HexChannel`` (see ``hexchannel``) on
the open connection; the parser's HEX frames are routed to it. Nothing is ever written to the port but these
requests; while the port is closed or reopening they fail at once with ``HexNotConnectedError``.
"""

import asyncio
from collections.abc import Callable, Mapping
from contextlib import suppress
import dataclasses
from enum import StrEnum
import logging
import random
from typing import Final, overload

import serialx

from .device import DeviceFrame
from .errors import HexError, NoDataError, PortOpenError, VeDirectError
from .framing import FrameParser, ParserStats, TextBlock
from .hexchannel import REQUEST_TIMEOUT, HexChannel, RegisterCallback
from .hexproto import HexFrame
from .registers import SERIAL_NUMBER, HexValue, Register, find_register

_LOGGER = logging.getLogger(__name__)

BAUDRATE: Final = 19200
_READ_SIZE: Final = 4096
_CLOSE_TIMEOUT: Final = 5.0
# What serialx raises when a port cannot be opened or used (TimeoutError is an OSError).
_PORT_ERRORS: Final = (OSError, serialx.SerialException, ValueError)

type FrameCallback = Callable[[DeviceFrame], None]
type LinkStateCallback = Callable[[LinkState], None]
type _Port = tuple[asyncio.StreamReader, asyncio.StreamWriter]

__all__ = [
    "BAUDRATE",
    "LinkState",
    "NoDataError",
    "PortOpenError",
    "Probe",
    "VeDirectClient",
    "VeDirectError",
    "probe",
    "probe_device",
]


class LinkState(StrEnum):
    """State of the link to the device, as the consumer sees it."""

    CONNECTED = "connected"
    STALLED = "stalled"
    DISCONNECTED = "disconnected"


async def open_port(url: str, *, open_timeout: float, baudrate: int = BAUDRATE) -> _Port:
    """Open ``url`` at 19200 8N1; raise PortOpenError on any failure."""
    try:
        async with asyncio.timeout(open_timeout):
            return await serialx.open_serial_connection(url=url, baudrate=baudrate)
    except _PORT_ERRORS as err:
        raise PortOpenError(f"cannot open {url}: {str(err) or type(err).__name__}") from err


async def close_port(writer: asyncio.StreamWriter) -> None:
    """Close the port and wait until serialx has released it (errors of a dead port are moot here)."""
    writer.close()
    with suppress(Exception):
        async with asyncio.timeout(_CLOSE_TIMEOUT):
            await writer.wait_closed()


def _sum_stats(a: ParserStats, b: ParserStats) -> ParserStats:
    return ParserStats(**{f.name: getattr(a, f.name) + getattr(b, f.name) for f in dataclasses.fields(a)})


class VeDirectClient:
    """Reads one VE.Direct port until stopped; see the module docstring for link states and backoff."""

    def __init__(
        self,
        url: str,
        on_frame: FrameCallback | None = None,
        on_link_state: LinkStateCallback | None = None,
        *,
        stall_timeout: float = 10.0,
        stall_reopen_timeout: float | None = 60.0,
        open_timeout: float = 15.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        jitter: float = 0.2,
        baudrate: int = BAUDRATE,
        on_register: RegisterCallback | None = None,
        hex_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        if stall_timeout <= 0 or open_timeout <= 0 or backoff_initial < 0 or backoff_max < backoff_initial:
            raise ValueError("timeouts must be > 0 and 0 <= backoff_initial <= backoff_max")
        if not 0.0 <= jitter < 1.0:
            raise ValueError("jitter must be within [0, 1)")
        self.url = url
        self.on_frame = on_frame
        self.on_link_state = on_link_state
        self.stall_timeout = stall_timeout
        self.stall_reopen_timeout = stall_reopen_timeout
        self.open_timeout = open_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.jitter = jitter
        self.baudrate = baudrate
        self.frame = DeviceFrame()
        self.last_block: TextBlock | None = None
        self.connections = 0
        self.failed_opens = 0
        self._state: LinkState | None = None
        self._parser: FrameParser | None = None
        self._past_stats = ParserStats()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._port_open = False
        self._rng = random.Random()
        self._hex = HexChannel(url, on_register, timeout=hex_timeout)

    @property
    def link_state(self) -> LinkState | None:
        """The last reported state (None before the first report)."""
        return self._state

    @property
    def is_port_open(self) -> bool:
        """True while the port is open."""
        return self._port_open

    @property
    def last_raw(self) -> bytes | None:
        """Bytes of the last valid block, checksum included."""
        return self.last_block.raw if self.last_block else None

    @property
    def on_register(self) -> RegisterCallback | None:
        """Called with (register id, payload) for async ``:A`` frames and unrequested replies."""
        return self._hex.on_register

    @on_register.setter
    def on_register(self, callback: RegisterCallback | None) -> None:
        self._hex.on_register = callback

    @property
    def hex_support(self) -> bool | None:
        """None until known; True once the device answered HEX; False once found not to (text only)."""
        return self._hex.hex_support

    @property
    def registers(self) -> Mapping[int, bytes]:
        """Last payload per register, from replies and async frames (kept across reconnects)."""
        return self._hex.registers

    async def ping(self) -> str:
        """The device's firmware version (HEX ping), e.g. "1.61"; HexError subclasses on failure."""
        return await self._hex.ping()

    async def product_id(self) -> int:
        """The device's product id over HEX (command 4)."""
        return await self._hex.product_id()

    @overload
    async def get(self, register: Register) -> HexValue: ...
    @overload
    async def get(self, register: int) -> bytes: ...
    async def get(self, register: Register | int) -> HexValue | bytes:
        """A register's value: decoded for a ``Register``, the payload bytes for an id."""
        return await self._hex.get(register)

    async def set(
        self, register: Register, value: HexValue, *, battery_voltage: float | None = None
    ) -> HexValue:
        """Write ``value`` and return the device's read-back; ValueError before writing if out of range."""
        return await self._hex.set(register, value, battery_voltage=battery_voltage)

    @property
    def stats(self) -> ParserStats:
        """Parser counters over all connections so far."""
        if self._parser is None:
            return dataclasses.replace(self._past_stats)
        return _sum_stats(self._past_stats, self._parser.stats)

    async def run(self) -> None:
        """Read until stop() or cancellation; never raises for port trouble (it reconnects instead)."""
        if self._task is not None:
            raise RuntimeError("client already running")
        task = asyncio.current_task()
        assert task is not None
        self._task, self._stopping = task, False
        try:
            attempt = 0
            while True:
                try:
                    reader, writer = await open_port(
                        self.url, open_timeout=self.open_timeout, baudrate=self.baudrate
                    )
                except PortOpenError as err:
                    _LOGGER.debug("%s", err)
                    self.failed_opens += 1
                    self._set_state(LinkState.DISCONNECTED)
                else:
                    lost, delivered = await self._session(reader, writer)
                    if delivered:
                        attempt = 0
                    if lost:
                        self._set_state(LinkState.DISCONNECTED)
                await asyncio.sleep(self._backoff(attempt))
                attempt += 1
        except asyncio.CancelledError:
            if self._stopping and task.uncancel() == 0:
                return
            raise
        finally:
            self._task = None
            if self._state in (LinkState.CONNECTED, LinkState.STALLED):
                self._set_state(LinkState.DISCONNECTED)

    async def stop(self) -> None:
        """Stop run() and wait until the port is closed; run() then returns normally."""
        task = self._task
        if task is None or task is asyncio.current_task():
            return
        if not self._stopping:
            self._stopping = True
            task.cancel()
        await asyncio.wait([task])

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_initial * 2.0 ** min(attempt, 32))
        return delay * (1.0 - self.jitter * self._rng.random())

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[bool, bool]:
        """Read one connection; return (port lost, a valid block arrived). Closes the port in any case."""
        loop = asyncio.get_running_loop()
        parser = self._parser = FrameParser()
        self._port_open = True
        self._hex.attach(writer)
        self.connections += 1
        _LOGGER.debug("Opened %s", self.url)
        last_valid = opened = loop.time()
        delivered = False
        try:
            while True:
                if self._state is LinkState.STALLED:
                    reopen = self.stall_reopen_timeout
                    deadline = None if reopen is None else max(last_valid, opened) + reopen
                else:
                    deadline = last_valid + self.stall_timeout
                try:
                    async with asyncio.timeout_at(deadline):
                        data = await reader.read(_READ_SIZE)
                except TimeoutError:
                    if self._state is LinkState.STALLED:
                        _LOGGER.debug("No valid block from %s: reopening the port", self.url)
                        return False, delivered
                    self._set_state(LinkState.STALLED)
                    continue
                if not data:
                    _LOGGER.debug("EOF on %s", self.url)
                    return True, delivered
                for event in parser.feed(data):
                    if isinstance(event, HexFrame):
                        self._hex.feed(event)
                    elif event.valid:
                        last_valid = loop.time()
                        delivered = True
                        self._on_block(event)
        except _PORT_ERRORS as err:
            _LOGGER.debug("Lost %s: %s", self.url, str(err) or type(err).__name__)
            return True, delivered
        finally:
            self._hex.detach()
            self._past_stats = _sum_stats(self._past_stats, parser.stats)
            self._parser = None
            await close_port(writer)
            self._port_open = False

    def _on_block(self, block: TextBlock) -> None:
        self._hex.note_text_block()
        self.last_block = block
        self.frame.update(block)
        self._set_state(LinkState.CONNECTED)
        if self.on_frame is not None:
            try:
                self.on_frame(self.frame.copy())
            except Exception:
                _LOGGER.exception("on_frame callback failed")

    def _set_state(self, state: LinkState) -> None:
        if state is self._state:
            return
        _LOGGER.debug("Link %s: %s -> %s", self.url, self._state, state)
        self._state = state
        if self.on_link_state is not None:
            try:
                self.on_link_state(state)
            except Exception:
                _LOGGER.exception("on_link_state callback failed")


def _identified(with_pid: int, without_pid: int) -> bool:
    """A whole emission cycle seen: a PID block and its companion (BMV), or two PID blocks, or 3 blocks."""
    return (with_pid >= 1 and (without_pid >= 1 or with_pid >= 2)) or with_pid + without_pid >= 3


@dataclasses.dataclass(frozen=True, slots=True)
class Probe:
    """What a probe found: the merged frame and, for a device without SER# (BMV), its serial over HEX."""

    frame: DeviceFrame
    hex_serial: str | None = None


async def probe(url: str, timeout: float = 10.0, *, baudrate: int = BAUDRATE) -> DeviceFrame:  # noqa: ASYNC109
    """Open ``url`` and return the merged frame of the first full emission cycle (for config flows).

    Raises PortOpenError when the port cannot be opened or fails, NoDataError when no valid block arrives
    within ``timeout`` (which includes the open). A lone block is returned if its companion does not come.
    Never writes to the port.
    """
    return (await _probe(url, timeout, baudrate, read_serial=False)).frame


async def probe_device(url: str, timeout: float = 10.0, *, baudrate: int = BAUDRATE) -> Probe:  # noqa: ASYNC109
    """As probe(); then, for a frame without SER#, the serial number read over HEX (register 0x010A).

    The HEX read takes up to its own 3 x 1 s beyond ``timeout``; a device that does not answer it gives
    ``hex_serial`` None (the probe still succeeds).
    """
    return await _probe(url, timeout, baudrate, read_serial=True)


async def _probe(url: str, timeout: float, baudrate: int, *, read_serial: bool) -> Probe:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    reader, writer = await open_port(url, open_timeout=timeout, baudrate=baudrate)
    frame = DeviceFrame()
    parser = FrameParser()
    with_pid = without_pid = 0
    hex_serial: str | None = None
    try:
        with suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                while not _identified(with_pid, without_pid):
                    data = await reader.read(_READ_SIZE)
                    if not data:
                        break
                    for event in parser.feed(data):
                        if isinstance(event, TextBlock) and event.valid:
                            frame.update(event)
                            if "PID" in event.fields:
                                with_pid += 1
                            else:
                                without_pid += 1
        if read_serial and with_pid + without_pid and not frame.serial_number:
            hex_serial = await _read_serial(url, reader, writer, parser)
    except _PORT_ERRORS as err:
        if not with_pid + without_pid:
            raise PortOpenError(f"{url} failed: {str(err) or type(err).__name__}") from err
    finally:
        await close_port(writer)
    if not with_pid + without_pid:
        raise NoDataError(f"no valid VE.Direct data from {url} within {timeout:g} s")
    return Probe(frame, hex_serial)


async def _read_serial(
    url: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parser: FrameParser
) -> str | None:
    """GET 0x010A on the probe's open port while a task feeds its replies; None when it fails."""
    channel = HexChannel(url)
    channel.attach(writer)

    async def feed() -> None:
        try:
            while data := await reader.read(_READ_SIZE):
                for event in parser.feed(data):
                    if isinstance(event, HexFrame):
                        channel.feed(event)
        finally:
            channel.detach()

    feeder = asyncio.create_task(feed())
    register = find_register(None, SERIAL_NUMBER)
    assert register is not None
    try:
        value = await channel.get(register)
    except HexError as err:
        _LOGGER.debug("No serial number over HEX from %s: %s", url, err)
        return None
    finally:
        feeder.cancel()
        with suppress(asyncio.CancelledError, *_PORT_ERRORS):
            await feeder
    return value if isinstance(value, str) and value else None
