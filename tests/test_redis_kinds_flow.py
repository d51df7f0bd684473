"""Config flows of Sentinel and Cluster server entries (add, reauth, reconfigure with a change of kind)
against a real Sentinel group and a real Cluster; the checks of their fields."""

import asyncio
from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.vemonitor.const import (
    CONF_CA_CERT,
    CONF_DB,
    CONF_ENTRY_TYPE,
    CONF_NODES,
    CONF_SENTINEL_PASSWORD,
    CONF_SENTINEL_USERNAME,
    CONF_SERVER_KIND,
    CONF_SERVICE_NAME,
    CONF_TLS,
    CONF_TLS_VERIFY,
    CONF_WAIT_REPLICAS,
    DOMAIN,
    ENTRY_TYPE_REDIS_SERVER,
)
from custom_components.vemonitor.redis_validation import (
    NODES_MAX,
    format_node,
    nodes_identity,
    split_node,
    valid_nodes,
    valid_service_name,
    valid_wait_replicas,
)
from custom_components.vemonitor.validation import InvalidInput
from tests.redis_fixtures import (
    PASSWORD,
    SENTINEL_PASSWORD,
    cluster_data,
    kind_entry,
    node_list,
    sentinel_data,
    server_entry,
)
from tests.redis_server import RedisServer, free_port
from tests.redis_topologies import RedisClusterNodes, SentinelGroup

pytestmark = pytest.mark.usefixtures("socket_enabled")

SENTINEL, CLUSTER, SINGLE = "sentinel", "cluster", "single"


# -- the fields -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1", ["10.0.0.1:26379"]),
        (
            " a.example:1, b.example:2\n[fd00::5]:3  ::1 ",
            ["a.example:1", "b.example:2", "[fd00::5]:3", "[::1]:26379"],
        ),
        ("[fd00::5], x:7;", None),  # ";" is no separator
        ("h:1,h:1,,h:2", ["h:1", "h:2"]),
        ("LOCALHOST:65535", ["LOCALHOST:65535"]),
    ],
)
def test_valid_nodes(text: str, expected: list[str] | None) -> None:
    if expected is None:
        with pytest.raises(InvalidInput, match="invalid_nodes"):
            valid_nodes(text, 26379)
    else:
        assert valid_nodes(text, 26379) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " , ",
        "h:0",
        "h:65536",
        "h:",
        "h:+1",
        "h:\uff11",  # a full-width digit
        "h:1:2",
        "[h]:1",
        "[::1",
        "[::1]x",
        "[::1]:",
        "b@d:1",
        "a..b:1",
        "h\u202e:1",
        " ".join(f"h{index}" for index in range(NODES_MAX + 1)),
        "h" * 5000,
        None,
        ["h:1"],
        7,
    ],
)
def test_invalid_nodes(text: Any) -> None:
    with pytest.raises(InvalidInput, match="invalid_nodes"):
        valid_nodes(text, 6379)


def test_node_text_round_trip() -> None:
    for host, port in [("::1", 1), ("10.0.0.1", 2), ("redis.lan", 3)]:
        assert split_node(format_node(host, port), 9) == (host, port)
    assert split_node("redis.lan", 9) == ("redis.lan", 9)


def test_nodes_identity() -> None:
    """Spellings of one host are one; text that is no node (hand-edited storage) still compares."""
    assert nodes_identity(["localhost:1", "127.0.0.1:1", "[::1]:1", "Redis.Lan.:2"]) == {
        ("localhost", 1),
        ("redis.lan", 2),
    }
    assert nodes_identity(["not a node"]) == {("not a node", 0)}
    assert nodes_identity(None) == frozenset()


def test_service_name_and_wait_replicas() -> None:
    assert valid_service_name(" my-master.1_a ") == "my-master.1_a"
    for bad in ("", "my master", "a" * 65, "maître", None, 3):
        with pytest.raises(InvalidInput, match="invalid_service_name"):
            valid_service_name(bad)
    assert valid_wait_replicas(None) is None
    assert valid_wait_replicas("") is None
    assert valid_wait_replicas(0.0) == 0
    assert valid_wait_replicas(10) == 10
    for bad in (-1, 11, 1.5, True, "2", float("nan")):
        with pytest.raises(InvalidInput, match="out_of_range"):
            valid_wait_replicas(bad)


