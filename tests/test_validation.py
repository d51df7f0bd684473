"""validation.py: every bound just inside and just outside, the normalisations, properties over any input."""

from collections.abc import Callable
import math
from pathlib import Path
import re

from hypothesis import HealthCheck, given, settings, strategies as st
import orjson
import pytest

from custom_components.vemonitor import validation as v
from custom_components.vemonitor.validation import InvalidInput
from tests.redis_server import TlsFiles, generate_tls_files

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

type Validator = Callable[[object], object]


def refusal(validator: Validator, value: object) -> str | None:
    """The error key of `value`, or None when it is valid."""
    try:
        validator(value)
    except InvalidInput as err:
        return err.key
    return None


def assert_storable(value: object) -> None:
    """Home Assistant's storage writes with orjson: no int beyond 64 bits, no NaN, no lone surrogate."""
    assert orjson.loads(orjson.dumps(value)) == value


# -- names and labels -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a", "a"),
        (" MPPT_1-a ", "MPPT_1-a"),
        ("a" * 64, "a" * 64),
        ("x\n", "x"),  # stripped like any surrounding whitespace
    ],
)
def test_valid_names(value: str, expected: str) -> None:
    assert v.valid_name(value) == expected


@pytest.mark.parametrize(
    "value",
    ["", "   ", "a" * 65, "a b", "a.b", "a\nb", "a\x00", "\u00e9t\u00e9", "\u202ea", "a#", None, 5, ["a"]],
)
def test_invalid_names(value: object) -> None:
    assert refusal(v.valid_name, value) == "invalid_name"


def test_name_pattern_refuses_a_final_newline_with_match_too() -> None:
    """const.py used `^...$` with `match`, which takes "abc\\n": the new pattern is anchored with \\Z."""
    assert v.NAME_PATTERN.match("abc\n") is None
    assert v.NAME_PATTERN.match("a" * 65) is None
    assert v.NAME_PATTERN.match("a" * 64)


@pytest.mark.parametrize("value", ["V", "SER#", "AC_OUT_V", "H19", "HC#", "a" * 32])
def test_valid_labels(value: str) -> None:
    assert v.valid_label(f" {value} ") == value


@pytest.mark.parametrize("value", ["", "a" * 33, "V-1", "V V", "V.", "\u00c9", "V\x00", None, 1])
def test_invalid_labels(value: object) -> None:
    assert refusal(v.valid_label, value) == "invalid_label"


LABELS_64 = [f"L{index}" for index in range(64)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["V", "I", "V"], ["V", "I"]),
        ([" ", "V", ""], ["V"]),
        ((" SOC ",), ["SOC"]),
        (LABELS_64, LABELS_64),
        ([*LABELS_64, "L0"], LABELS_64),  # a repeat does not count
    ],
)
def test_valid_columns(value: object, expected: list[str]) -> None:
    assert v.valid_columns(value) == expected


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ([], "no_columns"),
        ([" ", ""], "no_columns"),
        (None, "no_columns"),
        ([*LABELS_64, "L64"], "too_many_columns"),
        (["V", "a" * 33], "invalid_label"),
        (["V", 5], "invalid_label"),
        (["V", None], "invalid_label"),
        ("V", "invalid_label"),
        ({"V": 1}, "invalid_label"),
    ],
)
def test_invalid_columns(value: object, key: str) -> None:
    assert refusal(v.valid_columns, value) == key


@pytest.mark.parametrize(
    ("count", "maximum", "key"),
    [(v.MAX_NODES, v.MAX_NODES, "too_many_nodes"), (v.MAX_REF_COLS, v.MAX_REF_COLS, "too_many_refs")],
)
def test_check_count(count: int, maximum: int, key: str) -> None:
    v.check_count(count - 1, maximum, key)
    with pytest.raises(InvalidInput) as caught:
        v.check_count(count, maximum, key)
    assert caught.value.key == key


# -- numbers --------------------------------------------------------------------------------------------

