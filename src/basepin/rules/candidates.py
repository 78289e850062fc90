"""A rule's finding before configuration has its say, how one is made, and how candidates
settle into findings (severities, "off", inline ignores): the floor every rule of the judge
builds on (nothing else of `basepin.rules` is imported here)."""

from __future__ import annotations

from basepin.config import Config
from basepin.model import Edit, Finding, ImageUse, Span
from basepin.records import NamedTuple

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from basepin.model import Severity


class Candidate(NamedTuple):
    """A finding before configuration and inline ignores have had their say."""

    rule: str
    use: ImageUse | None
    path: str
    span: Span
    reference: str
    message: str
    severity: Severity | None = None  # None: the rule's configured severity
    # The reference text the fix would write in place of the use's reference.
    wanted: str | None = None


def candidate(rule: str, use: ImageUse, message: str, *, wanted: str | None = None) -> Candidate:
    return Candidate(rule, use, use.path, use.span, use.reference, message, wanted=wanted)


def has_rule(candidates: Iterable[Candidate], rule: str) -> bool:
    return any(c.rule == rule for c in candidates)


def settle(
    candidates: Iterable[Candidate],
    config: Config,
    fixes: Mapping[Candidate, Edit | str] | None = None,
) -> list[Finding]:
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
        plan = (fixes or {}).get(cand)
        message = f"{cand.message} ({plan})" if isinstance(plan, str) else cand.message
        fix = plan if isinstance(plan, Edit) else None
        key = (cand.rule, cand.path, cand.span.start, cand.span.end, cand.reference)
        findings.setdefault(
            key, Finding(cand.rule, severity, cand.path, cand.span, cand.reference, message, fix)
        )
    return sorted(findings.values(), key=lambda f: (f.path, f.span.line, f.span.column, f.rule))
