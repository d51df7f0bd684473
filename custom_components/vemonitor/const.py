"""Constants shared by the Home Assistant layer of VE Monitor (Home Assistant's own CONF_* names where it has
them: CONF_NAME, CONF_PORT, CONF_HOST, CONF_USERNAME, CONF_PASSWORD, CONF_SOURCE from homeassistant.const)."""

import logging
from typing import Final

DOMAIN: Final = "vemonitor"
LOGGER: Final = logging.getLogger(__package__)

# Config entry version 1.x: 1.2 VE.Direct options hold entity_interval, 1.3 VE.Direct data the device key.
ENTRY_MINOR_VERSION: Final = 3

# entry.data[CONF_ENTRY_TYPE] tells a VE.Direct device from a Redis server (see models.is_redis_server).
CONF_ENTRY_TYPE: Final = "entry_type"
ENTRY_TYPE_VEDIRECT: Final = "vedirect"
ENTRY_TYPE_REDIS_SERVER: Final = "redis_server"

# VE.Direct device entries (name and port: CONF_NAME, CONF_PORT).
CONF_TIME_INTERVAL: Final = "time_interval"
DEFAULT_TIME_INTERVAL: Final = 1
# Seconds between two refreshes of the entities (>= time_interval; the Redis outputs still get every
# sample). None or absent (entries made before the option, config entry 1.1, or the field left empty):
# every sample, whatever the time interval. New entries get max(this, time_interval): see
# config_flow.new_entity_interval.
CONF_ENTITY_INTERVAL: Final = "entity_interval"
DEFAULT_ENTITY_INTERVAL: Final = 5
# Off by default: only then do switches, numbers, selects and the write_register action change the device.
CONF_ALLOW_CONTROL: Final = "allow_control"
# entry.data: the key of the device and entity unique ids (config entry 1.3, see identity.device_key).
CONF_DEVICE_KEY: Final = "device_key"
HEX_READ_INTERVAL: Final = (
    300  # seconds between two reads of a device's HEX registers (async frames: at once)
)
MANUFACTURER: Final = "Victron Energy"
PROBE_TIMEOUT: Final = 10.0  # seconds the flows wait for valid blocks before giving up
STALL_MIN_SECONDS: Final = 5  # a link is lost after max(3 x time_interval, this) s without a valid block
PORT_MISSING_AFTER: Final = 60  # seconds a configured local port may be absent before a repair issue

# Redis server entries (host, port, username, password: Home Assistant's CONF_* names).
CONF_DB: Final = "db"
CONF_TLS: Final = "tls"
CONF_TLS_VERIFY: Final = "tls_verify"
CONF_CA_CERT: Final = "ca_cert"  # optional PEM of the CA that signed the server certificate
DEFAULT_REDIS_PORT: Final = 6379
# The kind of Redis a server entry reaches: "single", "sentinel" or "cluster" (redis_worker.SERVER_KINDS).
# Absent (entries made before the kinds): a single server; no migration.
CONF_SERVER_KIND: Final = "server_kind"
# Sentinel: the sentinels; Cluster: the nodes to start from. A list of "host:port" ("[v6]:port") strings.
CONF_NODES: Final = "nodes"
CONF_SERVICE_NAME: Final = "service_name"  # Sentinel: the name the sentinels monitor the master under
CONF_SENTINEL_USERNAME: Final = "sentinel_username"  # AUTH to the sentinels themselves (not the master)
CONF_SENTINEL_PASSWORD: Final = "sentinel_password"  # noqa: S105 (a key, not a password)
# Replicas that must confirm each batch (WAIT): absent or None automatic, 0 never wait.
CONF_WAIT_REPLICAS: Final = "wait_replicas"

# Redis output subentries of a VE.Direct entry (the server they write to: CONF_SOURCE).
SUBENTRY_REDIS_OUTPUT: Final = "redis_output"
CONF_REDIS_DATA_STRUCTURE: Final = "redis_data_structure"
CONF_CACHE_INTERVAL: Final = "cache_interval"
CONF_REDIS_NODE: Final = "redis_node"
CONF_COLUMNS: Final = "columns"
CONF_REF_COLS: Final = "ref_cols"
CONF_BACKLOG_LIMIT: Final = "backlog_limit"
CONF_RETENTION: Final = (
    "retention"  # seconds an output keeps its points; 0 (or absent: older outputs) forever
)
CONF_SET_MEMBERS: Final = (
    "set_members"  # what the SET of nodes holds: node names, or hash names (vemonitor 0.1)
)
SET_MEMBERS_NODES: Final = "nodes"
SET_MEMBERS_HASHES: Final = "hashes"
DEFAULT_RETENTION: Final = 7 * 86_400
DEFAULT_REDIS_DATA_STRUCTURE: Final = "HmapTimeSeries"
DEFAULT_CACHE_INTERVAL: Final = 5

# Redis input subentries of a Redis server entry: its name (CONF_NAME, unique among the server's inputs),
# then CONF_REDIS_NODE, CONF_REDIS_DATA_STRUCTURE, CONF_TIME_INTERVAL (the read interval), CONF_COLUMNS and
# CONF_REF_COLS as an output stores them, and how old the newest point may be before its sensors go
# unavailable.
SUBENTRY_REDIS_INPUT: Final = "redis_input"
CONF_STALE_AFTER: Final = "stale_after"
DEFAULT_STALE_AFTER: Final = 15  # seconds: 3 x the send interval of a default output (1 s x 5)


def stall_seconds(time_interval: int) -> int:
    """Seconds without a valid block after which a device's link counts as lost."""
    return max(3 * time_interval, STALL_MIN_SECONDS)