# -- helpers --------------------------------------------------------------------------------------------


async def start_add(hass: HomeAssistant, kind: str) -> str:
    """The add form of a kind of Redis server, through the two menus."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "redis_server"}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "redis_server"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": f"redis_{kind}"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == f"redis_{kind}"
    assert result["errors"] == {}
    return str(result["flow_id"])


async def start_reconfigure(hass: HomeAssistant, entry: MockConfigEntry, kind: str) -> dict[str, Any]:
    """The reconfigure form of `kind` for an entry, through the menu of the kinds."""
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "reconfigure_redis_server"
    assert result["menu_options"] == [f"reconfigure_redis_{kind}" for kind in (SINGLE, SENTINEL, CLUSTER)]
    assert result["description_placeholders"] == {CONF_NAME: entry.title}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": f"reconfigure_redis_{kind}"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == f"reconfigure_redis_{kind}"
    return dict(result)


async def submit(hass: HomeAssistant, flow_id: str, form: dict[str, Any]) -> dict[str, Any]:
    return dict(await hass.config_entries.flow.async_configure(flow_id, form))


def shown(result: dict[str, Any]) -> dict[str, Any]:
    """What a form starts with: each field's suggested value, or its default."""
    values: dict[str, Any] = {}
    for key in result["data_schema"].schema:
        suggested = (key.description or {}).get("suggested_value")
        if suggested is not None:
            values[str(key.schema)] = suggested
        elif key.default is not vol.UNDEFINED:
            values[str(key.schema)] = key.default()
    return values


def sentinel_form(group: SentinelGroup, name: str = "sentinel", **changes: Any) -> dict[str, Any]:
    return {
        CONF_NAME: name,
        CONF_NODES: ", ".join(node_list(group.sentinels)),
        CONF_SERVICE_NAME: group.service_name,
        CONF_PASSWORD: PASSWORD,
        CONF_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
        CONF_TLS: False,
        CONF_TLS_VERIFY: True,
        CONF_DB: 0,
        **changes,
    }


def cluster_form(cluster: RedisClusterNodes, name: str = "cluster", **changes: Any) -> dict[str, Any]:
    return {
        CONF_NAME: name,
        CONF_NODES: "\n".join(node_list(cluster.seeds[:2])),
        CONF_PASSWORD: PASSWORD,
        CONF_TLS: False,
        CONF_TLS_VERIFY: True,
        **changes,
    }


def without(form: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in form.items() if key not in keys}


@pytest.fixture
def lone_cluster_node(tmp_path: Any) -> Any:
    """A node with cluster support on but in no cluster: it serves no slot (cluster_state:fail)."""
    # The cluster bus port is given: by default it is the port + 10000, beyond 65535 for a high free port.
    config = [
        "cluster-enabled yes",
        f"cluster-config-file {tmp_path}/lone.conf",
        f"cluster-port {free_port()}",
    ]
    node = RedisServer(tmp_path / "lone", extra_config=config)
    node.start()
    try:
        yield node
    finally:
        node.stop()


# -- Sentinel -------------------------------------------------------------------------------------------


