"""GitHub Actions workflow commands: one annotation per finding, on the line it is about.

    ::error file=Dockerfile,line=3,col=6,endLine=3,endColumn=17,title=basepin/unpinned::message

Severities map to `error`, `warning` and `notice`. References that could not be checked are
file-less warnings titled `basepin/incomplete`. Messages and properties are escaped as the
Actions toolkit escapes them, after `basepin.escape.shown`: one command a line, and nothing
in them the runner or a terminal would act on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from basepin.escape import redacted_url, workflow_command
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
        message = redacted_url(incomplete_message(unresolved))
        yield workflow_command("warning", message, {"title": "basepin/incomplete"}) + "\n"


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
        message = redacted_url(describe(finding))
        yield workflow_command(_COMMANDS[finding.severity], message, properties) + "\n"
