"""Redis Worker modules: VE.Direct samples to Redis in the seed's layouts, without gaps.

Plain asyncio + redis-py; no Home Assistant and no VE.Direct import: the HA layer feeds `Sample`s.

    settings = RedisServerSettings("192.168.0.52", 16379, password="...")
    await probe(settings)                      # config flow: raises CannotConnect, InvalidAuth, ...
    connector = await RedisConnector.create(settings)  # one per server (TLS context built off the loop)
    worker = OutputWorker(lambda: connector, OutputSettings(redis_node="bat_bmv700",
                          columns={"bmv700": ["V", "I", "P", "SOC"]}), spool_path=spool_dir,
                          on_lost=..., on_back=..., on_auth_failed=..., on_dropped=...)
    await worker.start()
    worker.add(Sample(timestamp, values))      # once per sample, from the coordinator
    await worker.stop(); await connector.close()
"""

from .connector import RedisConnector, RedisServerSettings, probe
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
    DEFAULT_STRUCTURE,
    DataStructure,
    HmapTimeSeries,
    create_structure,
    register_structure,
    structure_names,
)

__all__ = [
    "AUTH_ERRORS",
    "CONNECTION_ERRORS",
    "DEFAULT_STRUCTURE",
    "CannotConnect",
    "ConnectorProvider",
    "DataStructure",
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
    "Sample",
    "ServerError",
    "TlsError",
    "Value",
    "create_structure",
    "probe",
    "register_structure",
    "structure_names",
]
