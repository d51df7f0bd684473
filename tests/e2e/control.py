"""`scripts/develop ctl`: stop, start, pause or disturb one process of a running development stack.

The stack listens on a Unix socket in its work folder (`.develop/control.sock`); a request is one line of
words, the answer lines of text and a last line `ok` or `error: ...`. This is how "nothing is lost while Redis
is away" is tried by hand, and what the soak does to the stack (it calls the same Stack methods directly).

  status                       every process and its state
  stop|start|restart NAME      NAME: redis, hass or a simulator (stop = SIGTERM, as Ctrl-C does)
  kill NAME                    SIGKILL (a power cut for Home Assistant, a crash for Redis)
  pause|resume NAME            SIGSTOP / SIGCONT (a simulator falls silent; Redis hangs its clients)
  garbage SIMULATOR            32 random bytes of line noise into the device's stream
  replug SIMULATOR             the cable out and, a few seconds later, back in (a new pty, same link)
  registers SIMULATOR          the device's HEX registers as JSON (what a write from Home Assistant changed)
"""

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Sequence
import contextlib
from pathlib import Path
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.e2e.devstack import Stack

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SOCKET = REPO / ".develop" / "control.sock"
_SIMULATOR_SIGNALS = {"garbage": signal.SIGUSR1, "replug": signal.SIGUSR2}
_SIGNALS = {"kill": signal.SIGKILL, "pause": signal.SIGSTOP, "resume": signal.SIGCONT}


async def run_command(stack: Stack, words: Sequence[str]) -> list[str]:
    """Carry out one request; return the lines to answer (raises for a request that cannot be done)."""
    if not words or words == ["status"]:
        return [f"{child.key:<12} {child.status}" for child in stack.children]
    if len(words) != 2:
        raise ValueError(f"expected ACTION NAME, got {' '.join(words)!r}")
    action, key = words
    child = stack.child(key)
    actions: dict[str, Callable[[], Awaitable[None]]] = {
        "start": lambda: stack.start_child(key),
        "stop": lambda: stack.stop_child(key),
        "restart": lambda: _restart(stack, key),
    }
    if action in actions:
        await actions[action]()
    elif action in _SIGNALS:
        child.signal(_SIGNALS[action])
    elif action in _SIMULATOR_SIGNALS or action == "registers":
        if child is stack.hass_child or child is stack.redis_child:
            raise ValueError(f"{action} applies to a simulator, not to {key}")
        if action == "registers":
            return _registers(stack, key)
        child.signal(_SIMULATOR_SIGNALS[action])
    else:
        raise ValueError(f"unknown action {action!r}")
    return [f"{child.key:<12} {child.status}"]


def _registers(stack: Stack, key: str) -> list[str]:
    """The simulator's HEX state file (``simulate --hex-state``), as it wrote it last."""
    path = stack.hex_state_path(key)
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ValueError(f"{key} keeps no HEX registers (a text-only device, or not started yet)") from None


async def _restart(stack: Stack, key: str) -> None:
    await stack.stop_child(key)
    await stack.start_child(key)


async def serve_control(stack: Stack, path: Path) -> asyncio.Server:
    """Listen on `path` for requests (one per connection)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            words = (await reader.readline()).decode(errors="replace").split()
            try:
                lines = [*await run_command(stack, words), "ok"]
            except (KeyError, ValueError, RuntimeError, OSError) as err:
                lines = [f"error: {err.args[0] if err.args else err}"]
            writer.write(("\n".join(lines) + "\n").encode())
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return await asyncio.start_unix_server(handle, path=str(path))


async def request(path: Path, words: Sequence[str], timeout: float = 120.0) -> tuple[bool, list[str]]:
    """Send one request; (ok, the answer's lines without the last)."""
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        writer.write((" ".join(words) + "\n").encode())
        await writer.drain()
        text = (await asyncio.wait_for(reader.read(), timeout)).decode(errors="replace")
    finally:
        writer.close()
    lines = text.splitlines() or ["error: no answer"]
    return lines[-1] == "ok", lines[:-1] if lines[-1] == "ok" else lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/develop ctl",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--socket", type=Path, default=DEFAULT_SOCKET, help=argparse.SUPPRESS)
    parser.add_argument("words", nargs="*", metavar="ACTION NAME")
    args = parser.parse_args(argv)
    if not args.socket.exists():
        print(f"no development stack is running (no {args.socket}): start scripts/develop", file=sys.stderr)
        return 2
    try:
        ok, lines = asyncio.run(request(args.socket, args.words))
    except OSError as err:
        print(f"the development stack does not answer on {args.socket}: {err}", file=sys.stderr)
        return 2
    print("\n".join(lines), file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
