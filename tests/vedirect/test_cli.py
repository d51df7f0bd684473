"""The command line, as real subprocesses (``python -m vedirect_tools``) and in-process through ``main()``.

The subprocess tests cover what only a real process shows (stdin/stdout, signals, pty and TCP serving, the
imports it does without Home Assistant); the rest runs in-process, faster and measured by coverage.
"""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
import importlib
import io
import json
from pathlib import Path
import signal
import subprocess
import sys
from typing import Any

import pytest

from custom_components.vemonitor.vedirect.client import LinkState
from custom_components.vemonitor.vedirect.framing import FrameParser, ParserStats
from tests.vedirect_sim import CAPTURES, WAIT, Recorder, fast_client, running_client
from vedirect_tools import cli, protocol
from vedirect_tools.simulator import CaptureSource, Simulator, encode_block

pytestmark = pytest.mark.usefixtures("socket_enabled")

ROOT = Path(__file__).parent.parent.parent
MODULE = [sys.executable, "-m", "vedirect_tools"]
# ``python -m vedirect_tools``, then the top-level names of every module it imported, as JSON on stderr.
IMPORTS_REPORTED = [
    sys.executable,
    "-c",
    """\
import json, runpy, sys
try:
    runpy.run_module("vedirect_tools", run_name="__main__", alter_sys=True)
finally:
    print(json.dumps(sorted({name.partition(".")[0] for name in sys.modules})), file=sys.stderr)
""",
]

# captures/README.md: valid blocks and HEX frames of each capture.
EXPECTED = {
    "bluesolar-mppt-75-15_fw150.log": (1057, 21),
    "bmv-712_fw0403_a.log": (2967, 0),
    "bmv-712_fw0403_b-junk-start.log": (95, 0),
    "bmv-700_fw0308.dump": (906, 0),
    "smartsolar-100-20_fw139.dump": (493, 2),
    "smartsolar-100-15_fw164.bin": (12, 0),
    "smartshunt-500a_fw0405.bin": (2, 0),
    "bmv-700_mangled-all-bad.dump": (0, 0),
}


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def check_decoded(lines: list[dict[str, Any]], valid: int, hex_frames: int) -> dict[str, Any]:
    """The lines agree with their summary, which is last; return the summary."""
    summary = lines[-1]
    assert summary["type"] == "summary"
    assert all(line["type"] in ("block", "hex") for line in lines[:-1])
    blocks = [line for line in lines if line["type"] == "block"]
    assert summary["valid_blocks"] == valid == sum(line["valid"] for line in blocks)
    assert summary["invalid_blocks"] == sum(not line["valid"] for line in blocks)
    hexes = [line for line in lines if line["type"] == "hex"]
    assert summary["hex_frames"] == hex_frames == sum(line["valid"] for line in hexes)
    assert summary["invalid_hex_frames"] == sum(not line["valid"] for line in hexes)
    for line in blocks:
        if line["valid"]:
            assert "Checksum" not in line["fields"]
            assert line["values"].keys() == line["fields"].keys()
        else:
            assert line == {"type": "block", "valid": False}
    return summary


