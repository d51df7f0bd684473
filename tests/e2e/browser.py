"""The browser end-to-end test: a person sets VE Monitor up through Home Assistant's real web UI.

Run by scripts/e2e inside the development stack (tests/e2e/devstack.py, on a fresh configuration): Playwright
drives Debian's headless Chromium over the DevTools protocol. Every step prints its duration and leaves a
screenshot in the artifacts folder; the last line is "N passed, N failed".
"""

import argparse
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import re
import socket
import sys
import time
from typing import Any

from playwright.async_api import APIRequestContext, Page, async_playwright, expect
import redis.asyncio as aioredis

DOMAIN = "vemonitor"
UI_TIMEOUT_MS = 20_000
# The probe of a VE.Direct port waits 10 s for a valid block before it answers "no data".
PROBE_TIMEOUT_MS = 30_000

# The translated strings of translations/en.json the scenario looks for: the errors the bad inputs must show,
# the menu of the kinds of Redis server and its "Single server" option.
_EN = json.loads(
    (Path(__file__).parents[2] / "custom_components" / DOMAIN / "translations" / "en.json").read_text()
)["config"]
INVALID_NAME = _EN["error"]["invalid_name"]
KIND_MENU_DESCRIPTION = _EN["step"]["redis_server"]["description"]
SINGLE_SERVER = _EN["step"]["redis_server"]["menu_options"]["redis_single"]
CANNOT_CONNECT = "Cannot connect to the Redis server"
NO_DATA = "no valid VE.Direct data arrived"

REDIS_NODE = "bat_e2e"
NODES = {"battery": ["V", "I", "P", "SOC"], "history": ["H1", "H2", "H17", "H18"]}
REF_COLS = [("bat_voltage", "V")]
RETENTION_DAYS = 30

# The MPPT of the HEX step: its load output register, as the simulator's HEX state file names it.
MPPT = "mppt"
LOAD_OUTPUT_CONTROL = "0xEDAB"
HEX_TIMEOUT = 90.0  # the settings are read in the background after the entry is set up

# The import of a vemonitor configuration: the Phoenix simulator (a port no other step uses) read by a
# serial input, written to the Redis server "local" of the first steps (the import reuses it).
IMPORT = {
    "menu": _EN["step"]["user"]["menu_options"]["vemonitor_import"],
    "yaml_label": _EN["step"]["vemonitor_import"]["data"]["yaml_text"],
    "preview_title": _EN["step"]["vemonitor_import_preview"]["title"],
    "done": _EN["abort"]["import_successful"].split("\n")[0],
    "reused": "already added as",
    # The error of a text that is not YAML, at its line 3 (what follows is the parser's own message).
    "not_yaml": _EN["error"]["import_not_yaml"].replace("{where}", "pasted text, line 3").split(": {")[0],
}
IMPORTED_DEVICE = "inverter"
IMPORTED_NODE = "inv_import"
IMPORTED_PRODUCT = "Phoenix Inverter 12V 800VA 230V (0xA261)"

# The "Energy system" dashboard of the last step: made by the action from every device added before.
DASHBOARD_URL = "/energy-system"
CREATE_DASHBOARD = f"/api/services/{DOMAIN}/create_dashboard?return_response"


@dataclass
class Stack:
    """What tests/e2e/devstack.py wrote about the running stack."""

    ha_url: str
    username: str
    password: str
    redis_host: str
    redis_port: int
    ports: dict[str, str]
    access_token: str
    hex_states: dict[str, str] = field(default_factory=dict)  # simulator -> its HEX registers (JSON file)

    @classmethod
    def load(cls, path: Path) -> Stack:
        data = json.loads(path.read_text())
        return cls(
            hex_states=data.get("hex_states", {}),
            ha_url=data["ha_url"],
            username=data["username"],
            password=data["password"],
            redis_host=data["redis"]["host"],
            redis_port=data["redis"]["port"],
            ports=data["ports"],
            access_token=data["access_token"],
        )


