"""The simulator speaks HEX: raw request bytes on a real pty and a real TCP socket, the replies as bytes.

The expected frames are the worked examples of the protocol reference (section 5) where it has one.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
import json
from pathlib import Path
import signal
import struct
import subprocess
import sys

import pytest
import serialx

from custom_components.vemonitor.vedirect import registers as regs
from custom_components.vemonitor.vedirect.framing import FrameEvent, FrameParser, TextBlock
from custom_components.vemonitor.vedirect.hexproto import HexFrame, encode_frame, encode_get, encode_set
from tests.vedirect_sim import CAPTURES, WAIT, running_simulator
from vedirect_tools import cli, hexdevice
from vedirect_tools.hexdevice import HexDevice, RequestBuffer, default_model, model_for_capture
from vedirect_tools.simulator import (
    CaptureSource,
    Faults,
    Simulator,
    SyntheticDevice,
    encode_block,
    synthetic_device,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

ROOT = Path(__file__).resolve().parents[2]
TRANSPORTS = pytest.mark.parametrize("tcp", [False, True], ids=["pty", "tcp"])


class Link:
    """A raw client: writes request bytes, parses what comes back, keeps the events in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = FrameParser()
        self.pending: list[FrameEvent] = []

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def next_event(self, match: Callable[[FrameEvent], bool], timeout: float = WAIT) -> FrameEvent:
        """The next event that ``match`` accepts; the ones before it are dropped."""
        async with asyncio.timeout(timeout):
            while True:
                while self.pending:
                    event = self.pending.pop(0)
                    if match(event):
                        return event
                chunk = await self.reader.read(4096)
                assert chunk, "EOF"
                self.pending += self.parser.feed(chunk)

    async def next_hex(self, timeout: float = WAIT) -> HexFrame:
        event = await self.next_event(lambda event: isinstance(event, HexFrame), timeout)
        assert isinstance(event, HexFrame)
        return event

    async def next_block(self, timeout: float = WAIT) -> TextBlock:
        event = await self.next_event(lambda event: isinstance(event, TextBlock) and event.valid, timeout)
        assert isinstance(event, TextBlock)
        return event

    async def request(self, data: bytes, replies: int = 1) -> list[bytes]:
        """Send ``data``; the raw bytes of the next ``replies`` HEX frames."""
        await self.send(data)
        return [(await self.next_hex()).raw for _ in range(replies)]

    async def blocks_after(self, data: bytes, count: int = 3) -> list[TextBlock]:
        """Send a request, drop its replies, return ``count`` blocks emitted after they came."""
        await self.request(data, 2)  # a change: the reply and its async frame
        await self.next_block()  # may have been under way before the change
        return [await self.next_block() for _ in range(count)]

    async def no_hex_within(self, blocks: int) -> None:
        """Fail on any HEX frame before ``blocks`` more valid text blocks came."""
        for _ in range(blocks):
            event = await self.next_event(
                lambda e: isinstance(e, HexFrame) or (isinstance(e, TextBlock) and e.valid)
            )
            assert isinstance(event, TextBlock), f"unexpected HEX frame {event.raw!r}"


@asynccontextmanager
async def link_to(sim: Simulator) -> AsyncIterator[Link]:
    assert sim.url is not None
    reader, writer = await serialx.open_serial_connection(url=sim.url, baudrate=19200)
    try:
        yield Link(reader, writer)
    finally:
        writer.close()
        await writer.wait_closed()


def get(register_id: int) -> bytes:
    return encode_get(register_id)


def set_(register_id: int, payload: bytes) -> bytes:
    return encode_set(register_id, payload)


def u16(value: int) -> bytes:
    return struct.pack("<H", value)


def reply(command: int, register_id: int, flags: int = 0, payload: bytes = b"") -> bytes:
    return hexdevice.reply_register(command, register_id, flags, payload)


# The request buffer and the model, without a transport.


