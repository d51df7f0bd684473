"""The bounds of every value a person types into the VE Monitor flows, and the checks that enforce them.

Pure functions (no I/O, no Home Assistant): each validator takes what a form handed over, of any type (a flow
can be driven through the REST API with any JSON), and returns the value as it is to be stored, or raises
`InvalidInput` whose `key` is the translation key of the form error. Nothing else is raised, so nothing can
reach storage that JSON cannot hold (whole numbers are bounded far below 2**63, text is valid UTF-8).

Untrusted text in log lines: `%r`, never `%s` (a host or a port path may hold a newline, a NUL or U+202E).
"""

import base64
import binascii
from collections.abc import Callable, Mapping
import ipaddress
import math
import posixpath
import re
import socket
import ssl
from typing import Any, Final
import unicodedata
import urllib.parse

# -- names and labels -----------------------------------------------------------------------------------

NAME_MAX_LENGTH: Final = 64
"""Device, Redis server, redis_node, node and reference names: they end up in entity ids (cut at 255 by
Home Assistant) and in Redis key names, where 64 characters are plenty and still readable."""
NAME_PATTERN: Final = re.compile(rf"^[A-Za-z0-9_-]{{1,{NAME_MAX_LENGTH}}}\Z")
"""Anchored at both ends (`\\Z`, not `$`, which also matches before a final newline): `match` and `fullmatch`
give the same answer."""

LABEL_MAX_LENGTH: Final = 32
"""A VE.Direct field label (column): the protocol's labels have at most 8 characters (SER#, AC_OUT_V, H19);
32 leaves room for custom labels of future firmware."""
LABEL_PATTERN: Final = re.compile(rf"^[A-Za-z0-9#_]{{1,{LABEL_MAX_LENGTH}}}\Z")

MAX_COLUMNS: Final = 64
"""Columns of one node: a device sends at most about 40 fields (a BMV-712 with its history block)."""
MAX_NODES: Final = 16
"""Nodes of one output: each is one Redis hash written per sample; more is a configuration mistake."""
MAX_REF_COLS: Final = 64
"""Reference columns of one output: at most one per column in practice."""

# -- numbers --------------------------------------------------------------------------------------------

TIME_INTERVAL_MIN: Final = 1
TIME_INTERVAL_MAX: Final = 3600
"""Seconds between two samples (VE.Direct device and Redis output): from every second (devices send a block
per second) to one per hour; slower sampling is no monitoring any more."""
ENTITY_INTERVAL_MIN: Final = TIME_INTERVAL_MIN
ENTITY_INTERVAL_MAX: Final = TIME_INTERVAL_MAX
"""Seconds between two refreshes of a VE.Direct device's entities: the time interval's bounds, and never
shorter than the device's own time interval (check_entity_interval)."""
CACHE_INTERVAL_MIN: Final = 1
CACHE_INTERVAL_MAX: Final = 3600
"""Time intervals per Redis send."""
SEND_PERIOD_MAX: Final = 3600
"""Most seconds between two Redis sends (time_interval x cache_interval): what a hard kill can lose."""
BACKLOG_LIMIT_MIN: Final = 1
BACKLOG_LIMIT_MAX: Final = 604_800
"""Samples an output keeps in memory while Redis is unreachable: one week at one sample per second, about
62 MB at ~102 bytes a sample, which a 1 GB Home Assistant host can still afford per output."""
RETENTION_MAX: Final = 3650 * 86_400
"""Seconds a Redis output keeps (0: forever): up to ten years, which a Raspberry Pi's Redis holds only at a
slow interval; the form shows the memory a choice takes."""
_DURATION_UNITS: Final = {"days": 86_400, "hours": 3600, "minutes": 60, "seconds": 1, "milliseconds": 0.001}
REDIS_PORT_MIN: Final = 1
REDIS_PORT_MAX: Final = 65535
"""A TCP port (0 means "any" to bind, never a port to connect to)."""
REDIS_DB_MIN: Final = 0
REDIS_DB_MAX: Final = 255
"""Redis has 16 databases unless `databases` says otherwise; nobody configures hundreds. An index within
this bound that the server does not have is reported by its probe (InvalidDatabase)."""

# -- free text ------------------------------------------------------------------------------------------

