"""The client's HEX channel against a device on a real pseudo-terminal and a real ``socket://`` listener.

``WireDevice`` is the far side of the wire, owned by these tests: it sends text blocks and answers each HEX
request line with whatever bytes the test's responder returns (replies, async frames, text, corruption), so
that every interleaving the channel must survive is written out byte for byte.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
import logging
import os
from pathlib import Path
import struct
import termios
import tty
from typing import Any

import pytest

from custom_components.vemonitor.vedirect.client import (
    LinkState,
    NoDataError,
    PortOpenError,
    VeDirectClient,
    probe,
    probe_device,
)
from custom_components.vemonitor.vedirect.errors import (
    HexError,
    HexNotConnectedError,
    HexNotWritableError,
    HexParameterError,
    HexTimeoutError,
    HexUnknownCommandError,
    HexUnknownRegisterError,
    HexUnsupportedError,
    VeDirectError,
)
from custom_components.vemonitor.vedirect.hexchannel import HexChannel
from custom_components.vemonitor.vedirect.hexproto import (
    Command,
    Response,
    encode_frame,
    encode_get,
    encode_ping,
    encode_product_id,
    encode_set,
)
from custom_components.vemonitor.vedirect.registers import (
    ABSORPTION_VOLTAGE,
    AC_OUT_VOLTAGE_SETPOINT,
    BATTERY_CAPACITY,
    BATTERY_MAX_CURRENT,
    BATTERY_TEMPERATURE,
    BATTERY_VOLTAGE,
    DEVICE_MODE,
    HISTORY_YESTERDAY,
    LOAD_OUTPUT_CONTROL,
    SERIAL_NUMBER,
    Family,
    Register,
    family_of,
    find_register,
)
from tests.vedirect_sim import WAIT, Recorder, running_client, running_simulator
from vedirect_tools.devices import DeviceKind
from vedirect_tools.hexdevice import HexDevice
from vedirect_tools.simulator import Faults, Simulator

from .helpers import make_block

pytestmark = pytest.mark.usefixtures("socket_enabled")

HEX_TIMEOUT = 0.5  # per try in these tests (1 s in production): a device here answers within milliseconds
MPPT_BLOCK = make_block(
    {"PID": "0xA053", "FW": "161", "SER#": "HQ2132QY2KR", "V": "12800", "PPV": "0", "CS": "0"}
)
BMV_BLOCK = make_block({"PID": "0xA381", "V": "12800", "I": "0", "SOC": "1000", "Alarm": "OFF"})

type Responder = Callable[[bytes], bytes]


def hex_support(client: VeDirectClient) -> bool | None:
    """Read through a call, so that mypy does not pin the property across awaits."""
    return client.hex_support


def sim_model(sim: Simulator) -> HexDevice:
    assert sim.hex is not None
    return sim.hex


def mppt(register_id: int) -> Register:
    register = find_register(Family.MPPT, register_id)
    assert register is not None
    return register


def register_frame(command: int, register_id: int, payload: bytes, flags: int = 0) -> bytes:
    return encode_frame(command, struct.pack("<HB", register_id, flags) + payload)


def corrupt(frame: bytes) -> bytes:
    """The same frame with its check byte off by one."""
    check = int(frame[-3:-1], 16)
    return frame[:-3] + b"%02X\n" % ((check + 1) & 0xFF)


class Registers:
    """A small register model answering GET/SET/PING/PRODUCT_ID like a device (the default responder)."""

    def __init__(
        self,
        values: dict[int, bytes],
        *,
        product_id: int = 0xA053,
        keep: Callable[[int, bytes], bytes] = lambda register_id, payload: payload,
    ) -> None:
        self.values = values
        self.product_id = product_id
        self.keep = keep  # what the device keeps of a value set (e.g. its own resolution)

    def __call__(self, request: bytes) -> bytes:
        command = int(request[1:2], 16)
        data = bytes.fromhex(request[2:-3].decode())
        if command == Command.PING:
            return encode_frame(Response.PING, struct.pack("<H", 0x4161))
        if command == Command.PRODUCT_ID:
            return encode_frame(Response.DONE, struct.pack("<H", self.product_id))
        if command not in (Command.GET, Command.SET):
            return encode_frame(Response.UNKNOWN, bytes((command,)))
        (register_id,) = struct.unpack_from("<H", data)
        if register_id not in self.values:
            return register_frame(command, register_id, b"", 0x01)
        if command == Command.SET:
            self.values[register_id] = self.keep(register_id, data[3:])
        return register_frame(command, register_id, self.values[register_id])


class WireDevice:
    """Text blocks every ``period`` s plus the responder's answer to each request line, on a pty or TCP."""

    def __init__(self, respond: Responder, *, block: bytes = MPPT_BLOCK, period: float = 0.05) -> None:
        self.respond = respond
        self.block = block
        self.period = period
        self.requests: list[bytes] = []
        self.url = ""
        self._pending = b""
        self._master: int | None = None
        self._slave: int | None = None
        self._server: asyncio.Server | None = None
        self._peer: asyncio.StreamWriter | None = None
        self._port = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._request_seen = asyncio.Event()

    async def start(self, transport: str) -> None:
        if transport == "pty":
            master, slave = os.openpty()
            tty.setraw(slave)
            attrs = termios.tcgetattr(slave)
            attrs[4] = attrs[5] = termios.B19200
            termios.tcsetattr(slave, termios.TCSANOW, attrs)
            os.set_blocking(master, False)
            self._master, self._slave = master, slave
            asyncio.get_running_loop().add_reader(master, self._read_pty)
            self.url = os.ttyname(slave)
        else:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self._port = self._server.sockets[0].getsockname()[1]
            self.url = f"socket://127.0.0.1:{self._port}"
        self.spawn(self._emit())

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in list(self._tasks):
            with suppress(asyncio.CancelledError):
                await task
        await self.close_server()
        if self._master is not None:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
        if self._slave is not None:
            os.close(self._slave)
        self._master = self._slave = None

    async def close_server(self) -> None:
        """Stop listening and drop the client: the link is down until ``reopen_server``."""
        if self._server is not None:
            self._server.close()
            self.drop()
            await self._server.wait_closed()

    async def reopen_server(self) -> None:
        """Listen again on the same port (a closed asyncio server cannot be restarted)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self._port)

    def drop(self) -> None:
        """Close the TCP connection (the bridge went away); the client reconnects."""
        if self._peer is not None:
            self._peer.close()
            self._peer = None

    def send(self, data: bytes) -> None:
        if self._master is not None:
            with suppress(BlockingIOError):
                os.write(self._master, data)
        elif self._peer is not None and not self._peer.is_closing():
            self._peer.write(data)

    async def wait_requests(self, count: int) -> None:
        async with asyncio.timeout(WAIT):
            while len(self.requests) < count:
                self._request_seen.clear()
                await self._request_seen.wait()

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _emit(self) -> None:
        while True:
            self.send(self.block)
            await asyncio.sleep(self.period)

    def _read_pty(self) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, 4096)
        except OSError:
            return
        self._received(data)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._peer = writer
        with suppress(ConnectionError):
            while data := await reader.read(4096):
                self._received(data)
        writer.close()

    def _received(self, data: bytes) -> None:
        self._pending += data
        while b"\n" in self._pending:
            line, _, self._pending = self._pending.partition(b"\n")
            start = line.find(b":")
            if start < 0:
                continue
            request = line[start:] + b"\n"
            self.requests.append(request)
            self._request_seen.set()
            if answer := self.respond(request):
                self.send(answer)


@asynccontextmanager
async def wire_device(
    respond: Responder, transport: str = "tcp", *, block: bytes = MPPT_BLOCK
) -> AsyncIterator[WireDevice]:
    device = WireDevice(respond, block=block)
    await device.start(transport)
    try:
        yield device
    finally:
        await device.stop()


def hex_client(url: str, recorder: Recorder, hex_timeout: float = HEX_TIMEOUT) -> VeDirectClient:
    return VeDirectClient(
        url,
        recorder.on_frame,
        recorder.on_link_state,
        stall_timeout=5.0,
        stall_reopen_timeout=None,
        open_timeout=5.0,
        backoff_initial=0.02,
        backoff_max=0.1,
        jitter=0.0,
        hex_timeout=hex_timeout,
    )


@asynccontextmanager
async def connected(
    device: WireDevice, *, hex_timeout: float = HEX_TIMEOUT
) -> AsyncIterator[tuple[VeDirectClient, Recorder]]:
    """A running client whose link is connected (valid blocks arrive)."""
    recorder = Recorder()
    client = hex_client(device.url, recorder, hex_timeout)
    async with running_client(client):
        await recorder.wait_state(LinkState.CONNECTED)
        yield client, recorder


MPPT_VALUES = {
    BATTERY_MAX_CURRENT: struct.pack("<H", 150),
    ABSORPTION_VOLTAGE: struct.pack("<H", 1440),
    LOAD_OUTPUT_CONTROL: b"\x04",
    BATTERY_VOLTAGE: b"\x0c",
    SERIAL_NUMBER: b"HQ2132QY2KR",
}


@pytest.mark.parametrize("transport", ["pty", "tcp"])
async def test_requests_round_trip(transport: str) -> None:
    model = Registers(dict(MPPT_VALUES))
    async with wire_device(model, transport) as device, connected(device) as (client, recorder):
        assert hex_support(client) is None
        assert device.requests == []  # nothing is written to the port unless a request is made
        assert await client.ping() == "1.61"
        assert hex_support(client) is True
        assert await client.product_id() == 0xA053
        assert await client.get(mppt(BATTERY_MAX_CURRENT)) == 15.0
        assert await client.get(BATTERY_MAX_CURRENT) == struct.pack("<H", 150)
        assert await client.get(mppt(LOAD_OUTPUT_CONTROL)) == "on"
        assert await client.get(mppt(SERIAL_NUMBER)) == "HQ2132QY2KR"
        assert await client.set(mppt(BATTERY_MAX_CURRENT), 10.0) == 10.0
        assert await client.set(mppt(LOAD_OUTPUT_CONTROL), "off") == "off"
        assert model.values[LOAD_OUTPUT_CONTROL] == b"\x00"
        assert client.registers[BATTERY_MAX_CURRENT] == struct.pack("<H", 100)
        assert device.requests == [
            encode_ping(),
            encode_product_id(),
            encode_get(BATTERY_MAX_CURRENT),
            encode_get(BATTERY_MAX_CURRENT),
            encode_get(LOAD_OUTPUT_CONTROL),
            encode_get(SERIAL_NUMBER),
            encode_set(BATTERY_MAX_CURRENT, struct.pack("<H", 100)),
            encode_get(BATTERY_MAX_CURRENT),
            encode_set(LOAD_OUTPUT_CONTROL, b"\x00"),
            encode_get(LOAD_OUTPUT_CONTROL),
        ]
        frames = len(recorder.frames)
        await recorder.wait_frames(2)  # the text blocks kept flowing
        assert len(recorder.frames) >= frames + 2
    assert client.stats.invalid_hex_frames == 0


@pytest.mark.parametrize("transport", ["pty", "tcp"])
async def test_async_frames_text_and_other_replies_are_not_taken_for_the_reply(transport: str) -> None:
    seen: list[tuple[int, bytes]] = []

    def respond(request: bytes) -> bytes:
        if request != b":7F0ED0071\n":
            return b""
        half = len(MPPT_BLOCK) // 2
        return (
            register_frame(Response.ASYNC, BATTERY_MAX_CURRENT, struct.pack("<H", 99))  # same id, async
            + MPPT_BLOCK[:half]
            + register_frame(Response.GET, ABSORPTION_VOLTAGE, struct.pack("<H", 1380))  # another id
            + MPPT_BLOCK[half:]
            + register_frame(
                Response.SET, BATTERY_MAX_CURRENT, struct.pack("<H", 98)
            )  # same id, other command
            + register_frame(Response.ASYNC, 0x0201, b"\x05")  # inside nothing: between blocks
            + encode_frame(Response.DONE, b"\x53\xa0")  # a stray Done
            + register_frame(Response.GET, BATTERY_MAX_CURRENT, struct.pack("<H", 150))  # the reply
        )

    async with wire_device(respond, transport) as device, connected(device) as (client, recorder):
        client.on_register = lambda register_id, payload: seen.append((register_id, payload))
        blocks = client.stats.valid_blocks
        assert await client.get(mppt(BATTERY_MAX_CURRENT)) == 15.0
        assert client.registers[BATTERY_MAX_CURRENT] == struct.pack("<H", 150)
        # Unmatched replies (a late one may be older than a write since) are not news: only async frames.
        assert ABSORPTION_VOLTAGE not in client.registers
        assert client.registers[0x0201] == b"\x05"
        assert seen == [(BATTERY_MAX_CURRENT, struct.pack("<H", 99)), (0x0201, b"\x05")]
        await recorder.wait_for(lambda: client.stats.valid_blocks > blocks + 1)
        assert device.requests == [b":7F0ED0071\n"]
    assert client.stats.invalid_blocks == 0  # the HEX frames inside the block did not break it


async def test_a_device_answering_only_the_second_try() -> None:
    model = Registers(dict(MPPT_VALUES))
    tries: list[bytes] = []

    def respond(request: bytes) -> bytes:
        tries.append(request)
        return model(request) if len(tries) % 2 == 0 else b""

    async with wire_device(respond) as device, connected(device) as (client, _):
        assert await client.get(mppt(ABSORPTION_VOLTAGE)) == 14.4
        assert device.requests == [b":7F7ED006A\n"] * 2
        assert hex_support(client) is True


async def test_timeout_after_three_tries_once_hex_was_seen() -> None:
    model = Registers(dict(MPPT_VALUES))
    answering = True

    def respond(request: bytes) -> bytes:
        return model(request) if answering else b""

    async with wire_device(respond) as device, connected(device) as (client, _):
        assert await client.ping() == "1.61"
        answering = False
        with pytest.raises(HexTimeoutError, match="after 3 tries"):
            await client.get(mppt(BATTERY_MAX_CURRENT))
        assert device.requests[1:] == [b":7F0ED0071\n"] * 3
        assert hex_support(client) is True  # a device that answered once is not declared text only
        answering = True
        assert await client.get(mppt(BATTERY_MAX_CURRENT)) == 15.0


async def test_corrupted_replies_are_never_applied() -> None:
    seen: list[tuple[int, bytes]] = []
    bad = corrupt(register_frame(Response.GET, BATTERY_MAX_CURRENT, struct.pack("<H", 999)))
    good = register_frame(Response.GET, BATTERY_MAX_CURRENT, struct.pack("<H", 150))
    answers = [bad + corrupt(register_frame(Response.ASYNC, BATTERY_MAX_CURRENT, b"\x01\x00")), good]

    async with (
        wire_device(lambda request: answers.pop(0)) as device,
        connected(device) as (client, _),
    ):
        client.on_register = lambda register_id, payload: seen.append((register_id, payload))
        assert await client.get(mppt(BATTERY_MAX_CURRENT)) == 15.0
        assert len(device.requests) == 2  # the corrupted reply was ignored: sent again after the timeout
        assert client.registers[BATTERY_MAX_CURRENT] == struct.pack("<H", 150)
        assert seen == []
        assert client.stats.invalid_hex_frames == 2


async def test_a_framing_error_sends_the_request_again() -> None:
    model = Registers(dict(MPPT_VALUES))
    answers = [encode_frame(Response.ERROR, b"\xaa\xaa")]

    async with (
        wire_device(lambda request: answers.pop(0) if answers else model(request)) as device,
        connected(device, hex_timeout=5.0) as (client, _),
    ):
        assert answers == [encode_frame(Response.ERROR, b"\xaa\xaa")]
        assert await client.get(mppt(BATTERY_MAX_CURRENT)) == 15.0
        assert answers == []
        assert len(device.requests) == 2  # at once, not after the 5 s timeout


async def test_reply_flags_become_typed_errors() -> None:
    def respond(request: bytes) -> bytes:
        command = int(request[1:2], 16)
        (register_id,) = struct.unpack("<H", bytes.fromhex(request[2:6].decode()))
        flags = {0xEDF7: 0x01, 0xEDDF: 0x02, 0xEDF0: 0x04, 0xEDAB: 0x08}[register_id]
        return register_frame(command, register_id, struct.pack("<H", 12) if flags == 0x04 else b"", flags)

    async with wire_device(respond) as device, connected(device) as (client, _):
        with pytest.raises(HexUnknownRegisterError, match="0xEDF7 is unknown"):
            await client.get(mppt(ABSORPTION_VOLTAGE))
        with pytest.raises(HexNotWritableError, match="read only"):
            await client.set(mppt(0xEDDF), 10.0)
        with pytest.raises(HexParameterError) as refused:
            await client.set(mppt(BATTERY_MAX_CURRENT), 100.0)
        assert refused.value.value == 1.2  # what the device returned: its nearest valid value
        with pytest.raises(HexParameterError) as refused:
            await client.get(BATTERY_MAX_CURRENT)  # by id: decoded by the table of any family
        assert refused.value.value == 1.2
        with pytest.raises(HexError, match="flags 0x08"):
            await client.get(LOAD_OUTPUT_CONTROL)
        assert client.registers == {}  # a refused value is never taken for the register's
        assert len(device.requests) == 5  # each answered at once, no retry


async def test_unknown_command_and_malformed_replies() -> None:
    def respond(request: bytes) -> bytes:
        if request == b":154\n":
            return encode_frame(Response.UNKNOWN, b"\x01\x00")
        if request == b":451\n":
            return encode_frame(Response.DONE)
        return register_frame(
            Response.GET, SERIAL_NUMBER if b"0A01" in request else BATTERY_MAX_CURRENT, b"\x01"
        )

    async with wire_device(respond) as device, connected(device) as (client, _):
        with pytest.raises(HexUnknownCommandError, match="unknown command 1"):
            await client.ping()
        assert hex_support(client) is True
        with pytest.raises(HexError, match="without an id"):
            await client.product_id()
        with pytest.raises(HexError, match="unexpected reply for battery_max_current"):
            await client.get(mppt(BATTERY_MAX_CURRENT))
        assert await client.get(SERIAL_NUMBER) == b"\x01"
        assert len(device.requests) == 4


async def test_ping_reply_without_a_version() -> None:
    async with (
        wire_device(lambda request: encode_frame(Response.PING, b"\x16")) as device,
        connected(device) as (client, _),
    ):
        with pytest.raises(HexError, match="without a version"):
            await client.ping()


@pytest.mark.parametrize("transport", ["pty", "tcp"])
async def test_a_text_only_device_is_detected_once(transport: str, caplog: pytest.LogCaptureFixture) -> None:
    async with wire_device(lambda request: b"", transport) as device, connected(device) as (client, recorder):
        with caplog.at_level(logging.INFO, "custom_components.vemonitor.vedirect"):
            with pytest.raises(HexUnsupportedError):
                await client.get(mppt(SERIAL_NUMBER))
            assert hex_support(client) is False
            assert len(device.requests) == 3
            with pytest.raises(HexUnsupportedError):
                await client.ping()
            with pytest.raises(HexUnsupportedError):
                await client.set(mppt(BATTERY_MAX_CURRENT), 10.0)
        assert len(device.requests) == 3  # nothing more written
        assert [record.levelno for record in caplog.records if "does not answer" in record.message] == [
            logging.INFO
        ]
        await recorder.wait_frames(2)
        assert client.link_state is LinkState.CONNECTED  # left in text mode


async def test_async_frames_alone_do_not_prove_hex_support() -> None:
    """A read-only bridge forwards the device's async frames but not the requests: still text only."""
    device = WireDevice(
        lambda request: b"", block=MPPT_BLOCK + register_frame(Response.ASYNC, 0x0201, b"\x03")
    )
    await device.start("tcp")
    try:
        async with connected(device) as (client, _):
            with pytest.raises(HexUnsupportedError):
                await client.ping()
            assert client.registers[0x0201] == b"\x03"
    finally:
        await device.stop()


