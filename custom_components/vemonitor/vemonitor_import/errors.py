"""Where an item of a vemonitor configuration is, and the one error an import raises."""

from dataclasses import dataclass

SHOWN_MAX_LENGTH = 64
"""Characters of an offending value an error shows (a name, a label, a host, a port path)."""


@dataclass(frozen=True, slots=True)
class Place:
    """An item's place: the file (relative to the configuration folder, POSIX separators; None for pasted
    text), the 1-based line (None when unknown) and the key path (`appBlocks[0].outputs.redis[0]`)."""

    file: str | None
    line: int | None
    path: str

    def __str__(self) -> str:
        where = self.file or "pasted text"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where} {self.path}" if self.path else where


def shown(value: object) -> str:
    """An offending value as an error shows it: its repr (quotes, escaped controls), cut to 64 characters;
    a mapping or a list only as {…} or […] (its repr could be huge: aliases share nodes)."""
    if isinstance(value, dict):
        return "{…}"
    if isinstance(value, list):
        return "[…]"
    text = repr(value)
    return text if len(text) <= SHOWN_MAX_LENGTH else text[: SHOWN_MAX_LENGTH - 1] + "…"


class ConfigImportError(Exception):
    """A vemonitor configuration that cannot be imported, at `place`.

    `key` is the translation key of the error; `placeholders` its description placeholders, all text:
    `file` ("" for pasted text), `line` ("" when unknown), `path`, and the key's own (see the package
    docstring). No placeholder ever holds a password: a refused password is named by its path only.
    """

    def __init__(self, key: str, place: Place, /, **placeholders: object) -> None:
        super().__init__(key)
        self.key = key
        self.place = place
        self.file = place.file
        self.line = place.line
        self.path = place.path
        self.placeholders: dict[str, str] = {
            "file": place.file or "",
            "line": "" if place.line is None else str(place.line),
            "path": place.path,
            **{name: str(value) for name, value in placeholders.items()},
        }

    def _extras(self) -> dict[str, str]:
        return {
            name: value for name, value in self.placeholders.items() if name not in {"file", "line", "path"}
        }

    def __str__(self) -> str:
        extras = "".join(f", {name}={value}" for name, value in self._extras().items())
        return f"{self.key} at {self.place}{extras}"

    def __repr__(self) -> str:
        return f"ConfigImportError({self.key!r}, {str(self.place)!r}, {self._extras()!r})"
