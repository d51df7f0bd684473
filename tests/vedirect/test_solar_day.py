"""The solar-day devices: one small solar system through compressed days, shown as an MPPT, a BMV and a
Phoenix inverter (vedirect_tools/solarday.py, solardevices.py).

The bytes go through the integration's real framing parser; each emission is one second (no clock given), so
a default day is 600 emissions, starting at 05:00.
"""

from dataclasses import dataclass, replace
import io
import itertools
import json
import time

import pytest

from custom_components.vemonitor.vedirect import registers as regs
from custom_components.vemonitor.vedirect.framing import FrameParser, TextBlock
from custom_components.vemonitor.vedirect.hexproto import encode_get, encode_set, parse_frame
from tests.e2e.demo import DEMO_SEED, DEVICES, solar_day_devices as demo_devices
from tests.vedirect.test_cli import simulate_process
from vedirect_tools import cli
from vedirect_tools.devices import synthetic_device
from vedirect_tools.solarday import DEFAULT_SEED, SolarDayConfig, SolarSystem, parse_hour
from vedirect_tools.solardevices import (
    SOLAR_DAY_KINDS,
    SolarBmv,
    SolarInverter,
    SolarMppt,
    solar_day_device,
    solar_day_devices,
)

DAY = 600  # emissions (seconds) per default day
DEFAULT_DAY = SolarDayConfig()


@dataclass(frozen=True)
class Second:
    """What the three devices sent in one second, decoded, and the system's hidden values then."""

    t: int
    hour: float
    mppt: dict[str, str]
    bmv: dict[str, str]
    inverter: dict[str, str]
    inverter_current: float
    available: float

    def num(self, device: str, label: str) -> int:
        fields: dict[str, str] = getattr(self, device)
        return int(fields[label], 0)


def blocks(data: bytes) -> list[TextBlock]:
    """The valid blocks of ``data``; every block must be valid, no byte discarded."""
    parser = FrameParser()
    events = parser.feed(data)
    assert parser.stats.invalid_blocks == 0
    assert parser.stats.discarded_bytes == 0
    assert parser.stats.hex_frames == 0
    return [event for event in events if isinstance(event, TextBlock) and event.valid]


def run(
    seconds: int, *, seed: int | None = None, config: SolarDayConfig | None = None
) -> tuple[list[Second], tuple[SolarMppt, SolarBmv, SolarInverter]]:
    """The three devices of one system for ``seconds`` emissions each."""
    devices = solar_day_devices(seed=seed, config=config)
    system = devices[0].system
    sent: dict[str, list[bytes]] = {"mppt": [], "bmv": [], "inverter": []}
    hidden = []
    for _ in range(seconds):
        for name, device in zip(sent, devices, strict=True):
            sent[name].append(b"".join(device.next_emission()))
        hidden.append((system.hour, system.inverter_current, system.panel_available))
    decoded = {name: blocks(b"".join(chunks)) for name, chunks in sent.items()}
    assert [len(decoded[name]) for name in sent] == [seconds, 2 * seconds, seconds]
    bmv_fields = [
        {**main.fields, **history.fields}
        for main, history in itertools.batched(decoded["bmv"], 2, strict=True)
    ]
    trace = [
        Second(t, hour, mppt_block.fields, bmv_block, inverter_block.fields, inverter_a, available)
        for t, (mppt_block, bmv_block, inverter_block, (hour, inverter_a, available)) in enumerate(
            zip(decoded["mppt"], bmv_fields, decoded["inverter"], hidden, strict=True)
        )
    ]
    return trace, devices


@pytest.fixture(scope="module")
def days() -> list[Second]:
    """Four default days of the default seed (05:00 on day 0 to 05:00 on day 4)."""
    trace, _ = run(4 * DAY)
    return trace


def is_night(second: Second, config: SolarDayConfig = DEFAULT_DAY) -> bool:
    return not config.sunrise <= second.hour <= config.sunset


def sunrises(trace: list[Second], config: SolarDayConfig = DEFAULT_DAY) -> list[int]:
    """The seconds at which the panel starts producing after a night."""
    return [
        now.t
        for before, now in itertools.pairwise(trace)
        if before.num("mppt", "PPV") == 0 < now.num("mppt", "PPV")
        and config.sunrise <= now.hour < config.sunrise + 3
    ]


# The day.


