"""The "Redis output" subentry flow of a VE.Direct entry: create, validation errors, reconfigure."""

from typing import Any

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigSubentryData
from homeassistant.const import (
    CONF_NAME,
    CONF_PORT,
    CONF_SOURCE,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.vemonitor.const import (
    CONF_BACKLOG_LIMIT,
    CONF_CACHE_INTERVAL,
    CONF_COLUMNS,
    CONF_DB,
    CONF_ENTRY_TYPE,
    CONF_REDIS_DATA_STRUCTURE,
    CONF_REDIS_NODE,
    CONF_REF_COLS,
    CONF_RETENTION,
    CONF_SET_MEMBERS,
    CONF_TIME_INTERVAL,
    DOMAIN,
    ENTRY_TYPE_VEDIRECT,
    SUBENTRY_REDIS_OUTPUT,
)
from tests.redis_fixtures import server_entry
from tests.redis_server import RedisServer

SEED_COLUMNS = ["V", "I", "P", "SOC", "Alarm", "AR", "Relay"]


def block_entry(name: str = "bmv700", time_interval: int = 1, **kwargs: Any) -> MockConfigEntry:
    """A VE.Direct entry (the flow does not need it loaded)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=name,
        data={CONF_ENTRY_TYPE: ENTRY_TYPE_VEDIRECT, CONF_NAME: name, CONF_PORT: "/dev/ttyUSB0"},
        options={CONF_TIME_INTERVAL: time_interval},
        **kwargs,
    )


# What a new output stores beside output_data(): a week of points, node names in the SET.
NEW_OUTPUT = {CONF_RETENTION: 7 * 86_400, CONF_SET_MEMBERS: "nodes"}


def output_data(source: str, redis_node: str = "bat_bmv700", **extra: Any) -> dict[str, Any]:
    """A redis_output subentry's data, as the flow stores it."""
    return {
        CONF_SOURCE: source,
        CONF_REDIS_DATA_STRUCTURE: "HmapTimeSeries",
        CONF_TIME_INTERVAL: 1,
        CONF_CACHE_INTERVAL: 5,
        CONF_REDIS_NODE: redis_node,
        CONF_BACKLOG_LIMIT: 86_400,
        CONF_COLUMNS: {"bmv700": SEED_COLUMNS},
        CONF_REF_COLS: [],
        **extra,
    }


def settings_form(source: str, redis_node: str = "bat_bmv700", **extra: Any) -> dict[str, Any]:
    return {
        CONF_SOURCE: source,
        CONF_REDIS_NODE: redis_node,
        CONF_REDIS_DATA_STRUCTURE: "HmapTimeSeries",
        CONF_TIME_INTERVAL: 1,
        CONF_CACHE_INTERVAL: 5,
        CONF_BACKLOG_LIMIT: 86_400,
        **extra,
    }


async def _start(hass: HomeAssistant, block: MockConfigEntry) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (block.entry_id, SUBENTRY_REDIS_OUTPUT), context={"source": SOURCE_USER}
    )
    return dict(result)


async def test_no_redis_server(hass: HomeAssistant) -> None:
    block = block_entry()
    block.add_to_hass(hass)
    result = await _start(hass, block)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_redis_server"


