"""VE.Direct over the network: Debian's ser2net in front of a simulator's pty, as serial servers in the field.

ser2net serves the pty as ``rfc2217://`` (Telnet COM-PORT-OPTION: serialx sets 19200 8N1 over the wire) and as
``socket://`` (raw TCP). Real time throughout: ser2net is a real process, so the loop's clock must run (no
freezer); the integration keeps its own timing (time_interval 1 s: stall after 5 s, reconnects after 1, 2,
4... s), the protocol-level tests use fast_client's short backoff.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
import itertools
import os
from pathlib import Path
import socket
import termios

from homeassistant.config_entries import SOURCE_USER, ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_NAME, CONF_PORT, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.vemonitor.const import CONF_ENTRY_TYPE, CONF_TIME_INTERVAL, DOMAIN, ENTRY_TYPE_VEDIRECT
from custom_components.vemonitor.vedirect.client import LinkState
from tests.ha_vedirect import MPPT_SERIAL, mppt_emission, repeating_simulator
from tests.vedirect_sim import FAST_RATE, WAIT, Recorder, fast_client, running_client
from vedirect_tools.ser2net import Ser2Net, Ser2NetError, find_ser2net
from vedirect_tools.simulator import Simulator, encode_block

pytestmark = [
    pytest.mark.skipif(
        find_ser2net() is None,
        reason="ser2net is not installed (Debian package ser2net; scripts/lib.sh puts it in the test root)",
    ),
    pytest.mark.usefixtures("socket_enabled"),
]

VOLTAGE = "sensor.mppt1_battery_voltage"
LINK = "binary_sensor.mppt1_ve_direct_link"
VALID_BLOCKS = "sensor.mppt1_valid_blocks"
INVALID_BLOCKS = "sensor.mppt1_invalid_blocks"


@pytest.fixture
async def mppt(tmp_path: Path) -> AsyncIterator[Simulator]:
    """The BlueSolar MPPT of the capture on a pty behind a stable link (as /dev/serial/by-id gives)."""
    async with repeating_simulator(mppt_emission(), pty_link=tmp_path / "ttyVE0") as sim:
        yield sim


@pytest.fixture
async def ser2net(mppt: Simulator) -> AsyncIterator[Ser2Net]:
    """ser2net serving the MPPT's link on both accepters (19200 8N1)."""
    assert mppt.url is not None
    async with Ser2Net(mppt.url) as server:
        yield server


def state_of(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll in real time (the integration's timers and ser2net both run on it), bounded by WAIT."""
    try:
        async with asyncio.timeout(WAIT):
            while not condition():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"not within {WAIT} s: {what}") from None


async def add_through_flow(hass: HomeAssistant, port: str) -> ConfigEntry:
    """The user flow's VE.Direct step with a URL: probed, created, set up."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": ENTRY_TYPE_VEDIRECT}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NAME: "MPPT1", CONF_PORT: port, CONF_TIME_INTERVAL: 1}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_ENTRY_TYPE: ENTRY_TYPE_VEDIRECT, CONF_NAME: "MPPT1", CONF_PORT: port}
    entry = result["result"]
    assert entry.unique_id == MPPT_SERIAL
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


def assert_mppt_values(hass: HomeAssistant) -> None:
    """The capture's values, and no block torn or altered on the way (Telnet escapes, CR handling)."""
    assert state_of(hass, VOLTAGE) == "13.37"
    assert state_of(hass, "sensor.mppt1_battery_current") == "5.44"
    assert state_of(hass, "sensor.mppt1_panel_power") == "74.0"
    assert state_of(hass, "sensor.mppt1_charger_state") == "bulk"
    assert state_of(hass, LINK) == STATE_ON
    assert state_of(hass, INVALID_BLOCKS) == "0"


@pytest.mark.parametrize("accepter", ["rfc2217", "raw"])
async def test_flow_adds_a_device_behind_ser2net(
    hass: HomeAssistant, ser2net: Ser2Net, accepter: str
) -> None:
    url = ser2net.rfc2217_url if accepter == "rfc2217" else ser2net.raw_url
    assert url.startswith("rfc2217://127.0.0.1:" if accepter == "rfc2217" else "socket://127.0.0.1:")
    entry = await add_through_flow(hass, url)
    assert_mppt_values(hass)
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_ser2net_restart_heals_by_itself(hass: HomeAssistant, ser2net: Ser2Net) -> None:
    entry = await add_through_flow(hass, ser2net.rfc2217_url)
    assert_mppt_values(hass)

    await ser2net.stop()  # the server goes away: the client reads EOF at once
    await wait_until(lambda: state_of(hass, LINK) == STATE_OFF, "the link sensor shows the loss")
    # Down past the client's first reconnect (1 s after the loss): that one is refused.
    await asyncio.sleep(1.2)
    await ser2net.start()  # same ports: the entry's URL is served again
    await wait_until(lambda: state_of(hass, LINK) == STATE_ON, "the link is back")
    back_at = int(state_of(hass, VALID_BLOCKS))
    await wait_until(lambda: int(state_of(hass, VALID_BLOCKS)) > back_at, "blocks are counted again")
    assert_mppt_values(hass)
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)


