"""One VE.Direct device: the background client, and the coordinator that samples it once per slot.

A slot is `floor(t / time_interval) * time_interval` in whole seconds of UTC: the series a Redis output
stores has exactly one sample per slot while the device sends (see SlotClock). The entities show a sample
every entity_interval only (coordinator.data; see VeDirectCoordinator._shows): each changed entity state is
a recorder row, and most of what a device costs Home Assistant is those rows.
"""

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
import math
from random import randint
from typing import NoReturn, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_PORT
from homeassistant.core import CALLBACK_TYPE, HassJob, HassJobType, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.event import (
    RANDOM_MICROSECOND_MAX,
    RANDOM_MICROSECOND_MIN,
    async_track_point_in_utc_time,
)
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import (
    CONF_ENTITY_INTERVAL,
    CONF_TIME_INTERVAL,
    DEFAULT_TIME_INTERVAL,
    DOMAIN,
    LOGGER,
    PROBE_TIMEOUT,
    stall_seconds,
)
from .identity import device_info
from .models import VeDirectSample
from .repairs import async_check_port, async_port_is_back
from .vedirect import DeviceFrame, LinkState, Value, VeDirectClient

type SampleListener = Callable[[VeDirectSample], None]

# Values that may wait for the next entity refresh: measurements and counters (and `---`). Codes, flags,
# ON/OFF and text change rarely and mean something (an alarm, the relay, the charge state): shown at once.
_MAY_WAIT: frozenset[type] = frozenset({int, float, type(None)})


class SlotClock:
    """Which slots a tick takes, so that every slot gets exactly one sample.

    A tick takes the slot it falls in, and also every slot since the previous tick's that got none: a late
    tick (the event loop was busy) still fills the slot that was due, and a stall of several slots leaves
    no hole. At most `limit` slots per tick (the stall window): slots further back stay empty, as they would
    if the link had been lost, and a clock set forward by hours does not flood the outputs.
    A tick in the slot already taken (jitter, a refresh asked for in between) takes the next slot, one
    finding that taken too takes none: a slot is never given twice, and the next scheduled tick waits for
    the clock to catch up. A clock set back by more than `limit` slots starts the series over from there.
    """

    def __init__(self, interval: int, limit: int, name: str = "") -> None:
        self.interval = interval
        self.limit = limit
        self.name = name  # for the log
        self.last: int | None = None  # the newest slot taken or skipped

    def slot_of(self, now: float) -> int:
        """The slot of a POSIX time."""
        return math.floor(now / self.interval) * self.interval

    def take(self, now: float) -> range:
        """The slots a tick at `now` samples, oldest first (empty: none is free yet)."""
        step, last, current = self.interval, self.last, self.slot_of(now)
        if last is None or last - current >= self.limit * step:
            if last is not None:
                LOGGER.warning(
                    "%s: the clock went back by %d s; the samples start over from there",
                    self.name,
                    last - current,
                )
            first = current
        elif current > last:
            first = max(last + step, current - (self.limit - 1) * step)
        elif current == last:
            first = current = last + step
        else:
            return range(0)
        self.last = current
        return range(first, current + step, step)

    def skip(self, now: float) -> None:
        """A tick without a sample (no valid block): its slot and those before it stay empty."""
        current = self.slot_of(now)
        if self.last is None or current > self.last:
            self.last = current

    def next_start(self, now: float) -> int:
        """Where the next free slot starts."""
        return (self.slot_of(now) if self.last is None else self.last) + self.interval