async def test_create_seed_example(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    server = server_entry(redis_plain)
    server.add_to_hass(hass)
    block = block_entry(time_interval=2)
    block.add_to_hass(hass)
    result = await _start(hass, block)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    # Defaults: the only server, HmapTimeSeries, 1 x 5, one day of the block's samples (every 2 s).
    suggested = {
        key.schema: (key.description or {}).get("suggested_value") for key in result["data_schema"].schema
    }
    assert suggested[CONF_SOURCE] == server.entry_id
    assert suggested[CONF_REDIS_DATA_STRUCTURE] == "HmapTimeSeries"
    assert suggested[CONF_CACHE_INTERVAL] == 5
    assert suggested[CONF_BACKLOG_LIMIT] == 43_200
    flow_id = result["flow_id"]

    result = await hass.config_entries.subentries.async_configure(flow_id, settings_form(server.entry_id))
    assert result["step_id"] == "node"
    # Field labels offered: every known label (the block is not loaded, so none from the device yet).
    columns_selector = result["data_schema"].schema[CONF_COLUMNS].config
    assert {"V", "I", "SOC", "Alarm", "AR", "Relay"} <= set(columns_selector["options"])
    assert columns_selector["multiple"] is True
    assert columns_selector["custom_value"] is True
    # A first node named after the block, with the usual measurements (V and I while the block is not loaded).
    suggested = {
        key.schema: (key.description or {}).get("suggested_value") for key in result["data_schema"].schema
    }
    assert suggested == {"node_name": "bmv700", CONF_COLUMNS: ["V", "I"], "add_another": False}
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"node_name": "bmv700", CONF_COLUMNS: SEED_COLUMNS, "add_another": False}
    )
    assert result["step_id"] == "ref_cols"
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"ref_name": "bat_voltage", "column": "V", "add_another": True}
    )
    assert result["step_id"] == "ref_cols"
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"ref_name": "bat_current", "column": "I", "add_another": False}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "bat_bmv700"
    assert result["data"] == output_data(
        server.entry_id, **{CONF_REF_COLS: [["bat_voltage", "V"], ["bat_current", "I"]]}, **NEW_OUTPUT
    )
    (subentry,) = block.subentries.values()
    assert subentry.subentry_type == SUBENTRY_REDIS_OUTPUT
    assert subentry.title == "bat_bmv700"