def test_power_follows_the_day(days: list[Second]) -> None:
    for second in days:
        ppv = second.num("mppt", "PPV")
        assert 0 <= ppv <= 250
        if is_night(second):
            assert (ppv, second.mppt["CS"], second.mppt["MPPT"]) == (0, "0", "0")
            assert second.mppt["OR"] == "0x00000001"  # no input power
            assert int(second.mppt["VPV"]) < 1000
            assert second.available == 0
    for day in range(4):
        daytime = [s for s in days[day * DAY : (day + 1) * DAY] if 8 <= s.hour <= 16]
        assert all(s.num("mppt", "PPV") > 0 and s.mppt["CS"] in {"3", "4", "5"} for s in daytime)
        # The sun's power is highest at solar noon (midway between sunrise and sunset), clouds aside.
        noon = max(days[day * DAY : (day + 1) * DAY], key=lambda s: s.available)
        assert 10.5 <= noon.hour <= 13.5, noon.hour
        morning = [s.available for s in daytime if s.hour < 9]
        midday = [s.available for s in daytime if 11.5 <= s.hour <= 12.5]
        assert max(morning) < max(midday)


def test_the_first_day_peaks_near_noon_and_yields(days: list[Second]) -> None:
    first = days[:DAY]
    peak = max(first, key=lambda s: s.num("mppt", "PPV"))
    assert 10.5 <= peak.hour <= 13.5, peak.hour
    assert peak.num("mppt", "PPV") > 150
    assert int(first[-1].mppt["H21"]) == peak.num("mppt", "PPV")
    assert int(first[-1].mppt["H20"]) > 50  # more than 0.5 kWh


def test_a_day_lasts_ten_minutes(days: list[Second]) -> None:
    starts = sunrises(days)
    # The sun rises at 06:00, 25 s after the start at 05:00; the panel gives power soon after.
    assert [start - DAY * day for day, start in enumerate(starts)] == [pytest.approx(35, abs=10)] * 4
    hours = [s.hour for s in days]
    assert hours[0] == pytest.approx(5.0, abs=0.05)
    assert hours[DAY] == pytest.approx(5.0, abs=0.05)
    night = [s for s in days[:DAY] if s.num("mppt", "PPV") == 0]
    assert len(night) == pytest.approx(DAY / 2, abs=15)  # sunrise 06:00, sunset 18:00


def test_the_charger_day_rolls_over_at_sunrise(days: list[Second]) -> None:
    rollovers = [(b, a) for b, a in itertools.pairwise(days) if a.mppt["HSDS"] != b.mppt["HSDS"]]
    assert len(rollovers) == 4
    for before, after in rollovers:
        assert 6 <= after.hour < 6.05
        assert int(after.mppt["HSDS"]) == int(before.mppt["HSDS"]) + 1
        assert (after.mppt["H22"], after.mppt["H23"]) == (before.mppt["H20"], before.mppt["H21"])
        assert after.mppt["H20"] == after.mppt["H21"] == "0"
    totals = [int(s.mppt["H19"]) for s in days]
    assert totals == sorted(totals)
    days_wh = [int(before.mppt["H20"]) for before, _ in rollovers] + [int(days[-1].mppt["H20"])]
    assert totals[-1] == pytest.approx(sum(days_wh), abs=3)


def test_other_day_lengths_and_hours() -> None:
    config = SolarDayConfig(day_length=120, sunrise=parse_hour("7:30"), sunset=20, start=0)
    trace, _ = run(360, config=config)
    starts = sunrises(trace, config)
    assert [t - 120 * day for day, t in enumerate(starts)] == [pytest.approx(40, abs=3)] * 3  # 07:30: 37.5 s
    for second in trace:
        if second.num("mppt", "PPV"):
            assert 7.5 <= second.hour <= 20


# The battery and the alarms.


def test_the_battery_charges_by_day_and_discharges_at_night(days: list[Second]) -> None:
    for day in range(4):
        today = days[day * DAY : (day + 1) * DAY]
        dawn = next(s for s in today if s.hour >= 6)
        noon = next(s for s in today if s.hour >= 13)
        evening = next(s for s in today if s.hour >= 23)
        assert noon.num("bmv", "SOC") > dawn.num("bmv", "SOC")
        assert evening.num("bmv", "SOC") < noon.num("bmv", "SOC")
    charging = [s for s in days if 9 <= s.hour <= 11]
    assert sum(s.num("bmv", "I") > 0 for s in charging) > 0.9 * len(charging)
    for second in days:
        if is_night(second):
            assert second.num("bmv", "I") < 0
            assert 0 <= int(second.bmv["TTG"]) <= 14_400
        soc = second.num("bmv", "SOC")
        assert 0 <= soc <= 1000
        assert second.num("bmv", "CE") == pytest.approx(-(1000 - soc) * 100, abs=60)
        assert second.num("bmv", "P") == pytest.approx(
            second.num("bmv", "V") * second.num("bmv", "I") / 1e6, abs=1
        )
    # Full by the afternoon of a sunny day: absorption, float, the BMV synchronised.
    assert {"4", "5"} <= {s.mppt["CS"] for s in days}
    assert max(s.num("bmv", "SOC") for s in days) == 1000
    assert int(days[-1].bmv["H10"]) >= 1