def test_request_buffer_cuts_frames_and_ignores_the_rest() -> None:
    buffer = RequestBuffer()
    assert buffer.feed(b"noise\r\n:15") == []
    assert buffer.feed(b"4\n\x00junk:7F0ED0071\n") == [b":154\n", b":7F0ED0071\n"]
    assert buffer.feed(b":7F0E:154\n") == [b":154\n"]  # a ":" starts over
    assert buffer.feed(b":" + b"0" * 500 + b"\n") == []  # longer than any frame: dropped
    assert buffer.feed(b"\n:451\n") == [b":451\n"]


def test_model_answers_the_reference_examples() -> None:
    mppt = default_model(regs.Family.MPPT)
    assert mppt.answer(b":154\n") == [b":56141AE\n"]
    assert mppt.answer(b":352\n") == [encode_frame(1, b"\x61\x41")]
    assert mppt.answer(b":451\n") == [b":15FA055\n"]
    assert mppt.answer(b":7F0ED0071\n") == [b":7F0ED009600DB\n"]
    assert mppt.answer(b":8F0ED0064000C\n") == [b":8F0ED0064000C\n", b":AF0ED0064000A\n"]
    assert mppt.answer(b":8F0ED0064000C\n") == [b":8F0ED0064000C\n"]  # no change: no async frame
    assert mppt.answer(b":253\n") == [b":3020050\n"]
    assert mppt.answer(b":452\n") == [b":4AAAAFD\n"]
    assert mppt.answer(b":64F\n") == []  # restart: no reply
    assert mppt.answer(encode_frame(0, bytes.fromhex("51FA51FA51FA51FA51FA"))) == [encode_frame(4, b"\0\0")]
    assert mppt.answer(encode_frame(7, b"\xf0")) == [hexdevice.FRAMING_ERROR]  # a GET without id and flags
    assert mppt.answer(b":7F0ED0\n") == [hexdevice.FRAMING_ERROR]  # odd length
    bmv = default_model(regs.Family.BMV)
    assert bmv.answer(b":70010003E\n") == [b":7001000C80076\n"]
    assert bmv.answer(b":8001000F40148\n") == [b":8001000F40148\n", b":A001000F40146\n"]
    # 0 Ah: refused with the nearest valid value, 1 Ah.
    assert bmv.answer(set_(regs.BATTERY_CAPACITY, u16(0))) == [b":8001004010038\n"]
    assert bmv.value(regs.BATTERY_CAPACITY) == 500
    assert bmv.answer(b":451\n") == [b":181A330\n"]


def test_set_flags_and_ranges() -> None:
    mppt = default_model(regs.Family.MPPT)
    # Out of range: flag 4 with the nearest valid value, nothing changes.
    assert mppt.answer(set_(0xEDF7, u16(1700))) == [reply(8, 0xEDF7, 4, u16(1600))]
    assert mppt.answer(set_(0xEDF7, u16(900))) == [reply(8, 0xEDF7, 4, u16(1000))]
    # The battery maximum current is capped by the charger's maximum current (20 A).
    assert mppt.answer(set_(0xEDF0, u16(300))) == [reply(8, 0xEDF0, 4, u16(200))]
    assert mppt.value(regs.ABSORPTION_VOLTAGE) == 14.4
    assert mppt.value(regs.BATTERY_MAX_CURRENT) == 15.0
    # Per-12 V ranges scale with the battery voltage: 28.8 V is fine on 24 V.
    mppt.set_value(regs.BATTERY_VOLTAGE, 24)
    assert mppt.answer(set_(0xEDF7, u16(2880)))[0] == reply(8, 0xEDF7, 0, u16(2880))
    assert mppt.value(regs.ABSORPTION_VOLTAGE) == 28.8
    # Read-only: flag 2 with the current value; unknown: flag 1.
    voltage = mppt.registers[0xEDD5]
    assert mppt.answer(set_(0xEDD5, u16(0))) == [reply(8, 0xEDD5, 2, voltage)]
    assert mppt.answer(get(0x1234)) == [reply(7, 0x1234, 1)]
    assert mppt.answer(set_(0x1234, b"\x01")) == [reply(8, 0x1234, 1)]
    # A wrong length or an unknown option: flag 4 with the current value.
    assert mppt.answer(set_(0xEDF0, b"\x01")) == [reply(8, 0xEDF0, 4, u16(150))]
    assert mppt.answer(set_(regs.LOAD_OUTPUT_CONTROL, b"\x09")) == [
        reply(8, regs.LOAD_OUTPUT_CONTROL, 4, b"\x04")
    ]
    # Daily history: today and yesterday are held, older days are empty records (flag 4).
    assert mppt.answer(get(regs.HISTORY_TODAY))[0].startswith(b":75010")
    assert mppt.answer(get(regs.HISTORY_TODAY + 5)) == [reply(7, regs.HISTORY_TODAY + 5, 4)]
    # An enum register takes a known code.
    assert mppt.answer(set_(regs.LOAD_OUTPUT_CONTROL, b"\x00")) == [
        reply(8, regs.LOAD_OUTPUT_CONTROL, 0, b"\x00"),
        reply(0xA, regs.LOAD_OUTPUT_CONTROL, 0, b"\x00"),
    ]
    assert mppt.value(regs.LOAD_OUTPUT_CONTROL) == "off"


