"""Known vulnerabilities of an image, as the `vulnerable` rule and the reports speak of them.

An image's vulnerabilities come from its SBOM attestation (`basepin.sbom`) and OSV
(`basepin.advisories`); what the reports and the judge need of them is a `VulnSummary`: how
many by severity, the IDs worst first, or why nothing is known. Pure values and texts; the
network side is `basepin.registry.vulnscan`.
"""

from __future__ import annotations

from basepin.records import NamedTuple

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Mapping

# Worst first. `unknown`: OSV knows the vulnerability but no score or rating for it.
LEVELS = ("critical", "high", "medium", "low", "unknown")
# How many IDs a message names.
WORST_SHOWN = 3
OSV_URL = "https://osv.dev/vulnerability/"


class VulnSummary(NamedTuple):
    """What is known of one image's vulnerabilities (one digest, the platforms scanned)."""

    # Vulnerabilities by level, in the order of LEVELS; None when nothing is known (`reason`).
    counts: tuple[int, ...] | None
    # Their IDs, worst first (one per vulnerability: aliases are counted once).
    ids: tuple[str, ...] = ()
    # Why nothing is known: no SBOM attestation, an SBOM that cannot be read.
    reason: str | None = None
    # Packages the SBOM lists, and the platforms whose SBOMs were read.
    packages: int | None = None
    platforms: tuple[str, ...] = ()
    # Whether `reason` is a failure to ask (network, rate limit), which makes the run
    # incomplete, rather than a fact about the image (it has no SBOM).
    unchecked: bool = False

    @property
    def total(self) -> int | None:
        return None if self.counts is None else sum(self.counts)

    @property
    def by_level(self) -> dict[str, int]:
        return dict(zip(LEVELS, self.counts or (0,) * len(LEVELS), strict=True))


class VulnerabilityReport(NamedTuple):
    """A run's vulnerability scan, for the judge and the reports."""

    # The summary of the image each reference names (its pinned digest, else the digest its
    # tag points to now), by the reference's text as written.
    by_reference: Mapping[str, VulnSummary]
    # Every image scanned, by `image_key`: also the digests fixes would write.
    by_image: Mapping[str, VulnSummary]
    # Docker Hub manifest pulls spent reading indexes and attestation manifests.
    pulls: int = 0
    # Requests sent to OSV (batched package queries and vulnerability details).
    osv_requests: int = 0


def image_key(registry: str, repository: str, digest: str) -> str:
    return f"{registry}/{repository}@{digest}"


def counted(summary: VulnSummary) -> str:
    """`14 known vulnerabilities (2 critical, 5 high)`; `no known vulnerability`."""
    total = summary.total
    if total is None:
        return "unknown vulnerabilities"
    if total == 0:
        return "no known vulnerability"
    word = "vulnerability" if total == 1 else "vulnerabilities"
    levels = ", ".join(f"{n} {level}" for level, n in summary.by_level.items() if n)
    return f"{total} known {word} ({levels})"


def worst(summary: VulnSummary, count: int = WORST_SHOWN) -> str:
    """`CVE-2024-1, CVE-2024-2, CVE-2024-3 and 11 more`."""
    shown = ", ".join(summary.ids[:count])
    more = len(summary.ids) - count
    return f"{shown} and {more} more" if more > 0 else shown


def delta(before: VulnSummary, after: VulnSummary, then: str, now: str, action: str) -> str | None:
    """What a fix changes: `the pinned image has 14 known vulnerabilities (2 critical); the
    current digest of the same tag has 3 — pinning it closes 11`. None when either side is
    unknown."""
    if before.counts is None or after.counts is None:
        return None
    closed = len(set(before.ids) - set(after.ids))
    opened = len(set(after.ids) - set(before.ids))
    changes = []
    if closed:
        changes.append(f"closes {closed}")
    if opened:
        changes.append(f"adds {opened}")
    change = " and ".join(changes) if changes else "changes none of them"
    return f"{then} has {counted(before)}; {now} has {after.total or 'none'} — {action} {change}"


def level_of_score(score: float, *, version: int) -> str:
    """The qualitative rating of a CVSS base score (CVSS v2 has no `critical`)."""
    if score >= 9.0 and version >= 3:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low" if score > 0 else "unknown"


def summary_json(summary: VulnSummary) -> dict[str, object]:
    """A use's `vulnerabilities` in the JSON report."""
    if summary.counts is None:
        return {**dict.fromkeys((*LEVELS, "total")), "ids": [], "reason": summary.reason}
    return {**summary.by_level, "total": summary.total, "ids": list(summary.ids)}