@dataclass
class Report:
    """Steps run, with their durations; a failed step stops the run (the next ones depend on it)."""

    out_dir: Path
    results: list[tuple[str, float, bool]] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def step(self, name: str, page: Page) -> AsyncIterator[None]:
        number = len(self.results) + 1
        print(f"[e2e] step {number:2d} {name} ...", flush=True)
        started = time.monotonic()
        shot = self.out_dir / f"{number:02d}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.png"
        try:
            yield
        except BaseException:
            elapsed = time.monotonic() - started
            self.results.append((name, elapsed, False))
            with contextlib.suppress(Exception):
                await page.screenshot(path=shot.with_name(shot.stem + "-FAILED.png"), full_page=True)
            print(f"[e2e] step {number:2d} {name}: FAILED after {elapsed:.1f} s", flush=True)
            raise
        elapsed = time.monotonic() - started
        self.results.append((name, elapsed, True))
        await page.screenshot(path=shot)
        print(f"[e2e] step {number:2d} {name}: ok ({elapsed:.1f} s)", flush=True)

    async def picture(self, page: Page, name: str) -> None:
        """An extra screenshot in the middle of a step (the README uses some)."""
        await page.screenshot(path=self.out_dir / f"{name}.png")


class HaApi:
    """Checks behind the UI's back, with the development user's token."""

    def __init__(self, request: APIRequestContext) -> None:
        self.request = request

    async def get(self, path: str) -> Any:
        response = await self.request.get(path)
        assert response.ok, f"GET {path}: {response.status}"
        return await response.json()

    async def post(self, path: str, payload: dict[str, Any]) -> Any:
        response = await self.request.post(path, data=payload)
        assert response.ok, f"POST {path}: {response.status} {await response.text()}"
        return await response.json()

    async def add_vedirect_device(self, name: str, port: str) -> str:
        """A VE.Direct device through its config flow (as the UI does it); its entry id."""
        flow = await self.post("/api/config/config_entries/flow", {"handler": DOMAIN})
        form = await self.post(
            f"/api/config/config_entries/flow/{flow['flow_id']}", {"next_step_id": "vedirect"}
        )
        values = {"name": name, "port": port, "time_interval": 1}
        result = await self.post(f"/api/config/config_entries/flow/{form['flow_id']}", values)
        assert result.get("type") == "create_entry", result
        return next(entry["entry_id"] for entry in await self.entries() if entry["title"] == name)

    async def set_options(self, entry_id: str, changes: dict[str, Any]) -> None:
        """The device options flow, its other fields as the form shows them."""
        form = await self.post("/api/config/config_entries/options/flow", {"handler": entry_id})
        values: dict[str, Any] = {}
        for item in form.get("data_schema", []):
            shown = (item.get("description") or {}).get("suggested_value", item.get("default"))
            if shown is not None:
                values[item["name"]] = shown
        result = await self.post(
            f"/api/config/config_entries/options/flow/{form['flow_id']}", values | changes
        )
        assert result.get("type") == "create_entry", result

    async def state(self, entity_id: str) -> str | None:
        response = await self.request.get(f"/api/states/{entity_id}")
        return (await response.json())["state"] if response.ok else None

    async def entries(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = await self.get(f"/api/config/config_entries/entry?domain={DOMAIN}")
        return entries

    async def numeric_states(self, prefix: str) -> dict[str, float]:
        values: dict[str, float] = {}
        for state in await self.get("/api/states"):
            if state["entity_id"].startswith(prefix):
                with contextlib.suppress(ValueError):
                    values[state["entity_id"]] = float(state["state"])
        return values


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def eventually[T](probe: Callable[[], Awaitable[T | None]], timeout: float, what: str) -> T:
    """Poll until `probe` gives something, or fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        if (result := await probe()) is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} (within {timeout:.0f} s)")
        await asyncio.sleep(0.5)


class Ui:
    """The gestures of a person in Home Assistant's frontend (Playwright's locators pierce its shadow DOM)."""

    def __init__(self, page: Page, stack: Stack) -> None:
        self.page = page
        self.stack = stack

    @property
    def dialog(self) -> Any:
        return self.page.locator("dialog-data-entry-flow")

    async def goto(self, path: str) -> None:
        await self.page.goto(self.stack.ha_url + path)

    async def login(self) -> None:
        await self.goto("/")
        await self.page.get_by_role("textbox", name="Username").fill(self.stack.username)
        await self.page.get_by_role("textbox", name="Password").fill(self.stack.password)
        await self.page.get_by_role("button", name="Log in").click()
        await self.page.wait_for_url("**/home/**", timeout=UI_TIMEOUT_MS)

    async def open_add_integration(self) -> None:
        """Settings > Devices & services > Add integration > VE Monitor: the menu of entry kinds."""
        await self.goto("/config/integrations/dashboard")
        await self.page.get_by_role("button", name="Add integration").click()
        await self.page.get_by_role("textbox", name="Search").fill("VE Monitor")
        await self.page.get_by_role("listitem").filter(has_text="VE Monitor").first.click()
        await expect(self.dialog.get_by_text("What do you want to add?")).to_be_visible()

    async def fill(self, name: str, value: str) -> None:
        await self.dialog.locator(f'input[name="{name}"]').fill(value)

    async def fill_number(self, label: str, value: int) -> None:
        await self.dialog.get_by_role("spinbutton", name=label).fill(str(value))

    async def submit(self) -> None:
        await self.dialog.get_by_role("button", name="Submit").click()

    async def expect_error(self, text: str, timeout: int = UI_TIMEOUT_MS) -> None:
        await expect(self.dialog.get_by_text(text, exact=False).first).to_be_visible(timeout=timeout)

    async def finish(self, timeout: int = UI_TIMEOUT_MS) -> None:
        """The success page of a flow: close it."""
        finish = self.dialog.get_by_role("button", name="Finish")
        await finish.click(timeout=timeout)
        await expect(finish).to_be_hidden()

    async def pick_columns(self, labels: list[str]) -> None:
        """The multi-select of field labels: drop what the form pre-selected, add ours in order."""
        chips = self.dialog.locator("ha-input-chip")
        while await chips.count():
            await chips.first.get_by_role("button").last.click()
        for label in labels:
            await self.dialog.get_by_role("button", name="Add", exact=True).click()
            await self.page.get_by_role("option", name=label, exact=True).click()
        await expect(chips).to_have_count(len(labels))

    async def set_retention_days(self, days: int) -> None:
        """The duration box of "Keep points for": days, then hours, minutes and seconds (zeroed)."""
        fields = self.dialog.locator("ha-selector-duration input")
        await expect(fields.first).to_be_visible()
        await fields.first.fill(str(days))
        for index in range(1, await fields.count()):
            await fields.nth(index).fill("0")

    async def set_switch(self, label: str, on: bool) -> None:
        # The switch's own track intercepts the pointer: set the input itself.
        await self.dialog.get_by_role("switch", name=label).set_checked(on, force=True)


async def run(stack: Stack, cdp_url: str, report: Report) -> None:
    silent_master, silent_slave = os.openpty()  # a serial port on which nothing ever arrives
    silent_port = os.ttyname(silent_slave)
    redis = aioredis.Redis(host=stack.redis_host, port=stack.redis_port, decode_responses=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.connect_over_cdp(cdp_url)
        context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        context.set_default_timeout(UI_TIMEOUT_MS)
        page = await context.new_page()
        api = HaApi(
            await pw.request.new_context(
                base_url=stack.ha_url, extra_http_headers={"Authorization": f"Bearer {stack.access_token}"}
            )
        )
        ui = Ui(page, stack)
        try:
            await scenario(report, ui, api, redis, stack, silent_port)
        finally:
            await context.close()
            await redis.aclose()
            os.close(silent_master)
            os.close(silent_slave)


async def scenario(
    report: Report, ui: Ui, api: HaApi, redis: aioredis.Redis, stack: Stack, silent_port: str
) -> None:
    page = ui.page
    async with report.step("log in", page):
        await ui.login()

    async with report.step("add integration dialog finds VE Monitor", page):
        await ui.open_add_integration()
        assert await api.entries() == []

    async with report.step("Redis server: bad name refused", page):
        await ui.dialog.get_by_text("Redis server", exact=True).click()
        # The menu of the kinds of Redis server comes next: a single server here.
        await expect(ui.dialog.get_by_text(KIND_MENU_DESCRIPTION)).to_be_visible()
        await ui.dialog.get_by_text(SINGLE_SERVER, exact=True).click()
        await ui.fill("name", "my redis")
        await ui.fill("host", stack.redis_host)
        await ui.fill_number("Port", stack.redis_port)
        await ui.submit()
        await ui.expect_error(INVALID_NAME)

    async with report.step("Redis server: unreachable port refused", page):
        await ui.fill("name", "local")
        await ui.fill_number("Port", closed_port())
        await ui.submit()
        await ui.expect_error(CANNOT_CONNECT)
        assert await api.entries() == [], "a refused form created an entry"

    async with report.step("Redis server: created", page):
        await ui.fill_number("Port", stack.redis_port)
        await ui.submit()
        await ui.finish()
        await ui.goto(f"/config/integrations/integration/{DOMAIN}")
        await expect(page.get_by_text("local", exact=True).first).to_be_visible()
        assert [entry["title"] for entry in await api.entries()] == ["local"]

    async with report.step("VE.Direct device: bad name refused", page):
        await ui.open_add_integration()
        await ui.dialog.get_by_text("VE.Direct device", exact=True).click()
        await ui.fill("name", "my battery")
        await enter_port(ui, stack.ports["bmv712"])
        await ui.submit()
        await ui.expect_error(INVALID_NAME)

    async with report.step("VE.Direct device: port without VE.Direct data refused", page):
        await ui.fill("name", "bmv712")
        await enter_port(ui, silent_port)
        await ui.submit()
        await ui.expect_error(NO_DATA, timeout=PROBE_TIMEOUT_MS)
        assert len(await api.entries()) == 1, "a refused form created an entry"

    async with report.step("VE.Direct device: created on the simulator's port", page):
        await enter_port(ui, stack.ports["bmv712"])
        await ui.submit()
        await ui.finish(timeout=PROBE_TIMEOUT_MS)
        titles = sorted(entry["title"] for entry in await api.entries())
        assert titles == ["bmv712", "local"], titles

    async with report.step("device page shows live values that change", page):
        first = await eventually(lambda: live_values(api), 60, "no numeric sensor of bmv712")
        await ui.goto("/config/devices/dashboard")
        await page.get_by_text("bmv712", exact=True).first.click()
        for name in ("State of charge", "Battery voltage", "Battery current"):
            await expect(page.get_by_text(name, exact=True).first).to_be_visible()

        async def changed() -> dict[str, float] | None:
            now = await live_values(api)
            return now if now and any(now.get(key) != value for key, value in first.items()) else None

        await eventually(changed, 30, "the sensor values of bmv712 did not change")
        await page.get_by_text("State of charge", exact=True).first.scroll_into_view_if_needed()

    async with report.step("Redis output: bad node name refused", page):
        await ui.goto(f"/config/integrations/integration/{DOMAIN}")
        await page.get_by_role("button", name="Add Redis output").click()
        with contextlib.suppress(Exception):  # asked only when several entries take outputs
            await page.get_by_role("listitem").filter(has_text="bmv712").last.click(timeout=2000)
        await ui.fill("redis_node", "bat e2e")
        await ui.submit()
        await ui.expect_error(INVALID_NAME)

    async with report.step("Redis output: two nodes with their columns, a reference column", page):
        await ui.fill("redis_node", REDIS_NODE)
        await ui.set_retention_days(RETENTION_DAYS)
        await ui.submit()
        for index, (node, labels) in enumerate(NODES.items()):
            await expect(ui.dialog.get_by_text(f"Node {index + 1}", exact=True)).to_be_visible()
            await ui.fill("node_name", node)
            await ui.pick_columns(labels)
            await ui.set_switch("Add another node", index + 1 < len(NODES))
            if index == 0:
                await report.picture(page, "redis-output-node")
            await ui.submit()
        for ref_name, column in REF_COLS:
            await expect(ui.dialog.get_by_text("Reference columns (optional)")).to_be_visible()
            await ui.fill("ref_name", ref_name)
            # A list with a search box (a column may be typed in): pick the output's column from it.
            await ui.dialog.get_by_role("button", name="Column").click()
            await page.get_by_role("option", name=column, exact=True).click()
            await ui.submit()
        await ui.finish()
        await expect(page.get_by_text(REDIS_NODE, exact=True).first).to_be_visible()
        entry = next(entry for entry in await api.entries() if entry["title"] == "bmv712")
        assert entry["num_subentries"] == 1, entry

    async with report.step("Redis holds the seed's layout and grows", page):
        await check_redis(redis)

    async with report.step("Energy panel offers the battery's energy counters", page):
        await ui.goto("/config/energy")
        await page.get_by_text("Add battery system").click()
        await page.get_by_role("button", name="Select a statistic").first.click()
        for name in ("Charged energy", "Discharged energy"):
            await expect(page.get_by_role("option").filter(has_text=name).first).to_be_visible()

    async with report.step("MPPT: load output switched off from its device page, over HEX", page):
        await check_load_output_switch(ui, api, stack)

    async with report.step("Import: a broken vemonitor YAML is refused, naming its line", page):
        before = sorted(entry["title"] for entry in await api.entries())
        assert before == sorted(["local", "bmv712", MPPT]), before
        await ui.open_add_integration()
        await ui.dialog.get_by_text(IMPORT["menu"], exact=True).click()
        # The form's one multi-line box (the path is a single-line one).
        yaml_box = ui.dialog.locator("textarea").first
        await expect(ui.dialog.get_by_text(IMPORT["yaml_label"]).first).to_be_visible()
        await yaml_box.fill("appConnectors:\n  serial: [\n")
        await ui.submit()
        await ui.expect_error(IMPORT["not_yaml"])
        assert len(await api.entries()) == len(before), "a refused import created an entry"

    async with report.step("Import: a pasted vemonitor YAML adds the Phoenix inverter and its output", page):
        await yaml_box.fill(import_yaml(stack))
        await ui.submit()
        await expect(ui.dialog.get_by_text(IMPORT["preview_title"]).first).to_be_visible()
        await expect(ui.dialog.get_by_text(IMPORT["reused"]).first).to_be_visible()
        await expect(ui.dialog.get_by_text(IMPORTED_PRODUCT).first).to_be_visible()
        await report.picture(page, "import-preview")
        assert len(await api.entries()) == len(before), "the preview created an entry"
        await ui.submit()  # the port is probed (its PID compared), then the entries are added
        await expect(ui.dialog.get_by_text(IMPORT["done"]).first).to_be_visible(timeout=PROBE_TIMEOUT_MS)
        await check_import(ui, api, redis)

    async with report.step("Energy system dashboard: made by the action, its gauge shows the battery", page):
        await check_dashboard(ui, api, report)


def import_yaml(stack: Stack) -> str:
    """A small vemonitor configuration: the Phoenix simulator's port with its PID, the stack's Redis (the
    server "local" already added), one output of three columns."""
    return f"""\
