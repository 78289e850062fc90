"""The terminal report: one line per finding, `path:line:col: severity rule: message`.

Paths, references and messages are escaped (see `basepin.escape`): no line break, control
or bidi character gets through, and a file named `::error::x` starts no workflow command.
"""

from __future__ import annotations

from basepin.escape import not_a_command
from basepin.report import (
    Tally,
    counted,
    describe,
    head,
    incomplete_message,
    one_line,
    parts,
    sorted_findings,
)

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from basepin.model import Report

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_SEVERITY_COLOURS = {"error": "\x1b[1;31m", "warning": "\x1b[33m", "note": "\x1b[36m"}


def render(report: Report, *, color: bool) -> str:
    """Findings sorted by path, line and column, then one line per reference that could not
    be checked (`basepin: could not check <ref>: <reason>`). Empty when there is nothing to say.
    """
    return "".join(lines(head(report), parts(report), color=color))


def lines(run: Report, files: Iterable[Report], *, color: bool) -> Iterator[str]:
    """`render` a line at a time from the run's head and its parts (see `basepin.report`)."""
    for part in files:
        yield from _finding_lines(part, color)
    for unresolved in run.incomplete:
        yield f"basepin: {one_line(incomplete_message(unresolved))}\n"


def _finding_lines(report: Report, color: bool) -> Iterator[str]:
    for finding in sorted_findings(report):
        span = finding.span
        location = not_a_command(one_line(f"{finding.path}:{span.line}:{span.column}:"))
        message = one_line(describe(finding))
        if color:
            severity = _SEVERITY_COLOURS[finding.severity] + finding.severity + _RESET
            yield f"{_BOLD}{location}{_RESET} {severity} {_DIM}{finding.rule}:{_RESET} {message}\n"
        else:
            yield f"{location} {finding.severity} {finding.rule}: {message}\n"


def summary(report: Report) -> str:
    """One line for stderr, e.g. `basepin: 3 errors, 1 warning in 2 of 5 files (12 references,
    9 unique); 1 reference could not be checked; Docker Hub pull quota: 4 left`.
    """
    return summary_of(counted(report))


def summary_of(counts: Tally) -> str:
    """`summary` of a run whose parts were counted as they were rendered."""
    return f"basepin: {one_line(counts.line())}"