def alarm_changes(trace: list[Second], change: tuple[str, str]) -> list[Second]:
    return [
        now for before, now in itertools.pairwise(trace) if (before.bmv["Alarm"], now.bmv["Alarm"]) == change
    ]


def test_low_voltage_alarms_at_night_cleared_by_charging(days: list[Second]) -> None:
    raised = alarm_changes(days, ("OFF", "ON"))
    cleared = alarm_changes(days, ("ON", "OFF"))
    assert raised, "no alarm in four days"
    assert len(raised) < 8  # now and then
    for second in raised:
        assert second.hour >= 18 or second.hour < 7.5, second.hour  # night and early morning
        assert second.num("bmv", "V") < 12_000
    for second in cleared:
        assert second.num("bmv", "I") > 0  # charging again
        assert 6 <= second.hour <= 14
    for second in days:
        on = second.bmv["Alarm"] == "ON"
        assert (second.bmv["Relay"], second.bmv["AR"]) == (("ON", "1") if on else ("OFF", "0"))
    assert int(days[-1].bmv["H11"]) == len(raised)
    assert min(int(s.bmv["H7"]) for s in days) == int(days[-1].bmv["H7"]) < 12_000


def test_the_currents_add_up(days: list[Second]) -> None:
    """Battery current = charger output - load output - inverter draw: the BMV's I is the MPPT's I (its
    battery current, after its load output) minus the inverter's DC current."""
    for second in days:
        mppt_a, bmv_a = second.num("mppt", "I"), second.num("bmv", "I")
        assert bmv_a == pytest.approx(mppt_a - second.inverter_current * 1000, abs=2)
        assert second.mppt["V"] == second.bmv["V"]
        assert second.num("inverter", "V") <= second.num("bmv", "V")
        va, ac_v = second.num("inverter", "AC_OUT_S"), second.num("inverter", "AC_OUT_V") / 100
        # Power factor, efficiency, idle; at the voltage before the last step (an appliance moves it).
        dc_w = va * 0.85 / 0.9 + 5
        assert second.inverter_current == pytest.approx(dc_w * 1000 / second.num("bmv", "V"), rel=0.1)
        assert second.num("inverter", "AC_OUT_I") == pytest.approx(va / ac_v * 10, abs=1)
        assert (second.inverter["MODE"], second.inverter["CS"], second.inverter["OR"]) == (
            "2",
            "9",
            "0x00000000",
        )
    loads = [s.num("inverter", "AC_OUT_S") for s in days]
    assert min(loads) < 50
    assert max(loads) > 400  # an appliance now and then
    assert len(set(loads)) > 100


def test_the_inverter_warns_when_the_battery_is_low() -> None:
    devices = solar_day_devices()
    mppt = devices[0]
    mppt.hex.set_value(regs.DEVICE_MODE, "off")  # no charging at all: the battery runs down
    emissions = [[b"".join(device.next_emission()) for device in devices] for _ in range(2 * DAY)]
    inverter = [block.fields for block in blocks(b"".join(e[2] for e in emissions))]
    mppt_blocks = [block.fields for block in blocks(b"".join(e[0] for e in emissions))]
    assert {(f["CS"], f["PPV"], f["OR"]) for f in mppt_blocks} == {("0", "0", "0x00000004")}
    assert any(f["WARN"] == "1" for f in inverter)
    assert any(f["AR"] == "1" for f in inverter)
    history = blocks(b"".join(e[1] for e in emissions))[-1].fields
    assert int(history["H5"]) == 1  # one full discharge
    assert mppt.system.soc < 0.05


# The wire and HEX.


@pytest.mark.parametrize(("kind", "twin"), zip(SOLAR_DAY_KINDS, ("mppt", "bmv", "inverter"), strict=True))
def test_labels_are_the_synthesised_twins(kind: str, twin: str) -> None:
    device = solar_day_device(kind)  # type: ignore[arg-type]
    plain = synthetic_device(twin)  # type: ignore[arg-type]
    assert [[label for label, _ in block] for block in device.blocks()] == [
        [label for label, _ in block] for block in plain.blocks()
    ]
    assert device.hex.product_id == plain.hex.product_id
    assert device.hex.value(regs.SERIAL_NUMBER) == plain.hex.value(regs.SERIAL_NUMBER)


