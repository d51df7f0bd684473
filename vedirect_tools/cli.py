"""Command line: ``python -m vedirect_tools decode|simulate ...`` (or ``scripts/vedirect ...``).

``decode`` turns a capture (file, stdin or live port) into one JSON object per line; ``simulate`` serves a
capture or a synthesised device on a new pseudo-terminal or a TCP port. See ``--help`` of each.
"""

import argparse
import asyncio
from collections.abc import Iterable, Sequence
from contextlib import suppress
from enum import Enum
import json
from pathlib import Path
import signal
import sys
import time
from typing import IO, Any

from .protocol import codes, fields, framing
from .simulator import DEVICE_KINDS, CaptureSource, EmissionSource, Faults, Simulator, synthetic_device
from .solarday import SolarDayConfig, parse_hour
from .solardevices import SOLAR_DAY_KINDS, solar_day_device

_CHUNK = 65536
_CHECKSUM_LABEL = "Checksum"

_DECODE_HELP = """\
Decode VE.Direct bytes into JSON lines:
  {"type": "block", "valid": true, "fields": {label: raw text}, "values": {label: decoded value}}
  {"type": "block", "valid": false}
  {"type": "hex", "valid": bool, "command": "A", "register": "0x1050", "flags": 0, "value": ...}
and last {"type": "summary", "valid_blocks": N, "invalid_blocks": N, "hex_frames": N,
"invalid_hex_frames": N, "discarded_bytes": N}.
Raw texts are the wire bytes (printable ASCII: the parser refuses a block holding anything else).
Enums print as their key, flag sets as a list of keys."""

_SIMULATE_HELP = """\
Simulate a VE.Direct device: replay a capture byte for byte or synthesise an MPPT, a BMV or an inverter.
The solar-* devices show one small solar system through compressed days (a day in 10 minutes by default):
solar-mppt's panel power follows the sun and the clouds, solar-bmv's battery charges from it by day and
raises its low-voltage alarm at night now and then, solar-inverter's AC load varies. Each process simulates
the whole system: give the three the same --seed and --day-origin (e.g. --day-origin $(date +%s)) and they
agree with each other.
The first stdout line is the port to open (a pseudo-terminal path, or a socket:// URL with --tcp).
A capture replayed without --loop goes silent after its last emission, with the port left open.
The device answers HEX requests (ping, product id, GET/SET of its registers) unless --no-hex; --hex-state
keeps a JSON file of its registers, rewritten on every change.
Ends on SIGINT or SIGTERM. Faults on demand: SIGUSR1 sends 32 random bytes (line noise), SIGUSR2 unplugs the
port and plugs a new one in after --replug-delay seconds (a pty: same --link, new device); SIGSTOP/SIGCONT
make the device fall silent and speak again."""


def json_value(value: object) -> Any:
    """A decoded value as JSON: enum members as their key, flag sets as their keys' list."""
    if isinstance(value, codes.VeFlags):
        return value.keys
    if isinstance(value, codes.VeCode):
        return value.key
    if isinstance(value, Enum):
        return value.name.lower() if value.name else value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    return str(value)


def event_json(event: framing.FrameEvent) -> dict[str, Any]:
    """One parser event as the JSON object ``decode`` prints."""
    if isinstance(event, framing.TextBlock):
        if not event.valid:
            return {"type": "block", "valid": False}
        texts = {label: raw for label, raw in event.fields.items() if label != _CHECKSUM_LABEL}
        return {
            "type": "block",
            "valid": True,
            "fields": texts,
            "values": {label: json_value(fields.decode_value(label, raw)) for label, raw in texts.items()},
        }
    register = event.register
    flags = event.flags
    return {
        "type": "hex",
        "valid": event.valid,
        "command": None if event.command is None else f"{event.command:X}",
        "register": None if register is None else f"0x{register:04X}",
        "flags": None if flags is None else int(flags),
        "value": json_value(event.value),
    }


def summary_json(stats: framing.ParserStats) -> dict[str, Any]:
    """The closing summary line."""
    return {
        "type": "summary",
        "valid_blocks": stats.valid_blocks,
        "invalid_blocks": stats.invalid_blocks,
        "hex_frames": stats.hex_frames,
        "invalid_hex_frames": stats.invalid_hex_frames,
        "discarded_bytes": stats.discarded_bytes,
    }


def _print_events(events: Iterable[framing.FrameEvent], out: IO[str]) -> int:
    """Print the events; return how many valid blocks there were."""
    valid = 0
    for event in events:
        out.write(json.dumps(event_json(event)) + "\n")
        if isinstance(event, framing.TextBlock) and event.valid:
            valid += 1
    return valid


def decode_stream(stream: IO[bytes], out: IO[str]) -> framing.ParserStats:
    """Decode a whole byte stream (file or stdin)."""
    parser = framing.FrameParser()
    while chunk := stream.read(_CHUNK):
        _print_events(parser.feed(chunk), out)
    out.write(json.dumps(summary_json(parser.stats)) + "\n")
    return parser.stats


