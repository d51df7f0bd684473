"""Issue 15, "every bad input answered": its table and lesser findings replayed through the real flows.

Config flow (VE.Direct add, USB confirm, reconfigure; Redis server add, reconfigure, reauth), options flow,
Redis output subentry flow (settings, node, ref_cols, reconfigure) and the repair fix flow, against real
redis-servers and simulated devices; plus the bounds of every field just inside and just outside, and
properties over arbitrary input.

A bad value gets a form of the same step with its error on the field holding it (the keys of
custom_components/vemonitor/validation.py); nothing is created or changed; the config entries still save
(written through Home Assistant's storage, which writes JSON with orjson, and read back); no ERROR is logged.
Every bad value, numbers out of the bounds their number box shows included, gets the integration's translated
error, never Home Assistant's own schema refusal (InvalidData, an untranslated HTTP 400): the number selectors
show their bounds to the browser and leave checking them to the flow.
"""

from collections.abc import Awaitable, Callable, Iterator, Mapping
import logging
import math
from pathlib import Path
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USB, SOURCE_USER, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData, UnknownHandler
from homeassistant.helpers.json import json_bytes
from homeassistant.setup import async_setup_component
from homeassistant.util.json import json_loads
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.vemonitor import validation as v
from custom_components.vemonitor.const import DOMAIN, SUBENTRY_REDIS_OUTPUT
from custom_components.vemonitor.repairs import async_create_port_missing_issue
from tests.ha_vedirect import bmv_emission, mppt_emission, repeating_simulator, vedirect_entry
from tests.redis_fixtures import WRITER, server_entry
from tests.redis_server import RedisServer, free_port
from tests.test_config_flow import usb_info
from tests.test_redis_output_flow import block_entry, output_data, settings_form

type Answer = dict[str, Any] | InvalidData
type Validator = Callable[[object], object]

OUT_OF_RANGE = "out_of_range"


# -- what every test asserts ----------------------------------------------------------------------------


def entries_state(hass: HomeAssistant) -> dict[str, Any]:
    """Everything a flow may change: each entry's unique_id, data, options and subentries."""
    return {
        entry.entry_id: (
            entry.unique_id,
            dict(entry.data),
            dict(entry.options),
            {subentry_id: dict(subentry.data) for subentry_id, subentry in entry.subentries.items()},
        )
        for entry in hass.config_entries.async_entries(DOMAIN)
    }


class Guard:
    """Remembers the entries (`mark`), then checks that nothing changed, that they still save, no ERROR."""

    def __init__(
        self, hass: HomeAssistant, storage: dict[str, Any], caplog: pytest.LogCaptureFixture
    ) -> None:
        self.hass = hass
        self.storage = storage
        self.caplog = caplog
        self.before: dict[str, Any] = {}

    def mark(self) -> None:
        self.before = entries_state(self.hass)

    async def assert_saves(self) -> None:
        """Write the config entries now (as Home Assistant's delayed save would) and read them back."""
        manager = self.hass.config_entries
        await manager._store.async_save(manager._data_to_save())
        stored = self.storage["core.config_entries"]["data"]["entries"]
        assert json_loads(json_bytes(stored)) == stored
        assert {entry["entry_id"] for entry in stored} == set(entries_state(self.hass))
        errors = [record for record in self.caplog.records if record.levelno >= logging.ERROR]
        assert not errors, [record.getMessage() for record in errors]

    async def assert_unchanged(self) -> None:
        assert entries_state(self.hass) == self.before
        await self.assert_saves()


@pytest.fixture
def guard(hass: HomeAssistant, hass_storage: dict[str, Any], caplog: pytest.LogCaptureFixture) -> Guard:
    return Guard(hass, hass_storage, caplog)


async def answer(step: Awaitable[Mapping[str, Any]]) -> Answer:
    """A flow's answer to a submission, or Home Assistant's own refusal of it by the form's schema."""
    try:
        return dict(await step)
    except InvalidData as err:
        return err


def assert_refused(result: Answer, field: str, key: str, step_id: str | None = None) -> None:
    """A form (of `step_id`) with exactly `key` on `field`; see the module docstring for InvalidData."""
    assert not isinstance(result, InvalidData), f"schema refusal {result.schema_errors}: expected {key!r}"
    assert result["type"] is FlowResultType.FORM, result
    assert result["errors"] == {field: key}
    if step_id is not None:
        assert result["step_id"] == step_id


def assert_aborted(result: Answer, reason: str) -> None:
    """The flow ended with `reason` (not a schema refusal, not a form)."""
    assert not isinstance(result, InvalidData)
    assert result["type"] is FlowResultType.ABORT, result
    assert result["reason"] == reason


def rows(field: str, key: str, values: Mapping[str, object]) -> list[Any]:
    """Table rows (field, value, key), one per named bad value."""
    return [pytest.param(field, value, key, id=f"{field}-{name}") for name, value in values.items()]


# -- the bad values ---------------------------------------------------------------------------------------

