"""Judge online: every rule over the files' uses and the registry's answers about them (with
endoflife.date's and the vulnerability scan's where those rules ran), the fixes planned across
uses, and what the run could not check."""

from __future__ import annotations

from basepin.config import Config
from basepin.model import Finding, Lookup, Missing, ParsedDockerfile, Resolution, Unresolved
from basepin.records import NamedTuple
from basepin.rules.candidates import Candidate, candidate, has_rule, settle
from basepin.rules.fixes import plan_fixes
from basepin.rules.offline import eol_candidates, offline_candidates, problem_candidates
from basepin.rules.online import online_candidates

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from basepin.rules.lifecycle import EolAdvisor
    from basepin.vulnerabilities import VulnerabilityReport


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