async def test_requests_fail_at_once_while_not_connected() -> None:
    model = Registers(dict(MPPT_VALUES))
    async with wire_device(model) as device:
        client = VeDirectClient(device.url, backoff_initial=0.02, backoff_max=0.05, jitter=0.0)
        with pytest.raises(HexNotConnectedError, match="not connected"):
            await client.ping()  # before run()
        recorder = Recorder()
        client.on_link_state = recorder.on_link_state
        async with running_client(client):
            await recorder.wait_state(LinkState.CONNECTED)
            assert await client.ping() == "1.61"
            await device.close_server()
            await recorder.wait_state(LinkState.DISCONNECTED)
            loop = asyncio.get_running_loop()
            started = loop.time()
            for _ in range(3):
                with pytest.raises(HexNotConnectedError):
                    await client.get(mppt(BATTERY_MAX_CURRENT))
            assert loop.time() - started < HEX_TIMEOUT  # at once: no try waited for a reply
            await device.reopen_server()
            await recorder.wait_state(LinkState.CONNECTED)
            assert await client.get(mppt(BATTERY_MAX_CURRENT)) == 15.0
        with pytest.raises(HexNotConnectedError):
            await client.ping()  # after stop()
        assert client.connections >= 2


async def test_a_request_in_flight_fails_when_the_connection_ends() -> None:
    holder: list[WireDevice] = []

    def respond(request: bytes) -> bytes:
        holder[0].drop()  # the bridge goes away instead of answering
        return b""

    async with wire_device(respond) as device:
        holder.append(device)
        async with connected(device, hex_timeout=5.0) as (client, recorder):
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(HexNotConnectedError, match="closed while waiting"):
                await client.ping()
            assert loop.time() - started < 5.0  # not the timeout: the end of the connection
            assert hex_support(client) is None  # not taken for a text-only device
            await recorder.wait_for(
                lambda: client.connections >= 2 and client.link_state is LinkState.CONNECTED
            )