BAD_NAMES = {
    "empty": "",
    "blank": "   ",
    "space": "MPPT 1",
    "65 chars": "a" * 65,
    "10000 chars": "a" * 10_000,
    "e acute": "\u00e9t\u00e9",
    "NUL": "a\x00b",
    "newline inside": "a\nb",
    "bidi override": "\u202eab",
}
BAD_INTERVALS = {
    "nan": math.nan,
    "nan text": "nan",
    "inf": math.inf,
    "0": 0,
    "-1": -1,
    "3601": 3601,
    "1.5": 1.5,
    "1e12": 1e12,
    "1e300": 1e300,
    "10**400": 10**400,
    "true": True,
    "text": "five",
    "list": [5],
}
BAD_RETENTIONS = {
    "3650 days and a second": {"days": 3650, "seconds": 1},
    "3651 days": {"days": 3651},
    "negative": {"days": -1},
    "nan": {"hours": math.nan},
    "inf": {"hours": math.inf},
    "unknown unit": {"weeks": 1},
    "empty": {},
    "text amount": {"days": "7"},
    "bool amount": {"days": True},
    "text": "7 days",
    "number": 604_800,
    "list": [7],
}
BAD_SERIAL_PORTS = {
    "NUL": "/dev/tty\x00x",
    "newline": "/dev/tty\nUSB0",
    "bidi override": "/dev/tty\u202eUSB0",
    "empty": "",
    "256 chars": "/" + "d" * 255,
    "relative": "ttyUSB0",
    "unknown scheme": "ftp://192.168.0.10:21",
    "socket without port": "socket://192.168.0.10",
    "socket port 0": "socket://192.168.0.10:0",
    "socket port 65536": "socket://192.168.0.10:65536",
    "socket empty label": "socket://a..b:8888",
    "socket label of 64": "socket://" + "a" * 64 + ".x:8888",
}
BAD_HOSTS = {  # the first six: issue 15 row 1 (HTTP 500 with TLS on)
    "10000 chars": "a" * 10_000,
    "label of 64": "a" * 64 + ".x",
    "dot": ".",
    "empty label": "a..b",
    "bidi override": "\u202e127.0.0.1",
    "NUL": "127.0.0.1\x00x",
    "empty": "",
    "blank": "   ",
    "space": "redis host",
    "newline": "127.0.0.1\nx",
    "254 chars": ".".join(["a" * 63] * 3 + ["a" * 62]),
    "port in host": "127.0.0.1:6379",
    "bad IPv4": "999.1.1.1",
}
BAD_REDIS_PORTS = {"0": 0, "-1": -1, "65536": 65_536, "1.5": 1.5, "nan": math.nan, "1e20": 1e20}
BAD_DBS = {"-1": -1, "256": 256, "1.5": 1.5, "nan": math.nan, "1e20": 1e20}
BAD_USERNAMES = {"257 chars": "a" * 257, "space": "writer one", "NUL": "writer\x00", "newline": "a\nb"}
BAD_PASSWORDS = {"1025 chars": "a" * 1025, "lone surrogate": "pw\ud800"}
BAD_BACKLOG_LIMITS = {
    "0": 0,
    "604801": 604_801,
    "1e9": 1e9,
    "1e20": 1e20,
    "1e300": 1e300,
    "nan": math.nan,
    "1.5": 1.5,
}
LABELS_65 = [f"L{index}" for index in range(65)]
BAD_COLUMNS = {
    "33 chars": ["V", "a" * 33],
    "space": ["V V"],
    "e acute": ["\u00e9"],
    "hyphen": ["V", "I-1"],
    "10000 chars": ["a" * 10_000],
}


BAD_CA_CERTS: dict[str, Callable[[str, str], str]] = {  # (CA PEM, private key PEM) -> the text typed
    "CA plus private key": lambda ca, key: ca + key,  # issue 15 row 7
    "private key": lambda ca, key: key,
    "emoji": lambda ca, key: "\U0001f600",  # row 9
    "e acute": lambda ca, key: "\u00e9",  # row 9
    "not a PEM": lambda ca, key: "not a PEM",
    "stray text": lambda ca, key: ca + "\nmy CA",
    "empty block": lambda ca, key: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----",
    "other block type": lambda ca, key: ca.replace("CERTIFICATE", "TRUSTED CERTIFICATE"),
    "no certificate inside": lambda ca, key: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
}


# -- flows ------------------------------------------------------------------------------------------------


