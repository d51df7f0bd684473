"""The solar-day devices: an MPPT, a BMV and a Phoenix inverter that show one ``solarday.SolarSystem``.

Each view sends the label set of its synthesised twin in ``devices.py`` (same product, serial, wire order),
its values taken from the system; its HEX register model receives them every period, so that a HEX GET reads
what the text says, and its settings are the system's controls: the MPPT's device mode, charge current,
absorption/float voltages, tail current, absorption time and load output; the inverter's device mode and AC
voltage set-point.

Views of one system (``solar_day_devices``) agree exactly: the BMV's current is the MPPT's battery current
minus the inverter's DC draw. Views in separate processes (``scripts/develop --demo`` runs one process per
device) agree as long as no setting is changed: each process has its own copy of the system, moved on by the
same seed and the same clock, and a setting changed on one device is seen by that device's copy only.

The clock gives the real seconds since the day started (``clock()``); without one, each emission is one
second (``--rate 1``), so that the day is reproducible.
"""

from collections.abc import Callable
import random
from typing import ClassVar, Literal

from . import hexdevice
from .devices import SyntheticDevice
from .protocol import registers as regs
from .solarday import CAPACITY_AH, ChargerDay, Controls, Phase, SolarDayConfig, SolarSystem

type SolarDayKind = Literal["solar-mppt", "solar-bmv", "solar-inverter"]
type Clock = Callable[[], float]
"""Real seconds since the start of the solar day."""

SOLAR_DAY_KINDS: tuple[SolarDayKind, ...] = ("solar-mppt", "solar-bmv", "solar-inverter")


class SolarDayDevice(SyntheticDevice):
    """A view of a solar system: moves it on to the clock's time, then shows it."""

    def __init__(self, system: SolarSystem, clock: Clock | None = None) -> None:
        super().__init__(random.Random(system.seed))
        self.system = system
        self._clock = clock
        system.controllers.append(self.control)

    def blocks(self) -> list[list[tuple[str, str]]]:
        self.system.advance_to(self._clock() if self._clock is not None else self.tick - 1.0)
        return self.show(self.system)

    def control(self, controls: Controls) -> None:
        """Write this device's settings (its HEX registers) into the system's controls."""

    def show(self, system: SolarSystem) -> list[list[tuple[str, str]]]:
        raise NotImplementedError


def _number(model: hexdevice.HexDevice, register_id: int) -> float:
    value = model.value(register_id)
    assert isinstance(value, int | float)
    return float(value)


class SolarMppt(SolarDayDevice):
    """SmartSolar MPPT 100/20 (0xA05F) on the system's 250 W panel, charging at up to 20 A."""

    family: ClassVar[regs.Family] = regs.Family.MPPT

    def __init__(self, system: SolarSystem, clock: Clock | None = None) -> None:
        super().__init__(system, clock)
        self.hex.set_value(regs.BATTERY_MAX_CURRENT, system.controls.max_current, announce=False)

    def control(self, controls: Controls) -> None:
        model = self.hex
        controls.charger_on = model.value(regs.DEVICE_MODE) == "on"
        controls.load_output_on = model.value(regs.LOAD_OUTPUT_CONTROL) != "off"
        controls.max_current = _number(model, regs.BATTERY_MAX_CURRENT)
        controls.absorption_v = _number(model, regs.ABSORPTION_VOLTAGE)
        controls.float_v = _number(model, regs.FLOAT_VOLTAGE)
        controls.tail_current = _number(model, regs.MPPT_TAIL_CURRENT)
        controls.absorption_hours = _number(model, regs.MPPT_ABSORPTION_TIME)

    def show(self, system: SolarSystem) -> list[list[tuple[str, str]]]:
        today, yesterday = system.today, system.yesterday
        cs = int(system.phase)
        tracker = 0 if system.phase is Phase.OFF else 2 if system.tracking else 1
        battery_a = system.charger_current - system.load_current
        total_kwh = round(system.yield_total_wh / 1000, 2)
        self.hex.update({
            regs.DEVICE_STATE: cs, regs.DEVICE_OFF_REASON: system.off_reason, 0xEDB3: tracker,
            0xEDD5: round(system.voltage, 2), 0xEDD7: round(system.charger_current, 1),
            0xEDBB: round(system.panel_voltage, 2), 0xEDBC: system.panel_power,
            0xEDBD: round(system.panel_power / system.panel_voltage, 1),
            0xEDD3: round(today.yield_wh / 1000, 2), 0xEDD2: today.power_max,
            0xEDD1: round(yesterday.yield_wh / 1000, 2), 0xEDD0: yesterday.power_max,
            0xEDDD: total_kwh, 0xEDDC: total_kwh,
            regs.MPPT_INTERNAL_TEMPERATURE: round(22.0 + system.panel_power / 12, 2),
            regs.LOAD_OUTPUT_STATE: int(system.controls.load_output_on),
            0xEDAD: round(system.load_current, 1),
            regs.HISTORY_TODAY: _day_record(today), regs.HISTORY_YESTERDAY: _day_record(yesterday),
        })  # fmt: skip
        return [
            [
                ("PID", "0xA05F"),
                ("FW", "159"),
                ("SER#", hexdevice.SERIAL_NUMBERS[regs.Family.MPPT]),
                ("V", str(round(system.voltage * 1000))),
                ("I", str(round(battery_a * 1000))),
                ("VPV", str(round(system.panel_voltage * 1000))),
                ("PPV", str(system.panel_power)),
                ("CS", str(cs)),
                ("MPPT", str(tracker)),
                ("OR", f"0x{system.off_reason:08X}"),
                ("ERR", "0"),
                ("LOAD", "ON" if system.controls.load_output_on else "OFF"),
                ("IL", str(round(system.load_current * 1000))),
                ("H19", str(round(system.yield_total_wh / 10))),
                ("H20", str(round(today.yield_wh / 10))),
                ("H21", str(today.power_max)),
                ("H22", str(round(yesterday.yield_wh / 10))),
                ("H23", str(yesterday.power_max)),
                ("HSDS", str(today.sequence)),
            ]
        ]