async def test_several_nodes_and_errors(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    server = server_entry(redis_plain)
    server.add_to_hass(hass)
    # Another server entry on the same server and database, and one on another database.
    twin = server_entry(redis_plain, "twin")
    twin.add_to_hass(hass)
    other_db = server_entry(redis_plain, "other-db", **{CONF_DB: 1})
    other_db.add_to_hass(hass)
    taken = ConfigSubentryData(
        data=output_data(twin.entry_id, "taken"),
        subentry_type=SUBENTRY_REDIS_OUTPUT,
        title="taken",
        unique_id=None,
    )
    block_entry("mppt", subentries_data=[taken]).add_to_hass(hass)
    block = block_entry()
    block.add_to_hass(hass)
    flow_id = (await _start(hass, block))["flow_id"]
    configure = hass.config_entries.subentries.async_configure

    result = await configure(flow_id, settings_form(server.entry_id, "bad node"))
    assert result["errors"] == {CONF_REDIS_NODE: "invalid_name"}
    # "taken" is written by another block to the same server and database (through another entry).
    result = await configure(flow_id, settings_form(server.entry_id, "taken"))
    assert result["errors"] == {CONF_REDIS_NODE: "redis_node_in_use"}
    # The same name in another database is fine.
    # redis_data_structure left empty: HmapTimeSeries.
    form = settings_form(other_db.entry_id, "taken")
    del form[CONF_REDIS_DATA_STRUCTURE]
    result = await configure(flow_id, form)
    assert result["step_id"] == "node"

    result = await configure(flow_id, {"node_name": "bmv 700", CONF_COLUMNS: ["V"], "add_another": False})
    assert result["errors"] == {"node_name": "invalid_name"}
    result = await configure(flow_id, {"node_name": "bmv700", CONF_COLUMNS: [" "], "add_another": False})
    assert result["errors"] == {CONF_COLUMNS: "no_columns"}
    result = await configure(
        flow_id, {"node_name": "bmv700", CONF_COLUMNS: ["V", "I", "V"], "add_another": True}
    )
    assert result["step_id"] == "node"
    assert result["errors"] == {}
    result = await configure(flow_id, {"node_name": "bmv700", CONF_COLUMNS: ["SOC"], "add_another": False})
    assert result["errors"] == {"node_name": "node_name_in_use"}
    result = await configure(
        flow_id, {"node_name": "history", CONF_COLUMNS: ["H1", "CUSTOM"], "add_another": False}
    )
    assert result["step_id"] == "ref_cols"
    assert result["description_placeholders"] == {"columns": "V, I, H1, CUSTOM"}

    result = await configure(flow_id, {"ref_name": "bat voltage", "column": "V", "add_another": False})
    assert result["errors"] == {"ref_name": "invalid_name"}
    result = await configure(flow_id, {"ref_name": "bat_voltage", "add_another": False})
    assert result["errors"] == {"column": "invalid_ref_column"}
    result = await configure(flow_id, {"ref_name": "bat_voltage", "column": "V", "add_another": True})
    result = await configure(flow_id, {"ref_name": "bat_voltage", "column": "I", "add_another": False})
    assert result["errors"] == {"ref_name": "ref_name_in_use"}
    # An empty form ends the list.
    result = await configure(flow_id, {"add_another": False})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == output_data(
        other_db.entry_id,
        "taken",
        **{
            CONF_COLUMNS: {"bmv700": ["V", "I"], "history": ["H1", "CUSTOM"]},
            CONF_REF_COLS: [["bat_voltage", "V"]],
            **NEW_OUTPUT,
        },
    )


async def test_server_removed_while_open(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    server = server_entry(redis_plain)
    server.add_to_hass(hass)
    spare = server_entry(redis_plain, "spare")
    spare.add_to_hass(hass)
    block = block_entry()
    block.add_to_hass(hass)
    flow_id = (await _start(hass, block))["flow_id"]
    await hass.config_entries.async_remove(spare.entry_id)
    result = await hass.config_entries.subentries.async_configure(flow_id, settings_form(spare.entry_id))
    assert result["errors"] == {CONF_SOURCE: "unknown_source"}


@pytest.mark.parametrize("change_nodes", [False, True])
async def test_reconfigure(hass: HomeAssistant, redis_plain: RedisServer, change_nodes: bool) -> None:
    server = server_entry(redis_plain)
    server.add_to_hass(hass)
    stored = output_data(
        server.entry_id,
        **{
            CONF_COLUMNS: {"bmv700": SEED_COLUMNS, "history": ["H1", "H2"]},
            CONF_REF_COLS: [["bat_voltage", "V"], ["bat_current", "I"]],
        },
    )
    block = block_entry(
        subentries_data=[
            ConfigSubentryData(
                data=stored, subentry_type=SUBENTRY_REDIS_OUTPUT, title="bat_bmv700", unique_id=None
            )
        ]
    )
    block.add_to_hass(hass)
    (subentry_id,) = block.subentries
    result = await hass.config_entries.subentries.async_init(
        (block.entry_id, SUBENTRY_REDIS_OUTPUT),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    assert result["step_id"] == "reconfigure"
    suggested = {
        key.schema: (key.description or {}).get("suggested_value") for key in result["data_schema"].schema
    }
    assert suggested[CONF_REDIS_NODE] == "bat_bmv700"
    flow_id = result["flow_id"]
    configure = hass.config_entries.subentries.async_configure
    # Its own redis_node is not "in use".
    result = await configure(flow_id, settings_form(server.entry_id, **{CONF_CACHE_INTERVAL: 10}))
    assert result["step_id"] == "node"

    def suggestions(result: Any) -> dict[str, Any]:
        return {
            key.schema: (key.description or {}).get("suggested_value") for key in result["data_schema"].schema
        }

    assert suggestions(result) == {"node_name": "bmv700", CONF_COLUMNS: SEED_COLUMNS, "add_another": True}
    result = await configure(
        flow_id, {"node_name": "bmv700", CONF_COLUMNS: SEED_COLUMNS, "add_another": True}
    )
    assert suggestions(result) == {"node_name": "history", CONF_COLUMNS: ["H1", "H2"], "add_another": False}
    if change_nodes:
        result = await configure(
            flow_id, {"node_name": "history", CONF_COLUMNS: ["H2"], "add_another": False}
        )
    else:
        result = await configure(
            flow_id, {"node_name": "history", CONF_COLUMNS: ["H1", "H2"], "add_another": False}
        )
    assert result["step_id"] == "ref_cols"
    assert suggestions(result) == {"ref_name": "bat_voltage", "column": "V", "add_another": True}
    result = await configure(flow_id, {"ref_name": "bat_voltage", "column": "V", "add_another": True})
    assert suggestions(result) == {"ref_name": "bat_current", "column": "I", "add_another": False}
    result = await configure(flow_id, {"ref_name": "bat_current", "column": "I", "add_another": False})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    expected_columns = {"bmv700": SEED_COLUMNS, "history": ["H2"] if change_nodes else ["H1", "H2"]}
    # Made before retention existed: it keeps everything, and its SET keeps holding node names.
    assert dict(block.subentries[subentry_id].data) == stored | {
        CONF_CACHE_INTERVAL: 10,
        CONF_COLUMNS: expected_columns,
        CONF_RETENTION: 0,
        CONF_SET_MEMBERS: "nodes",
    }


async def test_memory_estimate_and_retention(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    """The form tells the Redis memory a node takes per day and for the chosen retention, before saving; a
    new output keeps a week by default, stored in seconds, and its SET may list hash names instead."""
    server = server_entry(redis_plain)
    server.add_to_hass(hass)
    block = block_entry()
    block.add_to_hass(hass)
    result = await hass.config_entries.subentries.async_init(
        (block.entry_id, SUBENTRY_REDIS_OUTPUT), context={"source": SOURCE_USER}
    )
    # One point per second: 86,400 points a day, 164 bytes each (a hash field with its expiry).
    assert result["description_placeholders"]["per_day"] == "14.2 MB"
    assert result["description_placeholders"]["per_week"] == "99.2 MB"
    flow_id = result["flow_id"]
    configure = hass.config_entries.subentries.async_configure
    result = await configure(
        flow_id,
        settings_form(server.entry_id, **{CONF_RETENTION: {"days": 30}, CONF_SET_MEMBERS: "hashes"}),
    )
    assert result["step_id"] == "node"
    assert result["description_placeholders"]["days"] == "30"
    assert result["description_placeholders"]["memory"] == "425.1 MB"
    result = await configure(flow_id, {"node_name": "bmv700", CONF_COLUMNS: ["V"], "add_another": False})
    result = await configure(flow_id, {"add_another": False})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_RETENTION] == 30 * 86_400
    assert result["data"][CONF_SET_MEMBERS] == "hashes"


async def test_stream_output_from_the_form(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    """Stream is offered beside HmapTimeSeries, stored as chosen, and its memory estimate is its own."""
    server = server_entry(redis_plain)
    server.add_to_hass(hass)
    block = block_entry()
    block.add_to_hass(hass)
    result = await hass.config_entries.subentries.async_init(
        (block.entry_id, SUBENTRY_REDIS_OUTPUT), context={"source": SOURCE_USER}
    )
    (structure_key,) = (key for key in result["data_schema"].schema if key == CONF_REDIS_DATA_STRUCTURE)
    options = result["data_schema"].schema[structure_key].config["options"]
    assert options[0] == "HmapTimeSeries"  # the default first
    assert "Stream" in options
    configure = hass.config_entries.subentries.async_configure
    result = await configure(
        result["flow_id"], settings_form(server.entry_id, **{CONF_REDIS_DATA_STRUCTURE: "Stream"})
    )
    # A week of one point per second, 52 bytes a stream entry.
    assert result["description_placeholders"]["memory"] == "31.4 MB"
    result = await configure(
        result["flow_id"], {"node_name": "bmv700", CONF_COLUMNS: ["V"], "add_another": False}
    )
    result = await configure(result["flow_id"], {"add_another": False})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_REDIS_DATA_STRUCTURE] == "Stream"
