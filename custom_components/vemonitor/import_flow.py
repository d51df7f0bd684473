"""Config flow steps of the import of a vemonitor configuration: the YAML pasted or a file of the
configuration folder, a preview from the file alone, the tests once the user confirms (a second preview if
anything failed them), then every entry and subentry listed added, or none.

`VemonitorImportFlow` is a base class of the integration's config flow (which owns the domain and the
menu). What the file becomes: vemonitor_import; what it reuses, conflicts with and tests: import_review;
the texts of the previews: import_texts. The servers and devices come first, each through this flow's
`import` step (Home Assistant creates and sets up the entry as for any flow); a failure there removes the
entries added before it. Then the outputs and inputs, as subentries of their entries, with no await in
between: nothing can fail or change under them.
"""

from pathlib import Path
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import (
    SOURCE_IMPORT,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
)
from homeassistant.const import CONF_NAME, CONF_PATH, CONF_PORT
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.selector import TextSelector
import voluptuous as vol

from .const import (
    CONF_ENTRY_TYPE,
    CONF_REDIS_NODE,
    CONF_TIME_INTERVAL,
    DOMAIN,
    ENTRY_TYPE_REDIS_SERVER,
    SUBENTRY_REDIS_INPUT,
    SUBENTRY_REDIS_OUTPUT,
)
from .flow_forms import MULTILINE_SELECTOR, form_schema
from .import_review import (
    IMPORT_UNIQUE_ID,
    ImportConflict,
    ImportSelection,
    async_check,
    async_select,
    device_data,
    input_data,
    output_data,
    server_data,
)
from .import_texts import ImportTexts
from .models import is_vedirect
from .redis_server import redis_server_entries, same_server
from .vemonitor_import import ConfigImportError, ImportPlan, load_path, parse_text

IMPORT_STEP = "vemonitor_import"
"""The menu option and the first step."""
PREVIEW_STEP = "vemonitor_import_preview"
CONFIRM_STEP = "vemonitor_import_confirm"
CONF_YAML = "yaml_text"
PATH_MAX_LENGTH = 4096


class _SourceError(Exception):
    """The form names no configuration, or two, or an impossible path: `key` is the form error."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _AddFailed(Exception):
    """Adding `what` failed for `reason` (a form error or an abort reason)."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(what, reason)
        self.what = what
        self.reason = reason


