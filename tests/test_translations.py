"""Every string a person reads exists in English, French and German, for every entity and enum state."""

import json
from pathlib import Path
from typing import Any

import pytest

from custom_components.vemonitor.binary_sensor import BINARY_SENSOR_DESCRIPTIONS, LINK_DESCRIPTION
from custom_components.vemonitor.redis_entities import OUTPUT_SENSORS, SERVER_SENSORS
from custom_components.vemonitor.sensor import LINK_SENSOR_DESCRIPTIONS, SENSOR_DESCRIPTIONS

TRANSLATIONS = Path(__file__).parent.parent / "custom_components" / "vemonitor" / "translations"
ICONS = TRANSLATIONS.parent / "icons.json"


def load(language: str) -> dict[str, Any]:
    return json.loads((TRANSLATIONS / f"{language}.json").read_text(encoding="utf-8"))


def key_paths(tree: dict[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            paths |= key_paths(value, path)
        else:
            assert isinstance(value, str)
            assert value.strip(), path
            paths.add(path)
    return paths


@pytest.mark.parametrize("language", ["fr", "de"])
def test_languages_have_the_same_keys(language: str) -> None:
    assert key_paths(load(language)) == key_paths(load("en"))


def test_every_entity_and_state_is_translated() -> None:
    entity = load("en")["entity"]
    for description in SENSOR_DESCRIPTIONS.values():
        assert description.translation_key in entity["sensor"], description.key
        for option in description.options or []:
            assert option in entity["sensor"][description.translation_key]["state"], option
    for description in (*LINK_SENSOR_DESCRIPTIONS, *OUTPUT_SENSORS, *SERVER_SENSORS):
        assert description.translation_key in entity["sensor"]
    assert "other_field" in entity["sensor"]
    for description in (*BINARY_SENSOR_DESCRIPTIONS.values(), LINK_DESCRIPTION):
        assert description.translation_key in entity["binary_sensor"]


def test_icons_name_translated_entities() -> None:
    icons = json.loads(ICONS.read_text(encoding="utf-8"))["entity"]
    entity = load("en")["entity"]
    for platform, keys in icons.items():
        for key in keys:
            assert key in entity[platform], f"{platform}.{key}"


@pytest.mark.parametrize("language", ["en", "fr", "de"])
def test_every_exception_has_a_message(language: str) -> None:
    """Home Assistant reads `exceptions.<key>.message`: a plain string shows the bare key to the user."""
    exceptions = load(language)["exceptions"]
    assert exceptions
    for key, entry in exceptions.items():
        assert isinstance(entry, dict), key
        assert isinstance(entry.get("message"), str), key
        assert entry["message"].strip(), key
