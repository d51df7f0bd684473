"""HEX requests on the link that carries the text blocks: one in flight, matched replies, retries.

The owner of the port (the client, or a probe) ``attach``es the writer of the open connection, ``feed``s every
parsed ``HexFrame`` and ``detach``es when the connection ends, which fails a waiting request at once with
``HexNotConnectedError``. A request is written, then waits ``timeout`` seconds for its reply, matched by
command and register id: GET -> 7, SET -> 8, PING -> 5, PRODUCT_ID -> 1 (Done), an unknown command -> 3, and
a framing error (4) sends it again. Async ``:A`` frames and unmatched replies (a late one) never answer a
request; those with flags 0 update ``registers`` and are handed to ``on_register``. Invalid frames (bad check)
are ignored, so a corrupted reply is never applied: the request is sent again after its timeout.

No-HEX detection: when a request exhausts its tries and no reply of any kind was ever seen, the device does
not speak HEX (old firmware, a bridge that only forwards what the device sends); ``hex_support`` becomes
False, it is logged once, and every later request raises ``HexUnsupportedError`` at once, writing nothing.
"""

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
import logging
from types import MappingProxyType
from typing import Final, overload

from .errors import (
    HexError,
    HexNotConnectedError,
    HexNotWritableError,
    HexParameterError,
    HexTimeoutError,
    HexUnknownCommandError,
    HexUnknownRegisterError,
    HexUnsupportedError,
)
from .hexproto import (
    Command,
    HexFrame,
    Response,
    ResponseFlags,
    encode_frame,
    encode_get,
    encode_set,
    ping_version,
)
from .registers import BATTERY_VOLTAGE, HexValue, Register, find_register

_LOGGER = logging.getLogger(__name__)

REQUEST_TIMEOUT: Final = 1.0
REQUEST_TRIES: Final = 3
# What a dying port raises on write (serialx errors derive from OSError or are ValueError on a closed port).
_WRITE_ERRORS: Final = (OSError, ValueError, RuntimeError)
# Replies: a device that sent one of these speaks HEX, matched or not.
_REPLIES: Final = frozenset(
    {Response.DONE, Response.UNKNOWN, Response.ERROR, Response.PING, Response.GET, Response.SET}
)

type RegisterCallback = Callable[[int, bytes], None]


@dataclass(slots=True)
class _Pending:
    """The request in flight: its command, register id (GET/SET) and the future its reply resolves."""

    command: Command
    register: int | None
    reply: asyncio.Future[HexFrame]

    def matches(self, frame: HexFrame) -> bool:
        response = frame.command
        if response == Response.ERROR:
            return True
        if response == Response.UNKNOWN:
            return frame.data[:1] in (b"", bytes((self.command,)))
        if self.command in (Command.GET, Command.SET):
            return response == self.command and frame.register == self.register
        if self.command == Command.PING:
            return response == Response.PING
        return response == Response.DONE


