"""A small solar system living through compressed days: the physics behind the solar-day devices.

One ``SolarSystem`` is a 12 V, 100 Ah battery charged by a 250 W panel through an MPPT (with a DC load on its
load output) and discharged by a Phoenix inverter feeding a household's AC load; ``solardevices.py`` shows it
as the three VE.Direct devices. Everything follows from the seed and the clock:

* the day: the sun rises at ``sunrise`` and sets at ``sunset`` (hours of the simulated day); the clear-sky
  power is ``peak_power * sin(pi * (t - sunrise) / (sunset - sunrise)) ** 1.2``, highest at solar noon (their
  midpoint), 0 at night. Each day gets its weather at midnight (clear 45 %, partly cloudy 35 %, overcast
  20 %): clouds come and go as a random on/off process, each with its depth, on a slow noise; the panel's
  transmittance follows them with a 3 min lag.
* the household: an AC base load by the hour (the evening's scaled 0.7 .. 1.3 per day), a fridge compressor
  cycling, appliances now and then in their hours (coffee machine 620 VA, microwave 560 VA, vacuum cleaner
  250 VA, hair dryer 500 VA; 20 min at least between two), none started below 55 % SOC or during the BMV's
  alarm. The inverter draws ``VA * 0.85 / 0.90 + 5 W`` from the battery (eco mode: 1 W, load search below
  15 VA). The MPPT's load output feeds a small DC load (0.2 .. 0.7 A).
* the battery: SOC integrates ``I_battery = I_charger - I_load_output - I_inverter`` (charge efficiency 0.95);
  its voltage is ``OCV(SOC) + R * I + polarisation`` (OCV 11.2 V empty, 11.9 V at 10 %, 12.8 V full; R 15
  mOhm; a polarisation that builds up while charging, ``2.4 V * SOC**4`` in bulk, and relaxes after), held at
  the absorption or float voltage while the charger regulates.
* the charger: off at night (below 2 W of panel power: OR "no input power"), bulk while the battery takes all
  it can give (MPPT "tracking", or "limited" at the charge current setting), absorption when the battery
  accepts less (``C * (0.0025 + (1 - SOC))`` A), float after the tail current or the absorption time limit,
  back to bulk below 85 % SOC; its day (yield today, maximum power, day sequence) rolls over at sunrise.
* the alarms: the BMV's low-voltage alarm is raised after 6 min below 12.0 V (no appliance runs that long on
  a battery low enough) and cleared at 12.3 V, above the resting voltage of a battery that low: it clears once
  the battery charges again. The inverter warns below 11.6 V at its terminals and raises its low-voltage alarm
  below 11.2 V, until 12.5 V.
* the start: 25 % SOC at 05:00 (``start``), so that the alarm is up at once and clears in the morning.

Time is simulated in fixed steps (one simulated minute, or one real second on a day longer than 24 min), so
that the state after ``advance_to(t)`` depends only on the seed, the configuration, the controls and ``t``:
separate processes with the same seed and clock origin show the same system. Every step draws the same
random numbers, whatever the state, so that the weather and the household stay the same when a device's
settings (its controls) differ.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
import math
import random
from typing import Final, NamedTuple

DEFAULT_SEED: Final = 6
"""The seed of the solar-day devices when none is given, so that separate processes agree without being told.
Its days: partly cloudy, partly cloudy, clear, clear, clear...; the low-voltage alarm is up from 05:25 to
09:53 on the first morning and again from 02:46 to 09:56 in the first night (about 9 to 12 min in), the
battery full (absorption, float) from the third day on."""
CAPACITY_AH: Final = 100.0
SECONDS_PER_DAY: Final = 86_400.0

_OCV_EMPTY, _OCV_SPAN = 11.8, 1.0  # the resting voltage's line: 11.8 V at 0 %, 1 V more at 100 %
_OCV_KNEE, _OCV_KNEE_DROP = 0.1, 0.6  # below 10 %, the voltage falls faster: 0.6 V more at 0 %
_RESISTANCE = 0.015  # ohm, battery and cables
_BULK_POLARISATION = 2.4  # V * SOC**4 on top of OCV + R*I while charging in bulk
_CHARGE_EFFICIENCY = 0.95
_MPPT_EFFICIENCY = 0.97
_START_POWER = 2.0  # W: the charger starts above this panel power
_PANEL_VOC = 21.6  # V at full sun (36 cells)
_LOW_V_SET, _LOW_V_CLEAR, _LOW_V_DELAY = 12.0, 12.3, 360.0  # the BMV's low-voltage alarm
_INVERTER_WARN_V, _INVERTER_ALARM_V, _INVERTER_RESTART_V = 11.6, 11.2, 12.5
_INVERTER_DC_PER_VA = 0.85 / 0.90  # power factor / efficiency
_INVERTER_IDLE_W, _ECO_IDLE_W, _ECO_SEARCH_VA = 5.0, 1.0, 15.0
_INVERTER_MAX_VA = 780.0
_CABLE_RESISTANCE = 0.004  # ohm, battery to inverter
_DISCHARGE_FLOOR = 0.2  # the BMV's time-to-go counts down to this SOC
_TTG_MAX_MIN = 14_400
_INITIAL_SOC = 0.25
_APPLIANCE_SOC = 0.55  # below, the household starts no appliance
_APPLIANCE_PAUSE = 1200.0  # s between two appliances


class Phase(IntEnum):
    """The charger's state, as the CS field codes it."""

    OFF = 0
    BULK = 3
    ABSORPTION = 4
    FLOAT = 5


