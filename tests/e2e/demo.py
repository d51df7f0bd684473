"""What `scripts/develop --demo` adds: a Redis server, three simulated devices and a Redis output for each.

Everything goes through the integration's own config flows, driven through Home Assistant's REST API (the same
code path as the web UI).
"""

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
import json
from pathlib import Path
import time
from typing import Any

from custom_components.vemonitor.const import DOMAIN
from tests.e2e.ha_client import HaApiError, HaClient, Json
from vedirect_tools.solarday import DEFAULT_SEED

CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "captures"
REDIS_SERVER_NAME = "local"


@dataclass(frozen=True)
class SimulatedDevice:
    """One simulated device and the Redis output `--demo` gives it (the seed's example layout)."""

    name: str
    description: str
    simulate_args: tuple[str, ...]
    redis_node: str
    columns: Mapping[str, Sequence[str]]
    ref_cols: Sequence[tuple[str, str]] = ()
    structure: str = "HmapTimeSeries"


DEVICES = (
    SimulatedDevice(
        name="bmv712",
        description="BMV-712 Smart battery monitor (real capture, looped)",
        simulate_args=(str(CAPTURES / "bmv-712_fw0403_a.log"), "--loop", "--rate", "2"),
        redis_node="bat_bmv712",
        columns={"bmv712": ("V", "I", "P", "SOC", "CE", "TTG", "Alarm", "AR", "Relay")},
        ref_cols=(("bat_voltage", "V"), ("bat_current", "I"), ("bat_power", "P")),
    ),
    SimulatedDevice(
        name="mppt",
        description="SmartSolar MPPT 100/20 solar charger (real capture, looped)",
        simulate_args=(str(CAPTURES / "smartsolar-100-20_fw139.dump"), "--loop"),
        redis_node="solar_mppt",
        columns={"mppt": ("V", "I", "VPV", "PPV", "CS", "MPPT", "ERR", "H19", "H20")},
        ref_cols=(("pv_power", "PPV"),),
    ),
    SimulatedDevice(
        name="phoenix",
        description="Phoenix Inverter 12V 800VA (synthetic)",
        simulate_args=("--device", "inverter"),
        redis_node="inv_phoenix",
        columns={"phoenix": ("V", "AC_OUT_V", "AC_OUT_I", "AC_OUT_S", "MODE", "CS", "AR", "WARN")},
        structure="Stream",  # one of each structure: XREAD BLOCK 0 STREAMS inv_phoenix_phoenix '$'
    ),
)


# `--demo`: the same three devices (names, ports, outputs), synthesised as one solar system living through a
# day every 10 minutes (vedirect_tools/solarday.py); the plain stack and the browser test keep the above.
DEMO_SEED = DEFAULT_SEED  # the day the user guide tells: an alarm at once and one in the first night
SOLAR_DAY = {
    "bmv712": ("solar-bmv", "BMV-712 Smart battery monitor (synthetic solar day)"),
    "mppt": ("solar-mppt", "SmartSolar MPPT 100/20 solar charger (synthetic solar day)"),
    "phoenix": ("solar-inverter", "Phoenix Inverter 12V 800VA (synthetic solar day)"),
}


def solar_day_devices(day_origin: float, seed: int = DEMO_SEED) -> tuple[SimulatedDevice, ...]:
    """DEVICES as solar-day devices of one system: the same seed and day origin (POSIX time) for the three
    processes, so that they agree; a simulator restarted (`scripts/develop ctl restart mppt`) resumes where
    the day is."""
    return tuple(
        replace(
            device,
            description=SOLAR_DAY[device.name][1],
            simulate_args=(
                *("--device", SOLAR_DAY[device.name][0]),
                *("--seed", str(seed), "--day-origin", f"{day_origin:.3f}"),
            ),
        )
        for device in DEVICES
    )


