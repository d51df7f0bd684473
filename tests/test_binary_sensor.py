"""Binary sensors: each device family's ON/OFF fields and link, and a Redis server's connectivity."""

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.vemonitor.binary_sensor import BINARY_SENSOR_DESCRIPTIONS
from custom_components.vemonitor.const import DOMAIN
from custom_components.vemonitor.vedirect import FIELD_SPECS, FieldKind
from tests.conftest import DEVICES
from tests.ha_vedirect import mask_link_counters, setup_entry
from tests.redis_fixtures import server_data
from tests.redis_server import RedisServer


@pytest.fixture
def platforms() -> list[Platform]:
    """Only the binary sensor platform (snapshot_platform wants one platform)."""
    return [Platform.BINARY_SENSOR]


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("device", DEVICES)
async def test_entities_snapshot(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    init_integration: MockConfigEntry,
) -> None:
    """Every binary sensor of each device family: registry entry and state."""
    await snapshot_platform(
        hass, entity_registry, snapshot.with_defaults(matcher=mask_link_counters), init_integration.entry_id
    )


def test_every_on_off_field_has_a_description() -> None:
    """The field registry decides what is a binary sensor: each of its ON/OFF labels is described here."""
    bool_labels = {label for label, spec in FIELD_SPECS.items() if spec.kind is FieldKind.BOOL}
    assert bool_labels == set(BINARY_SENSOR_DESCRIPTIONS)


@pytest.mark.usefixtures("socket_enabled")
async def test_redis_server_snapshot(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    redis_plain: RedisServer,
) -> None:
    """A Redis server entry has one entity: its connectivity, on while the server answers."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="local", entry_id="redis_entry", data=server_data(redis_plain)
    )
    await setup_entry(hass, entry)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
    assert await hass.config_entries.async_unload(entry.entry_id)
