"""Runtime of the Redis part: a connector per Redis server entry, an OutputWorker per redis_output subentry.

Redis server entries ("appConnectors") hold a `RedisServerRuntime`: the shared connection pool, the
connectivity state (health check + what the outputs report) and the reauth trigger. A VE.Direct entry holds
a `RedisOutputs`: a worker per subentry, fed with every sample its coordinator takes, reconciled live when
subentries are added, changed or removed (no reload of the block), stopped with a final flush on unload and
on Home Assistant stop. An output finds its server's connector at each send, so it keeps buffering while that
entry is not loaded, and picks up the new pool after a reauth or reconfigure.
"""

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
import shutil
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
    ConfigEntryState,
    ConfigSubentry,
)
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_connect, async_dispatcher_send
from homeassistant.helpers.event import async_track_time_interval

from .const import (
    CONF_BACKLOG_LIMIT,
    CONF_CA_CERT,
    CONF_CACHE_INTERVAL,
    CONF_COLUMNS,
    CONF_DB,
    CONF_ENTRY_TYPE,
    CONF_HOST,
    CONF_PASSWORD,
    CONF_REDIS_DATA_STRUCTURE,
    CONF_REDIS_NODE,
    CONF_REDIS_PORT,
    CONF_REF_COLS,
    CONF_SOURCE,
    CONF_TIME_INTERVAL,
    CONF_TLS,
    CONF_TLS_VERIFY,
    CONF_USERNAME,
    DEFAULT_TIME_INTERVAL,
    DOMAIN,
    ENTRY_TYPE_REDIS_SERVER,
    LOGGER,
    SUBENTRY_REDIS_OUTPUT,
)
from .redis_worker.connector import RedisConnector, RedisServerSettings, probe
from .redis_worker.errors import (
    AUTH_ERRORS,
    CONNECTION_ERRORS,
    CannotConnect,
    InvalidAuth,
    NoWritePermission,
    ReadOnlyServer,
    RedisWorkerError,
    TlsError,
    classify,
)
from .redis_worker.output import OutputSettings, OutputWorker
from .redis_worker.sample import Sample
from .redis_worker.structures import structure_names
from .vedirect import FIELD_SPECS, scalar_value

if TYPE_CHECKING:
    from .coordinator import VeDirectConfigEntry, VeDirectCoordinator, VeDirectSample

type RedisServerConfigEntry = ConfigEntry[RedisServerRuntime]

REDIS_SERVER_PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR]
SECONDS_PER_DAY = 86_400
HEALTH_CHECK_INTERVAL = timedelta(seconds=30)
SPOOL_DIRECTORY = (".storage", DOMAIN, "redis_spool")
ISSUE_BACKLOG_FULL = "redis_backlog_full"
ISSUE_SOURCE_MISSING = "redis_source_missing"

# The config-flow error key of each failure class (the first match wins).
_ERROR_KEYS: tuple[tuple[type[RedisWorkerError], str], ...] = (
    (InvalidAuth, "invalid_auth"),
    (NoWritePermission, "no_write_permission"),
    (ReadOnlyServer, "read_only_server"),
    (TlsError, "tls_error"),
    (CannotConnect, "cannot_connect"),
)


def _signal_server_ready(entry_id: str) -> str:
    """Dispatcher signal sent when a Redis server entry is set up or answers again."""
    return f"{DOMAIN}_redis_server_ready_{entry_id}"


# -- helpers shared with the config flows ------------------------------------------------------------------


def settings_from_data(data: Mapping[str, Any]) -> RedisServerSettings:
    """The redis_worker settings of a Redis server entry's data."""
    return RedisServerSettings(
        host=data[CONF_HOST],
        port=int(data[CONF_REDIS_PORT]),
        password=data.get(CONF_PASSWORD) or None,
        username=data.get(CONF_USERNAME) or None,
        db=int(data.get(CONF_DB, 0)),
        tls=bool(data.get(CONF_TLS, False)),
        tls_verify=bool(data.get(CONF_TLS_VERIFY, True)),
        ca_cert=data.get(CONF_CA_CERT) or None,
    )


def error_key(error: RedisWorkerError) -> str:
    """The translation key of a failure (config.error.* and exceptions.*)."""
    return next((key for cls, key in _ERROR_KEYS if isinstance(error, cls)), "server_error")


