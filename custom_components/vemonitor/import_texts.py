"""The texts of the import of a vemonitor configuration: its previews' lists, its errors' places, its summary.

The lists vary with the file, so they are written here, from the integration's translations in Home
Assistant's language (as core flows do for texts they build: translation.async_get_translations): the
templates of their lines under selector.vemonitor_import_text, the reasons of the skipped items under
selector.vemonitor_import_skip (a reason with placeholders may have a variant named after them:
inactive_source), and the failures they quote from config.error and config.abort.
"""

from collections.abc import Iterable, Mapping
import re
from typing import Self

from homeassistant.core import HomeAssistant
from homeassistant.helpers.translation import async_get_translations

from .const import DEFAULT_RETENTION, DOMAIN
from .import_review import ImportConflict, ImportSelection, product_label, server_address, stale_after
from .vemonitor_import import ConfigImportError, ImportPlan, Place, SkippedItem

TEXTS = "vemonitor_import_text"
REASONS = "vemonitor_import_skip"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
SECONDS_PER_DAY = 86_400


def code(text: str) -> str:
    """A value of the file in a Markdown list, shown as written (in a code span, which has no backquote)."""
    return "`" + text.replace("`", "'") + "`"


class ImportTexts:
    """The integration's translations in one language, and the import's texts made of them."""

    def __init__(self, strings: Mapping[str, str]) -> None:
        self._strings = strings

    @classmethod
    async def async_load(cls, hass: HomeAssistant) -> Self:
        """The translations of Home Assistant's language (English where it has none)."""
        strings: dict[str, str] = {}
        for category in ("selector", "config"):
            strings |= await async_get_translations(hass, hass.config.language, category, {DOMAIN})
        return cls(strings)

    def _template(self, key: str) -> str | None:
        return self._strings.get(f"component.{DOMAIN}.{key}")

    def text(self, key: str, **values: str) -> str:
        """A line template filled in (a placeholder without a value is left as it is)."""
        template = self._template(f"selector.{TEXTS}.options.{key}") or key
        return _PLACEHOLDER.sub(lambda match: values.get(match[1], match[0]), template)

    def problem(self, key: str) -> str:
        """The message of a failure key (a form error or an abort reason)."""
        return self._template(f"config.error.{key}") or self._template(f"config.abort.{key}") or key

    def where(self, place: Place) -> str:
        """A place as a person reads it: "vemonitor/vm_conf.yaml, line 12, appBlocks[0].name"."""
        parts = [place.file or self.text("pasted_text")]
        if place.line is not None:
            parts.append(self.text("line", line=str(place.line)))
        if place.path:
            parts.append(place.path)
        return ", ".join(parts)

    def refusal(self, error: ConfigImportError | ImportConflict) -> tuple[str, dict[str, str]]:
        """The form error of a refused configuration (config.error.import_<key> for the file's own), and its
        placeholders, with `where`, its place."""
        if isinstance(error, ConfigImportError):
            return f"import_{error.key}", {**error.placeholders, "where": self.where(error.place)}
        return error.key, {**error.placeholders, "where": self.where(error.where)}

    def reason(self, item: SkippedItem) -> str:
        """Why an item is skipped; a `problem` placeholder is a failure key, quoted."""
        values = dict(item.placeholders)
        if "problem" in values:
            values["problem"] = self.problem(values["problem"])
        variant = "_".join([item.reason, *sorted(values)])
        template = self._template(f"selector.{REASONS}.options.{variant}") or self._template(
            f"selector.{REASONS}.options.{item.reason}"
        )
        return _PLACEHOLDER.sub(lambda match: values.get(match[1], match[0]), template or item.reason)

    def bullets(self, lines: Iterable[str]) -> str:
        """A Markdown list, or "none"."""
        return "\n".join(f"- {line}" for line in lines) or self.text("none")

    def skipped(self, items: Iterable[SkippedItem]) -> str:
        """The list of skipped items: what, where, why."""
        return self.bullets(
            self.text("skipped", what=code(item.what), where=self.where(item.where), reason=self.reason(item))
            for item in items
        )

    def source(self, plan: ImportPlan) -> str:
        """The files read, or "pasted text"."""
        return ", ".join(plan.files) or self.text("pasted_text")

    def lists(self, hass: HomeAssistant, selection: ImportSelection) -> dict[str, str]:
        """The description placeholders of what an import adds: servers, devices, outputs and inputs."""
        plan = selection.plan
        servers: list[str] = []
        for server in plan.servers:
            values = {
                "name": code(server.name),
                "address": code(server_address(server)),
                "db": str(server.db),
            }
            if server.name in selection.reused:
                entry = hass.config_entries.async_get_entry(selection.reused[server.name])
                servers.append(
                    self.text("server_reused", **values, entry=code(entry.title if entry else "?"))
                )
            elif server in selection.servers:
                servers.append(self.text("server", **values))
        devices = [
            self.text(
                "device" if device.expected_pid is not None else "device_any",
                name=code(device.name),
                port=code(device.port),
                interval=str(device.time_interval),
                product=product_label(device.expected_pid),
            )
            for device in selection.devices
        ]
        outputs = [
            self.text(
                "output",
                redis_node=code(output.redis_node),
                device=code(output.device),
                server=code(output.server),
                structure=output.structure,
                nodes=", ".join(code(node) for node in output.columns),
                period=str(output.time_interval * output.cache_interval),
            )
            for output in selection.outputs
        ]
        inputs = [
            self.text(
                "input",
                name=code(item.name),
                redis_node=code(item.redis_node),
                server=code(item.server),
                structure=item.structure,
                nodes=", ".join(code(node) for node in item.columns),
                interval=str(item.time_interval),
                stale_after=str(stale_after(item, plan)),
            )
            for item in selection.inputs
        ]
        return {
            "source": self.source(plan),
            "servers": self.bullets(servers),
            "devices": self.bullets(devices),
            "outputs": self.bullets(outputs),
            "inputs": self.bullets(inputs),
            "retention_days": f"{DEFAULT_RETENTION / SECONDS_PER_DAY:g}",
        }

    def summary(self, hass: HomeAssistant, selection: ImportSelection) -> dict[str, str]:
        """The description placeholders of a finished import: the names of what it added (and reused)."""
        none = self.text("none")
        reused = [
            self.text("reused_name", name=entry.title)
            for entry_id in selection.reused.values()
            if (entry := hass.config_entries.async_get_entry(entry_id)) is not None
        ]
        return {
            "servers": ", ".join([*(server.name for server in selection.servers), *reused]) or none,
            "devices": ", ".join(device.name for device in selection.devices) or none,
            "outputs": ", ".join(output.redis_node for output in selection.outputs) or none,
            "inputs": ", ".join(item.name for item in selection.inputs) or none,
        }