async def start_config_flow(hass: HomeAssistant, kind: str) -> str:
    """The integration's user flow, past its menu ("vedirect", or "redis_single": past the menu of the kinds
    of Redis server too)."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    if kind.startswith("redis_"):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "redis_server"}
        )
        assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": kind})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == kind
    return result["flow_id"]


async def start_redis_reconfigure(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    """The reconfigure flow of a single-server entry, past the menu of the kinds."""
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "reconfigure_redis_server"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "reconfigure_redis_single"}
    )
    assert result["step_id"] == "reconfigure_redis_single"
    return result["flow_id"]


async def configure(hass: HomeAssistant, flow_id: str, user_input: Mapping[str, Any]) -> Answer:
    return await answer(hass.config_entries.flow.async_configure(flow_id, dict(user_input)))


def vedirect_form(port: str) -> dict[str, Any]:
    return {"name": "MPPT1", "port": port, "time_interval": 1}


def redis_form(server: RedisServer, name: str = "r1", **changes: Any) -> dict[str, Any]:
    return {
        "name": name,
        "host": server.host,
        "port": server.port,
        "db": 0,
        "tls": False,
        "tls_verify": True,
        **changes,
    }


def reconnect_form(server: RedisServer, **changes: Any) -> dict[str, Any]:
    """The reconfigure step of a Redis server (its name and database stay)."""
    form = redis_form(server, **changes)
    del form["name"], form["db"]
    return form


@pytest.fixture
def missing_port(tmp_path: Path) -> str:
    """A local port path that does not exist: a valid form ends with cannot_open, without any device."""
    return str(tmp_path / "ttyVE0")


@pytest.fixture
def tls_texts(redis_tls: RedisServer) -> tuple[str, str]:
    """The CA certificate of the TLS server and its private key (what one should never paste)."""
    assert redis_tls.tls is not None
    return redis_tls.tls.ca_pem, redis_tls.tls.key_file.read_text()


# -- VE.Direct: add, USB confirm, reconfigure, options ------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "key"),
    rows("name", "invalid_name", BAD_NAMES)
    + rows("port", "invalid_port", BAD_SERIAL_PORTS)
    + rows("time_interval", OUT_OF_RANGE, BAD_INTERVALS),  # row 4: nan was an HTTP 500
)
async def test_vedirect_add_refuses(
    hass: HomeAssistant, guard: Guard, missing_port: str, field: str, value: object, key: str
) -> None:
    guard.mark()
    flow_id = await start_config_flow(hass, "vedirect")
    result = await configure(hass, flow_id, {**vedirect_form(missing_port), field: value})
    assert_refused(result, field, key, "vedirect")
    await guard.assert_unchanged()


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize(
    "changes",
    [
        {"name": "a" * 64},
        {"name": "a"},
        {"time_interval": 3600},
        {"time_interval": 2.0},
        {"port": "/" + "d" * 254},
        {"port": "socket://127.0.0.1:1"},
        {"port": "rfc2217://127.0.0.1:1"},
    ],
    ids=["name 64", "name 1", "interval 3600", "interval 2.0", "port 255 chars", "socket", "rfc2217"],
)
async def test_vedirect_add_accepts_the_bounds(
    hass: HomeAssistant, guard: Guard, missing_port: str, changes: dict[str, Any]
) -> None:
    """Just inside the bounds: the values pass, the port is tried (and is not there)."""
    guard.mark()
    flow_id = await start_config_flow(hass, "vedirect")
    result = await configure(hass, flow_id, {**vedirect_form(missing_port), **changes})
    assert not isinstance(result, InvalidData)
    assert result["errors"] == {"base": "cannot_open"}
    await guard.assert_unchanged()


@pytest.mark.parametrize("spelling", ["{dir}/../{base}/{name}", "{dir}//{name}", "{dir}/./{name}"])
async def test_vedirect_port_spellings_are_one_port(hass: HomeAssistant, guard: Guard, spelling: str) -> None:
    """A BMV is known by product and port: another spelling of its port path is the same device."""
    async with repeating_simulator(bmv_emission()) as sim:
        assert sim.url is not None
        vedirect_entry(sim.url, name="house", unique_id=f"0xA381@{sim.url}").add_to_hass(hass)
        guard.mark()
        port = Path(sim.url)
        spelled = spelling.format(dir=port.parent, base=port.parent.name, name=port.name)
        flow_id = await start_config_flow(hass, "vedirect")
        result = await configure(hass, flow_id, {**vedirect_form(spelled), "name": "house2"})
    assert_aborted(result, "already_configured")
    await guard.assert_unchanged()


async def test_usb_confirm_refuses(hass: HomeAssistant, guard: Guard) -> None:
    async with repeating_simulator(mppt_emission()) as sim:
        assert sim.url is not None
        guard.mark()
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USB}, data=usb_info(sim.url)
        )
        assert result["step_id"] == "usb_confirm"
        flow_id = result["flow_id"]
        for field, value, key in [
            ("name", "a" * 65, "invalid_name"),
            ("name", "solar\x00", "invalid_name"),
            ("time_interval", math.nan, OUT_OF_RANGE),
            ("time_interval", 1.5, OUT_OF_RANGE),
            ("time_interval", 3601, OUT_OF_RANGE),
        ]:
            form = {"name": "solar", "time_interval": 1, field: value}
            assert_refused(await configure(hass, flow_id, form), field, key, "usb_confirm")
    await guard.assert_unchanged()


@pytest.mark.parametrize(("field", "value", "key"), rows("port", "invalid_port", BAD_SERIAL_PORTS))
async def test_vedirect_reconfigure_refuses(
    hass: HomeAssistant, guard: Guard, field: str, value: object, key: str
) -> None:
    """Row 3: a NUL in the port was an HTTP 500 (os.path.realpath in the same-port check)."""
    entry = vedirect_entry("/dev/ttyUSB0")
    entry.add_to_hass(hass)
    guard.mark()
    result = await entry.start_reconfigure_flow(hass)
    assert_refused(await configure(hass, result["flow_id"], {field: value}), field, key, "reconfigure")
    await guard.assert_unchanged()


@pytest.mark.parametrize("spelling", ["/dev//ttyUSB0", "/dev/../dev/ttyUSB0", " /dev/./ttyUSB0 "])
async def test_vedirect_reconfigure_stores_the_normal_path(
    hass: HomeAssistant, guard: Guard, spelling: str
) -> None:
    """Lesser finding: `../` spellings were stored as another port. The same port: stored as it was."""
    entry = vedirect_entry("/dev/ttyUSB0")
    entry.add_to_hass(hass)
    flow = await entry.start_reconfigure_flow(hass)
    result = await configure(hass, flow["flow_id"], {"port": spelling})
    assert_aborted(result, "reconfigure_successful")
    assert entry.data["port"] == "/dev/ttyUSB0"
    await hass.async_block_till_done()  # the reload's setup (of a port that is not there) has ended
    await hass.config_entries.async_unload(entry.entry_id)
    await guard.assert_saves()


@pytest.mark.parametrize(("field", "value", "key"), rows("time_interval", OUT_OF_RANGE, BAD_INTERVALS))
async def test_vedirect_options_refuse(
    hass: HomeAssistant, guard: Guard, field: str, value: object, key: str
) -> None:
    """Row 4: nan was an HTTP 500 (int(nan))."""
    entry = vedirect_entry("/dev/ttyUSB0", time_interval=5)
    entry.add_to_hass(hass)
    guard.mark()
    flow = await hass.config_entries.options.async_init(entry.entry_id)
    assert flow["step_id"] == "init"
    result = await answer(hass.config_entries.options.async_configure(flow["flow_id"], {field: value}))
    assert_refused(result, field, key, "init")
    await guard.assert_unchanged()


async def test_no_options_for_a_redis_server(
    hass: HomeAssistant, guard: Guard, redis_plain: RedisServer
) -> None:
    """Row 8: a VE.Direct options form was served for a Redis server and saved into its options.

    Home Assistant's options manager does not look at async_supports_options_flow (it only hides the button):
    asked anyway, the integration must refuse, with no handler (HTTP 404) or an abort, never a form.
    """
    entry = server_entry(redis_plain)
    entry.add_to_hass(hass)
    guard.mark()
    assert not entry.supports_options
    try:
        result = await hass.config_entries.options.async_init(entry.entry_id)
    except UnknownHandler:
        pass
    else:
        assert result["type"] is FlowResultType.ABORT, result
    assert hass.config_entries.options.async_progress_by_handler(entry.entry_id) == []
    await guard.assert_unchanged()


# -- Redis servers: add, identity, reconfigure, reauth --------------------------------------------------


REDIS_SERVER_ROWS = (
    [
        pytest.param(*row.values, {"tls": False}, id=f"{row.id}-plain")
        for row in rows("host", "invalid_host", BAD_HOSTS)
    ]
    + [
        pytest.param(*row.values, {"tls": True}, id=f"{row.id}-tls")
        for row in rows("host", "invalid_host", BAD_HOSTS)
    ]
    + [
        pytest.param(*row.values, {}, id=row.id)
        for row in rows("port", OUT_OF_RANGE, BAD_REDIS_PORTS)
        + rows("db", OUT_OF_RANGE, BAD_DBS)
        + rows("name", "invalid_name", BAD_NAMES)
        + rows("username", "invalid_username", BAD_USERNAMES)
        + rows("password", "invalid_password", BAD_PASSWORDS)
    ]
)


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize(("field", "value", "key", "changes"), REDIS_SERVER_ROWS)
async def test_redis_server_add_refuses(
    hass: HomeAssistant,
    guard: Guard,
    redis_plain: RedisServer,
    field: str,
    value: object,
    key: str,
    changes: dict[str, Any],
) -> None:
    """Row 1 (the hosts, TLS on: HTTP 500) and the bounds of every other field."""
    guard.mark()
    flow_id = await start_config_flow(hass, "redis_single")
    result = await configure(hass, flow_id, {**redis_form(redis_plain, **changes), field: value})
    assert_refused(result, field, key, "redis_single")
    await guard.assert_unchanged()


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
@pytest.mark.parametrize("case", list(BAD_CA_CERTS))
async def test_redis_server_add_refuses_bad_ca_certs(
    hass: HomeAssistant,
    guard: Guard,
    redis_tls: RedisServer,
    tls_texts: tuple[str, str],
    tls: bool,
    case: str,
) -> None:
    """Rows 7 and 9: a key was stored (and shown back), emoji answered "server error". With TLS off too:
    the field is stored either way."""
    guard.mark()
    flow_id = await start_config_flow(hass, "redis_single")
    form = redis_form(redis_tls, tls=tls, ca_cert=BAD_CA_CERTS[case](*tls_texts))
    assert_refused(await configure(hass, flow_id, form), "ca_cert", "invalid_ca_cert", "redis_single")
    await guard.assert_unchanged()


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize(("db", "error"), [(16, {"db": "invalid_db"}), (255, {"db": "invalid_db"})])
async def test_redis_server_db_the_server_lacks(
    hass: HomeAssistant, guard: Guard, redis_plain: RedisServer, db: int, error: dict[str, str]
) -> None:
    """Lesser finding: db 16 of a 16-database server was a "server error"; it is the db field's error."""
    guard.mark()
    flow_id = await start_config_flow(hass, "redis_single")
    result = await configure(hass, flow_id, redis_form(redis_plain, db=db))
    assert not isinstance(result, InvalidData)
    assert result["errors"] == error
    await guard.assert_unchanged()


