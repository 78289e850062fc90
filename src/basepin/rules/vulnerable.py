"""The `vulnerable` rule: known vulnerabilities of the images references name, and what a fix
would change about them.

Off unless asked for (`--vulns`, or a severity for `vulnerable` in the configuration). Then,
after the registries have answered, each reference's image is scanned: the pinned digest, else
the digest its tag points to now, and the digest a fix would write (a stale pin's current
digest, a `--bump` target). `scan_targets` says which; `examine` scans them, from the cache
where it can (`basepin.scans`: a run the cache answers whole loads no HTTP stack) and through
`basepin.registry.vulnscan` where it cannot; `candidates` turns the summaries into findings
and into the delta `stale-digest` and `outdated` fixes carry.
"""

from __future__ import annotations

from basepin.errors import InvalidReference
from basepin.model import Resolution, Unresolved
from basepin.records import NamedTuple
from basepin.reference import parse_reference
from basepin.rules.candidates import Candidate
from basepin.scans import Scanned, ScanTarget, from_cache
from basepin.vulnerabilities import (
    VulnerabilityReport,
    VulnSummary,
    counted,
    delta,
    image_key,
    worst,
)

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from basepin.config import Config
    from basepin.model import ImageUse, Lookup
    from basepin.resolve import ResolveOptions

RULE = "vulnerable"


def scan_targets(
    lookups: Mapping[str, Lookup],
    platforms_of: Mapping[str, Iterable[str | None]],
    config: Config,
    *,
    bump: bool,
) -> tuple[list[ScanTarget], dict[str, str]]:
    """The images to scan, and the key of the image each reference names (its pin, else its
    tag's current digest). `platforms_of`: the `FROM --platform` of each reference's uses
    (None where a use names none: the configured platforms)."""
    targets: dict[str, ScanTarget] = {}
    subjects: dict[str, str] = {}

    def add(ref_registry: str, repository: str, digest: str, platforms: tuple[str, ...],
            parent: str | None = None) -> str:  # fmt: skip
        target = ScanTarget(ref_registry, repository, digest, platforms, parent)
        known = targets.get(target.key)
        if known is not None:
            merged = tuple(dict.fromkeys((*known.platforms, *platforms)))
            target = known._replace(platforms=merged, parent=known.parent or parent)
        targets[target.key] = target
        return target.key

    for text, lookup in lookups.items():
        if not isinstance(lookup, Resolution):
            continue
        try:
            ref = parse_reference(text)
        except InvalidReference:
            continue
        platforms = _platforms(platforms_of.get(text, (None,)), config)
        current = lookup.current.digest if lookup.current else None
        parent = current if lookup.pinned_platform is not None else None
        subject = ref.digest or current
        if subject is None:
            continue
        subjects[text] = add(ref.registry, ref.repository, subject, platforms, parent)
        # What a fix would write: the tag's digest now (a stale pin), a bump's target.
        if ref.digest is not None and current is not None and current != ref.digest:
            add(ref.registry, ref.repository, current, platforms)
            if lookup.pin_now and lookup.pin_now not in (current, ref.digest):
                add(ref.registry, ref.repository, lookup.pin_now, platforms, current)
        newest = _bump_target(ref.tag, lookup, config) if bump else None
        if newest is not None:
            add(ref.registry, ref.repository, newest, platforms)
    return list(targets.values()), subjects


def _platforms(uses: Iterable[str | None], config: Config) -> tuple[str, ...]:
    """The platforms whose SBOMs are read: each use's `FROM --platform`, else the configured
    ones, else (empty) the reader's default, linux/amd64 where the index has it."""
    wanted: dict[str, None] = {}
    default = False
    for platform in uses:
        if platform and "$" not in platform:
            wanted[platform] = None
        elif config.platforms:
            wanted.update(dict.fromkeys(config.platforms))
        else:
            default = True
    if default and wanted:
        wanted.setdefault("linux/amd64", None)
    return tuple(wanted)


def _bump_target(tag: str | None, res: Resolution, config: Config) -> str | None:
    """The digest `fix --bump` would write (as `basepin.rules.online` chooses it), if any."""
    if tag is None or not res.tags:
        return None
    from basepin.versions import newer_tags  # online only: keep start-up light

    newer = newer_tags(tag, tuple(t.name for t in res.tags), config.bump)
    newest = next((t for t in res.tags if newer and t.name == newer[0]), None)
    return newest.digest if newest is not None and newest.verified else None


