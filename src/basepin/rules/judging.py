"""Judge: turn image uses (and, online, the registry's answers) into findings."""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from functools import lru_cache

from basepin.config import Config
from basepin.errors import InvalidReference
from basepin.model import (
    Edit,
    Finding,
    ImageUse,
    Lookup,
    Missing,
    ParsedDockerfile,
    Resolution,
    Span,
    TagInfo,
    Unresolved,
    size_platform,
)
from basepin.records import NamedTuple
from basepin.reference import ImageReference, parse_reference

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence
    from datetime import datetime

    from basepin.model import Dated, Severity
    from basepin.rules.lifecycle import EolAdvisor
    from basepin.versions import Scope
    from basepin.vulnerabilities import VulnerabilityReport


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


def judge_offline(
    files: Sequence[ParsedDockerfile], config: Config, *, eol: EolAdvisor | None = None
) -> list[Finding]:
    """The rules that read only the files (and `eol` where end-of-life data is kept)."""
    candidates: list[Candidate] = []
    for parsed in files:
        candidates.extend(_problems(parsed))
        for use in parsed.uses:
            offline = list(offline_candidates(use, config))
            candidates.extend(offline)
            if eol is not None and not _has(offline, "invalid"):
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
    `eol`, and, when the `vulnerable` rule ran, its scan: `basepin.rules.vulnerable`); fixes planned
    across uses."""
    candidates: list[Candidate] = []
    incomplete: dict[str, Unresolved] = {}
    for parsed in files:
        candidates.extend(_problems(parsed))
        for use in parsed.uses:
            offline = list(offline_candidates(use, config))
            lookup = lookups.get(use.reference) if use.resolved else None
            if lookup is not None:
                for each in incomplete_of(use.reference, lookup, config):
                    incomplete.setdefault(f"{each.reference}\0{each.reason}", each)
            if isinstance(lookup, Missing):
                offline.append(_candidate("unknown", use, f"{use.reference}: {lookup.message}"))
            elif isinstance(lookup, Resolution) and not _has(offline, "invalid"):
                offline = list(_online(use, lookup, offline, config, now=now, bump=bump))
                if vulnerabilities is not None:
                    from basepin.rules import vulnerable

                    offline = list(vulnerable.candidates(use, lookup, offline, vulnerabilities))
            if eol is not None and not _has(offline, "invalid"):
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


def _has(candidates: Iterable[Candidate], rule: str) -> bool:
    return any(c.rule == rule for c in candidates)


def eol_candidates(
    use: ImageUse, eol: EolAdvisor, tags: Sequence[TagInfo] | None
) -> Iterator[Candidate]:
    if not use.resolved:
        return
    for verdict in eol.verdicts(parse_reference(use.reference), tags):
        yield _candidate(verdict.rule, use, verdict.message)


def _online(
    use: ImageUse,
    res: Resolution,
    offline: list[Candidate],
    config: Config,
    *,
    now: datetime,
    bump: bool,
) -> Iterator[Candidate]:
    from basepin.dates import tag_date, withheld  # online only: keep start-up light

    ref = parse_reference(use.reference)
    found: list[Candidate] = []
    # What a floating `latest` is today: the most specific version tag sharing its digest.
    version = _latest_version(res) if _has(offline, "latest") else None
    for cand in offline:
        if cand.rule == "latest" and version is not None:
            message = f"{cand.message}; {use.reference} is {ref.with_tag(version)} today"
            found.append(cand._replace(message=message))
        else:
            found.append(cand)
    if ref.digest is not None and res.pin_now is not None and ref.digest != res.pin_now:
        found.append(_candidate("stale-digest", use, _stale_message(use, ref, res)))
    found.extend(_platform_candidates(use, res, config))
    found.extend(_age_candidates(use, ref, res, config, now))
    newest = _newest_of_variant(ref, res, config)
    # The cooldown: a digest or tag younger than min-release-age is not proposed yet.
    newest_held = withheld(tag_date(newest), config, now) if newest is not None else None
    if newest is not None:
        found.append(_outdated_candidate(use, ref, res, newest, config, newest_held))
    # Only a confirmed digest is written: a tag list's own digests are claims to compare.
    bump_to = newest if bump and newest is not None and newest.verified else None
    if newest_held is not None:
        bump_to = None
    pin_held = _pin_withheld(ref, res, config, now)
    wanted = _wanted_reference(ref, res, config, version, bump_to)
    if pin_held is not None and bump_to is None:
        wanted = None
    for cand in found:
        fixable = cand.rule in _PIN_RULES or (cand.rule == "outdated" and bump_to is not None)
        if cand.rule in _PIN_RULES and pin_held is not None and bump_to is None:
            cand = cand._replace(message=f"{cand.message}; not proposed: {pin_held}")
        yield cand._replace(wanted=wanted) if fixable and wanted != use.reference else cand


def _stale_message(use: ImageUse, ref: ImageReference, res: Resolution) -> str:
    """The tag moved: since when, and how much newer its image is than the pinned one."""
    from basepin.dates import current_date, describe, pinned_date

    assert ref.digest is not None
    assert res.pin_now is not None
    pinned, current = pinned_date(res), current_date(res)
    since = f" (the image it points to now was {describe(current)})" if current else ""
    behind = ""
    if pinned is not None and current is not None:
        days = (current.when - pinned.when).days
        newer = f"{days} days newer" if days >= 0 else f"{-days} days older"
        behind = f"; pinned image {describe(pinned)}, the tag's image {describe(current)}, {newer}"
    return (
        f"{use.reference}: the tag {ref.effective_tag} now points to {_short(res.pin_now)}, "
        f"not the pinned {_short(ref.digest)}{since}{behind}"
    )


def _pin_withheld(
    ref: ImageReference, res: Resolution, config: Config, now: datetime
) -> str | None:
    """Why the digest a pin would write is not proposed yet (min-release-age); None when it
    may be, or when it is the digest already pinned."""
    if config.min_release_age <= 0 or res.current is None:
        return None
    from basepin.dates import current_date, withheld

    writes = res.pin_now if ref.digest is not None and res.pin_now else res.current.digest
    if writes == ref.digest:
        return None
    held = withheld(current_date(res), config, now)
    if held is None:
        return None
    what = "the newer digest" if ref.digest is not None else "the tag's digest"
    return f"{what} {held}"


# Rules whose fix is the reference pinned to what its tag (or its version) holds today.
_PIN_RULES = frozenset({"unpinned", "latest", "stale-digest", "platforms"})


def _wanted_reference(
    ref: ImageReference,
    res: Resolution,
    config: Config,
    version: str | None,
    bump_to: TagInfo | None,
) -> str | None:
    """The one reference every fix of a use writes: each rule's edit must agree with it."""
    if res.current is None:
        return None
    tag: str | None = ref.tag
    digest: str | None = res.current.digest
    keep_child_pin = res.pinned_platform is not None and config.severity_of("platforms") == "off"
    if ref.digest is not None and keep_child_pin and res.pin_now is not None:
        digest = res.pin_now  # the user pinned one platform on purpose
    if version is not None:
        tag = version
    if bump_to is not None:
        tag, digest = bump_to.name, bump_to.digest
    pin = ref.digest is not None or config.severity_of("unpinned") != "off"
    if pin and digest is None:
        return None
    if tag is None or tag == ref.tag:
        return ref.with_digest(digest) if pin and digest else ref.text
    return ref.with_tag(tag, digest if pin else None)


