"""VE.Direct code tables: CS, ERR, MPPT, MODE, MON enums and the OR, AR/WARN, CAP_BLE flag sets.

Every member has a stable snake_case ``key`` (usable as a Home Assistant translation key) and an English
``label``. A code a newer firmware sends and this table does not know yet becomes a pseudo-member that keeps
its integer (key ``unknown_<n>``) instead of raising.
"""

from enum import KEEP, IntEnum, IntFlag
from typing import Any, Self


class VeCode(IntEnum):
    """Base of the code tables: ``Member = value, "English label"``."""

    label: str

    def __new__(cls, value: int, label: str = "") -> Self:
        member = int.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @property
    def key(self) -> str:
        return self.name.lower() if self.name else f"unknown_{int(self)}"

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, int):
            return None
        member = int.__new__(cls, value)
        member._value_ = value
        member._name_ = f"UNKNOWN_{value}".replace("-", "MINUS_")
        member.label = f"Unknown ({value})"
        return member


class ChargeState(VeCode):
    """CS: state of operation."""

    OFF = 0, "Off"
    LOW_POWER = 1, "Low power"
    FAULT = 2, "Fault"
    BULK = 3, "Bulk"
    ABSORPTION = 4, "Absorption"
    FLOAT = 5, "Float"
    STORAGE = 6, "Storage"
    EQUALIZE = 7, "Equalize (manual)"
    INVERTING = 9, "Inverting"
    POWER_SUPPLY = 11, "Power supply"
    STARTING_UP = 245, "Starting-up"
    REPEATED_ABSORPTION = 246, "Repeated absorption"
    AUTO_EQUALIZE = 247, "Auto equalize / Recondition"
    BATTERY_SAFE = 248, "BatterySafe"
    LOAD_DETECT = 249, "Load detect"
    EXTERNAL_CONTROL = 252, "External control"
    UNAVAILABLE = 255, "Unavailable"


class ErrorCode(VeCode):
    """ERR: charger error code."""

    NO_ERROR = 0, "No error"
    BATTERY_VOLTAGE_TOO_HIGH = 2, "Battery voltage too high"
    CHARGER_TEMPERATURE_TOO_HIGH = 17, "Charger temperature too high"
    CHARGER_OVER_CURRENT = 18, "Charger over current"
    CHARGER_CURRENT_REVERSED = 19, "Charger current reversed"
    BULK_TIME_LIMIT_EXCEEDED = 20, "Bulk time limit exceeded"
    CURRENT_SENSOR_ISSUE = 21, "Current sensor issue"
    TERMINALS_OVERHEATED = 26, "Terminals overheated"
    CONVERTER_ISSUE = 28, "Converter issue"
    INPUT_VOLTAGE_TOO_HIGH = 33, "Input voltage too high (solar panel)"
    INPUT_CURRENT_TOO_HIGH = 34, "Input current too high (solar panel)"
    INPUT_SHUTDOWN_BATTERY_VOLTAGE = 38, "Input shutdown (excessive battery voltage)"
    INPUT_SHUTDOWN_CURRENT_FLOW = 39, "Input shutdown (current flow during off mode)"
    LOST_COMMUNICATION = 65, "Lost communication with one of the devices"
    SYNCHRONISED_CHARGING_CONFIG = 66, "Synchronised charging device configuration issue"
    BMS_CONNECTION_LOST = 67, "BMS connection lost"
    NETWORK_MISCONFIGURED = 68, "Network misconfigured"
    FACTORY_CALIBRATION_LOST = 116, "Factory calibration data lost"
    INVALID_FIRMWARE = 117, "Invalid/incompatible firmware"
    USER_SETTINGS_INVALID = 119, "User settings invalid"


class TrackerMode(VeCode):
    """MPPT: tracker operation mode."""

    OFF = 0, "Off"
    LIMITED = 1, "Voltage or current limited"
    MPP_TRACKER = 2, "MPP tracker active"


class DeviceMode(VeCode):
    """MODE: device mode of inverters and chargers."""

    CHARGER = 1, "Charger"
    INVERTER = 2, "Inverter"
    OFF = 4, "Off"
    ECO = 5, "Eco"
    HIBERNATE = 253, "Hibernate"