def test_hex_reads_what_the_text_says() -> None:
    trace, (mppt, bmv, inverter) = run(DAY + 200)
    last = trace[-1]
    reply = parse_frame(mppt.hex.answer(encode_get(0xEDBC))[0])
    assert reply.value == last.num("mppt", "PPV")
    assert bmv.hex.value(0x0FFF) == pytest.approx(last.num("bmv", "SOC") / 10, abs=0.06)
    assert bmv.hex.value(0xED8D) == pytest.approx(last.num("bmv", "V") / 1000, abs=0.006)
    assert inverter.hex.value(0x2205) == last.num("inverter", "AC_OUT_S")
    yesterday = mppt.hex.value(regs.HISTORY_YESTERDAY)
    assert isinstance(yesterday, dict)
    assert yesterday["yield_kwh"] == int(last.mppt["H22"]) / 100
    assert yesterday["power_max_w"] == int(last.mppt["H23"])
    assert yesterday["day_sequence"] == int(last.mppt["HSDS"]) - 1
    minutes = [yesterday[key] for key in ("time_bulk_min", "time_absorption_min", "time_float_min")]
    assert 600 < sum(m for m in minutes if isinstance(m, int)) <= 720  # 12 h of sun, the first minutes dark


def test_settings_change_what_the_devices_do() -> None:
    """The MPPT's load output, charge current and device mode; the inverter's modes and set-point."""
    devices = solar_day_devices()
    mppt, _bmv, inverter = devices

    def emit() -> tuple[dict[str, str], dict[str, str]]:
        """One second of the three (the first moves the system on): the MPPT's and the inverter's fields."""
        sent = [blocks(b"".join(device.next_emission()))[0].fields for device in devices]
        return sent[0], sent[2]

    for _ in range(170):  # to 11:50
        fields, _ = emit()
    assert fields["LOAD"] == "ON"
    assert float(fields["IL"]) > 0
    mppt.hex.answer(encode_set(regs.LOAD_OUTPUT_CONTROL, b"\x00"))
    mppt.hex.answer(encode_set(regs.BATTERY_MAX_CURRENT, (20).to_bytes(2, "little")))  # 2.0 A
    inverter.hex.answer(encode_set(regs.AC_OUT_VOLTAGE_SETPOINT, (22000).to_bytes(2, "little")))
    fields, ac = emit()
    assert (fields["LOAD"], fields["IL"], fields["MPPT"]) == ("OFF", "0", "1")  # current limited
    assert int(fields["PPV"]) < 40
    assert parse_frame(mppt.hex.answer(encode_get(regs.LOAD_OUTPUT_STATE))[0]).value == 0
    assert 21_750 < int(ac["AC_OUT_V"]) < 22_100
    inverter.hex.answer(encode_set(regs.DEVICE_MODE, b"\x04"))
    _, ac = emit()
    assert (ac["MODE"], ac["CS"], ac["AC_OUT_V"], ac["AC_OUT_S"], ac["OR"]) == (
        "4",
        "0",
        "0",
        "0",
        "0x00000004",
    )
    assert inverter.system.inverter_current == 0
    inverter.hex.answer(encode_set(regs.DEVICE_MODE, b"\x05"))
    for _ in range(400):  # into the night: nothing but the fridge, now and then
        _, ac = emit()
        if ac["CS"] == "1":
            break
    assert (ac["MODE"], ac["CS"], ac["AC_OUT_S"]) == ("5", "1", "0")  # eco: load search
    mppt.hex.answer(encode_set(regs.DEVICE_MODE, b"\x04"))
    fields, _ = emit()
    assert (fields["CS"], fields["OR"]) == ("0", "0x00000004")


# Seeds, processes, clocks.


@pytest.mark.parametrize("kind", SOLAR_DAY_KINDS)
def test_same_seed_same_values(kind: str) -> None:
    def emissions(seed: int | None) -> list[bytes]:
        device = solar_day_device(kind, seed=seed)  # type: ignore[arg-type]
        return [b"".join(device.next_emission()) for _ in range(700)]

    assert emissions(3) == emissions(3)
    assert emissions(3) != emissions(4)
    assert emissions(None) == emissions(DEFAULT_SEED)