def test_models_cover_the_register_tables() -> None:
    """Every register of a family's table is in its model, but those the device does not have."""
    absent = {
        regs.Family.MPPT: set(),
        regs.Family.BMV: {
            regs.DEVICE_MODE,
            regs.DEVICE_STATE,
            regs.DEVICE_OFF_REASON_LEGACY,
            regs.DEVICE_OFF_REASON,
        },
        regs.Family.INVERTER: set(),
    }
    for family, table in regs.REGISTER_TABLES.items():
        model = default_model(family)
        assert set(model.registers) <= set(table)
        assert set(table) - set(model.registers) == absent[family]
        for register_id in model.registers:  # every value decodes
            model.value(register_id)
    assert default_model(regs.Family.BMV).value(regs.SERIAL_NUMBER) == "HQ2112ABCDE"
    assert default_model(regs.Family.BMV).value(regs.BATTERY_TEMPERATURE) is None  # no sensor: 0xFFFF
    assert hexdevice.SERIAL_NUMBERS[regs.Family.MPPT] == "HQ2132QXH4K"
    generic = default_model(None, 0xA3C0)
    assert set(generic.registers) == {regs.PRODUCT_ID, regs.SERIAL_NUMBER, regs.MODEL_NAME}
    assert generic.answer(b":451\n") == [encode_frame(1, u16(0xA3C0))]
    with pytest.raises(KeyError):
        generic.register(0x9999)


def test_set_value_announces_a_change_and_writes_the_state(tmp_path: Path) -> None:
    model = default_model(regs.Family.MPPT)
    sent: list[bytes] = []
    model.on_async = sent.append
    model.state_path = tmp_path / "state.json"
    assert model.set_value(regs.LOAD_OUTPUT_CONTROL, "off")
    assert sent == [b":AABED0000B3\n"]
    assert not model.set_value(regs.LOAD_OUTPUT_CONTROL, "off")  # no change, nothing sent
    assert model.set_value(regs.DEVICE_MODE, "off", announce=False)
    assert len(sent) == 1
    state = json.loads(model.state_path.read_text())
    assert state["family"] == "mppt"
    assert state["product_id"] == "0xA05F"
    assert state["version"] == "1.61"
    assert state["registers"]["0xEDAB"] == {"key": "load_output_control", "value": "off", "raw": "00"}
    assert state["registers"]["0x0200"]["value"] == "off"
    assert state["registers"]["0x0207"]["value"] == []  # a bitmask: its keys
    assert state["registers"]["0x1051"]["value"]["yield_kwh"] == 1.12
    assert list(tmp_path.iterdir()) == [model.state_path]  # written atomically, no temporary left