@pytest.mark.usefixtures("socket_enabled")
async def test_redis_server_add_accepts_the_bounds(
    hass: HomeAssistant, guard: Guard, redis_plain: RedisServer, redis_tls: RedisServer
) -> None:
    guard.mark()
    flow_id = await start_config_flow(hass, "redis_single")
    result = await configure(hass, flow_id, redis_form(redis_plain, port=1))
    assert not isinstance(result, InvalidData)
    assert result["errors"] == {"base": "cannot_connect"}
    await guard.assert_unchanged()
    # The longest credentials reach the server (which knows no such user).
    result = await configure(hass, flow_id, redis_form(redis_plain, username="a" * 256, password="p" * 1024))
    assert not isinstance(result, InvalidData)
    assert result["errors"] == {"base": "invalid_auth"}
    result = await configure(hass, flow_id, redis_form(redis_plain, "a" * 64, db=15))
    assert not isinstance(result, InvalidData)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["data"]["name"] == "a" * 64
    assert result["data"]["db"] == 15
    assert redis_tls.tls is not None
    flow_id = await start_config_flow(hass, "redis_single")
    ca_bundle = f"\n{redis_tls.tls.ca_pem}\n{redis_tls.tls.cert_file.read_text()}\n"
    result = await configure(hass, flow_id, redis_form(redis_tls, "tls", tls=True, ca_cert=ca_bundle))
    assert not isinstance(result, InvalidData)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["data"]["ca_cert"] == ca_bundle.strip()
    await hass.async_block_till_done()
    await guard.assert_saves()


SAME_SERVER = ["localhost", "LOCALHOST", "localhost.", "127.1", "0x7f.1", "127.0.0.2", "::1", "[::1]"]


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize("spelling", [*SAME_SERVER, "::ffff:127.0.0.1"])
async def test_redis_server_twice_by_another_spelling(
    hass: HomeAssistant, guard: Guard, redis_plain: RedisServer, spelling: str
) -> None:
    """Row 6: localhost:P, 127.1:P, LOCALHOST:P were created beside 127.0.0.1:P."""
    flow_id = await start_config_flow(hass, "redis_single")
    result = await configure(hass, flow_id, redis_form(redis_plain, "first"))
    assert not isinstance(result, InvalidData)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    guard.mark()
    flow_id = await start_config_flow(hass, "redis_single")
    result = await configure(hass, flow_id, redis_form(redis_plain, "second", host=spelling))
    assert_aborted(result, "already_configured")
    await guard.assert_unchanged()