async def test_add_sentinel(hass: HomeAssistant, redis_sentinel: SentinelGroup) -> None:
    flow_id = await start_add(hass, SENTINEL)
    nodes = node_list(redis_sentinel.sentinels)
    form = sentinel_form(redis_sentinel, " sentinel ", **{CONF_NODES: f"{nodes[0]}\n{nodes[1]} {nodes[2]}"})
    result = await submit(hass, flow_id, form | {CONF_WAIT_REPLICAS: 1})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["title"] == "sentinel"
    assert result["data"] == {
        CONF_ENTRY_TYPE: ENTRY_TYPE_REDIS_SERVER,
        CONF_SERVER_KIND: SENTINEL,
        CONF_NAME: "sentinel",
        CONF_NODES: nodes,
        CONF_SERVICE_NAME: redis_sentinel.service_name,
        CONF_USERNAME: None,
        CONF_PASSWORD: PASSWORD,
        CONF_SENTINEL_USERNAME: None,
        CONF_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
        CONF_TLS: False,
        CONF_TLS_VERIFY: True,
        CONF_CA_CERT: None,
        CONF_DB: 0,
        CONF_WAIT_REPLICAS: 1,
    }
    await hass.async_block_till_done()
    assert result["result"].state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(result["result"].entry_id)


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({CONF_NODES: "127.0.0.1:0"}, {CONF_NODES: "invalid_nodes"}),
        ({CONF_SERVICE_NAME: "my master"}, {CONF_SERVICE_NAME: "invalid_service_name"}),
        ({CONF_WAIT_REPLICAS: 11}, {CONF_WAIT_REPLICAS: "out_of_range"}),
        ({CONF_WAIT_REPLICAS: 2}, {CONF_WAIT_REPLICAS: "replicas_behind"}),  # the master has 1
        ({CONF_SERVICE_NAME: "nosuchmaster"}, {CONF_SERVICE_NAME: "unknown_service"}),
        ({CONF_SENTINEL_PASSWORD: "wrong"}, {CONF_SENTINEL_PASSWORD: "invalid_sentinel_auth"}),
        ({CONF_SENTINEL_PASSWORD: ""}, {CONF_SENTINEL_PASSWORD: "invalid_sentinel_auth"}),
        ({CONF_PASSWORD: "wrong"}, {"base": "invalid_auth"}),
        ({CONF_TLS: True}, {"base": "tls_error"}),
        ({CONF_DB: 200}, {CONF_DB: "invalid_db"}),
    ],
    ids=lambda value: "-".join(map(str, value)) if isinstance(value, dict) else None,
)
async def test_add_sentinel_refused(
    hass: HomeAssistant, redis_sentinel: SentinelGroup, changes: dict[str, Any], errors: dict[str, str]
) -> None:
    """Each failure on its field (or the form); the same form then fixed creates the entry."""
    flow_id = await start_add(hass, SENTINEL)
    result = await submit(hass, flow_id, sentinel_form(redis_sentinel) | changes)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    result = await submit(hass, flow_id, sentinel_form(redis_sentinel))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(result["result"].entry_id)


async def test_add_sentinel_unreachable_or_not_a_sentinel(
    hass: HomeAssistant, redis_sentinel: SentinelGroup, redis_plain: RedisServer
) -> None:
    flow_id = await start_add(hass, SENTINEL)
    closed = f"127.0.0.1:{free_port()}, 127.0.0.1:{free_port()}"
    result = await submit(hass, flow_id, sentinel_form(redis_sentinel) | {CONF_NODES: closed})
    assert result["errors"] == {"base": "no_sentinel"}
    result = await submit(
        hass, flow_id, sentinel_form(redis_sentinel) | {CONF_NODES: f"127.0.0.1:{redis_plain.port}"}
    )
    assert result["errors"] == {CONF_NODES: "not_a_sentinel"}
    # The password is never sent back to the form.
    assert all(
        "suggested_value" not in (key.description or {})
        for key in result["data_schema"].schema
        if str(key.schema) in (CONF_PASSWORD, CONF_SENTINEL_PASSWORD)
    )


async def test_add_sentinel_without_master(hass: HomeAssistant, redis_sentinel: SentinelGroup) -> None:
    """The sentinels monitor a name whose master is down (and no replica to promote): no master."""
    ghost = "ghost"
    clients = [redis_sentinel.client(sentinel) for sentinel in redis_sentinel.sentinel_servers]
    try:
        for client in clients:
            client.execute_command("SENTINEL", "MONITOR", ghost, "127.0.0.1", free_port(), 2)
            client.execute_command("SENTINEL", "SET", ghost, "down-after-milliseconds", 100)
        await wait_for(lambda: all(client.sentinel_master(ghost)["is_sdown"] for client in clients))
        flow_id = await start_add(hass, SENTINEL)
        result = await submit(hass, flow_id, sentinel_form(redis_sentinel) | {CONF_SERVICE_NAME: ghost})
        assert result["errors"] == {"base": "no_master"}
    finally:
        for client in clients:
            client.execute_command("SENTINEL", "REMOVE", ghost)
            client.close()


