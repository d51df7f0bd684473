"""The "Redis input" subentry flow of a Redis server entry: create, every validation error, reconfigure."""

import json
from pathlib import Path
import re
from typing import Any

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigSubentryData
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.vemonitor.const import (
    CONF_COLUMNS,
    CONF_REDIS_DATA_STRUCTURE,
    CONF_REDIS_NODE,
    CONF_REF_COLS,
    CONF_STALE_AFTER,
    CONF_TIME_INTERVAL,
    DOMAIN,
    SUBENTRY_REDIS_INPUT,
)
from custom_components.vemonitor.validation import MAX_NODES, MAX_REF_COLS
from tests.redis_fixtures import server_data

TRANSLATIONS = Path(__file__).parents[1] / "custom_components" / DOMAIN / "translations"
SEED_COLUMNS = ["V", "I", "P", "SOC", "Alarm", "AR", "Relay"]
SEED_REFS = [["bat_voltage", "V"], ["bat_current", "I"], ["bat_power", "P"]]


class _NoServer:
    """Server data without a running server: the flow never connects."""

    host = "127.0.0.1"
    port = 1
    password = None


def redis_server(name: str = "local", **kwargs: Any) -> MockConfigEntry:
    """A Redis server entry (the flow does not need it loaded)."""
    data = server_data(_NoServer(), name)  # type: ignore[arg-type]
    return MockConfigEntry(domain=DOMAIN, title=name, data=data, **kwargs)


def input_data(name: str = "external_data", **extra: Any) -> dict[str, Any]:
    """A redis_input subentry's data, as the flow stores it: the seed's input item."""
    return {
        CONF_NAME: name,
        CONF_REDIS_NODE: "bat_bmv700",
        CONF_REDIS_DATA_STRUCTURE: "HmapTimeSeries",
        CONF_TIME_INTERVAL: 1,
        CONF_STALE_AFTER: 15,
        CONF_COLUMNS: {"bmv700": SEED_COLUMNS},
        CONF_REF_COLS: SEED_REFS,
        **extra,
    }


def input_subentry(name: str = "external_data", **extra: Any) -> ConfigSubentryData:
    return ConfigSubentryData(
        data=input_data(name, **extra), subentry_type=SUBENTRY_REDIS_INPUT, title=name, unique_id=None
    )


def settings_form(name: str = "external_data", **extra: Any) -> dict[str, Any]:
    return {
        CONF_NAME: name,
        CONF_REDIS_NODE: "bat_bmv700",
        CONF_REDIS_DATA_STRUCTURE: "HmapTimeSeries",
        CONF_TIME_INTERVAL: 1,
        CONF_STALE_AFTER: 15,
        **extra,
    }


def node_form(name: str = "bmv700", columns: Any = None, *, more: bool = False) -> dict[str, Any]:
    return {
        "node_name": name,
        CONF_COLUMNS: SEED_COLUMNS if columns is None else columns,
        "add_another": more,
    }


def ref_form(name: str | None, column: str | None, *, more: bool = False) -> dict[str, Any]:
    form: dict[str, Any] = {"add_another": more}
    if name is not None:
        form["ref_name"] = name
    if column is not None:
        form["column"] = column
    return form


def suggestions(result: Any) -> dict[str, Any]:
    return {
        key.schema: (key.description or {}).get("suggested_value") for key in result["data_schema"].schema
    }


async def _start(hass: HomeAssistant, server: MockConfigEntry) -> Any:
    return await hass.config_entries.subentries.async_init(
        (server.entry_id, SUBENTRY_REDIS_INPUT), context={"source": SOURCE_USER}
    )