def line_settings(path: str) -> tuple[int, int]:
    """(speed, CSTOPB) of the pty as the OS has it now: what ser2net set on the device."""
    fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        attrs = termios.tcgetattr(fd)
    finally:
        os.close(fd)
    assert attrs[4] == attrs[5]  # input and output speed
    return attrs[5], attrs[2] & termios.CSTOPB


async def test_rfc2217_sets_19200_over_the_wire(mppt: Simulator) -> None:
    """ser2net's own default here is 9600 baud, 2 stop bits: only what the client negotiates makes the line
    19200 with 1 (a Linux pty keeps speed and stop bits; it forces 8 data bits and no parity, so those two
    cannot be seen here)."""
    assert mppt.url is not None
    async with Ser2Net(mppt.url, line="9600n82") as server:
        recorder = Recorder()
        async with running_client(fast_client(server.rfc2217_url, recorder)):
            await recorder.wait_frames(3)
            assert line_settings(mppt.url) == (termios.B19200, 0)
        # Raw TCP carries no line settings: ser2net's default stays (the check above tells them apart).
        # ser2net may still hold the device for the session just closed: the client retries by itself.
        recorder = Recorder()
        async with running_client(fast_client(server.raw_url, recorder)):
            await recorder.wait_frames(3)
            assert line_settings(mppt.url) == (termios.B9600, termios.CSTOPB)


def block_with_checksum(checksum: int) -> bytes:
    """A valid MPPT block whose checksum byte is ``checksum``: letters added to the SER# make it so."""
    fields = [("PID", "0xA05F"), ("SER#", "HQ"), ("V", "12800")]
    base = encode_block(fields)
    padding = (-checksum - sum(base[:-1])) % 256  # what the letters must add to the body, mod 256
    total, count = next(
        (total, count)
        for total in (padding, padding + 256, padding + 512)
        for count in range(1, 9)
        if ord("A") * count <= total <= ord("Z") * count
    )
    size, extra = divmod(total, count)
    letters = "".join(chr(size + (i < extra)) for i in range(count))
    block = encode_block([*fields[:1], ("SER#", "HQ" + letters), *fields[2:]])
    assert block[-1] == checksum
    return block


class CycleSource:
    """Sends the given blocks one per emission, forever."""

    def __init__(self, blocks: list[bytes]) -> None:
        self._blocks = itertools.cycle(blocks)

    def next_emission(self) -> list[bytes]:
        return [next(self._blocks)]


@pytest.mark.parametrize("accepter", ["rfc2217", "raw"])
async def test_telnet_special_bytes_pass_unchanged(accepter: str) -> None:
    """Checksum bytes 0xFF (Telnet IAC, doubled on the wire), CR and NUL arrive as sent: every block valid."""
    blocks = [block_with_checksum(byte) for byte in (0xFF, 0x0D, 0x00, 0xF0)]
    async with Simulator(CycleSource(blocks), rate=FAST_RATE) as sim:
        assert sim.url is not None
        async with Ser2Net(sim.url) as server:
            recorder = Recorder()
            client = fast_client(server.rfc2217_url if accepter == "rfc2217" else server.raw_url, recorder)
            async with running_client(client):
                await recorder.wait_frames(4 * len(blocks))
            assert client.stats.invalid_blocks == 0
            assert client.stats.valid_blocks >= 4 * len(blocks)


async def test_device_gone_behind_ser2net(mppt: Simulator, ser2net: Ser2Net) -> None:
    """ser2net drops the session when its device vanishes and refuses until it is back; it opens the link
    again on the next connect, so a simulator restarted on a new pty is followed."""
    recorder = Recorder()
    async with running_client(fast_client(ser2net.rfc2217_url, recorder)):
        await recorder.wait_frames(3)
        await mppt.stop()
        await recorder.wait_state(LinkState.DISCONNECTED)
        await mppt.start()
        await recorder.wait_frames(3)
        assert recorder.states[-1] is LinkState.CONNECTED
    assert ser2net.running


async def test_a_taken_port_is_reported() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = Ser2Net("/dev/null", raw_port=taken.getsockname()[1], startup_timeout=0.3)
        with pytest.raises(Ser2NetError, match="did not listen"):
            await server.start()
        assert not server.running
        await server.close()
    with pytest.raises(ValueError, match="device path"):
        Ser2Net("/dev/tty,S0")
    with pytest.raises(ValueError, match="line setting"):
        Ser2Net("/dev/ttyS0", line="19200")
