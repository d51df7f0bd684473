"""Reusable test helpers around the VE.Direct simulator and client (importable from any test package).

``running_simulator(...)`` serves a synthesised device or a capture on a pseudo-terminal or on TCP at a fast
rate; ``Recorder`` collects what a ``VeDirectClient`` reports and waits (boundedly) for conditions on it;
``fast_client(...)`` builds a client with test-sized timeouts and backoff.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
import os
from pathlib import Path

from custom_components.vemonitor.vedirect.client import LinkState, VeDirectClient
from custom_components.vemonitor.vedirect.device import DeviceFrame
from vedirect_tools.simulator import (
    CaptureSource,
    DeviceKind,
    EmissionSource,
    Faults,
    Simulator,
    synthetic_device,
)

CAPTURES = Path(__file__).parent / "fixtures" / "captures"
FAST_RATE = 50.0
WAIT = 10.0  # upper bound for any wait in tests: a guard against hangs, never a performance assertion


def source_for(device: DeviceKind | Path, *, seed: int = 0, loop: bool = True) -> EmissionSource:
    """A synthesised device by kind, or a capture file (looping by default)."""
    if isinstance(device, Path):
        return CaptureSource.from_file(device, loop=loop)
    return synthetic_device(device, seed=seed)


@asynccontextmanager
async def running_simulator(
    device: DeviceKind | Path = "bmv",
    *,
    tcp: bool = False,
    rate: float = FAST_RATE,
    faults: Faults | None = None,
    seed: int = 0,
    pty_link: str | os.PathLike[str] | None = None,
    hex: bool = True,
    hex_state: str | os.PathLike[str] | None = None,
    sent_log: str | os.PathLike[str] | None = None,
) -> AsyncIterator[Simulator]:
    """A started simulator (``sim.url`` is what a client opens), stopped on exit.

    It answers HEX requests like a SmartSolar does (``sim.hex`` is its register model; HEX faults go in
    ``faults``), unless ``hex=False``: a text-only device (an old BMV-60x, a read-only bridge).
    """
    sim = Simulator(
        source_for(device, seed=seed),
        rate=rate,
        faults=faults,
        seed=seed,
        tcp=("127.0.0.1", 0) if tcp else None,
        pty_link=pty_link,
        sent_log=sent_log,
        hex=hex,
        hex_state=hex_state,
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


class Recorder:
    """Collects a client's frames and link states; ``wait_for`` waits until a condition holds."""

    def __init__(self) -> None:
        self.frames: list[DeviceFrame] = []
        self.states: list[LinkState] = []
        self._changed = asyncio.Event()

    def on_frame(self, frame: DeviceFrame) -> None:
        self.frames.append(frame)
        self._changed.set()

    def on_link_state(self, state: LinkState) -> None:
        self.states.append(state)
        self._changed.set()

    async def wait_for(self, condition: Callable[[], bool], timeout: float = WAIT) -> None:
        """Wait until ``condition()`` holds (re-checked after each report); TimeoutError past ``timeout``."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def wait_frames(self, count: int, timeout: float = WAIT) -> None:
        """Wait for ``count`` more frames than already received."""
        target = len(self.frames) + count
        await self.wait_for(lambda: len(self.frames) >= target, timeout)

    async def wait_state(self, state: LinkState, timeout: float = WAIT) -> None:
        """Wait until the last reported state is ``state``."""
        await self.wait_for(lambda: bool(self.states) and self.states[-1] is state, timeout)


def fast_client(
    url: str,
    recorder: Recorder,
    *,
    stall_timeout: float = 5.0,
    stall_reopen_timeout: float | None = None,
    open_timeout: float = 5.0,
    backoff_initial: float = 0.02,
    backoff_max: float = 0.1,
) -> VeDirectClient:
    """A client reporting to ``recorder``, with fast backoff and no jitter.

    The default stall timeout is long enough that a loaded machine never fakes a stall: tests of stalls pause
    the simulator and pass a shorter one.
    """
    return VeDirectClient(
        url,
        recorder.on_frame,
        recorder.on_link_state,
        stall_timeout=stall_timeout,
        stall_reopen_timeout=stall_reopen_timeout,
        open_timeout=open_timeout,
        backoff_initial=backoff_initial,
        backoff_max=backoff_max,
        jitter=0.0,
    )


@asynccontextmanager
async def running_client(client: VeDirectClient) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``client`` in a task; stop it on exit."""
    task = asyncio.create_task(client.run())
    try:
        yield task
    finally:
        await client.stop()
        await task