NUMBER_FIELDS: list[tuple[Validator, int, int]] = [
    (v.valid_time_interval, 1, 3600),
    (v.valid_cache_interval, 1, 3600),
    (v.valid_backlog_limit, 1, 604_800),
    (v.valid_redis_port, 1, 65_535),
    (v.valid_redis_db, 0, 255),
]
NOT_WHOLE_NUMBERS = [
    math.nan,
    math.inf,
    -math.inf,
    1.5,
    True,
    False,
    "5",
    None,
    [5],
    2**63,
    2**64 + 1,
    1e20,
    1e300,
    -1e300,
]


@pytest.mark.parametrize(("validator", "minimum", "maximum"), NUMBER_FIELDS)
def test_number_bounds(validator: Validator, minimum: int, maximum: int) -> None:
    for inside in (minimum, maximum, float(minimum), float(maximum), (minimum + maximum) // 2):
        assert validator(inside) == int(inside)
        assert type(validator(inside)) is int
    for outside in (minimum - 1, maximum + 1, float(maximum + 1), minimum - 0.5, maximum + 0.5):
        assert refusal(validator, outside) == "out_of_range", outside
    for value in NOT_WHOLE_NUMBERS:
        assert refusal(validator, value) == "out_of_range", value


def test_entity_interval_bounds() -> None:
    """The time interval's bounds; nothing (an empty field) means "every sample"."""
    assert (v.ENTITY_INTERVAL_MIN, v.ENTITY_INTERVAL_MAX) == (v.TIME_INTERVAL_MIN, v.TIME_INTERVAL_MAX)
    for inside in (1, 5, 3600, 30.0):
        assert v.valid_entity_interval(inside) == int(inside)
    for value in (0, 3601, 0.5, 3600.5, *[value for value in NOT_WHOLE_NUMBERS if value is not None]):
        assert refusal(v.valid_entity_interval, value) == "out_of_range", value
    assert v.valid_entity_interval(None) is None
    assert v.valid_entity_interval("") is None


@pytest.mark.parametrize(
    ("time_interval", "entity_interval", "stored"),
    [
        (1, None, None),
        (60, None, None),
        (1, 1, 1),
        (1, 5, 5),
        (60, 60, 60),
        (60, 3600, 3600),
    ],
)
def test_check_entity_interval(time_interval: int, entity_interval: int | None, stored: int | None) -> None:
    """None given: None stored ("every sample", whatever the time interval becomes); else at least the time
    interval."""
    assert v.check_entity_interval(time_interval, entity_interval) == stored


@pytest.mark.parametrize(("time_interval", "entity_interval"), [(5, 4), (60, 1)])
def test_check_entity_interval_refuses_a_shorter_one(time_interval: int, entity_interval: int) -> None:
    """No sample in between to show: refused on the field."""
    key = refusal(lambda _: v.check_entity_interval(time_interval, entity_interval), None)
    assert key == "entity_interval_too_short"


@pytest.mark.parametrize(
    ("time_interval", "cache_interval", "ok"),
    [(1, 3600, True), (3600, 1, True), (60, 60, True), (60, 61, False), (3600, 2, False), (2, 1801, False)],
)
def test_send_period(time_interval: int, cache_interval: int, ok: bool) -> None:
    key = refusal(lambda _: v.check_send_period(time_interval, cache_interval), None)
    assert key == (None if ok else "send_period_too_long")


# -- hosts and server identity --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        (" 192.168.0.52 ", "192.168.0.52"),
        ("127.1", "127.1"),
        ("0x7f.1", "0x7f.1"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("[fe80::1%eth0]", "fe80::1%eth0"),
        ("localhost", "localhost"),
        ("localhost.", "localhost."),
        ("redis.example.com", "redis.example.com"),
        ("addon_core_redis", "addon_core_redis"),
        ("b\u00fccher.example", "b\u00fccher.example"),
        ("a" * 63 + ".x", "a" * 63 + ".x"),
        (".".join(["a" * 63] * 3 + ["a" * 61]), ".".join(["a" * 63] * 3 + ["a" * 61])),  # 253
    ],
)
def test_valid_hosts(value: str, expected: str) -> None:
    assert v.valid_host(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "a" * 10_000,
        "a" * 64 + ".x",
        ".",
        "..",
        "a..b",
        ".a",
        ".".join(["a" * 63] * 3 + ["a" * 62]),  # 254
        "\u202e127.0.0.1",
        "127.0.0.1\u200b",
        "127.0.0.1\x00x",
        "127.0.0.1\nx",
        "127.0.0.1\rx",
        "a\tb",
        "a b",
        "redis/1",
        "user@host",
        "host:6379",
        "[127.0.0.1]",
        "[::1",
        "999.1.1.1",
        "1.2.3.4.5",
        "\ud800",
        None,
        6379,
        ["localhost"],
    ],
)
def test_invalid_hosts(value: object) -> None:
    assert refusal(v.valid_host, value) == "invalid_host"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", v.LOOPBACK),
        ("localhost.", v.LOOPBACK),
        ("LOCALHOST", v.LOOPBACK),
        (" LocalHost ", v.LOOPBACK),
        ("ip6-localhost", v.LOOPBACK),
        ("ip6-loopback", v.LOOPBACK),
        ("redis.localhost", v.LOOPBACK),
        ("127.0.0.1", v.LOOPBACK),
        ("127.1", v.LOOPBACK),
        ("0x7f.1", v.LOOPBACK),
        ("2130706433", v.LOOPBACK),
        ("127.255.255.254", v.LOOPBACK),
        ("0.0.0.0", v.LOOPBACK),
        ("::1", v.LOOPBACK),
        ("[::1]", v.LOOPBACK),
        ("0:0:0:0:0:0:0:1", v.LOOPBACK),
        ("::ffff:127.0.0.1", v.LOOPBACK),
        ("::", v.LOOPBACK),
        ("192.168.0.52", "192.168.0.52"),
        ("192.168.52", "192.168.0.52"),
        ("::ffff:192.168.0.52", "192.168.0.52"),
        ("FE80:0:0::1", "fe80::1"),
        ("[2001:DB8::1]", "2001:db8::1"),
        ("Redis.Example.COM.", "redis.example.com"),
        ("B\u00dcCHER.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a..b", "a..b"),  # not a valid host (an entry stored before validation): its lower-case text
    ],
)
def test_redis_server_identity(host: str, expected: str) -> None:
    assert v.redis_server_identity(host, 6379, 2) == (expected, 6379, 2)


