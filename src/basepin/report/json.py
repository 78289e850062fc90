"""The JSON report, a stable contract (version 1), and `load` to read it back.

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
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from basepin.catalog import RULES
from basepin.errors import UsageError
from basepin.escape import json_text, redacted_url
from basepin.model import (
    DATE_SOURCES,
    SEVERITIES,
    USE_KINDS,
    DigestInfo,
    Edit,
    Finding,
    ImageUse,
    Lookup,
    Problem,
    Report,
    Resolution,
    Span,
    Unresolved,
)
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
from basepin.vulnerabilities import (
    LEVELS,
    VulnerabilityReport,
    VulnSummary,
    summary_json,
)

if TYPE_CHECKING:
    from basepin.model import Severity

VERSION = 1

_T = TypeVar("_T")


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


class ReportFormatError(UsageError):
    """JSON that is not a basepin report; the message says which field is wrong."""


def load(text: str) -> Report:
    """Rebuild a `Report` from `render`'s output, enough to render it again in any format.

    What the JSON does not carry gets a neutral value: text offsets (`Span.start/end`,
    `Edit.start/end`) are 0 and `Edit.original` is "" (so a loaded fix is for showing, never
    for applying); a use's span ends where it starts and its `instruction_line` is its `line`;
    `unresolved_reason` and `ignored_rules` are empty; a report without `notes` (made before
    they were) has none. Each reference with a `digest_now`,
    a `pushed` date or a rate limit gets a `Resolution` holding just those (`media_type` "").
    `offline` is true unless the run had registry answers, incomplete references or findings
    of rules that need the registry. Raises `ReportFormatError` on anything else.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportFormatError(f"basepin JSON: not valid JSON: {exc}") from None
    top = _Fields(document, "")
    version = top.number("version")
    if version != VERSION:
        raise ReportFormatError(f"basepin JSON: version {version} is not supported (only 1)")
    rate_limit = top.optional("rate_limit", _Fields)
    remaining = None if rate_limit is None else rate_limit.number("remaining")

    uses = top.items("uses", _use_from)
    scan = top.optional("vulnerability_scan", _Fields)
    vulnerabilities = None
    if scan is not None:
        by_reference = {use.reference: found for use, _, _, found in uses if found is not None}
        vulnerabilities = VulnerabilityReport(
            by_reference, {}, scan.number("docker_hub_pulls"), scan.number("osv_requests")
        )
    lookups: dict[str, Lookup] = {}
    for use, digest, (pushed, source), _ in uses:
        if digest is not None or pushed is not None or remaining is not None:
            current = None if digest is None else DigestInfo(digest=digest, media_type="")
            if current is not None and source in ("annotation", "config"):
                # A build date: the image's, not the tag's push date.
                current = current._replace(created=pushed, created_source=source)
                pushed = None
            lookups.setdefault(
                use.reference,
                Resolution(use.reference, current, pushed=pushed, rate_limit_remaining=remaining),
            )
    findings = top.items("findings", _finding_from)
    notes = top.items("notes", _note_from) if "notes" in document else []
    incomplete = top.items("incomplete", _unresolved_from)
    needs_registry = any(not RULES[finding.rule].offline for finding in findings)
    return Report(
        files=tuple(top.items("files", _Fields.expect_text)),
        uses=tuple(use for use, _, _, _ in uses),
        findings=tuple(findings),
        incomplete=tuple(incomplete),
        lookups=lookups,
        offline=not (lookups or incomplete or needs_registry),
        vulnerabilities=vulnerabilities,
        notes=tuple(notes),
    )


def _use_from(
    value: object, where: str
) -> tuple[ImageUse, str | None, tuple[datetime | None, str | None], VulnSummary | None]:
    fields = _Fields(value, where)
    line, column = fields.position("line"), fields.position("column")
    use = ImageUse(
        path=fields.text("path"),
        kind=fields.choice("kind", USE_KINDS),
        reference=fields.text("reference"),
        resolved=fields.flag("resolved"),
        span=Span(line, column, line, column, 0, 0),
        instruction_line=line,
        via_arg=fields.optional("via_arg", _Fields.expect_text),
        stage=fields.optional("stage", _Fields.expect_text),
        platform=fields.optional("platform", _Fields.expect_text),
    )
    # `pushed_source` came later in version 1: a report without it reads as before.
    source = fields.optional("pushed_source", _date_source) if fields.has("pushed_source") else None
    return (
        use,
        fields.optional("digest_now", _Fields.expect_text),
        (fields.optional("pushed", _utc_time), source),
        fields.optional("vulnerabilities", _summary_from),
    )