async def probe_redis_server(data: Mapping[str, Any]) -> str | None:
    """Connect, authenticate, PING and check the write permission; the error key, or None when fine."""
    settings = settings_from_data(data)
    try:
        await probe(settings)
    except RedisWorkerError as err:
        LOGGER.debug("Probe of Redis %s failed: %s", settings.address, err)
        return error_key(err)
    return None


def default_backlog_limit(block: ConfigEntry) -> int:
    """One day of the block's samples."""
    interval = max(1, int(block.options.get(CONF_TIME_INTERVAL, DEFAULT_TIME_INTERVAL)))
    return max(1, SECONDS_PER_DAY // interval)


def same_redis_database(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """Whether two Redis server entries point at the same server and database."""
    return (
        str(first[CONF_HOST]).strip().lower() == str(second[CONF_HOST]).strip().lower()
        and int(first[CONF_REDIS_PORT]) == int(second[CONF_REDIS_PORT])
        and int(first.get(CONF_DB, 0)) == int(second.get(CONF_DB, 0))
    )


def redis_data_structures() -> list[str]:
    """The selectable data structures (the default first)."""
    return structure_names()


# Columns suggested for a new node: the usual measurements, those the device sends.
SUGGESTED_COLUMNS = ("V", "I", "P", "SOC", "VPV", "PPV", "CS")


def block_sent_labels(block: ConfigEntry) -> list[str]:
    """The labels the block's device sends, in its order (none while the block is not loaded)."""
    if block.state is ConfigEntryState.LOADED and (frame := block.runtime_data.coordinator.frame) is not None:
        return list(frame.fields)
    return []


def block_field_labels(block: ConfigEntry) -> list[str]:
    """Labels to offer as columns: those the device sends (in its order), then every other known label."""
    sent = block_sent_labels(block)
    return sent + sorted(label for label in FIELD_SPECS if label not in sent)


def suggested_columns(block: ConfigEntry) -> list[str]:
    """First columns offered for a new node: the usual measurements the device sends (else V and I)."""
    sent = block_sent_labels(block)
    return [label for label in SUGGESTED_COLUMNS if label in sent] or ["V", "I"]


def sample_from(vedirect_sample: VeDirectSample) -> Sample:
    """A coordinator sample as the outputs store it: `scalar_value`s keyed by label, whole Unix seconds."""
    fields = vedirect_sample.frame.fields
    return Sample(
        timestamp=int(vedirect_sample.timestamp.timestamp()),
        values={label: scalar_value(label, raw) for label, raw in fields.items()},
    )


# -- Redis server entries -------------------------------------------------------------------------------


class RedisServerRuntime:
    """entry.runtime_data of a Redis server entry: the pool every output of this server shares."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: RedisServerConfigEntry,
        connector: RedisConnector,
        version: str | None,
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.connector = connector
        self.server_version = version
        self.connected = True
        self.closed = False
        self.last_error: RedisWorkerError | None = None
        self._listeners: list[CALLBACK_TYPE] = []

    def __repr__(self) -> str:
        return f"RedisServerRuntime({self.entry.title!r}, {self.connector!r}, connected={self.connected})"

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `listener()` when the connectivity changes; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def async_report_failure(self, error: RedisWorkerError) -> None:
        """A command failed: start a reauth if credentials fail; mark the server lost (logged once) only if
        it is unusable as a whole. A refusal of one output's writes (WRONGTYPE, OOM, NOPERM...) leaves the
        server connected: the output reports it (its last error, its log line), and the PING health check
        would otherwise turn the connectivity back on at once, again and again.
        """
        if isinstance(error, AUTH_ERRORS):
            self.entry.async_start_reauth(self.hass)
        if not isinstance(error, CONNECTION_ERRORS):
            return
        self.last_error = error
        if not self.connected:
            return
        self.connected = False
        LOGGER.info("Redis server %s is unavailable: %s", self.entry.title, error)
        self._notify()

    @callback
    def async_report_success(self) -> None:
        """The server answered: mark it back (logged once) and tell its outputs to send now."""
        self.last_error = None
        if self.connected:
            return
        self.connected = True
        LOGGER.info("Redis server %s is available again", self.entry.title)
        self._notify()
        async_dispatcher_send(self.hass, _signal_server_ready(self.entry.entry_id))

    async def async_check(self, _now: datetime | None = None) -> None:
        """PING the server with the shared pool (a connection the server closed reconnects by itself)."""
        try:
            await self.connector.client.ping()
        except Exception as exc:
            self.async_report_failure(classify(exc, self.connector.settings.address))
        else:
            self.async_report_success()

    async def async_close(self) -> None:
        """Unload: no output may use this pool any more."""
        self.closed = True
        await self.connector.close()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()


async def async_setup_redis_server(hass: HomeAssistant, entry: RedisServerConfigEntry) -> None:
    """Test the server (connect, auth, write permission), then share one pool for all its outputs."""
    settings = settings_from_data(entry.data)
    placeholders = {"name": entry.title, "address": settings.address}
    try:
        await probe(settings)
    except AUTH_ERRORS as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN,
            translation_key=f"redis_{error_key(err)}",
            translation_placeholders=placeholders,
        ) from err
    except RedisWorkerError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key=f"redis_{error_key(err)}",
            translation_placeholders=placeholders,
        ) from err
    connector = await RedisConnector.create(settings)  # the probe passed: its TLS context builds too
    version: str | None = None
    try:
        info = await connector.client.info("server")
        version = str(info.get("redis_version")) if "redis_version" in info else None
    except Exception:  # the version is cosmetic
        LOGGER.debug("Cannot read the version of Redis %s", settings.address)
    runtime = RedisServerRuntime(hass, entry, connector, version)
    entry.runtime_data = runtime
    entry.async_on_unload(runtime.async_close)
    entry.async_on_unload(async_track_time_interval(hass, runtime.async_check, HEALTH_CHECK_INTERVAL))
    async_dispatcher_send(hass, _signal_server_ready(entry.entry_id))


def _server_runtime(hass: HomeAssistant, source: str) -> RedisServerRuntime | None:
    """The server entry's runtime once its setup made it (also before HA marks the entry loaded), not after
    its unload (runtime_data outlives the unload, but its pool is closed).
    """
    entry = hass.config_entries.async_get_entry(source)
    runtime = getattr(entry, "runtime_data", None)
    if isinstance(runtime, RedisServerRuntime) and not runtime.closed:
        return runtime
    return None


# -- Redis outputs of a VE.Direct entry --------------------------------------------------------------------


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
        )


class RedisOutput:
    """One redis_output subentry at runtime: its worker, and the listeners of its entities."""

    def __init__(self, hass: HomeAssistant, block: ConfigEntry, subentry: ConfigSubentry) -> None:
        self.hass = hass
        self.block = block
        self.subentry_id = subentry.subentry_id
        self.title = subentry.title
        self.config = OutputConfig.from_subentry(subentry)
        self.spool_path = Path(hass.config.path(*SPOOL_DIRECTORY, subentry.subentry_id))
        self._listeners: list[CALLBACK_TYPE] = []
        self.worker = self._new_worker()
        self._stopped = True
        self._unsubscribe_ready: CALLBACK_TYPE = lambda: None

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
            ),
            spool_path=self.spool_path,
            name=f"{self.block.title}/{config.redis_node}",
            on_lost=self._report_failure,
            on_back=self._on_back,
            on_auth_failed=self._report_failure,
            on_dropped=self._on_dropped,
        )
        worker.add_listener(self._notify)
        return worker

    @property
    def server_title(self) -> str:
        """The title of the Redis server entry it writes to (its id if that entry is gone)."""
        entry = self.hass.config_entries.async_get_entry(self.config.source)
        return entry.title if entry is not None else self.config.source

    def _connector(self) -> RedisConnector:
        """The server entry's shared pool; CannotConnect (keep buffering) while that entry is not loaded."""
        runtime = _server_runtime(self.hass, self.config.source)
        if runtime is None:
            if self.hass.config_entries.async_get_entry(self.config.source) is None:
                self._async_source_missing()
            raise CannotConnect(f"the Redis server entry {self.server_title} is not loaded")
        return runtime.connector

    @callback
    def _async_source_missing(self) -> None:
        """The server entry was deleted: the user must pick another one (samples wait in the backlog)."""
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            f"{ISSUE_SOURCE_MISSING}_{self.subentry_id}",
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_SOURCE_MISSING,
            translation_placeholders={"output": self.title, "block": self.block.title},
        )

    @callback
    def _async_delete_issues(self) -> None:
        for issue_id in _issue_ids(self.subentry_id):
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    @callback
    def _report_failure(self, error: RedisWorkerError) -> None:
        """The worker lost the server (on_lost) or was refused (on_auth_failed, also mid-outage)."""
        if (runtime := _server_runtime(self.hass, self.config.source)) is not None:
            runtime.async_report_failure(error)

    @callback
    def _on_back(self) -> None:
        if (runtime := _server_runtime(self.hass, self.config.source)) is not None:
            runtime.async_report_success()
        ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)

    @callback
    def _on_dropped(self, total: int) -> None:
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self.issue_id,
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_BACKLOG_FULL,
            translation_placeholders={
                "output": self.title,
                "block": self.block.title,
                "server": self.server_title,
                "limit": str(self.config.backlog_limit),
            },
        )

    @property
    def issue_id(self) -> str:
        """The repair issue raised when this output drops samples."""
        return _issue_ids(self.subentry_id)[0]

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `listener()` when the output's state changes; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    async def async_start(self) -> None:
        """Reload what a previous run spooled, then send on schedule (at once when the server gets ready)."""
        self._stopped = False
        await self.worker.start()
        self._unsubscribe_ready = async_dispatcher_connect(
            self.hass, _signal_server_ready(self.config.source), self._server_ready
        )

    async def async_stop(self) -> None:
        """Final flush; what Redis did not take is on disk for the next start."""
        if self._stopped:
            return
        self._stopped = True
        self._unsubscribe_ready()
        await self.worker.stop()

    @callback
    def _server_ready(self) -> None:
        """The server entry was set up or answers again: send the backlog now, not after the backoff."""
        self.block.async_create_task(self.hass, self.worker.flush(), f"{DOMAIN} redis output flush")

    async def async_restart(self, subentry: ConfigSubentry) -> None:
        """Apply a changed subentry: stop the old worker (its rows go to the spool), start a new one."""
        await self.async_stop()
        self._async_delete_issues()
        self.title = subentry.title
        self.config = OutputConfig.from_subentry(subentry)
        self.worker = self._new_worker()
        await self.async_start()
        self._notify()

    async def async_remove(self) -> None:
        """The subentry was deleted: last flush, stop, delete its spool and repair issue."""
        await self.async_stop()
        self._async_delete_issues()
        await self.hass.async_add_executor_job(shutil.rmtree, self.spool_path, True)

    def diagnostics(self) -> dict[str, Any]:
        """The output's settings and state (no secret in here)."""
        state = self.worker.state
        config = self.config
        return {
            "title": self.title,
            "source": config.source,
            "server": self.server_title,
            "redis_data_structure": config.structure,
            "redis_node": config.redis_node,
            "time_interval": config.time_interval,
            "cache_interval": config.cache_interval,
            "backlog_limit": config.backlog_limit,
            "columns": config.columns,
            "ref_cols": config.ref_cols,
            "connected": state.connected,
            "pending_samples": state.pending_samples,
            "dropped_samples": state.dropped_samples,
            "written_samples": state.written_samples,
            "last_successful_write": None
            if state.last_successful_write is None
            else state.last_successful_write.isoformat(),
            "last_error": None if state.last_error is None else type(state.last_error).__name__,
            # host:port and the server's words (e.g. WRONGTYPE), never a password (see redis_worker.errors)
            "last_error_message": None if state.last_error is None else str(state.last_error),
        }