@pytest.mark.parametrize(
    ("name", "family", "product_id", "serial"),
    [
        ("bmv-712_fw0403_a.log", regs.Family.BMV, 0xA381, "HQ2112ABCDE"),
        ("bmv-700_fw0308.dump", regs.Family.BMV, 0x0203, "HQ2112ABCDE"),
        ("smartshunt-500a_fw0405.bin", regs.Family.BMV, 0xA389, "HQ2112ABCDE"),
        ("smartsolar-100-20_fw139.dump", regs.Family.MPPT, 0xA05F, "HQ18486U2B4"),
        ("bmv-700_mangled-all-bad.dump", None, 0, "HQ0000SIM00"),
    ],
)
def test_capture_model_is_its_family_default(
    name: str, family: regs.Family | None, product_id: int, serial: str
) -> None:
    model = CaptureSource.from_file(CAPTURES / name).hex
    assert (model.family, model.product_id, model.value(regs.SERIAL_NUMBER)) == (family, product_id, serial)
    odd = model_for_capture(encode_block([("PID", "0xZZ"), ("V", "12000"), ("PPV", "0")]))
    assert (odd.family, odd.product_id) == (regs.Family.MPPT, 0xA05F)  # by its labels: a solar charger


def test_synthetic_text_and_registers_agree() -> None:
    """A GET reads what the text block of the same period says."""
    mppt = synthetic_device("mppt", seed=4)
    bmv = synthetic_device("bmv", seed=4)
    inverter = synthetic_device("inverter", seed=4)

    def fields(device: SyntheticDevice) -> dict[str, str]:
        events = FrameParser().feed(b"".join(device.next_emission()))
        return {k: v for event in events if isinstance(event, TextBlock) for k, v in event.fields.items()}

    for _ in range(50):
        text = fields(mppt)
        assert mppt.hex.value(0xEDD5) == pytest.approx(int(text["V"]) / 1000, abs=0.01)
        assert mppt.hex.value(0xEDBC) == int(text["PPV"])
        assert mppt.hex.registers[regs.DEVICE_STATE][0] == int(text["CS"])
        assert mppt.hex.value(0xEDD2) == int(text["H21"])
        assert mppt.hex.value(0xEDAD) == pytest.approx(int(text["IL"]) / 1000, abs=0.1)
        text = fields(bmv)
        assert bmv.hex.value(0x0FFF) == pytest.approx(int(text["SOC"]) / 10, abs=0.1)
        assert bmv.hex.value(0xED8D) == pytest.approx(int(text["V"]) / 1000, abs=0.01)
        text = fields(inverter)
        assert inverter.hex.value(0x2205) == int(text["AC_OUT_S"])
        assert inverter.hex.value(0x2200) == pytest.approx(int(text["AC_OUT_V"]) / 100, abs=0.01)


def test_mppt_charge_state_follows_its_absorption_voltage() -> None:
    device = synthetic_device("mppt", seed=1)
    device.hex.set_value(regs.ABSORPTION_VOLTAGE, 11.0, announce=False)  # below the battery: absorb, float
    states = set()
    for _ in range(20):
        events = FrameParser().feed(b"".join(device.next_emission()))
        states |= {event.fields["CS"] for event in events if isinstance(event, TextBlock)}
    assert states == {"4"}
    assert device.hex.value(regs.DEVICE_STATE) == "absorption"


def test_faults_validate_the_hex_probabilities() -> None:
    for name in ("hex_no_answer", "hex_bad_checksum", "hex_late"):
        with pytest.raises(ValueError, match=name):
            Faults(**{name: 1.5})  # type: ignore[arg-type]


# Over a real pty and a real TCP socket.


@TRANSPORTS
async def test_reference_exchanges_on_the_wire(tcp: bool) -> None:
    async with running_simulator("mppt", tcp=tcp) as sim, link_to(sim) as link:
        assert await link.request(b":154\n") == [b":56141AE\n"]
        assert await link.request(b":451\n") == [b":15FA055\n"]
        assert await link.request(b":7F0ED0071\n") == [b":7F0ED009600DB\n"]
        assert await link.request(b":8F0ED0064000C\n", 2) == [b":8F0ED0064000C\n", b":AF0ED0064000A\n"]
        assert sim.hex is not None
        assert sim.hex.value(regs.BATTERY_MAX_CURRENT) == 10.0
        assert await link.request(set_(0xEDF7, u16(2000))) == [reply(8, 0xEDF7, 4, u16(1600))]
        await link.send(set_(0xEDD5, u16(0)))  # read-only (its value moves with every period)
        refused = await link.next_hex()
        assert (refused.valid, refused.register, refused.flags) == (True, 0xEDD5, 2)
        assert await link.request(get(0x1234)) == [reply(7, 0x1234, 1)]
        assert await link.request(b":253\n") == [b":3020050\n"]
        assert await link.request(b":452\n") == [b":4AAAAFD\n"]
        # A request split into pieces with text noise around it is still one request.
        await link.send(b"\r\nxx:7F0")
        await asyncio.sleep(0.05)
        assert await link.request(b"ED0071\n") == [reply(7, 0xEDF0, 0, u16(100))]


