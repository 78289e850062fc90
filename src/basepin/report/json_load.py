"""`load`: a JSON report (`basepin.report.json`) read back into a `Report`, every field
checked; what is wrong is said once, naming the field (`findings[2].line`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from basepin.catalog import RULES
from basepin.errors import UsageError
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
from basepin.report.json import VERSION
from basepin.vulnerabilities import LEVELS, VulnerabilityReport, VulnSummary

if TYPE_CHECKING:
    from basepin.model import Severity

_T = TypeVar("_T")


class ReportFormatError(UsageError):
    """JSON that is not a basepin report; the message says which field is wrong."""


def load(text: str) -> Report:
    """Rebuild a `Report` from `basepin.report.json.render`'s output, enough to render it again
    in any format.

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