async def test_one_request_in_flight() -> None:
    model = Registers(dict(MPPT_VALUES))
    outstanding: list[bytes] = []
    most = 0
    holder: list[WireDevice] = []

    async def answer_later(request: bytes) -> None:
        await asyncio.sleep(0.02)
        outstanding.remove(request)
        holder[0].send(model(request))

    def respond(request: bytes) -> bytes:
        nonlocal most
        outstanding.append(request)
        most = max(most, len(outstanding))
        holder[0].spawn(answer_later(request))
        return b""

    async with wire_device(respond) as device, connected(device) as (client, _):
        holder.append(device)
        ids = [BATTERY_MAX_CURRENT, ABSORPTION_VOLTAGE, LOAD_OUTPUT_CONTROL, BATTERY_VOLTAGE, SERIAL_NUMBER]
        values = await asyncio.gather(*(client.get(mppt(register_id)) for register_id in ids), client.ping())
        assert values == [15.0, 14.4, "on", 12, "HQ2132QY2KR", "1.61"]
        assert most == 1
        assert len(device.requests) == 6


async def test_set_checks_the_range_before_writing_and_reads_back() -> None:
    def keep(register_id: int, payload: bytes) -> bytes:  # the device takes 28.8 V but keeps 28.7 V
        return struct.pack("<H", struct.unpack("<H", payload)[0] - 10)

    model = Registers(dict(MPPT_VALUES), keep=keep)
    async with wire_device(model) as device, connected(device) as (client, _):
        absorption = mppt(ABSORPTION_VOLTAGE)
        with pytest.raises(ValueError, match="outside"):
            await client.set(absorption, 28.8)  # a 12 V range: the battery voltage is not known yet
        assert device.requests == []
        assert await client.set(absorption, 28.8, battery_voltage=24) == 28.7  # the device's value, read back
        model.values[BATTERY_VOLTAGE] = b"\x18"
        assert await client.get(mppt(BATTERY_VOLTAGE)) == 24
        assert await client.set(absorption, 28.8) == 28.7  # now from the battery voltage register
        assert client.registers[ABSORPTION_VOLTAGE] == struct.pack("<H", 2870)


