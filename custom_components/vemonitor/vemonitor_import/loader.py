"""Reading a vemonitor configuration: YAML through a safe loader that keeps lines, and its `Imports`.

The daemon (vemonitor_m8 conf_manager/yaml_loader.py) loads the root file with yaml.safe_load, then each
file of the root's `Imports` list from the root's folder, and merges each into the root with dict.update:
top-level keys of an imported file replace the root's, in list order. It follows the root's Imports only
(an imported file's own Imports are never read), refuses files over 500,000 bytes and a total over that,
and extensions other than .yaml and .yml; its schema (imports_schema.json) allows 10 imports at most.
This module does the same, with the safety an integration needs: every file must resolve (symbolic links
followed) inside the configuration folder, the root importing itself is a cycle, and nothing but a
regular file is read.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
import os
from pathlib import Path
import re
import stat
from typing import Any, Final

import yaml  # type: ignore[import-untyped]

from .errors import ConfigImportError, Place, shown

MAX_FILE_BYTES: Final = 500_000
"""Bytes of one configuration file, and of pasted text (the daemon's MAX_FILE_SIZE)."""
MAX_TOTAL_BYTES: Final = 500_000
"""Bytes of the root file and its imports together (the daemon's MAX_TOTAL_SIZE)."""
MAX_IMPORTS: Final = 10
"""Files one `Imports` list names (maxItems of the daemon's imports_schema.json)."""
MAX_MERGED_KEYS: Final = 100_000
"""Keys that merge keys (<<) copy into mappings, in one document: PyYAML copies every merged mapping's keys
(repeats too), so a few hundred bytes of nested merges of aliases would copy billions of them."""
YAML_SUFFIXES: Final = (".yaml", ".yml")
IMPORTS: Final = "Imports"


class YamlMap(dict[Any, Any]):
    """A YAML mapping that knows its file and line, the line of each key, and its repeated keys (the
    last one wins, as in PyYAML; the walker refuses them where it reads)."""

    __slots__ = ("dup_keys", "file", "key_files", "key_lines", "line")

    def __init__(self, file: str | None, line: int) -> None:
        super().__init__()
        self.file = file
        self.line = line
        self.key_lines: dict[Any, int] = {}
        self.dup_keys: dict[Any, int] = {}
        # Only a merged root holds keys of several files: the file of each key that is not `file`.
        self.key_files: dict[Any, str | None] = {}

    def place_of(self, key: Any, path: str) -> Place:
        """Where `key` is written."""
        return Place(self.key_files.get(key, self.file), self.key_lines[key], path)


class YamlSeq(list[Any]):
    """A YAML sequence that knows its file and line, and the line of each item."""

    __slots__ = ("file", "item_lines", "line")

    def __init__(self, file: str | None, line: int) -> None:
        super().__init__()
        self.file = file
        self.line = line
        self.item_lines: list[int] = []


class _LineLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints
    """yaml.SafeLoader (plain data only, no Python objects) whose mappings and sequences are YamlMap and
    YamlSeq. Aliases share one constructed object (PyYAML memoises by node), so nothing expands."""

    def __init__(self, text: str, file: str | None) -> None:
        super().__init__(text)
        self.file = file
        self._merging = 0  # depth of flatten_mapping: > 0 while flattening a mapping merged into another
        self._merged = 0

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        """PyYAML's, with the scalars its constructors fail on without a YAML error (ValueError for an
        integer of more than 4,300 digits or a date such as 2024-13-45, KeyError for `!!bool 1234`...)
        refused as a YAML error at their line, the value not quoted (it could be a password)."""
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError, RecursionError:
            raise
        except Exception:  # a constructor's own failure, whatever its type
            kind = str(node.tag).rpartition(":")[2] or "value"
            raise yaml.constructor.ConstructorError(
                None, None, f"found an invalid {kind}", node.start_mark
            ) from None

    def flatten_mapping(self, node: Any) -> None:
        """PyYAML's merge, charging the keys a merged mapping copies to the document's MAX_MERGED_KEYS
        before they are copied (a merge of merges of aliases multiplies them at each level)."""
        self._merging += 1
        try:
            super().flatten_mapping(node)
        finally:
            self._merging -= 1
        if self._merging:
            self._merged += len(node.value)
            if self._merged > MAX_MERGED_KEYS:
                raise yaml.constructor.ConstructorError(
                    "while merging a mapping", node.start_mark, "too many merged keys", node.start_mark
                )


def _construct_map(loader: _LineLoader, node: Any) -> Iterator[YamlMap]:
    data = YamlMap(loader.file, node.start_mark.line + 1)
    yield data
    # Merge keys (<<) first, as PyYAML does; a key repeated among the mapping's own keys is recorded.
    own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    first_own = len(node.value) - own
    own_keys: set[Any] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=False)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found unhashable key", key_node.start_mark
            ) from None
        line = key_node.start_mark.line + 1
        if index >= first_own:
            if key in own_keys:
                data.dup_keys.setdefault(key, line)
            own_keys.add(key)
        data[key] = loader.construct_object(value_node, deep=False)
        data.key_lines[key] = line


