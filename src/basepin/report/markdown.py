"""The job summary: a verdict, then one table row per image reference, so the whole picture
shows, not only the failures; the references that could not be checked below it.

Text from Dockerfiles and registries is escaped, so it cannot break the table or turn into
links and markup. The runner refuses a step's summary file above 1 MiB (it uploads none of it
then), so the summary is sized in bytes as the file will hold it (UTF-8, with the runner's
line endings): rows that do not fit are left out at a row boundary, with a line that says how
many and where the full report is.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime

from basepin.model import Finding, ImageUse, Lookup, Missing, Report, Resolution, Unresolved
from basepin.report import (
    as_utc,
    current_digest,
    one_line,
    plural,
    pushed_at,
    sorted_findings,
    sorted_uses,
    tally,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from basepin.model import UseKind

SUMMARY_LIMIT = 1024 * 1024  # bytes, GitHub's limit for one step's summary
FULL_REPORT = "the JSON report (basepin check --format json) or the SARIF report"

_HEADER = (
    "| File | Line | Image | Tag | Pinned | Current | Age | Size | Findings |",
    "| --- | ---: | --- | --- | --- | --- | ---: | ---: | --- |",
)
# With the `vulnerable` rule on, a column of known vulnerabilities before the findings.
_HEADER_WITH_VULNERABILITIES = (
    "| File | Line | Image | Tag | Pinned | Current | Age | Size | Vulnerabilities | Findings |",
    "| --- | ---: | --- | --- | --- | --- | ---: | ---: | --- | --- |",
)
_NONE = "—"
# After the image, where the file names it: rows of one ARG's FROM and RUN --mount, or of a
# Compose service and a Kubernetes container, would look alike without these.
_KIND_MARKS: Mapping[UseKind, str] = {
    "from": "",
    "copy-from": " (COPY --from)",
    "mount-from": " (RUN --mount)",
    "syntax": " (# syntax)",
    "compose-image": " (Compose service)",
    "workflow-container": " (job container)",
    "workflow-service": " (job service)",
    "workflow-step": " (docker:// step)",
    "action-image": " (Docker action)",
    "action-step": " (docker:// step)",
    "kubernetes-container": " (Kubernetes container)",
    "devcontainer-image": " (dev container)",
    "gitlab-image": " (GitLab CI image)",
    "gitlab-service": " (GitLab CI service)",
}
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_\[\]<>|~&$#]")

_RowKey = tuple[str, int, int]


def render(
    report: Report,
    *,
    now: datetime,
    limit: int = SUMMARY_LIMIT,
    newline: str = "\n",
    full_report: str = FULL_REPORT,
) -> str:
    """The summary as Markdown, at most `limit` bytes once written as `encoded(.., newline)`
    (ages are counted to `now`). A cut names `full_report` as the place to read every row."""
    head = ["## basepin", "", f"{_verdict_icon(report)} {escape(tally(report))}", ""]
    if report.offline:
        head += [
            "Offline run: the registry was not asked, so current digests, ages and sizes "
            "are blank.",
            "",
        ]
    rows = _rows(report, as_utc(now))
    unchecked = [f"- {code(u.reference)}: {escape(u.reason)}" for u in report.incomplete]

    header = _HEADER if report.vulnerabilities is None else _HEADER_WITH_VULNERABILITIES

    def assemble(kept_rows: int, kept_unchecked: int) -> str:
        return _assemble(head, header, rows, unchecked, kept_rows, kept_unchecked, full_report)

    document = assemble(len(rows), len(unchecked))
    if len(encoded(document, newline)) <= limit:
        return document
    # The frame with every line left out is the largest the note can make it.
    budget = limit - len(encoded(assemble(0, 0), newline))
    kept_rows = _fitting(rows, budget, newline)
    budget -= sum(len(encoded(row + "\n", newline)) for row in rows[:kept_rows])
    kept_unchecked = _fitting(unchecked, budget, newline)
    return assemble(kept_rows, kept_unchecked)


def encoded(text: str, newline: str = "\n") -> bytes:
    """The bytes a summary file holds for `text`: UTF-8 with `newline` for each line break.
    A lone surrogate (from a file name that is not UTF-8) is written as `?`."""
    if newline != "\n":
        text = text.replace("\n", newline)
    return text.encode("utf-8", "replace")


def _assemble(
    head: list[str],
    header: tuple[str, ...],
    rows: list[str],
    unchecked: list[str],
    kept_rows: int,
    kept_unchecked: int,
    full_report: str,
) -> str:
    lines = list(head)
    if rows:
        lines += [*header, *rows[:kept_rows], ""]
    else:
        lines += ["No image references found.", ""]
    if unchecked:
        lines += ["### Could not be checked", "", *unchecked[:kept_unchecked], ""]
    left_out = [
        plural(len(rows) - kept_rows, "row") if kept_rows < len(rows) else "",
        plural(len(unchecked) - kept_unchecked, "unchecked reference")
        if kept_unchecked < len(unchecked)
        else "",
    ]
    if any(left_out):
        lines += [
            f"_{' and '.join(part for part in left_out if part)} left out: GitHub takes at most "
            f"1 MiB of summary per step. Every row is in {full_report}._",
            "",
        ]
    return "\n".join(lines)


def _fitting(lines: list[str], budget: int, newline: str) -> int:
    """How many of the leading lines fit in `budget` bytes, a line break after each."""
    used = 0
    for count, line in enumerate(lines):
        used += len(encoded(line + "\n", newline))
        if used > budget:
            return count
    return len(lines)


def _verdict_icon(report: Report) -> str:
    if any(finding.severity == "error" for finding in report.findings):
        return ":x:"
    if report.incomplete or any(finding.severity == "warning" for finding in report.findings):
        return ":warning:"
    return ":white_check_mark:"


def _rows(report: Report, now: datetime) -> list[str]:
    """One row per use, and one per finding that belongs to no use (a file-wide problem)."""
    findings_of: defaultdict[tuple[str, int, str], list[Finding]] = defaultdict(list)
    for finding in sorted_findings(report):
        findings_of[(finding.path, finding.span.line, finding.reference)].append(finding)
    rows: list[tuple[_RowKey, list[str]]] = []
    shown: set[tuple[str, int, str]] = set()
    for use in sorted_uses(report):
        # Uses of one ARG share its line, so each of their rows shows its findings.
        key = (use.path, use.span.line, use.reference)
        shown.add(key)
        cells = [
            code(use.path),
            str(use.span.line),
            *_use_cells(report, use, now),
            *_vulnerabilities_cell(report, use),
            _findings_cell(findings_of.get(key, [])),
        ]
        rows.append(((use.path, use.span.line, use.span.column), cells))
    for (path, line, reference), findings in findings_of.items():
        if (path, line, reference) in shown:
            continue
        image = code(reference) if reference else _NONE
        blank = 5 if report.vulnerabilities is None else 6
        cells = [code(path), str(line), image, *[_NONE] * blank, _findings_cell(findings)]
        rows.append(((path, line, findings[0].span.column), cells))
    rows.sort(key=lambda row: row[0])
    return ["| " + " | ".join(cells) + " |" for _, cells in rows]


def _use_cells(report: Report, use: ImageUse, now: datetime) -> list[str]:
    """Image, tag, pinned digest, current digest, age and size."""
    if not use.resolved:
        image, tag, pinned = code(use.reference), _NONE, _NONE
    else:
        name, tag_text, digest = split_reference(use.reference)
        image = code(name)
        tag = _NONE if tag_text is None else code(tag_text)
        pinned = _NONE if digest is None else code(short_digest(digest))
    lookup = report.lookups.get(use.reference)
    resolution = lookup if isinstance(lookup, Resolution) else None
    current = current_digest(resolution)
    pushed = pushed_at(resolution)
    size = None
    if resolution is not None:
        size = resolution.size or (resolution.current.size if resolution.current else None)
    return [
        image + _KIND_MARKS[use.kind],
        tag,
        pinned,
        _current_cell(lookup, current),
        _NONE if pushed is None else plural(max(0, (now - pushed).days), "day"),
        _NONE if size is None else human_size(size),
    ]


def _vulnerabilities_cell(report: Report, use: ImageUse) -> list[str]:
    """No cell without the `vulnerable` rule; else `14 (2 critical, 5 high)`, `none known`,
    or why they are unknown."""
    if report.vulnerabilities is None:
        return []
    summary = report.vulnerabilities.by_reference.get(use.reference)
    if summary is None:
        return [_NONE]
    if summary.counts is None:
        return [escape(f"unknown: {summary.reason or 'not checked'}")]
    if not summary.total:
        return ["none known"]
    worst = [f"{n} {level}" for level, n in summary.by_level.items() if n][:2]
    return [escape(f"{summary.total} ({', '.join(worst)})")]


def _current_cell(lookup: Lookup | None, current: str | None) -> str:
    if isinstance(lookup, Missing):
        return "not found"
    if isinstance(lookup, Unresolved):
        return "not checked"
    return _NONE if current is None else code(short_digest(current))


def _findings_cell(findings: list[Finding]) -> str:
    if not findings:
        return _NONE
    cells = []
    for finding in findings:
        cell = f"**{finding.severity}** {code(finding.rule)}: {escape(finding.message)}"
        if finding.fix is not None:
            cell += f" (fix: {code(finding.fix.replacement)})"
        cells.append(cell)
    return "<br>".join(cells)


def split_reference(reference: str) -> tuple[str, str | None, str | None]:
    """`name[:tag][@digest]` into its parts, for display only (no validation)."""
    name, _, digest = reference.partition("@")
    tag = None
    colon = name.rfind(":")
    if colon > name.rfind("/"):  # a colon before the last slash is a registry port
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest or None


def short_digest(digest: str) -> str:
    """`sha256:0123456789abcdef…` -> `sha256:01234567…`."""
    algorithm, _, hex_digits = digest.partition(":")
    return f"{algorithm}:{hex_digits[:8]}…" if len(hex_digits) > 8 else digest


def human_size(size: int) -> str:
    """Decimal units, as registries show them: 45200000 -> `45.2 MB`."""
    if size < 1000:
        return f"{size} B"
    value = size / 1000
    for unit in ("kB", "MB", "GB"):
        if round(value, 1) < 1000:
            return f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def escape(text: str) -> str:
    """Plain text for a table cell: one line, Markdown's special characters escaped."""
    return _MARKDOWN_SPECIAL.sub(lambda match: "\\" + match.group(), one_line(text))


def code(text: str) -> str:
    """Monospace for a table cell. A backslash or backtick cannot be shown inside a code span
    in a table safely, so such text is shown escaped instead.
    """
    text = one_line(text)
    if "`" in text or "\\" in text:
        return escape(text)
    return "`" + text.replace("|", "\\|") + "`"
