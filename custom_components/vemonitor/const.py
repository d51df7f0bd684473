"""Constants shared by the Home Assistant layer of VE Monitor."""

import logging
import re
from typing import Final

DOMAIN: Final = "vemonitor"
LOGGER: Final = logging.getLogger(__package__)

# Names of block items, Redis sources and Redis nodes, as the seed requires them.
NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9_-]+$")

# entry.data[CONF_ENTRY_TYPE] tells a VE.Direct device ("block item") from a Redis server ("appConnector").
CONF_ENTRY_TYPE: Final = "entry_type"
ENTRY_TYPE_VEDIRECT: Final = "vedirect"
ENTRY_TYPE_REDIS_SERVER: Final = "redis_server"

# VE.Direct device entries.
CONF_NAME: Final = "name"
CONF_PORT: Final = "port"
CONF_TIME_INTERVAL: Final = "time_interval"
DEFAULT_TIME_INTERVAL: Final = 1

# VE.Direct links (HA layer, issue 4).
MANUFACTURER: Final = "Victron Energy"
PROBE_TIMEOUT: Final = 10.0  # seconds the flows wait for valid blocks before giving up
STALL_MIN_SECONDS: Final = 5  # a link is lost after max(3 x time_interval, this) s without a valid block
PORT_MISSING_AFTER: Final = 60  # seconds a configured local port may be absent before a repair issue

# Redis server entries (appConnectors).
CONF_HOST: Final = "host"
CONF_REDIS_PORT: Final = "port"
CONF_PASSWORD: Final = "password"  # noqa: S105 - the name of the config key, not a password
CONF_USERNAME: Final = "username"
CONF_DB: Final = "db"
CONF_TLS: Final = "tls"
CONF_TLS_VERIFY: Final = "tls_verify"
CONF_CA_CERT: Final = "ca_cert"  # optional PEM of the CA that signed the server certificate
DEFAULT_REDIS_PORT: Final = 6379

# Redis output subentries of a VE.Direct entry (outputs.redis items of the seed).
SUBENTRY_REDIS_OUTPUT: Final = "redis_output"
CONF_SOURCE: Final = "source"
CONF_REDIS_DATA_STRUCTURE: Final = "redis_data_structure"
CONF_CACHE_INTERVAL: Final = "cache_interval"
CONF_REDIS_NODE: Final = "redis_node"
CONF_COLUMNS: Final = "columns"
CONF_REF_COLS: Final = "ref_cols"
CONF_BACKLOG_LIMIT: Final = "backlog_limit"
DEFAULT_REDIS_DATA_STRUCTURE: Final = "HmapTimeSeries"
DEFAULT_CACHE_INTERVAL: Final = 5
