"""What an import would create, and what it leaves out: plain values, frozen; no repr shows a password."""

from dataclasses import dataclass, field

from .errors import Place


@dataclass(frozen=True)
class PlannedServer:
    """An active Redis connector of appConnectors.redis: a Redis server entry."""

    name: str
    host: str
    port: int
    db: int
    """As written, else the daemon's default (DAEMON_DEFAULT_DB)."""
    password: str | None = field(repr=False)
    where: Place


@dataclass(frozen=True)
class PlannedDevice:
    """A serial connector that serial inputs of a block read: a VE.Direct entry."""

    name: str
    """The connector's name (appConnectors.serial.<name>): one entry per port, whatever its inputs."""
    port: str
    """serialPort with ${HOME} and the other ${VAR} expanded, normalised as the VE.Direct flow does."""
    expected_pid: int | None
    """The PID its serialTest names (typeTest value, key PID), else None."""
    time_interval: int
    """The shortest time_interval of its inputs (the daemon samples each input at its own)."""
    block: str
    """The block of its first input."""
    inputs: tuple[str, ...]
    """The serial inputs it stands for: the node names outputs use for its data."""
    where: Place


@dataclass(frozen=True)
class PlannedOutput:
    """A Redis output of a block: a Redis output subentry of `device`, writing to `server`."""

    device: str
    server: str
    redis_node: str
    structure: str
    time_interval: int
    cache_interval: int
    columns: dict[str, list[str]]
    """Node -> labels, in the file's order (the nodes are the serial inputs' names, as the daemon's)."""
    ref_cols: list[list[str]]
    """[standard name, label] pairs, each label one of `columns`."""
    block: str
    where: Place


@dataclass(frozen=True)
class PlannedInput:
    """A Redis input of a block: a Redis input subentry of `server`."""

    name: str
    server: str
    redis_node: str
    structure: str
    time_interval: int
    columns: dict[str, list[str]]
    ref_cols: list[list[str]]
    block: str
    where: Place


@dataclass(frozen=True)
class SkippedItem:
    """Something of the file the import does not create: `what` (a name, else the key), where it is,
    the reason (a translation key: see the package docstring) and the reason's placeholders."""

    what: str
    where: Place
    reason: str
    placeholders: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportPlan:
    """Everything an import creates, in the file's order, and everything it skips."""

    servers: tuple[PlannedServer, ...]
    devices: tuple[PlannedDevice, ...]
    outputs: tuple[PlannedOutput, ...]
    inputs: tuple[PlannedInput, ...]
    skipped: tuple[SkippedItem, ...]
    files: tuple[str, ...]
    """The files read, relative to the configuration folder (none for pasted text)."""
