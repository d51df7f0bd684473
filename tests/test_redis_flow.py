"""Config flows of Redis server entries (create, reauth, reconfigure) against real redis-servers."""

from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import (
    CONF_HOST,
    CONF_NAME,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_USERNAME,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.vemonitor.const import (
    CONF_CA_CERT,
    CONF_DB,
    CONF_ENTRY_TYPE,
    CONF_SERVER_KIND,
    CONF_TLS,
    CONF_TLS_VERIFY,
    CONF_WAIT_REPLICAS,
    DOMAIN,
    ENTRY_TYPE_REDIS_SERVER,
)
from tests.redis_fixtures import MINIMAL, PASSWORD, READER, WRITER, server_entry
from tests.redis_server import RedisServer, free_port

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def _start(hass: HomeAssistant) -> str:
    """Open the integration's flow and pick "Redis server", then "Single server" in the menus."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "redis_server"}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["redis_single", "redis_sentinel", "redis_cluster"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "redis_single"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "redis_single"
    assert result["errors"] == {}
    return result["flow_id"]


async def _start_reconfigure(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    """Open the reconfigure flow of a Redis server entry and keep it a single server."""
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "reconfigure_redis_server"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "reconfigure_redis_single"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure_redis_single"
    return result["flow_id"]


def _form(server: RedisServer, name: str = "local", **extra: Any) -> dict[str, Any]:
    return {
        CONF_NAME: name,
        CONF_HOST: server.host,
        CONF_PORT: server.port,
        CONF_DB: 0,
        CONF_TLS: False,
        CONF_TLS_VERIFY: True,
        **extra,
    }


async def test_create_plain_server(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _form(redis_plain, " local ", **{CONF_DB: 3})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "local"
    assert result["data"] == {
        CONF_ENTRY_TYPE: ENTRY_TYPE_REDIS_SERVER,
        CONF_SERVER_KIND: "single",
        CONF_NAME: "local",
        CONF_HOST: "127.0.0.1",
        CONF_PORT: redis_plain.port,
        CONF_DB: 3,
        CONF_TLS: False,
        CONF_TLS_VERIFY: True,
        CONF_USERNAME: None,
        CONF_PASSWORD: None,
        CONF_CA_CERT: None,
        CONF_WAIT_REPLICAS: None,
    }
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_invalid_and_duplicate_names(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    server_entry(redis_plain, "local").add_to_hass(hass)
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(redis_plain, "my server"))
    assert result["errors"] == {CONF_NAME: "invalid_name"}
    result = await hass.config_entries.flow.async_configure(flow_id, _form(redis_plain, "local"))
    assert result["errors"] == {CONF_NAME: "redis_name_in_use"}
    result = await hass.config_entries.flow.async_configure(flow_id, _form(redis_plain, "remote-2"))
    assert result["type"] is FlowResultType.ABORT  # the same server and database as "local"
    assert result["reason"] == "already_configured"
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _form(redis_plain, "remote-2", **{CONF_DB: 1})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "remote-2"


async def test_cannot_connect(hass: HomeAssistant) -> None:
    flow_id = await _start(hass)
    nobody = {CONF_NAME: "local", CONF_HOST: "127.0.0.1", CONF_PORT: free_port(), CONF_DB: 0}
    result = await hass.config_entries.flow.async_configure(flow_id, nobody | {CONF_TLS: False})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    # The password is never sent back to the form.
    result = await hass.config_entries.flow.async_configure(flow_id, nobody | {CONF_PASSWORD: "x"})
    assert result["errors"] == {"base": "cannot_connect"}
    assert all(
        "suggested_value" not in (key.description or {}) or key.schema != CONF_PASSWORD
        for key in result["data_schema"].schema
    )


@pytest.mark.parametrize(
    ("credentials", "error"),
    [
        ({}, "invalid_auth"),
        ({CONF_PASSWORD: "wrong"}, "invalid_auth"),
        ({CONF_USERNAME: WRITER.name, CONF_PASSWORD: "wrong"}, "invalid_auth"),
        ({CONF_USERNAME: READER.name, CONF_PASSWORD: READER.password}, "no_write_permission"),
    ],
)
async def test_refused_credentials(
    hass: HomeAssistant, redis_auth: RedisServer, credentials: dict[str, str], error: str
) -> None:
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(redis_auth, **credentials))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    # Fixing the credentials in the same form creates the entry.
    fixed = {CONF_USERNAME: WRITER.name, CONF_PASSWORD: WRITER.password}
    result = await hass.config_entries.flow.async_configure(flow_id, _form(redis_auth, **fixed))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_USERNAME] == WRITER.name
    assert result["data"][CONF_PASSWORD] == WRITER.password


async def test_minimal_acl_user(hass: HomeAssistant, redis_auth: RedisServer) -> None:
    """The ACL rule of the user guide is enough to create and load a server (no CLIENT SETNAME)."""
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _form(redis_auth, **{CONF_USERNAME: MINIMAL.name, CONF_PASSWORD: MINIMAL.password})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert result["result"].state is ConfigEntryState.LOADED


async def test_default_user_password(hass: HomeAssistant, redis_auth: RedisServer) -> None:
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _form(redis_auth, **{CONF_PASSWORD: PASSWORD, CONF_USERNAME: ""})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_USERNAME] is None
    assert result["data"][CONF_PASSWORD] == PASSWORD


async def test_tls_self_signed(hass: HomeAssistant, redis_tls: RedisServer, redis_plain: RedisServer) -> None:
    assert redis_tls.tls is not None
    flow_id = await _start(hass)
    # Verification on, the CA unknown: refused.
    result = await hass.config_entries.flow.async_configure(flow_id, _form(redis_tls, **{CONF_TLS: True}))
    assert result["errors"] == {"base": "tls_error"}
    # TLS to a plain Redis: told apart from "cannot connect".
    result = await hass.config_entries.flow.async_configure(flow_id, _form(redis_plain, **{CONF_TLS: True}))
    assert result["errors"] == {"base": "tls_error"}
    # No TLS to a TLS-only server: the handshake never happens.
    result = await hass.config_entries.flow.async_configure(flow_id, _form(redis_tls))
    assert result["errors"] == {"base": "cannot_connect"}
    # Verification on with the generated CA: accepted.
    ca = redis_tls.tls.ca_pem
    result = await hass.config_entries.flow.async_configure(
        flow_id, _form(redis_tls, **{CONF_TLS: True, CONF_CA_CERT: ca})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_CA_CERT] == ca.strip()
    await hass.async_block_till_done()
    assert result["result"].state is ConfigEntryState.LOADED
    # Verification off: accepted without the CA.
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _form(redis_tls, "tls-noverify", **{CONF_TLS: True, CONF_TLS_VERIFY: False, CONF_DB: 1})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_TLS_VERIFY] is False
    await hass.async_block_till_done()
    assert result["result"].state is ConfigEntryState.LOADED


async def test_reauth(hass: HomeAssistant, redis_auth: RedisServer) -> None:
    entry = server_entry(redis_auth, **{CONF_USERNAME: WRITER.name, CONF_PASSWORD: "old-password"})
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert len(flows) == 1
    assert flows[0]["context"]["source"] == "reauth"
    flow_id = flows[0]["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_USERNAME: WRITER.name, CONF_PASSWORD: "still-wrong"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_USERNAME: READER.name, CONF_PASSWORD: READER.password}
    )
    assert result["errors"] == {"base": "no_write_permission"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_USERNAME: WRITER.name, CONF_PASSWORD: WRITER.password}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "redis_reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_PASSWORD] == WRITER.password
    assert entry.state is ConfigEntryState.LOADED


async def test_reauth_empty_password_keeps_the_stored_one(
    hass: HomeAssistant, redis_auth: RedisServer
) -> None:
    """As the form says: an empty password field keeps the stored password (only the username changes)."""
    entry = server_entry(redis_auth, **{CONF_USERNAME: READER.name, CONF_PASSWORD: WRITER.password})
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {CONF_USERNAME: WRITER.name})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "redis_reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_USERNAME] == WRITER.name
    assert entry.data[CONF_PASSWORD] == WRITER.password
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure(hass: HomeAssistant, redis_auth: RedisServer) -> None:
    entry = server_entry(redis_auth, **{CONF_USERNAME: WRITER.name, CONF_PASSWORD: WRITER.password})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    flow_id = await _start_reconfigure(hass, entry)
    # Nothing listens there: the entry keeps its settings.
    moved = {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: free_port(),
        CONF_USERNAME: WRITER.name,
        CONF_TLS: False,
        CONF_TLS_VERIFY: True,
    }
    result = await hass.config_entries.flow.async_configure(flow_id, moved)
    assert result["errors"] == {"base": "cannot_connect"}
    assert entry.data[CONF_PORT] == redis_auth.port
    # An empty password keeps the stored one.
    result = await hass.config_entries.flow.async_configure(flow_id, moved | {CONF_PORT: redis_auth.port})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "redis_reconfigure_successful"
    assert entry.data[CONF_PASSWORD] == WRITER.password
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    # Switch to the default user by host name: username cleared, password replaced.
    result = await hass.config_entries.flow.async_configure(
        await _start_reconfigure(hass, entry),
        {
            CONF_HOST: " 127.0.0.1 ",
            CONF_PORT: redis_auth.port,
            CONF_PASSWORD: PASSWORD,
            CONF_TLS: False,
        },
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "redis_reconfigure_successful"
    assert entry.data[CONF_HOST] == "127.0.0.1"
    assert entry.data[CONF_USERNAME] is None
    assert entry.data[CONF_PASSWORD] == PASSWORD
    assert entry.data[CONF_NAME] == "local"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_onto_another_entry_aborts(hass: HomeAssistant, redis_plain: RedisServer) -> None:
    """A server entry cannot be moved onto the server and database another entry already writes to."""
    server_entry(redis_plain, "first").add_to_hass(hass)
    second = server_entry(redis_plain, "second", **{CONF_PORT: free_port()})
    second.add_to_hass(hass)
    result = await hass.config_entries.flow.async_configure(
        await _start_reconfigure(hass, second),
        {CONF_HOST: redis_plain.host, CONF_PORT: redis_plain.port, CONF_TLS: False, CONF_TLS_VERIFY: True},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert second.data[CONF_PORT] != redis_plain.port