async def test_battery_voltage_register_that_cannot_be_used() -> None:
    model = Registers({**MPPT_VALUES, BATTERY_VOLTAGE: b"\x00\x00"})
    async with wire_device(model) as device, connected(device) as (client, _):
        assert await client.get(BATTERY_VOLTAGE) == b"\x00\x00"  # a raw read stores any length
        with pytest.raises(ValueError, match="outside"):
            await client.set(mppt(ABSORPTION_VOLTAGE), 28.8)
        model.values[BATTERY_VOLTAGE] = b"\x00"
        assert await client.get(mppt(BATTERY_VOLTAGE)) == 0
        with pytest.raises(ValueError, match="outside"):
            await client.set(mppt(ABSORPTION_VOLTAGE), 28.8)


async def test_a_failing_on_register_callback_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    block = MPPT_BLOCK + register_frame(Response.ASYNC, 0x0201, b"\x03")
    async with wire_device(lambda request: b"", block=block) as device:

        def broken(register_id: int, payload: bytes) -> None:
            raise RuntimeError("boom")

        recorder = Recorder()
        client = hex_client(device.url, recorder)
        client.on_register = broken
        assert client.on_register is broken
        async with running_client(client):
            await recorder.wait_for(lambda: 0x0201 in client.registers)
        assert "on_register callback failed" in caplog.text