class Weather(NamedTuple):
    name: str
    probability: float
    clear: float  # the transmittance out of a cloud
    gap_min: float  # the mean time between clouds
    cloud_min: float  # the mean time a cloud stays
    depth: tuple[float, float]  # a cloud's transmittance (relative), drawn in this range


WEATHERS: Final = (
    Weather("clear", 0.45, 0.97, 180.0, 6.0, (0.55, 0.85)),
    Weather("partly cloudy", 0.35, 0.95, 15.0, 12.0, (0.2, 0.5)),
    Weather("overcast", 0.2, 0.32, 45.0, 25.0, (0.4, 0.8)),
)


class Appliance(NamedTuple):
    name: str
    va: float
    minutes: float
    hours: tuple[tuple[float, float], ...]  # when it may start
    per_hour: float  # how often it starts within those hours


APPLIANCES: Final = (
    Appliance("coffee machine", 620.0, 5.0, ((6.5, 8.0),), 0.8),
    Appliance("microwave", 560.0, 4.0, ((12.0, 13.5), (18.0, 20.0)), 0.5),
    Appliance("vacuum cleaner", 250.0, 15.0, ((9.0, 12.0), (14.0, 17.0)), 0.08),
    Appliance("hair dryer", 500.0, 5.0, ((7.0, 8.0), (21.5, 22.5)), 0.4),
)
# The AC base load (VA) from each hour on; the evening's is scaled per day (0.7 .. 1.3).
_AC_PROFILE: Final = (
    (0.0, 6.0),
    (6.0, 25.0),
    (8.0, 12.0),
    (12.0, 35.0),
    (13.5, 12.0),
    (18.0, 50.0),
    (23.0, 20.0),
)
_EVENING = 18.0, 23.0
_FRIDGE_VA, _FRIDGE_CYCLE_MIN = 45.0, 40.0
# The DC load on the MPPT's load output (A) from each hour on: a router, the evening's lights.
_DC_PROFILE: Final = ((0.0, 0.2), (7.0, 0.3), (18.0, 0.7), (23.0, 0.3))


def _ocv(soc: float) -> float:
    """The battery's resting voltage at that state of charge."""
    return _OCV_EMPTY + _OCV_SPAN * soc - _OCV_KNEE_DROP * max(0.0, _OCV_KNEE - soc) / _OCV_KNEE


def _from_profile(profile: Sequence[tuple[float, float]], hour: float) -> float:
    value = profile[0][1]
    for start, level in profile:
        if hour >= start:
            value = level
    return value


