"""The integration's VE.Direct protocol package, without Home Assistant.

Importing ``custom_components.vemonitor.vedirect`` runs ``custom_components/vemonitor/__init__.py`` first,
hence Home Assistant (seconds, 100+ MB). The protocol package imports no Home Assistant and itself only
relatively, so it loads here as the top-level package ``vemonitor_vedirect`` (not ``vedirect``: a PyPI
name), each submodule on first use and its ``__init__`` never: that imports ``client``, hence serialx, which
decoding a file does not need. A process that already has the integration's package (the test suite) gets
that one, so that each class exists once.
"""

from importlib import import_module
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
import sys
from types import ModuleType
from typing import TYPE_CHECKING

INTEGRATION_PACKAGE = "custom_components.vemonitor.vedirect"
STANDALONE_PACKAGE = "vemonitor_vedirect"
SOURCE = Path(__file__).resolve().parent.parent / "custom_components" / "vemonitor" / "vedirect"


def register_standalone(name: str = STANDALONE_PACKAGE, source: Path = SOURCE) -> ModuleType:
    """The package ``name`` in ``sys.modules`` with its ``__path__`` only: its ``__init__`` does not run."""
    if (package := sys.modules.get(name)) is None:
        spec = spec_from_file_location(name, source / "__init__.py", submodule_search_locations=[str(source)])
        if spec is None:  # pragma: no cover - only for a path without a loader
            raise ImportError(f"cannot load {source}", name=name)
        package = sys.modules[name] = module_from_spec(spec)
    return package


__all__ = [
    "client",
    "codes",
    "device",
    "fields",
    "framing",
    "hexproto",
    "products",
    "registers",
]  # its submodules

PACKAGE = INTEGRATION_PACKAGE if INTEGRATION_PACKAGE in sys.modules else register_standalone().__name__

if TYPE_CHECKING:
    from custom_components.vemonitor.vedirect import (
        client,
        codes,
        device,
        fields,
        framing,
        hexproto,
        products,
        registers,
    )
else:

    def __getattr__(name: str) -> ModuleType:
        if name not in __all__:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        module = globals()[name] = import_module(f"{PACKAGE}.{name}")
        return module
