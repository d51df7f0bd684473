"""The Redis outputs of one VE.Direct device: a worker per redis_output subentry, fed with every sample.

Outputs are reconciled live when subentries are added, changed or removed (no reload of the device), and
stopped with a final flush on unload and on Home Assistant stop. An output asks its ServerLink for a pool
at each send (the server entry's, or its own while that entry is not loaded), so it picks up the new pool
after a reauth or reconfigure, and it delivers as soon as an away server answers again.
"""

import asyncio
from dataclasses import asdict, dataclass
from pathlib import Path
import shutil
from typing import Any

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
    ConfigSubentry,
)
from homeassistant.const import CONF_SOURCE, EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import (
    CONF_BACKLOG_LIMIT,
    CONF_CACHE_INTERVAL,
    CONF_COLUMNS,
    CONF_REDIS_DATA_STRUCTURE,
    CONF_REDIS_NODE,
    CONF_REF_COLS,
    CONF_RETENTION,
    CONF_SET_MEMBERS,
    CONF_TIME_INTERVAL,
    DOMAIN,
    SET_MEMBERS_NODES,
    SUBENTRY_REDIS_OUTPUT,
)
from .identity import device_key
from .models import VeDirectSample, is_closing, signal_redis_server_ready
from .redis_entities import OUTPUT_SENSORS, REDIS_MANUFACTURER, RedisOutputSensor
from .redis_server import ServerLink, async_get_redis_server
from .redis_worker import (
    CannotConnect,
    OutputSettings,
    OutputState,
    OutputWorker,
    RedisConnector,
    RedisWorkerError,
    Sample,
)

SPOOL_DIRECTORY = (".storage", DOMAIN, "redis_spool")
ISSUE_BACKLOG_FULL = "redis_backlog_full"
ISSUE_SOURCE_MISSING = "redis_source_missing"


@dataclass(frozen=True, slots=True)
class OutputConfig:
    """A redis_output subentry's data, typed."""

    source: str
    redis_node: str
    structure: str
    time_interval: int
    cache_interval: int
    backlog_limit: int
    columns: dict[str, list[str]]
    ref_cols: list[list[str]]
    retention: int  # seconds, 0 = forever: also for outputs older than the setting (never trimmed unasked)
    set_members: str  # "nodes" (also for outputs older than the setting) or "hashes"

    @classmethod
    def from_subentry(cls, subentry: ConfigSubentry) -> OutputConfig:
        """Read the stored data (lists may come back as tuples from storage)."""
        data = subentry.data
        return cls(
            source=data[CONF_SOURCE],
            redis_node=data[CONF_REDIS_NODE],
            structure=data[CONF_REDIS_DATA_STRUCTURE],
            time_interval=int(data[CONF_TIME_INTERVAL]),
            cache_interval=int(data[CONF_CACHE_INTERVAL]),
            backlog_limit=int(data[CONF_BACKLOG_LIMIT]),
            columns={node: list(labels) for node, labels in data[CONF_COLUMNS].items()},
            ref_cols=[list(pair) for pair in data.get(CONF_REF_COLS, [])],
            retention=int(data.get(CONF_RETENTION, 0)),
            set_members=data.get(CONF_SET_MEMBERS, SET_MEMBERS_NODES),
        )


def _issue_ids(subentry_id: str) -> tuple[str, str]:
    """The repair issues an output may raise: backlog full, server entry deleted."""
    return (f"{ISSUE_BACKLOG_FULL}_{subentry_id}", f"{ISSUE_SOURCE_MISSING}_{subentry_id}")


def _spool_path(hass: HomeAssistant, subentry_id: str) -> Path:
    return Path(hass.config.path(*SPOOL_DIRECTORY, subentry_id))