appConnectors:
  serial:
    {IMPORTED_DEVICE}:
      active: True
      serialPort: "{stack.ports["phoenix"]}"
      serialTest:
        PIDTest: {{typeTest: "value", key: "PID", value: "0xA261"}}
  redis:
    local:
      host: "{stack.redis_host}"
      port: {stack.redis_port}
      db: 0
appBlocks:
  - name: "inverterToRedis"
    app: "batSerialMonitor"
    inputs:
      serial:
        - name: "{IMPORTED_DEVICE}"
          source: "{IMPORTED_DEVICE}"
          time_interval: 1
    outputs:
      redis:
        - source: "local"
          time_interval: 1
          redis_node: "{IMPORTED_NODE}"
          columns:
            {IMPORTED_DEVICE}: ['V', 'AC_OUT_V', 'AC_OUT_I']
"""


async def check_import(ui: Ui, api: HaApi, redis: aioredis.Redis) -> None:
    """One new entry (the server is reused) with its output; the device's page and its live values; the
    output writing the vemonitor daemon's layout (hash names in the SET)."""
    page = ui.page
    by_title = {entry["title"]: entry for entry in await api.entries()}
    assert sorted(by_title) == sorted(["local", "bmv712", MPPT, IMPORTED_DEVICE]), sorted(by_title)
    assert by_title[IMPORTED_DEVICE]["num_subentries"] == 1, by_title[IMPORTED_DEVICE]
    voltage = f"sensor.{IMPORTED_DEVICE}_ac_output_voltage"

    async def live() -> str | None:
        state = await api.state(voltage)
        return state if state not in (None, "unknown", "unavailable") else None

    value = await eventually(live, 60, f"no value of {voltage}")
    await ui.goto("/config/devices/dashboard")
    await page.get_by_text(IMPORTED_DEVICE, exact=True).first.click()
    await expect(page.get_by_text("AC output voltage", exact=True).first).to_be_visible()

    async def written() -> set[str] | None:
        members = await redis.smembers(IMPORTED_NODE)
        return members if members and await redis.hlen(f"{IMPORTED_NODE}_{IMPORTED_DEVICE}") else None

    members = await eventually(written, 30, f"no SET {IMPORTED_NODE} with a hash")
    assert members == {f"{IMPORTED_NODE}_{IMPORTED_DEVICE}"}, members
    print(
        f"[e2e]    imported {IMPORTED_DEVICE}: {voltage} = {value}; Redis {IMPORTED_NODE} -> {members}",
        flush=True,
    )