async def test_probe_device_reads_the_serial_of_a_device_without_ser() -> None:
    model = Registers({SERIAL_NUMBER: b"HQ2112ABCDE\x00"}, product_id=0xA381)
    block = BMV_BLOCK + register_frame(Response.ASYNC, 0x0FFF, b"\x10\x27")  # HEX among the blocks
    async with wire_device(model, "pty", block=block) as device:
        found = await probe_device(device.url, 5.0)
        assert found.frame.product_id == 0xA381
        assert found.hex_serial == "HQ2112ABCDE"
        assert device.requests == [b":70A010043\n"]
        frame = await probe(device.url, 5.0)  # probe() alone never writes
        assert frame.serial_number is None
        assert len(device.requests) == 1


async def test_probe_device_writes_nothing_when_ser_is_sent() -> None:
    async with wire_device(Registers({})) as device:
        found = await probe_device(device.url, 5.0)
        assert found.frame.serial_number == "HQ2132QY2KR"
        assert found.hex_serial is None
        assert device.requests == []


@pytest.mark.parametrize(
    "respond",
    [
        lambda request: b"",  # text only
        lambda request: register_frame(Response.GET, SERIAL_NUMBER, b"", 0x01),  # no such register
        lambda request: register_frame(Response.GET, SERIAL_NUMBER, b"\x00\x00"),  # an empty serial
    ],
)
async def test_probe_device_without_a_hex_serial(respond: Responder) -> None:
    async with wire_device(respond, block=BMV_BLOCK) as device:
        found = await probe_device(device.url, 5.0)
        assert found.frame.product_id == 0xA381
        assert found.hex_serial is None