class RedisOutput:
    """One redis_output subentry at runtime: its worker, and the listeners of its entities."""

    def __init__(self, hass: HomeAssistant, device: ConfigEntry, subentry: ConfigSubentry) -> None:
        self.hass = hass
        self.device = device
        self.subentry_id = subentry.subentry_id
        self.title = subentry.title
        self.config = OutputConfig.from_subentry(subentry)
        self.spool_path = _spool_path(hass, subentry.subentry_id)
        self._listeners: list[CALLBACK_TYPE] = []
        self.link = ServerLink(hass, self.config.source)
        self.worker = self._new_worker()
        self._stopped = True
        self._unsubscribe_ready: CALLBACK_TYPE = lambda: None
        self._standby: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"RedisOutput({self.title!r}, {self.worker!r})"

    def _new_worker(self) -> OutputWorker:
        config = self.config
        worker = OutputWorker(
            self._connector,
            OutputSettings(
                redis_node=config.redis_node,
                columns=config.columns,
                structure=config.structure,
                time_interval=config.time_interval,
                cache_interval=config.cache_interval,
                backlog_limit=config.backlog_limit,
                retention=config.retention or None,
                set_members=config.set_members,
            ),
            spool_path=self.spool_path,
            name=f"{self.device.title}/{config.redis_node}",
            on_lost=self._on_lost,
            on_back=self._on_back,
            on_auth_failed=self._report_failure,
            on_dropped=self._on_dropped,
        )
        worker.add_listener(self._notify)
        return worker

    @property
    def state(self) -> OutputState:
        """What the output's sensors show."""
        return self.worker.state

    @property
    def device_info(self) -> DeviceInfo:
        """The output's own service device (tied to its subentry: removing the output removes it)."""
        return DeviceInfo(
            identifiers={(DOMAIN, self.subentry_id)},
            translation_key="redis_output",
            translation_placeholders={"redis_node": self.config.redis_node, "device": self.device.title},
            manufacturer=REDIS_MANUFACTURER,
            model=self.config.structure,
            entry_type=DeviceEntryType.SERVICE,
        )

    @property
    def via_device(self) -> tuple[str, str]:
        """The identifier of the VE.Direct device the output's device is connected through."""
        return (DOMAIN, device_key(self.device))

    @property
    def server_title(self) -> str:
        """The title of the Redis server entry it writes to (its id if that entry is gone)."""
        entry = self.hass.config_entries.async_get_entry(self.config.source)
        return entry.title if entry is not None else self.config.source

    def _connector(self) -> RedisConnector:
        """The pool to send with; CannotConnect (keep buffering) while there is none."""
        try:
            return self.link.connector()
        except CannotConnect:
            if self.hass.config_entries.async_get_entry(self.config.source) is None:
                self._async_source_missing()
            raise

    @callback
    def _async_source_missing(self) -> None:
        """The server entry was deleted: the user must pick another one (samples wait in the backlog)."""
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            _issue_ids(self.subentry_id)[1],
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_SOURCE_MISSING,
            translation_placeholders={"output": self.title, "device": self.device.title},
        )

    @callback
    def _on_lost(self, error: RedisWorkerError) -> None:
        self._report_failure(error)
        if isinstance(error, CannotConnect):
            self._stand_by()

    @callback
    def _stand_by(self) -> None:
        """Deliver as soon as the server answers (ServerLink.async_standby), not after a backoff."""
        if not self._stopped and (self._standby is None or self._standby.done()):
            self._standby = self.device.async_create_background_task(
                self.hass, self.link.async_standby(self.worker), f"{DOMAIN} redis output standby"
            )

    @callback
    def _report_failure(self, error: RedisWorkerError) -> None:
        """The worker lost the server (on_lost) or was refused (on_auth_failed, also mid-outage)."""
        if (server := async_get_redis_server(self.hass, self.config.source)) is not None:
            server.async_report_failure(error)

    @callback
    def _on_back(self) -> None:
        if (server := async_get_redis_server(self.hass, self.config.source)) is not None:
            server.async_report_success()
        ir.async_delete_issue(self.hass, DOMAIN, _issue_ids(self.subentry_id)[0])

    @callback
    def _on_dropped(self, total: int) -> None:
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            _issue_ids(self.subentry_id)[0],
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_BACKLOG_FULL,
            translation_placeholders={
                "output": self.title,
                "device": self.device.title,
                "server": self.server_title,
                "limit": str(self.config.backlog_limit),
            },
        )

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `listener()` when the output's state changes; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    async def async_start(self) -> None:
        """Reload what a previous run spooled, then send on schedule, and at once when the server answers."""
        await self.worker.start()
        self._stopped = False  # only now: a stop during the reload (an unload) leaves it to the reconcile
        self._unsubscribe_ready = async_dispatcher_connect(
            self.hass, signal_redis_server_ready(self.config.source), self._server_ready
        )
        self._stand_by()

    async def async_stop(self) -> None:
        """Final flush; what Redis did not take is on disk for the next start."""
        if self._stopped:
            return
        self._stopped = True
        self._unsubscribe_ready()
        if self._standby is not None:
            self._standby.cancel()
            await asyncio.wait([self._standby])
        await self.worker.stop()
        await self.link.async_close()

    @callback
    def _server_ready(self) -> None:
        """The server entry was set up or answers again: send the backlog now, not after the backoff."""
        self.device.async_create_task(self.hass, self.worker.flush(), f"{DOMAIN} redis output flush")

    async def async_restart(self, subentry: ConfigSubentry) -> None:
        """Apply a changed subentry: stop the old worker (its rows go to the spool), start a new one."""
        await self.async_stop()
        _async_delete_issues(self.hass, self.subentry_id)
        self.title = subentry.title
        self.config = OutputConfig.from_subentry(subentry)
        self.link = ServerLink(self.hass, self.config.source)
        self.worker = self._new_worker()
        await self.async_start()
        self._notify()

    async def async_remove(self) -> None:
        """The subentry was deleted: last flush, stop, delete its spool and repair issues."""
        await self.async_stop()
        await _async_forget(self.hass, self.subentry_id)

    def diagnostics(self) -> dict[str, Any]:
        """The output's settings and state (no secret, no host in here)."""
        state = self.worker.state
        return {
            "title": self.title,
            "server": self.server_title,
            **asdict(self.config),
            "connected": state.connected,
            "pending_samples": state.pending_samples,
            "dropped_samples": state.dropped_samples,
            "written_samples": state.written_samples,
            "expired_samples": state.expired_samples,
            "last_successful_write": state.last_successful_write and state.last_successful_write.isoformat(),
            "last_error": state.last_error and type(state.last_error).__name__,
            # The server's words (e.g. WRONGTYPE, OOM), without its address; never a password.
            "last_error_message": state.last_error and self._without_address(state.last_error),
        }

    def _without_address(self, error: RedisWorkerError) -> str:
        message = str(error)
        if (server := async_get_redis_server(self.hass, self.config.source)) is not None:
            message = message.replace(server.connector.settings.address, "<server>")
        return message