async def decode_url(
    url: str, out: IO[str], *, count: int | None, duration: float | None
) -> framing.ParserStats:
    """Decode a live port until ``count`` valid blocks, ``duration`` seconds, EOF, or SIGINT/SIGTERM."""
    from .protocol import client  # serialx: only for a live port

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    timer = None if duration is None else loop.call_later(duration, stop.set)
    parser = framing.FrameParser()
    try:
        reader, writer = await client.open_port(url, open_timeout=15.0)
        try:
            valid = 0
            while count is None or valid < count:
                read = asyncio.ensure_future(reader.read(_CHUNK))
                stopped = asyncio.ensure_future(stop.wait())
                await asyncio.wait([read, stopped], return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
                if not read.done():
                    read.cancel()
                    with suppress(asyncio.CancelledError):
                        await read
                    break
                data = read.result()
                if not data:
                    break
                events = parser.feed(data)
                if count is not None:
                    events = _first_valid_blocks(events, count - valid, parser.stats)
                valid += _print_events(events, out)
                out.flush()
        except OSError as err:
            print(f"decode: {url}: {err}", file=sys.stderr)
        finally:
            await client.close_port(writer)
    finally:
        if timer is not None:
            timer.cancel()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    out.write(json.dumps(summary_json(parser.stats)) + "\n")
    out.flush()
    return parser.stats


def _first_valid_blocks(
    events: list[framing.FrameEvent], limit: int, stats: framing.ParserStats
) -> list[framing.FrameEvent]:
    """The events up to and including the ``limit``-th valid block; ``stats`` forgets the others."""
    for index, event in enumerate(events):
        if isinstance(event, framing.TextBlock) and event.valid:
            limit -= 1
            if limit == 0:
                for dropped in events[index + 1 :]:
                    if isinstance(dropped, framing.TextBlock):
                        stats.valid_blocks -= dropped.valid
                        stats.invalid_blocks -= not dropped.valid
                    else:
                        stats.hex_frames -= dropped.valid
                        stats.invalid_hex_frames -= not dropped.valid
                return events[: index + 1]
    return events


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a probability within [0, 1]")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not > 0")
    return value


def _hour(text: str) -> float:
    try:
        return parse_hour(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text} is not an hour (H, H.H or H:MM within 0..24)") from err


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{text} is not HOST:PORT")
    return host.strip("[]"), int(port)


