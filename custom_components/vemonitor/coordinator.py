"""One VE.Direct device: the background client, and the coordinator that samples it every time_interval."""

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NoReturn, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_PORT
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import CONF_TIME_INTERVAL, DEFAULT_TIME_INTERVAL, DOMAIN, LOGGER, PROBE_TIMEOUT, stall_seconds
from .identity import device_info
from .models import VeDirectSample
from .repairs import async_check_port, async_port_is_back
from .vedirect import DeviceFrame, LinkState, VeDirectClient

type SampleListener = Callable[[VeDirectSample], None]


class VeDirectCoordinator(DataUpdateCoordinator[VeDirectSample]):
    """Samples the latest merged frame every time_interval; fails while no valid block arrives."""

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
        )
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

    @override
    async def _async_update_data(self) -> VeDirectSample:
        """Take one sample, or fail when the last valid block is older than the stall window."""
        now = dt_util.utcnow()
        frame, received_at = self._frame, self._received_at
        if frame is None or received_at is None or now - received_at > self.stall_after:
            self._link_lost(now)
        # The client hands a fresh snapshot per block and nothing mutates it: no second copy per sample.
        sample = VeDirectSample(timestamp=now, frame=frame, received_at=received_at)
        for listener in list(self._sample_listeners):
            try:
                listener(sample)
            except Exception:
                LOGGER.exception("Sample listener of %s failed", self.name)
        return sample

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


def _identity_changed(old: DeviceFrame, new: DeviceFrame) -> bool:
    return (old.product_id, old.serial_number, old.firmware) != (
        new.product_id,
        new.serial_number,
        new.firmware,
    )
