"""The synthesised devices: an MPPT, a BMV and a Phoenix inverter with plausible, changing values.

Each one's ``next_emission()`` gives what it sends in one period, as encoded text blocks; its ``hex`` register
model (``hexdevice.HexDevice``) holds its settings, which its text follows (the load output, the device mode,
the charge current limit...), and receives its measurements every period, so that a HEX GET reads what the
text block says.
"""

from collections.abc import Callable, Sequence
import random
from typing import ClassVar, Literal

from . import hexdevice
from .protocol import registers as regs

type DeviceKind = Literal["mppt", "bmv", "inverter"]
type Emission = list[bytes]
"""What a device sends in one period; each chunk ends with a checksum byte (a capture's last may not)."""

DEVICE_KINDS: tuple[DeviceKind, ...] = ("mppt", "bmv", "inverter")


def encode_block(fields: Sequence[tuple[str, str]]) -> bytes:
    """Encode one text block (``\\r\\nlabel\\tvalue`` ... ``\\r\\nChecksum\\t<byte>``) with its checksum."""
    body = b"".join(
        b"\r\n%s\t%s" % (label.encode("latin-1"), value.encode("latin-1")) for label, value in fields
    )
    body += b"\r\nChecksum\t"
    return body + bytes([-sum(body) & 0xFF])


class _Walk:
    """A bounded random walk: values that drift like real measurements."""

    def __init__(self, rng: random.Random, low: float, high: float, start: float, step: float) -> None:
        self._rng = rng
        self.low, self.high, self.value, self.step = low, high, start, step

    def next(self) -> float:
        self.value = min(self.high, max(self.low, self.value + self._rng.uniform(-self.step, self.step)))
        return self.value


class SyntheticDevice:
    """Base of the synthesised devices: ``blocks()`` gives one emission's label/value lists, in wire order.

    ``hex`` is the device's register model: ``blocks()`` reads its settings there and writes its measurements.
    """

    family: ClassVar[regs.Family]

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.tick = 0
        self.hex = hexdevice.default_model(self.family)

    def next_emission(self) -> Emission:
        """Advance the device by one period and encode its blocks."""
        self.tick += 1
        return [encode_block(block) for block in self.blocks()]

    def blocks(self) -> list[list[tuple[str, str]]]:
        raise NotImplementedError