async def test_redis_server_identity_is_checked_before_the_probe(
    hass: HomeAssistant, guard: Guard, redis_owned: RedisServer
) -> None:
    """The same server is refused even while it is down (no wait for a timeout, no cannot_connect)."""
    flow_id = await start_config_flow(hass, "redis_single")
    result = await configure(hass, flow_id, redis_form(redis_owned, "first"))
    assert not isinstance(result, InvalidData)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    first = result["result"]
    await hass.async_block_till_done()
    redis_owned.stop()
    guard.mark()
    flow_id = await start_config_flow(hass, "redis_single")
    result = await configure(hass, flow_id, redis_form(redis_owned, "second", host="localhost"))
    assert_aborted(result, "already_configured")
    await hass.config_entries.async_unload(first.entry_id)
    await guard.assert_saves()


@pytest.mark.usefixtures("socket_enabled")
async def test_redis_server_identity_of_an_older_entry(
    hass: HomeAssistant, guard: Guard, redis_plain: RedisServer
) -> None:
    """An entry stored before this check (no unique_id, never set up here) counts as well."""
    server_entry(redis_plain, "older").add_to_hass(hass)
    guard.mark()
    flow_id = await start_config_flow(hass, "redis_single")
    result = await configure(hass, flow_id, redis_form(redis_plain, "newer", host="LocalHost."))
    assert_aborted(result, "already_configured")
    await guard.assert_unchanged()


@pytest.mark.usefixtures("socket_enabled")
async def test_redis_server_reconfigure_onto_another_entrys_server(
    hass: HomeAssistant, guard: Guard, redis_plain: RedisServer
) -> None:
    server_entry(redis_plain, "a").add_to_hass(hass)
    other = server_entry(redis_plain, "b", port=free_port())
    other.add_to_hass(hass)
    guard.mark()
    flow_id = await start_redis_reconfigure(hass, other)
    result = await configure(hass, flow_id, reconnect_form(redis_plain, host="::1"))
    assert_aborted(result, "already_configured")
    await guard.assert_unchanged()


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize(
    ("field", "value", "key"),
    rows("host", "invalid_host", BAD_HOSTS)  # row 2: the same hosts, with TLS on
    + rows("port", OUT_OF_RANGE, BAD_REDIS_PORTS)
    + rows("username", "invalid_username", BAD_USERNAMES)
    + rows("password", "invalid_password", BAD_PASSWORDS)
    + [pytest.param("ca_cert", case, "invalid_ca_cert", id=f"ca_cert-{case}") for case in BAD_CA_CERTS],
)
async def test_redis_server_reconfigure_refuses(
    hass: HomeAssistant,
    guard: Guard,
    redis_plain: RedisServer,
    tls_texts: tuple[str, str],
    field: str,
    value: object,
    key: str,
) -> None:
    entry = server_entry(redis_plain)
    entry.add_to_hass(hass)
    guard.mark()
    if field == "ca_cert":
        value = BAD_CA_CERTS[str(value)](*tls_texts)
    flow_id = await start_redis_reconfigure(hass, entry)
    form = {**reconnect_form(redis_plain, tls=True), field: value}
    assert_refused(await configure(hass, flow_id, form), field, key, "reconfigure_redis_single")
    await guard.assert_unchanged()


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize(
    ("field", "value", "key"),
    rows("username", "invalid_username", BAD_USERNAMES) + rows("password", "invalid_password", BAD_PASSWORDS),
)
async def test_redis_server_reauth_refuses(
    hass: HomeAssistant, guard: Guard, redis_auth: RedisServer, field: str, value: object, key: str
) -> None:
    entry = server_entry(redis_auth, username=WRITER.name, password="old-password")
    entry.add_to_hass(hass)
    guard.mark()
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    form = {"username": WRITER.name, "password": WRITER.password, field: value}
    assert_refused(await configure(hass, result["flow_id"], form), field, key, "reauth_confirm")
    await guard.assert_unchanged()


# -- Redis outputs: settings, nodes, references, reconfigure ------------------------------------------------


@pytest.fixture
def output_device(hass: HomeAssistant, redis_plain: RedisServer) -> tuple[MockConfigEntry, MockConfigEntry]:
    """A Redis server entry and a VE.Direct device entry (neither set up: the flow needs neither loaded)."""
    server = server_entry(redis_plain)
    server.add_to_hass(hass)
    device = block_entry()
    device.add_to_hass(hass)
    return server, device


async def start_output_flow(hass: HomeAssistant, device: MockConfigEntry) -> str:
    result = await hass.config_entries.subentries.async_init(
        (device.entry_id, SUBENTRY_REDIS_OUTPUT), context={"source": SOURCE_USER}
    )
    assert result["step_id"] == "user"
    return result["flow_id"]


async def configure_output(hass: HomeAssistant, flow_id: str, user_input: Mapping[str, Any]) -> Answer:
    return await answer(hass.config_entries.subentries.async_configure(flow_id, dict(user_input)))


def node_form(node_name: str = "bmv700", columns: object = None, add_another: bool = False) -> dict[str, Any]:
    return {
        "node_name": node_name,
        "columns": ["V", "I"] if columns is None else columns,
        "add_another": add_another,
    }


async def output_at_node_step(hass: HomeAssistant, server: MockConfigEntry, device: MockConfigEntry) -> str:
    flow_id = await start_output_flow(hass, device)
    result = await configure_output(hass, flow_id, settings_form(server.entry_id))
    assert not isinstance(result, InvalidData)
    assert result["step_id"] == "node"
    return flow_id


@pytest.mark.parametrize(
    ("field", "value", "key"),
    rows("redis_node", "invalid_name", BAD_NAMES)
    + rows("time_interval", OUT_OF_RANGE, BAD_INTERVALS)
    + rows("cache_interval", OUT_OF_RANGE, BAD_INTERVALS)
    + rows("backlog_limit", OUT_OF_RANGE, BAD_BACKLOG_LIMITS)
    + rows("retention", "invalid_retention", BAD_RETENTIONS),
)
async def test_output_settings_refuse(
    hass: HomeAssistant,
    guard: Guard,
    output_device: tuple[MockConfigEntry, MockConfigEntry],
    field: str,
    value: object,
    key: str,
) -> None:
    server, device = output_device
    guard.mark()
    flow_id = await start_output_flow(hass, device)
    result = await configure_output(hass, flow_id, {**settings_form(server.entry_id), field: value})
    assert_refused(result, field, key, "user")
    await guard.assert_unchanged()


