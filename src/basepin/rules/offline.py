"""The rules that read only the files: `invalid` (the reader's problems and references that
do not parse), `unresolved`, `unpinned`, `latest` and `disallowed`."""

from __future__ import annotations

import fnmatch

from basepin.config import Config
from basepin.errors import InvalidReference
from basepin.model import ImageUse, ParsedDockerfile, Span
from basepin.reference import ImageReference, parse_reference
from basepin.rules.candidates import Candidate, candidate

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from basepin.model import Severity


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
