"""One device's current state: the merge of its latest valid text blocks.

BMV/SmartShunt alternate a main block (PID, V, I, ...) and a history block (H1..H18): a consumer wants both,
so each valid block's fields overwrite the same labels of the merged frame. Values are decoded only when their
raw text changes, and a block that repeats one already merged without change (a BMV's history block, an MPPT
at night) is recognised whole, which keeps the per-block cost at a few dictionary operations.
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Self

from .fields import Value, decode_value, format_firmware, format_firmware_24, parse_product_id
from .framing import TextBlock
from .products import product_name


class DeviceFrame:
    """Merged raw fields and decoded values of one device."""

    __slots__ = ("_fields", "_fields_view", "_repeats", "_values", "_values_view", "blocks")

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}
        self._values: dict[str, Value] = {}
        # Live read-only views, made once: consumers read them after every block.
        self._fields_view = MappingProxyType(self._fields)
        self._values_view = MappingProxyType(self._values)
        # Field count -> fields of a block that changed nothing when merged and whose pairs all still hold.
        self._repeats: dict[int, dict[str, str]] = {}
        self.blocks = 0

    def update(self, block: TextBlock) -> bool:
        """Merge a block; invalid blocks are ignored. Returns True iff the block was merged."""
        if not block.valid:
            return False
        self.blocks += 1
        new = block.fields
        repeats = self._repeats
        if repeats.get(len(new)) == new:
            return True  # every pair of the block is merged already
        fields = self._fields
        values = self._values
        changed: list[str] = []
        for label, raw in new.items():
            if fields.get(label) != raw:
                fields[label] = raw
                values[label] = decode_value(label, raw)
                changed.append(label)
        if not changed:
            repeats[len(new)] = new.copy()
        elif repeats:
            for size, repeat in list(repeats.items()):
                if not repeat.keys().isdisjoint(changed):
                    del repeats[size]
        return True

    @property
    def fields(self) -> Mapping[str, str]:
        """Merged raw label -> raw text (read-only view)."""
        return self._fields_view

    @property
    def values(self) -> Mapping[str, Value]:
        """Merged label -> decoded value (read-only view)."""
        return self._values_view

    @property
    def product_id(self) -> int | None:
        raw = self._fields.get("PID")
        return None if raw is None else parse_product_id(raw)

    @property
    def product_name(self) -> str | None:
        """Model name from the PID table; a BMV-600 (no PID) falls back to its BMV text."""
        return product_name(self.product_id) or self._fields.get("BMV")

    @property
    def serial_number(self) -> str | None:
        return self._fields.get("SER#")

    @property
    def firmware(self) -> str | None:
        """Version text from FW, else FWE."""
        if (raw := self._fields.get("FW")) is not None:
            return format_firmware(raw)
        if (raw := self._fields.get("FWE")) is not None:
            return format_firmware_24(raw)
        return None

    def copy(self) -> Self:
        """Snapshot that later updates do not change (values are immutable, so shallow copies suffice)."""
        snapshot = type(self)()
        snapshot._fields.update(self._fields)
        snapshot._values.update(self._values)
        snapshot._repeats.update(self._repeats)
        snapshot.blocks = self.blocks
        return snapshot