class VemonitorImportFlow(ConfigFlow):
    """The import steps, mixed into the integration's config flow."""

    def __init__(self) -> None:
        """No configuration read yet."""
        super().__init__()
        self._selection: ImportSelection | None = None

    def _create_vedirect_entry(self, name: str, port: str, time_interval: int) -> ConfigFlowResult:
        """A VE.Direct entry, as its own step stores it (the integration's config flow)."""
        raise NotImplementedError

    async def async_step_vemonitor_import(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Paste a configuration, or give the path of its main file in the configuration folder."""
        errors: dict[str, str] = {}
        placeholders = {"config_dir": self.hass.config.path()}
        if user_input is not None:
            try:
                self._selection = await async_select(self.hass, await self._async_read(user_input))
            except _SourceError as err:
                errors["base"] = err.key
            except (ConfigImportError, ImportConflict) as err:
                errors["base"], refusal = (await ImportTexts.async_load(self.hass)).refusal(err)
                placeholders |= refusal
            else:
                return await self.async_step_vemonitor_import_preview()
        schema = form_schema(
            {vol.Optional(CONF_YAML): MULTILINE_SELECTOR, vol.Optional(CONF_PATH): TextSelector()}
        )
        # The text comes back after an error, to be corrected where the error says (its passwords too: it is
        # the text this user just sent).
        shown = {
            key: value
            for key, value in (user_input or {}).items()
            if key in (CONF_YAML, CONF_PATH) and isinstance(value, str)
        }
        return self.async_show_form(
            step_id=IMPORT_STEP,
            data_schema=self.add_suggested_values_to_schema(schema, shown),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_read(self, user_input: dict[str, Any]) -> ImportPlan:
        """The plan of the pasted text or of the file (read in the executor: YAML parsing takes time)."""
        text, path = (
            value if isinstance(value := user_input.get(key), str) else "" for key in (CONF_YAML, CONF_PATH)
        )
        path = path.strip()
        if bool(text.strip()) == bool(path):
            raise _SourceError("import_two_sources" if path else "import_no_source")
        if text.strip():
            return await self.hass.async_add_executor_job(parse_text, text)
        if len(path) > PATH_MAX_LENGTH or "\0" in path:
            raise _SourceError("import_invalid_path")
        return await self.hass.async_add_executor_job(load_path, Path(path), Path(self.hass.config.path()))

    async def async_step_vemonitor_import_preview(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """What the file adds and skips; submitting tests the new servers and the ports, then adds it all."""
        selection = self._selection
        assert selection is not None
        if user_input is None:
            texts = await ImportTexts.async_load(self.hass)
            return self.async_show_form(
                step_id=PREVIEW_STEP,
                description_placeholders={
                    **texts.lists(self.hass, selection),
                    "skipped": texts.skipped(selection.plan.skipped),
                },
            )
        await async_check(self.hass, selection)
        if selection.moved:
            return await self.async_step_vemonitor_import_confirm()
        return await self._async_add_all(selection)

    async def async_step_vemonitor_import_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Some items failed their test: what they are, what is still added, and the question again."""
        selection = self._selection
        assert selection is not None
        texts = await ImportTexts.async_load(self.hass)
        if selection.empty:
            return self.async_abort(
                reason="import_nothing_left",
                description_placeholders={"skipped": texts.skipped(selection.moved)},
            )
        if user_input is None:
            return self.async_show_form(
                step_id=CONFIRM_STEP,
                description_placeholders={
                    **texts.lists(self.hass, selection),
                    "moved": texts.skipped(selection.moved),
                },
            )
        return await self._async_add_all(selection)

    async def _async_add_all(self, selection: ImportSelection) -> ConfigFlowResult:
        """Add everything selected, or nothing: the abort says which."""
        try:
            await self._async_add(selection)
        except _AddFailed as err:
            texts = await ImportTexts.async_load(self.hass)
            return self.async_abort(
                reason="import_failed",
                description_placeholders={"what": err.what, "problem": texts.problem(err.reason)},
            )
        texts = await ImportTexts.async_load(self.hass)
        return self.async_abort(
            reason="import_successful", description_placeholders=texts.summary(self.hass, selection)
        )

    async def _async_add(self, selection: ImportSelection) -> None:
        """The entries (servers, then devices), then the subentries (outputs, inputs) at once: every failure
        comes before the first subentry, and removes the entries added before it."""
        hass = self.hass
        added: list[ConfigEntry] = []
        try:
            servers: dict[str, ConfigEntry] = {}
            for server in selection.servers:
                servers[server.name] = await self._async_add_entry(server.name, server_data(server), added)
            devices: dict[str, ConfigEntry] = {}
            for device in selection.devices:
                port, unique_id = selection.found[device.name]
                devices[device.name] = await self._async_add_entry(
                    device.name, device_data(device, port, unique_id), added
                )
            # No await from here on: nothing can change the entries while their subentries are added.
            for name, entry_id in selection.reused.items():
                servers[name] = self._reused_entry(name, entry_id)
        except BaseException:
            for entry in reversed(added):
                await hass.config_entries.async_remove(entry.entry_id)
            raise
        for output in selection.outputs:
            device_entry = devices[output.device]
            data = output_data(output, servers[output.server].entry_id, device_entry)
            hass.config_entries.async_add_subentry(
                device_entry, _subentry(SUBENTRY_REDIS_OUTPUT, data[CONF_REDIS_NODE], data)
            )
        for item in selection.inputs:
            subentry = _subentry(SUBENTRY_REDIS_INPUT, item.name, input_data(item, selection.plan))
            hass.config_entries.async_add_subentry(servers[item.server], subentry)

    def _reused_entry(self, name: str, entry_id: str) -> ConfigEntry:
        """The existing server entry the file's server `name` is (deleted meanwhile: the import fails)."""
        if (entry := self.hass.config_entries.async_get_entry(entry_id)) is None:
            raise _AddFailed(name, "import_server_removed")
        return entry

    async def _async_add_entry(
        self, what: str, data: dict[str, Any], added: list[ConfigEntry]
    ) -> ConfigEntry:
        """One entry through the import step; it is set up before this returns."""
        result = await self.hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_IMPORT}, data=data
        )
        if result["type"] is not FlowResultType.CREATE_ENTRY:
            raise _AddFailed(what, str(result.get("reason")))
        entry: ConfigEntry = result["result"]
        added.append(entry)
        return entry

    async def async_step_import(self, import_data: dict[str, Any]) -> ConfigFlowResult:
        """An entry of an import, tested already: a Redis server, or a VE.Direct device with the unique id the
        test of its port found. Refused like its own step refuses it: a name in use, the same server or
        device as another entry."""
        data = dict(import_data)
        name = data[CONF_NAME]
        if data[CONF_ENTRY_TYPE] == ENTRY_TYPE_REDIS_SERVER:
            servers = redis_server_entries(self.hass)
            if any(entry.data.get(CONF_NAME) == name for entry in servers):
                return self.async_abort(reason="redis_name_in_use")
            if any(same_server(entry.data, data) for entry in servers):
                return self.async_abort(reason="already_configured")
            return self.async_create_entry(title=name, data=data)
        unique_id = data.pop(IMPORT_UNIQUE_ID)
        if any(
            is_vedirect(entry) and entry.data.get(CONF_NAME) == name
            for entry in self._async_current_entries(include_ignore=False)
        ):
            return self.async_abort(reason="name_in_use")
        await self.async_set_unique_id(unique_id)
        self._abort_if_unique_id_configured()
        return self._create_vedirect_entry(name, data[CONF_PORT], data[CONF_TIME_INTERVAL])


def _subentry(subentry_type: str, title: str, data: dict[str, Any]) -> ConfigSubentry:
    return ConfigSubentry(
        data=MappingProxyType(data), subentry_type=subentry_type, title=title, unique_id=None
    )
