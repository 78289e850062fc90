"""OSV's vulnerability records as basepin counts them: one severity each, aliases once.

Severity, in this order (OSV schema 1.x, `severity` and `affected[]`):
- a CVSS vector in `severity[]` (top level, else the affected packages'): its base score,
  computed from the vector with the `cvss` library (CVSS v3 first, then v4, then v2), rated
  as CVSS rates it (v3/v4: 9.0 critical, 7.0 high, 4.0 medium, else low);
- else the ecosystem's own rating, where that is all there is: Ubuntu's priority
  (`severity[].type` `Ubuntu`), GitHub's `database_specific.severity` (`MODERATE` is
  medium), an `ecosystem_specific.severity`, Debian's `ecosystem_specific.urgency`
  (`unimportant` is low);
- else `unknown` (Alpine's records, most of Debian's: OSV knows them but rates none).

Counting: records that are aliases of each other (`aliases`, symmetric) are one
vulnerability, and so is a distribution's record of one upstream flaw (`upstream` with one
ID, Debian's `DEBIAN-CVE-…`) with the upstream record. A distribution advisory that bundles
several flaws (`upstream` with several IDs, or several CVE IDs as `aliases` in older DSAs)
joins none of them, and is left out when each of them is counted through another record.
"""

from __future__ import annotations

import re

from basepin.records import NamedTuple
from basepin.vulnerabilities import LEVELS, VulnSummary, level_of_score

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

# What OSV IDs look like (`GHSA-…`, `DEBIAN-CVE-2024-1`, `ALPINE-CVE-…`, `PYSEC-2024-1`,
# `RUSTSEC-…`, `GO-…`, `USN-1-1`, `DSA-1-1`): anything else is not sent back to OSV.
OSV_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}")
SUMMARY_CHARACTERS = 200

_RATINGS = {
    "critical": "critical",
    "high": "high",
    "important": "high",
    "medium": "medium",
    "moderate": "medium",
    "low": "low",
    "negligible": "low",
    "unimportant": "low",
}


class Advisory(NamedTuple):
    """What basepin keeps of one OSV record."""

    id: str
    modified: str
    level: str  # one of LEVELS
    score: float | None = None
    summary: str = ""
    aliases: tuple[str, ...] = ()
    upstream: tuple[str, ...] = ()
    # Where the level comes from: "CVSS_V3", "Ubuntu", "GitHub", "Debian urgency"...
    source: str = ""


def advisory_from(record: Mapping[str, Any], identifier: str, modified: str) -> Advisory:
    """The advisory in an OSV record (`GET /v1/vulns/{id}`)."""
    level, score, source = severity_of(record)
    summary = record.get("summary") or record.get("details") or ""
    summary = " ".join(str(summary).split())[:SUMMARY_CHARACTERS]
    return Advisory(
        identifier,
        str(record.get("modified") or modified),
        level,
        score,
        summary,
        _ids(record.get("aliases")),
        _ids(record.get("upstream")),
        source,
    )


def _ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str) and OSV_ID.fullmatch(v))


def severity_of(record: Mapping[str, Any]) -> tuple[str, float | None, str]:
    """(level, CVSS base score or None, where it comes from) of an OSV record."""
    entries = [e for e in _list(record.get("severity")) if isinstance(e, dict)]
    affected = [a for a in _list(record.get("affected")) if isinstance(a, dict)]
    for package in affected:
        entries += [e for e in _list(package.get("severity")) if isinstance(e, dict)]
    for kind in ("CVSS_V3", "CVSS_V4", "CVSS_V2"):
        scores = [s for e in entries if e.get("type") == kind for s in [_cvss(kind, e)] if s]
        if scores:
            score = max(scores)
            return level_of_score(score, version=int(kind[-1])), score, kind
    ratings: list[tuple[str, str]] = [
        (str(e.get("score", "")), "Ubuntu") for e in entries if e.get("type") == "Ubuntu"
    ]
    database = record.get("database_specific")
    if isinstance(database, dict):
        ratings.append((str(database.get("severity", "")), "GitHub"))
    for package in affected:
        specific = package.get("ecosystem_specific")
        if isinstance(specific, dict):
            ratings.append((str(specific.get("severity", "")), "ecosystem"))
            ratings.append((str(specific.get("urgency", "")), "Debian urgency"))
        database = package.get("database_specific")
        if isinstance(database, dict):
            ratings.append((str(database.get("severity", "")), "ecosystem"))
    levels = [(_RATINGS[r.lower()], source) for r, source in ratings if r.lower() in _RATINGS]
    if levels:
        level, source = min(levels, key=lambda pair: LEVELS.index(pair[0]))
        return level, None, source
    return "unknown", None, ""


