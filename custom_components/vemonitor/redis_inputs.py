"""The Redis inputs of one Redis server entry: per redis_input subentry a coordinator reading its nodes.

Each input is one Home Assistant device (tied to its subentry: removing the input removes it) with one
sensor per column; the sensor platform builds them (sensor.RedisInputSensor) from the InputColumns here.
A coordinator reads the newest point of every node through the server entry's pool, one round trip every
time_interval (redis_worker.InputReader); a node without a point newer than stale_after has its sensors
unavailable, logged once per input each way. Inputs are started in the server entry's setup and followed
live when subentries are added, changed or removed (no reload of the server).
"""

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
import math
import time
from typing import Any

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
    ConfigSubentry,
)
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util.hass_dict import HassKey

from .const import (
    CONF_COLUMNS,
    CONF_REDIS_DATA_STRUCTURE,
    CONF_REDIS_NODE,
    CONF_REF_COLS,
    CONF_STALE_AFTER,
    CONF_TIME_INTERVAL,
    DEFAULT_REDIS_DATA_STRUCTURE,
    DEFAULT_STALE_AFTER,
    DOMAIN,
    LOGGER,
    SUBENTRY_REDIS_INPUT,
)
from .models import RedisServerConfigEntry, is_closing
from .redis_entities import REDIS_MANUFACTURER
from .redis_worker import RedisConnector, RedisWorkerError
from .redis_worker.input import InputReader, InputSettings, NodePoint
from .redis_worker.sample import Value as StoredValue
from .vedirect import FIELD_SPECS, FieldKind, VeCode, VeFlags
from .vedirect.fields import Value

REDIS_INPUT_MODEL = "Redis input"
_INPUTS: HassKey[dict[str, RedisInputs]] = HassKey(f"{DOMAIN}_redis_inputs")

type InputData = dict[str, NodePoint | None]
"""What an input's coordinator holds: the newest point of each node, None when it has none recent."""


@dataclass(frozen=True, slots=True)
class InputConfig:
    """A redis_input subentry's data, typed."""

    name: str
    redis_node: str
    structure: str
    time_interval: int
    stale_after: int
    columns: dict[str, list[str]]
    ref_cols: list[list[str]]

    @classmethod
    def from_subentry(cls, subentry: ConfigSubentry) -> InputConfig:
        """Read the stored data (lists may come back as tuples from storage)."""
        data = subentry.data
        return cls(
            name=data.get(CONF_NAME) or subentry.title,
            redis_node=data[CONF_REDIS_NODE],
            structure=data.get(CONF_REDIS_DATA_STRUCTURE) or DEFAULT_REDIS_DATA_STRUCTURE,
            time_interval=int(data[CONF_TIME_INTERVAL]),
            stale_after=int(data.get(CONF_STALE_AFTER, DEFAULT_STALE_AFTER)),
            columns={node: list(labels) for node, labels in data[CONF_COLUMNS].items()},
            ref_cols=[list(pair) for pair in data.get(CONF_REF_COLS, [])],
        )


@dataclass(frozen=True, slots=True)
class InputColumn:
    """One sensor of an input: a label of a node, and the sensor's name."""

    node: str
    label: str
    name: str

    @property
    def key(self) -> str:
        """What tells the input's sensors apart (their unique id after the subentry id)."""
        return f"{self.node}_{self.label}"


def input_columns(config: InputConfig) -> list[InputColumn]:
    """The sensors of an input: each column named by its reference name (ref_cols) if it has one, else by
    its label; a name that several nodes would give is followed by its node's name."""
    references = {column: name for name, column in reversed(config.ref_cols)}  # the first pair wins
    named = [
        (node, label, references.get(label, label))
        for node, labels in config.columns.items()
        for label in labels
    ]
    counts: dict[str, int] = {}
    for _node, _label, name in named:
        counts[name] = counts.get(name, 0) + 1
    return [
        InputColumn(node, label, name if counts[name] == 1 else f"{name} {node}")
        for node, label, name in named
    ]


def _whole(value: StoredValue) -> int | None:
    """A stored number that is a whole number (codes and flags are stored as integers)."""
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return int(value)
    return None


def field_value(label: str, stored: StoredValue) -> Value:
    """A stored value (user guide section 7.1) as the VE.Direct layer decodes its label, so that the
    device's sensor descriptions show it: codes and flag sets as their tables' members, ON/OFF as a bool,
    TTG's -1 (infinite) as None, text as text. Anything that does not fit the label is None, and so is NaN
    or an infinity (another writer's JSON, a Stream's text): Home Assistant refuses them as a measurement,
    and NaN, never equal to itself, would look changed at every read."""
    if isinstance(stored, float) and not math.isfinite(stored):
        return None
    spec = FIELD_SPECS.get(label)
    if spec is None or stored is None:
        return stored
    if spec.kind in (FieldKind.TEXT, FieldKind.VERSION, FieldKind.SERIAL):
        return str(stored)
    if isinstance(stored, str):
        return None
    number = _whole(stored)
    if spec.kind is FieldKind.BOOL:
        return bool(number) if number in (0, 1) else None
    if spec.codes is not None and issubclass(spec.codes, VeFlags):
        return spec.codes(number) if number is not None and number >= 0 else None
    if spec.codes is not None and issubclass(spec.codes, VeCode):
        return None if number is None else spec.codes(number)
    if spec.label == "TTG" and stored < 0:
        return None
    return stored