def test_redis_server_identity_keeps_port_and_db_apart() -> None:
    assert v.redis_server_identity("localhost", 6379, 0) != v.redis_server_identity("localhost", 6380, 0)
    assert v.redis_server_identity("localhost", 6379, 0) != v.redis_server_identity("localhost", 6379, 1)


# -- serial ports ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/dev/ttyUSB0", "/dev/ttyUSB0"),
        (" /dev/ttyUSB0 ", "/dev/ttyUSB0"),
        ("/dev/../dev/ttyUSB0", "/dev/ttyUSB0"),
        ("/dev//ttyUSB0", "/dev/ttyUSB0"),
        ("//dev/ttyUSB0", "/dev/ttyUSB0"),
        ("/dev/./ttyUSB0/", "/dev/ttyUSB0"),
        ("/dev/serial/by-id/usb-VictronEnergy_BV_VE_Direct_cable_HQ2207ABCDE-if00-port0", None),
        ("/" + "d" * 254, None),
        ("socket://192.168.0.10:8888", None),
        ("SOCKET://192.168.0.10:8888", "socket://192.168.0.10:8888"),
        ("tcp://ve-bridge.lan:23", None),
        ("rfc2217://[::1]:2217", None),
        ("esphome://ve-proxy.local", None),
        ("esphome://ve-proxy.local:6053/?port_name=uart0", None),
        ("socket://h:65535", None),
        ("socket://h:1", None),
    ],
)
def test_valid_serial_ports(value: str, expected: str | None) -> None:
    assert v.valid_serial_port(value) == (expected or value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "  ",
        "/" + "d" * 255,
        "/dev/tty\x00x",
        "/dev/tty\nx",
        "/dev/tty\u202ex",
        "/dev/tty USB0",
        "ttyUSB0",
        "COM3",
        "./ttyUSB0",
        "socket://h",
        "socket://h:0",
        "socket://h:65536",
        "socket://h:port",
        "socket://:8888",
        "socket://a..b:8888",
        "socket://" + "a" * 64 + ".x:8888",
        "socket://user@h:8888",
        "socket://[::1:8888",
        "socket:/h:8888",
        "socket:h:8888",
        "ftp://h:21",
        "http://h:80",
        "device:///dev/ttyUSB0",
        "esphome://",
        None,
        5,
    ],
)
def test_invalid_serial_ports(value: object) -> None:
    assert refusal(v.valid_serial_port, value) == "invalid_port"