def _cvss(kind: str, entry: Mapping[str, Any]) -> float | None:
    vector = entry.get("score")
    if not isinstance(vector, str) or len(vector) > 200:
        return None
    # Imported only when there is a vector to score (about 13 ms).
    from cvss import CVSS2, CVSS3, CVSS4
    from cvss.exceptions import CVSSError

    try:
        if kind == "CVSS_V3":
            return float(CVSS3(vector).base_score)
        if kind == "CVSS_V4":
            return float(CVSS4(vector).base_score)
        return float(CVSS2(vector.removeprefix("CVSS:2.0/")).base_score)
    except (CVSSError, ValueError, KeyError, IndexError, TypeError):
        return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class Found(NamedTuple):
    """One vulnerability of an image: its records (aliases together), worst level, packages."""

    id: str  # the one shown: the first of its records by ID
    level: str
    score: float | None
    summary: str
    aliases: tuple[str, ...]
    packages: tuple[str, ...]
    # Where the level comes from (see Advisory.source).
    rated_by: str = ""


def found_in(hits: Mapping[str, Iterable[str]], advisories: Mapping[str, Advisory]) -> list[Found]:
    """The vulnerabilities of an image, worst first, from the OSV IDs each of its packages
    matched (`hits`: package -> IDs) and the records of those IDs (see the module's notes on
    counting)."""
    packages_of: dict[str, set[str]] = {}
    for package, ids in hits.items():
        for identifier in ids:
            packages_of.setdefault(identifier, set()).add(package)
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def join(a: str, b: str) -> None:
        parent[root(a)] = root(b)

    for identifier in packages_of:
        advisory = advisories.get(identifier)
        root(identifier)
        if advisory is None or _bundled(advisory):
            continue
        for alias in (*advisory.aliases, *advisory.upstream):
            join(alias, identifier)
    # Bundles: every flaw they name is counted through another record already.
    covered = {root(i) for i in packages_of if not _bundled(advisories.get(i))}
    groups: dict[str, list[str]] = {}
    for identifier in packages_of:
        bundled = _bundled(advisories.get(identifier))
        if bundled and all(root(flaw) in covered for flaw in bundled):
            continue
        groups.setdefault(root(identifier), []).append(identifier)
    found = []
    for members in groups.values():
        members.sort()
        known = [advisories[m] for m in members if m in advisories]
        worst = min(known, key=_rank, default=None)
        aliases = sorted({a for k in known for a in (*k.aliases, *k.upstream)} - set(members))
        found.append(
            Found(
                members[0],
                worst.level if worst else "unknown",
                worst.score if worst else None,
                worst.summary if worst else "",
                tuple(members[1:]) + tuple(aliases),
                tuple(sorted({p for m in members for p in packages_of[m]})),
                worst.source if worst else "",
            )
        )
    found.sort(key=lambda f: (LEVELS.index(f.level), -(f.score or 0.0), f.id))
    return found


def _bundled(advisory: Advisory | None) -> tuple[str, ...]:
    """The flaws a distribution advisory bundles: several upstream IDs, or (in older
    records, such as Debian's DSAs) several CVE IDs given as aliases; else ()."""
    if advisory is None:
        return ()
    if len(advisory.upstream) > 1:
        return advisory.upstream
    cves = tuple(alias for alias in advisory.aliases if alias.startswith("CVE-"))
    return cves if len(cves) > 1 else ()


def _rank(advisory: Advisory) -> tuple[int, float]:
    return (LEVELS.index(advisory.level), -(advisory.score or 0.0))


def summarize(found: Iterable[Found], *, packages: int, platforms: tuple[str, ...]) -> VulnSummary:
    listed = list(found)
    counts = tuple(sum(1 for f in listed if f.level == level) for level in LEVELS)
    return VulnSummary(counts, tuple(f.id for f in listed), None, packages, platforms)
