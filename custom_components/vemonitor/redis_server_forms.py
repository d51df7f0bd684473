"""The forms of the three kinds of Redis server entries (single server, Sentinel, Cluster): their fields, the
checks of what was typed, the data an entry stores, and the test of a server before it is stored.

Used by the add, reconfigure and reauth steps of redis_server_flow.
"""

from collections.abc import Callable, Container, Mapping
from typing import Any

from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.helpers.selector import BooleanSelector, TextSelector
import voluptuous as vol

from .const import (
    CONF_CA_CERT,
    CONF_DB,
    CONF_NODES,
    CONF_SENTINEL_PASSWORD,
    CONF_SENTINEL_USERNAME,
    CONF_SERVER_KIND,
    CONF_SERVICE_NAME,
    CONF_TLS,
    CONF_TLS_VERIFY,
    CONF_WAIT_REPLICAS,
    DEFAULT_REDIS_PORT,
    LOGGER,
)
from .flow_forms import MULTILINE_SELECTOR, PASSWORD_SELECTOR, USERNAME_SELECTOR, number_selector
from .redis_server import DEFAULT_NODE_PORTS, error_key, server_kind, settings_from_data
from .redis_validation import (
    WAIT_REPLICAS_MAX,
    WAIT_REPLICAS_MIN,
    valid_nodes,
    valid_service_name,
    valid_wait_replicas,
)
from .redis_worker import CLUSTER, SENTINEL, SINGLE, RedisWorkerError, ServerKind, probe
from .validation import (
    REDIS_DB_MAX,
    REDIS_DB_MIN,
    REDIS_PORT_MAX,
    REDIS_PORT_MIN,
    valid_ca_cert,
    valid_host,
    valid_name,
    valid_password,
    valid_redis_db,
    valid_redis_port,
    valid_username,
)

type Validator = Callable[[Any], object]

PORT_SELECTOR = number_selector(REDIS_PORT_MIN, REDIS_PORT_MAX)
DB_SELECTOR = number_selector(REDIS_DB_MIN, REDIS_DB_MAX)
WAIT_REPLICAS_SELECTOR = number_selector(WAIT_REPLICAS_MIN, WAIT_REPLICAS_MAX)

CREDENTIAL_FIELDS: dict[str, Validator] = {CONF_USERNAME: valid_username, CONF_PASSWORD: valid_password}
SENTINEL_CREDENTIAL_FIELDS: dict[str, Validator] = {
    CONF_SENTINEL_USERNAME: valid_username,
    CONF_SENTINEL_PASSWORD: valid_password,
}
# What reauthentication asks: the master's (a cluster's) credentials, and the sentinels' password.
REAUTH_FIELDS: dict[ServerKind, dict[str, Validator]] = {
    SINGLE: CREDENTIAL_FIELDS,
    SENTINEL: {**CREDENTIAL_FIELDS, CONF_SENTINEL_PASSWORD: valid_password},
    CLUSTER: CREDENTIAL_FIELDS,
}
_TRAILING_FIELDS: dict[str, Validator] = {
    CONF_CA_CERT: valid_ca_cert,
    CONF_WAIT_REPLICAS: valid_wait_replicas,
}
# The checked fields of each kind's connection (TLS and its verification are switches, read as they are).
CONNECTION_FIELDS: dict[ServerKind, dict[str, Validator]] = {
    SINGLE: {CONF_HOST: valid_host, CONF_PORT: valid_redis_port, **CREDENTIAL_FIELDS, **_TRAILING_FIELDS},
    SENTINEL: {
        CONF_NODES: lambda value: valid_nodes(value, DEFAULT_NODE_PORTS[SENTINEL]),
        CONF_SERVICE_NAME: valid_service_name,
        **CREDENTIAL_FIELDS,
        **SENTINEL_CREDENTIAL_FIELDS,
        **_TRAILING_FIELDS,
    },
    CLUSTER: {
        CONF_NODES: lambda value: valid_nodes(value, DEFAULT_NODE_PORTS[CLUSTER]),
        **CREDENTIAL_FIELDS,
        **_TRAILING_FIELDS,
    },
}
# The values a reconfigure form of another kind than the entry's starts with: what every kind has.
_COMMON_DEFAULTS = (CONF_USERNAME, CONF_TLS, CONF_TLS_VERIFY, CONF_CA_CERT, CONF_WAIT_REPLICAS)
_KIND_DEFAULTS = (CONF_HOST, CONF_PORT, CONF_SERVICE_NAME, CONF_SENTINEL_USERNAME)
# The field a server-side refusal is about, when the form has it (the others go on the whole form).
_ERROR_FIELDS = {
    "invalid_db": CONF_DB,
    "invalid_ca_cert": CONF_CA_CERT,
    "invalid_sentinel_auth": CONF_SENTINEL_PASSWORD,
    "unknown_service": CONF_SERVICE_NAME,
    "not_a_sentinel": CONF_NODES,
    "not_a_cluster": CONF_NODES,
}


def has_db(kind: ServerKind) -> bool:
    """Whether the kind has database numbers (a cluster has database 0 only)."""
    return kind != CLUSTER


def add_fields(kind: ServerKind) -> dict[str, Validator]:
    """The checked fields of the add form of a kind: the name, the connection, the database number."""
    return {
        CONF_NAME: valid_name,
        **CONNECTION_FIELDS[kind],
        **({CONF_DB: valid_redis_db} if has_db(kind) else {}),
    }