class VeDirectCoordinator(DataUpdateCoordinator[VeDirectSample]):
    """Samples the latest merged frame once per slot of time_interval; fails while no valid block arrives.

    The sample listeners (Redis outputs) get every sample; the entities (coordinator.data and its listeners)
    one per entity_interval, and at once when the link is lost or back, when a field appears, or when a
    code, flag set, ON/OFF or text field changes. Without an entity_interval (devices added before the
    option, or the field left empty) they get every sample, as they always did.
    """

    config_entry: ConfigEntry

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Build the client; nothing is opened before async_config_entry_first_refresh()."""
        interval = int(entry.options.get(CONF_TIME_INTERVAL, DEFAULT_TIME_INTERVAL))
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"VE.Direct {entry.title}",
            update_interval=timedelta(seconds=interval),
            # The listeners (entities) run when the data is another sample or the availability changes:
            # a tick that is not an entity refresh returns the sample they show already.
            always_update=False,
        )
        # None or absent (a device of before the option, or the field left empty): every sample.
        self.entity_interval = max(interval, int(entry.options.get(CONF_ENTITY_INTERVAL) or interval))
        self._shown_slot = 0  # the slot of the sample the entities show
        self.port: str = entry.data[CONF_PORT]
        self.stall_after = timedelta(seconds=stall_seconds(interval))
        self.client = VeDirectClient(
            self.port,
            on_frame=self._on_frame,
            on_link_state=self._on_link_state,
            stall_timeout=self.stall_after.total_seconds(),
        )
        self._frame: DeviceFrame | None = None
        self._received_at: datetime | None = None
        self._client_reported = asyncio.Event()  # set on every frame and link state change (for setup)
        self._sample_listeners: list[SampleListener] = []
        self._slots = SlotClock(interval, max(1, stall_seconds(interval) // interval), entry.title)
        # After the slot starts, like the base class's stagger: blocks from several devices do not all
        # wake the loop at once, and a timer firing a little early still lands in its slot.
        self._stagger = randint(RANDOM_MICROSECOND_MIN, RANDOM_MICROSECOND_MAX) / 10**6
        self._slot_job = HassJob(self._slot_due, f"{self.name} sample", job_type=HassJobType.Callback)

    @callback
    def async_add_sample_listener(self, listener: SampleListener) -> CALLBACK_TYPE:
        """Call ``listener`` once per sample taken (the Redis outputs store exactly these samples)."""
        self._sample_listeners.append(listener)
        return lambda: self._sample_listeners.remove(listener)

    @override
    async def _async_setup(self) -> None:
        """Start the client tied to the entry and wait for the first valid block (else: not ready)."""
        self.config_entry.async_create_background_task(
            self.hass, self.client.run(), f"{DOMAIN} VE.Direct client {self.port}"
        )
        self.config_entry.async_on_unload(self.client.stop)
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                while self._frame is None:
                    if self.client.link_state is LinkState.DISCONNECTED:
                        # Not ready: HA retries; a port missing across retries gets its repair issue.
                        async_check_port(self.hass, self.config_entry, dt_util.utcnow())
                        raise UpdateFailed(
                            translation_domain=DOMAIN,
                            translation_key="cannot_open",
                            translation_placeholders={"port": self.port},
                        )
                    self._client_reported.clear()
                    await self._client_reported.wait()
        except TimeoutError as err:
            async_port_is_back(self.hass, self.config_entry)  # it opened: present, if silent
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="no_data",
                translation_placeholders={"port": self.port},
            ) from err
        self._update_device_info(self._frame)

    @callback
    @override
    def _schedule_refresh(self) -> None:
        """The next refresh at the start of the next free slot (+ the stagger), on the wall clock.

        The base class schedules whole seconds of the monotonic clock, whose phase against the wall clock
        is arbitrary: its ticks could sit on a slot boundary, where jitter makes one take a slot early and
        the next skip one (SlotClock would mend both: aligned, it has nothing to mend). As in the base
        class: nothing while the entry's polling is disabled, cancelled at each refresh and on shutdown
        (_async_unsub_refresh), and the refresh runs as a scheduled one (skipped while HA stops).
        """
        if self.config_entry.pref_disable_polling:
            return
        self._async_unsub_refresh()
        due = self._slots.next_start(dt_util.utcnow().timestamp()) + self._stagger
        self._unsub_refresh = async_track_point_in_utc_time(
            self.hass, self._slot_job, datetime.fromtimestamp(due, UTC)
        )

    @callback
    def _slot_due(self, _now: datetime) -> None:
        self.config_entry.async_create_background_task(
            self.hass, self._handle_refresh_interval(), f"{self.name} sample"
        )

    @override
    async def _async_update_data(self) -> VeDirectSample:
        """Sample every slot this tick takes, or fail when the last valid block is older than the stall
        window.

        The sample listeners (the Redis outputs) get one sample per slot, oldest first; slots a late tick
        fills hold the frame as it is at that tick (the blocks in between are not kept). The entities get
        the newest only, when _shows() says so; otherwise, as after a tick that finds no free slot, the
        current sample is returned again (and the base class calls no listener: always_update=False).
        """
        now = dt_util.utcnow()
        frame, received_at = self._frame, self._received_at
        if frame is None or received_at is None or now - received_at > self.stall_after:
            self._slots.skip(now.timestamp())
            self._link_lost(now)
        slots = self._slots.take(now.timestamp())
        if not slots:
            return self.data
        # The client hands a fresh snapshot per block and nothing mutates it: no second copy per sample.
        samples = [
            VeDirectSample(timestamp=datetime.fromtimestamp(slot, UTC), frame=frame, received_at=received_at)
            for slot in slots
        ]
        for sample in samples:
            for listener in list(self._sample_listeners):
                try:
                    listener(sample)
                except Exception:
                    LOGGER.exception("Sample listener of %s failed", self.name)
        if not self._shows(slots[-1], frame):
            return self.data
        self._shown_slot = slots[-1]
        return samples[-1]

    def _shows(self, slot: int, frame: DeviceFrame) -> bool:
        """Whether the entities get the sample of `slot`: the first one, the first after a failure (the
        availability comes back with fresh values), one entity_interval after the one they show, or
        one whose frame has a new field or another code, flags, ON/OFF or text value."""
        shown = self.data
        if shown is None or not self.last_update_success:
            return True
        if not 0 <= slot - self._shown_slot < self.entity_interval:  # (below 0: the clock went back)
            return True
        return shown.frame is not frame and _changed_at_once(shown.frame.values, frame.values)

    def _link_lost(self, now: datetime) -> NoReturn:
        """Warn once, watch for a vanished port (repair issue), and fail the update."""
        if self.last_update_success:
            LOGGER.warning(
                "%s: no valid VE.Direct block from %r for %d s; entities unavailable until data is back",
                self.config_entry.title,
                self.port,
                self.stall_after.total_seconds(),
            )
        async_check_port(self.hass, self.config_entry, now)
        raise UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="link_lost",
            translation_placeholders={
                "port": self.port,
                "seconds": str(int(self.stall_after.total_seconds())),
            },
        )

    @override
    async def _async_refresh(
        self,
        log_failures: bool = True,
        raise_on_auth_failed: bool = False,
        scheduled: bool = False,
        raise_on_entry_error: bool = False,
    ) -> None:
        """Refresh without the base class's error line: _link_lost logs the loss once, at warning level.

        The base class still logs the recovery once, at info ("Fetching VE.Direct <name> data recovered").
        """
        await super()._async_refresh(
            log_failures=False,
            raise_on_auth_failed=raise_on_auth_failed,
            scheduled=scheduled,
            raise_on_entry_error=raise_on_entry_error,
        )

    @callback
    def _on_frame(self, frame: DeviceFrame) -> None:
        """A valid block arrived (the client hands a fresh merged copy)."""
        previous, self._frame = self._frame, frame
        self._received_at = dt_util.utcnow()
        self._client_reported.set()
        if previous is not None and self.data is not None and _identity_changed(previous, frame):
            self._update_device_info(frame)
        async_port_is_back(self.hass, self.config_entry)

    @callback
    def _on_link_state(self, state: LinkState) -> None:
        """Show the new link state at once; stalls are judged by sample age, not here."""
        self._client_reported.set()
        if self.data is not None:
            self.async_update_listeners()

    def _update_device_info(self, frame: DeviceFrame | None) -> None:
        """Model, serial and firmware come from the device: (re)write them on the registry entry."""
        dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.config_entry.entry_id, **device_info(self.config_entry, frame)
        )


def _changed_at_once(old: Mapping[str, Value], new: Mapping[str, Value]) -> bool:
    """A label the entities have not seen (its entity is to be added), or another value that is not to wait
    (_MAY_WAIT): a few dictionary reads per tick, far less than the entity updates it saves."""
    return new.keys() != old.keys() or any(
        type(value) not in _MAY_WAIT and old.get(label) != value for label, value in new.items()
    )


def _identity_changed(old: DeviceFrame, new: DeviceFrame) -> bool:
    """Whether model, serial or firmware may differ: the raw fields they come from (DeviceFrame.product_id,
    serial_number, firmware) compared, at every block: decoding them would cost more than the rest of the
    block's bookkeeping."""
    a, b = old.fields, new.fields
    return (a.get("PID"), a.get("SER#"), a.get("FW"), a.get("FWE")) != (
        b.get("PID"),
        b.get("SER#"),
        b.get("FW"),
        b.get("FWE"),
    )