@TRANSPORTS
async def test_mppt_text_follows_its_registers(tcp: bool) -> None:
    async with running_simulator("mppt", tcp=tcp, seed=2) as sim, link_to(sim) as link:
        assert {block.fields["LOAD"] for block in [await link.next_block() for _ in range(3)]} == {"ON"}
        for block in await link.blocks_after(set_(regs.LOAD_OUTPUT_CONTROL, b"\x00")):
            assert (block.fields["LOAD"], block.fields["IL"]) == ("OFF", "0")
        for block in await link.blocks_after(set_(regs.BATTERY_MAX_CURRENT, u16(20))):  # 2.0 A
            assert int(block.fields["PPV"]) * 0.97 / (int(block.fields["V"]) / 1000) <= 2.05
        for block in await link.blocks_after(set_(regs.DEVICE_MODE, b"\x04")):
            assert (block.fields["CS"], block.fields["PPV"], block.fields["OR"]) == ("0", "0", "0x00000004")
            assert int(block.fields["I"]) <= 0
        assert await link.request(get(regs.DEVICE_STATE)) == [reply(7, regs.DEVICE_STATE, 0, b"\x00")]
        for block in await link.blocks_after(set_(regs.LOAD_OUTPUT_CONTROL, b"\x01")):  # auto: on here
            assert block.fields["LOAD"] == "ON"


async def test_inverter_text_follows_its_registers() -> None:
    async with running_simulator("inverter", tcp=True) as sim, link_to(sim) as link:
        for block in await link.blocks_after(set_(regs.AC_OUT_VOLTAGE_SETPOINT, u16(22000))):
            assert 21_950 <= int(block.fields["AC_OUT_V"]) <= 22_050
        for block in await link.blocks_after(set_(regs.DEVICE_MODE, b"\x05")):
            assert (block.fields["MODE"], block.fields["CS"]) == ("5", "9")
        for block in await link.blocks_after(set_(regs.DEVICE_MODE, b"\x04")):
            assert block.fields["MODE"] == "4"
            assert (block.fields["CS"], block.fields["AC_OUT_V"], block.fields["AC_OUT_S"]) == ("0", "0", "0")
            assert block.fields["OR"] == "0x00000004"
        assert await link.request(set_(regs.DEVICE_MODE, b"\x01")) == [reply(8, regs.DEVICE_MODE, 4, b"\x04")]


async def test_bmv_settings_stay_out_of_its_text(tmp_path: Path) -> None:
    async with running_simulator("bmv", pty_link=tmp_path / "tty") as sim, link_to(sim) as link:
        before = [await link.next_block() for _ in range(4)]
        assert await link.request(get(regs.SERIAL_NUMBER)) == [
            reply(7, regs.SERIAL_NUMBER, 0, b"HQ2112ABCDE")
        ]
        after = await link.blocks_after(set_(regs.BATTERY_CAPACITY, u16(400)), 4)
        assert {tuple(block.fields) for block in after} == {tuple(block.fields) for block in before}
        assert await link.request(get(regs.DEVICE_MODE)) == [reply(7, regs.DEVICE_MODE, 1)]


