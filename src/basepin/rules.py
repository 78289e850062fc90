"""Judge: turn image uses (and, online, the registry's answers) into findings."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from basepin.config import Config
from basepin.errors import InvalidReference
from basepin.model import Finding, ImageUse, ParsedDockerfile, Severity, Span
from basepin.reference import ImageReference, parse_reference


@dataclass(frozen=True)
class Candidate:
    """A finding before configuration and inline ignores have had their say."""

    rule: str
    use: ImageUse | None
    path: str
    span: Span
    reference: str
    message: str
    severity: Severity | None = None  # None: the rule's configured severity


def judge_offline(files: Sequence[ParsedDockerfile], config: Config) -> list[Finding]:
    candidates: list[Candidate] = []
    for parsed in files:
        candidates.extend(_problems(parsed))
        for use in parsed.uses:
            candidates.extend(offline_candidates(use, config))
    return settle(candidates, config)


def offline_candidates(use: ImageUse, config: Config) -> Iterator[Candidate]:
    if not use.resolved:
        reason = use.unresolved_reason or "it holds a variable with no value"
        yield _candidate("unresolved", use, f"{use.reference}: cannot be checked: {reason}")
        return
    try:
        ref = parse_reference(use.reference)
    except InvalidReference as exc:
        yield _candidate("invalid", use, f"{use.reference}: {exc}")
        return
    if ref.digest is None:
        yield _candidate("unpinned", use, f"{use.reference}: no digest pins this image")
    if ref.tag is None or ref.tag == "latest":
        what = "has no tag (so 'latest')" if ref.tag is None else "uses the tag 'latest'"
        severity: Severity | None = None
        if ref.digest is not None and config.severity_of("latest") == "error":
            severity = "warning"  # pinned: reproducible, only the version is unreadable
        yield Candidate(
            "latest",
            use,
            use.path,
            use.span,
            use.reference,
            f"{use.reference} {what}: name the version it should be",
            severity,
        )
    if config.allow and not is_allowed(ref, config.allow):
        yield _candidate("disallowed", use, f"{use.reference}: {ref.name} is not on the allow-list")


def is_allowed(ref: ImageReference, allow: Iterable[str]) -> bool:
    for pattern in allow:
        if "/" in pattern:
            if fnmatch.fnmatchcase(ref.name, pattern):
                return True
        elif fnmatch.fnmatchcase(ref.registry, pattern):
            return True
    return False


def _candidate(rule: str, use: ImageUse, message: str) -> Candidate:
    return Candidate(rule, use, use.path, use.span, use.reference, message)


def _problems(parsed: ParsedDockerfile) -> Iterator[Candidate]:
    for problem in parsed.problems:
        offset = _offset_of(parsed.text, problem.line, problem.column)
        span = Span(problem.line, problem.column, problem.line, problem.column, offset, offset)
        yield Candidate("invalid", None, problem.path, span, "", problem.message)


def _offset_of(text: str, line: int, column: int) -> int:
    offset = 0
    for _ in range(line - 1):
        found = text.find("\n", offset)
        if found < 0:
            return len(text)
        offset = found + 1
    return min(offset + column - 1, len(text))


def settle(candidates: Iterable[Candidate], config: Config) -> list[Finding]:
    """Apply severities, "off" and inline ignores; drop repeats (one ARG, several FROMs)."""
    findings: dict[tuple[str, str, int, int, str], Finding] = {}
    for cand in candidates:
        configured = config.severity_of(cand.rule)
        if configured == "off":
            continue
        if cand.use is not None and (
            "*" in cand.use.ignored_rules or cand.rule in cand.use.ignored_rules
        ):
            continue
        severity: Severity = cand.severity or configured
        key = (cand.rule, cand.path, cand.span.start, cand.span.end, cand.reference)
        findings.setdefault(
            key,
            Finding(cand.rule, severity, cand.path, cand.span, cand.reference, cand.message),
        )
    return sorted(findings.values(), key=lambda f: (f.path, f.span.line, f.span.column, f.rule))
