"""Fixtures shared by the whole suite."""

from collections.abc import Generator
import os
from pathlib import Path
from typing import override
from unittest.mock import PropertyMock, patch

from homeassistant.const import MAJOR_VERSION, MINOR_VERSION
from hypothesis import settings
import pytest
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion
from syrupy.location import PyTestLocation

# CI explores the same examples on every run (reproducible verdicts); elsewhere Hypothesis keeps exploring.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Fixtures of the Home Assistant Redis tests (redis-servers, Redis server entries).
pytest_plugins = ["tests.redis_fixtures"]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let the hass fixture load custom_components/vemonitor."""


class VersionedSnapshotExtension(HomeAssistantSnapshotExtension):
    """Registry entries and states serialise differently across Home Assistant releases (new fields): the
    current release's snapshots are in tests/snapshots/, an older release's in tests/snapshots-ha-YYYY.M/."""

    @classmethod
    @override
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        base = Path(super().dirname(test_location=test_location))
        if (MAJOR_VERSION, MINOR_VERSION) >= CURRENT_RELEASE:
            return str(base)
        # A sibling, not a subdirectory: each release's --snapshot-update must not see the other's as unused.
        return str(base.with_name(f"{base.name}-ha-{MAJOR_VERSION}.{MINOR_VERSION}"))


CURRENT_RELEASE = (2026, 10)


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots of Home Assistant objects (states, registry entries), stored in tests/snapshots/."""
    return snapshot.use_extension(VersionedSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create the entities that are disabled by default enabled (as in Home Assistant core's tests)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield
