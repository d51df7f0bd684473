"""State writes of a real device with a Redis output, in real time: a write only for a change, and every
sample in Redis whatever the entity update interval.

The looped BMV-712 capture changes some values at every block and most never; the Redis output sends every
second. Every entity of the device and of its output is watched: no state_reported event (an unchanged
state written again), and no state_changed event whose state and attributes are those it had.
"""

from typing import Any

from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from redis import Redis

from custom_components.vemonitor.const import CONF_ENTITY_INTERVAL, CONF_TIME_INTERVAL
from tests.ha_vedirect import BMV_CAPTURE, setup_entry
from tests.redis_fixtures import server_entry
from tests.redis_server import RedisServer
from tests.test_redis_runtime import (
    block_with_outputs,
    output_subentry,
    record_samples,
    timestamps,
    unload,
    wait_until,
)
from tests.vedirect_sim import running_simulator

pytestmark = pytest.mark.usefixtures("socket_enabled")

COLUMNS = {"bmv712": ["V", "I", "P", "SOC", "Alarm", "AR", "Relay"]}


class Writes:
    """Every state write of the entities of some config entry (state_changed and state_reported)."""

    def __init__(self, hass: HomeAssistant, entry: MockConfigEntry) -> None:
        self.hass, self.entry = hass, entry
        self.changed: list[Event[Any]] = []
        self.reported: list[Event[Any]] = []
        hass.bus.async_listen(EVENT_STATE_CHANGED, self._changed)
        hass.bus.async_listen(EVENT_STATE_REPORTED, self.reported.append, event_filter=self._ours)

    @callback
    def _ours(self, data: Any) -> bool:
        registry = er.async_get(self.hass)
        entity = registry.async_get(data["entity_id"])
        return entity is not None and entity.config_entry_id == self.entry.entry_id

    @callback
    def _changed(self, event: Event[Any]) -> None:
        if self._ours(event.data):
            self.changed.append(event)

    def changed_entities(self) -> set[str]:
        return {event.data["entity_id"] for event in self.changed}


@pytest.mark.parametrize("entity_interval", [None, 3])
async def test_writes_are_changes_and_redis_has_every_sample(
    hass: HomeAssistant, redis_plain: RedisServer, redis_reader: Redis, entity_interval: int | None
) -> None:
    redis_reader.delete("bench_bmv712", "bench_bmv712_bmv712")
    server = server_entry(redis_plain)
    await setup_entry(hass, server)
    async with running_simulator(BMV_CAPTURE, rate=4.0) as sim:
        assert sim.url is not None
        entry = block_with_outputs(sim.url, output_subentry(server.entry_id, "bench_bmv712", COLUMNS))
        entry.add_to_hass(hass)
        if entity_interval is not None:
            options = {CONF_TIME_INTERVAL: 1, CONF_ENTITY_INTERVAL: entity_interval}
            hass.config_entries.async_update_entry(entry, options=options, minor_version=2)
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        writes = Writes(hass, entry)
        samples = record_samples(entry)
        await wait_until(lambda: len(samples) >= 4 and redis_reader.hlen("bench_bmv712_bmv712") >= 4)
        await unload(hass, entry)  # the final flush: every recorded sample is in Redis

    assert writes.reported == []
    for event in writes.changed:
        old, new = event.data["old_state"], event.data["new_state"]
        if old is not None and new is not None:
            assert (old.state, old.attributes) != (new.state, new.attributes), event.data["entity_id"]
    assert "sensor.bmv1_battery_voltage" in writes.changed_entities()  # values move in this capture
    assert timestamps(samples) <= set(redis_reader.hkeys("bench_bmv712_bmv712"))