@pytest.mark.parametrize(
    ("time_interval", "cache_interval"), [(60, 61), (3600, 2), (2, 1801)], ids=["60x61", "3600x2", "2x1801"]
)
async def test_output_sends_at_least_hourly(
    hass: HomeAssistant,
    guard: Guard,
    output_device: tuple[MockConfigEntry, MockConfigEntry],
    time_interval: int,
    cache_interval: int,
) -> None:
    server, device = output_device
    guard.mark()
    flow_id = await start_output_flow(hass, device)
    form = settings_form(server.entry_id, time_interval=time_interval, cache_interval=cache_interval)
    assert_refused(
        await configure_output(hass, flow_id, form), "cache_interval", "send_period_too_long", "user"
    )
    await guard.assert_unchanged()


@pytest.mark.parametrize(
    "changes",
    [
        {"redis_node": "a" * 64},
        {"time_interval": 3600, "cache_interval": 1},
        {"time_interval": 1, "cache_interval": 3600},
        {"time_interval": 60.0, "cache_interval": 60.0},
        {"backlog_limit": 1},
        {"backlog_limit": 604_800},
        {"retention": {"days": 0}},
        {"retention": {"days": 3650}},
        {"retention": {"days": 3649, "hours": 23, "minutes": 59, "seconds": 59}},
    ],
    ids=[
        "node 64",
        "3600x1",
        "1x3600",
        "60x60",
        "backlog 1",
        "backlog 604800",
        "retention 0 (forever)",
        "retention 3650 days",
        "retention just under",
    ],
)
async def test_output_settings_accept_the_bounds(
    hass: HomeAssistant, output_device: tuple[MockConfigEntry, MockConfigEntry], changes: dict[str, Any]
) -> None:
    server, device = output_device
    flow_id = await start_output_flow(hass, device)
    result = await configure_output(hass, flow_id, settings_form(server.entry_id, **changes))
    assert not isinstance(result, InvalidData)
    assert result["step_id"] == "node", result


@pytest.mark.parametrize(
    ("field", "value"),
    [("backlog_limit", 1e20), ("backlog_limit", 1e300), ("time_interval", 1e300), ("cache_interval", 1e20)],
)
async def test_huge_numbers_never_reach_storage(
    hass: HomeAssistant,
    guard: Guard,
    output_device: tuple[MockConfigEntry, MockConfigEntry],
    field: str,
    value: float,
) -> None:
    """Row 5: the output was created, then every later save of the config entries failed ("Integer exceeds
    64-bit range"). Should the flow take the number, it is driven to its end to show what storage does."""
    server, device = output_device
    guard.mark()
    flow_id = await start_output_flow(hass, device)
    result = await configure_output(hass, flow_id, {**settings_form(server.entry_id), field: value})
    if not isinstance(result, InvalidData) and result.get("step_id") == "node":
        await configure_output(hass, flow_id, node_form())
        await configure_output(hass, flow_id, {"add_another": False})
    await guard.assert_saves()
    assert_refused(result, field, OUT_OF_RANGE, "user")
    await guard.assert_unchanged()


@pytest.mark.parametrize("spelling", ["localhost", "127.1", "::1", "LOCALHOST."])
async def test_redis_node_in_use_through_another_spelling(
    hass: HomeAssistant, guard: Guard, redis_plain: RedisServer, spelling: str
) -> None:
    """Row 6: two devices wrote into the same SET and node through two spellings of one server (entries
    made before the identity check: the redis_node check must see through them as well)."""
    first = server_entry(redis_plain, "first")
    first.add_to_hass(hass)
    second = server_entry(redis_plain, "second", host=spelling)
    second.add_to_hass(hass)
    taken = ConfigSubentryData(
        data=output_data(first.entry_id, "taken"),
        subentry_type=SUBENTRY_REDIS_OUTPUT,
        title="taken",
        unique_id=None,
    )
    block_entry("mppt", subentries_data=[taken]).add_to_hass(hass)
    device = block_entry()
    device.add_to_hass(hass)
    guard.mark()
    flow_id = await start_output_flow(hass, device)
    result = await configure_output(hass, flow_id, settings_form(second.entry_id, "taken"))
    assert_refused(result, "redis_node", "redis_node_in_use", "user")
    await guard.assert_unchanged()


@pytest.mark.parametrize(
    ("field", "value", "key"),
    rows("node_name", "invalid_name", BAD_NAMES)
    + rows("columns", "invalid_label", BAD_COLUMNS)
    + [pytest.param("columns", LABELS_65, "too_many_columns", id="columns-65 labels")],
)
async def test_output_node_refuses(
    hass: HomeAssistant,
    guard: Guard,
    output_device: tuple[MockConfigEntry, MockConfigEntry],
    field: str,
    value: object,
    key: str,
) -> None:
    guard.mark()
    flow_id = await output_at_node_step(hass, *output_device)
    result = await configure_output(hass, flow_id, {**node_form(), field: value})
    assert_refused(result, field, key, "node")
    await guard.assert_unchanged()


async def test_output_node_bounds(
    hass: HomeAssistant, guard: Guard, output_device: tuple[MockConfigEntry, MockConfigEntry]
) -> None:
    """64 columns and 16 nodes are fine; asking for a 17th node is refused on add_another."""
    guard.mark()
    flow_id = await output_at_node_step(hass, *output_device)
    for index in range(v.MAX_NODES - 1):
        name = "n" * 64 if index == 0 else f"n{index}"
        result = await configure_output(hass, flow_id, node_form(name, LABELS_65[:64], add_another=True))
        assert not isinstance(result, InvalidData)
        assert (result["step_id"], result["errors"]) == ("node", {}), (index, result)
    last = node_form("last", ["V"], add_another=True)
    assert_refused(await configure_output(hass, flow_id, last), "add_another", "too_many_nodes", "node")
    result = await configure_output(hass, flow_id, {**last, "add_another": False})
    assert not isinstance(result, InvalidData)
    assert result["step_id"] == "ref_cols"
    await guard.assert_unchanged()