def input_subentries(server: ConfigEntry) -> dict[str, ConfigSubentry]:
    """The redis_input subentries of a Redis server entry."""
    return {
        subentry_id: subentry
        for subentry_id, subentry in server.subentries.items()
        if subentry.subentry_type == SUBENTRY_REDIS_INPUT
    }


class RedisInputCoordinator(DataUpdateCoordinator[InputData]):
    """Reads one input every time_interval; tells (once each way) when its nodes have no recent point."""

    config_entry: RedisServerConfigEntry

    def __init__(self, hass: HomeAssistant, server: RedisServerConfigEntry, subentry: ConfigSubentry) -> None:
        """A reader on the server entry's pool (the inputs run only while that entry is loaded)."""
        self.subentry_id = subentry.subentry_id
        self.config = InputConfig.from_subentry(subentry)
        super().__init__(
            hass,
            LOGGER,
            config_entry=server,
            name=f"Redis input {self.config.name}",
            update_interval=timedelta(seconds=self.config.time_interval),
            always_update=False,
        )
        self.reader = InputReader(
            self._connector,
            InputSettings(
                redis_node=self.config.redis_node,
                columns=self.config.columns,
                structure=self.config.structure,
                time_interval=self.config.time_interval,
                stale_after=self.config.stale_after,
            ),
        )
        self.columns = input_columns(self.config)
        self.entities: list[Entity] = []
        self.last_points: dict[str, NodePoint] = {}  # the newest point seen of each node, however old
        self._stale: list[str] = []

    def has(self, column: InputColumn) -> bool:
        """Whether the node of `column` has a recent point holding its label."""
        point = (self.data or {}).get(column.node)
        return point is not None and column.label in point.values

    def value(self, column: InputColumn) -> Value:
        """The value of `column` in its node's newest point, as the VE.Direct layer decodes its label."""
        point = (self.data or {}).get(column.node)
        return None if point is None else field_value(column.label, point.values.get(column.label))

    def _connector(self) -> RedisConnector:
        return self.config_entry.runtime_data.connector

    @property
    def device_info(self) -> DeviceInfo:
        """The input's own service device, named after the input."""
        return DeviceInfo(
            identifiers={(DOMAIN, self.subentry_id)},
            name=self.config.name,
            manufacturer=REDIS_MANUFACTURER,
            model=REDIS_INPUT_MODEL,
            entry_type=DeviceEntryType.SERVICE,
        )

    async def _async_update_data(self) -> InputData:
        try:
            points = await self.reader.read()
        except RedisWorkerError as err:
            raise UpdateFailed(str(err)) from err
        self.last_points |= {node: point for node, point in points.items() if point is not None}
        stale = [node for node, point in points.items() if point is None]
        if stale and not self._stale:
            LOGGER.info(
                "Redis input %s: no point newer than %d s in %s; its sensors are unavailable",
                self.config.name,
                self.config.stale_after,
                ", ".join(self.reader.settings.key(node) for node in stale),
            )
        elif self._stale and not stale:
            LOGGER.info("Redis input %s: recent points again; its sensors are available", self.config.name)
        self._stale = stale
        return points

    def diagnostics(self) -> dict[str, Any]:
        """The input's settings and state (no host, no password)."""
        now = time.time()
        return {
            "title": self.config.name,
            **asdict(self.config),
            "set_members": self.reader.set_members,
            "set_contents": None if self.reader.set_contents is None else list(self.reader.set_contents),
            "last_update_success": self.last_update_success,
            "last_error": None
            if self.last_update_success or self.last_exception is None
            else type(self.last_exception.__cause__ or self.last_exception).__name__,
            "stale_nodes": list(self._stale),
            "last_point_age": {
                node: None
                if node not in self.last_points
                else math.floor(now - self.last_points[node].timestamp)
                for node in self.config.columns
            },
        }


type SensorBuilder = Callable[[RedisInputCoordinator, InputColumn], Entity]


