"""Fixtures shared by the whole suite."""

from collections.abc import Generator

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> Generator[None]:
    """Let the hass fixture load custom_components/vemonitor."""
    yield
