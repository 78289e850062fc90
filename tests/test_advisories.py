"""Severities of OSV records and counting an image's vulnerabilities (`basepin.advisories`)."""

from __future__ import annotations

from typing import Any

import pytest

from basepin.advisories import Advisory, advisory_from, found_in, severity_of, summarize
from basepin.vulnerabilities import VulnSummary, counted, delta
from fixtures.sboms import CRITICAL, HIGH, MEDIUM, record


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        # A CVSS v3 vector is scored from the vector: 9.8 is critical.
        (record("GHSA-1", "PyPI", "x", cvss=CRITICAL), ("critical", 9.8, "CVSS_V3")),
        (record("GHSA-2", "PyPI", "x", cvss=HIGH), ("high", 7.5, "CVSS_V3")),
        (record("GHSA-3", "PyPI", "x", cvss=MEDIUM), ("medium", 4.2, "CVSS_V3")),
        # CVSS v4, and v2 (which has no "critical": 10.0 is high).
        (
            {
                "severity": [
                    {
                        "type": "CVSS_V4",
                        "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                    }
                ]
            },
            ("critical", 9.3, "CVSS_V4"),
        ),
        (
            {"severity": [{"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:C/I:C/A:C"}]},
            ("high", 10.0, "CVSS_V2"),
        ),
        # v3 wins over v4 where both are given; a vector in an affected package counts too.
        (
            {
                "severity": [
                    {
                        "type": "CVSS_V4",
                        "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                    },
                    {"type": "CVSS_V3", "score": MEDIUM},
                ]
            },
            ("medium", 4.2, "CVSS_V3"),
        ),
        (
            {"affected": [{"severity": [{"type": "CVSS_V3", "score": HIGH}]}]},
            ("high", 7.5, "CVSS_V3"),
        ),
        # The ecosystem's own rating where that is all there is.
        ({"severity": [{"type": "Ubuntu", "score": "medium"}]}, ("medium", None, "Ubuntu")),
        ({"severity": [{"type": "Ubuntu", "score": "negligible"}]}, ("low", None, "Ubuntu")),
        ({"database_specific": {"severity": "MODERATE"}}, ("medium", None, "GitHub")),
        (
            {"affected": [{"ecosystem_specific": {"urgency": "unimportant"}}]},
            ("low", None, "Debian urgency"),
        ),
        (
            {"affected": [{"ecosystem_specific": {"urgency": "not yet assigned"}}]},
            ("unknown", None, ""),
        ),
        # A vector that is not one is no score.
        ({"severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:Q"}]}, ("unknown", None, "")),
        ({}, ("unknown", None, "")),
    ],
)
def test_severity(document: dict[str, Any], expected: tuple[str, float | None, str]) -> None:
    assert severity_of(document) == expected


def test_an_advisory_keeps_one_line_of_summary_and_valid_ids() -> None:
    document = record(
        "DEBIAN-CVE-2024-1",
        "Debian:12",
        "openssl",
        summary="line one\nline\x1b[31m two " + "x" * 300,
        upstream=["CVE-2024-1", "bad id with spaces"],
    )
    advisory = advisory_from(document, "DEBIAN-CVE-2024-1", "m")
    assert "\n" not in advisory.summary
    assert len(advisory.summary) == 200
    assert advisory.upstream == ("CVE-2024-1",)


def _advisory(identifier: str, level: str, **fields: Any) -> Advisory:
    return Advisory(identifier, "m", level, **fields)


def test_aliases_and_one_upstream_are_one_vulnerability() -> None:
    advisories = {
        "PYSEC-2024-1": _advisory("PYSEC-2024-1", "unknown", aliases=("GHSA-aaaa", "CVE-2024-9")),
        "GHSA-aaaa": _advisory("GHSA-aaaa", "high", score=7.5, aliases=("CVE-2024-9",)),
        "DEBIAN-CVE-2024-1": _advisory("DEBIAN-CVE-2024-1", "unknown", upstream=("CVE-2024-1",)),
        "DEBIAN-CVE-2024-2": _advisory("DEBIAN-CVE-2024-2", "low", upstream=("CVE-2024-2",)),
        # Bundles both Debian flaws, each counted already: left out.
        "DSA-5000-1": _advisory("DSA-5000-1", "high", upstream=("CVE-2024-1", "CVE-2024-2")),
        # An older DSA with its CVEs as aliases, one of them counted nowhere else: kept.
        "DSA-4000-1": _advisory("DSA-4000-1", "medium", aliases=("CVE-2024-2", "CVE-2024-3")),
    }
    hits = {
        "jinja2@3.1.4 (PyPI)": ["PYSEC-2024-1", "GHSA-aaaa"],
        "openssl@3 (Debian:12)": ["DEBIAN-CVE-2024-1", "DEBIAN-CVE-2024-2", "DSA-5000-1"],
        "zlib@1 (Debian:12)": ["DSA-4000-1"],
    }
    found = found_in(hits, advisories)
    assert [(f.id, f.level) for f in found] == [
        ("GHSA-aaaa", "high"),
        ("DSA-4000-1", "medium"),
        ("DEBIAN-CVE-2024-2", "low"),
        ("DEBIAN-CVE-2024-1", "unknown"),
    ]
    assert found[0].aliases == ("PYSEC-2024-1", "CVE-2024-9")
    assert found[0].packages == ("jinja2@3.1.4 (PyPI)",)
    summary = summarize(found, packages=3, platforms=("linux/amd64",))
    assert summary.counts == (0, 1, 1, 1, 1)
    assert counted(summary) == "4 known vulnerabilities (1 high, 1 medium, 1 low, 1 unknown)"


def test_the_delta_a_fix_brings() -> None:
    before = VulnSummary((2, 3, 5, 4, 0), tuple(f"CVE-{n}" for n in range(14)))
    after = VulnSummary((0, 1, 1, 1, 0), ("CVE-0", "CVE-1", "CVE-99"))
    assert delta(
        before, after, "the pinned image", "the current digest of the same tag", "pinning it"
    ) == (
        "the pinned image has 14 known vulnerabilities (2 critical, 3 high, 5 medium, 4 low); "
        "the current digest of the same tag has 3 — pinning it closes 12 and adds 1"
    )
    assert delta(before, VulnSummary(None, reason="no SBOM"), "a", "b", "c") is None
