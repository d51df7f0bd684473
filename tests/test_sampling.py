"""The exact series: one sample per slot (floor(t / time_interval) * time_interval), with a frozen clock.

A real simulator on a pseudo-terminal feeds the coordinator (paused, fed by ``inject``: see test_link.py);
the test moves the clock from tick to tick, fires some ticks late and skips some, and checks what the
sample listeners (the Redis outputs) got: every slot exactly once, and what the entities got: one update
per tick, or per entity update interval (and at once for the link and for codes and ON/OFF fields), and a
state written only for an entity whose value changed.
"""

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
import math
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed_exact

from custom_components.vemonitor.const import CONF_ENTITY_INTERVAL, CONF_TIME_INTERVAL
from custom_components.vemonitor.coordinator import SlotClock, VeDirectCoordinator
from custom_components.vemonitor.models import VeDirectSample
from tests.ha_vedirect import RepeatSource, drive_until, mppt_emission, state, vedirect_entry
from vedirect_tools.simulator import Simulator, encode_block

STAGGER = 0.05  # the coordinator's offset after each slot start, fixed for the test (its smallest value)


@pytest.fixture(autouse=True)
def fixed_stagger(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every coordinator waits STAGGER after the slot start: the test knows when each tick is due."""
    monkeypatch.setattr("custom_components.vemonitor.coordinator.randint", lambda low, high: low)


@dataclass
class Device:
    """A loaded VE.Direct entry on a paused simulator, with what its coordinator handed out."""

    sim: Simulator
    block: bytes
    entry: MockConfigEntry
    samples: list[VeDirectSample]
    ticks: list[VeDirectSample]  # coordinator.data at each entity update

    @property
    def coordinator(self) -> VeDirectCoordinator:
        coordinator = self.entry.runtime_data.coordinator
        assert isinstance(coordinator, VeDirectCoordinator)
        return coordinator


@pytest.fixture
def entity_interval() -> int | None:
    """The entry's entity update interval; None: an entry made before the option (migrated to its
    time_interval)."""
    return None


@pytest.fixture
async def device(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
    interval: int,
    entity_interval: int | None,
) -> AsyncIterator[Device]:
    emission = mppt_emission()
    block = b"".join(emission)
    sim = Simulator(RepeatSource(emission), pty_link=tmp_path / "ttyVE0")
    port = await sim.start()
    sim.pause()
    entry = vedirect_entry(port, time_interval=interval)
    entry.add_to_hass(hass)
    if entity_interval is not None:
        options = {CONF_TIME_INTERVAL: interval, CONF_ENTITY_INTERVAL: entity_interval}
        hass.config_entries.async_update_entry(entry, options=options, minor_version=2)
    setup = hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
    await drive_until(hass, setup.done, sim, block)
    assert await setup
    await hass.async_block_till_done()
    coordinator = entry.runtime_data.coordinator
    samples: list[VeDirectSample] = []
    ticks: list[VeDirectSample] = []
    entry.async_on_unload(coordinator.async_add_sample_listener(samples.append))
    entry.async_on_unload(coordinator.async_add_listener(lambda: ticks.append(coordinator.data)))
    yield Device(sim, block, entry, samples, ticks)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await sim.stop()


async def fire_at(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    device: Device,
    when: float,
    block: bytes | None = b"",
) -> None:
    """A fresh block first (the device sends every second: `block`, by default the device's; None: none,
    the device is silent), then the clock moves to `when` and the timers due by then fire."""
    if block is not None:
        client = device.coordinator.client
        valid = client.stats.valid_blocks
        await drive_until(hass, lambda: client.stats.valid_blocks > valid, device.sim, block or device.block)
    moment = datetime.fromtimestamp(when, UTC)
    freezer.move_to(moment)
    async_fire_time_changed_exact(hass, moment)
    await hass.async_block_till_done()


def tick_times(interval: int, count: int, late: tuple[int, float], jump: tuple[int, float]) -> list[float]:
    """When the ticks fire (seconds after the first slot) until `count` slots are due: on time (STAGGER
    after the slot starts) but the `late[0]`th, fired `late[1]` s late, and the `jump[0]`th, fired
    `jump[1]` s after the one before (the clock jumped)."""
    times: list[float] = []
    k = 1
    while k <= count:
        at = k * interval + STAGGER
        if k == late[0]:
            at += late[1]
        elif k == jump[0]:
            at = times[-1] + jump[1]
        times.append(at)
        k = math.floor(at / interval) + 1
    return times


def slots(samples: list[VeDirectSample]) -> list[int]:
    return [int(sample.timestamp.timestamp()) for sample in samples]


@pytest.mark.parametrize(
    ("interval", "count", "late", "jump"),
    [(1, 120, (30, 1.8), (70, 3.0)), (5, 30, (10, 9.0), (20, 10.0))],
    ids=["1s", "5s"],
)
async def test_one_sample_per_slot(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    device: Device,
    interval: int,
    count: int,
    late: tuple[int, float],
    jump: tuple[int, float],
) -> None:
    """`count` slots of simulated time, a tick fired late and a clock jump over whole slots: the sample
    listeners get every slot once, in order, the entities one update per tick."""
    first = SlotClock(interval, 1).slot_of(dt_util.utcnow().timestamp())  # the setup's sample took it
    times = tick_times(interval, count, late, jump)
    assert len(times) < count  # some ticks did take several slots
    for at in times:
        await fire_at(hass, freezer, device, first + at)
        assert device.coordinator.last_update_success

    assert slots(device.samples) == [first + k * interval for k in range(1, count + 1)]
    for sample in device.samples:
        assert sample.timestamp.tzinfo is UTC
        assert sample.timestamp.microsecond == 0
        assert sample.frame.values["V"] == 13.37
    assert len(device.ticks) == len(times)  # once per tick, not once per slot
    assert device.ticks[-1] is device.samples[-1]
    # The late tick filled the slot that was due, with the frame it found.
    filled = slots(device.samples).index(first + late[0] * interval)
    assert device.samples[filled].frame is device.samples[filled + 1].frame
    assert device.samples[filled] not in device.ticks


@pytest.mark.parametrize("interval", [1])
async def test_refresh_within_a_taken_slot(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, device: Device
) -> None:
    """Refreshes asked for between ticks (update_entity) take the next slot once, then none, and the
    schedule waits for the clock: no slot twice, none missed."""
    first = SlotClock(1, 1).slot_of(dt_util.utcnow().timestamp())
    await fire_at(hass, freezer, device, first + 1 + STAGGER)
    await device.coordinator.async_refresh()
    await device.coordinator.async_refresh()
    assert slots(device.samples) == [first + 1, first + 2]
    assert device.ticks[-1] is device.samples[-1]  # the second refresh repeated the current sample
    await fire_at(hass, freezer, device, first + 2 + STAGGER)  # slot first + 2 is taken: no tick is due
    for k in (3, 4):
        await fire_at(hass, freezer, device, first + k + STAGGER)
    assert slots(device.samples) == [first + k for k in range(1, 5)]


def test_slot_clock_edges() -> None:
    """What no HA timing can show quickly: a clock set back, a stall beyond the stall window, a lost link."""
    clock = SlotClock(5, 3)
    assert list(clock.take(1003.2)) == [1000]
    assert list(clock.take(1009.9)) == [1005]
    assert list(clock.take(1100.0)) == [1090, 1095, 1100]  # a long stall: the stall window only
    assert list(clock.take(1101.0)) == [1105]  # in the slot taken (jitter): the next slot
    assert list(clock.take(1103.0)) == []  # ahead of the clock: none
    assert clock.next_start(1103.0) == 1110
    assert list(clock.take(1050.0)) == [1050]  # set back by more than the stall window: start over
    clock.skip(1061.0)  # no valid block: this slot stays empty
    assert list(clock.take(1066.0)) == [1065]


def mppt_block(**changes: str) -> bytes:
    """The capture's MPPT block with some fields changed (and its checksum made anew)."""
    lines = b"".join(mppt_emission()).decode("latin-1").split("\r\n")
    fields = [line.split("\t", 1) for line in lines if "\t" in line and not line.startswith("Checksum")]
    return encode_block([(label, changes.get(label, value)) for label, value in fields])