# -- CA certificates ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return generate_tls_files(tmp_path_factory.mktemp("validation-tls"))


@pytest.fixture(scope="module")
def ca_pem(tls_files: TlsFiles) -> str:
    return tls_files.ca_pem


def _body(pem: str) -> str:
    return pem.partition("-----BEGIN CERTIFICATE-----")[2].partition("-----END CERTIFICATE-----")[0]


def test_valid_ca_certs(ca_pem: str, tls_files: TlsFiles) -> None:
    server_pem = tls_files.cert_file.read_text()
    assert v.valid_ca_cert(ca_pem) == ca_pem.strip()
    assert v.valid_ca_cert(f"\n  {ca_pem}\n\n") == ca_pem.strip()
    assert v.valid_ca_cert(ca_pem + server_pem) == (ca_pem + server_pem).strip()
    assert v.valid_ca_cert(ca_pem.replace("\n", "\r\n")) == ca_pem.replace("\n", "\r\n").strip()
    for empty in (None, "", "  \n "):
        assert v.valid_ca_cert(empty) is None
    # Just inside the length bound: as many copies as fit in 64 KiB.
    copies = v.CA_CERT_MAX_LENGTH // (len(ca_pem) + 1)
    bundle = "\n".join([ca_pem.strip()] * copies)
    assert len(bundle) <= v.CA_CERT_MAX_LENGTH
    assert v.valid_ca_cert(bundle) == bundle


def test_invalid_ca_certs(ca_pem: str, tls_files: TlsFiles, tmp_path: Path) -> None:
    key_pem = tls_files.key_file.read_text()
    body = _body(ca_pem)
    half = "".join(body.split())[: len("".join(body.split())) // 2]
    other_block = ca_pem.replace("CERTIFICATE", "TRUSTED CERTIFICATE")
    crl = "-----BEGIN X509 CRL-----" + body + "-----END X509 CRL-----"
    too_long = "\n".join([ca_pem.strip()] * (v.CA_CERT_MAX_LENGTH // len(ca_pem) + 1))
    cases = {
        "CA plus private key": ca_pem + key_pem,
        "private key first": key_pem + ca_pem,
        "private key alone": key_pem,
        "emoji": "\U0001f600",
        "e acute": "\u00e9",
        "non-ASCII inside a block": ca_pem.replace(body[5], "\u00e9", 1),
        "not a PEM": "not a PEM",
        "stray text after": ca_pem + "trailing words",
        "stray text before": "Certificate:\n    Data: ...\n" + ca_pem,
        "empty block": "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----",
        "base64 of no certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        "bad base64": "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----",
        "truncated": f"-----BEGIN CERTIFICATE-----\n{half}\n-----END CERTIFICATE-----",
        "no END": ca_pem.partition("-----END")[0],
        "other PEM type": other_block,
        "CRL": crl,
        "over 64 KiB": too_long,
        "not text": 12,
        "a list": [ca_pem],
    }
    for name, value in cases.items():
        assert refusal(v.valid_ca_cert, value) == "invalid_ca_cert", name


# -- credentials ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        (" writer ", "writer"),
        ("a" * 256, "a" * 256),
        ("\u00e9", "\u00e9"),
    ],
)
def test_valid_usernames(value: object, expected: str | None) -> None:
    assert v.valid_username(value) == expected


@pytest.mark.parametrize("value", ["a" * 257, "a b", "a\x00", "a\nb", "\u202ea", 5, ["a"]])
def test_invalid_usernames(value: object) -> None:
    assert refusal(v.valid_username, value) == "invalid_username"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (" s3cret pw ", " s3cret pw "),
        ("a" * 1024, "a" * 1024),
        ("p\x00w", "p\x00w"),
    ],
)
def test_valid_passwords(value: object, expected: str | None) -> None:
    assert v.valid_password(value) == expected