class Examined(NamedTuple):
    report: VulnerabilityReport
    warnings: list[str]
    incomplete: list[Unresolved]


def examine(
    lookups: Mapping[str, Lookup],
    platforms_of: Mapping[str, Iterable[str | None]],
    config: Config,
    options: ResolveOptions,
    *,
    bump: bool,
    osv_url: str | None = None,
) -> Examined:
    """Scan every reference's image (see `scan_targets`) and sum it up for the judge and the
    reports; what could not be checked comes back as incomplete."""
    targets, subjects = scan_targets(lookups, platforms_of, config, bump=bump)
    scanned = scan(targets, options, osv_url=osv_url)
    by_reference = {text: scanned.summaries[key] for text, key in subjects.items()}
    incomplete = [
        Unresolved(text, scanned.incomplete[key])
        for text, key in subjects.items()
        if key in scanned.incomplete
    ]
    report = VulnerabilityReport(
        by_reference, scanned.summaries, scanned.pulls, scanned.osv_requests
    )
    return Examined(report, list(scanned.warnings), incomplete)


def scan(
    targets: Sequence[ScanTarget], options: ResolveOptions, *, osv_url: str | None = None
) -> Scanned:
    """Scan `targets`: from the cache alone where it holds every answer, else through the
    network (`basepin.registry.vulnscan`)."""
    from basepin.registry.cache import Cache

    cache = Cache.open(options.cache_dir)
    try:
        cached = from_cache(targets, cache)
        if cached is not None:
            return cached._replace(warnings=tuple(cache.warnings))
        from basepin.registry.vulnscan import scan_network

        scanned = scan_network(targets, options, cache, osv_url=osv_url)
        return scanned._replace(warnings=(*cache.warnings, *scanned.warnings))
    finally:
        cache.close()


# -- judging -----------------------------------------------------------------------------------


def candidates(
    use: ImageUse,
    res: Resolution,
    found: Iterable[Candidate],
    report: VulnerabilityReport,
) -> Iterator[Candidate]:
    """`found` with the delta their fixes bring (`stale-digest`, `outdated` with a bump),
    and the `vulnerable` finding of the image the use names."""
    summary = report.by_reference.get(use.reference)
    changes: list[str] = []
    for cand in found:
        change = _delta(use.reference, cand, summary, report) if summary else None
        if change is not None:
            changes.append(change)
            cand = cand._replace(message=f"{cand.message}; {change}")
        yield cand
    if summary is None or summary.unchecked:
        return
    if summary.counts is None:
        message = (
            f"{use.reference}: its known vulnerabilities are unknown, not none: {summary.reason}"
        )
        yield Candidate(RULE, use, use.path, use.span, use.reference, message, "note")
        return
    if not summary.total:
        return
    where = f"in {_packages(summary.packages)}" if summary.packages is not None else ""
    if summary.platforms:
        where += f" ({', '.join(summary.platforms)} SBOM)"
    message = f"{use.reference}: the image has {counted(summary)} {where}; worst: {worst(summary)}"
    if changes:
        message += f"; {changes[0]}"
    yield Candidate(RULE, use, use.path, use.span, use.reference, message)


def _delta(
    text: str, cand: Candidate, before: VulnSummary, report: VulnerabilityReport
) -> str | None:
    if cand.wanted is None or cand.rule not in ("stale-digest", "outdated"):
        return None
    try:
        now, wanted = parse_reference(text), parse_reference(cand.wanted)
    except InvalidReference:
        return None
    if wanted.digest is None:
        return None
    after = report.by_image.get(image_key(wanted.registry, wanted.repository, wanted.digest))
    if after is None:
        return None
    if cand.rule == "stale-digest":
        return delta(
            before,
            after,
            "the pinned image",
            "the current digest of the same tag",
            "pinning it",
        )
    return delta(before, after, now.tag or "the tag", wanted.tag or "the newer tag", "the bump")


def _packages(count: int) -> str:
    return f"{count} package" if count == 1 else f"{count} packages"