def _fill(form: Json, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values of `values` that the form asks for."""
    names = {item["name"] for item in form.get("data_schema", [])}
    return {key: value for key, value in values.items() if key in names}


def _expect(result: Json, kind: str, what: str) -> Json:
    if result.get("type") != kind:
        raise RuntimeError(f"{what}: expected {kind}, got {json.dumps(result)[:600]}")
    return result


async def create_demo(
    client: HaClient,
    redis_form: Mapping[str, Any],
    ports: Mapping[str, str],
    devices: Sequence[SimulatedDevice] = DEVICES,
) -> list[str]:
    """Add the Redis server, the devices and one Redis output each, unless already there."""
    done: list[str] = []
    titles = {entry["title"]: entry for entry in await client.config_entries(DOMAIN)}
    if REDIS_SERVER_NAME not in titles:
        flow = _expect(await client.start_flow(DOMAIN), "menu", "start")
        kinds = _expect(
            await client.flow_step(flow["flow_id"], {"next_step_id": "redis_server"}), "menu", "menu"
        )
        form = _expect(
            await client.flow_step(kinds["flow_id"], {"next_step_id": "redis_single"}), "form", "kind menu"
        )
        result = await client.flow_step(
            form["flow_id"], _fill(form, {**redis_form, "name": REDIS_SERVER_NAME})
        )
        _expect(result, "create_entry", "Redis server")
        done.append(f"Redis server entry {REDIS_SERVER_NAME!r}")
    for device in devices:
        if device.name in titles:
            continue
        flow = _expect(await client.start_flow(DOMAIN), "menu", "start")
        form = _expect(await client.flow_step(flow["flow_id"], {"next_step_id": "vedirect"}), "form", "menu")
        values = {"name": device.name, "port": ports[device.name], "time_interval": 1}
        result = await client.flow_step(form["flow_id"], _fill(form, values))
        _expect(result, "create_entry", f"VE.Direct device {device.name}")
        done.append(f"VE.Direct entry {device.name!r}")
    entries = {entry["title"]: entry for entry in await client.config_entries(DOMAIN)}
    server_id = entries[REDIS_SERVER_NAME]["entry_id"]
    for device in devices:
        entry = entries[device.name]
        if entry.get("num_subentries"):
            continue
        await add_redis_output(client, entry["entry_id"], server_id, device)
        done.append(f"Redis output {device.redis_node!r} of {device.name!r}")
    return done


async def add_redis_output(client: HaClient, entry_id: str, server_id: str, device: SimulatedDevice) -> None:
    form = _expect(await client.start_subentry_flow(entry_id, "redis_output"), "form", "output start")
    settings = {
        "source": server_id,
        "redis_node": device.redis_node,
        "redis_data_structure": device.structure,
        "time_interval": 1,
        "cache_interval": 5,
        "backlog_limit": 10000,
    }
    step = await client.subentry_flow_step(form["flow_id"], _fill(form, settings))
    nodes = list(device.columns.items())
    for index, (node_name, labels) in enumerate(nodes):
        _expect(step, "form", f"node {node_name}")
        values = {"node_name": node_name, "columns": list(labels), "add_another": index + 1 < len(nodes)}
        step = await client.subentry_flow_step(form["flow_id"], values)
    for index, (ref_name, column) in enumerate(device.ref_cols):
        _expect(step, "form", f"ref_cols {ref_name}")
        values = {"ref_name": ref_name, "column": column, "add_another": index + 1 < len(device.ref_cols)}
        step = await client.subentry_flow_step(form["flow_id"], values)
    if not device.ref_cols:
        _expect(step, "form", "ref_cols")
        step = await client.subentry_flow_step(form["flow_id"], {"add_another": False})
    _expect(step, "create_entry", f"Redis output of {device.name}")


# The Energy dashboard of `--demo`: solar production from the MPPT, the battery in and out from the BMV (the
# entities found by their unique_id: device key + field label).
ENERGY_SOURCES = (
    {"type": "solar", "stat_energy_from": ("mppt", "H19"), "stat_rate": ("mppt", "PPV")},
    {"type": "battery", "stat_energy_from": ("bmv712", "H17"), "stat_energy_to": ("bmv712", "H18")},
)


async def configure_energy(client: HaClient) -> str | None:
    """Set the Energy dashboard's sources, unless it has some already; what was done, for the log."""
    try:
        prefs = await client.ws_command("energy/get_prefs")
    except HaApiError:  # a new instance: no preferences yet
        prefs = {}
    if prefs.get("energy_sources"):
        return None
    titles = {entry["entry_id"]: entry["title"] for entry in await client.config_entries(DOMAIN)}
    registry = [
        item
        for item in await client.ws_command("config/entity_registry/list")
        if item.get("platform") == DOMAIN
    ]

    def entity(device: str, label: str) -> str:
        found: str = next(
            item["entity_id"]
            for item in registry
            if titles.get(item.get("config_entry_id")) == device and item["unique_id"].endswith(f"_{label}")
        )
        return found

    sources = [
        {key: entity(*value) if isinstance(value, tuple) else value for key, value in source.items()}
        for source in ENERGY_SOURCES
    ]
    await client.ws_command("energy/save_prefs", energy_sources=sources)
    solar, battery = sources
    return (
        f"Energy dashboard: solar production {solar['stat_energy_from']}, battery "
        f"{battery['stat_energy_to']} in / {battery['stat_energy_from']} out"
    )


async def wait_live(
    client: HaClient,
    timeout: float,
    devices: Sequence[SimulatedDevice] = DEVICES,
    *,
    devices_only: bool = False,
) -> dict[str, int]:
    """Wait until every entry (or, with `devices_only`, every device's entry: a Redis server entry waits for
    its server) is loaded and every device has sensors with values; count them per device."""
    wanted = {device.name for device in devices}
    deadline = time.monotonic() + timeout
    while True:
        config_entries = await client.config_entries(DOMAIN)
        not_loaded = {
            entry["title"]: entry["state"]
            for entry in config_entries
            if entry["state"] != "loaded" and (not devices_only or entry["title"] in wanted)
        }
        entries = {entry["entry_id"]: entry["title"] for entry in config_entries}
        registry = await client.ws_command("config/entity_registry/list")
        by_entity = {
            item["entity_id"]: entries.get(item.get("config_entry_id"))
            for item in registry
            if item.get("platform") == DOMAIN
        }
        live: dict[str, int] = {}
        for state in await client.states():
            title = by_entity.get(state["entity_id"])
            if title in wanted and state["entity_id"].startswith("sensor.") and _is_number(state["state"]):
                live[title] = live.get(title, 0) + 1
        if not not_loaded and set(live) == wanted:
            return live
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"after {timeout:.0f} s: entries not loaded {not_loaded}, no live values for "
                f"{sorted(wanted - set(live))}"
            )
        await asyncio.sleep(1.0)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
