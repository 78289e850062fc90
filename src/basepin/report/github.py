"""GitHub Actions workflow commands: one annotation per finding, on the line it is about.

    ::error file=Dockerfile,line=3,col=6,endLine=3,endColumn=17,title=basepin/unpinned::message

Severities map to `error`, `warning` and `notice`. References that could not be checked are
file-less warnings titled `basepin/incomplete`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from basepin.model import Report
from basepin.report import describe, head, incomplete_message, parts, sorted_findings

_COMMANDS = {"error": "error", "warning": "warning", "note": "notice"}


def render(report: Report) -> str:
    return "".join(lines(head(report), parts(report)))


def lines(run: Report, files: Iterable[Report]) -> Iterator[str]:
    """`render` a line at a time from the run's head and its parts (see `basepin.report`)."""
    for part in files:
        yield from _annotations(part)
    for unresolved in run.incomplete:
        message = incomplete_message(unresolved)
        yield _command("warning", {"title": "basepin/incomplete"}, message) + "\n"


def _annotations(report: Report) -> Iterator[str]:
    for finding in sorted_findings(report):
        span = finding.span
        properties = {
            "file": finding.path,
            "line": str(span.line),
            "col": str(span.column),
            "endLine": str(span.end_line),
            "endColumn": str(span.end_column),
            "title": f"basepin/{finding.rule}",
        }
        yield _command(_COMMANDS[finding.severity], properties, describe(finding)) + "\n"


def _command(name: str, properties: dict[str, str], message: str) -> str:
    shown = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{name} {shown}::{escape_data(message)}"


def escape_data(text: str) -> str:
    """Escape a command's message as the Actions runner reads it back."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value: as data, and `:` and `,` that would end it."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