async def test_output_ref_cols_bounds(
    hass: HomeAssistant, guard: Guard, output_device: tuple[MockConfigEntry, MockConfigEntry]
) -> None:
    """Reference names are names; 64 references are fine, asking for a 65th is refused on add_another."""
    guard.mark()
    flow_id = await output_at_node_step(hass, *output_device)
    await configure_output(hass, flow_id, node_form())
    for value in BAD_NAMES.values():
        if not value.strip():
            continue  # an empty reference name (and column) finishes the list
        form = {"ref_name": value, "column": "V", "add_another": False}
        assert_refused(await configure_output(hass, flow_id, form), "ref_name", "invalid_name", "ref_cols")
    for index in range(v.MAX_REF_COLS - 1):
        ref = {"ref_name": "r" * 64 if index == 0 else f"r{index}", "column": "V", "add_another": True}
        result = await configure_output(hass, flow_id, ref)
        assert not isinstance(result, InvalidData)
        assert (result["step_id"], result["errors"]) == ("ref_cols", {}), (index, result)
    last = {"ref_name": "last", "column": "I", "add_another": True}
    assert_refused(await configure_output(hass, flow_id, last), "add_another", "too_many_refs", "ref_cols")
    result = await configure_output(hass, flow_id, {**last, "add_another": False})
    assert not isinstance(result, InvalidData)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(result["data"]["ref_cols"]) == v.MAX_REF_COLS
    await guard.assert_saves()


async def test_output_reconfigure_with_a_stale_reference(
    hass: HomeAssistant, guard: Guard, redis_plain: RedisServer
) -> None:
    """Row 10: columns changed to ["I"] while a stored reference named column V: an HTTP 400 with the raw
    "value must be one of ['I']", as the form suggested V, which its own list no longer offered."""
    server = server_entry(redis_plain)
    server.add_to_hass(hass)
    stored = output_data(server.entry_id, columns={"bmv700": ["V", "I"]}, ref_cols=[["bat_voltage", "V"]])
    device = block_entry(
        subentries_data=[
            ConfigSubentryData(
                data=stored, subentry_type=SUBENTRY_REDIS_OUTPUT, title="bat_bmv700", unique_id=None
            )
        ]
    )
    device.add_to_hass(hass)
    (subentry_id,) = device.subentries
    guard.mark()
    flow = await hass.config_entries.subentries.async_init(
        (device.entry_id, SUBENTRY_REDIS_OUTPUT),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    flow_id = flow["flow_id"]
    await configure_output(hass, flow_id, settings_form(server.entry_id))
    result = await configure_output(hass, flow_id, node_form(columns=["I"]))
    assert not isinstance(result, InvalidData)
    assert result["step_id"] == "ref_cols"
    schema = result["data_schema"].schema
    options = schema["column"].config["options"]
    suggested = {key.schema: (key.description or {}).get("suggested_value") for key in schema}
    assert suggested["column"] in (None, *options), (suggested, options)  # never a choice it does not offer
    # Sent anyway (by hand, through the API): a translated error, or HA's refusal of a value not offered.
    result = await configure_output(
        hass, flow_id, {"ref_name": "bat_voltage", "column": "V", "add_another": False}
    )
    if not isinstance(result, InvalidData):
        assert result["errors"] == {"column": "invalid_ref_column"}
    await guard.assert_unchanged()


# -- the repair fix flow --------------------------------------------------------------------------------


async def test_repair_fix_flow_refuses(
    hass: HomeAssistant, guard: Guard, hass_client: ClientSessionGenerator
) -> None:
    assert await async_setup_component(hass, DOMAIN, {})  # the integration (its repairs platform), no entry
    entry = vedirect_entry("/dev/ttyUSB0")
    entry.add_to_hass(hass)
    async_create_port_missing_issue(hass, entry)
    assert await async_setup_component(hass, "repairs", {})
    guard.mark()
    client = await hass_client()
    url = "/api/repairs/issues/fix"
    response = await client.post(url, json={"handler": DOMAIN, "issue_id": f"port_missing_{entry.entry_id}"})
    flow_url = f"{url}/{(await response.json())['flow_id']}"
    for name, port in BAD_SERIAL_PORTS.items():
        response = await client.post(flow_url, json={"port": port})
        assert response.status == 200, (name, response.status, await response.text())
        result = await response.json()
        assert (result["step_id"], result["errors"]) == ("port", {"port": "invalid_port"}), name
    await guard.assert_unchanged()


# -- properties: arbitrary input never raises; a field error means its validator refuses the value ---------

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NUMBERS = st.one_of(st.integers(-(2**70), 2**70), st.floats())


def numbers(low: int, high: int) -> st.SearchStrategy[float]:
    """Any number, often near the field's bounds (else HA's number selector refuses most of them)."""
    return st.one_of(st.integers(low - 1, high + 1), st.sampled_from([low - 1, low, high, high + 1]), NUMBERS)


TEXT = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.sampled_from("aZ09_-.:/[]#@\x00\n \u00e9\u202e\ud800"), max_size=30),
)
# Each field's text: often valid or just past a bound, so that the flows get past their first check.
NAMES = st.one_of(st.from_regex(r"[A-Za-z0-9_-]{1,66}", fullmatch=True), TEXT)
LABELS = st.one_of(st.from_regex(r"[A-Za-z0-9#_]{1,34}", fullmatch=True), TEXT)
HOSTS = st.one_of(
    st.sampled_from(
        ["127.0.0.1", "::1", "[::1]", "localhost", "127.1", "a..b", "a" * 64 + ".x", "\u202e::1"]
    ),
    st.from_regex(r"[a-z0-9.:-]{1,20}", fullmatch=True),
    TEXT,
)
COLUMNS = st.one_of(st.lists(LABELS, max_size=6), st.sampled_from([LABELS_65[:64], LABELS_65]))
SERIAL_PORTS = st.one_of(
    st.from_regex(
        r"(/dev/[a-zA-Z0-9./]{0,20}|(socket|tcp|rfc2217|esphome|ftp)://[a-z0-9.:]{0,12})", fullmatch=True
    ),
    TEXT,
)
VALIDATION_KEYS = {
    "invalid_name",
    "invalid_label",
    "no_columns",
    "too_many_columns",
    OUT_OF_RANGE,
    "invalid_host",
    "invalid_port",
    "invalid_ca_cert",
    "invalid_username",
    "invalid_password",
}


