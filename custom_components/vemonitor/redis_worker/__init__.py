"""Redis Worker modules: VE.Direct samples to Redis in the seed's layouts, without gaps.

Plain asyncio + redis-py; no Home Assistant and no VE.Direct import: the HA layer feeds `Sample`s.

    settings = RedisServerSettings("192.168.0.52", 16379, password="...")
    await probe(settings)                      # config flow: raises CannotConnect, InvalidAuth, ...
    connector = await RedisConnector.create(settings)  # one per server (TLS context built off the loop)
    worker = OutputWorker(lambda: connector, OutputSettings(redis_node="bat_bmv700",
                          columns={"bmv700": ["V", "I", "P", "SOC"]}, structure="HmapTimeSeries",
                          retention=7 * 86_400, set_members="nodes"), spool_path=spool_dir,
                          on_lost=..., on_back=..., on_auth_failed=..., on_dropped=...)
    await worker.start()
    worker.add(Sample(timestamp, values))      # once per sample, from the coordinator
    await worker.stop(); await connector.close()
"""

from .connector import RedisConnector, RedisServerSettings, expiry_mode_of, probe
from .errors import (
    AUTH_ERRORS,
    CONNECTION_ERRORS,
    CannotConnect,
    InvalidAuth,
    InvalidCaCert,
    InvalidDatabase,
    NoWritePermission,
    ReadOnlyServer,
    RedisWorkerError,
    ServerError,
    TlsError,
)
from .output import ConnectorProvider, OutputSettings, OutputState, OutputWorker
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

__all__ = [
    "AUTH_ERRORS",
    "CONNECTION_ERRORS",
    "DEFAULT_SET_MEMBERS",
    "DEFAULT_STRUCTURE",
    "EXPIRY_MODES",
    "SET_MEMBERS",
    "STREAM",
    "CannotConnect",
    "ConnectorProvider",
    "DataStructure",
    "ExpiryMode",
    "HmapTimeSeries",
    "InvalidAuth",
    "InvalidCaCert",
    "InvalidDatabase",
    "NoWritePermission",
    "OutputSettings",
    "OutputState",
    "OutputWorker",
    "ReadOnlyServer",
    "RedisConnector",
    "RedisServerSettings",
    "RedisWorkerError",
    "Retention",
    "Sample",
    "ServerError",
    "SetMembers",
    "Stream",
    "TlsError",
    "Value",
    "create_structure",
    "expiry_mode_of",
    "probe",
    "register_structure",
    "structure_names",
]
