"""Judge: run every rule over the files' uses (and, online, the registry's answers), plan
the fixes, and settle the candidates into findings by the configuration and inline ignores.
"""

from __future__ import annotations

from basepin.config import Config
from basepin.model import (
    Edit,
    Finding,
    ImageUse,
    Lookup,
    Missing,
    ParsedDockerfile,
    Resolution,
    TagInfo,
    Unresolved,
)
from basepin.records import NamedTuple
from basepin.reference import parse_reference
from basepin.rules.candidates import Candidate, candidate, has_rule
from basepin.rules.fixes import plan_fixes
from basepin.rules.offline import offline_candidates, problem_candidates
from basepin.rules.online import online_candidates

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence
    from datetime import datetime

    from basepin.model import Severity
    from basepin.rules.lifecycle import EolAdvisor
    from basepin.vulnerabilities import VulnerabilityReport


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


class Verdict(NamedTuple):
    findings: list[Finding]
    incomplete: list[Unresolved]


def judge(
    files: Sequence[ParsedDockerfile],
    lookups: Mapping[str, Lookup],
    config: Config,
    *,
    now: datetime,
    bump: bool = False,
    eol: EolAdvisor | None = None,
    vulnerabilities: VulnerabilityReport | None = None,
) -> Verdict:
    """Offline rules plus what the registry's answers say (and endoflife.date's, through
    `eol`, and, when the `vulnerable` rule ran, its scan: `basepin.rules.vulnerable`); fixes
    planned across uses."""
    candidates: list[Candidate] = []
    incomplete: dict[str, Unresolved] = {}
    for parsed in files:
        candidates.extend(problem_candidates(parsed))
        for use in parsed.uses:
            offline = list(offline_candidates(use, config))
            lookup = lookups.get(use.reference) if use.resolved else None
            if lookup is not None:
                for each in incomplete_of(use.reference, lookup, config):
                    incomplete.setdefault(f"{each.reference}\0{each.reason}", each)
            if isinstance(lookup, Missing):
                offline.append(candidate("unknown", use, f"{use.reference}: {lookup.message}"))
            elif isinstance(lookup, Resolution) and not has_rule(offline, "invalid"):
                offline = list(online_candidates(use, lookup, offline, config, now=now, bump=bump))
                if vulnerabilities is not None:
                    # An opt-in rule: loaded when it ran.
                    from basepin.rules.vulnerable import candidates as vulnerable_candidates

                    offline = list(vulnerable_candidates(use, lookup, offline, vulnerabilities))
            if eol is not None and not has_rule(offline, "invalid"):
                tags = lookup.tags if isinstance(lookup, Resolution) else None
                offline.extend(eol_candidates(use, eol, tags))
            candidates.extend(offline)
    uses = [use for parsed in files for use in parsed.uses]
    return Verdict(
        settle(candidates, config, plan_fixes(candidates, uses)), list(incomplete.values())
    )


def incomplete_of(text: str, lookup: Lookup, config: Config) -> list[Unresolved]:
    """What the run could not check about the reference `text`: all of it (an `Unresolved`
    lookup), or the active rules its answers lack data for."""
    if isinstance(lookup, Unresolved):
        return [lookup]
    if not isinstance(lookup, Resolution):
        return []
    found = []
    for gap in lookup.unchecked:
        rules = [rule for rule in gap.rules if config.severity_of(rule) != "off"]
        if rules:
            found.append(Unresolved(text, f"{', '.join(rules)} not checked: {gap.reason}"))
    return found


def eol_candidates(
    use: ImageUse, eol: EolAdvisor, tags: Sequence[TagInfo] | None
) -> Iterator[Candidate]:
    if not use.resolved:
        return
    for verdict in eol.verdicts(parse_reference(use.reference), tags):
        yield candidate(verdict.rule, use, verdict.message)


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
