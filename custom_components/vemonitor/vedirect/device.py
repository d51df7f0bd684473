"""One device's current state: the merge of its latest valid text blocks.

BMV/SmartShunt alternate a main block (PID, V, I, ...) and a history block (H1..H18): a consumer wants both,
so each valid block's fields overwrite the same labels of the merged frame. Values are decoded only when their
raw text changes, into both forms at once (rich ``values`` for the UI, storable ``scalars`` that a Redis
sample takes as they are), and a block that repeats one already merged without change (a BMV's history block,
an MPPT at night) is recognised whole, which keeps the per-block cost at a few dictionary operations.
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Self

from .fields import Scalar, Value, decode_field, format_firmware, format_firmware_24, parse_product_id
from .framing import TextBlock
from .products import product_name


class DeviceFrame:
    """Merged raw fields, decoded values and storable scalars of one device."""

    __slots__ = (
        "_fields",
        "_fields_view",
        "_repeats",
        "_scalars",
        "_scalars_view",
        "_values",
        "_values_view",
        "blocks",
    )

    def __init__(self) -> None:
        self._adopt({}, {}, {}, {}, 0)

    def _adopt(
        self,
        fields: dict[str, str],
        values: dict[str, Value],
        scalars: dict[str, Scalar],
        repeats: dict[int, dict[str, str]],
        blocks: int,
    ) -> None:
        self._fields = fields
        self._values = values
        self._scalars = scalars
        # Live read-only views, made once: consumers read them after every block.
        self._fields_view = MappingProxyType(fields)
        self._values_view = MappingProxyType(values)
        self._scalars_view = MappingProxyType(scalars)
        # Field count -> fields of a block that changed nothing when merged and whose pairs all still hold.
        self._repeats = repeats
        self.blocks = blocks

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
        scalars = self._scalars
        changed: list[str] = []
        for label, raw in new.items():
            if fields.get(label) != raw:
                fields[label] = raw
                values[label], scalars[label] = decode_field(label, raw)
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
    def scalars(self) -> Mapping[str, Scalar]:
        """Merged label -> JSON-storable ``scalar_value``, a Redis sample's values as is (read-only view)."""
        return self._scalars_view

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
        """Snapshot that later updates do not change (values are immutable, so shallow copies suffice).

        The client makes one per block: it skips ``__init__`` and its empty dicts, and only copies dicts.
        """
        snapshot = object.__new__(type(self))
        snapshot._adopt(
            self._fields.copy(), self._values.copy(), self._scalars.copy(), self._repeats.copy(), self.blocks
        )
        return snapshot