async def test_probe_device_when_the_bridge_drops_during_the_hex_read() -> None:
    holder: list[WireDevice] = []

    def respond(request: bytes) -> bytes:
        holder[0].drop()
        return b""

    async with wire_device(respond, block=BMV_BLOCK) as device:
        holder.append(device)
        found = await probe_device(device.url, 5.0)
        assert found.hex_serial is None
        assert found.frame.product_id == 0xA381


async def test_channel_arguments_and_errors_are_vedirect_errors() -> None:
    with pytest.raises(ValueError, match="timeout"):
        HexChannel("x", timeout=0)
    with pytest.raises(ValueError, match="tries"):
        HexChannel("x", tries=0)
    channel = HexChannel("x")
    assert not channel.connected
    channel.detach()  # nothing pending: a no-op
    for error in (HexTimeoutError, HexNotConnectedError, HexUnsupportedError, HexParameterError):
        assert issubclass(error, HexError)
        assert issubclass(error, VeDirectError)
    assert HexParameterError("refused").value is None


# --- through the simulator's HEX responder (vedirect_tools.hexdevice), via its public API only -------------


@asynccontextmanager
async def simulated(
    kind: DeviceKind, *, tcp: bool = False, **options: Any
) -> AsyncIterator[tuple[Simulator, VeDirectClient, Recorder]]:
    async with running_simulator(kind, tcp=tcp, **options) as sim:
        assert sim.url is not None
        recorder = Recorder()
        client = hex_client(sim.url, recorder)
        async with running_client(client):
            await recorder.wait_state(LinkState.CONNECTED)
            yield sim, client, recorder