class MonitorMode(VeCode):
    """MON: DC monitor mode (negative = source, positive = load)."""

    SOLAR_CHARGER = -9, "Solar charger"
    WIND_TURBINE = -8, "Wind turbine"
    SHAFT_GENERATOR = -7, "Shaft generator"
    ALTERNATOR = -6, "Alternator"
    FUEL_CELL = -5, "Fuel cell"
    WATER_GENERATOR = -4, "Water generator"
    DC_DC_CHARGER = -3, "DC/DC charger"
    AC_CHARGER = -2, "AC charger"
    GENERIC_SOURCE = -1, "Generic source"
    BATTERY_MONITOR = 0, "Battery monitor"
    GENERIC_LOAD = 1, "Generic load"
    ELECTRIC_DRIVE = 2, "Electric drive"
    FRIDGE = 3, "Fridge"
    WATER_PUMP = 4, "Water pump"
    BILGE_PUMP = 5, "Bilge pump"
    DC_SYSTEM = 6, "DC system"
    INVERTER = 7, "Inverter"
    WATER_HEATER = 8, "Water heater"


class VeFlags(IntFlag, boundary=KEEP):
    """Base of the bitmask tables; unknown bits are kept, not dropped."""

    @property
    def keys(self) -> list[str]:
        """Snake_case keys of the set bits (unknown bits as ``bit_<n>``)."""
        known = [member.name.lower() for member in self if member.name]
        unknown = int(self) & ~sum(int(member) for member in type(self))
        return known + [f"bit_{bit}" for bit in range(unknown.bit_length()) if unknown >> bit & 1]


class OffReason(VeFlags):
    """OR: off reason."""

    NO_INPUT_POWER = 0x001
    SWITCHED_OFF_SWITCH = 0x002
    SWITCHED_OFF_REGISTER = 0x004
    REMOTE_INPUT = 0x008
    PROTECTION_ACTIVE = 0x010
    PAYGO = 0x020
    BMS = 0x040
    ENGINE_SHUTDOWN = 0x080
    ANALYSING_INPUT_VOLTAGE = 0x100


class AlarmReason(VeFlags):
    """AR (latched) and WARN (current): alarm/warning reasons."""

    LOW_VOLTAGE = 1
    HIGH_VOLTAGE = 2
    LOW_SOC = 4
    LOW_STARTER_VOLTAGE = 8
    HIGH_STARTER_VOLTAGE = 16
    LOW_TEMPERATURE = 32
    HIGH_TEMPERATURE = 64
    MID_VOLTAGE = 128
    OVERLOAD = 256
    DC_RIPPLE = 512
    LOW_V_AC_OUT = 1024
    HIGH_V_AC_OUT = 2048
    SHORT_CIRCUIT = 4096
    BMS_LOCKOUT = 8192


class BleCapabilities(VeFlags):
    """CAP_BLE: Bluetooth capabilities."""

    SUPPORTS_SWITCHING_OFF = 0x1
    SWITCH_OFF_PERMANENT = 0x2


OFF_REASON_LABELS: dict[OffReason, str] = {
    OffReason.NO_INPUT_POWER: "No input power",
    OffReason.SWITCHED_OFF_SWITCH: "Switched off (power switch)",
    OffReason.SWITCHED_OFF_REGISTER: "Switched off (device mode register)",
    OffReason.REMOTE_INPUT: "Remote input",
    OffReason.PROTECTION_ACTIVE: "Protection active",
    OffReason.PAYGO: "Paygo",
    OffReason.BMS: "BMS",
    OffReason.ENGINE_SHUTDOWN: "Engine shutdown detection",
    OffReason.ANALYSING_INPUT_VOLTAGE: "Analysing input voltage",
}

ALARM_REASON_LABELS: dict[AlarmReason, str] = {
    AlarmReason.LOW_VOLTAGE: "Low voltage",
    AlarmReason.HIGH_VOLTAGE: "High voltage",
    AlarmReason.LOW_SOC: "Low SOC",
    AlarmReason.LOW_STARTER_VOLTAGE: "Low starter voltage",
    AlarmReason.HIGH_STARTER_VOLTAGE: "High starter voltage",
    AlarmReason.LOW_TEMPERATURE: "Low temperature",
    AlarmReason.HIGH_TEMPERATURE: "High temperature",
    AlarmReason.MID_VOLTAGE: "Mid voltage",
    AlarmReason.OVERLOAD: "Overload",
    AlarmReason.DC_RIPPLE: "DC ripple",
    AlarmReason.LOW_V_AC_OUT: "Low V AC out",
    AlarmReason.HIGH_V_AC_OUT: "High V AC out",
    AlarmReason.SHORT_CIRCUIT: "Short circuit",
    AlarmReason.BMS_LOCKOUT: "BMS lockout",
}
