"""Formatters: pure functions from a `Report` to text (no I/O, no clock).

`text`, `json`, `sarif`, `github` and `markdown` each render one output format. What more than
one of them needs lives here: the order findings and uses are shown in, the tally of a run, and
what the registry said about a use.

A monorepo's report is rendered as it is made, file by file, so that memory does not grow with
the tree: the streaming formatters take the run's `head` (the report without uses and findings)
and its `parts`, one `Report` per file in path order. `render(report)` is the same output for a
report held whole.
"""

from __future__ import annotations

from collections import Counter

from basepin.escape import redacted_url, shown
from basepin.model import (
    SEVERITIES,
    Finding,
    ImageUse,
    Problem,
    Report,
    Resolution,
    Unresolved,
)

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from datetime import datetime

# The summary warns when a registry says fewer pulls than this are left (Docker Hub counts
# pulls per IP; it is the only registry that sends `ratelimit-remaining`).
LOW_RATE_LIMIT = 10


def head(report: Report) -> Report:
    """What a run knows before its files are judged: the report without uses, findings and
    notes."""
    return report._replace(uses=(), findings=(), notes=())


def parts(report: Report) -> list[Report]:
    """The report file by file, in path order: one part per path that has uses, findings or
    notes."""
    uses: dict[str, list[ImageUse]] = {}
    findings: dict[str, list[Finding]] = {}
    notes: dict[str, list[Problem]] = {}
    for use in report.uses:
        uses.setdefault(use.path, []).append(use)
    for finding in report.findings:
        findings.setdefault(finding.path, []).append(finding)
    for note in report.notes:
        notes.setdefault(note.path, []).append(note)
    return [
        part(report, path, uses.get(path, ()), findings.get(path, ()), notes.get(path, ()))
        for path in sorted(uses.keys() | findings.keys() | notes.keys())
    ]


def part(
    run: Report,
    path: str,
    uses: Iterable[ImageUse],
    findings: Iterable[Finding],
    notes: Iterable[Problem] = (),
) -> Report:
    """One file's share of the run `run`: its uses, findings and notes, and the run's lookups."""
    return Report(
        (path,),
        tuple(uses),
        tuple(findings),
        (),
        run.lookups,
        run.offline,
        run.vulnerabilities,
        tuple(notes),
    )


class Tally:
    """The counts behind the summary line, kept as the parts of a run go by."""

    def __init__(self, run: Report) -> None:
        self.run = run
        self.severities: Counter[str] = Counter()
        self.files_with_findings = 0
        self.uses = 0
        self.references: set[str] = set()

    def add(self, part: Report) -> Report:
        self.severities.update(finding.severity for finding in part.findings)
        self.files_with_findings += bool(part.findings)  # a part is one file
        self.uses += len(part.uses)
        self.references.update(use.reference for use in part.uses)
        return part

    def counting(self, parts: Iterable[Report]) -> Iterator[Report]:
        """`parts`, counted as they pass."""
        return (self.add(part) for part in parts)

    def line(self) -> str:
        """See `tally`."""
        total_files = len(self.run.files)
        files_word = "file" if total_files == 1 else "files"
        if self.severities:
            shown = ", ".join(
                plural(self.severities[severity], severity)
                for severity in SEVERITIES
                if self.severities[severity]
            )
            with_findings = self.files_with_findings
            where = (
                f"{with_findings} {files_word}"
                if with_findings == total_files
                else f"{with_findings} of {total_files} {files_word}"
            )
            line = f"{shown} in {where}"
        else:
            line = f"no findings in {total_files} {files_word}"
        line += f" ({plural(self.uses, 'reference')}, {len(self.references)} unique)"
        if self.run.incomplete:
            line += f"; {plural(len(self.run.incomplete), 'reference')} could not be checked"
        remaining = rate_limit_remaining(self.run)
        if remaining is not None and remaining < LOW_RATE_LIMIT:
            line += f"; Docker Hub pull quota: {remaining} left"
        scan = self.run.vulnerabilities
        if scan is not None:
            line += f"; SBOMs: {plural(scan.pulls, 'Docker Hub pull')}"
        return line


def sorted_findings(report: Report) -> list[Finding]:
    """Findings by path, line and column; the rest of the key only keeps the order stable."""

    def key(finding: Finding) -> tuple[str, int, int, int, int, str, str, str]:
        span = finding.span
        return (
            finding.path,
            span.line,
            span.column,
            span.end_line,
            span.end_column,
            finding.rule,
            finding.reference,
            finding.message,
        )

    return sorted(report.findings, key=key)


def sorted_uses(report: Report) -> list[ImageUse]:
    """Uses by path, then in file order (a stable sort keeps uses that share a span in order)."""
    return sorted(report.uses, key=lambda use: (use.path, use.span.line, use.span.column))


def describe(finding: Finding) -> str:
    """The finding's message with the replacement its fix would write, when there is one."""
    if finding.fix is None:
        return finding.message
    return f"{finding.message} (fix: {finding.fix.replacement})"


def one_line(text: str) -> str:
    """Text from a Dockerfile, a file name or a registry as a report shows it: on one line,
    control and bidi characters as visible escapes (see `basepin.escape`), credentials in
    URLs left out."""
    return shown(redacted_url(text))


def incomplete_message(unresolved: Unresolved) -> str:
    return f"could not check {unresolved.reference}: {unresolved.reason}"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def tally(report: Report) -> str:
    """One line that sums a run up, e.g.
    `3 errors, 1 warning in 2 of 5 files (12 references, 9 unique); 1 reference could not be
    checked`.
    """
    return counted(report).line()


def counted(report: Report) -> Tally:
    """The tally of a report held whole."""
    counts = Tally(report)
    for each in parts(report):
        counts.add(each)
    return counts


def resolution_of(report: Report, use: ImageUse) -> Resolution | None:
    lookup = report.lookups.get(use.reference)
    return lookup if isinstance(lookup, Resolution) else None


def current_digest(resolution: Resolution | None) -> str | None:
    """The digest the tag points to now (None offline, and for a digest-only reference)."""
    if resolution is None or resolution.current is None:
        return None
    return resolution.current.digest


def pushed_at(resolution: Resolution | None) -> datetime | None:
    """When the tag was last pushed, else when its current image was built; always in UTC."""
    if resolution is None:
        return None
    when = resolution.pushed
    if when is None and resolution.current is not None:
        when = resolution.current.created
    return None if when is None else as_utc(when)


def pushed_source(resolution: Resolution | None) -> str | None:
    """Where `pushed_at`'s date comes from: "hub", "annotation" or "config" (DATE_SOURCES)."""
    if resolution is None:
        return None
    from basepin.dates import current_date

    dated = current_date(resolution)
    return None if dated is None else dated.source


def as_utc(when: datetime) -> datetime:
    """A naive datetime is taken to be UTC already (registries speak UTC)."""
    from datetime import timezone  # dates are shown online only: keep start-up light

    if when.tzinfo is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def iso_utc(when: datetime) -> str:
    """ISO 8601 in UTC to the second, with a `Z`: `2025-05-01T12:00:00Z`."""
    return as_utc(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def rate_limit_remaining(report: Report) -> int | None:
    """The lowest pull quota any registry answer reported, where one did."""
    quotas = [
        lookup.rate_limit_remaining
        for lookup in report.lookups.values()
        if isinstance(lookup, Resolution) and lookup.rate_limit_remaining is not None
    ]
    return min(quotas) if quotas else None
