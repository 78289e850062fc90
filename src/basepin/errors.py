"""The one exception root; only the CLI catches it and turns it into an exit code."""

from __future__ import annotations


class BasepinError(Exception):
    """A problem the user can act on; its message is shown as it is, without a traceback."""

    exit_code = 2


class UsageError(BasepinError):
    """Bad command line or configuration (exit 2)."""


class ConfigError(UsageError):
    """A configuration file that cannot be read or does not fit the schema (exit 2)."""


class InvalidReference(BasepinError):
    """Text that is not a valid image reference; the message says what is wrong."""