HOST_MAX_LENGTH: Final = 253
"""A DNS name in text form (RFC 1035), after IDNA encoding."""
HOST_LABEL_MAX_LENGTH: Final = 63
HOST_LABEL_PATTERN: Final = re.compile(rf"^[A-Za-z0-9_-]{{1,{HOST_LABEL_MAX_LENGTH}}}\Z")
"""Letters, digits, hyphen, and underscore (container host names have them)."""
LOOPBACK: Final = "localhost"
"""The identity host of every spelling of this machine (localhost, 127.0.0.0/8, ::1, ...)."""
LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
"""The names hosts files map to the loopback addresses; any *.localhost is loopback too (RFC 6761)."""

SERIAL_PORT_MAX_LENGTH: Final = 255
"""A device path or URL (a /dev/serial/by-id path has about 80 characters)."""
SERIAL_URL_SCHEMES: Final = frozenset({"socket", "tcp", "rfc2217", "esphome"})
"""The network schemes serialx opens (esphome:// needs aioesphomeapi, which Home Assistant's ESPHome
integration installs; without it the probe answers cannot_open)."""
SERIAL_URL_SCHEMES_WITH_PORT: Final = frozenset({"socket", "tcp", "rfc2217"})
"""Those need host:port; esphome:// defaults to the ESPHome API port."""

CA_CERT_MAX_LENGTH: Final = 65536
"""PEM text of the CA certificates: about 30 certificates, far more than a private CA chain."""
USERNAME_MAX_LENGTH: Final = 256
PASSWORD_MAX_LENGTH: Final = 1024
"""Redis ACL user names and passwords: no Redis limit below these, which bound what is stored."""

_CERT_BLOCK: Final = re.compile(r"-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*)-----END CERTIFICATE-----")


class InvalidInput(Exception):
    """A value outside its bounds; `key` is the translation key of its form error (config.error.<key>)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def validate_form(
    user_input: Mapping[str, Any], validators: Mapping[str, Callable[[Any], object]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each field's normalised value and the form errors (field -> key), all fields checked at once so the
    user sees every mistake in one answer. A missing field is validated as None."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field, validator in validators.items():
        try:
            values[field] = validator(user_input.get(field))
        except InvalidInput as err:
            errors[field] = err.key
    return values, errors


def _unsafe_character(text: str) -> bool:
    """Control, format (bidi overrides, zero-width), surrogate, private-use, unassigned or space characters:
    none belongs in a host, a path or a user name, and some make a log line or a form lie about its text."""
    return any(unicodedata.category(char)[0] in "CZ" for char in text)


def _text(value: object, key: str) -> str:
    """`value` stripped, if it is text."""
    if not isinstance(value, str):
        raise InvalidInput(key)
    return value.strip()


def _pattern(value: object, pattern: re.Pattern[str], key: str) -> str:
    text = _text(value, key)
    if not pattern.match(text):
        raise InvalidInput(key)
    return text


def valid_name(value: object) -> str:
    """A name (device, Redis server, redis_node, node, reference): 1..64 of [A-Za-z0-9_-] once stripped."""
    return _pattern(value, NAME_PATTERN, "invalid_name")


def valid_label(value: object) -> str:
    """One VE.Direct field label: 1..32 of [A-Za-z0-9#_] once stripped."""
    return _pattern(value, LABEL_PATTERN, "invalid_label")


def valid_columns(value: object) -> list[str]:
    """The labels of a node in the order given, blanks and repeats dropped: at least one, at most 64."""
    if value is None:
        raise InvalidInput("no_columns")
    if not isinstance(value, list | tuple):
        raise InvalidInput("invalid_label")
    labels = [valid_label(item) for item in value if not (isinstance(item, str) and not item.strip())]
    labels = list(dict.fromkeys(labels))
    if not labels:
        raise InvalidInput("no_columns")
    if len(labels) > MAX_COLUMNS:
        raise InvalidInput("too_many_columns")
    return labels


def check_count(count: int, maximum: int, key: str) -> None:
    """Refuse asking for one more item (add_another) when there are `count` already and `maximum` is the most
    allowed (nodes: MAX_NODES, "too_many_nodes"; references: MAX_REF_COLS, "too_many_refs")."""
    if count >= maximum:
        raise InvalidInput(key)


def whole_number(value: object, minimum: int, maximum: int) -> int:
    """A whole number within [minimum, maximum]. Number selectors hand over floats (2.0 is 2); NaN, the
    infinities, fractions, bools and text are refused, and the bounds keep it far inside 64 bits."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput("out_of_range")
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise InvalidInput("out_of_range")
        value = int(value)
    if not minimum <= value <= maximum:
        raise InvalidInput("out_of_range")
    return value


def valid_time_interval(value: object) -> int:
    """Seconds between two samples, of a VE.Direct device or of a Redis output."""
    return whole_number(value, TIME_INTERVAL_MIN, TIME_INTERVAL_MAX)


def valid_entity_interval(value: object) -> int | None:
    """Seconds between two refreshes of a VE.Direct device's entities; None (the field left empty or not
    sent) means "at every sample", i.e. the time interval."""
    if value is None or value == "":
        return None
    return whole_number(value, ENTITY_INTERVAL_MIN, ENTITY_INTERVAL_MAX)


def check_entity_interval(time_interval: int, entity_interval: int | None) -> int | None:
    """The entity interval to store: None when none is given ("every sample", whatever the time interval
    becomes); refused (error on the entity interval) when shorter than the time interval, as there is no
    sample in between to show."""
    if entity_interval is None:
        return None
    if entity_interval < time_interval:
        raise InvalidInput("entity_interval_too_short")
    return entity_interval


def valid_flag(value: object) -> bool:
    """A check box: absent is off; anything but a bool is refused (the REST API can send any JSON)."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInput("invalid_flag")
    return value