def connection_schema(kind: ServerKind, defaults: Mapping[str, Any], *, db: bool = False) -> dict[Any, Any]:
    """The fields of a kind's connection, the required ones defaulting to `defaults` (reconfigure), with the
    database number (the add form of a single server or a Sentinel) before wait_replicas."""

    def suggested(key: str) -> dict[str, Any]:
        return {"suggested_value": defaults.get(key)}

    fields: dict[Any, Any] = {}
    if kind == SINGLE:
        fields[vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, vol.UNDEFINED))] = TextSelector()
        fields[vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_REDIS_PORT))] = PORT_SELECTOR
    else:
        fields[vol.Required(CONF_NODES, default=defaults.get(CONF_NODES, vol.UNDEFINED))] = MULTILINE_SELECTOR
    if kind == SENTINEL:
        fields[vol.Required(CONF_SERVICE_NAME, default=defaults.get(CONF_SERVICE_NAME, vol.UNDEFINED))] = (
            TextSelector()
        )
    fields[vol.Optional(CONF_USERNAME, description=suggested(CONF_USERNAME))] = USERNAME_SELECTOR
    fields[vol.Optional(CONF_PASSWORD)] = PASSWORD_SELECTOR
    if kind == SENTINEL:
        fields[vol.Optional(CONF_SENTINEL_USERNAME, description=suggested(CONF_SENTINEL_USERNAME))] = (
            USERNAME_SELECTOR
        )
        fields[vol.Optional(CONF_SENTINEL_PASSWORD)] = PASSWORD_SELECTOR
    fields[vol.Required(CONF_TLS, default=defaults.get(CONF_TLS, False))] = BooleanSelector()
    fields[vol.Required(CONF_TLS_VERIFY, default=defaults.get(CONF_TLS_VERIFY, True))] = BooleanSelector()
    fields[vol.Optional(CONF_CA_CERT, description=suggested(CONF_CA_CERT))] = MULTILINE_SELECTOR
    if db:
        fields[vol.Required(CONF_DB, default=0)] = DB_SELECTOR
    fields[vol.Optional(CONF_WAIT_REPLICAS, description=suggested(CONF_WAIT_REPLICAS))] = (
        WAIT_REPLICAS_SELECTOR
    )
    return fields


def form_defaults(kind: ServerKind, data: Mapping[str, Any]) -> dict[str, Any]:
    """What a reconfigure form of `kind` starts with: every stored value when the entry keeps its kind, else
    the user name, TLS, CA and wait_replicas (a single server's host is no sentinel). Never a password."""
    keys = _COMMON_DEFAULTS + _KIND_DEFAULTS if server_kind(data) == kind else _COMMON_DEFAULTS
    shown = {key: data[key] for key in keys if data.get(key) is not None}
    if server_kind(data) == kind and data.get(CONF_NODES):
        shown[CONF_NODES] = ", ".join(data[CONF_NODES])
    return shown


def credentials(kind: ServerKind, values: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """The checked passwords (an empty one keeps the stored one) and user names (empty: the default user)."""
    found = {key: values.get(key) for key in (CONF_USERNAME, CONF_SENTINEL_USERNAME) if key in values}
    for key in (CONF_PASSWORD, CONF_SENTINEL_PASSWORD):
        if key in REAUTH_FIELDS[kind]:
            found[key] = values.get(key) or stored.get(key)
    return found


def connection_data(
    kind: ServerKind, values: Mapping[str, Any], user_input: Mapping[str, Any], stored: Mapping[str, Any]
) -> dict[str, Any]:
    """What an entry of `kind` stores of its form: the checked values, the TLS switches, the passwords."""
    return {
        CONF_SERVER_KIND: kind,
        **values,
        CONF_TLS: bool(user_input.get(CONF_TLS)),
        CONF_TLS_VERIFY: bool(user_input.get(CONF_TLS_VERIFY, True)),
        **credentials(kind, values, stored),
    }


def describe_address(data: Mapping[str, Any]) -> str:
    """Where an entry's server is, for a form's text: host:port/db, or the sentinels or cluster nodes."""
    if server_kind(data) == SINGLE:
        return f"{data[CONF_HOST]}:{data[CONF_PORT]}/{data.get(CONF_DB, 0)}"
    return settings_from_data(data).address


async def async_probe_redis_server(data: Mapping[str, Any], form_fields: Container[str]) -> dict[str, str]:
    """Test the server of an entry's data as its setup will (connect, authenticate, find the master or the
    shards, write): the form errors, none when fine, on the field a failure is about if the form has it.
    A form with Wait for replicas also refuses more than the master (a cluster's every master) has: no
    batch could ever be confirmed, so nothing would be written (reauthentication does not ask it)."""
    settings = settings_from_data(data)
    try:
        info = await probe(settings)
    except RedisWorkerError as err:
        LOGGER.debug("Probe of Redis server %r failed: %r", data.get(CONF_NAME), err)
        key = error_key(err)
        field = _ERROR_FIELDS.get(key, "base")
        return {field if field in form_fields else "base": key}
    wanted, replicas = settings.wait_replicas, info.topology.replicas
    if CONF_WAIT_REPLICAS in form_fields and wanted and replicas is not None and replicas < wanted:
        return {CONF_WAIT_REPLICAS: "replicas_behind"}
    return {}