class RedisInputs:
    """All Redis inputs of one Redis server entry, kept in step with its redis_input subentries."""

    def __init__(self, hass: HomeAssistant, server: RedisServerConfigEntry) -> None:
        self.hass = hass
        self.server = server
        self.inputs: dict[str, RedisInputCoordinator] = {}
        self._add: tuple[AddConfigEntryEntitiesCallback, SensorBuilder] | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"RedisInputs({self.server.title!r}, {list(self.inputs)!r})"

    async def async_start(self) -> None:
        """A coordinator per redis_input subentry, each read once now."""
        await asyncio.gather(
            *(self._async_add(subentry) for subentry in input_subentries(self.server).values())
        )

    async def _async_add(self, subentry: ConfigSubentry) -> RedisInputCoordinator | None:
        """A started input; None if, during its first read, the entry was unloaded or the subentry deleted
        (its sensors would go to an unloaded platform, or be refused as of an unknown subentry)."""
        coordinator = RedisInputCoordinator(self.hass, self.server, subentry)
        self.inputs[subentry.subentry_id] = coordinator
        await coordinator.async_refresh()
        if is_closing(self.server) or subentry.subentry_id not in self.server.subentries:
            await coordinator.async_shutdown()
            del self.inputs[subentry.subentry_id]
            return None
        return coordinator

    @callback
    def async_add_sensors(
        self, async_add_entities: AddConfigEntryEntitiesCallback, build: SensorBuilder
    ) -> None:
        """Add the sensors of every input, now and for the inputs added later."""
        self._add = (async_add_entities, build)
        for coordinator in self.inputs.values():
            self._async_add_input_sensors(coordinator)

    @callback
    def _async_add_input_sensors(self, coordinator: RedisInputCoordinator) -> None:
        if self._add is not None:
            async_add_entities, build = self._add
            coordinator.entities = [build(coordinator, column) for column in coordinator.columns]
            async_add_entities(coordinator.entities, config_subentry_id=coordinator.subentry_id)

    async def _async_remove(self, coordinator: RedisInputCoordinator) -> None:
        """Stop reading; remove the entities still in Home Assistant (a changed input adds its own)."""
        await coordinator.async_shutdown()
        for entity in coordinator.entities:
            if entity.hass is not None:  # a disabled entity was never added
                await entity.async_remove(force_remove=True)

    async def async_reconcile(self) -> None:
        """Follow the subentries: start new inputs, restart changed ones, stop deleted ones (Home Assistant
        removes a deleted input's device and entities)."""
        async with self._lock:
            if is_closing(self.server):
                return
            wanted = input_subentries(self.server)
            for subentry_id in [key for key in self.inputs if key not in wanted]:
                await self.inputs.pop(subentry_id).async_shutdown()
            for subentry_id, subentry in wanted.items():
                existing = self.inputs.get(subentry_id)
                if existing is not None and InputConfig.from_subentry(subentry) == existing.config:
                    continue
                if existing is not None:
                    await self._async_remove(existing)
                if (coordinator := await self._async_add(subentry)) is None:
                    continue
                self._async_forget_dropped(coordinator)
                self._async_add_input_sensors(coordinator)

    @callback
    def _async_forget_dropped(self, coordinator: RedisInputCoordinator) -> None:
        """Remove the registry entries of columns the changed input no longer has."""
        registry = er.async_get(self.hass)
        kept = {f"{coordinator.subentry_id}_{column.key}" for column in coordinator.columns}
        for entry in er.async_entries_for_config_entry(registry, self.server.entry_id):
            if entry.config_subentry_id == coordinator.subentry_id and entry.unique_id not in kept:
                registry.async_remove(entry.entity_id)

    def diagnostics(self) -> dict[str, Any]:
        """Every input's settings and state, by subentry id."""
        return {subentry_id: coordinator.diagnostics() for subentry_id, coordinator in self.inputs.items()}


async def async_setup_redis_inputs(hass: HomeAssistant, server: RedisServerConfigEntry) -> RedisInputs:
    """Start the inputs of a Redis server entry (its runtime set) and follow its subentries until unload."""
    inputs = RedisInputs(hass, server)
    await inputs.async_start()
    all_inputs = hass.data.setdefault(_INPUTS, {})
    all_inputs[server.entry_id] = inputs

    @callback
    def _forget() -> None:
        all_inputs.pop(server.entry_id, None)

    server.async_on_unload(_forget)

    @callback
    def _entry_changed(change: ConfigEntryChange, changed: ConfigEntry) -> None:
        if change is ConfigEntryChange.UPDATED and changed.entry_id == server.entry_id:
            server.async_create_task(hass, inputs.async_reconcile(), f"{DOMAIN} redis inputs update")

    server.async_on_unload(async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, _entry_changed))
    return inputs


@callback
def async_add_input_sensors(
    hass: HomeAssistant,
    server: ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    build: SensorBuilder,
) -> None:
    """Add the sensors of a set-up Redis server entry's inputs, now and for the inputs added later."""
    hass.data[_INPUTS][server.entry_id].async_add_sensors(async_add_entities, build)


@callback
def async_get_redis_inputs(hass: HomeAssistant, server_id: str) -> RedisInputs | None:
    """The inputs of a loaded Redis server entry."""
    return hass.data.get(_INPUTS, {}).get(server_id)


def redis_inputs_diagnostics(hass: HomeAssistant, server: ConfigEntry) -> dict[str, Any]:
    """The inputs of a Redis server entry: their state while it is loaded, else their settings."""
    if (inputs := async_get_redis_inputs(hass, server.entry_id)) is not None:
        return inputs.diagnostics()
    return {
        subentry_id: {"title": subentry.title, **asdict(InputConfig.from_subentry(subentry))}
        for subentry_id, subentry in input_subentries(server).items()
    }