async def test_create_seed_example(hass: HomeAssistant) -> None:
    """The seed's input item, field by field; the subentry is titled by its name."""
    server = redis_server()
    server.add_to_hass(hass)
    result = await _start(hass, server)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["description_placeholders"] == {CONF_NAME: "local"}
    assert suggestions(result) == {
        CONF_NAME: None,
        CONF_REDIS_NODE: None,
        CONF_REDIS_DATA_STRUCTURE: "HmapTimeSeries",
        CONF_TIME_INTERVAL: 1,
        CONF_STALE_AFTER: 15,
    }
    structures = result["data_schema"].schema[CONF_REDIS_DATA_STRUCTURE].config["options"]
    assert structures == ["HmapTimeSeries", "Stream"]
    flow_id = result["flow_id"]
    configure = hass.config_entries.subentries.async_configure

    result = await configure(flow_id, settings_form())
    assert result["step_id"] == "node"
    assert result["description_placeholders"] == {"count": "1"}
    # Free labels, every known one offered (the writer may be any VE.Direct device); nothing suggested.
    selector = result["data_schema"].schema[CONF_COLUMNS].config
    assert {"V", "I", "SOC", "CS", "PPV", "H19", "AC_OUT_V"} <= set(selector["options"])
    assert selector["multiple"] is True
    assert selector["custom_value"] is True
    assert suggestions(result) == {"node_name": None, CONF_COLUMNS: None, "add_another": False}
    result = await configure(flow_id, node_form())
    assert result["step_id"] == "ref_cols"
    assert result["description_placeholders"] == {"columns": ", ".join(SEED_COLUMNS)}
    result = await configure(flow_id, ref_form("bat_voltage", "V", more=True))
    result = await configure(flow_id, ref_form("bat_current", "I", more=True))
    result = await configure(flow_id, ref_form("bat_power", "P"))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "external_data"
    assert result["data"] == input_data()
    (subentry,) = server.subentries.values()
    assert subentry.subentry_type == SUBENTRY_REDIS_INPUT
    assert subentry.title == "external_data"


async def test_settings_errors(hass: HomeAssistant) -> None:
    other = redis_server("other", subentries_data=[input_subentry("taken_elsewhere")])
    other.add_to_hass(hass)
    server = redis_server(subentries_data=[input_subentry("taken")])
    server.add_to_hass(hass)
    flow_id = (await _start(hass, server))["flow_id"]
    configure = hass.config_entries.subentries.async_configure

    result = await configure(flow_id, settings_form("bad name", **{CONF_REDIS_NODE: "bad node"}))
    assert result["errors"] == {CONF_NAME: "invalid_name", CONF_REDIS_NODE: "invalid_name"}
    # What was typed is shown again.
    assert suggestions(result)[CONF_NAME] == "bad name"
    result = await configure(flow_id, settings_form("taken"))
    assert result["errors"] == {CONF_NAME: "input_name_in_use"}
    for interval, stale_after in ((0, 15), (3601, 15), (1, 1), (1, 86_401), (1.5, 15)):
        result = await configure(
            flow_id, settings_form(**{CONF_TIME_INTERVAL: interval, CONF_STALE_AFTER: stale_after})
        )
        expected = (
            {CONF_TIME_INTERVAL: "out_of_range"} if interval != 1 else {CONF_STALE_AFTER: "out_of_range"}
        )
        assert result["errors"] == expected, (interval, stale_after)
    # A name another server's input has is free here; no structure chosen: the default; the bounds.
    form = settings_form("taken_elsewhere", **{CONF_TIME_INTERVAL: 3600, CONF_STALE_AFTER: 86_400})
    del form[CONF_REDIS_DATA_STRUCTURE]
    result = await configure(flow_id, form)
    assert result["step_id"] == "node"
    result = await configure(flow_id, node_form())
    result = await configure(flow_id, ref_form(None, None))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == input_data(
        "taken_elsewhere", **{CONF_TIME_INTERVAL: 3600, CONF_STALE_AFTER: 86_400, CONF_REF_COLS: []}
    )