async def test_async_frame_after_a_change_on_the_device(tmp_path: Path) -> None:
    log = tmp_path / "sent.jsonl"
    async with running_simulator("mppt", tcp=True, sent_log=log) as sim, link_to(sim) as link:
        await link.next_block()
        assert sim.hex is not None
        sim.hex.set_value(regs.LOAD_OUTPUT_CONTROL, "off")
        assert (await link.next_hex()).raw == b":AABED0000B3\n"
        assert await link.request(b":154\n") == [b":56141AE\n"]
    sent = [json.loads(line)["data"] for line in log.read_text().splitlines()]
    assert b":AABED0000B3\n".hex() in sent
    assert b":56141AE\n".hex() in sent  # replies are logged like everything sent


@TRANSPORTS
async def test_fault_no_answer(tcp: bool) -> None:
    async with (
        running_simulator("mppt", tcp=tcp, faults=Faults(hex_no_answer=1.0)) as sim,
        link_to(sim) as link,
    ):
        await link.send(b":154\n" + get(0xEDF0))
        await link.no_hex_within(10)


@TRANSPORTS
async def test_fault_bad_checksum(tcp: bool) -> None:
    async with (
        running_simulator("mppt", tcp=tcp, faults=Faults(hex_bad_checksum=1.0)) as sim,
        link_to(sim) as link,
    ):
        await link.send(set_(regs.LOAD_OUTPUT_CONTROL, b"\x00"))
        corrupted = await link.next_hex()
        assert not corrupted.valid
        assert corrupted.raw[:-3] == reply(8, regs.LOAD_OUTPUT_CONTROL, 0, b"\x00")[:-3]
        follow = await link.next_hex()
        assert follow.valid  # the async frame after the change is intact: only the reply is corrupted
        assert follow.raw == b":AABED0000B3\n"


@TRANSPORTS
async def test_fault_late_reply_comes_after_the_next_text_block(tcp: bool) -> None:
    async with (
        running_simulator("mppt", tcp=tcp, rate=5, faults=Faults(hex_late=1.0)) as sim,
        link_to(sim) as link,
    ):
        await link.next_block()
        blocks_before = 0
        await link.send(b":154\n")
        while True:
            event = await link.next_event(
                lambda e: isinstance(e, HexFrame) or (isinstance(e, TextBlock) and e.valid)
            )
            if isinstance(event, HexFrame):
                break
            blocks_before += 1
        assert event.raw == b":56141AE\n"
        assert blocks_before >= 1


@TRANSPORTS
async def test_text_only_device_never_answers(tcp: bool) -> None:
    async with running_simulator("mppt", tcp=tcp, hex=False) as sim, link_to(sim) as link:
        assert sim.hex is None
        await link.send(b":154\n:451\n" + get(regs.SERIAL_NUMBER))
        await link.no_hex_within(10)


async def test_paused_device_answers_nothing_then_answers_again() -> None:
    async with running_simulator("bmv", tcp=True) as sim, link_to(sim) as link:
        await link.next_block()
        sim.pause()
        await link.send(b":154\n")
        await asyncio.sleep(0.2)
        sim.resume()
        await link.no_hex_within(4)
        assert await link.request(b":154\n") == [b":56141AE\n"]


async def test_capture_replay_answers_with_its_family_model(tmp_path: Path) -> None:
    sim = Simulator(
        CaptureSource.from_file(CAPTURES / "smartsolar-100-20_fw139.dump", loop=True),
        rate=50,
        pty_link=tmp_path / "tty",
    )
    async with sim, link_to(sim) as link:
        assert await link.request(b":451\n") == [b":15FA055\n"]
        assert await link.request(get(regs.SERIAL_NUMBER)) == [
            reply(7, regs.SERIAL_NUMBER, 0, b"HQ18486U2B4")
        ]
        assert await link.request(get(regs.LOAD_OUTPUT_CONTROL)) == [
            reply(7, regs.LOAD_OUTPUT_CONTROL, 0, b"\x04")
        ]


async def test_replugged_pty_answers_on_the_new_port(tmp_path: Path) -> None:
    async with running_simulator("mppt", pty_link=tmp_path / "tty") as sim:
        async with link_to(sim) as link:
            assert await link.request(b":154\n") == [b":56141AE\n"]
        await sim.replug(0.05)
        async with link_to(sim) as link:
            assert await link.request(b":451\n") == [b":15FA055\n"]


