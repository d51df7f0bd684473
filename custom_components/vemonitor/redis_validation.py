"""The fields of Sentinel and Cluster server entries: node lists, the master name, wait_replicas.

Pure functions like validation.py (whose host and number checks they build on): each validator returns the
value to store or raises `InvalidInput` with the translation key of the form error. A node is stored as
"host:port" ("[v6 address]:port" for IPv6), so that `split_node` reads it back.
"""

import re
from typing import Final

from .validation import (
    REDIS_PORT_MAX,
    REDIS_PORT_MIN,
    InvalidInput,
    redis_server_identity,
    valid_host,
    whole_number,
)

NODES_MAX: Final = 16
"""Sentinels or cluster nodes of one entry: any one of them is enough to find the others; 16 is plenty."""
NODES_TEXT_MAX_LENGTH: Final = 16 * 300
"""The node list as typed: 16 nodes of a 253-character host, a port and separators."""
SERVICE_NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}\Z")
"""The master's name in `sentinel monitor <name> ...`: Redis takes any word; these characters cover every
name in use (mymaster, redis-prod.1) and nothing that a log line or a form could misread."""
WAIT_REPLICAS_MIN: Final = 0
WAIT_REPLICAS_MAX: Final = 10
"""Replicas that must confirm a batch: 0 (never wait) to 10, far more replicas than anyone runs."""

_SEPARATORS: Final = re.compile(r"[\s,]+")
_PORT_DIGITS: Final = re.compile(r"^[0-9]{1,5}\Z")
_INVALID_NODES: Final = "invalid_nodes"


def split_node(text: str, default_port: int) -> tuple[str, int]:
    """Host and port of one node: host:port, [IPv6]:port, or a host (or bare IPv6 address) alone, which gets
    `default_port`. InvalidInput("invalid_nodes") if the host or the port is not valid."""
    port_text: str | None
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise InvalidInput(_INVALID_NODES)
        host, port_text = f"[{host}]", rest[1:] if rest else None
    elif text.count(":") > 1:  # an IPv6 address without brackets can have no port
        host, port_text = text, None
    else:
        host, colon, port_text = text.partition(":")
        port_text = port_text if colon else None
    try:
        host = valid_host(host)  # an address in brackets must be IPv6: drops them
        port = default_port if port_text is None else _port(port_text)
    except InvalidInput as err:
        raise InvalidInput(_INVALID_NODES) from err
    return host, port


def _port(text: str) -> int:
    """A port typed as ASCII digits."""
    if not _PORT_DIGITS.match(text):
        raise InvalidInput(_INVALID_NODES)
    return whole_number(int(text), REDIS_PORT_MIN, REDIS_PORT_MAX)


def format_node(host: str, port: int) -> str:
    """The stored text of a node (IPv6 addresses in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def valid_nodes(value: object, default_port: int) -> list[str]:
    """The nodes of a text "host:port, host:port" (commas, spaces or new lines between them), each checked
    and stored as host:port, repeats dropped: 1 to 16 of them."""
    if not isinstance(value, str) or len(value) > NODES_TEXT_MAX_LENGTH:
        raise InvalidInput(_INVALID_NODES)
    nodes = [format_node(*split_node(item, default_port)) for item in _SEPARATORS.split(value) if item]
    nodes = list(dict.fromkeys(nodes))
    if not 1 <= len(nodes) <= NODES_MAX:
        raise InvalidInput(_INVALID_NODES)
    return nodes


def valid_service_name(value: object) -> str:
    """The name the sentinels monitor the master under, stripped."""
    if not isinstance(value, str) or not SERVICE_NAME_PATTERN.match(value.strip()):
        raise InvalidInput("invalid_service_name")
    return value.strip()


def valid_wait_replicas(value: object) -> int | None:
    """Replicas that must confirm each batch; None (the field left empty) is automatic."""
    if value is None or value == "":
        return None
    return whole_number(value, WAIT_REPLICAS_MIN, WAIT_REPLICAS_MAX)


def nodes_identity(nodes: object) -> frozenset[tuple[str, int]]:
    """The stored nodes of an entry with every spelling of one host made one (see redis_server_identity);
    a node that does not parse (hand-edited storage) compares by its text, with port 0."""
    identities: set[tuple[str, int]] = set()
    for node in nodes if isinstance(nodes, list | tuple) else ():
        try:
            host, port = split_node(str(node), 0)
        except InvalidInput:
            identities.add((str(node).lower(), 0))
        else:
            identities.add(redis_server_identity(host, port, 0)[:2])
    return frozenset(identities)