async def check_dashboard(ui: Ui, api: HaApi, report: Report) -> None:
    """vemonitor.create_dashboard over the REST API makes the dashboard of the BMV, the MPPT and the imported
    inverter, with the two Redis outputs; run again, it updates the same one. In the browser, /energy-system
    shows the BMV's state of charge gauge with a value (the README's picture)."""
    page = ui.page
    made = (await api.post(CREATE_DASHBOARD, {}))["service_response"]
    assert made["url"] == DASHBOARD_URL, made
    assert made["created"] is True, made
    assert (made["devices"], made["redis_outputs"]) == (3, 2), made
    again = (await api.post(CREATE_DASHBOARD, {}))["service_response"]
    assert again == {**made, "created": False}, again
    await ui.goto(DASHBOARD_URL)
    await expect(page.get_by_text("bmv712", exact=True).first).to_be_visible()
    gauge = page.locator("hui-gauge-card").first
    await expect(gauge).to_be_visible()
    await expect(gauge.get_by_text(re.compile(r"\d\s*%")).first).to_be_visible()
    await expect(page.locator("hui-history-graph-card").first).to_be_visible()
    await report.picture(page, "dashboard")
    print(f"[e2e]    {DASHBOARD_URL}: {made['cards']} cards, {made['devices']} devices", flush=True)