def _latest_version(res: Resolution) -> str | None:
    if res.current is None or not res.tags:
        return None
    digest = res.current.digest
    from basepin.versions import most_specific_version  # online only: keep start-up light

    return most_specific_version(t.name for t in res.tags if t.digest == digest)


def _platform_candidates(use: ImageUse, res: Resolution, config: Config) -> Iterator[Candidate]:
    if res.pinned_platform is not None and res.current is not None:
        yield _candidate(
            "platforms",
            use,
            f"{use.reference}: pins the {res.pinned_platform} manifest of a multi-platform "
            f"image; pin the index digest {_short(res.current.digest)} so every platform builds",
        )
        return
    wanted_platforms = _wanted_platforms(use, config)
    info = res.pinned or res.current
    if not wanted_platforms or info is None or not info.platforms:
        return
    have = {str(p) for p in info.platforms}
    missing = [p for p in wanted_platforms if not _covered(p, have)]
    if missing:
        yield _candidate(
            "platforms",
            use,
            f"{use.reference}: has no image for {', '.join(missing)} "
            f"(it has {', '.join(sorted(have))})",
        )


def _wanted_platforms(use: ImageUse, config: Config) -> list[str]:
    # FROM --platform=linux/arm64 builds that one platform whatever the configuration says;
    # a variable ($BUILDPLATFORM) is known only at build time.
    if use.platform and "$" not in use.platform:
        return [use.platform]
    return list(config.platforms)