class StateWrites:
    """The state_changed and state_reported events of one entry's entities (what a state write fires)."""

    def __init__(self, hass: HomeAssistant, entry: MockConfigEntry) -> None:
        registry = er.async_get(hass)
        self.entity_ids = {
            entity.entity_id for entity in er.async_entries_for_config_entry(registry, entry.entry_id)
        }
        self.changed: list[str] = []
        self.reported: list[str] = []
        hass.bus.async_listen(EVENT_STATE_CHANGED, self._changed)
        hass.bus.async_listen(EVENT_STATE_REPORTED, self._reported, event_filter=self._ours)

    @callback
    def _ours(self, data: Mapping[str, Any]) -> bool:
        return data["entity_id"] in self.entity_ids

    @callback
    def _changed(self, event: Event[Any]) -> None:
        if self._ours(event.data):
            self.changed.append(event.data["entity_id"])

    @callback
    def _reported(self, event: Event[Any]) -> None:
        self.reported.append(event.data["entity_id"])


VOLTAGE = "sensor.mppt1_battery_voltage"
CHARGER = "sensor.mppt1_charger_state"
LOAD = "binary_sensor.mppt1_load_output"


@pytest.mark.parametrize("interval", [1])
async def test_only_changed_states_are_written(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, device: Device
) -> None:
    """An entry of before the entity interval: its entities get every sample, as they did; those whose
    value did not change write nothing (no state_changed, no state_reported), the others a new state."""
    writes = StateWrites(hass, device.entry)
    assert {VOLTAGE, CHARGER, "sensor.mppt1_invalid_blocks", "binary_sensor.mppt1_ve_direct_link"} <= set(
        hass.states.async_entity_ids()
    )
    first = SlotClock(1, 1).slot_of(dt_util.utcnow().timestamp())
    for k in range(1, 6):
        await fire_at(hass, freezer, device, first + k + STAGGER)
    assert len(device.ticks) == 5  # the entities were told of every sample, as before
    assert (writes.changed, writes.reported) == ([], [])

    await fire_at(hass, freezer, device, first + 6 + STAGGER, mppt_block(V="13400"))
    assert writes.changed == [VOLTAGE]
    assert writes.reported == []
    assert state(hass, VOLTAGE) == "13.4"