class MpptDevice(SyntheticDevice):
    """SmartSolar MPPT 100/20 (0xA05F) with a load output, charging a 12 V battery from a 290 W panel.

    Device mode off: no charging (CS 0, OR "switched off by the register"); the charge current is capped by
    the battery maximum current; the load output is on unless its control is "off".
    """

    family = regs.Family.MPPT

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._sun = _Walk(rng, 0.0, 1.0, 0.6, 0.04)
        self._battery = _Walk(rng, 12.4, 14.4, 13.1, 0.02)
        self._load = _Walk(rng, 0.0, 4.0, 0.8, 0.1)
        self._yield_total = 61_400.0  # Wh
        self._yield_today = 0.0
        self._max_today = 0

    def blocks(self) -> list[list[tuple[str, str]]]:
        model = self.hex
        charging = model.value(regs.DEVICE_MODE) == "on"
        load_on = model.value(regs.LOAD_OUTPUT_CONTROL) != "off"
        max_a, absorption_v = model.value(regs.BATTERY_MAX_CURRENT), model.value(regs.ABSORPTION_VOLTAGE)
        assert isinstance(max_a, float)
        assert isinstance(absorption_v, float)
        sun = self._sun.next()
        battery_v = self._battery.next()
        power = 0 if sun < 0.05 or not charging else min(round(290 * sun), round(max_a * battery_v / 0.97))
        battery_v += (0.3 if power else -0.2) * min(sun, 0.5)
        load_a = self._load.next() if load_on else 0.0
        panel_v = 0.45 if power == 0 else 17.5 + 3.5 * sun
        charge_a = power * 0.97 / battery_v - load_a if power else -load_a
        self._yield_today += power / 3600
        self._yield_total += power / 3600
        self._max_today = max(self._max_today, power)
        if not charging:
            cs, mppt, off_reason = 0, 0, 0x00000004
        elif power == 0:
            cs, mppt, off_reason = 0, 0, 0x00000001
        elif battery_v < absorption_v - 0.3:
            cs, mppt, off_reason = 3, 1 if power < round(290 * sun) else 2, 0
        else:
            cs, mppt, off_reason = (4 if self.tick % 600 < 300 else 5), 1, 0
        model.update({
            regs.DEVICE_STATE: cs, regs.DEVICE_OFF_REASON: off_reason, 0xEDB3: mppt,
            0xEDD5: round(battery_v, 2), 0xEDD7: round(max(charge_a + load_a, 0.0), 1),
            0xEDBB: round(panel_v, 2), 0xEDBC: power, 0xEDBD: round(power / panel_v, 1),
            0xEDD3: round(self._yield_today / 1000, 2), 0xEDD2: self._max_today,
            0xEDDD: round(self._yield_total / 1000, 2), 0xEDDC: round(self._yield_total / 1000, 2),
            regs.LOAD_OUTPUT_STATE: int(load_on), 0xEDAD: round(load_a, 1),
        })  # fmt: skip
        return [
            [
                ("PID", "0xA05F"),
                ("FW", "159"),
                ("SER#", "HQ2132QXH4K"),
                ("V", str(round(battery_v * 1000))),
                ("I", str(round(charge_a * 1000))),
                ("VPV", str(round(panel_v * 1000))),
                ("PPV", str(power)),
                ("CS", str(cs)),
                ("MPPT", str(mppt)),
                ("OR", f"0x{off_reason:08X}"),
                ("ERR", "0"),
                ("LOAD", "ON" if load_on else "OFF"),
                ("IL", str(round(load_a * 1000))),
                ("H19", str(round(self._yield_total / 10))),
                ("H20", str(round(self._yield_today / 10))),
                ("H21", str(self._max_today)),
                ("H22", "112"),
                ("H23", "268"),
                ("HSDS", "41"),
            ]
        ]


class BmvDevice(SyntheticDevice):
    """BMV-712 Smart (0xA381) on a 200 Ah battery with a starter battery on the aux input.

    Its settings (capacity, charged voltage...) are HEX registers only; its measurements go to the model too.
    """

    family = regs.Family.BMV
    CAPACITY_AH = 200.0

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._current = _Walk(rng, -25.0, 12.0, -4.0, 0.6)
        self._starter = _Walk(rng, 12.5, 12.9, 12.7, 0.005)
        self._consumed_ah = -18.0
        self._deepest_ah = -96.4
        self._last_ah = -41.0
        self._drawn_ah = -8_412.0
        self._min_v, self._max_v = 11.9, 14.6
        self._discharged_kwh, self._charged_kwh = 101.2, 98.7

    def blocks(self) -> list[list[tuple[str, str]]]:
        current = self._current.next()
        self._consumed_ah = min(0.0, self._consumed_ah + current / 3600)
        if current < 0:
            self._drawn_ah += current / 3600
            self._discharged_kwh += -current * 12.8 / 3.6e6
        else:
            self._charged_kwh += current * 13.2 / 3.6e6
        soc = 1.0 + self._consumed_ah / self.CAPACITY_AH
        voltage = 11.9 + 1.0 * soc + 0.03 * current
        self._min_v, self._max_v = min(self._min_v, voltage), max(self._max_v, voltage)
        ttg = -1 if current >= 0 else min(round(soc * self.CAPACITY_AH / -current * 60), 14_400)
        starter_v = self._starter.next()
        self.hex.update({
            0x0FFF: round(soc * 100, 2), 0x0FFE: 0xFFFF if ttg < 0 else ttg, 0xED8D: round(voltage, 2),
            0xED7D: round(starter_v, 2), 0xED8F: round(current, 1), 0xED8C: round(current, 3),
            0xED8E: round(voltage * current), 0xEEFF: round(self._consumed_ah, 1),
            regs.DEVICE_UPTIME: 5_400 + self.tick, 0x0382: round(voltage / 2, 2),
        })  # fmt: skip
        main = [
            ("PID", "0xA381"),
            ("V", str(round(voltage * 1000))),
            ("VS", str(round(starter_v * 1000))),
            ("I", str(round(current * 1000))),
            ("P", str(round(voltage * current))),
            ("CE", str(round(self._consumed_ah * 1000))),
            ("SOC", str(round(soc * 1000))),
            ("TTG", str(ttg)),
            ("Alarm", "OFF"),
            ("Relay", "OFF"),
            ("AR", "0"),
            ("BMV", "712 Smart"),
            ("FW", "0413"),
            ("MON", "0"),
        ]
        history = [
            ("H1", str(round(self._deepest_ah * 1000))),
            ("H2", str(round(self._last_ah * 1000))),
            ("H3", "-38125"),
            ("H4", "148"),
            ("H5", "0"),
            ("H6", str(round(self._drawn_ah * 1000))),
            ("H7", str(round(self._min_v * 1000))),
            ("H8", str(round(self._max_v * 1000))),
            ("H9", str(5_400 + self.tick)),
            ("H10", "97"),
            ("H11", "0"),
            ("H12", "0"),
            ("H15", "11810"),
            ("H16", "14420"),
            ("H17", str(round(self._discharged_kwh * 100))),
            ("H18", str(round(self._charged_kwh * 100))),
        ]
        return [main, history]


