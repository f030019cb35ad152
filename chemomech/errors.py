"""Errors raised for user mistakes.

Every user-facing mistake (a bad config key, an out-of-range value, a missing material,
a malformed file) raises a subclass of `ChemomechError` whose message is one line naming
the bad input and what is allowed. The command line prints that line and exits non-zero;
it never shows a traceback for these.
"""


class ChemomechError(Exception):
    """Base class of the errors that are the user's to fix."""


class ConfigError(ChemomechError):
    """A run configuration key is unknown, mistyped or out of range."""


class MaterialError(ChemomechError):
    """A material file is missing, malformed, or has an invalid value."""


class SolverError(ChemomechError):
    """The numerical solution broke down (e.g. the time step fell below its floor); the
    message says which run settings to change."""


class ReadError(ChemomechError):
    """A measured-data file cannot be read: the message names the file, the line (for text
    files) or dataset, and what was expected."""


def interrupted_in_kernel(exc: BaseException) -> bool:
    """True for the SystemError a compiled (numba) kernel raises when Ctrl-C arrives while
    it runs: the KeyboardInterrupt is its cause or context, or named in its message. Code
    that turns errors into reports (the CLI, a study's rows) must let these through as
    interrupts."""
    seen = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return "KeyboardInterrupt" in str(exc)