async def run_module(
    *args: str, stdin: bytes | None = None, command: Sequence[str] = MODULE
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *command,
        *args,
        cwd=ROOT,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@asynccontextmanager
async def simulate_process(*args: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """``simulate ...`` as a subprocess; yields it and the port it printed first. SIGTERM ends it."""
    process = await asyncio.create_subprocess_exec(
        *MODULE, "simulate", *args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(60):
            url = (await process.stdout.readline()).decode().strip()
        assert url, (await process.communicate())[1].decode()
        yield process, url
    finally:
        if process.returncode is None:
            process.terminate()
        async with asyncio.timeout(WAIT):
            await process.wait()


# --- real subprocesses ------------------------------------------------------------------------------------


async def test_decode_subprocess_stdin_and_path() -> None:
    """The acceptance check (2967 valid blocks from stdin) and a path with HEX frames, side by side."""
    stdin_run = run_module("decode", "-", stdin=(CAPTURES / "bmv-712_fw0403_a.log").read_bytes())
    path_run = run_module("decode", str(CAPTURES / "smartsolar-100-20_fw139.dump"))
    (code, out, err), (path_code, path_out, _) = await asyncio.gather(stdin_run, path_run)
    assert (code, err) == (0, "")
    assert check_decoded(json_lines(out), 2967, 0)["valid_blocks"] == 2967
    assert path_code == 0
    lines = json_lines(path_out)
    check_decoded(lines, 493, 2)
    block = next(line for line in lines if line["type"] == "block" and line["valid"])
    assert block["fields"]["PID"] == "0xA05F"
    assert block["values"]["V"] == 12.81
    assert block["values"]["LOAD"] is True
    assert block["values"]["CS"] == "off"
    assert block["values"]["MPPT"] == "off"


async def test_decode_stdin_imports_neither_home_assistant_nor_the_integration() -> None:
    """The tools load the protocol package alone: no Home Assistant, no integration ``__init__``, and
    decoding bytes needs no serialx either. The output is the in-process decoder's, byte for byte."""
    data = (CAPTURES / "bmv-712_fw0403_a.log").read_bytes()
    code, out, err = await run_module("decode", "-", stdin=data, command=IMPORTS_REPORTED)
    assert code == 0, err
    check_decoded(json_lines(out), 2967, 0)
    expected = io.StringIO()
    cli.decode_stream(io.BytesIO(data), expected)
    assert out == expected.getvalue()
    imported = set(json.loads(err.splitlines()[-1]))
    assert protocol.STANDALONE_PACKAGE in imported
    assert imported.isdisjoint({"homeassistant", "custom_components", "serialx"})


async def test_simulate_tcp_with_faults_read_by_decode_url() -> None:
    async with simulate_process(
        "--device", "mppt", "--tcp", "127.0.0.1:0", "--rate", "100", "--seed", "4",
        "--bad-checksum", "0.3", "--garbage", "0.5", "--hex-interleave", "0.5", "--drop", "0.1",
    ) as (process, url):  # fmt: skip
        assert url.startswith("socket://127.0.0.1:")
        out = io.StringIO()
        await cli.decode_url(url, out, count=25, duration=None)
    assert process.returncode == 0
    lines = json_lines(out.getvalue())
    summary = lines[-1]
    check_decoded(lines, 25, summary["hex_frames"])
    assert summary["invalid_blocks"] > 0
    assert summary["hex_frames"] > 0
    assert summary["discarded_bytes"] > 0
    assert {line["command"] for line in lines if line["type"] == "hex"} == {"A"}


async def test_simulate_capture_on_pty_read_by_the_client_ends_on_sigint(tmp_path: Path) -> None:
    link = tmp_path / "ttyVE"
    capture = str(CAPTURES / "bmv-712_fw0403_a.log")
    async with simulate_process(capture, "--loop", "--rate", "50", "--link", str(link)) as (process, url):
        assert url == str(link)
        recorder = Recorder()
        async with running_client(fast_client(url, recorder)):
            await recorder.wait_for(lambda: any({"PID", "H18"} <= set(f.fields) for f in recorder.frames))
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(WAIT):
            await process.wait()
    assert process.returncode == 0
    assert not link.is_symlink()
    assert recorder.states == [LinkState.CONNECTED, LinkState.DISCONNECTED]
    assert recorder.frames[-1].product_id == 0xA381
    assert recorder.frames[-1].firmware is not None


# --- in-process -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_decode_every_capture(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["decode", str(CAPTURES / name)]) == 0
    check_decoded(json_lines(capsys.readouterr().out), *EXPECTED[name])


def test_decode_hex_lines(capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["decode", str(CAPTURES / "bluesolar-mppt-75-15_fw150.log")])
    hexes = [line for line in json_lines(capsys.readouterr().out) if line["type"] == "hex"]
    assert len(hexes) == 21
    assert all(line["command"] == "A" and line["flags"] == 0 for line in hexes)
    assert all(line["register"].startswith("0x") and len(line["register"]) == 6 for line in hexes)
    history = [line for line in hexes if line["register"] == "0x1050"]
    assert history
    assert isinstance(history[0]["value"], dict)


def test_decode_non_ascii_text_never_reaches_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Text outside printable ASCII is line noise: its block is invalid even when it sums right."""
    path = tmp_path / "odd.bin"
    good = encode_block([("PID", "0xA042"), ("SER#", "HQ1909TTJRP"), ("OR", "0x00000101")])
    odd = encode_block([("PID", "0xA042"), ("SER#", b"HQ\xe9\xff\x80\x01".decode("latin-1"))])
    path.write_bytes(good + odd + good + b"\x00\xff junk")
    assert cli.main(["decode", str(path)]) == 0
    text = capsys.readouterr().out
    assert text.isascii()
    lines = json_lines(text)
    assert [line["valid"] for line in lines if line["type"] == "block"] == [True, False, True]
    assert lines[0]["fields"]["SER#"] == "HQ1909TTJRP"
    assert lines[0]["values"]["OR"] == ["no_input_power", "analysing_input_voltage"]
    assert (lines[-1]["invalid_blocks"], lines[-1]["discarded_bytes"]) == (1, 7)


def test_decode_invalid_blocks_print_no_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = encode_block([("V", "12800")])
    bad = good[:-1] + bytes([(good[-1] + 1) & 0xFF])
    path = tmp_path / "bad.bin"
    path.write_bytes(good + bad + good)
    cli.main(["decode", str(path)])
    lines = json_lines(capsys.readouterr().out)
    assert lines[1] == {"type": "block", "valid": False}
    assert lines[-1]["invalid_blocks"] == 1


def test_json_value_shapes() -> None:
    assert cli.json_value(LinkState.STALLED) == "stalled"
    assert cli.json_value({"a": (1, None)}) == {"a": [1, None]}
    assert cli.json_value(b"x") == "b'x'"


def test_decode_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["decode", str(tmp_path / "missing.log")]) == 2
    assert "missing.log" in capsys.readouterr().err
    assert cli.main(["decode", "--url", str(tmp_path / "no-port")]) == 2
    assert "cannot open" in capsys.readouterr().err
    for argv in (
        ["decode"],
        ["decode", "x", "--count", "3"],
        ["decode", "x", "--url", "y"],
        ["simulate"],
        ["simulate", str(tmp_path / "none.log")],
        ["simulate", "--device", "bmv", "--drop", "2"],
        ["simulate", "--device", "bmv", "--rate", "0"],
        ["simulate", "--device", "bmv", "--tcp", "nohost"],
        ["simulate", "--device", "toaster"],
        ["simulate", "--device", "bmv", "--tcp", "127.0.0.1:0", "--link", str(tmp_path / "tty")],
    ):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 2, argv
    capsys.readouterr()


def test_help_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["decode", "--help"], ["simulate", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "decode" in text
    assert "--hex-interleave" in text
    assert "printable ASCII" in text
    assert "--sent-log" in text
    assert "SIGUSR2" in text


class _InterruptAfterFirstLine(io.StringIO):
    """stdout that raises SIGINT once the first line (the port) is written: the signal handler is in place."""

    def write(self, text: str) -> int:
        written = super().write(text)
        if "\n" in text and self.getvalue().count("\n") == 1:
            signal.raise_signal(signal.SIGINT)
        return written


def test_main_simulate_until_sigint(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _InterruptAfterFirstLine()
    monkeypatch.setattr(sys, "stdout", out)
    argv = ["simulate", "--device", "inverter", "--tcp", "127.0.0.1:0", "--garbage", "0.1", "--seed", "1"]
    assert cli.main(argv) == 0
    assert out.getvalue().startswith("socket://127.0.0.1:")


def test_main_simulate_capture_on_pty(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _InterruptAfterFirstLine()
    monkeypatch.setattr(sys, "stdout", out)
    assert cli.main(["simulate", str(CAPTURES / "smartshunt-500a_fw0405.bin"), "--loop"]) == 0
    assert out.getvalue().startswith("/dev/pts/")


async def test_decode_url_count_and_duration(tcp_simulator: Simulator) -> None:
    assert tcp_simulator.url is not None
    out = io.StringIO()
    stats = await cli.decode_url(tcp_simulator.url, out, count=3, duration=None)
    lines = json_lines(out.getvalue())
    assert [line["valid"] for line in lines if line["type"] == "block"] == [True] * 3
    assert lines[-1]["type"] == "summary"
    assert isinstance(stats, ParserStats)

    tcp_simulator.pause()
    out = io.StringIO()
    await cli.decode_url(tcp_simulator.url, out, count=None, duration=0.05)
    assert json_lines(out.getvalue())[-1]["valid_blocks"] == 0


async def test_decode_url_ends_at_eof() -> None:
    sim = Simulator(
        CaptureSource((CAPTURES / "smartshunt-500a_fw0405.bin").read_bytes()), rate=100, tcp=("127.0.0.1", 0)
    )
    sim.pause()
    async with sim:
        assert sim.url is not None
        out = io.StringIO()
        task = asyncio.create_task(cli.decode_url(sim.url, out, count=None, duration=None))
        async with asyncio.timeout(WAIT):
            while sim.tcp_clients < 1:
                await asyncio.sleep(0.01)
        sim.resume()
        await asyncio.wait_for(sim.finished.wait(), WAIT)
        await sim.stop()
        stats = await asyncio.wait_for(task, WAIT)
    assert stats.valid_blocks == 2


async def test_in_process_simulate_stops_on_signal() -> None:
    out = _InterruptAfterFirstLine()
    await cli.simulate(Simulator.for_device("mppt", tcp=("127.0.0.1", 0)), out)
    assert out.getvalue().startswith("socket://")


def test_decode_stdin_in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    data = (CAPTURES / "smartsolar-100-15_fw164.bin").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert cli.main(["decode", "-"]) == 0
    check_decoded(json_lines(capsys.readouterr().out), 12, 0)


def test_count_cut_forgets_the_events_it_does_not_print() -> None:
    """``--count N`` stops at the N-th valid block: the summary counts what was printed."""
    parser = FrameParser()
    good = encode_block([("V", "12800")])
    bad = good[:-1] + bytes([(good[-1] + 1) & 0xFF])
    events = parser.feed(good + good + bad + b":A0102000543\n" + good)
    kept = cli._first_valid_blocks(events, 2, parser.stats)
    assert len(kept) == 2
    assert (parser.stats.valid_blocks, parser.stats.invalid_blocks) == (2, 0)
    assert (parser.stats.hex_frames, parser.stats.invalid_hex_frames) == (0, 0)


# --- the protocol loader ----------------------------------------------------------------------------------


def test_tools_share_the_integration_package_once_it_is_imported() -> None:
    """This process imported the integration first: the tools use its modules, so each class exists once."""
    assert protocol.PACKAGE == protocol.INTEGRATION_PACKAGE
    assert protocol.framing is sys.modules["custom_components.vemonitor.vedirect.framing"]
    assert protocol.framing.FrameParser is FrameParser
    with pytest.raises(AttributeError, match="no attribute 'homeassistant'"):
        getattr(protocol, "homeassistant")  # noqa: B009 - an unknown name, which mypy would refuse


def test_standalone_package_loads_submodules_without_its_init() -> None:
    name = "vemonitor_vedirect_under_test"
    package = protocol.register_standalone(name)
    try:
        assert protocol.register_standalone(name) is package
        framing = importlib.import_module(f"{name}.framing")
        assert framing.__file__ == str(protocol.SOURCE / "framing.py")
        assert framing.FrameParser is not FrameParser  # a copy of its own, beside the integration's
        assert f"{name}.hexproto" in sys.modules  # framing's relative import, resolved in the copy
        assert f"{name}.client" not in sys.modules
        assert not hasattr(package, "FrameParser")  # the package's __init__ never ran
        events = framing.FrameParser().feed(encode_block([("V", "12800")]))
        assert [(type(event), event.fields) for event in events] == [(framing.TextBlock, {"V": "12800"})]
    finally:
        for module in [module for module in sys.modules if module.partition(".")[0] == name]:
            del sys.modules[module]