def valid_cache_interval(value: object) -> int:
    """Time intervals per Redis send."""
    return whole_number(value, CACHE_INTERVAL_MIN, CACHE_INTERVAL_MAX)


def check_send_period(time_interval: int, cache_interval: int) -> None:
    """A Redis output sends at least once an hour (error on cache_interval)."""
    if time_interval * cache_interval > SEND_PERIOD_MAX:
        raise InvalidInput("send_period_too_long")


def valid_backlog_limit(value: object) -> int:
    """Samples kept while Redis is unreachable."""
    return whole_number(value, BACKLOG_LIMIT_MIN, BACKLOG_LIMIT_MAX)


def valid_retention(value: object) -> int:
    """How long a Redis output keeps its points, in whole seconds (0: forever), from a duration selector's
    {"days": .., "hours": .., "minutes": .., "seconds": ..} (any of them; none negative)."""
    if not isinstance(value, Mapping) or not value or not set(value) <= set(_DURATION_UNITS):
        raise InvalidInput("invalid_retention")
    total = 0.0
    for unit, amount in value.items():
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise InvalidInput("invalid_retention")
        if not math.isfinite(amount) or amount < 0 or amount > RETENTION_MAX:
            raise InvalidInput("invalid_retention")
        total += amount * _DURATION_UNITS[unit]
    if total > RETENTION_MAX:
        raise InvalidInput("invalid_retention")
    return int(total)


def valid_redis_port(value: object) -> int:
    """The TCP port of a Redis server."""
    return whole_number(value, REDIS_PORT_MIN, REDIS_PORT_MAX)


def valid_redis_db(value: object) -> int:
    """A Redis database index (whether the server has it, only its probe can tell)."""
    return whole_number(value, REDIS_DB_MIN, REDIS_DB_MAX)