@pytest.mark.parametrize("value", ["a" * 1025, "pw\ud800", 5, ["pw"]])
def test_invalid_passwords(value: object) -> None:
    assert refusal(v.valid_password, value) == "invalid_password"


# -- forms ----------------------------------------------------------------------------------------------


def test_validate_form_reports_every_field() -> None:
    values, errors = v.validate_form(
        {"name": " ok ", "host": "a..b", "port": 0, "extra": "ignored"},
        {
            "name": v.valid_name,
            "host": v.valid_host,
            "port": v.valid_redis_port,
            "username": v.valid_username,
        },
    )
    assert values == {"name": "ok", "username": None}
    assert errors == {"host": "invalid_host", "port": "out_of_range"}


# -- properties: any input gives a valid, storable value or InvalidInput, never another exception -----------

ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
    st.binary(max_size=20),
    st.lists(st.one_of(st.text(max_size=40), st.integers()), max_size=80),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
# Text that looks like the real thing, so that the parsers get past their first checks.
HOSTISH = st.text(alphabet=st.sampled_from("aZ09-_.:[]%\u00fc\u3002\x00\n \u202e"), max_size=80)
PORTISH = st.builds(
    str.__add__,
    st.sampled_from(["", "/", "/dev/", "socket://", "esphome://", "rfc2217://[", "tcp://h:", "ftp://"]),
    st.text(alphabet=st.sampled_from("a0:/.[]@?=%\x00 \u00e9"), max_size=40),
)
VALIDATORS: list[Validator] = [
    v.valid_name,
    v.valid_label,
    v.valid_columns,
    v.valid_time_interval,
    v.valid_entity_interval,
    v.valid_cache_interval,
    v.valid_backlog_limit,
    v.valid_redis_port,
    v.valid_redis_db,
    v.valid_host,
    v.valid_serial_port,
    v.valid_ca_cert,
    v.valid_username,
    v.valid_password,
]
KEYS = {
    "invalid_name",
    "invalid_label",
    "no_columns",
    "too_many_columns",
    "out_of_range",
    "invalid_host",
    "invalid_port",
    "invalid_ca_cert",
    "invalid_username",
    "invalid_password",
}


@FAST
@given(validator=st.sampled_from(VALIDATORS), value=st.one_of(ANYTHING, HOSTISH, PORTISH))
def test_any_input_is_valid_or_refused(validator: Validator, value: object) -> None:
    if (key := refusal(validator, value)) is not None:
        assert key in KEYS
        return
    result = validator(value)
    assert_storable(result)
    assert validator(result) == result  # normalised once for all


@FAST
@given(host=st.one_of(st.text(max_size=300), HOSTISH), port=st.integers(1, 65535), db=st.integers(0, 255))
def test_any_host_has_an_identity(host: str, port: int, db: int) -> None:
    identity = v.redis_server_identity(host, port, db)
    assert identity[1:] == (port, db)
    if refusal(v.valid_host, host) is None:
        # A valid host reaches the resolver in a form it can encode, and its identity is stable.
        name = identity[0]
        assert name == v.LOOPBACK or re.fullmatch(r"[a-z0-9_.:%-]+", name), name
        assert v.redis_server_identity(name, port, db) == identity
        assert_storable(v.valid_host(host))


@FAST
@given(data=st.data())
def test_a_mangled_certificate_is_valid_or_refused(ca_pem: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(ca_pem)))
    inserted = data.draw(st.text(max_size=3))
    cut = data.draw(st.integers(0, 3))
    mangled = ca_pem[:position] + inserted + ca_pem[position + cut :]
    key = refusal(v.valid_ca_cert, mangled)
    assert key in (None, "invalid_ca_cert")
