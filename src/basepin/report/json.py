"""The JSON report, a stable contract (version 1); `basepin.report.json_load` reads it back.

    {"version": 1, "files": [path, ...], "uses": [use, ...], "findings": [finding, ...],
     "notes": [note, ...], "incomplete": [{"reference", "reason"}, ...],
     "rate_limit": {"remaining": N},
     "vulnerability_scan": {"docker_hub_pulls": N, "osv_requests": N}}

- use: `{"path", "line", "column", "kind", "reference", "resolved", "via_arg", "stage",
  "platform", "digest_now", "pushed", "pushed_source"}` for every image reference, sorted by
  path, then in file order. `line`/`column` is where the reference text stands (the ARG line
  when it came from an ARG default). `digest_now` is what the tag points to now and `pushed`
  when it was last pushed (else when that image was built), as `YYYY-MM-DDTHH:MM:SSZ`; both
  null offline, when the registry had no answer, and `digest_now` for a digest-only
  reference. `pushed_source` says where `pushed` comes from: "hub" (the Docker Hub API),
  "annotation" (the `org.opencontainers.image.created` annotation) or "config" (the image
  config's `created`); null with `pushed`.
- finding: `{"rule", "severity", "path", "line", "column", "end_line", "end_column",
  "reference", "message", "fix"}` sorted by path, line and column; `fix` is null or
  `{"line", "column", "end_column", "replacement"}`. Lines are 1-based, columns count
  characters and `end_column` is exclusive.
- note: `{"path", "line", "column", "message"}`, what reading a file had to say that is no
  finding (a Helm template left unread), sorted by path.
- `rate_limit` is present only when a registry reported a pull quota: the lowest one seen.
- When the `vulnerable` rule ran, each use also has `vulnerabilities`: `{"critical", "high",
  "medium", "low", "unknown", "total", "ids"}` for the image it names (IDs worst first), or
  with the counts null and a `reason` when they are unknown (no SBOM attestation, OSV not
  answering), or null for a reference that was not scanned; and `vulnerability_scan` says
  what the scan cost.

The output is ASCII (other characters as `\\u` escapes), so it survives any stdout encoding,
and carries nothing raw a terminal or the Actions runner would act on (DEL and `##[` are
escaped too, see `basepin.escape.json_text`); the values are exact, except that messages and
reasons leave out the credentials of URLs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping

from basepin.escape import json_text, redacted_url
from basepin.model import Finding, ImageUse, Problem, Report
from basepin.report import (
    current_digest,
    head,
    iso_utc,
    parts,
    pushed_at,
    pushed_source,
    rate_limit_remaining,
    resolution_of,
    sorted_findings,
    sorted_uses,
)
from basepin.vulnerabilities import summary_json

VERSION = 1


def render(report: Report) -> str:
    return "".join(chunks(head(report), parts(report)))


# Findings wait for the last use to be written; beyond this many bytes (about a thousand
# findings), in a temporary file.
FINDINGS_IN_MEMORY = 256 * 1024


def chunks(run: Report, files: Iterable[Report]) -> Iterator[str]:
    """`render` a record at a time from the run's head and its parts (see `basepin.report`).

    Each use and finding has a line of its own: readable and diffable, and each record goes
    through the C encoder (`indent=` would force the pure-Python one, which on a monorepo's
    report costs seconds and several times the report's size in memory). The document lists
    every use before the first finding, so findings wait, encoded, until the uses are out.
    """
    import tempfile

    yield f'{{\n  "version": {VERSION},\n  "files": {json_text(json.dumps(list(run.files)))},\n'
    with tempfile.SpooledTemporaryFile(FINDINGS_IN_MEMORY, "w+", encoding="ascii") as waiting:
        uses = _Records("uses")
        findings = _Records("findings")
        notes = _Records("notes")
        noted: list[str] = []  # a note a file; few files have one
        for part in files:
            for use in sorted_uses(part):
                yield uses.add(_use_json(part, use))
            for finding in sorted_findings(part):
                waiting.write(findings.add(_finding_json(finding)))
            noted.extend(notes.add(_note_json(note)) for note in part.notes)
        yield uses.end() + ",\n"
        waiting.seek(0)
        yield from iter(lambda: waiting.read(64 * 1024), "")
        yield findings.end() + ",\n"
        yield "".join(noted) + notes.end() + ",\n"
    incomplete = _Records("incomplete")
    for unresolved in run.incomplete:
        reason = redacted_url(unresolved.reason)
        yield incomplete.add({"reference": unresolved.reference, "reason": reason})
    yield incomplete.end()
    remaining = rate_limit_remaining(run)
    if remaining is not None:
        yield f',\n  "rate_limit": {json.dumps({"remaining": remaining})}'
    scan = run.vulnerabilities
    if scan is not None:
        cost = {"docker_hub_pulls": scan.pulls, "osv_requests": scan.osv_requests}
        yield f',\n  "vulnerability_scan": {json.dumps(cost)}'
    yield "\n}\n"


class _Records:
    """One member of the document that lists records, a record a line, as they come."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._count = 0

    def add(self, record: Mapping[str, object]) -> str:
        self._count += 1
        start = f'  "{self._name}": [\n' if self._count == 1 else ",\n"
        return f"{start}    {json_text(json.dumps(record))}"

    def end(self) -> str:
        return "\n  ]" if self._count else f'  "{self._name}": []'


def _use_json(report: Report, use: ImageUse) -> dict[str, object]:
    resolution = resolution_of(report, use)
    pushed = pushed_at(resolution)
    record: dict[str, object] = {
        "path": use.path,
        "line": use.span.line,
        "column": use.span.column,
        "kind": use.kind,
        "reference": use.reference,
        "resolved": use.resolved,
        "via_arg": use.via_arg,
        "stage": use.stage,
        "platform": use.platform,
        "digest_now": current_digest(resolution),
        "pushed": None if pushed is None else iso_utc(pushed),
        "pushed_source": None if pushed is None else pushed_source(resolution),
    }
    if report.vulnerabilities is not None:
        summary = report.vulnerabilities.by_reference.get(use.reference)
        record["vulnerabilities"] = None if summary is None else summary_json(summary)
    return record


def _note_json(note: Problem) -> dict[str, object]:
    return {"path": note.path, "line": note.line, "column": note.column, "message": note.message}


def _finding_json(finding: Finding) -> dict[str, object]:
    span, fix = finding.span, finding.fix
    return {
        "rule": finding.rule,
        "severity": finding.severity,
        "path": finding.path,
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
        "reference": finding.reference,
        "message": redacted_url(finding.message),
        "fix": None
        if fix is None
        else {
            "line": fix.line,
            "column": fix.column,
            "end_column": fix.end_column,
            "replacement": fix.replacement,
        },
    }