async def test_hex_state_file_follows_every_change(tmp_path: Path) -> None:
    state = tmp_path / "mppt.hex.json"
    async with running_simulator("mppt", tcp=True, hex_state=state) as sim, link_to(sim) as link:
        assert json.loads(state.read_text())["registers"]["0xEDAB"]["value"] == "on"
        await link.request(set_(regs.LOAD_OUTPUT_CONTROL, b"\x00"), 2)
        assert json.loads(state.read_text())["registers"]["0xEDAB"]["value"] == "off"
        block = await link.next_block()
        registers = json.loads(state.read_text())["registers"]
        assert registers["0xEDA8"]["value"] == 0  # the load output state followed, on the next period
        assert registers["0xEDD2"]["value"] >= int(block.fields["H21"])


def test_running_simulator_answers_hex_by_default() -> None:
    """The helper's defaults: HEX on, no HEX fault (existing tests never send a request, so see no change)."""
    sim = Simulator(synthetic_device("bmv"))
    assert isinstance(sim.hex, HexDevice)
    assert Simulator(synthetic_device("bmv"), hex=False).hex is None
    custom = default_model(regs.Family.MPPT)
    assert Simulator(synthetic_device("bmv"), hex_model=custom).hex is custom


# The command line.


def test_cli_hex_options_build_the_simulator(tmp_path: Path) -> None:
    parser = cli.build_parser()
    args = parser.parse_args(
        [
            *("simulate", "--device", "mppt", "--hex-no-answer", "0.1", "--hex-bad-checksum", "0.2"),
            *("--hex-late", "0.3", "--hex-state", str(tmp_path / "state.json")),
        ]
    )
    sim = cli.build_simulator(args)
    assert (sim.faults.hex_no_answer, sim.faults.hex_bad_checksum, sim.faults.hex_late) == (0.1, 0.2, 0.3)
    assert sim.hex is not None
    assert sim.hex.state_path == tmp_path / "state.json"
    assert cli.build_simulator(parser.parse_args(["simulate", "--device", "bmv", "--no-hex"])).hex is None
    capture = cli.build_simulator(parser.parse_args(["simulate", str(CAPTURES / "bmv-712_fw0403_a.log")]))
    assert capture.hex is not None
    assert capture.hex.product_id == 0xA381


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "--device", "mppt", "--hex-late", "2"],
        ["simulate", "--device", "mppt", "--hex-no-answer", "-1"],
        ["simulate", "--device", "mppt", "--no-hex", "--hex-state", "x.json"],
    ],
)
def test_cli_hex_option_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


async def test_simulate_process_answers_hex_and_keeps_its_state(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "vedirect_tools", "simulate", "--device", "mppt", "--rate", "20"),
        *("--tcp", "127.0.0.1:0", "--hex-state", str(state), "--hex-bad-checksum", "0"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        url = (await asyncio.wait_for(process.stdout.readline(), WAIT)).decode().strip()
        reader, writer = await serialx.open_serial_connection(url=url, baudrate=19200)
        link = Link(reader, writer)
        assert await link.request(b":154\n") == [b":56141AE\n"]
        await link.request(set_(regs.LOAD_OUTPUT_CONTROL, b"\x00"), 2)
        assert json.loads(state.read_text())["registers"]["0xEDAB"]["value"] == "off"
        writer.close()
        await writer.wait_closed()
    finally:
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), WAIT) == 0


async def test_simulate_process_without_hex_stays_silent() -> None:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "vedirect_tools", "simulate", "--device", "bmv", "--rate", "20"),
        *("--tcp", "127.0.0.1:0", "--no-hex"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        url = (await asyncio.wait_for(process.stdout.readline(), WAIT)).decode().strip()
        reader, writer = await serialx.open_serial_connection(url=url, baudrate=19200)
        link = Link(reader, writer)
        await link.send(b":154\n")
        await link.no_hex_within(6)
        writer.close()
        await writer.wait_closed()
    finally:
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), WAIT) == 0
