"""Debian's ser2net in front of a serial device, for tests and the soak: a network serial server.

A VE.Direct device behind a serial server is read over ``socket://`` (raw TCP) or ``rfc2217://`` (Telnet with
COM-PORT-OPTION, where the client sets 19200 8N1 over the wire). ``Ser2Net`` writes a ser2net 4 config with
both accepters on loopback for one device (a simulator's pty, or its stable link), runs ``ser2net -n -d`` in
the foreground so that it can be stopped and started again on the same ports (a server restarted mid-run)::

    async with Ser2Net(sim.url) as server:
        url = server.rfc2217_url  # or server.raw_url
        ...
        await server.restart()

ser2net opens the device when a client connects and closes it when the client leaves, so a simulator restarted
on a new pty behind the same link is followed. Linux only (readiness is read from /proc); the loop's clock
must run (not under freezer): ser2net is a real process.
"""

import asyncio
from contextlib import suppress
import os
from pathlib import Path
import re
import shutil
import signal
import socket
import tempfile
from types import TracebackType
from typing import Self

_STOP_TIMEOUT = 5.0
_POLL = 0.02
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp


class Ser2NetError(RuntimeError):
    """ser2net is missing, or did not come up (the message holds the end of its log)."""


def find_ser2net() -> str | None:
    """The ser2net binary on PATH (it lives in /usr/sbin), or None."""
    return shutil.which("ser2net") or shutil.which("ser2net", path="/usr/sbin:/sbin")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port the OS has free now (ser2net binds it a moment later; kept across restarts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def config_yaml(device: str, *, host: str, raw_port: int, rfc2217_port: int, line: str = "19200n81") -> str:
    """A ser2net 4 config: the device as raw TCP and as Telnet RFC 2217, modem lines ignored (local).

    ``line`` is ser2net's default line setting (baud, parity, data bits, stop bits): what a raw TCP client
    gets; an RFC 2217 client sets its own. kickolduser: a client that reconnects while ser2net still holds
    its old, half-open session wins.
    """
    if any(c in device for c in ", \t\n#'\""):
        raise ValueError(f"ser2net cannot take the device path {device!r}")
    if not re.fullmatch(r"\d+[noems][5-8][12]", line):
        raise ValueError(f"not a ser2net line setting (like 19200n81): {line!r}")
    connector = f"serialdev,{device},{line},local"
    blocks = [
        f"connection: &{name}\n  accepter: {accepter}\n  connector: {connector}\n"
        "  options:\n    kickolduser: true\n"
        for name, accepter in (
            ("vedirect-raw", f"tcp,{host},{raw_port}"),
            ("vedirect-rfc2217", f"telnet(rfc2217),tcp,{host},{rfc2217_port}"),
        )
    ]
    return "%YAML 1.1\n---\n" + "\n".join(blocks)


def _listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on (its socket inodes matched in /proc/net/tcp).

    Read from /proc rather than by connecting: a probe connection would open the device and could make
    ser2net turn the real client away (one connection per accepter).
    """
    inodes: set[str] = set()
    with suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with suppress(OSError):
                target = fd.readlink().name
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    ports: set[int] = set()
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == _LISTEN and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class Ser2Net:
    """ser2net serving ``device`` on ``raw_url`` and ``rfc2217_url``; ``start()``/``stop()``/``restart()``.

    Ports (0: free ones from the OS) are chosen once and kept across restarts, so clients reconnect to the
    same URLs. The config and ser2net's log (``log_path``) live in a temp dir removed by ``close()``.
    """

    def __init__(
        self,
        device: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        raw_port: int = 0,
        rfc2217_port: int = 0,
        line: str = "19200n81",
        startup_timeout: float = 10.0,
    ) -> None:
        binary = find_ser2net()
        if binary is None:
            raise Ser2NetError("ser2net not found on PATH (Debian package ser2net)")
        self.binary = binary
        self.device = os.fspath(device)
        self.host = host
        self.raw_port = raw_port or free_port(host)
        if rfc2217_port and rfc2217_port == self.raw_port:
            raise ValueError("the raw and RFC 2217 accepters need two ports")
        self.rfc2217_port = rfc2217_port
        while self.rfc2217_port in (0, self.raw_port):
            self.rfc2217_port = free_port(host)
        self.startup_timeout = startup_timeout
        self.config = config_yaml(
            self.device, host=host, raw_port=self.raw_port, rfc2217_port=self.rfc2217_port, line=line
        )
        self._dir = Path(tempfile.mkdtemp(prefix="vemonitor-ser2net-"))
        self.config_path = self._dir / "ser2net.yaml"
        self.log_path = self._dir / "ser2net.log"
        self._process: asyncio.subprocess.Process | None = None

    @property
    def raw_url(self) -> str:
        """The raw TCP accepter: bytes as they are on the line."""
        return f"socket://{self.host}:{self.raw_port}"

    @property
    def rfc2217_url(self) -> str:
        """The Telnet RFC 2217 accepter: the client negotiates the line settings."""
        return f"rfc2217://{self.host}:{self.rfc2217_port}"

    @property
    def running(self) -> bool:
        """True between start() and stop() while the process lives."""
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        """Run ser2net and wait until both accepters listen; Ser2NetError (with its log) if they do not."""
        if self._process is not None:
            raise RuntimeError("ser2net already started")
        await asyncio.to_thread(self.config_path.write_text, self.config)
        log = await asyncio.to_thread(self.log_path.open, "ab")
        try:
            self._process = await asyncio.create_subprocess_exec(
                self.binary,
                "-n",
                "-d",
                "-c",
                str(self.config_path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        finally:
            log.close()
        wanted = {self.raw_port, self.rfc2217_port}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.startup_timeout
        while not wanted <= await asyncio.to_thread(_listening_ports, self._process.pid):
            if self._process.returncode is not None or loop.time() > deadline:
                await self.stop()
                tail = (await asyncio.to_thread(self.log_path.read_text, errors="replace"))[-2000:]
                # A port taken by another process: ser2net says nothing and retries its accepter.
                raise Ser2NetError(f"ser2net did not listen on {sorted(wanted)} (taken?); its log:\n{tail}")
            await asyncio.sleep(_POLL)

    async def stop(self) -> None:
        """SIGTERM (SIGKILL after 5 s): connected clients see the server vanish (EOF)."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with suppress(ProcessLookupError):  # it died on its own a moment ago
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(_STOP_TIMEOUT):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()

    async def restart(self) -> None:
        """Stop and start again on the same ports."""
        await self.stop()
        await self.start()

    async def close(self) -> None:
        """Stop and remove the temp dir (config and log)."""
        await self.stop()
        await asyncio.to_thread(shutil.rmtree, self._dir, True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


__all__ = ["Ser2Net", "Ser2NetError", "config_yaml", "find_ser2net", "free_port"]