async def wait_for(condition: Any, timeout: float = 20.0) -> None:
    """Poll `condition` until it holds (a guard against hangs, not a performance assertion)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def test_sentinel_duplicates(hass: HomeAssistant, redis_sentinel: SentinelGroup) -> None:
    """The same master (a sentinel in common, same name and database) is refused before any test; another
    database of it is another entry."""
    kind_entry(
        sentinel_data(redis_sentinel, "first", **{CONF_NODES: node_list(redis_sentinel.sentinels[:1])})
    ).add_to_hass(hass)
    flow_id = await start_add(hass, SENTINEL)
    _, port = redis_sentinel.sentinels[0]
    spelled = f"localhost:{port}, 127.0.0.1:{free_port()}"
    result = await submit(hass, flow_id, sentinel_form(redis_sentinel, "second") | {CONF_NODES: spelled})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    flow_id = await start_add(hass, SENTINEL)
    result = await submit(hass, flow_id, sentinel_form(redis_sentinel, "first"))
    assert result["errors"] == {CONF_NAME: "redis_name_in_use"}
    result = await submit(hass, flow_id, sentinel_form(redis_sentinel, "second", **{CONF_DB: 1}))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(result["result"].entry_id)


# -- Cluster --------------------------------------------------------------------------------------------


async def test_add_cluster(hass: HomeAssistant, redis_cluster: RedisClusterNodes) -> None:
    flow_id = await start_add(hass, CLUSTER)
    result = await submit(hass, flow_id, cluster_form(redis_cluster, **{CONF_WAIT_REPLICAS: 0}))
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["data"] == {
        CONF_ENTRY_TYPE: ENTRY_TYPE_REDIS_SERVER,
        CONF_SERVER_KIND: CLUSTER,
        CONF_NAME: "cluster",
        CONF_NODES: node_list(redis_cluster.seeds[:2]),
        CONF_USERNAME: None,
        CONF_PASSWORD: PASSWORD,
        CONF_TLS: False,
        CONF_TLS_VERIFY: True,
        CONF_CA_CERT: None,
        CONF_DB: 0,
        CONF_WAIT_REPLICAS: 0,
    }
    await hass.async_block_till_done()
    assert result["result"].state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(result["result"].entry_id)


async def test_add_cluster_refused(
    hass: HomeAssistant,
    redis_cluster: RedisClusterNodes,
    redis_plain: RedisServer,
    lone_cluster_node: RedisServer,
) -> None:
    """Every failure of a cluster, in one form; fixed at last, it creates the entry."""
    flow_id = await start_add(hass, CLUSTER)
    form = cluster_form(redis_cluster)
    for changes, errors in [
        ({CONF_NODES: "[::1"}, {CONF_NODES: "invalid_nodes"}),
        ({CONF_NODES: f"127.0.0.1:{free_port()}"}, {"base": "cannot_connect"}),
        ({CONF_NODES: f"127.0.0.1:{redis_plain.port}"}, {CONF_NODES: "not_a_cluster"}),
        ({CONF_NODES: f"127.0.0.1:{lone_cluster_node.port}"}, {"base": "cluster_down"}),
        ({CONF_PASSWORD: "wrong"}, {"base": "invalid_auth"}),
        ({CONF_TLS: True}, {"base": "tls_error"}),
    ]:
        result = await submit(hass, flow_id, form | changes)
        assert result["type"] is FlowResultType.FORM, changes
        assert result["errors"] == errors, changes
    result = await submit(hass, flow_id, form)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(result["result"].entry_id)


async def test_cluster_duplicates(hass: HomeAssistant, redis_cluster: RedisClusterNodes) -> None:
    """A node in common is the same cluster; a single server on one of its nodes is no Cluster entry."""
    kind_entry(cluster_data(redis_cluster, "first")).add_to_hass(hass)
    flow_id = await start_add(hass, CLUSTER)
    _, port = redis_cluster.seeds[-1]
    result = await submit(
        hass, flow_id, cluster_form(redis_cluster, "second", **{CONF_NODES: f"localhost:{port}"})
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_single_server_of_another_kind(
    hass: HomeAssistant, redis_sentinel: SentinelGroup, redis_cluster: RedisClusterNodes
) -> None:
    """A single server given a sentinel or a cluster node says which kind to choose."""
    kind_entry(cluster_data(redis_cluster, "cluster")).add_to_hass(hass)
    flow_id = await start_add(hass, SINGLE)
    host, port = redis_sentinel.sentinels[0]
    single = {CONF_NAME: "single", CONF_PORT: port, CONF_TLS: False, CONF_TLS_VERIFY: True, CONF_DB: 0}
    result = await submit(hass, flow_id, single | {CONF_HOST: host, CONF_PASSWORD: SENTINEL_PASSWORD})
    assert result["errors"] == {"base": "is_a_sentinel"}
    host, port = redis_cluster.seeds[0]
    result = await submit(hass, flow_id, single | {CONF_HOST: host, CONF_PORT: port, CONF_PASSWORD: PASSWORD})
    assert result["errors"] == {"base": "is_a_cluster"}


# -- reauth ---------------------------------------------------------------------------------------------


async def test_reauth_sentinel(hass: HomeAssistant, redis_sentinel: SentinelGroup) -> None:
    """A refused sentinel password asks for it (with the master's credentials); an empty field keeps it."""
    entry = kind_entry(sentinel_data(redis_sentinel, **{CONF_SENTINEL_PASSWORD: "old"}))
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["source"] == "reauth"
    result = await hass.config_entries.flow.async_configure(flow["flow_id"])
    assert result["step_id"] == "reauth_confirm"
    assert {str(key.schema) for key in result["data_schema"].schema} == {
        CONF_USERNAME,
        CONF_PASSWORD,
        CONF_SENTINEL_PASSWORD,
    }
    assert "via sentinels" in result["description_placeholders"][CONF_HOST]
    result = await submit(hass, flow["flow_id"], {CONF_USERNAME: "no one"})
    assert result["errors"] == {CONF_USERNAME: "invalid_username"}
    result = await submit(hass, flow["flow_id"], {CONF_SENTINEL_PASSWORD: "still-wrong"})
    assert result["errors"] == {CONF_SENTINEL_PASSWORD: "invalid_sentinel_auth"}
    result = await submit(
        hass, flow["flow_id"], {CONF_SENTINEL_PASSWORD: SENTINEL_PASSWORD, CONF_PASSWORD: "x"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await submit(hass, flow["flow_id"], {CONF_SENTINEL_PASSWORD: SENTINEL_PASSWORD})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "redis_reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_SENTINEL_PASSWORD] == SENTINEL_PASSWORD
    assert entry.data[CONF_PASSWORD] == PASSWORD
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reauth_cluster(hass: HomeAssistant, redis_cluster: RedisClusterNodes) -> None:
    entry = kind_entry(cluster_data(redis_cluster, **{CONF_PASSWORD: "old"}))
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    result = await hass.config_entries.flow.async_configure(flow["flow_id"])
    assert {str(key.schema) for key in result["data_schema"].schema} == {CONF_USERNAME, CONF_PASSWORD}
    assert result["description_placeholders"][CONF_HOST].startswith("cluster ")
    result = await submit(hass, flow["flow_id"], {CONF_PASSWORD: PASSWORD})
    assert result["reason"] == "redis_reauth_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reauth_single_names_its_server(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    entry = server_entry(redis_plain, **{CONF_DB: 4})
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert {str(key.schema) for key in result["data_schema"].schema} == {CONF_USERNAME, CONF_PASSWORD}
    assert result["description_placeholders"][CONF_HOST] == f"{redis_plain.host}:{redis_plain.port}/4"


# -- reconfigure ----------------------------------------------------------------------------------------


async def test_reconfigure_single_to_sentinel_and_back(
    hass: HomeAssistant, redis_plain: RedisServer, redis_sentinel: SentinelGroup
) -> None:
    """A single server becomes a Sentinel entry (only what every kind has is filled in), then a single
    server again (the master itself); the name and the database stay."""
    entry = server_entry(
        redis_plain, "moving", **{CONF_DB: 2, CONF_USERNAME: "someone", CONF_WAIT_REPLICAS: 0}
    )
    entry.add_to_hass(hass)
    result = await start_reconfigure(hass, entry, SENTINEL)
    assert shown(result) == {
        CONF_USERNAME: "someone",
        CONF_TLS: False,
        CONF_TLS_VERIFY: True,
        CONF_WAIT_REPLICAS: 0,
    }
    form = without(sentinel_form(redis_sentinel), CONF_NAME, CONF_DB)
    result = await submit(hass, result["flow_id"], form | {CONF_NODES: "", CONF_WAIT_REPLICAS: -1})
    assert result["errors"] == {CONF_NODES: "invalid_nodes", CONF_WAIT_REPLICAS: "out_of_range"}
    result = await submit(hass, result["flow_id"], form | {CONF_SERVICE_NAME: "nosuchmaster"})
    assert result["errors"] == {CONF_SERVICE_NAME: "unknown_service"}
    assert entry.data[CONF_HOST] == redis_plain.host
    result = await submit(hass, result["flow_id"], form)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "redis_reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data == sentinel_data(
        redis_sentinel,
        "moving",
        **{CONF_DB: 2, CONF_SENTINEL_USERNAME: None, CONF_CA_CERT: None, CONF_WAIT_REPLICAS: None},
    )
    assert entry.state is ConfigEntryState.LOADED
    # Back to a single server, the master itself: the sentinels' settings go.
    result = await start_reconfigure(hass, entry, SINGLE)
    assert CONF_HOST not in shown(result)
    master = redis_sentinel.master()
    result = await submit(
        hass, result["flow_id"], {CONF_HOST: master.host, CONF_PORT: master.port, CONF_PASSWORD: ""}
    )
    assert result["reason"] == "redis_reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_SERVER_KIND] == SINGLE
    assert entry.data[CONF_DB] == 2
    assert CONF_NODES not in entry.data
    assert CONF_SENTINEL_PASSWORD not in entry.data
    assert entry.data[CONF_PASSWORD] == PASSWORD  # an empty field keeps the stored password
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_sentinel_keeps_its_values(
    hass: HomeAssistant, redis_sentinel: SentinelGroup
) -> None:
    """The form of the entry's own kind starts with its values; empty password fields keep both passwords."""
    entry = kind_entry(
        sentinel_data(redis_sentinel, **{CONF_SENTINEL_USERNAME: "default", CONF_WAIT_REPLICAS: 1})
    )
    entry.add_to_hass(hass)
    result = await start_reconfigure(hass, entry, SENTINEL)
    assert shown(result) == {
        CONF_NODES: ", ".join(node_list(redis_sentinel.sentinels)),
        CONF_SERVICE_NAME: redis_sentinel.service_name,
        CONF_SENTINEL_USERNAME: "default",
        CONF_TLS: False,
        CONF_TLS_VERIFY: True,
        CONF_WAIT_REPLICAS: 1,
    }
    assert result["description_placeholders"] == {CONF_NAME: entry.title}
    values = shown(result)
    result = await submit(hass, result["flow_id"], without(values, CONF_WAIT_REPLICAS))
    assert result["reason"] == "redis_reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_PASSWORD] == PASSWORD
    assert entry.data[CONF_SENTINEL_PASSWORD] == SENTINEL_PASSWORD
    assert entry.data[CONF_WAIT_REPLICAS] is None  # emptied: automatic
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_sentinel_to_cluster(
    hass: HomeAssistant, redis_sentinel: SentinelGroup, redis_cluster: RedisClusterNodes
) -> None:
    """A cluster has database 0 only; a cluster another entry reaches is refused before any test."""
    entry = kind_entry(sentinel_data(redis_sentinel, **{CONF_DB: 3}))
    entry.add_to_hass(hass)
    other = kind_entry(
        cluster_data(redis_cluster, "other", **{CONF_NODES: node_list(redis_cluster.seeds[:1])})
    )
    other.add_to_hass(hass)
    result = await start_reconfigure(hass, entry, CLUSTER)
    assert CONF_NODES not in shown(result)
    form = without(cluster_form(redis_cluster), CONF_NAME)
    result = await submit(hass, result["flow_id"], form)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_SERVER_KIND] == SENTINEL
    result = await start_reconfigure(hass, entry, CLUSTER)
    result = await submit(
        hass, result["flow_id"], form | {CONF_NODES: node_list(redis_cluster.seeds[1:2])[0]}
    )
    assert result["reason"] == "redis_reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data == cluster_data(
        redis_cluster,
        "sentinel",
        **{CONF_NODES: node_list(redis_cluster.seeds[1:2]), CONF_CA_CERT: None, CONF_WAIT_REPLICAS: None},
    )
    assert entry.state is ConfigEntryState.LOADED
    # The cluster's own form starts with its nodes.
    result = await start_reconfigure(hass, entry, CLUSTER)
    assert shown(result)[CONF_NODES] == node_list(redis_cluster.seeds[1:2])[0]
    for loaded in (entry, other):
        if loaded.state is ConfigEntryState.LOADED:
            assert await hass.config_entries.async_unload(loaded.entry_id)
