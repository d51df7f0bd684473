"""The protocol package's errors, in one module so that the client and its HEX channel share them."""

from .registers import HexValue


class VeDirectError(Exception):
    """Base of the client's errors."""


class PortOpenError(VeDirectError):
    """The port cannot be opened (missing, busy, refused, unknown URL scheme) or failed while in use."""


class NoDataError(VeDirectError):
    """The port opened but no valid VE.Direct block arrived within the timeout."""


class HexError(VeDirectError):
    """A HEX request failed; every HEX failure is one of these."""


class HexTimeoutError(HexError):
    """No matching reply after every try."""


class HexNotConnectedError(HexError):
    """The port is not open, or closed while the request waited (the client reconnects)."""


class HexUnsupportedError(HexError):
    """The device was found not to answer HEX at all (old firmware, a read-only bridge)."""


class HexUnknownRegisterError(HexError):
    """Reply flag 0x01: the device does not know the register."""


class HexNotWritableError(HexError):
    """Reply flag 0x02: not supported (a write to a read-only register)."""


class HexParameterError(HexError):
    """Reply flag 0x04: the value was refused (out of range); ``value`` is what the device returned."""

    def __init__(self, message: str, value: HexValue = None) -> None:
        super().__init__(message)
        self.value = value


class HexUnknownCommandError(HexError):
    """Reply ``:3``: the device does not know the command."""
