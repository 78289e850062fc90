"""The `vulnerable` rule: known vulnerabilities of the images references name, and what a fix
would change about them.

Off unless asked for (`--vulns`, or a severity for `vulnerable` in the configuration). Then,
after the registries have answered, each reference's image is scanned: the pinned digest, else
the digest its tag points to now, and the digest a fix would write (a stale pin's current
digest, a `--bump` target). `scan_targets` says which; `examine` scans them, from the cache
where it can (a run the cache answers whole loads no HTTP stack) and through
`basepin.registry.vulnscan` where it cannot; `candidates` turns the summaries into findings
and into the delta `stale-digest` and `outdated` fixes carry.
"""

from __future__ import annotations

import json
from types import MappingProxyType

from basepin.advisories import Advisory, Found, found_in, summarize
from basepin.errors import InvalidReference
from basepin.model import Resolution, Unresolved
from basepin.records import NamedTuple
from basepin.reference import parse_reference
from basepin.sbom import PackageQuery, SbomAnswer
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
    from basepin.registry.cache import Cache
    from basepin.resolve import ResolveOptions
    from basepin.rules import Candidate

RULE = "vulnerable"
# OSV's answer for a package version is reused this long; a record, by its `modified` time.
OSV_TTL = 24 * 3600.0


class ScanTarget(NamedTuple):
    """One image to scan: a digest in a repository, for some platforms."""

    registry: str
    repository: str
    digest: str
    platforms: tuple[str, ...]
    # An index that lists `digest` among its platform manifests, where known.
    parent: str | None = None

    @property
    def key(self) -> str:
        return image_key(self.registry, self.repository, self.digest)


class Scanned(NamedTuple):
    """What a scan found for each target (by key), with the vulnerabilities themselves."""

    summaries: dict[str, VulnSummary]
    found: dict[str, list[Found]]
    pulls: int = 0
    osv_requests: int = 0
    # Images that could not be (wholly) checked, by key, and why.
    incomplete: Mapping[str, str] = MappingProxyType({})
    warnings: tuple[str, ...] = ()


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
    """The digest `fix --bump` would write (as `basepin.rules` chooses it), if any."""
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


def from_cache(targets: Sequence[ScanTarget], cache: Cache) -> Scanned | None:
    """The whole scan from the cache; None when anything must be asked."""
    answers: dict[str, SbomAnswer] = {}
    for target in targets:
        answer = cached_answer(cache, target)
        if answer is None:
            return None
        answers[target.key] = answer
    queries = {q for answer in answers.values() for q in answer.queries or ()}
    hits: dict[PackageQuery, list[tuple[str, str]]] = {}
    for query in queries:
        found = cached_hits(cache, query)
        if found is None:
            return None
        hits[query] = found
    records: dict[str, Advisory] = {}
    for identifier, modified in {hit for found in hits.values() for hit in found}:
        advisory = cached_record(cache, identifier, modified)
        if advisory is None:
            return None
        records[identifier] = advisory
    summaries, found_by_key = assemble(targets, answers, hits, records)
    return Scanned(summaries, found_by_key)


def assemble(
    targets: Sequence[ScanTarget],
    answers: Mapping[str, SbomAnswer],
    hits: Mapping[PackageQuery, Sequence[tuple[str, str]]],
    records: Mapping[str, Advisory],
    failed: Mapping[str, str] | None = None,
) -> tuple[dict[str, VulnSummary], dict[str, list[Found]]]:
    """Each target's summary from its SBOM's packages, OSV's hits and records. `failed`:
    targets that could not be checked, and why."""
    summaries: dict[str, VulnSummary] = {}
    found_by_key: dict[str, list[Found]] = {}
    for target in targets:
        answer = answers.get(target.key)
        why = (failed or {}).get(target.key)
        if answer is None or answer.queries is None:
            reason = why or (answer.reason if answer else None) or "not checked"
            unchecked = why is not None or (answer is not None and not answer.lasting)
            summaries[target.key] = VulnSummary(None, reason=reason, unchecked=unchecked)
            found_by_key[target.key] = []
            continue
        package_hits = {
            str(query): [identifier for identifier, _ in hits.get(query, ())]
            for query in answer.queries
        }
        found = found_in(package_hits, records)
        found_by_key[target.key] = found
        summaries[target.key] = summarize(
            found, packages=answer.packages, platforms=answer.platforms
        )
    return summaries, found_by_key


# -- the cache's rows --------------------------------------------------------------------------


def platforms_key(target: ScanTarget) -> str:
    return ",".join(sorted(target.platforms)) + (f"|{target.parent}" if target.parent else "")


def cached_answer(cache: Cache, target: ScanTarget) -> SbomAnswer | None:

    row = cache.get_sbom(target.registry, target.repository, target.digest, platforms_key(target))
    if row is None:
        return None
    try:
        data = json.loads(row)
        queries = data["queries"]
        return SbomAnswer(
            None if queries is None else tuple(PackageQuery(*q) for q in queries),
            int(data["packages"]),
            tuple(data["platforms"]),
            data["reason"],
        )
    except (ValueError, KeyError, TypeError):
        return None


def store_answer(cache: Cache, target: ScanTarget, answer: SbomAnswer) -> None:
    if not answer.lasting:
        return
    data = {
        "queries": None if answer.queries is None else [list(q) for q in answer.queries],
        "packages": answer.packages,
        "platforms": list(answer.platforms),
        "reason": answer.reason,
    }
    cache.put_sbom(
        target.registry, target.repository, target.digest, platforms_key(target), json.dumps(data)
    )


def cached_hits(cache: Cache, query: PackageQuery) -> list[tuple[str, str]] | None:
    row = cache.get_osv_hits(query.ecosystem, query.name, query.version, OSV_TTL)
    if row is None:
        return None
    try:
        return [(str(identifier), str(modified)) for identifier, modified in json.loads(row)]
    except (ValueError, TypeError):
        return None


def store_hits(cache: Cache, answers: Mapping[PackageQuery, Sequence[tuple[str, str]]]) -> None:
    cache.put_osv_hits(
        (q.ecosystem, q.name, q.version, json.dumps(list(hits))) for q, hits in answers.items()
    )


def cached_record(cache: Cache, identifier: str, modified: str) -> Advisory | None:
    row = cache.get_osv_record(identifier, modified)
    if row is None:
        return None
    try:
        fields = json.loads(row)
        advisory = Advisory(*fields)
        return advisory._replace(aliases=tuple(advisory.aliases), upstream=tuple(advisory.upstream))
    except (ValueError, TypeError):
        return None


def store_record(cache: Cache, modified: str, advisory: Advisory) -> None:
    cache.put_osv_record(advisory.id, modified, json.dumps(list(advisory)))


# -- judging -----------------------------------------------------------------------------------


def candidates(
    use: ImageUse,
    res: Resolution,
    found: Iterable[Candidate],
    report: VulnerabilityReport,
) -> Iterator[Candidate]:
    """`found` with the delta their fixes bring (`stale-digest`, `outdated` with a bump),
    and the `vulnerable` finding of the image the use names."""
    from basepin.rules import Candidate

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