def _construct_seq(loader: _LineLoader, node: Any) -> Iterator[YamlSeq]:
    data = YamlSeq(loader.file, node.start_mark.line + 1)
    yield data
    for item_node in node.value:
        data.append(loader.construct_object(item_node, deep=False))
        data.item_lines.append(item_node.start_mark.line + 1)


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


_QUOTED: Final = re.compile(r"'[^']*'|\"[^\"]*\"")


def _redacted(problem: str) -> str:
    """A parser message without the file's text it quotes (an alias or a tag name: an unquoted password
    such as *s3cr3t is an alias to YAML), keeping token names ('<block end>') and single characters."""

    def keep(match: re.Match[str]) -> str:
        inner = match[0][1:-1]
        return match[0] if len(inner) <= 2 or (inner.startswith("<") and inner.endswith(">")) else "'…'"

    return _QUOTED.sub(keep, problem)


def parse_yaml(text: str, file: str | None) -> object:
    """The document of `text` (None when empty); `not_yaml` with the parser's line and problem.

    The problem is the parser's short message, without the names it quotes (never its snippet of the
    file, which could show a password); the YAML error is not chained for the same reason.
    """
    loader: _LineLoader | None = None
    try:
        loader = _LineLoader(text, file)  # checks every character of the text first
        return loader.get_single_data()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = _redacted(", ".join(part for part in (err.context, err.problem) if part))
        raise ConfigImportError("not_yaml", Place(file, mark.line + 1, ""), problem=problem) from None
    except yaml.reader.ReaderError as err:  # a character YAML does not allow (NUL, other controls)
        line = text.count("\n", 0, err.position) + 1
        raise ConfigImportError("not_yaml", Place(file, line, ""), problem=err.reason) from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise ConfigImportError("not_yaml", Place(file, None, ""), problem="nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def _root_mapping(document: object, file: str | None) -> YamlMap:
    """A file's document, which must be a non-empty mapping (the daemon also takes a list; no real
    configuration is one); its top-level keys must be unique (they are merged by key)."""
    if document is None:
        raise ConfigImportError("empty_config", Place(file, None, ""))
    if not isinstance(document, YamlMap):
        line = document.line if isinstance(document, YamlSeq) else None  # a scalar keeps no line
        raise ConfigImportError("root_not_mapping", Place(file, line, ""))
    for key, line in document.dup_keys.items():
        raise ConfigImportError("duplicate_key", Place(file, line, str(key)), key=key)
    return document


def _check_size(size: int, file: str | None) -> None:
    if size > MAX_FILE_BYTES:
        raise ConfigImportError("file_too_large", Place(file, None, ""), maximum=MAX_FILE_BYTES)


def text_root(text: str) -> YamlMap:
    """The root mapping of pasted text, which cannot name files: an `Imports` list is refused."""
    try:
        encoded = text.encode()
    except UnicodeEncodeError as err:  # a lone surrogate: no text a file could hold
        line = text.count("\n", 0, err.start) + 1
        raise ConfigImportError("not_yaml", Place(None, line, ""), problem="not UTF-8 text") from None
    _check_size(len(encoded), None)
    root = _root_mapping(parse_yaml(text, None), None)
    if IMPORTS in root and root[IMPORTS] != []:
        raise ConfigImportError("imports_need_path", root.place_of(IMPORTS, IMPORTS))
    root.pop(IMPORTS, None)
    return root


@dataclass
class _Reading:
    """The files of one load_path call: the folder they must stay in, and the bytes read so far."""

    root_dir: Path
    total: int = 0
    files: list[str] = field(default_factory=list)

    def display(self, path: Path) -> str:
        """A resolved file's name as errors show it: relative to the configuration folder."""
        return path.relative_to(self.root_dir).as_posix()

    def inside(self, candidate: Path) -> Path | None:
        """`candidate` with every symbolic link and .. resolved, if that is inside the folder."""
        resolved = candidate.resolve()  # not strict: a missing file or a link loop stays (then unreadable)
        return resolved if resolved.is_relative_to(self.root_dir) else None

    def read(self, path: Path, place: Place) -> str:
        """A regular file's text, within the size bounds; `place` names it in errors."""
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(path, flags)
        except OSError:
            raise ConfigImportError("file_not_found", place) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a directory, a FIFO, a device
            os.close(fd)
            raise ConfigImportError("file_not_found", place)
        with os.fdopen(fd, "rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
        file = self.display(path)
        _check_size(len(data), file)
        self.total += len(data)
        if self.total > MAX_TOTAL_BYTES:
            raise ConfigImportError("file_too_large", Place(file, None, ""), maximum=MAX_TOTAL_BYTES)
        try:
            text = data.decode()
        except UnicodeDecodeError as err:
            line = data.count(b"\n", 0, err.start) + 1
            raise ConfigImportError("not_yaml", Place(file, line, ""), problem="not UTF-8 text") from None
        self.files.append(file)
        return text

    def load(self, path: Path, place: Place) -> YamlMap:
        """A resolved file's root mapping."""
        file = self.display(path)
        return _root_mapping(parse_yaml(self.read(path, place), file), file)


def _has_yaml_suffix(name: str) -> bool:
    return name.lower().endswith(YAML_SUFFIXES)


def path_root(path: Path, root: Path) -> tuple[YamlMap, tuple[str, ...], list[tuple[str, Place]]]:
    """The merged root mapping of the file `path` (relative to `root`, or absolute inside it), the files
    read, and the imports of imported files, which are not followed (as by the daemon): (file, place)."""
    given = Place(path.as_posix(), None, "")
    try:
        root_dir = root.resolve(strict=True)
    except OSError:
        raise ConfigImportError("file_not_found", Place(root.as_posix(), None, "")) from None
    reading = _Reading(root_dir)
    main = reading.inside(path if path.is_absolute() else root_dir / path)
    if main is None:
        raise ConfigImportError("outside_root", given)
    if not _has_yaml_suffix(main.name):
        raise ConfigImportError("bad_extension", given, value=shown(path.name))
    merged = reading.load(main, given)
    imports = merged.pop(IMPORTS, None)
    import_path = merged.place_of(IMPORTS, IMPORTS) if imports is not None else given
    merged.key_lines.pop(IMPORTS, None)
    nested: list[tuple[str, Place]] = []
    for name, place in _import_names(imports, import_path):
        child_path = reading.inside(main.parent / name)
        if child_path is None:
            raise ConfigImportError("import_outside_root", place, value=shown(name))
        if child_path == main:
            raise ConfigImportError("import_cycle", place, value=shown(name))
        if not child_path.is_file():
            raise ConfigImportError("import_not_found", place, value=shown(name))
        child = reading.load(child_path, place)
        for key, value in child.items():
            if key == IMPORTS:
                nested.append((reading.display(child_path), child.place_of(key, IMPORTS)))
                continue
            merged[key] = value
            merged.key_lines[key] = child.key_lines[key]
            merged.key_files[key] = child.file
    return merged, tuple(reading.files), nested


def _import_names(imports: object, place: Place) -> Iterator[tuple[str, Place]]:
    """The file names of an `Imports` list, each with its place."""
    if imports is None:
        return
    if not isinstance(imports, YamlSeq):
        raise ConfigImportError("expected_list", place)
    if len(imports) > MAX_IMPORTS:
        raise ConfigImportError("too_many_imports", place, maximum=MAX_IMPORTS)
    for index, (name, line) in enumerate(zip(imports, imports.item_lines, strict=True)):
        item = Place(imports.file, line, f"{IMPORTS}[{index}]")
        if not isinstance(name, str) or not name.strip():
            raise ConfigImportError("invalid_import", item, value=shown(name))
        if not _has_yaml_suffix(name):
            raise ConfigImportError("bad_extension", item, value=shown(name))
        yield name, item