def _day_record(day: ChargerDay) -> dict[str, regs.RecordValue]:
    """A day as the MPPT's HEX history record holds it."""
    return {
        "yield_kwh": round(day.yield_wh / 1000, 2),
        "consumed_kwh": round(day.consumed_wh / 1000, 2),
        "battery_voltage_max_v": round(day.battery_v_max, 2),
        "battery_voltage_min_v": round(min(day.battery_v_min, day.battery_v_max), 2),
        "errors": [0, 0, 0, 0],
        "time_bulk_min": round(day.minutes.get(Phase.BULK, 0.0)),
        "time_absorption_min": round(day.minutes.get(Phase.ABSORPTION, 0.0)),
        "time_float_min": round(day.minutes.get(Phase.FLOAT, 0.0)),
        "power_max_w": day.power_max,
        "battery_current_max_a": round(day.current_max, 1),
        "panel_voltage_max_v": round(day.panel_v_max, 2),
        "day_sequence": day.sequence,
    }


class SolarBmv(SolarDayDevice):
    """BMV-712 Smart (0xA381) on the system's 100 Ah battery; its relay follows the alarm."""

    family: ClassVar[regs.Family] = regs.Family.BMV

    def __init__(self, system: SolarSystem, clock: Clock | None = None) -> None:
        super().__init__(system, clock)
        self.hex.set_value(regs.BATTERY_CAPACITY, round(CAPACITY_AH), announce=False)

    def show(self, system: SolarSystem) -> list[list[tuple[str, str]]]:
        voltage, current, history = system.voltage, system.battery_current, system.history
        ttg, alarm = system.time_to_go, "ON" if system.low_voltage_alarm else "OFF"
        uptime = round(system.time - system.config.start * 3600.0)
        self.hex.update({
            0x0FFF: round(system.soc * 100, 2), 0x0FFE: 0xFFFF if ttg < 0 else ttg, 0xED8D: round(voltage, 2),
            0xED7D: round(system.starter_voltage, 2), 0xED8F: round(current, 1), 0xED8C: round(current, 3),
            0xED8E: round(voltage * current), 0xEEFF: round(system.consumed_ah, 1),
            regs.DEVICE_UPTIME: uptime, 0x0382: round(voltage / 2, 2),
        })  # fmt: skip
        main = [
            ("PID", "0xA381"),
            ("V", str(round(voltage * 1000))),
            ("VS", str(round(system.starter_voltage * 1000))),
            ("I", str(round(current * 1000))),
            ("P", str(round(voltage * current))),
            ("CE", str(round(system.consumed_ah * 1000))),
            ("SOC", str(round(system.soc * 1000))),
            ("TTG", str(ttg)),
            ("Alarm", alarm),
            ("Relay", alarm),
            ("AR", "1" if system.low_voltage_alarm else "0"),
            ("BMV", "712 Smart"),
            ("FW", "0413"),
            ("MON", "0"),
        ]
        history_block = [
            ("H1", str(round(history.deepest_ah * 1000))),
            ("H2", str(round(history.last_ah * 1000))),
            ("H3", str(round(history.average_ah * 1000))),
            ("H4", str(history.cycles)),
            ("H5", str(history.full_discharges)),
            ("H6", str(round(history.drawn_ah * 1000))),
            ("H7", str(round(history.min_v * 1000))),
            ("H8", str(round(history.max_v * 1000))),
            ("H9", str(round(history.since_full))),
            ("H10", str(history.syncs)),
            ("H11", str(history.low_v_alarms)),
            ("H12", "0"),
            ("H15", str(round(history.starter_min * 1000))),
            ("H16", str(round(history.starter_max * 1000))),
            ("H17", str(round(history.discharged_kwh * 100))),
            ("H18", str(round(history.charged_kwh * 100))),
        ]
        return [main, history_block]