async def simulate(sim: Simulator, out: IO[str], replug_delay: float = 3.0) -> None:
    """Serve until SIGINT/SIGTERM; the port to open is the first line printed."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    replugs: set[asyncio.Task[None]] = set()

    def replug() -> None:
        if not replugs:  # a replug already under way absorbs the next request
            task = loop.create_task(sim.replug(replug_delay))
            replugs.add(task)
            task.add_done_callback(replugs.discard)

    loop.add_signal_handler(signal.SIGUSR1, lambda: sim.inject(sim.garbage()))
    loop.add_signal_handler(signal.SIGUSR2, replug)
    try:
        out.write(f"{await sim.start()}\n")
        out.flush()
        await stop.wait()
    finally:
        for task in replugs:
            task.cancel()
        await sim.stop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2):
            loop.remove_signal_handler(signum)


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of both commands."""
    parser = argparse.ArgumentParser(
        prog="python -m vedirect_tools",
        description="VE.Direct tools: decode captures or live ports, simulate devices.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    decode = commands.add_parser(
        "decode",
        help="decode a capture or a live port into JSON lines",
        description=_DECODE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = decode.add_mutually_exclusive_group(required=True)
    source.add_argument("path", nargs="?", metavar="PATH", help="capture file, or - for stdin")
    source.add_argument(
        "--url", help="read live: device path, /dev/serial/by-id/..., socket://host:port, ..."
    )
    decode.add_argument("--count", type=int, metavar="N", help="with --url: stop after N valid blocks")
    decode.add_argument("--duration", type=_positive, metavar="S", help="with --url: stop after S seconds")

    sim = commands.add_parser(
        "simulate",
        help="serve a simulated device on a pseudo-terminal or a TCP port",
        description=_SIMULATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = sim.add_mutually_exclusive_group(required=True)
    what.add_argument("capture", nargs="?", metavar="CAPTURE", help="capture file to replay")
    what.add_argument("--device", choices=(*DEVICE_KINDS, *SOLAR_DAY_KINDS), help="synthesise this device")
    sim.add_argument(
        "--tcp", type=_host_port, metavar="HOST:PORT", help="serve socket:// clients (port 0: any)"
    )
    sim.add_argument("--link", type=Path, metavar="PATH", help="also make PATH a symlink to the pty")
    sim.add_argument("--rate", type=_positive, default=1.0, help="emissions per second (default 1)")
    sim.add_argument("--loop", action="store_true", help="replay the capture forever")
    sim.add_argument("--bad-checksum", type=_probability, default=0.0, metavar="P", help="corrupt a checksum")
    sim.add_argument("--garbage", type=_probability, default=0.0, metavar="P", help="junk before an emission")
    sim.add_argument("--drop", type=_probability, default=0.0, metavar="P", help="drop a block")
    sim.add_argument(
        "--hex-interleave", type=_probability, default=0.0, metavar="P", help="add an async HEX frame"
    )
    sim.add_argument("--no-hex", action="store_true", help="a text-only device: never answer HEX")
    sim.add_argument(
        "--hex-no-answer", type=_probability, default=0.0, metavar="P", help="ignore a HEX request"
    )
    sim.add_argument(
        "--hex-bad-checksum", type=_probability, default=0.0, metavar="P", help="corrupt a HEX reply"
    )
    sim.add_argument(
        "--hex-late",
        type=_probability,
        default=0.0,
        metavar="P",
        help="send a HEX reply after the next block",
    )
    sim.add_argument("--hex-state", type=Path, metavar="PATH", help="keep the HEX registers as JSON in PATH")
    sim.add_argument("--seed", type=int, help="random seed, for reproducible values and faults")
    sim.add_argument("--sent-log", type=Path, metavar="PATH", help="append a JSON line per write to PATH")
    sim.add_argument(
        "--replug-delay", type=_positive, default=3.0, metavar="S", help="SIGUSR2: seconds unplugged"
    )
    day = sim.add_argument_group("solar day", "the solar-* devices (defaults: SolarDayConfig)")
    day.add_argument("--day-length", type=_positive, metavar="S", help="real seconds per day (default 600)")
    day.add_argument("--sunrise", type=_hour, metavar="H", help="hour of sunrise, e.g. 6:30 (default 6)")
    day.add_argument("--sunset", type=_hour, metavar="H", help="hour of sunset (default 18)")
    day.add_argument("--day-start", type=_hour, metavar="H", help="hour of the day at the start (default 5)")
    day.add_argument("--peak-power", type=_positive, metavar="W", help="panel power at noon (default 250)")
    day.add_argument(
        "--day-origin", type=float, metavar="T", help="POSIX time the day starts at (default: now)"
    )
    return parser


# The solar day options: each one's SolarDayConfig field (the origin sets the clock).
_DAY_FIELDS = {
    "day_length": "day_length",
    "sunrise": "sunrise",
    "sunset": "sunset",
    "day_start": "start",
    "peak_power": "peak_power",
}
_DAY_OPTIONS = (*_DAY_FIELDS, "day_origin")


def solar_day_config(args: argparse.Namespace) -> SolarDayConfig:
    """The solar day that ``simulate``'s options describe (ValueError when it makes no sense)."""
    given = {field: getattr(args, option) for option, field in _DAY_FIELDS.items()}
    return SolarDayConfig(**{field: value for field, value in given.items() if value is not None})


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = sys.stdout
    if args.command == "decode":
        if args.url is None and (args.count is not None or args.duration is not None):
            parser.error("--count and --duration need --url")
        if args.url is not None:
            from .protocol import client

            try:
                asyncio.run(decode_url(args.url, out, count=args.count, duration=args.duration))
            except client.PortOpenError as err:
                print(f"decode: {err}", file=sys.stderr)
                return 2
            return 0
        if args.path == "-":
            decode_stream(sys.stdin.buffer, out)
            return 0
        try:
            with Path(args.path).open("rb") as stream:
                decode_stream(stream, out)
        except OSError as err:
            print(f"decode: {err}", file=sys.stderr)
            return 2
        return 0

    if args.tcp is not None and args.link is not None:
        parser.error("--link applies to the pseudo-terminal, not to --tcp")
    if args.capture is not None and not Path(args.capture).is_file():
        parser.error(f"no such capture file: {args.capture}")
    if args.no_hex and args.hex_state is not None:
        parser.error("--hex-state needs a device that answers HEX (not --no-hex)")
    if args.device not in SOLAR_DAY_KINDS:
        if any(getattr(args, name) is not None for name in _DAY_OPTIONS):
            parser.error("the solar day options apply to the solar-* devices only")
    else:
        try:
            solar_day_config(args)
        except ValueError as err:
            parser.error(str(err))
    asyncio.run(simulate(build_simulator(args), out, args.replug_delay))
    return 0


def build_simulator(args: argparse.Namespace) -> Simulator:
    """The simulator that ``simulate``'s parsed arguments describe."""
    source: EmissionSource
    if args.capture is not None:
        source = CaptureSource.from_file(args.capture, loop=args.loop)
    elif args.device in SOLAR_DAY_KINDS:
        origin = time.time() if args.day_origin is None else args.day_origin
        config = solar_day_config(args)
        source = solar_day_device(
            args.device, seed=args.seed, config=config, clock=lambda: time.time() - origin
        )
    else:
        source = synthetic_device(args.device, seed=args.seed)
    faults = Faults(
        bad_checksum=args.bad_checksum,
        garbage=args.garbage,
        drop=args.drop,
        hex_interleave=args.hex_interleave,
        hex_no_answer=args.hex_no_answer,
        hex_bad_checksum=args.hex_bad_checksum,
        hex_late=args.hex_late,
    )
    return Simulator(
        source,
        rate=args.rate,
        faults=faults,
        seed=args.seed,
        tcp=args.tcp,
        pty_link=args.link,
        sent_log=args.sent_log,
        hex=not args.no_hex,
        hex_state=args.hex_state,
    )