type EntityAdder = Callable[[RedisOutput], None]


class RedisOutputs:
    """All Redis outputs of one VE.Direct entry, kept in step with its redis_output subentries."""

    def __init__(self, hass: HomeAssistant, block: ConfigEntry) -> None:
        self.hass = hass
        self.block = block
        self.outputs: dict[str, RedisOutput] = {}
        # Platform -> adds the entities of an output created after the platforms were set up.
        self.entity_adders: dict[Platform, EntityAdder] = {}
        self._reconcile_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"RedisOutputs({self.block.title!r}, {list(self.outputs.values())!r})"

    @callback
    def async_add_sample(self, vedirect_sample: VeDirectSample) -> None:
        """Hand one coordinator sample to every output (converted once)."""
        if not self.outputs:
            return
        sample = sample_from(vedirect_sample)
        for output in self.outputs.values():
            output.worker.add(sample)

    async def async_start(self) -> None:
        """Start a worker for every redis_output subentry."""
        for subentry in _output_subentries(self.block).values():
            await self._async_add(subentry)

    async def _async_add(self, subentry: ConfigSubentry) -> RedisOutput:
        output = RedisOutput(self.hass, self.block, subentry)
        self.outputs[subentry.subentry_id] = output
        await output.async_start()
        return output

    async def async_stop(self, _event: Event | None = None) -> None:
        """Stop every worker (final flush, the rest spooled): on unload and when Home Assistant stops.

        All at once, so that unreachable servers cost one connect timeout, not one per output.
        """
        await asyncio.gather(*(output.async_stop() for output in self.outputs.values()))

    async def async_reconcile(self) -> None:
        """Follow the subentries: start new outputs, restart changed ones, remove deleted ones."""
        async with self._reconcile_lock:
            await self._async_reconcile()

    async def _async_reconcile(self) -> None:
        wanted = _output_subentries(self.block)
        for subentry_id in [key for key in self.outputs if key not in wanted]:
            output = self.outputs.pop(subentry_id)
            await output.async_remove()
        for subentry_id, subentry in wanted.items():
            output_or_none = self.outputs.get(subentry_id)
            if output_or_none is None:
                output = await self._async_add(subentry)
                for add_entities in self.entity_adders.values():
                    add_entities(output)
            elif (
                OutputConfig.from_subentry(subentry) != output_or_none.config
                or subentry.title != output_or_none.title
            ):
                await output_or_none.async_restart(subentry)

    def diagnostics(self) -> dict[str, Any]:
        """Every output's settings and state, by subentry id."""
        return {subentry_id: output.diagnostics() for subentry_id, output in self.outputs.items()}


