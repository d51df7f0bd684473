"""Every string the Redis part shows exists in English, French and German, with the same placeholders."""

import json
from pathlib import Path
import re
from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.vemonitor.const import DOMAIN
from custom_components.vemonitor.redis_entities import OUTPUT_SENSORS, SERVER_SENSORS
from custom_components.vemonitor.redis_outputs import ISSUE_BACKLOG_FULL, ISSUE_SOURCE_MISSING

TRANSLATIONS = Path(__file__).parents[1] / "custom_components" / DOMAIN / "translations"
LANGUAGES = ("en", "fr", "de")
FLOW_ERRORS = (
    "cannot_connect",
    "invalid_auth",
    "no_write_permission",
    "read_only_server",
    "tls_error",
    "server_error",
    "invalid_name",
    "redis_name_in_use",
    "invalid_nodes",
    "invalid_service_name",
    "invalid_sentinel_auth",
    "no_sentinel",
    "unknown_service",
    "no_master",
    "not_a_sentinel",
    "cluster_down",
    "not_a_cluster",
    "is_a_sentinel",
    "is_a_cluster",
    "replicas_behind",
)
# Every failure of a Redis server (error_key): a form error and the message of a setup that fails.
SERVER_FAILURES = (
    "cannot_connect",
    "invalid_auth",
    "no_write_permission",
    "read_only_server",
    "tls_error",
    "server_error",
    "invalid_ca_cert",
    "invalid_db",
    "invalid_sentinel_auth",
    "no_sentinel",
    "unknown_service",
    "no_master",
    "not_a_sentinel",
    "cluster_down",
    "not_a_cluster",
    "is_a_sentinel",
    "is_a_cluster",
    "replicas_behind",
)
KINDS = ("single", "sentinel", "cluster")
FORM_STEPS = (
    "reauth_confirm",
    *(f"redis_{kind}" for kind in KINDS),
    *(f"reconfigure_redis_{kind}" for kind in KINDS),
)
SUBENTRY_ERRORS = (
    "invalid_name",
    "redis_node_in_use",
    "unknown_source",
    "node_name_in_use",
    "no_columns",
    "ref_name_in_use",
    "invalid_ref_column",
)


def _load(language: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((TRANSLATIONS / f"{language}.json").read_text(encoding="utf-8"))
    return data


def _flatten(node: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(node, dict):
        flat: dict[str, str] = {}
        for key, value in node.items():
            flat |= _flatten(value, f"{prefix}/{key}")
        return flat
    return {prefix: str(node)}


@pytest.mark.parametrize("language", LANGUAGES)
def test_redis_keys_present(language: str) -> None:
    strings = _load(language)
    config = strings["config"]
    for step in FORM_STEPS:
        assert config["step"][step]["title"]
        assert set(config["step"][step]["data"]) == set(config["step"][step]["data_description"])
    assert set(config["step"]["redis_server"]["menu_options"]) == {f"redis_{kind}" for kind in KINDS}
    assert set(config["step"]["reconfigure_redis_server"]["menu_options"]) == {
        f"reconfigure_redis_{kind}" for kind in KINDS
    }
    for error in FLOW_ERRORS:
        assert config["error"][error]
    assert config["abort"]["redis_reauth_successful"]
    assert config["abort"]["redis_reconfigure_successful"]
    subentry = strings["config_subentries"]["redis_output"]
    assert set(subentry["step"]) == {"user", "reconfigure", "node", "ref_cols"}
    for error in SUBENTRY_ERRORS:
        assert subentry["error"][error]
    assert subentry["abort"]["no_redis_server"]
    assert subentry["initiate_flow"]["user"]
    for description in OUTPUT_SENSORS:
        assert strings["entity"]["sensor"][description.translation_key]["name"]
    assert strings["device"]["redis_output"]["name"]
    assert strings["issues"][ISSUE_BACKLOG_FULL]["description"]
    assert strings["issues"][ISSUE_SOURCE_MISSING]["description"]
    for key in SERVER_FAILURES:
        assert config["error"][key]
        assert strings["exceptions"][f"redis_{key}"]["message"]
    for server_sensor in SERVER_SENSORS:
        assert strings["entity"]["sensor"][server_sensor.translation_key]["name"]


def test_languages_in_step() -> None:
    """Same keys and same placeholders in the three languages; the texts really are translated."""
    flat = {language: _flatten(_load(language)) for language in LANGUAGES}
    assert flat["en"].keys() == flat["fr"].keys() == flat["de"].keys()
    redis_keys = [key for key in flat["en"] if "redis" in key]
    assert redis_keys
    for key in redis_keys:
        placeholders = {language: set(re.findall(r"{(\w+)}", flat[language][key])) for language in LANGUAGES}
        assert placeholders["en"] == placeholders["fr"] == placeholders["de"], key
        # The frontend formats strings as ICU messages: "<...>" would be read as a tag.
        assert "<" not in flat["en"][key] + flat["fr"][key] + flat["de"][key], key
    translated = [key for key in redis_keys if flat["fr"][key] != flat["en"][key] != flat["de"][key]]
    assert len(translated) > 0.8 * len(redis_keys)


@pytest.mark.parametrize("kind", KINDS)
async def test_form_fields_are_described(hass: HomeAssistant, kind: str) -> None:
    """Every field of the add form of each kind of Redis server has a label and a description."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "redis_server"}
    )
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": f"redis_{kind}"}
    )
    assert result["type"] is FlowResultType.FORM
    fields = {str(key.schema) for key in result["data_schema"].schema}
    step = _load("en")["config"]["step"][f"redis_{kind}"]
    assert fields == set(step["data"]) == set(step["data_description"])


@pytest.mark.parametrize("kind", KINDS)
async def test_reconfigure_fields_are_described(hass: HomeAssistant, kind: str) -> None:
    """Every field of the reconfigure form of each kind has a label and a description."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="local",
        data={"entry_type": "redis_server", "name": "local", "host": "127.0.0.1", "port": 1, "db": 0},
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": f"reconfigure_redis_{kind}"}
    )
    assert result["type"] is FlowResultType.FORM
    fields = {str(key.schema) for key in result["data_schema"].schema}
    step = _load("en")["config"]["step"][f"reconfigure_redis_{kind}"]
    assert fields == set(step["data"]) == set(step["data_description"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_internal_terms(language: str) -> None:
    """The words of the daemon this integration replaces mean nothing to a Home Assistant user."""
    text = " ".join(_flatten(_load(language)).values()).lower()
    for term in ("appconnector", "seed", "block item", "service_name", "wait_replicas"):
        assert term not in text, term