@callback
def _async_delete_issues(hass: HomeAssistant, subentry_id: str) -> None:
    for issue_id in _issue_ids(subentry_id):
        ir.async_delete_issue(hass, DOMAIN, issue_id)


async def _async_forget(hass: HomeAssistant, subentry_id: str) -> None:
    """An output is gone for good: its spool and repair issues go too."""
    _async_delete_issues(hass, subentry_id)
    await hass.async_add_executor_job(shutil.rmtree, _spool_path(hass, subentry_id), True)


def output_subentries(device: ConfigEntry) -> dict[str, ConfigSubentry]:
    """The redis_output subentries of a VE.Direct entry."""
    return {key: sub for key, sub in device.subentries.items() if sub.subentry_type == SUBENTRY_REDIS_OUTPUT}


class RedisOutputs:
    """All Redis outputs of one VE.Direct entry, kept in step with its redis_output subentries."""

    def __init__(self, hass: HomeAssistant, device: ConfigEntry) -> None:
        self.hass = hass
        self.device = device
        self.outputs: dict[str, RedisOutput] = {}
        self._add_entities: AddConfigEntryEntitiesCallback | None = None
        self._reconcile_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"RedisOutputs({self.device.title!r}, {list(self.outputs.values())!r})"

    @callback
    def async_add_sample(self, sample: VeDirectSample) -> None:
        """Hand one coordinator sample to every output: its storable values, decoded once per block."""
        if not self.outputs:
            return
        stored = Sample(timestamp=int(sample.timestamp.timestamp()), values=sample.frame.scalars)
        for output in self.outputs.values():
            output.worker.add(stored)

    @callback
    def async_add_sensors(self, async_add_entities: AddConfigEntryEntitiesCallback) -> None:
        """Add the sensors of every output, now and for the outputs added later."""
        self._add_entities = async_add_entities
        for output in self.outputs.values():
            self._async_add_output_sensors(output)

    @callback
    def _async_add_output_sensors(self, output: RedisOutput) -> None:
        if self._add_entities is not None:
            self._add_entities(
                [RedisOutputSensor(output, description) for description in OUTPUT_SENSORS],
                config_subentry_id=output.subentry_id,
            )

    async def async_start(self) -> None:
        """Start a worker for every redis_output subentry."""
        for subentry in output_subentries(self.device).values():
            await self._async_add(subentry)

    async def _async_add(self, subentry: ConfigSubentry) -> RedisOutput:
        output = RedisOutput(self.hass, self.device, subentry)
        self.outputs[subentry.subentry_id] = output
        await output.async_start()
        return output

    async def async_stop(self, _event: Event | None = None) -> None:
        """Stop every worker (final flush, the rest spooled): on unload and when Home Assistant stops. All at
        once, so that unreachable servers cost one connect timeout, not one per output."""
        await asyncio.gather(*(output.async_stop() for output in self.outputs.values()))

    async def async_reconcile(self) -> None:
        """Start new outputs, restart changed ones, remove deleted ones (also deleted during a (re)start)."""
        async with self._reconcile_lock:
            if is_closing(self.device):
                return
            wanted = output_subentries(self.device)
            for subentry_id in [key for key in self.outputs if key not in wanted]:
                await self.outputs.pop(subentry_id).async_remove()
            for subentry_id, subentry in wanted.items():
                if new := (output := self.outputs.get(subentry_id)) is None:
                    output = await self._async_add(subentry)
                elif OutputConfig.from_subentry(subentry) != output.config or subentry.title != output.title:
                    await output.async_restart(subentry)
                else:
                    continue
                if subentry_id not in self.device.subentries:
                    await self.outputs.pop(subentry_id).async_remove()
                elif is_closing(self.device):
                    await output.async_stop()  # the unload's stop may have run before this start
                elif new:
                    self._async_add_output_sensors(output)

    def diagnostics(self) -> dict[str, Any]:
        """Every output's settings and state, by subentry id."""
        return {subentry_id: output.diagnostics() for subentry_id, output in self.outputs.items()}


