"""Sentinel and Cluster server entries at runtime, against a real Sentinel group and a real Cluster: their
device and topology sensors, no state written while nothing changes, diagnostics, a failover seen by the
health check, and an output writing through each kind."""

import json
from pathlib import Path
from typing import Any

from homeassistant.const import (
    EVENT_STATE_CHANGED,
    EVENT_STATE_REPORTED,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    EntityCategory,
)
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from redis.cluster import RedisCluster

from custom_components.vemonitor.const import CONF_NODES, CONF_WAIT_REPLICAS
from custom_components.vemonitor.diagnostics import async_get_config_entry_diagnostics
from custom_components.vemonitor.redis_worker import CannotConnect
from tests.ha_vedirect import bmv_emission, repeating_simulator, setup_entry
from tests.redis_fixtures import (
    PASSWORD,
    SENTINEL_PASSWORD,
    cluster_data,
    kind_entry,
    sentinel_data,
    server_entry,
)
from tests.redis_server import RedisServer
from tests.redis_topologies import RedisClusterNodes, SentinelGroup
from tests.test_redis_runtime import (
    SEED_COLUMNS,
    block_with_outputs,
    entity_id,
    output_subentry,
    record_samples,
    state_of,
    timestamps,
    unload,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")


def address(host: str, port: int) -> str:
    return f"{host}:{port}"


def server_entity_keys(hass: HomeAssistant, entry: MockConfigEntry) -> set[str]:
    """The keys (unique id after the entry id) of a server entry's entities."""
    return {
        registry_entry.unique_id.removeprefix(f"{entry.entry_id}_")
        for registry_entry in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    }


def model_of(hass: HomeAssistant, entry: MockConfigEntry) -> str | None:
    (device,) = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    return device.model


async def test_sentinel_entry(hass: HomeAssistant, redis_sentinel: SentinelGroup) -> None:
    """A Sentinel entry shows the master the sentinels name, and no failover yet."""
    entry = kind_entry(sentinel_data(redis_sentinel))
    await setup_entry(hass, entry)
    assert server_entity_keys(hass, entry) == {"connectivity", "master", "last_failover"}
    assert model_of(hass, entry) == "Redis Sentinel"
    assert state_of(hass, f"{entry.entry_id}_connectivity", "binary_sensor") == STATE_ON
    assert state_of(hass, f"{entry.entry_id}_master") == address(*redis_sentinel.master_address())
    assert state_of(hass, f"{entry.entry_id}_last_failover") == STATE_UNKNOWN
    for key in ("master", "last_failover"):
        registry_entry = er.async_get(hass).async_get(entity_id(hass, f"{entry.entry_id}_{key}"))
        assert registry_entry is not None
        assert registry_entry.entity_category is EntityCategory.DIAGNOSTIC
        assert registry_entry.disabled_by is None
    # An output's write fails: the master is unknown. Its next write succeeds: a health check follows at
    # once and shows the master again (never the one of before the outage).
    runtime = entry.runtime_data
    runtime.async_report_failure(CannotConnect("the write failed"))
    await hass.async_block_till_done()
    assert state_of(hass, f"{entry.entry_id}_master") == STATE_UNAVAILABLE
    assert runtime.topology is None
    runtime.async_report_success()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert runtime.topology is not None
    assert state_of(hass, f"{entry.entry_id}_master") == address(*redis_sentinel.master_address())
    await unload(hass, entry)


async def test_cluster_entry(hass: HomeAssistant, redis_cluster: RedisClusterNodes) -> None:
    """A Cluster entry shows how many of its shards answered."""
    entry = kind_entry(cluster_data(redis_cluster))
    await setup_entry(hass, entry)
    assert server_entity_keys(hass, entry) == {"connectivity", "shards_answering", "last_failover"}
    assert model_of(hass, entry) == "Redis Cluster"
    assert state_of(hass, f"{entry.entry_id}_shards_answering") == "3"
    assert state_of(hass, f"{entry.entry_id}_last_failover") == STATE_UNKNOWN
    await unload(hass, entry)


async def test_single_server_has_no_topology_sensor(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    entry = server_entry(redis_plain)
    await setup_entry(hass, entry)
    assert server_entity_keys(hass, entry) == {"connectivity"}
    assert model_of(hass, entry) == "Redis server"
    await unload(hass, entry)


async def test_steady_system_writes_no_state(
    hass: HomeAssistant, redis_sentinel: SentinelGroup, redis_cluster: RedisClusterNodes
) -> None:
    """Health checks that find what the last one found write no state (no recorder row, no event)."""
    entries = [kind_entry(sentinel_data(redis_sentinel)), kind_entry(cluster_data(redis_cluster))]
    for entry in entries:
        await setup_entry(hass, entry)
    watched = {
        registry_entry.entity_id
        for entry in entries
        for registry_entry in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    }
    assert len(watched) == 6
    written: list[str] = []

    @callback
    def _ours(data: Any) -> bool:
        return data["entity_id"] in watched

    @callback
    def _record(event: Event[Any]) -> None:
        written.append(event.data["entity_id"])

    unsubscribe = [
        hass.bus.async_listen(kind, _record, event_filter=_ours)
        for kind in (EVENT_STATE_CHANGED, EVENT_STATE_REPORTED)
    ]
    for _ in range(3):
        for entry in entries:
            await entry.runtime_data.async_check()
    await hass.async_block_till_done()
    assert written == []
    control = sorted(watched)[0]  # the listeners do see a write
    hass.states.async_set(control, "changed")
    await hass.async_block_till_done()
    assert written == [control]
    for cancel in unsubscribe:
        cancel()
    for entry in entries:
        await unload(hass, entry)


async def test_diagnostics_per_kind(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    redis_sentinel: SentinelGroup,
    redis_cluster: RedisClusterNodes,
) -> None:
    """Kind, nodes (their ports only), topology and the WAIT in use; no host, user name or password."""
    sentinel = kind_entry(sentinel_data(redis_sentinel, **{CONF_WAIT_REPLICAS: 1}))
    cluster = kind_entry(cluster_data(redis_cluster))
    for entry in (sentinel, cluster):
        await setup_entry(hass, entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, sentinel)
    _, master_port = redis_sentinel.master_address()
    assert diagnostics["entry"]["data"][CONF_NODES] == "**REDACTED**"
    assert diagnostics["redis_server"] == {
        "name": "sentinel",
        "kind": "sentinel",
        "node_count": 3,
        "node_ports": [port for _host, port in redis_sentinel.sentinels],
        "service_name": redis_sentinel.service_name,
        "sentinel_username_set": False,
        "sentinel_password_set": True,
        "db": 0,
        "username_set": False,
        "password_set": True,
        "tls": False,
        "tls_verify": True,
        "ca_cert_set": False,
        "wait_replicas_configured": 1,
        "connected": True,
        "server_version": diagnostics["redis_server"]["server_version"],
        "last_error": None,
        "wait_replicas_effective": 1,
        "topology": {"master_port": master_port, "shards": None, "shards_answering": None, "replicas": 1},
        "failovers": 0,
        "last_failover": None,
    }
    cluster_part = (await get_diagnostics_for_config_entry(hass, hass_client, cluster))["redis_server"]
    assert cluster_part["kind"] == "cluster"
    assert cluster_part["node_ports"] == [port for _host, port in redis_cluster.seeds]
    assert "service_name" not in cluster_part
    assert cluster_part["wait_replicas_configured"] is None
    assert cluster_part["wait_replicas_effective"] == 1  # automatic: every primary has a replica
    assert cluster_part["topology"] == {
        "master_port": None,
        "shards": 3,
        "shards_answering": 3,
        "replicas": 1,
    }
    for part in (diagnostics, cluster_part):
        text = json.dumps(part)
        assert "127.0.0.1" not in text
        assert PASSWORD not in text
        assert SENTINEL_PASSWORD not in text
    for entry in (sentinel, cluster):
        await unload(hass, entry)
    # Not loaded: the settings alone.
    not_loaded = (await async_get_config_entry_diagnostics(hass, cluster))["redis_server"]
    assert not_loaded["kind"] == "cluster"
    assert "connected" not in not_loaded


async def test_failover_seen_by_the_health_check(
    hass: HomeAssistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The master dies, the sentinels promote the replica: the next health check shows the new master and
    the time of the failover, the server stays connected, diagnostics count one failover."""
    with SentinelGroup(tmp_path / "group", password=PASSWORD) as group:
        entry = kind_entry(sentinel_data(group))
        await setup_entry(hass, entry)
        master, last_failover = f"{entry.entry_id}_master", f"{entry.entry_id}_last_failover"
        old = group.master()
        assert state_of(hass, master) == address(old.host, old.port)
        before = dt_util.utcnow()
        await hass.async_add_executor_job(group.kill_master)
        new = await hass.async_add_executor_job(group.wait_failover, old)
        await entry.runtime_data.async_check()
        await hass.async_block_till_done()
        assert state_of(hass, master) == address(new.host, new.port)
        assert state_of(hass, f"{entry.entry_id}_connectivity", "binary_sensor") == STATE_ON
        seen = dt_util.parse_datetime(state_of(hass, last_failover))
        assert seen is not None
        assert seen >= before.replace(microsecond=0)
        diagnostics = (await async_get_config_entry_diagnostics(hass, entry))["redis_server"]
        assert diagnostics["failovers"] == 1
        assert diagnostics["topology"]["master_port"] == new.port
        assert "master moved" in caplog.text
        # The sentinels down: the master is unknown, the last failover stays.
        for sentinel in group.sentinel_servers:
            sentinel.kill()
        await entry.runtime_data.async_check()
        await hass.async_block_till_done()
        assert state_of(hass, f"{entry.entry_id}_connectivity", "binary_sensor") != STATE_ON
        assert state_of(hass, master) == STATE_UNAVAILABLE
        assert dt_util.parse_datetime(state_of(hass, last_failover)) == seen
        diagnostics = (await async_get_config_entry_diagnostics(hass, entry))["redis_server"]
        assert diagnostics["connected"] is False
        assert diagnostics["last_error"] == "NoSentinel"
        assert diagnostics["wait_replicas_effective"] is None
        assert diagnostics["failovers"] == 1
        await unload(hass, entry)


async def test_diagnostics_of_a_server_gone_since_the_last_check(
    hass: HomeAssistant, redis_owned: RedisServer
) -> None:
    """The WAIT in use is unknown when the server stopped answering after the last health check."""
    entry = server_entry(redis_owned)
    await setup_entry(hass, entry)
    await hass.async_add_executor_job(redis_owned.stop)
    diagnostics = (await async_get_config_entry_diagnostics(hass, entry))["redis_server"]
    assert diagnostics["kind"] == "single"
    assert diagnostics["port"] == redis_owned.port
    assert diagnostics["connected"] is True
    assert diagnostics["wait_replicas_effective"] is None
    assert diagnostics["topology"] == {
        "master_port": redis_owned.port,
        "shards": None,
        "shards_answering": None,
        "replicas": 0,
    }
    assert diagnostics["failovers"] == 0
    await unload(hass, entry)


@pytest.mark.parametrize("kind", ["sentinel", "cluster"])
async def test_output_writes_through_each_kind(
    hass: HomeAssistant, redis_sentinel: SentinelGroup, redis_cluster: RedisClusterNodes, kind: str
) -> None:
    """A VE.Direct device's output stores every sample in a Sentinel's master, or across the shards of a
    Cluster (the SET and the hash of one output are on different slots)."""
    redis_node = f"kinds_{kind}"
    if kind == "sentinel":
        server = kind_entry(sentinel_data(redis_sentinel))
        host, port = redis_sentinel.master_address()
        reader: Any = redis_sentinel.client(redis_sentinel.master())
    else:
        server = kind_entry(cluster_data(redis_cluster))
        host, port = redis_cluster.seeds[0]
        reader = RedisCluster(host=host, port=port, password=PASSWORD, decode_responses=True)
    reader.delete(redis_node, f"{redis_node}_bmv712")
    await setup_entry(hass, server)
    async with repeating_simulator(bmv_emission()) as sim:
        assert sim.url is not None
        block = block_with_outputs(
            sim.url, output_subentry(server.entry_id, redis_node, {"bmv712": SEED_COLUMNS})
        )
        await setup_entry(hass, block)
        samples = record_samples(block)
        await wait_until(lambda: len(samples) >= 2)
        await unload(hass, block)  # the final flush
    assert reader.smembers(redis_node) == {"bmv712"}
    assert timestamps(samples) <= set(reader.hkeys(f"{redis_node}_bmv712"))
    reader.close()
    await unload(hass, server)