def parse_hour(text: str) -> float:
    """``"6:30"`` or ``"6.5"`` -> 6.5 (hours of the day); ValueError if it is not within [0, 24]."""
    hours, sep, minutes = text.partition(":")
    value = float(hours) + (float(minutes) / 60 if sep else 0.0)
    if sep and not 0 <= float(minutes) < 60:
        raise ValueError(f"{text}: minutes must be within [0, 60)")
    if not 0.0 <= value <= 24.0:
        raise ValueError(f"{text} is not an hour of the day")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class SolarDayConfig:
    """How the day goes: its real length (seconds), sunrise, sunset and the start (hours), the panel (W)."""

    day_length: float = 600.0
    sunrise: float = 6.0
    sunset: float = 18.0
    start: float = 5.0
    peak_power: float = 250.0

    def __post_init__(self) -> None:
        if not self.day_length > 0:
            raise ValueError("the day length must be > 0 s")
        if not 0.0 <= self.sunrise < self.sunset <= 24.0:
            raise ValueError("sunrise and sunset must be hours of the day, sunrise first")
        if not 0.0 <= self.start < 24.0:
            raise ValueError("the start must be an hour of the day")
        if not self.peak_power > 0:
            raise ValueError("the peak power must be > 0 W")

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return SECONDS_PER_DAY / self.day_length

    @property
    def step(self) -> float:
        """Real seconds per simulation step: a simulated minute, at most a real second."""
        return min(1.0, 60.0 / self.speed)

    def clear_sky(self, hour: float) -> float:
        """The sun's share of the peak at that hour (0 at night, 1 at solar noon)."""
        if not self.sunrise < hour < self.sunset:
            return 0.0
        return float(math.sin(math.pi * (hour - self.sunrise) / (self.sunset - self.sunrise)) ** 1.2)


@dataclass(slots=True)
class Controls:
    """The devices' settings the system obeys (each device view writes its own from its HEX registers)."""

    charger_on: bool = True
    max_current: float = 20.0
    absorption_v: float = 14.4
    float_v: float = 13.8
    tail_current: float = 1.0
    absorption_hours: float = 6.0
    load_output_on: bool = True
    inverter_mode: int = 2  # 2 on, 4 off, 5 eco
    ac_setpoint: float = 230.0


@dataclass(slots=True)
class ChargerDay:
    """The MPPT's day so far (text H20/H21, the HEX history record of the day)."""

    yield_wh: float = 0.0
    consumed_wh: float = 0.0
    power_max: int = 0
    battery_v_max: float = 0.0
    battery_v_min: float = 99.0
    current_max: float = 0.0
    panel_v_max: float = 0.0
    minutes: dict[Phase, float] = field(default_factory=dict)
    sequence: int = 0


@dataclass(slots=True)
class BatteryHistory:
    """The BMV's history (H1 .. H18): depths in Ah (negative), energies in kWh."""

    deepest_ah: float
    last_ah: float
    depths: list[float]
    cycles: int = 0
    full_discharges: int = 0
    drawn_ah: float = 0.0
    min_v: float = 99.0
    max_v: float = 0.0
    since_full: float = 0.0
    syncs: int = 0
    low_v_alarms: int = 0
    starter_min: float = 99.0
    starter_max: float = 0.0
    discharged_kwh: float = 0.0
    charged_kwh: float = 0.0

    @property
    def average_ah(self) -> float:
        return sum(self.depths) / len(self.depths) if self.depths else self.last_ah