async def test_node_and_reference_errors(hass: HomeAssistant) -> None:
    server = redis_server()
    server.add_to_hass(hass)
    flow_id = (await _start(hass, server))["flow_id"]
    configure = hass.config_entries.subentries.async_configure
    result = await configure(flow_id, settings_form(**{CONF_REDIS_DATA_STRUCTURE: "Stream"}))

    result = await configure(flow_id, node_form("bmv 700"))
    assert result["errors"] == {"node_name": "invalid_name"}
    result = await configure(flow_id, node_form(columns=[" "]))
    assert result["errors"] == {CONF_COLUMNS: "no_columns"}
    result = await configure(flow_id, node_form(columns=["V I"]))
    assert result["errors"] == {CONF_COLUMNS: "invalid_label"}
    result = await configure(flow_id, node_form(columns=[f"L{index}" for index in range(65)]))
    assert result["errors"] == {CONF_COLUMNS: "too_many_columns"}
    result = await configure(flow_id, node_form(columns=["V", "I", "V"], more=True))
    assert result["errors"] == {}
    assert result["description_placeholders"] == {"count": "2"}
    result = await configure(flow_id, node_form(columns=["SOC"]))
    assert result["errors"] == {"node_name": "node_name_in_use"}
    for index in range(2, MAX_NODES):
        result = await configure(flow_id, node_form(f"n{index}", ["CUSTOM"], more=True))
        assert result["errors"] == {}
    result = await configure(flow_id, node_form("last", ["H1"], more=True))
    assert result["errors"] == {"add_another": "too_many_nodes"}
    result = await configure(flow_id, node_form("last", ["H1"]))
    assert result["step_id"] == "ref_cols"
    assert result["description_placeholders"] == {"columns": "V, I, CUSTOM, H1"}

    result = await configure(flow_id, ref_form("bat voltage", "V"))
    assert result["errors"] == {"ref_name": "invalid_name"}
    result = await configure(flow_id, ref_form("bat_voltage", None))
    assert result["errors"] == {"column": "invalid_ref_column"}
    result = await configure(flow_id, ref_form("bat_voltage", "SOC"))
    assert result["errors"] == {"column": "invalid_ref_column"}
    result = await configure(flow_id, ref_form("bat_voltage", "V", more=True))
    result = await configure(flow_id, ref_form("bat_voltage", "I"))
    assert result["errors"] == {"ref_name": "ref_name_in_use"}
    for index in range(1, MAX_REF_COLS - 1):
        result = await configure(flow_id, ref_form(f"ref{index}", "I", more=True))
        assert result["errors"] == {}
    result = await configure(flow_id, ref_form("last", "H1", more=True))
    assert result["errors"] == {"add_another": "too_many_refs"}
    result = await configure(flow_id, ref_form("last", "H1"))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_REDIS_DATA_STRUCTURE] == "Stream"
    assert len(result["data"][CONF_COLUMNS]) == MAX_NODES
    assert len(result["data"][CONF_REF_COLS]) == MAX_REF_COLS
    assert result["data"][CONF_REF_COLS][-1] == ["last", "H1"]


