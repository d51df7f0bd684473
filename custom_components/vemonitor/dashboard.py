"""The "Energy system" dashboard: the action vemonitor.create_dashboard, and its offer once a device is set
up.

Made through Home Assistant's own storage dashboards: the dashboards collection of the lovelace integration
creates it (the collection that Settings > Dashboards and the frontend use, so the dashboard gets its sidebar
panel and is listed, edited and deleted there as any other), its LovelaceStorage holds the content (what the
frontend's "lovelace/config/save" writes). Lovelace publishes the dashboards it serves (hass.data's
LOVELACE_DATA) but not their collection, in 2026.5 as in 2026.10: it is the one behind its
"lovelace/dashboards/list" websocket command. A second DashboardsCollection on the same storage file (what
some integrations do) would lose the dashboard at the real collection's next save.

Running it again updates the same dashboard (url_path energy-system), never a second one: its content is
replaced by what the registries hold then (edits made to it are lost: copy it to customise), its title, icon
and sidebar settings stay as the user set them. Its words are in the server's language at that time.

The offer is a fixable issue (Settings > Repairs) raised when a VE.Direct device is set up and the dashboard
does not exist yet; its fix flow (repairs.DashboardOfferFlow) runs the same code as the action. Both are for
administrators only.
"""

import asyncio
import inspect
from typing import Final

from homeassistant.components.lovelace import LovelaceData
from homeassistant.components.lovelace.const import (
    CONF_REQUIRE_ADMIN,
    CONF_SHOW_IN_SIDEBAR,
    CONF_TITLE,
    CONF_URL_PATH,
    LOVELACE_DATA,
)
from homeassistant.components.lovelace.dashboard import DashboardsCollection, LovelaceStorage
from homeassistant.components.websocket_api.const import DOMAIN as WEBSOCKET_API
from homeassistant.const import CONF_ICON
from homeassistant.core import HomeAssistant, ServiceResponse, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .dashboard_layout import dashboard_config, registry_devices

SERVICE_CREATE_DASHBOARD: Final = "create_dashboard"
ISSUE_DASHBOARD_OFFER: Final = "dashboard_offer"
URL_PATH: Final = "energy-system"
URL: Final = f"/{URL_PATH}"
ICON: Final = "mdi:solar-power-variant"
_LIST_COMMAND: Final = "lovelace/dashboards/list"
# One run at a time: two at once would both find no dashboard and create two.
_RUNNING: HassKey[asyncio.Lock] = HassKey(f"{DOMAIN}_dashboard")


def _dashboards(hass: HomeAssistant) -> tuple[LovelaceData, DashboardsCollection] | None:
    """What lovelace serves, and its dashboards collection: the one its list command answers from (None
    without lovelace, or in recovery mode)."""
    handler, _schema = (hass.data.get(WEBSOCKET_API) or {}).get(_LIST_COMMAND, (None, None))
    collection = getattr(getattr(inspect.unwrap(handler), "__self__", None), "storage_collection", None)
    lovelace = hass.data.get(LOVELACE_DATA)
    if lovelace is None or not isinstance(collection, DashboardsCollection):
        return None
    return lovelace, collection


def _url_taken() -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="dashboard_url_taken",
        translation_placeholders={"url": URL},
    )


async def _async_storage(
    lovelace: LovelaceData, collection: DashboardsCollection, title: str
) -> tuple[LovelaceStorage, bool]:
    """The storage dashboard at URL_PATH, created first when there is none; whether it was created."""
    created = URL_PATH not in lovelace.dashboards
    if created:
        try:
            # Its listener (lovelace's) adds the LovelaceStorage and the sidebar panel before this returns.
            await collection.async_create_item(
                {
                    CONF_URL_PATH: URL_PATH,
                    CONF_TITLE: title,
                    CONF_ICON: ICON,
                    CONF_SHOW_IN_SIDEBAR: True,
                    CONF_REQUIRE_ADMIN: False,
                }
            )
        except HomeAssistantError as err:  # another panel (not a dashboard) has the path
            raise _url_taken() from err
    dashboard = lovelace.dashboards.get(URL_PATH)
    if not isinstance(dashboard, LovelaceStorage):  # a YAML dashboard has the path
        raise _url_taken()
    return dashboard, created


async def _async_strings(hass: HomeAssistant) -> dict[str, str]:
    """The dashboard's words in the server's language (English where a text is missing)."""
    prefix = f"component.{DOMAIN}.dashboard."
    translations = await async_get_translations(hass, hass.config.language, "dashboard", [DOMAIN])
    return {key.removeprefix(prefix): text for key, text in translations.items() if key.startswith(prefix)}


async def async_create_dashboard(hass: HomeAssistant) -> ServiceResponse:
    """Create the dashboard, or update its content, from the registries.

    Returns {url, created (False: updated), cards (headings not counted), devices, redis_outputs}.
    """
    if (dashboards := _dashboards(hass)) is None:
        raise HomeAssistantError(translation_domain=DOMAIN, translation_key="dashboards_unavailable")
    async with hass.data.setdefault(_RUNNING, asyncio.Lock()):
        devices, outputs = registry_devices(hass)
        if not devices:
            raise ServiceValidationError(translation_domain=DOMAIN, translation_key="dashboard_no_devices")
        strings = await _async_strings(hass)
        config, cards = dashboard_config(devices, outputs, strings)
        dashboard, created = await _async_storage(*dashboards, strings["title"])
        await dashboard.async_save(config)
    ir.async_delete_issue(hass, DOMAIN, ISSUE_DASHBOARD_OFFER)
    return {
        "url": URL,
        "created": created,
        "cards": cards,
        "devices": len(devices),
        "redis_outputs": len(outputs),
    }


@callback
def async_offer_dashboard(hass: HomeAssistant) -> None:
    """A VE.Direct device is set up: offer the dashboard unless it exists or cannot be made (an ignored offer
    stays ignored)."""
    if (dashboards := _dashboards(hass)) is None or URL_PATH in dashboards[0].dashboards:
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        ISSUE_DASHBOARD_OFFER,
        is_fixable=True,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_DASHBOARD_OFFER,
    )