async def async_setup_redis_outputs(hass: HomeAssistant, device: ConfigEntry) -> RedisOutputs:
    """Start the outputs of a VE.Direct entry and follow its subentries; stopped on unload and HA stop."""
    outputs = RedisOutputs(hass, device)
    await outputs.async_start()
    device.async_on_unload(outputs.async_stop)
    # A plain listener, not async_listen_once: removing a once-listener that already fired (Home Assistant
    # stopping during this entry's setup) logs an error.
    device.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, outputs.async_stop))

    @callback
    def _entry_changed(change: ConfigEntryChange, changed: ConfigEntry) -> None:
        if change is ConfigEntryChange.UPDATED and changed.entry_id == device.entry_id:
            device.async_create_task(hass, outputs.async_reconcile(), f"{DOMAIN} redis outputs update")

    device.async_on_unload(async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, _entry_changed))
    return outputs


async def async_remove_redis_outputs(hass: HomeAssistant, device: ConfigEntry) -> None:
    """A VE.Direct entry was deleted (it is unloaded, its outputs stopped): delete their spools and issues."""
    for subentry_id in output_subentries(device):
        await _async_forget(hass, subentry_id)


def redis_outputs_diagnostics(device: ConfigEntry) -> dict[str, Any]:
    """The outputs of a device that is not loaded: their settings only."""
    return {
        subentry_id: {"title": subentry.title, **asdict(OutputConfig.from_subentry(subentry))}
        for subentry_id, subentry in output_subentries(device).items()
    }