def table(family: Family, register_id: int) -> Register:
    register = find_register(family, register_id)
    assert register is not None
    return register


async def test_simulated_mppt_get_set_round_trip() -> None:
    seen: list[int] = []
    async with simulated("mppt") as (sim, client, recorder):
        client.on_register = lambda register_id, payload: seen.append(register_id)
        assert await client.ping() == "1.61"
        pid = await client.product_id()
        assert pid == recorder.frames[-1].product_id
        assert family_of(pid, recorder.frames[-1].fields) is Family.MPPT
        assert await client.get(table(Family.MPPT, BATTERY_MAX_CURRENT)) == 15.0
        assert await client.set(table(Family.MPPT, BATTERY_MAX_CURRENT), 10.0) == 10.0
        assert sim_model(sim).value(BATTERY_MAX_CURRENT) == 10.0
        await recorder.wait_for(lambda: BATTERY_MAX_CURRENT in seen)  # the async frame after the change
        assert await client.set(table(Family.MPPT, LOAD_OUTPUT_CONTROL), "off") == "off"
        assert sim_model(sim).value(LOAD_OUTPUT_CONTROL) == "off"
        await recorder.wait_for(lambda: recorder.frames[-1].fields.get("LOAD") == "OFF")  # text follows
        assert await client.set(table(Family.MPPT, ABSORPTION_VOLTAGE), 14.2) == 14.2
        with pytest.raises(HexParameterError) as refused:  # above the charger's own maximum (20 A)
            await client.set(table(Family.MPPT, BATTERY_MAX_CURRENT), 50.0)
        assert refused.value.value == 20.0
        assert sim_model(sim).value(BATTERY_MAX_CURRENT) == 10.0
        with pytest.raises(HexNotWritableError):
            await client.set(table(Family.MPPT, 0xEDDF), 30.0)
        history = await client.get(table(Family.MPPT, HISTORY_YESTERDAY))
        assert isinstance(history, dict)
        assert history["battery_voltage_max_v"] == 14.42


async def test_simulated_bmv_over_tcp() -> None:
    async with simulated("bmv", tcp=True) as (sim, client, _):
        assert await client.get(table(Family.BMV, SERIAL_NUMBER)) == sim_model(sim).value(SERIAL_NUMBER)
        capacity = table(Family.BMV, BATTERY_CAPACITY)
        assert await client.get(capacity) == 200
        assert await client.set(capacity, 500) == 500
        assert sim_model(sim).value(BATTERY_CAPACITY) == 500
        with pytest.raises(ValueError, match="outside"):
            await client.set(capacity, 0)  # refused before a byte is written
        with pytest.raises(HexUnknownRegisterError):
            await client.get(ABSORPTION_VOLTAGE)  # an MPPT register
        assert await client.get(table(Family.BMV, BATTERY_TEMPERATURE)) is None  # n/a: no sensor


async def test_simulated_phoenix_device_mode() -> None:
    async with simulated("inverter") as (sim, client, _):
        mode = table(Family.INVERTER, DEVICE_MODE)
        assert await client.get(mode) == "on"
        assert await client.set(mode, "eco") == "eco"
        assert sim_model(sim).value(DEVICE_MODE) == "eco"
        setpoint = table(Family.INVERTER, AC_OUT_VOLTAGE_SETPOINT)
        assert await client.set(setpoint, 225.0) == 225.0


async def test_simulated_probe_device_reads_the_bmv_serial(tmp_path: Path) -> None:
    async with running_simulator("bmv", pty_link=tmp_path / "ttyVE0") as sim:
        assert sim.url is not None
        found = await probe_device(sim.url, 5.0)
        assert found.frame.serial_number is None
        assert found.hex_serial == sim_model(sim).value(SERIAL_NUMBER)


