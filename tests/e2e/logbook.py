"""How much a steady, healthy system writes to the Activity log (logbook) and the recorder.

Run it as the command scripts/develop starts once the demo is live (a fresh configuration on free ports):

    scripts/develop --demo --ha-port 0 --workdir /tmp/vem-logbook --config /tmp/vem-logbook/config \
        --state-file /tmp/vem-logbook/state.json --quiet -- \
        python -m tests.e2e.logbook --state /tmp/vem-logbook/state.json --minutes 10

It waits `--minutes` of steady state, then reads the logbook of that window through Home Assistant's REST API
and prints the entries per entity, and the state changes per entity that the recorder stored (history API).
Last line: `logbook: N entries in M min (K of them from VE Monitor entities)`.
"""

import argparse
import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.e2e.ha_client import HaClient


def _counts(entries: list[dict[str, Any]]) -> Counter[str]:
    """Logbook entries per entity (entries of no entity by domain or name)."""
    keys = (entry.get("entity_id") or entry.get("domain") or entry.get("name") for entry in entries)
    return Counter(str(key) for key in keys)


async def measure(state_file: Path, minutes: float) -> int:
    state = json.loads(await asyncio.to_thread(state_file.read_text))
    async with HaClient(state["ha_url"]) as client:
        await client.login(state["username"], state["password"])
        entity_ids = {
            entry["entity_id"]
            for entry in await client.ws_command("config/entity_registry/list")
            if entry["platform"] == "vemonitor"
        }
        start = datetime.now(UTC)
        print(f"logbook: watching {len(entity_ids)} VE Monitor entities for {minutes:g} min", flush=True)
        await asyncio.sleep(minutes * 60)
        end = datetime.now(UTC)
        window = f"{quote(start.isoformat())}?end_time={quote(end.isoformat())}"
        logbook: list[dict[str, Any]] = await client.get(f"/api/logbook/{window}")
        # The same query over the demo's setup (entities added, the link coming up): proof that it counts.
        setup = f"{quote((start - timedelta(minutes=5)).isoformat())}?end_time={quote(start.isoformat())}"
        setup_entries: list[dict[str, Any]] = await client.get(f"/api/logbook/{setup}")
        history: list[list[dict[str, Any]]] = await client.get(
            f"/api/history/period/{window}&minimal_response&no_attributes"
            f"&filter_entity_id={','.join(sorted(entity_ids))}"
        )
    per_entity = _counts(logbook)
    ours = sum(count for entity_id, count in per_entity.items() if entity_id in entity_ids)
    print(f"{'logbook entries':>16}  entity")
    for entity_id, count in per_entity.most_common():
        print(f"{count:>16}  {entity_id}")
    # The history API returns the state at the window's start first: changes are the rows after it.
    changes = {rows[0]["entity_id"]: len(rows) - 1 for rows in history if rows}
    print(f"{'recorded changes':>16}  entity (VE Monitor, top 15 of {len(changes)})")
    for entity_id, count in sorted(changes.items(), key=lambda item: -item[1])[:15]:
        print(f"{count:>16}  {entity_id}")
    span = (end - start) / timedelta(minutes=1)
    print(f"recorder: {sum(changes.values())} state changes of VE Monitor entities in {span:.1f} min")
    print(f"setup: {len(setup_entries)} logbook entries in the 5 min before the window (the query counts)")
    print(f"logbook: {len(logbook)} entries in {span:.1f} min ({ours} of them from VE Monitor entities)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True, help="the state file scripts/develop wrote")
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    return asyncio.run(measure(args.state, args.minutes))


if __name__ == "__main__":
    raise SystemExit(main())