def _covered(platform: str, have: set[str]) -> bool:
    # linux/arm64 is covered by linux/arm64/v8; linux/arm/v7 needs the variant.
    return platform in have or any(h.startswith(platform + "/") for h in have)


def _age_candidates(
    use: ImageUse, ref: ImageReference, res: Resolution, config: Config, now: datetime
) -> Iterator[Candidate]:
    from basepin.dates import describe, image_date

    born: Dated | None = image_date(ref, res)
    if born is None:
        return
    days = (now - born.when).days
    if days > config.max_age:
        yield _candidate(
            "old-image",
            use,
            f"{use.reference}: the image is {days} days old ({describe(born)}); "
            f"max-age is {config.max_age}",
        )


def _newest_of_variant(ref: ImageReference, res: Resolution, config: Config) -> TagInfo | None:
    if not res.tags or ref.tag is None:
        return None
    newest = _newest_tag(ref.tag, tuple(t.name for t in res.tags), config.bump)
    if newest is None:
        return None
    return next(t for t in res.tags if t.name == newest)


@lru_cache(maxsize=1024)
def _newest_tag(tag: str, names: tuple[str, ...], scope: Scope) -> str | None:
    """The newest of `names` that replaces `tag` within `scope`. A monorepo asks this for the
    same few tags thousands of times, over tag lists hundreds long."""
    from basepin.versions import newer_tags  # online only: keep start-up light

    newer = newer_tags(tag, names, scope)
    return newer[0] if newer else None


def _outdated_candidate(
    use: ImageUse,
    ref: ImageReference,
    res: Resolution,
    newest: TagInfo,
    config: Config,
    held: str | None,
) -> Candidate:
    now_tag = next((t for t in res.tags or () if t.name == ref.tag), None)
    not_yet = f"; not proposed: {newest.name} {held}" if held else ""
    return _candidate(
        "outdated",
        use,
        f"{use.reference}: a newer version of the same variant exists: "
        f"{ref.tag} -> {newest.name}{_size_delta(now_tag, newest, config.platforms)}{not_yet}",
    )


def _size_delta(old: TagInfo | None, new: TagInfo | None, platforms: Sequence[str]) -> str:
    """The size change, where both sizes are known; they are sizes of the first configured
    platform's image, which is named when there are several."""
    if old is None or new is None or old.size is None or new.size is None:
        return ""
    change = (new.size - old.size) / 1_000_000
    which = f" for {size_platform(platforms)}" if len(platforms) > 1 else ""
    return f", {change:+.1f} MB{which}"


def _short(digest: str) -> str:
    algorithm, _, hexdigits = digest.partition(":")
    return f"{algorithm}:{hexdigits[:12]}"


def _date(when: datetime) -> str:
    return when.strftime("%Y-%m-%d")


def plan_fixes(
    candidates: Sequence[Candidate], uses: Sequence[ImageUse]
) -> dict[Candidate, Edit | str]:
    """One edit (or the reason there is none) per candidate that wants a new reference.

    A reference that comes from an ARG default is fixed in the ARG line (one from a Compose
    or GitLab variable where its value is written), and only when every use of that variable
    would end up with the text it wants.
    """
    sharing: dict[tuple[str, int, int], list[ImageUse]] = defaultdict(list)
    for use in uses:
        sharing[(use.path, use.span.start, use.span.end)].append(use)
    wanted_by_use: dict[ImageUse, str] = {}
    for cand in candidates:
        if cand.use is not None and cand.wanted is not None:
            wanted_by_use.setdefault(cand.use, cand.wanted)
    plans: dict[Candidate, Edit | str] = {}
    for cand in candidates:
        if cand.use is None or cand.wanted is None:
            continue
        use = cand.use
        plans[cand] = _edit_for(
            use, cand.wanted, sharing[(use.path, use.span.start, use.span.end)], wanted_by_use
        )
    return plans