def test_separate_processes_show_one_system() -> None:
    """Each process has its own copy of the system: with the same seed and clock, one device per copy sends
    what the views of a shared system send."""
    shared = solar_day_devices(seed=5)
    alone = [solar_day_device(kind, seed=5) for kind in SOLAR_DAY_KINDS]
    for _ in range(650):
        assert [device.next_emission() for device in alone] == [device.next_emission() for device in shared]


def test_a_clock_sets_the_time_of_day() -> None:
    now = [0.0]
    device = solar_day_device("solar-mppt", clock=lambda: now[0])
    device.next_emission()
    assert device.system.hour == pytest.approx(5.0, abs=0.05)
    now[0] = 300.0  # half a day later: 17:00
    device.next_emission()
    assert device.system.hour == pytest.approx(17.0, abs=0.05)
    now[0] = 100.0  # a clock going back moves nothing
    steps = device.system.steps
    device.next_emission()
    assert device.system.steps == steps
    assert device.tick == 3


def test_the_config_is_checked() -> None:
    for bad in (
        {"day_length": 0},
        {"sunrise": 19, "sunset": 18},
        {"sunset": 25},
        {"start": 24},
        {"peak_power": -1},
    ):
        with pytest.raises(ValueError):
            SolarDayConfig(**bad)  # type: ignore[arg-type]
    assert [parse_hour(text) for text in ("6", "6.5", "6:30", "0", "24")] == [6, 6.5, 6.5, 0, 24]
    for bad_text in ("25", "6:75", "-1", "noon"):
        with pytest.raises(ValueError):
            parse_hour(bad_text)
    assert SolarDayConfig().step == pytest.approx(60 / 144)
    assert SolarDayConfig(day_length=86_400).step == 1.0
    assert SolarSystem().config == SolarDayConfig()


# The command line and the develop stack.


def test_cli_builds_a_solar_day_device() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(
        [
            *("simulate", "--device", "solar-bmv", "--day-length", "120", "--sunrise", "6:30"),
            *("--sunset", "19", "--day-start", "4", "--peak-power", "300", "--seed", "3"),
            *("--day-origin", str(time.time() - 60)),
        ]
    )
    sim = cli.build_simulator(args)
    device = sim.source
    assert isinstance(device, SolarBmv)
    assert device.system.config == SolarDayConfig(
        day_length=120, sunrise=6.5, sunset=19, start=4, peak_power=300
    )
    assert device.system.seed == 3
    assert sim.hex is device.hex
    device.next_emission()
    assert device.system.hour == pytest.approx(4 + 12, abs=0.2)  # 60 s of a 120 s day after 04:00
    plain = cli.build_simulator(parser.parse_args(["simulate", "--device", "solar-inverter"])).source
    assert isinstance(plain, SolarInverter)
    assert plain.system.config == SolarDayConfig()
    assert plain.system.seed == DEFAULT_SEED


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "--device", "mppt", "--day-length", "60"],
        ["simulate", "--device", "solar-mppt", "--sunrise", "25"],
        ["simulate", "--device", "solar-mppt", "--sunrise", "19", "--sunset", "7"],
        ["simulate", "--device", "solar-mppt", "--day-length", "0"],
    ],
)
def test_cli_solar_day_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.usefixtures("socket_enabled")
async def test_simulate_process_serves_a_solar_day() -> None:
    async with simulate_process(
        "--device", "solar-mppt", "--tcp", "127.0.0.1:0", "--rate", "20", "--day-length", "60",
        "--day-start", "11",
    ) as (process, url):  # fmt: skip
        out = io.StringIO()
        await cli.decode_url(url, out, count=5, duration=None)
    assert process.returncode == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    fields = [line["fields"] for line in lines if line["type"] == "block"]
    assert len(fields) == 5
    assert {f["PID"] for f in fields} == {"0xA05F"}
    assert all(int(f["PPV"]) > 0 for f in fields)  # 11:00 and on: the sun is up


def test_demo_devices_are_the_stacks_devices_as_one_solar_system() -> None:
    origin = 1_800_000_000.5
    demo = demo_devices(origin)
    assert [replace(d, simulate_args=(), description="") for d in demo] == [
        replace(d, simulate_args=(), description="") for d in DEVICES
    ]
    parser = cli.build_parser()
    kinds = []
    for device in demo:
        args = parser.parse_args(["simulate", *device.simulate_args])
        assert (args.seed, args.day_origin) == (DEMO_SEED, origin)
        kinds.append(args.device)
        assert "solar day" in device.description
    assert kinds == ["solar-bmv", "solar-mppt", "solar-inverter"]