async def check_load_output_switch(ui: Ui, api: HaApi, stack: Stack) -> None:
    """With "Allow changing device settings" on, the MPPT's "Load output enabled" switch writes register
    0xEDAB of the simulated device (seen in the simulator's HEX state file, not through Home Assistant)."""
    page = ui.page
    assert hex_register(stack, MPPT, LOAD_OUTPUT_CONTROL) == "on"
    entry_id = await api.add_vedirect_device(MPPT, stack.ports[MPPT])
    await api.set_options(entry_id, {"allow_control": True})
    switch = f"switch.{MPPT}_load_output_enabled"

    async def switch_is(state: str) -> bool | None:
        return True if await api.state(switch) == state else None

    await eventually(lambda: switch_is("on"), HEX_TIMEOUT, f"no {switch} showing on")
    await ui.goto("/config/devices/dashboard")
    await page.get_by_text(MPPT, exact=True).first.click()
    toggle = page.get_by_role("switch", name=re.compile(r"Load output enabled$"))
    await expect(toggle).to_be_checked()
    await toggle.scroll_into_view_if_needed()
    await toggle.set_checked(False, force=True)  # the switch's track intercepts the pointer

    async def register_off() -> bool | None:
        return True if hex_register(stack, MPPT, LOAD_OUTPUT_CONTROL) == "off" else None

    await eventually(register_off, 30, f"register {LOAD_OUTPUT_CONTROL} of the simulated MPPT stayed on")
    await eventually(lambda: switch_is("off"), 30, f"{switch} did not show the device's read-back (off)")
    await expect(toggle).not_to_be_checked()
    print(f"[e2e]    {switch}: off; simulator register {LOAD_OUTPUT_CONTROL} = off", flush=True)


