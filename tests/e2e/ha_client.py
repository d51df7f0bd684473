"""A small client of Home Assistant's HTTP and websocket APIs: onboarding, login, config flows, states.

scripts/develop drives the integration's config flows through it, the same code path as the web UI.
"""

from collections.abc import Mapping
import itertools
from typing import Any, Self

import aiohttp

type Json = dict[str, Any]


class HaApiError(Exception):
    """Home Assistant answered with an unexpected status."""


class HaClient:
    """Talks to one Home Assistant instance as one user."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        # A client id is the URL of the client (IndieAuth); the frontend uses the instance's own URL.
        self.client_id = f"{self.base_url}/"
        self._session = aiohttp.ClientSession()
        self._token: str | None = None
        self._ws_ids = itertools.count(1)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._session.close()

    @property
    def token(self) -> str:
        if self._token is None:
            raise HaApiError("not logged in")
        return self._token

    async def _request(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        async with self._session.request(method, self.base_url + path, headers=headers, **kwargs) as resp:
            if resp.status >= 400:
                raise HaApiError(f"{method} {path}: {resp.status} {await resp.text()}")
            if resp.content_type == "application/json":
                return await resp.json()
            return await resp.text()

    async def get(self, path: str) -> Any:
        return await self._request("GET", path)

    async def post(self, path: str, payload: Mapping[str, Any] | None = None) -> Any:
        return await self._request("POST", path, json=payload or {})

    async def is_up(self) -> bool:
        """Whether the HTTP server answers (the frontend is served once core setup is done)."""
        try:
            async with self._session.get(self.base_url + "/manifest.json") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    # Onboarding and login.

    async def onboarding_steps(self) -> dict[str, bool]:
        """The onboarding steps and whether each is done; empty once onboarding is over (the API is gone)."""
        async with self._session.get(self.base_url + "/api/onboarding") as resp:
            if resp.status == 404:
                return {}
            resp.raise_for_status()
            steps = await resp.json()
        return {step["step"]: step["done"] for step in steps}

    async def _exchange_code(self, code: str) -> None:
        data = {"grant_type": "authorization_code", "code": code, "client_id": self.client_id}
        token = await self._request("POST", "/auth/token", auth=False, data=data)
        self._token = token["access_token"]

    async def onboard(self, *, name: str, username: str, password: str) -> bool:
        """Complete whatever onboarding step is left, creating the owner if needed; log in. True if new."""
        steps = await self.onboarding_steps()
        created = not steps.get("user", True)
        if created:
            payload = {
                "client_id": self.client_id,
                "name": name,
                "username": username,
                "password": password,
                "language": "en",
            }
            answer = await self._request("POST", "/api/onboarding/users", auth=False, json=payload)
            await self._exchange_code(answer["auth_code"])
        else:
            await self.login(username, password)
        if not steps.get("core_config", True):
            await self.post("/api/onboarding/core_config")
        if not steps.get("analytics", True):
            await self.post("/api/onboarding/analytics")
        if not steps.get("integration", True):
            payload = {"client_id": self.client_id, "redirect_uri": f"{self.base_url}/?auth_callback=1"}
            await self.post("/api/onboarding/integration", payload)
        return created

    async def login(self, username: str, password: str) -> None:
        """Log in through the login flow, as the frontend's login page does."""
        start = {
            "client_id": self.client_id,
            "handler": ["homeassistant", None],
            "redirect_uri": f"{self.base_url}/?auth_callback=1",
        }
        flow = await self._request("POST", "/auth/login_flow", auth=False, json=start)
        credentials = {"client_id": self.client_id, "username": username, "password": password}
        path = f"/auth/login_flow/{flow['flow_id']}"
        result = await self._request("POST", path, auth=False, json=credentials)
        if result.get("type") != "create_entry":
            raise HaApiError(f"login of {username!r} refused: {result.get('errors')}")
        await self._exchange_code(result["result"])

    # Config entries and flows.

    async def config_entries(self, domain: str) -> list[Json]:
        entries: list[Json] = await self.get(f"/api/config/config_entries/entry?domain={domain}")
        return entries

    async def flow_handlers(self) -> list[str]:
        handlers: list[str] = await self.get("/api/config/config_entries/flow_handlers")
        return handlers

    async def start_flow(self, domain: str) -> Json:
        path = "/api/config/config_entries/flow"
        flow: Json = await self.post(path, {"handler": domain, "show_advanced_options": True})
        return flow

    async def flow_step(self, flow_id: str, payload: Mapping[str, Any]) -> Json:
        result: Json = await self.post(f"/api/config/config_entries/flow/{flow_id}", payload)
        return result

    async def start_subentry_flow(self, entry_id: str, subentry_type: str) -> Json:
        path = "/api/config/config_entries/subentries/flow"
        flow: Json = await self.post(path, {"handler": [entry_id, subentry_type]})
        return flow

    async def subentry_flow_step(self, flow_id: str, payload: Mapping[str, Any]) -> Json:
        result: Json = await self.post(f"/api/config/config_entries/subentries/flow/{flow_id}", payload)
        return result

    async def states(self) -> list[Json]:
        states: list[Json] = await self.get("/api/states")
        return states

    # Websocket commands (the registries have no REST API).

    async def ws_command(self, command: str, **fields: Any) -> Any:
        """Run one websocket command on a fresh connection and return its result."""
        async with self._session.ws_connect(self.base_url + "/api/websocket") as ws:
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": self.token})
            auth = await ws.receive_json()
            if auth.get("type") != "auth_ok":
                raise HaApiError(f"websocket auth refused: {auth}")
            message_id = next(self._ws_ids)
            await ws.send_json({"id": message_id, "type": command, **fields})
            while True:
                answer = await ws.receive_json()
                if answer.get("id") == message_id:
                    break
        if not answer.get("success"):
            raise HaApiError(f"{command}: {answer.get('error')}")
        return answer["result"]