def _issue_ids(subentry_id: str) -> tuple[str, ...]:
    """The repair issues an output may raise."""
    return (f"{ISSUE_BACKLOG_FULL}_{subentry_id}", f"{ISSUE_SOURCE_MISSING}_{subentry_id}")


def _output_subentries(block: ConfigEntry) -> dict[str, ConfigSubentry]:
    return {
        subentry_id: subentry
        for subentry_id, subentry in block.subentries.items()
        if subentry.subentry_type == SUBENTRY_REDIS_OUTPUT
    }


async def async_setup_redis_outputs(
    hass: HomeAssistant, entry: VeDirectConfigEntry, coordinator: VeDirectCoordinator
) -> RedisOutputs:
    """Start the outputs of a VE.Direct entry and feed them the coordinator's samples; undone on unload."""
    outputs = RedisOutputs(hass, entry)
    await outputs.async_start()
    # Registered first so it runs last on unload, after the sample listener is gone.
    entry.async_on_unload(outputs.async_stop)
    entry.async_on_unload(coordinator.async_add_sample_listener(outputs.async_add_sample))
    entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, outputs.async_stop))

    @callback
    def _entry_changed(change: ConfigEntryChange, changed: ConfigEntry) -> None:
        if change is ConfigEntryChange.UPDATED and changed.entry_id == entry.entry_id:
            entry.async_create_task(hass, outputs.async_reconcile(), f"{DOMAIN} redis outputs update")

    entry.async_on_unload(async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, _entry_changed))
    return outputs