class HexChannel:
    """The HEX side of one port; see the module docstring."""

    def __init__(
        self,
        name: str,
        on_register: RegisterCallback | None = None,
        *,
        timeout: float = REQUEST_TIMEOUT,
        tries: int = REQUEST_TRIES,
    ) -> None:
        if timeout <= 0 or tries < 1:
            raise ValueError("timeout must be > 0 and tries >= 1")
        self.name = name
        self.on_register = on_register
        self.timeout = timeout
        self.tries = tries
        self.hex_support: bool | None = None
        self._registers: dict[int, bytes] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._pending: _Pending | None = None
        self._lock = asyncio.Lock()
        self._seen_reply = False
        self._last_written: bytes | None = None
        self._text_blocks = 0  # valid text blocks: whether the device talked while a request went unanswered

    @property
    def registers(self) -> Mapping[int, bytes]:
        """Last payload per register (flags 0) from replies and async frames; kept across reconnects."""
        return MappingProxyType(self._registers)

    @property
    def connected(self) -> bool:
        return self._writer is not None

    def attach(self, writer: asyncio.StreamWriter) -> None:
        """A connection opened: requests are written to ``writer`` from now on."""
        self._writer = writer

    def detach(self) -> None:
        """The connection ended: the waiting request fails with HexNotConnectedError."""
        self._writer = None
        pending = self._pending
        if pending is not None and not pending.reply.done():
            pending.reply.set_exception(HexNotConnectedError(f"{self.name} closed while waiting for a reply"))

    def note_text_block(self) -> None:
        """A valid text block arrived (the no-HEX finding needs the device to have been talking)."""
        self._text_blocks += 1

    def feed(self, frame: HexFrame) -> None:
        """One parsed HEX frame from the port.

        A frame equal to the request just written is a bridge echoing it back, not a reply, except for a SET,
        whose reply is its echo by definition (the read-back GET of ``set`` tells them apart).
        """
        if not frame.valid:
            _LOGGER.debug("Invalid HEX frame from %s ignored: %r", self.name, frame.raw)
            return
        echo = frame.raw == self._last_written
        if echo and frame.command != Response.SET:
            _LOGGER.debug("Echo of the request from %s ignored: %r", self.name, frame.raw)
            return
        if frame.command in _REPLIES and not echo:
            self._seen_reply = True
        pending = self._pending
        if pending is not None and not pending.reply.done() and pending.matches(frame):
            pending.reply.set_result(frame)
            return
        register = frame.register
        # Only async frames are news: a late reply to an earlier request may be older than a write since.
        if register is None or frame.flags or frame.command != Response.ASYNC:
            return
        self._registers[register] = frame.payload
        if self.on_register is not None:
            try:
                self.on_register(register, frame.payload)
            except Exception:
                _LOGGER.exception("on_register callback failed")

    async def ping(self) -> str:
        """Firmware version of the device, e.g. "1.61" (a suffix for bootloader, tester, RC)."""
        reply = await self._request(Command.PING, None, encode_frame(Command.PING))
        version = ping_version(reply.payload)
        if version is None:
            raise HexError(f"{self.name}: ping reply without a version: {reply.raw!r}")
        return version

    async def product_id(self) -> int:
        reply = await self._request(Command.PRODUCT_ID, None, encode_frame(Command.PRODUCT_ID))
        if not reply.payload:
            raise HexError(f"{self.name}: product id reply without an id: {reply.raw!r}")
        return int.from_bytes(reply.payload, "little")

    @overload
    async def get(self, register: Register) -> HexValue: ...
    @overload
    async def get(self, register: int) -> bytes: ...
    async def get(self, register: Register | int) -> HexValue | bytes:
        """A register's value: decoded for a ``Register``, the raw payload bytes for an id."""
        payload = await self._register_request(Command.GET, register)
        return payload if isinstance(register, int) else self._decode(register, payload)

    async def set(
        self, register: Register, value: HexValue, *, battery_voltage: float | None = None
    ) -> HexValue:
        """Write ``value`` (base units) and return the device's value read back after it.

        ValueError (before any byte is written) when ``register`` refuses the value; per-12 V ranges use
        ``battery_voltage``, else the battery voltage register if it was read, else 12 V.
        """
        if battery_voltage is None and register.per_12v:
            battery_voltage = self._battery_voltage()
        payload = register.encode(value, battery_voltage=battery_voltage)
        echoed = await self._register_request(Command.SET, register, payload)
        try:
            return self._decode(register, await self._register_request(Command.GET, register))
        except HexTimeoutError:
            # The device took the SET (its reply says so): a read-back lost on the way is no failure.
            _LOGGER.debug("%s: no read-back of %s, using the SET reply", self.name, register.key)
            return self._decode(register, echoed)

    def _battery_voltage(self) -> float | None:
        payload = self._registers.get(BATTERY_VOLTAGE)
        spec = find_register(None, BATTERY_VOLTAGE)
        if payload is None or spec is None:
            return None
        try:
            value = spec.decode(payload)
        except ValueError:
            return None
        return float(value) if isinstance(value, int | float) and value > 0 else None

    def _decode(self, register: Register, payload: bytes) -> HexValue:
        try:
            return register.decode(payload)
        except ValueError as err:
            raise HexError(f"{self.name}: unexpected reply for {register.key}: {err}") from err

    @staticmethod
    def _refused_value(register: Register | int, reply: HexFrame) -> HexValue:
        """What a device returned with flag 0x04, decoded by the family's register when given."""
        if isinstance(register, Register):
            try:
                return register.decode(reply.payload)
            except ValueError:
                pass
        return reply.value

    async def _register_request(
        self, command: Command, register: Register | int, value: bytes = b""
    ) -> bytes:
        """GET or SET; the reply's payload (flags 0), else the error its flags say."""
        register_id = register if isinstance(register, int) else register.id
        frame = encode_set(register_id, value) if command == Command.SET else encode_get(register_id)
        reply = await self._request(command, register_id, frame)
        flags = reply.flags or ResponseFlags(0)
        what = f"{self.name}: register 0x{register_id:04X}"
        if flags & ResponseFlags.UNKNOWN_ID:
            raise HexUnknownRegisterError(f"{what} is unknown to the device")
        if flags & ResponseFlags.NOT_SUPPORTED:
            raise HexNotWritableError(f"{what} is not supported (read only)")
        if flags & ResponseFlags.PARAMETER_ERROR:
            raise HexParameterError(f"{what}: parameter error", self._refused_value(register, reply))
        if flags:
            raise HexError(f"{what}: reply flags 0x{int(flags):02X}")
        self._registers[register_id] = reply.payload
        return reply.payload

    async def _request(self, command: Command, register: int | None, frame: bytes) -> HexFrame:
        """Send ``frame`` until its reply comes (``tries`` x ``timeout``); raise the typed errors."""
        self._check_usable()
        async with self._lock:
            loop = asyncio.get_running_loop()
            blocks_before = self._text_blocks
            for attempt in range(1, self.tries + 1):
                writer = self._check_usable()
                pending = self._pending = _Pending(command, register, loop.create_future())
                try:
                    self._last_written = frame
                    writer.write(frame)
                    async with asyncio.timeout(self.timeout):
                        await writer.drain()
                        reply = await pending.reply
                except TimeoutError:
                    _LOGGER.debug("No reply from %s to %r (try %d)", self.name, frame, attempt)
                    continue
                except _WRITE_ERRORS as err:
                    raise HexNotConnectedError(f"{self.name}: cannot write: {err}") from err
                finally:
                    self._pending = None
                if reply.command == Response.ERROR:
                    _LOGGER.debug("Framing error reported by %s for %r (try %d)", self.name, frame, attempt)
                    continue
                self.hex_support = True
                if reply.command == Response.UNKNOWN:
                    raise HexUnknownCommandError(f"{self.name}: unknown command {command:X}")
                return reply
            # No HEX at all: never a reply, while the device kept sending text the whole time (a device that
            # went silent, rebooting or unplugged, proves nothing).
            if not self._seen_reply and self._text_blocks - blocks_before >= 2:
                self.hex_support = False
                _LOGGER.info(
                    "%s does not answer VE.Direct HEX requests: reading its text data only", self.name
                )
                raise HexUnsupportedError(f"{self.name} does not answer HEX requests")
            raise HexTimeoutError(f"{self.name}: no valid reply to {frame!r} after {self.tries} tries")

    def _check_usable(self) -> asyncio.StreamWriter:
        if self.hex_support is False:
            raise HexUnsupportedError(f"{self.name} does not answer HEX requests")
        if self._writer is None:
            raise HexNotConnectedError(f"{self.name} is not connected")
        return self._writer