@pytest.mark.parametrize(
    "options",
    [{"hex": False}, {"faults": Faults(hex_no_answer=1.0)}, {"faults": Faults(hex_bad_checksum=1.0)}],
)
async def test_simulated_devices_that_never_answer_usably(options: dict[str, Any]) -> None:
    async with simulated("mppt", **options) as (_, client, _):
        with pytest.raises(HexUnsupportedError):
            await client.get(table(Family.MPPT, BATTERY_MAX_CURRENT))
        assert hex_support(client) is False
        assert BATTERY_MAX_CURRENT not in client.registers  # a corrupted reply is never applied


async def test_simulated_late_replies_still_match() -> None:
    async with simulated("mppt", faults=Faults(hex_late=1.0)) as (_, client, _):
        values = await asyncio.gather(
            *(client.get(table(Family.MPPT, BATTERY_MAX_CURRENT)) for _ in range(3))
        )
        assert values == [15.0] * 3


async def test_a_port_that_died_before_the_reader_noticed() -> None:
    """Writing to a connection already lost raises HexNotConnectedError, not a bare OSError."""
    async with wire_device(Registers({})) as device:
        assert device.url.startswith("socket://")
        host, port = device.url.removeprefix("socket://").split(":")
        _, writer = await asyncio.open_connection(host, int(port))
        channel = HexChannel("tcp", timeout=HEX_TIMEOUT)
        channel.attach(writer)
        assert channel.connected
        writer.close()
        await writer.wait_closed()
        with pytest.raises(HexNotConnectedError, match="cannot write"):
            await channel.ping()


async def test_probe_when_the_port_fails_before_any_block() -> None:
    device = WireDevice(lambda request: b"", block=b"")
    await device.start("pty")
    try:
        task = asyncio.create_task(probe_device(device.url, 5.0))
        await asyncio.sleep(0.2)
        await device.stop()  # the pty goes away under the open port
        with pytest.raises((PortOpenError, NoDataError)):  # an error or EOF, as the serialx version has it
            await task
    finally:
        await device.stop()


async def test_a_refused_value_is_decoded_by_the_family_register() -> None:
    def respond(request: bytes) -> bytes:
        (register_id,) = struct.unpack("<H", bytes.fromhex(request[2:6].decode()))
        payload = b"\x02" if register_id == DEVICE_MODE else b""
        return register_frame(Response.SET, register_id, payload, 0x04)

    inverter_mode = find_register(Family.INVERTER, DEVICE_MODE)
    assert inverter_mode is not None
    async with wire_device(respond) as device, connected(device) as (client, _):
        with pytest.raises(HexParameterError) as refused:
            await client.set(inverter_mode, "eco")
        assert refused.value.value == "on"  # the inverter's key, not the generic "inverter"
        with pytest.raises(HexParameterError) as refused:
            await client.set(mppt(BATTERY_MAX_CURRENT), 10.0)
        assert refused.value.value is None  # nothing (or nothing decodable) returned


async def test_a_bridge_echoing_the_requests_is_no_hex_device() -> None:
    """A bridge that sends every request back: the echo of a GET is no reply, and the SET "echo" is caught by
    the read-back GET, so nothing is taken as the device's answer and the device ends up text only."""
    async with wire_device(lambda request: request) as device, connected(device) as (client, _):
        with pytest.raises(HexUnsupportedError):
            await client.set(mppt(BATTERY_MAX_CURRENT), 10.0)
        assert hex_support(client) is False
        assert len(device.requests) == 4  # the SET once (its echo looks like a reply), the GET 3 times


async def test_a_device_gone_silent_is_not_taken_for_a_text_only_one() -> None:
    """No text block while the request waited (a device rebooting, a cable out): a timeout, not "no HEX"."""
    async with wire_device(lambda request: b"") as device, connected(device) as (client, _):
        device.period = 3600.0  # the next block is far away: the device is silent from now on
        await asyncio.sleep(0.1)
        with pytest.raises(HexTimeoutError):
            await client.get(mppt(SERIAL_NUMBER))
        assert hex_support(client) is None


async def test_a_write_whose_read_back_is_lost_returns_the_set_reply() -> None:
    """The device took the SET (its reply says so) but the read-back GET gets no answer: the write succeeded,
    with the value of the SET reply."""
    model = Registers(dict(MPPT_VALUES))

    def no_get(request: bytes) -> bytes:
        return b"" if request.startswith(b":7") else model(request)

    async with wire_device(model) as device, connected(device) as (client, _):
        assert await client.get(mppt(BATTERY_MAX_CURRENT)) == 15.0  # it speaks HEX
        device.respond = no_get
        assert await client.set(mppt(BATTERY_MAX_CURRENT), 10.0) == 10.0
        assert model.values[BATTERY_MAX_CURRENT] == struct.pack("<H", 100)
