"""Redis Worker modules: VE.Direct samples to Redis in the seed's layouts, without gaps.

Plain asyncio + redis-py; no Home Assistant and no VE.Direct import: the HA layer feeds `Sample`s.

    settings = RedisServerSettings("192.168.0.52", 16379, password="...")  # or kind=SENTINEL, nodes=...
    info = await probe(settings)               # config flow: raises CannotConnect, InvalidAuth, ...
    connector = await RedisConnector.create(settings)  # one per server (TLS context built off the loop)
    worker = OutputWorker(lambda: connector, OutputSettings(redis_node="bat_bmv700",
                          columns={"bmv700": ["V", "I", "P", "SOC"]}, structure="HmapTimeSeries",
                          retention=7 * 86_400, set_members="nodes"), spool_path=spool_dir,
                          on_lost=..., on_back=..., on_auth_failed=..., on_dropped=...)
    await worker.start()
    worker.add(Sample(timestamp, values))      # once per sample, from the coordinator
    await connector.topology()                 # health check: master, shards, failovers counted
    await worker.stop(); await connector.close()
"""

from .connector import (
    DEFAULT_PORT,
    DEFAULT_SENTINEL_PORT,
    WAIT_TIMEOUT,
    AnyPipeline,
    AnyRedis,
    RedisConnector,
    RedisServerSettings,
    SendResult,
    expiry_mode_of,
)
from .errors import (
    AUTH_ERRORS,
    CONNECTION_ERRORS,
    CannotConnect,
    ClusterDown,
    InvalidAuth,
    InvalidCaCert,
    InvalidDatabase,
    InvalidSentinelAuth,
    NoMaster,
    NoSentinel,
    NotACluster,
    NotASentinel,
    NoWritePermission,
    ReadOnlyServer,
    RedisWorkerError,
    ReplicasBehind,
    ServerError,
    TlsError,
    UnknownService,
    WrongKind,
)
from .output import ConnectorProvider, OutputSettings, OutputState, OutputWorker
from .probe import probe
from .sample import Sample, Value
from .structures import (
    DEFAULT_SET_MEMBERS,
    DEFAULT_STRUCTURE,
    EXPIRY_MODES,
    SET_MEMBERS,
    STREAM,
    DataStructure,
    ExpiryMode,
    HmapTimeSeries,
    Retention,
    SetMembers,
    Stream,
    create_structure,
    register_structure,
    structure_names,
)
from .topology import CLUSTER, SENTINEL, SERVER_KINDS, SINGLE, ServerInfo, ServerKind, Topology

__all__ = [
    "AUTH_ERRORS",
    "CLUSTER",
    "CONNECTION_ERRORS",
    "DEFAULT_PORT",
    "DEFAULT_SENTINEL_PORT",
    "DEFAULT_SET_MEMBERS",
    "DEFAULT_STRUCTURE",
    "EXPIRY_MODES",
    "SENTINEL",
    "SERVER_KINDS",
    "SET_MEMBERS",
    "SINGLE",
    "STREAM",
    "WAIT_TIMEOUT",
    "AnyPipeline",
    "AnyRedis",
    "CannotConnect",
    "ClusterDown",
    "ConnectorProvider",
    "DataStructure",
    "ExpiryMode",
    "HmapTimeSeries",
    "InvalidAuth",
    "InvalidCaCert",
    "InvalidDatabase",
    "InvalidSentinelAuth",
    "NoMaster",
    "NoSentinel",
    "NoWritePermission",
    "NotACluster",
    "NotASentinel",
    "OutputSettings",
    "OutputState",
    "OutputWorker",
    "ReadOnlyServer",
    "RedisConnector",
    "RedisServerSettings",
    "RedisWorkerError",
    "ReplicasBehind",
    "Retention",
    "Sample",
    "SendResult",
    "ServerError",
    "ServerInfo",
    "ServerKind",
    "SetMembers",
    "Stream",
    "TlsError",
    "Topology",
    "UnknownService",
    "Value",
    "WrongKind",
    "create_structure",
    "expiry_mode_of",
    "probe",
    "register_structure",
    "structure_names",
]