def _date_source(value: object, where: str) -> str:
    if value not in DATE_SOURCES:
        raise _wrong(where, " or ".join(json.dumps(s) for s in DATE_SOURCES), value)
    return str(value)


def _summary_from(value: object, where: str) -> VulnSummary:
    fields = _Fields(value, where)
    ids = tuple(fields.items("ids", _Fields.expect_text))
    if fields.optional("total", _Fields.number_value) is None:
        return VulnSummary(None, ids, fields.optional("reason", _Fields.expect_text))
    return VulnSummary(tuple(fields.number(level) for level in LEVELS), ids)


def _finding_from(value: object, where: str) -> Finding:
    fields = _Fields(value, where)
    path, line, column = fields.text("path"), fields.position("line"), fields.position("column")
    span = Span(line, column, fields.position("end_line"), fields.position("end_column"), 0, 0)
    fix_fields = fields.optional("fix", _Fields)
    fix = None
    if fix_fields is not None:
        fix = Edit(
            path=path,
            line=fix_fields.position("line"),
            column=fix_fields.position("column"),
            end_column=fix_fields.position("end_column"),
            start=0,
            end=0,
            original="",
            replacement=fix_fields.text("replacement"),
        )
    severity: Severity = fields.choice("severity", SEVERITIES)
    return Finding(
        rule=fields.choice("rule", tuple(RULES)),
        severity=severity,
        path=path,
        span=span,
        reference=fields.text("reference"),
        message=fields.text("message"),
        fix=fix,
    )


def _note_from(value: object, where: str) -> Problem:
    fields = _Fields(value, where)
    line, column = fields.position("line"), fields.position("column")
    return Problem(fields.text("path"), line, column, fields.text("message"))


def _unresolved_from(value: object, where: str) -> Unresolved:
    fields = _Fields(value, where)
    return Unresolved(fields.text("reference"), fields.text("reason"))


def _utc_time(value: object, where: str) -> datetime:
    text = _Fields.expect_text(value, where)
    # fromisoformat reads a trailing "Z" only from Python 3.11 on.
    try:
        if text.endswith("Z"):
            return datetime.fromisoformat(text[:-1] + "+00:00")
    except ValueError:
        pass
    raise _wrong(where, "a UTC time as YYYY-MM-DDTHH:MM:SSZ", text)


class _Fields:
    """A JSON object read field by field; errors name the field (`findings[2].line`)."""

    def __init__(self, value: object, where: str) -> None:
        if not isinstance(value, dict):
            raise _wrong(where, "an object", value)
        self._values: dict[str, object] = value
        self._where = where

    def _get(self, key: str) -> object:
        if key not in self._values:
            where = f"{self._where}: " if self._where else ""
            raise ReportFormatError(f"basepin JSON: {where}missing {json.dumps(key)}")
        return self._values[key]

    def has(self, key: str) -> bool:
        return key in self._values

    def _at(self, key: str) -> str:
        return f"{self._where}.{key}" if self._where else key

    @staticmethod
    def expect_text(value: object, where: str) -> str:
        if not isinstance(value, str):
            raise _wrong(where, "a string", value)
        return value

    def text(self, key: str) -> str:
        return self.expect_text(self._get(key), self._at(key))

    def number(self, key: str) -> int:
        return self.number_value(self._get(key), self._at(key))

    @staticmethod
    def number_value(value: object, where: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _wrong(where, "an integer", value)
        return value

    def position(self, key: str) -> int:
        """A line or column: 1 or more."""
        value = self.number(key)
        if value < 1:
            raise _wrong(self._at(key), "a line or column (1 or more)", value)
        return value

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise _wrong(self._at(key), "true or false", value)
        return value

    def choice(self, key: str, allowed: tuple[_T, ...]) -> _T:
        value = self._get(key)
        for option in allowed:
            if value == option:
                return option
        expected = "one of " + ", ".join(json.dumps(option) for option in allowed)
        raise _wrong(self._at(key), expected, value)

    def optional(self, key: str, read: Callable[[object, str], _T]) -> _T | None:
        """A field that may be null; an absent one reads as null too."""
        value = self._values.get(key)
        return None if value is None else read(value, self._at(key))

    def items(self, key: str, read: Callable[[object, str], _T]) -> list[_T]:
        values = self._get(key)
        if not isinstance(values, list):
            raise _wrong(self._at(key), "a list", values)
        return [read(value, f"{self._at(key)}[{index}]") for index, value in enumerate(values)]


def _wrong(where: str, expected: str, value: object) -> ReportFormatError:
    shown = json.dumps(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    where = f"{where}: " if where else ""
    return ReportFormatError(f"basepin JSON: {where}expected {expected}, got {shown}")