class SolarInverter(SolarDayDevice):
    """Phoenix Inverter 12V 800VA 230V (0xA261) feeding the household's AC load.

    Device mode off: MODE 4, CS 0, no output, no draw; eco: MODE 5, load search (CS 1) below 15 VA.
    """

    family: ClassVar[regs.Family] = regs.Family.INVERTER

    def control(self, controls: Controls) -> None:
        controls.inverter_mode = self.hex.registers[regs.DEVICE_MODE][0]
        controls.ac_setpoint = _number(self.hex, regs.AC_OUT_VOLTAGE_SETPOINT)

    def show(self, system: SolarSystem) -> list[list[tuple[str, str]]]:
        mode, state = system.controls.inverter_mode, system.inverter_state
        ac_v, va = system.ac_voltage, system.ac_va
        ac_a = va / ac_v if ac_v else 0.0
        off_reason = 0x4 if mode == 4 else 0
        self.hex.update({
            regs.DEVICE_STATE: state, regs.DEVICE_OFF_REASON: off_reason,
            0x2200: round(ac_v, 2), 0x2201: round(ac_a, 1), 0x2205: round(va),
            0x031C: system.inverter_warning, 0x031E: system.inverter_alarm,
        })  # fmt: skip
        return [
            [
                ("PID", "0xA261"),
                ("FW", "0114"),
                ("SER#", hexdevice.SERIAL_NUMBERS[regs.Family.INVERTER]),
                ("MODE", str(mode)),
                ("CS", str(state)),
                ("AC_OUT_V", str(round(ac_v * 100))),
                ("AC_OUT_I", str(round(ac_a * 10))),
                ("AC_OUT_S", str(round(va))),
                ("V", str(round(system.inverter_voltage * 1000))),
                ("AR", str(system.inverter_alarm)),
                ("WARN", str(system.inverter_warning)),
                ("OR", f"0x{off_reason:08X}"),
            ]
        ]


_VIEWS: dict[SolarDayKind, type[SolarDayDevice]] = {
    "solar-mppt": SolarMppt,
    "solar-bmv": SolarBmv,
    "solar-inverter": SolarInverter,
}


def solar_day_device(
    kind: SolarDayKind,
    *,
    seed: int | None = None,
    config: SolarDayConfig | None = None,
    clock: Clock | None = None,
) -> SolarDayDevice:
    """One device of its own solar system; the same seed, configuration and clock give the same values."""
    return _VIEWS[kind](SolarSystem(config, seed), clock)


def solar_day_devices(
    *, seed: int | None = None, config: SolarDayConfig | None = None, clock: Clock | None = None
) -> tuple[SolarMppt, SolarBmv, SolarInverter]:
    """The three devices of one solar system (emit from each in turn: the first one moves the system on)."""
    system = SolarSystem(config, seed)
    return SolarMppt(system, clock), SolarBmv(system, clock), SolarInverter(system, clock)


__all__ = [
    "SOLAR_DAY_KINDS",
    "Clock",
    "SolarBmv",
    "SolarDayDevice",
    "SolarDayKind",
    "SolarInverter",
    "SolarMppt",
    "solar_day_device",
    "solar_day_devices",
]
