"""What the import tests share: the fixture folder, a small valid configuration, and error capture."""

from collections.abc import Mapping
from pathlib import Path

import pytest

from custom_components.vemonitor.vemonitor_import import (
    ERROR_KEYS,
    ConfigImportError,
    ImportPlan,
    parse_text,
)

# The keys only files can raise (test_files); test_errors checks that these and its cases are ERROR_KEYS.
FILE_ERROR_KEYS = frozenset(
    {
        "file_not_found",
        "outside_root",
        "bad_extension",
        "file_too_large",
        "too_many_imports",
        "invalid_import",
        "import_not_found",
        "import_outside_root",
        "import_cycle",
    }
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "vemonitor_config"
ENV = {"HOME": "/home/tester"}

# One serial connector and one Redis connector, one block reading the first and writing to the second; each
# line ends with its number, as errors name it. Cases change lines in place (see `variant`).
BASE = """\
appConnectors:                  # 1
  serial:                       # 2
    bmv:                        # 3
      serialPort: /dev/ttyUSB0  # 4
  redis:                        # 5
    local:                      # 6
      host: 127.0.0.1           # 7
      port: 6379                # 8
appBlocks:                      # 9
  - name: block                 # 10
    app: batSerialMonitor       # 11
    inputs:                     # 12
      serial:                   # 13
        - name: bmv             # 14
          source: bmv           # 15
          time_interval: 1      # 16
    outputs:                    # 17
      redis:                    # 18
        - source: local         # 19
          redis_node: bat       # 20
          time_interval: 1      # 21
          columns:              # 22
            bmv: [V, I]         # 23
          cache_interval: 5     # 24
"""
BASE_LINES = BASE.splitlines()


def variant(lines: Mapping[int, str] | None = None, *, append: str = "", prepend: str = "") -> str:
    """BASE with lines replaced in place ({line number: new text}, 1-based), then `append` at the end and
    `prepend` before the first line."""
    result = list(BASE_LINES)
    for number, text in (lines or {}).items():
        result[number - 1] = text
    return prepend + "\n".join(result) + "\n" + append


def plan_of(text: str, env: Mapping[str, str] = ENV) -> ImportPlan:
    return parse_text(text, env)


def error_of(text: str, env: Mapping[str, str] = ENV) -> ConfigImportError:
    """The error importing `text` raises (its key one of ERROR_KEYS)."""
    with pytest.raises(ConfigImportError) as caught:
        parse_text(text, env)
    assert caught.value.key in ERROR_KEYS
    return caught.value
