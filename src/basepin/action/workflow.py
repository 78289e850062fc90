"""What a step tells the Actions runner: workflow commands on stdout, outputs and summary files."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path

from basepin.report.github import escape_data, escape_property


def command(name: str, message: str, **properties: str) -> str:
    """One workflow command line, e.g. `::notice title=basepin::text`."""
    shown = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{name}{' ' + shown if shown else ''}::{escape_data(message)}"


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