@pytest.mark.parametrize("drop_node", [False, True])
async def test_reconfigure(hass: HomeAssistant, drop_node: bool) -> None:
    """The same steps, filled with the stored input; its own name is not "in use"; a reference to a
    column no node has any more is not offered again."""
    stored = input_data(
        **{
            CONF_COLUMNS: {"bmv700": SEED_COLUMNS, "history": ["H17", "H18"]},
            CONF_REF_COLS: [["bat_voltage", "V"], ["discharged", "H17"]],
        }
    )
    server = redis_server(
        subentries_data=[
            ConfigSubentryData(
                data=stored, subentry_type=SUBENTRY_REDIS_INPUT, title="external_data", unique_id=None
            ),
            input_subentry("sibling"),
        ]
    )
    server.add_to_hass(hass)
    subentry_id = next(
        key for key, subentry in server.subentries.items() if subentry.title == "external_data"
    )
    result = await hass.config_entries.subentries.async_init(
        (server.entry_id, SUBENTRY_REDIS_INPUT),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    assert result["step_id"] == "reconfigure"
    assert suggestions(result)[CONF_NAME] == "external_data"
    flow_id = result["flow_id"]
    configure = hass.config_entries.subentries.async_configure
    result = await configure(flow_id, settings_form("sibling"))
    assert result["errors"] == {CONF_NAME: "input_name_in_use"}
    result = await configure(flow_id, settings_form(**{CONF_STALE_AFTER: 30}))
    assert result["step_id"] == "node"
    assert suggestions(result) == {"node_name": "bmv700", CONF_COLUMNS: SEED_COLUMNS, "add_another": True}
    result = await configure(flow_id, node_form(more=not drop_node))
    if not drop_node:
        assert suggestions(result) == {
            "node_name": "history",
            CONF_COLUMNS: ["H17", "H18"],
            "add_another": False,
        }
        result = await configure(flow_id, node_form("history", ["H17", "H18"]))
    assert result["step_id"] == "ref_cols"
    assert suggestions(result) == {"ref_name": "bat_voltage", "column": "V", "add_another": not drop_node}
    result = await configure(flow_id, ref_form("bat_voltage", "V", more=not drop_node))
    if not drop_node:
        assert suggestions(result) == {"ref_name": "discharged", "column": "H17", "add_another": False}
        result = await configure(flow_id, ref_form("discharged", "H17"))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    expected_columns = {"bmv700": SEED_COLUMNS} if drop_node else stored[CONF_COLUMNS]
    expected_refs = [["bat_voltage", "V"]] if drop_node else stored[CONF_REF_COLS]
    assert dict(server.subentries[subentry_id].data) == stored | {
        CONF_STALE_AFTER: 30,
        CONF_COLUMNS: expected_columns,
        CONF_REF_COLS: expected_refs,
    }
    assert server.subentries[subentry_id].title == "external_data"


async def test_rename_on_reconfigure(hass: HomeAssistant) -> None:
    server = redis_server(subentries_data=[input_subentry()])
    server.add_to_hass(hass)
    (subentry_id,) = server.subentries
    result = await hass.config_entries.subentries.async_init(
        (server.entry_id, SUBENTRY_REDIS_INPUT),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    configure = hass.config_entries.subentries.async_configure
    result = await configure(result["flow_id"], settings_form("boat_bmv"))
    result = await configure(result["flow_id"], node_form())
    result = await configure(result["flow_id"], ref_form(None, None))
    assert result["reason"] == "reconfigure_successful"
    assert server.subentries[subentry_id].title == "boat_bmv"
    assert server.subentries[subentry_id].data[CONF_NAME] == "boat_bmv"


INPUT_ERRORS = (
    "invalid_name",
    "input_name_in_use",
    "out_of_range",
    "node_name_in_use",
    "no_columns",
    "invalid_label",
    "too_many_columns",
    "too_many_nodes",
    "ref_name_in_use",
    "invalid_ref_column",
    "too_many_refs",
)


@pytest.mark.parametrize("language", ["en", "fr", "de"])
async def test_every_field_and_error_is_translated(hass: HomeAssistant, language: str) -> None:
    """Each form's fields have a label and a description; every error the flow shows has its text."""
    strings = json.loads((TRANSLATIONS / f"{language}.json").read_text(encoding="utf-8"))
    texts = strings["config_subentries"][SUBENTRY_REDIS_INPUT]
    assert texts["initiate_flow"]["user"]
    assert texts["abort"]["reconfigure_successful"]
    assert set(texts["error"]) == set(INPUT_ERRORS)
    assert set(strings["entity"]["sensor"]["redis_input_on_off"]["state"]) == {"off", "on"}
    server = redis_server(subentries_data=[input_subentry()])
    server.add_to_hass(hass)
    configure = hass.config_entries.subentries.async_configure
    result = await _start(hass, server)
    forms = [result]
    forms.append(result := await configure(result["flow_id"], settings_form("other")))
    forms.append(await configure(result["flow_id"], node_form()))
    (subentry_id,) = server.subentries
    forms.append(
        await hass.config_entries.subentries.async_init(
            (server.entry_id, SUBENTRY_REDIS_INPUT),
            context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
        )
    )
    assert [form["step_id"] for form in forms] == ["user", "node", "ref_cols", "reconfigure"]
    assert set(texts["step"]) == {"user", "node", "ref_cols", "reconfigure"}
    for form in forms:
        step = texts["step"][form["step_id"]]
        fields = {str(key.schema) for key in form["data_schema"].schema}
        assert fields == set(step["data"]) == set(step["data_description"]), form["step_id"]
        placeholders = set(re.findall(r"{(\w+)}", step["title"] + step["description"]))
        assert placeholders <= set(form["description_placeholders"] or {}), form["step_id"]
