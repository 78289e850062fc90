"""An image scan's values and its rows in the cache: what the `vulnerable` rule
(`basepin.rules.vulnerable`) and `basepin vulns` ask for, and what the network side
(`basepin.registry.vulnscan`) and the cache answer.

A scan is a list of `ScanTarget`s (a digest in a repository, for some platforms) and comes
back as `Scanned`: each image's `VulnSummary` and its vulnerabilities. `assemble` builds it
from an SBOM's answer, OSV's hits and records, wherever they came from; `from_cache` is the
whole scan when the cache holds every answer. Both sides of a scan meet here, below each:
nothing here asks the network or judges.
"""

from __future__ import annotations

import json
from types import MappingProxyType

from basepin.advisories import Advisory, Found, found_in, summarize
from basepin.records import NamedTuple
from basepin.sbom import PackageQuery, SbomAnswer
from basepin.vulnerabilities import VulnSummary, image_key

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from basepin.registry.cache import Cache

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