class InverterDevice(SyntheticDevice):
    """Phoenix Inverter 12V 800VA 230V (0xA261) feeding a varying AC load.

    Device mode off: MODE 4, CS 0 and no AC output; eco: MODE 5; the AC output follows the voltage set-point.
    """

    family = regs.Family.INVERTER

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._load_va = _Walk(rng, 20.0, 700.0, 180.0, 25.0)
        self._battery = _Walk(rng, 12.1, 13.4, 12.8, 0.01)

    def blocks(self) -> list[list[tuple[str, str]]]:
        mode = self.hex.registers[regs.DEVICE_MODE][0]
        setpoint = self.hex.value(regs.AC_OUT_VOLTAGE_SETPOINT)
        assert isinstance(setpoint, float)
        on = mode != 4
        load_va = self._load_va.next() if on else 0.0
        ac_v = setpoint + self.rng.uniform(-0.4, 0.4) if on else 0.0
        battery_v = self._battery.next() - load_va / 4000
        warn = 1 if battery_v < 11.5 else 0
        self.hex.update({
            regs.DEVICE_STATE: 9 if on else 0, regs.DEVICE_OFF_REASON: 0 if on else 0x4,
            0x2200: round(ac_v, 2), 0x2201: round(load_va / ac_v, 1) if on else 0.0, 0x2205: round(load_va),
            0x031C: warn,
        })  # fmt: skip
        return [
            [
                ("PID", "0xA261"),
                ("FW", "0114"),
                ("SER#", "HQ2049X7CKM"),
                ("MODE", str(mode)),
                ("CS", "9" if on else "0"),
                ("AC_OUT_V", str(round(ac_v * 100))),
                ("AC_OUT_I", str(round(load_va / ac_v * 10)) if on else "0"),
                ("AC_OUT_S", str(round(load_va))),
                ("V", str(round(battery_v * 1000))),
                ("AR", "0"),
                ("WARN", str(warn)),
                ("OR", "0x00000000" if on else "0x00000004"),
            ]
        ]


_DEVICES: dict[DeviceKind, Callable[[random.Random], SyntheticDevice]] = {
    "mppt": MpptDevice,
    "bmv": BmvDevice,
    "inverter": InverterDevice,
}


def synthetic_device(kind: DeviceKind, *, seed: int | None = None) -> SyntheticDevice:
    """Build a synthesised device; the same seed gives the same values."""
    return _DEVICES[kind](random.Random(seed))


__all__ = [
    "DEVICE_KINDS",
    "BmvDevice",
    "DeviceKind",
    "Emission",
    "InverterDevice",
    "MpptDevice",
    "SyntheticDevice",
    "encode_block",
    "synthetic_device",
]