def hex_register(stack: Stack, device: str, register: str) -> Any:
    """A register's value in a simulator's HEX state file (simulate --hex-state), None before it exists."""
    path = stack.hex_states.get(device)
    if path is None:
        raise AssertionError(f"the stack keeps no HEX state file for {device}")
    with contextlib.suppress(FileNotFoundError):
        return json.loads(Path(path).read_text())["registers"][register]["value"]
    return None


async def enter_port(ui: Ui, port: str) -> None:
    """The serial port selector lists local ports; a simulator's path is typed in with "Enter manually"."""
    manual = ui.dialog.get_by_role("textbox", name=re.compile("Serial port or URL"))
    if not await manual.count():
        await ui.dialog.get_by_text("Serial port or URL").click()
        await ui.page.get_by_role("option", name="Enter manually").click()
    await manual.fill(port)


async def live_values(api: HaApi) -> dict[str, float] | None:
    values = await api.numeric_states("sensor.bmv712_")
    return values or None


async def check_redis(redis: aioredis.Redis) -> None:
    """The SET lists the nodes; each node's hash has one JSON sample per timestamp, columns in order."""

    async def layout() -> dict[str, int] | None:
        if await redis.smembers(REDIS_NODE) != set(NODES):
            return None
        sizes = {node: await redis.hlen(f"{REDIS_NODE}_{node}") for node in NODES}
        return sizes if all(sizes.values()) else None

    before = await eventually(layout, 30, f"no SET {REDIS_NODE} with {sorted(NODES)} and their hashes")
    for node, labels in NODES.items():
        samples = await redis.hgetall(f"{REDIS_NODE}_{node}")
        timestamp, text = max(samples.items())
        assert timestamp.isdigit(), timestamp
        assert abs(int(timestamp) - time.time()) < 600, timestamp
        assert list(json.loads(text)) == labels, (node, text)
        # Kept for the retention chosen in the form: Redis expires each field by itself.
        (expires_at,) = await redis.execute_command(
            "HEXPIRETIME", f"{REDIS_NODE}_{node}", "FIELDS", 1, timestamp
        )
        assert abs(expires_at - (int(timestamp) + RETENTION_DAYS * 86_400)) <= 60, (timestamp, expires_at)

    async def grown() -> dict[str, int] | None:
        sizes = {node: await redis.hlen(f"{REDIS_NODE}_{node}") for node in NODES}
        return sizes if all(sizes[node] > before[node] for node in NODES) else None

    after = await eventually(grown, 30, f"the hashes did not grow past {before}")
    print(f"[e2e]    Redis: {REDIS_NODE} -> {sorted(NODES)}; samples {before} -> {after}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True, help="JSON written by devstack --state-file")
    parser.add_argument("--cdp", required=True, help="DevTools URL of the running Chromium")
    parser.add_argument("--out", type=Path, required=True, help="folder for the screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    report = Report(args.out)
    failed = False
    try:
        asyncio.run(run(Stack.load(args.state), args.cdp, report))
    except Exception as err:  # reported below, with the step that failed
        failed = True
        print(f"[e2e] error: {type(err).__name__}: {err}", flush=True)
    passed = sum(ok for _, _, ok in report.results)
    print(f"[e2e] browser part: {time.monotonic() - started:.1f} s; screenshots in {args.out}")
    print(f"e2e: {passed} passed, {int(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