@pytest.mark.parametrize(("interval", "entity_interval"), [(1, 10)])
async def test_entity_interval(hass: HomeAssistant, freezer: FrozenDateTimeFactory, device: Device) -> None:
    """Entities refresh every entity_interval while the sample listeners (Redis) get every slot; a code
    (the charge state) shows at once, and so do a lost link and its return."""
    writes = StateWrites(hass, device.entry)
    first = SlotClock(1, 1).slot_of(dt_util.utcnow().timestamp())  # the setup's sample: shown
    for k in range(1, 10):
        await fire_at(hass, freezer, device, first + k + STAGGER, mppt_block(V=str(13370 + k)))
    assert [sample.frame.values["V"] for sample in device.samples] == [
        (13370 + k) / 1000 for k in range(1, 10)
    ]
    assert device.ticks == []  # no entity was even told
    assert writes.changed == []
    assert state(hass, VOLTAGE) == "13.37"

    await fire_at(hass, freezer, device, first + 10 + STAGGER, mppt_block(V="13380"))
    assert len(device.ticks) == 1
    assert writes.changed == [VOLTAGE]
    assert state(hass, VOLTAGE) == "13.38"

    # The charge state (bulk -> float) and the load output (off -> on) show at once.
    await fire_at(hass, freezer, device, first + 11 + STAGGER, mppt_block(V="13380", CS="5", LOAD="ON"))
    assert len(device.ticks) == 2
    assert sorted(writes.changed) == sorted([VOLTAGE, CHARGER, LOAD])  # (HA's order of platforms varies)
    assert (state(hass, CHARGER), state(hass, LOAD)) == ("float", STATE_ON)

    # Silent from here: the last block came at first + 10 + STAGGER; the link is lost after 5 s of that.
    for k in range(12, 16):
        await fire_at(hass, freezer, device, first + k + STAGGER, block=None)
    assert state(hass, VOLTAGE) == "13.38"
    await fire_at(hass, freezer, device, first + 16 + STAGGER, block=None)
    assert state(hass, VOLTAGE) == STATE_UNAVAILABLE  # at once, not at the next entity refresh
    await fire_at(hass, freezer, device, first + 17 + STAGGER, mppt_block(V="13390", CS="5", LOAD="ON"))
    assert state(hass, VOLTAGE) == "13.39"  # back at once, with the fresh value
    assert state(hass, CHARGER) == "float"
    assert slots(device.samples) == [first + k for k in (*range(1, 16), 17)]  # every slot with data