def _edit_for(
    use: ImageUse,
    wanted: str,
    sharing: Sequence[ImageUse],
    wanted_by_use: Mapping[ImageUse, str],
) -> Edit | str:
    span, source = use.span, use.source
    if span.line != span.end_line:
        return "not fixed: the reference text spans several lines"
    new_texts = set()
    for other in sharing:
        new_text = _replacement(other, wanted_by_use.get(other, other.reference), source)
        if new_text is None and other is not use:
            return (
                f"not fixed: {_variable(use)} is also used by {other.reference}, "
                "which the change would break"
            )
        if new_text is None:
            where = f"{_variable(use)}'s value" if use.via_arg else "the literal text"
            return f"not fixed: the change to {wanted} falls outside {where}"
        new_texts.add(new_text)
    if len(new_texts) != 1:
        return f"not fixed: the uses of {_variable(use)} want different values"
    replacement = new_texts.pop()
    return Edit(
        use.path, span.line, span.column, span.end_column, span.start, span.end, source, replacement
    )


# The kinds of use a Dockerfile has: their variables are ARGs. Compose, GitLab CI and the
# others have variables of their own.
_DOCKERFILE_USES = frozenset({"from", "copy-from", "mount-from", "syntax"})


def _variable(use: ImageUse) -> str:
    """The variable a use's text comes from, as its kind of file calls it."""
    word = "ARG" if use.kind in _DOCKERFILE_USES else "variable"
    return f"{word} {use.via_arg}"


def _replacement(use: ImageUse, wanted: str, source: str) -> str | None:
    """The new span text that turns `use.reference` into `wanted`, if the span can carry it."""
    if wanted == use.reference:
        return source
    at = use.reference.find(source)
    if at < 0:
        return _tail_replacement(use, wanted, source)
    prefix, suffix = use.reference[:at], use.reference[at + len(source) :]
    if not wanted.startswith(prefix) or not wanted.endswith(suffix):
        return None
    return wanted[len(prefix) : len(wanted) - len(suffix)]


def _tail_replacement(use: ImageUse, wanted: str, source: str) -> str | None:
    """For an operand with variables in it (`nginx:1.20${patch}`): the fix may only touch
    the literal tail of its text, where the wanted reference differs from the current one."""
    if use.via_arg is not None:
        return None
    shared = 0
    while shared < min(len(wanted), len(use.reference)) and (
        wanted[shared] == use.reference[shared]
    ):
        shared += 1
    removed, added = use.reference[shared:], wanted[shared:]
    if not source.endswith(removed):
        return None
    return source[: len(source) - len(removed)] + added


# Rules that read the registry's answer about a use: the online rules, and the two offline
# rules whose fix (a pin, latest's version) comes from that answer.
_ASKING_RULES = ("stale-digest", "unknown", "outdated", "old-image", "platforms")


def asks_registry(use: ImageUse, config: Config) -> bool:
    """Whether a registry must be asked about `use`: some rule that reads the answer is
    neither off nor ignored for it. Where none is, asking would cost a request and could
    make the run incomplete for nothing any rule would say."""
    if not use.resolved or "*" in use.ignored_rules:
        return False

    def heard(rule: str) -> bool:
        return config.severity_of(rule) != "off" and rule not in use.ignored_rules

    if any(heard(rule) for rule in _ASKING_RULES):
        return True
    try:
        ref = parse_reference(use.reference)
    except InvalidReference:
        return False  # `invalid` says so; no registry to ask
    unpinned = ref.digest is None and heard("unpinned")
    return unpinned or (ref.tag in (None, "latest") and heard("latest"))


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


def _candidate(rule: str, use: ImageUse, message: str, *, wanted: str | None = None) -> Candidate:
    return Candidate(rule, use, use.path, use.span, use.reference, message, wanted=wanted)


def _problems(parsed: ParsedDockerfile) -> Iterator[Candidate]:
    for problem in parsed.problems:
        line, column, offset = problem.line, problem.column, problem.offset
        span = Span(line, column, line, column, offset, offset)
        yield Candidate("invalid", None, problem.path, span, "", problem.message)


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