async def async_remove_redis_outputs(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """A VE.Direct entry was deleted (it is unloaded, its outputs stopped): delete their spools and issues."""
    for subentry_id in _output_subentries(entry):
        for issue_id in _issue_ids(subentry_id):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
        spool = Path(hass.config.path(*SPOOL_DIRECTORY, subentry_id))
        await hass.async_add_executor_job(shutil.rmtree, spool, True)


# -- diagnostics -------------------------------------------------------------------------------------------


async def async_get_redis_diagnostics(hass: HomeAssistant, entry: ConfigEntry) -> dict[str, Any]:
    """The Redis part of a config entry's diagnostics; a password is never included."""
    if entry.data.get(CONF_ENTRY_TYPE) == ENTRY_TYPE_REDIS_SERVER:
        settings = settings_from_data(entry.data)
        server: dict[str, Any] = {
            "name": entry.title,
            "host": settings.host,
            "port": settings.port,
            "db": settings.db,
            "username": settings.username,
            "password_set": settings.password is not None,
            "tls": settings.tls,
            "tls_verify": settings.tls_verify,
            "ca_cert_set": settings.ca_cert is not None,
        }
        if entry.state is ConfigEntryState.LOADED:
            runtime: RedisServerRuntime = entry.runtime_data
            server |= {
                "connected": runtime.connected,
                "server_version": runtime.server_version,
                "last_error": None if runtime.last_error is None else type(runtime.last_error).__name__,
            }
        return {"redis_server": server}
    outputs: RedisOutputs | None = None
    if entry.state is ConfigEntryState.LOADED:
        outputs = getattr(entry.runtime_data, "redis_outputs", None)
    if outputs is not None:
        return {"redis_outputs": outputs.diagnostics()}
    return {
        "redis_outputs": {
            subentry_id: {"title": subentry.title, **asdict(OutputConfig.from_subentry(subentry))}
            for subentry_id, subentry in _output_subentries(entry).items()
        }
    }
