"""What a step tells the Actions runner: workflow commands on stdout, outputs and summary files.

Commands are escaped as the Actions toolkit escapes them (see `basepin.escape`). Text that
comes from outside and is echoed into the log goes between `::stop-commands::` and its
random token, so the runner reads no command in it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from basepin.escape import escape_data, redacted_url, workflow_command


def command(name: str, message: str, **properties: str) -> str:
    """One workflow command line, e.g. `::notice title=basepin::text` (message and properties
    shown escaped, credentials in URLs left out)."""
    return workflow_command(name, redacted_url(message), properties)


def mask_commands(secret: str) -> list[str]:
    """`::add-mask::` lines for a secret: the value exact, escaped as the toolkit's
    `setSecret` escapes it, and each of its lines as well (the runner masks line by line)."""
    if not secret.strip():
        return []
    values = [secret]
    lines = [line.strip() for line in secret.splitlines()]
    if len(lines) > 1:
        values += [line for line in lines if line]
    return [f"::add-mask::{escape_data(value)}" for value in values]


@contextmanager
def commands_stopped(say: Callable[[str], object]) -> Iterator[None]:
    """While the block runs, the runner takes no line for a command: `say` (which prints a
    line) announces a random token before, and gives it back after."""
    import secrets

    token = secrets.token_hex(16)
    say(f"::stop-commands::{token}")
    try:
        yield
    finally:
        say(f"::{token}::")


def format_outputs(values: Mapping[str, str]) -> str:
    """`$GITHUB_OUTPUT` lines: `name=value`, or the delimiter form for a value with a line break."""
    lines = []
    for name, value in values.items():
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            lines += [f"{name}<<{delimiter}", value, delimiter]
        else:
            lines.append(f"{name}={value}")
    return "".join(line + "\n" for line in lines)


def append(path: str | None, text: str) -> None:
    """Append to a runner file (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`); outside a runner,
    where the variable is not set, there is nothing to write to."""
    if path:
        with Path(path).open("a", encoding="utf-8") as stream:
            stream.write(text)