def assert_answer_agrees(
    result: Answer, user_input: Mapping[str, Any], validators: Mapping[str, Validator]
) -> None:
    """HA's schema refusal, or an answer whose validation-key errors are exactly what the validators say of
    those values, and that never moves on (creates, or shows the next step) past a value they refuse."""
    if isinstance(result, InvalidData):
        return
    errors = result.get("errors") or {}
    for field, key in errors.items():
        if key in VALIDATION_KEYS:
            with pytest.raises(v.InvalidInput) as caught:
                validators[field](user_input.get(field))
            assert caught.value.key == key, (field, user_input.get(field))
    refused = {field for field, check in validators.items() if _refuses(check, user_input.get(field))}
    if refused:
        assert result["type"] is FlowResultType.FORM, (refused, result)
        assert errors, (refused, result)


def _refuses(validator: Validator, value: object) -> bool:
    try:
        validator(value)
    except v.InvalidInput:
        return True
    return False


@pytest.fixture
def no_ports() -> Iterator[None]:
    """No serial port opens and no TCP connection either (Redis probes, redis-py's and ours, connect with
    asyncio.open_connection): the properties never wait for a device, a server or DNS."""
    with (
        patch("serialx.open_serial_connection", side_effect=OSError("no serial port in this test")),
        patch("asyncio.open_connection", side_effect=ConnectionRefusedError(111, "no server in this test")),
    ):
        yield


@pytest.mark.usefixtures("no_ports")
@PROPERTY
@given(name=NAMES, port=SERIAL_PORTS, time_interval=numbers(1, 3600))
async def test_property_vedirect_add(
    hass: HomeAssistant, guard: Guard, name: str, port: str, time_interval: float
) -> None:
    user_input = {"name": name, "port": port, "time_interval": time_interval}
    flow_id = await start_config_flow(hass, "vedirect")
    result = await configure(hass, flow_id, user_input)
    validators = {"name": v.valid_name, "port": v.valid_serial_port, "time_interval": v.valid_time_interval}
    assert_answer_agrees(result, user_input, validators)
    await guard.assert_saves()


@pytest.mark.usefixtures("no_ports")
@PROPERTY
@given(
    name=NAMES,
    host=HOSTS,
    port=numbers(1, 65535),
    db=numbers(0, 255),
    tls=st.booleans(),
    ca_cert=st.one_of(st.none(), TEXT),
    username=st.one_of(st.none(), TEXT),
    password=st.one_of(st.none(), TEXT),
)
async def test_property_redis_server_add(
    hass: HomeAssistant,
    guard: Guard,
    name: str,
    host: str,
    port: float,
    db: float,
    tls: bool,
    ca_cert: str | None,
    username: str | None,
    password: str | None,
) -> None:
    user_input = {"name": name, "host": host, "port": port, "db": db, "tls": tls, "tls_verify": True}
    optional = {"ca_cert": ca_cert, "username": username, "password": password}
    user_input |= {field: value for field, value in optional.items() if value is not None}
    flow_id = await start_config_flow(hass, "redis_single")
    result = await configure(hass, flow_id, user_input)
    validators: dict[str, Validator] = {
        "name": v.valid_name,
        "host": v.valid_host,
        "port": v.valid_redis_port,
        "db": v.valid_redis_db,
        "ca_cert": v.valid_ca_cert,
        "username": v.valid_username,
        "password": v.valid_password,
    }
    assert_answer_agrees(result, user_input, validators)
    await guard.assert_saves()


@PROPERTY
@given(
    redis_node=NAMES,
    time_interval=numbers(1, 3600),
    cache_interval=numbers(1, 3600),
    backlog_limit=numbers(1, 604_800),
)
async def test_property_output_settings(
    hass: HomeAssistant,
    guard: Guard,
    output_device: tuple[MockConfigEntry, MockConfigEntry],
    redis_node: str,
    time_interval: float,
    cache_interval: float,
    backlog_limit: float,
) -> None:
    server, device = output_device
    numbers = {
        "time_interval": time_interval,
        "cache_interval": cache_interval,
        "backlog_limit": backlog_limit,
    }
    user_input = {**settings_form(server.entry_id, redis_node), **numbers}
    flow_id = await start_output_flow(hass, device)
    result = await configure_output(hass, flow_id, user_input)
    validators: dict[str, Validator] = {
        "redis_node": v.valid_name,
        "time_interval": v.valid_time_interval,
        "cache_interval": v.valid_cache_interval,
        "backlog_limit": v.valid_backlog_limit,
    }
    assert_answer_agrees(result, user_input, validators)
    hass.config_entries.subentries.async_abort(flow_id)
    await guard.assert_saves()


@PROPERTY
@given(node_name=NAMES, columns=COLUMNS)
async def test_property_output_node(
    hass: HomeAssistant,
    guard: Guard,
    output_device: tuple[MockConfigEntry, MockConfigEntry],
    node_name: str,
    columns: list[str],
) -> None:
    flow_id = await output_at_node_step(hass, *output_device)
    user_input = node_form(node_name, columns)
    result = await configure_output(hass, flow_id, user_input)
    assert_answer_agrees(result, user_input, {"node_name": v.valid_name, "columns": v.valid_columns})
    hass.config_entries.subentries.async_abort(flow_id)
    await guard.assert_saves()
