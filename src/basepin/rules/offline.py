"""The rules that read only the files: `invalid` (the reader's problems and references that
do not parse), `unresolved`, `unpinned`, `latest` and `disallowed`; `eol` and `eol-soon` from
the end-of-life data kept; and `judge_offline`, which runs them. An offline check loads no
more of the judge than this and `candidates`."""

from __future__ import annotations

import fnmatch

from basepin.config import Config
from basepin.errors import InvalidReference
from basepin.model import Finding, ImageUse, ParsedDockerfile, Span, TagInfo
from basepin.reference import ImageReference, parse_reference
from basepin.rules.candidates import Candidate, candidate, has_rule, settle

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from basepin.model import Severity
    from basepin.rules.lifecycle import EolAdvisor


def judge_offline(
    files: Sequence[ParsedDockerfile], config: Config, *, eol: EolAdvisor | None = None
) -> list[Finding]:
    """The rules that read only the files (and `eol` where end-of-life data is kept)."""
    candidates: list[Candidate] = []
    for parsed in files:
        candidates.extend(problem_candidates(parsed))
        for use in parsed.uses:
            offline = list(offline_candidates(use, config))
            candidates.extend(offline)
            if eol is not None and not has_rule(offline, "invalid"):
                candidates.extend(eol_candidates(use, eol, None))
    return settle(candidates, config)


def offline_candidates(use: ImageUse, config: Config) -> Iterator[Candidate]:
    if not use.resolved:
        reason = use.unresolved_reason or "it holds a variable with no value"
        yield candidate("unresolved", use, f"{use.reference}: cannot be checked: {reason}")
        return
    try:
        ref = parse_reference(use.reference)
    except InvalidReference as exc:
        yield candidate("invalid", use, f"{use.reference}: {exc}")
        return
    if ref.digest is None:
        yield candidate("unpinned", use, f"{use.reference}: no digest pins this image")
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
        yield candidate("disallowed", use, f"{use.reference}: {ref.name} is not on the allow-list")


def is_allowed(ref: ImageReference, allow: Iterable[str]) -> bool:
    for pattern in allow:
        if "/" in pattern:
            if fnmatch.fnmatchcase(ref.name, pattern):
                return True
        elif fnmatch.fnmatchcase(ref.registry, pattern):
            return True
    return False


def problem_candidates(parsed: ParsedDockerfile) -> Iterator[Candidate]:
    for problem in parsed.problems:
        line, column, offset = problem.line, problem.column, problem.offset
        span = Span(line, column, line, column, offset, offset)
        yield Candidate("invalid", None, problem.path, span, "", problem.message)


def eol_candidates(
    use: ImageUse, eol: EolAdvisor, tags: Sequence[TagInfo] | None
) -> Iterator[Candidate]:
    if not use.resolved:
        return
    for verdict in eol.verdicts(parse_reference(use.reference), tags):
        yield candidate(verdict.rule, use, verdict.message)
