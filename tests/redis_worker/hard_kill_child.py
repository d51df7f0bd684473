"""Hard-kill test child: spools 100 samples while Redis is down, adds 3 more, waits to be killed.

Usage: python -m tests.redis_worker.hard_kill_child SPOOL_DIR PORT
"""

import asyncio
import importlib
from pathlib import Path
import sys
import types

# Load redis_worker alone, as a bare namespace under custom_components.vemonitor: it needs nothing of the
# Home Assistant layer (whose import is slow, and varies with the HA version under test).
_PACKAGE = "custom_components.vemonitor"
if _PACKAGE not in sys.modules:
    _namespace = types.ModuleType(_PACKAGE)
    _namespace.__path__ = [str(Path(__file__).parents[2] / "custom_components" / "vemonitor")]
    sys.modules[_PACKAGE] = _namespace
_worker = importlib.import_module(f"{_PACKAGE}.redis_worker")
OutputSettings, OutputWorker = _worker.OutputSettings, _worker.OutputWorker
RedisConnector, RedisServerSettings, Sample = (
    _worker.RedisConnector,
    _worker.RedisServerSettings,
    _worker.Sample,
)

SPOOLED = 100
UNSPOOLED = 3


async def main(spool: Path, port: int) -> None:
    """Samples 1..100 reach the spool (a failed send spools them); 101..103 are only in memory."""
    connector = RedisConnector(RedisServerSettings("127.0.0.1", port, timeout=1))
    settings = OutputSettings(redis_node="hk", columns={"n": ["V"]}, time_interval=3600, backlog_limit=10_000)
    worker = OutputWorker(lambda: connector, settings, spool_path=spool)
    await worker.start()
    for ts in range(1, SPOOLED + 1):
        worker.add(Sample(ts, {"V": ts}))
    if await worker.flush():
        raise SystemExit("Redis was expected to be down")
    for ts in range(SPOOLED + 1, SPOOLED + UNSPOOLED + 1):
        worker.add(Sample(ts, {"V": ts}))
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