class SolarSystem:
    """The battery, the charger, the household; ``advance_to(real seconds)`` moves it on (see the module)."""

    def __init__(self, config: SolarDayConfig | None = None, seed: int | None = None) -> None:
        self.config = config or SolarDayConfig()
        self.seed = DEFAULT_SEED if seed is None else seed
        self.controls = Controls()
        self.controllers: list[Callable[[Controls], None]] = []
        """Called before the system moves on: each device writes its settings into the controls."""
        self._rng = random.Random(self.seed)
        self.dt = self.config.step * self.config.speed  # simulated seconds per step
        self.steps = 0
        self.time = self.config.start * 3600.0  # simulated seconds since the first day's midnight
        self.day = -1
        self.weather = WEATHERS[0]
        self._evening = 1.0
        self._in_cloud = False
        self._depth = 1.0
        self._noise = 0.0
        self._transmittance = 1.0
        self._appliance: Appliance | None = None
        self._appliance_until = 0.0
        # What the devices show.
        self.soc = _INITIAL_SOC
        self.polarisation = 0.0
        self.battery_current = 0.0
        self.voltage = _ocv(self.soc)
        self.average_current = 0.0
        self.sun = 0.0
        self.panel_available = 0.0
        self.panel_power = 0
        self.panel_voltage = 0.01
        self.phase = Phase.OFF
        self.tracking = False
        self.off_reason = 0x1
        self.charger_current = 0.0
        self.load_current = 0.0
        self.ac_va = 0.0
        self.ac_voltage = 0.0
        self.inverter_current = 0.0
        self.inverter_state = 9
        self.inverter_voltage = self.voltage
        self.inverter_warning = 0
        self.inverter_alarm = 0
        self.low_voltage_alarm = False
        self._low_v_for = 0.0
        self._absorption_since = 0.0
        self.yield_total_wh = 0.0
        self.today = ChargerDay()
        self.yesterday = ChargerDay()
        self.starter_voltage = 12.65
        consumed = self.consumed_ah
        self.history = BatteryHistory(deepest_ah=consumed, last_ah=consumed, depths=[])
        self._record_extremes()
        self._below_65 = self._below_5 = self._synced = False
        self._new_day()

    # Derived values.

    @property
    def hour(self) -> float:
        """The simulated time of day, in hours."""
        return (self.time % SECONDS_PER_DAY) / 3600.0

    @property
    def consumed_ah(self) -> float:
        return -(1.0 - self.soc) * CAPACITY_AH

    @property
    def time_to_go(self) -> int:
        """Minutes until the discharge floor at the average current; -1 while not discharging."""
        if self.average_current > -0.1:
            return -1
        left = max(0.0, self.soc - _DISCHARGE_FLOOR) * CAPACITY_AH
        return min(_TTG_MAX_MIN, round(left / -self.average_current * 60))

    # Moving on.

    def advance_to(self, elapsed: float) -> None:
        """Step until ``elapsed`` real seconds since the start (never back): step k covers the real seconds
        [(k - 1) * step, k * step), so that the first step is done at 0."""
        target = math.floor(elapsed / self.config.step + 1e-9) + 1
        for control in self.controllers:
            control(self.controls)
        while self.steps < target:
            self._step()

    def _new_day(self) -> None:
        """At midnight: the weather and the evening's load of the day."""
        self.day += 1
        pick, self._evening = self._rng.random(), 0.7 + 0.6 * self._rng.random()
        for weather in WEATHERS:  # pragma: no branch - the probabilities add up to 1
            self.weather = weather
            pick -= weather.probability
            if pick < 0:
                break

    def _sunrise(self) -> None:
        """The charger's new day: today becomes yesterday."""
        self.yesterday, self.today = self.today, ChargerDay(sequence=self.today.sequence + 1)

    def _step(self) -> None:
        dt, config, rng = self.dt, self.config, self._rng
        before = self.time
        self.steps += 1
        self.time = config.start * 3600.0 + self.steps * dt
        if self.time // SECONDS_PER_DAY > before // SECONDS_PER_DAY:
            self._new_day()
        sunrise = config.sunrise * 3600.0
        if (self.time - sunrise) // SECONDS_PER_DAY > (before - sunrise) // SECONDS_PER_DAY:
            self._sunrise()
        # The same draws every step, whatever the state.
        u_cloud, g_noise, u_depth = rng.random(), rng.gauss(0.0, 1.0), rng.random()
        u_start, u_pick, g_ac, g_dc = rng.random(), rng.random(), rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0)
        hour = self.hour
        self._sky(dt, hour, u_cloud, g_noise, u_depth)
        self._household(dt, hour, (u_start, u_pick, g_ac, g_dc))
        self._charge(dt)
        self._alarms(dt)
        self._count(dt)

    def _sky(self, dt: float, hour: float, u_cloud: float, g_noise: float, u_depth: float) -> None:
        weather = self.weather
        if self._in_cloud:
            self._in_cloud = u_cloud >= 1 - math.exp(-dt / (weather.cloud_min * 60))
        elif u_cloud < 1 - math.exp(-dt / (weather.gap_min * 60)):
            self._in_cloud = True
            low, high = weather.depth
            self._depth = low + (high - low) * u_depth
        tau = 1200.0
        self._noise += -self._noise * dt / tau + 0.5 * math.sqrt(2 * dt / tau) * g_noise
        target = weather.clear * (self._depth if self._in_cloud else 1.0) * (1 + 0.06 * self._noise)
        self._transmittance += (target - self._transmittance) * (1 - math.exp(-dt / 180.0))
        self._transmittance = min(1.0, max(0.02, self._transmittance))
        self.sun = self.config.clear_sky(hour) * self._transmittance
        self.panel_available = self.config.peak_power * self.sun

    def _household(self, dt: float, hour: float, draws: tuple[float, float, float, float]) -> None:
        u_start, u_pick, g_ac, g_dc = draws
        controls = self.controls
        if self._appliance is not None and self.time >= self._appliance_until:
            self._appliance = None
            self._appliance_until += _APPLIANCE_PAUSE
        free = self._appliance is None and self.time >= self._appliance_until
        if free and not (self.low_voltage_alarm or self.soc < _APPLIANCE_SOC):
            due = [a for a in APPLIANCES if any(start <= hour < end for start, end in a.hours)]
            rate = sum(a.per_hour for a in due)
            if due and u_start < 1 - math.exp(-rate * dt / 3600):
                pick = u_pick * rate
                for appliance in due:  # pragma: no branch - the picks add up to the rate
                    pick -= appliance.per_hour
                    if pick < 0:
                        self._appliance = appliance
                        self._appliance_until = self.time + appliance.minutes * 60
                        break
        base = _from_profile(_AC_PROFILE, hour) * (self._evening if _EVENING[0] <= hour < _EVENING[1] else 1)
        fridge_on = (self.time / 60) % _FRIDGE_CYCLE_MIN < 10 + 6 * self.config.clear_sky(hour)
        demand = base * max(0.0, 1 + 0.08 * g_ac) + _FRIDGE_VA * fridge_on
        demand = min(_INVERTER_MAX_VA, demand + (self._appliance.va if self._appliance else 0.0))
        battery_v = self.voltage
        if controls.inverter_mode == 4:
            self.ac_va, self.ac_voltage, self.inverter_state, dc_power = 0.0, 0.0, 0, 0.0
        elif controls.inverter_mode == 5 and demand < _ECO_SEARCH_VA:
            self.ac_va, self.ac_voltage, self.inverter_state, dc_power = 0.0, 0.0, 1, _ECO_IDLE_W
        else:
            self.ac_va, self.inverter_state = demand, 9
            self.ac_voltage = controls.ac_setpoint - 0.003 * demand + 0.15 * g_ac
            idle = _ECO_IDLE_W if controls.inverter_mode == 5 else _INVERTER_IDLE_W
            dc_power = demand * _INVERTER_DC_PER_VA + idle
        self.inverter_current = dc_power / battery_v
        dc_load = _from_profile(_DC_PROFILE, hour) * max(0.0, 1 + 0.05 * g_dc)
        self.load_current = dc_load if controls.load_output_on else 0.0

    def _acceptance(self) -> float:
        """What the battery takes at the charger's set-point (A)."""
        if self.phase is Phase.FLOAT:
            return CAPACITY_AH * (0.0015 + 0.5 * (1 - self.soc))
        return CAPACITY_AH * (0.0025 + 1.0 * (1 - self.soc))

    def _charge(self, dt: float) -> None:
        controls, voltage = self.controls, self.voltage
        loads = self.load_current + self.inverter_current
        if not controls.charger_on or self.panel_available < _START_POWER:
            self.phase, self.tracking, self.charger_current = Phase.OFF, False, 0.0
            self.off_reason = 0x4 if not controls.charger_on else 0x1
        else:
            if self.phase is Phase.OFF or (self.phase is not Phase.BULK and self.soc < 0.85):
                self.phase = Phase.BULK
            self.off_reason = 0
            possible = self.panel_available * _MPPT_EFFICIENCY / voltage
            available = min(possible, controls.max_current)
            accepted = self._acceptance()
            regulated = available - loads > accepted
            if regulated and self.phase is Phase.BULK:
                self.phase, self._absorption_since = Phase.ABSORPTION, self.time
            self.charger_current = accepted + loads if regulated else available
            self.tracking = not regulated and possible <= controls.max_current
            if self.phase is Phase.ABSORPTION and (
                (regulated and self.charger_current - loads < controls.tail_current)
                or self.time - self._absorption_since >= controls.absorption_hours * 3600
            ):
                self.phase = Phase.FLOAT
        current = self.charger_current - loads
        self.battery_current = current
        gain = current * (_CHARGE_EFFICIENCY if current > 0 else 1.0) * dt / 3600 / CAPACITY_AH
        self.soc = min(1.0, max(0.0, self.soc + gain))
        ocv = _ocv(self.soc)
        if self.phase is Phase.OFF or current <= 0:
            target = 0.0
        else:
            setpoint = controls.float_v if self.phase is Phase.FLOAT else controls.absorption_v
            charging = ocv + _RESISTANCE * current + _BULK_POLARISATION * self.soc**4
            target = min(setpoint, charging) - ocv - _RESISTANCE * current
        tau = 180.0 if target > self.polarisation or current > 0 else 2400.0  # charging, or relaxing
        self.polarisation += (target - self.polarisation) * (1 - math.exp(-dt / tau))
        self.voltage = ocv + _RESISTANCE * current + self.polarisation
        self.average_current += (current - self.average_current) * (1 - math.exp(-dt / 300.0))
        if self.charger_current:  # the current was worked out at the voltage before the step
            self.panel_power = round(self.charger_current * voltage / _MPPT_EFFICIENCY)
            voc = _PANEL_VOC + 0.9 * math.log(max(self.sun, 1e-3))
            vmp = 0.8 * voc - 0.6 * self.sun
            limited = 1 - self.panel_power / max(self.panel_available, 1.0)
            self.panel_voltage = vmp + (voc - vmp) * max(0.0, limited)
        else:
            self.panel_power = 0
            self.panel_voltage = _PANEL_VOC + 0.9 * math.log(self.sun) if self.sun > 1e-3 else 0.01

    def _alarms(self, dt: float) -> None:
        if self.voltage < _LOW_V_SET:
            self._low_v_for += dt
            if self._low_v_for >= _LOW_V_DELAY and not self.low_voltage_alarm:
                self.low_voltage_alarm = True
                self.history.low_v_alarms += 1
        else:
            self._low_v_for = 0.0
            if self.voltage >= _LOW_V_CLEAR:
                self.low_voltage_alarm = False
        self.inverter_voltage = self.voltage - _CABLE_RESISTANCE * self.inverter_current
        on = self.controls.inverter_mode != 4
        self.inverter_warning = int(on and self.inverter_voltage < _INVERTER_WARN_V)
        if on and self.inverter_voltage < _INVERTER_ALARM_V:
            self.inverter_alarm = 1
        elif self.inverter_voltage >= _INVERTER_RESTART_V:
            self.inverter_alarm = 0

    def _count(self, dt: float) -> None:
        hours, current, voltage = dt / 3600, self.battery_current, self.voltage
        self.starter_voltage = 12.65 + 0.35 * min(1.0, max(0.0, (voltage - 13.0) / 1.4))
        history = self.history
        if current < 0:
            history.drawn_ah += current * hours
            history.discharged_kwh += -current * voltage * hours / 1000
        else:
            history.charged_kwh += current * voltage * hours / 1000
        history.since_full += dt
        if self.soc < 0.99:
            self._synced = False
        elif self.phase is Phase.FLOAT and self.soc >= 0.995 and not self._synced:
            self.soc, self._synced = 1.0, True  # the BMV synchronises
            history.syncs += 1
            history.since_full = 0.0
            history.depths.append(history.last_ah)
            history.last_ah = 0.0
            history.cycles += self._below_65
            self._below_65 = self._below_5 = False
        consumed = self.consumed_ah
        history.deepest_ah = min(history.deepest_ah, consumed)
        history.last_ah = min(history.last_ah, consumed)
        if self.soc < 0.65:
            self._below_65 = True
        if self.soc < 0.05 and not self._below_5:
            self._below_5 = True
            history.full_discharges += 1
        self._record_extremes()
        output_wh = self.charger_current * voltage * hours
        self.yield_total_wh += output_wh
        today = self.today
        today.yield_wh += output_wh
        today.consumed_wh += self.load_current * voltage * hours
        today.power_max = max(today.power_max, self.panel_power)
        today.current_max = max(today.current_max, self.charger_current)
        today.panel_v_max = max(today.panel_v_max, self.panel_voltage)
        if self.phase is not Phase.OFF:
            today.minutes[self.phase] = today.minutes.get(self.phase, 0.0) + dt / 60

    def _record_extremes(self) -> None:
        history, today, voltage = self.history, self.today, self.voltage
        history.min_v, history.max_v = min(history.min_v, voltage), max(history.max_v, voltage)
        history.starter_min = min(history.starter_min, self.starter_voltage)
        history.starter_max = max(history.starter_max, self.starter_voltage)
        today.battery_v_min, today.battery_v_max = (
            min(today.battery_v_min, voltage),
            max(today.battery_v_max, voltage),
        )


__all__ = [
    "APPLIANCES",
    "CAPACITY_AH",
    "DEFAULT_SEED",
    "WEATHERS",
    "Appliance",
    "BatteryHistory",
    "ChargerDay",
    "Controls",
    "Phase",
    "SolarDayConfig",
    "SolarSystem",
    "Weather",
    "parse_hour",
]