def _inet_aton(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address of the legacy spellings that connect() accepts too (127.1, 0x7f.1, 2130706433)."""
    if not host.isascii():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError, ValueError:
        return None


def _ip_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `host` spells (IPv6 with or without brackets, IPv4 in any inet_aton form), if any."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            return None
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return _inet_aton(host)


def _host_name(host: str) -> str | None:
    """The IDNA (ASCII) form of a host name without its trailing dot, or None if it is no valid name: labels
    of 1..63 letters, digits, - or _, 253 characters at most, the last label not all digits (that would
    be a malformed IPv4 address such as 999.1.1.1)."""
    try:
        # The codec Python's resolver and ssl use for host names (IDNA 2003: it also splits at U+3002).
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    name = encoded.removesuffix(".")
    labels = name.split(".")
    if (
        len(name) > HOST_MAX_LENGTH
        or not all(HOST_LABEL_PATTERN.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        return None
    return name


def valid_host(value: object) -> str:
    """A Redis host: an IPv4 or IPv6 address (brackets dropped) or a host name, stripped, as typed."""
    host = _text(value, "invalid_host")
    if not host or len(host) > HOST_MAX_LENGTH or _unsafe_character(host):
        raise InvalidInput("invalid_host")
    if _ip_address(host) is not None:
        return host[1:-1] if host.startswith("[") else host  # only an IPv6 address parses in brackets
    if _host_name(host) is None:
        raise InvalidInput("invalid_host")
    return host


def redis_server_identity(host: str, port: int, db: int) -> tuple[str, int, int]:
    """What tells two Redis server entries apart: (host, port, db) with every spelling of one host made one,
    without DNS (a flow must not hang on it): addresses canonical (IPv4-mapped IPv6 as IPv4), every loopback
    spelling LOOPBACK, names in lower-case IDNA form without the trailing dot. Never raises: a host that is
    no valid host (an entry stored before validation) compares by its lower-case text."""
    text = host.strip()
    if (address := _ip_address(text)) is not None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_loopback or address.is_unspecified:  # 0.0.0.0 and :: connect to this machine too
            return LOOPBACK, port, db
        return str(address), port, db
    name = (_host_name(text) or text.removesuffix(".")).lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return LOOPBACK, port, db
    return name, port, db


def valid_ca_cert(value: object) -> str | None:
    """PEM text of the CA certificates (None when empty): one or more CERTIFICATE blocks and whitespace,
    nothing else (no private key, no other block, no stray text), each block a certificate OpenSSL reads.

    Fine in the event loop: CPU only (at most 64 KiB), on a context without the system CAs, and Home
    Assistant's blocking-call guard lets load_verify_locations(cadata=...) through (it reads no file).
    """
    if value is None:
        return None
    text = _text(value, "invalid_ca_cert")
    if not text:
        return None
    if len(text) > CA_CERT_MAX_LENGTH or not text.isascii():
        raise InvalidInput("invalid_ca_cert")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no system CAs: reads no file
    end = 0
    for block in _CERT_BLOCK.finditer(text):
        if text[end : block.start()].strip():
            raise InvalidInput("invalid_ca_cert")
        end = block.end()
        try:
            der = base64.b64decode("".join(block[1].split()), validate=True)
            context.load_verify_locations(cadata=der)
        except (binascii.Error, ssl.SSLError, ValueError) as err:
            raise InvalidInput("invalid_ca_cert") from err
    if end == 0 or text[end:].strip():
        raise InvalidInput("invalid_ca_cert")
    return text


def valid_serial_port(value: object) -> str:
    """A VE.Direct port: a local device path, normalised (/dev/../dev//ttyUSB0 is /dev/ttyUSB0), or a URL
    of a scheme serialx opens with a valid host (and port, which socket, tcp and rfc2217 need)."""
    port = _text(value, "invalid_port")
    if not port or len(port) > SERIAL_PORT_MAX_LENGTH or _unsafe_character(port):
        raise InvalidInput("invalid_port")
    if port.startswith("/"):
        return "/" + posixpath.normpath(port).lstrip("/")  # POSIX keeps a leading "//"; Linux means "/"
    try:
        url = urllib.parse.urlsplit(port)
        url_port = url.port
    except ValueError as err:  # a port that is no number or beyond 65535, unbalanced brackets
        raise InvalidInput("invalid_port") from err
    scheme = url.scheme.lower()
    if (
        scheme not in SERIAL_URL_SCHEMES
        or not port[len(scheme) :].startswith("://")
        or "@" in url.netloc
        or url.hostname is None
        or url_port == 0
        or (url_port is None and scheme in SERIAL_URL_SCHEMES_WITH_PORT)
    ):
        raise InvalidInput("invalid_port")
    try:
        valid_host(url.hostname)
    except InvalidInput as err:
        raise InvalidInput("invalid_port") from err
    return scheme + port[len(scheme) :]


def valid_username(value: object) -> str | None:
    """A Redis ACL user name (None when empty: the default user), stripped, without spaces or controls."""
    if value is None:
        return None
    username = _text(value, "invalid_username")
    if len(username) > USERNAME_MAX_LENGTH or _unsafe_character(username):
        raise InvalidInput("invalid_username")
    return username or None


def valid_password(value: object) -> str | None:
    """A Redis password (None when empty), kept as typed: spaces are allowed and not stripped. Refused: more
    than 1024 characters, and lone surrogates, which JSON storage cannot write."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > PASSWORD_MAX_LENGTH:
        raise InvalidInput("invalid_password")
    try:
        value.encode()
    except UnicodeEncodeError as err:
        raise InvalidInput("invalid_password") from err
    return value
