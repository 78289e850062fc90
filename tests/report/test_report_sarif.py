"""SARIF 2.1.0: valid against the schema, and what GitHub code scanning reads."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from jsonschema import Draft4Validator

from basepin.catalog import RULES
from basepin.model import Finding, Report, Span
from basepin.report import sarif
from report.samples import OFFLINE, ONLINE, SAMPLES, assert_golden, reports

SCHEMA = Path(__file__).parents[1] / "data" / "schemas" / "sarif-schema-2.1.0.json"


@cache
def _validator() -> Draft4Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)


def _render(report: Report) -> Any:
    return json.loads(sarif.render(report, tool_version="1.2.3"))


@pytest.mark.parametrize("variant", sorted(SAMPLES))
def test_render_golden(variant: str) -> None:
    assert_golden(f"{variant}.sarif", sarif.render(SAMPLES[variant], tool_version="1.2.3"))


@pytest.mark.parametrize("variant", sorted(SAMPLES))
def test_valid_against_the_schema(variant: str) -> None:
    _validator().validate(_render(SAMPLES[variant]))


@settings(max_examples=50, deadline=None)
@given(reports())
def test_any_report_is_valid(report: Report) -> None:
    _validator().validate(_render(report))


def test_one_descriptor_per_rule() -> None:
    driver = _render(OFFLINE)["runs"][0]["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("basepin", "1.2.3")
    descriptors = driver["rules"]
    assert [d["id"] for d in descriptors] == [f"basepin/{rule}" for rule in RULES]
    for descriptor, info in zip(descriptors, RULES.values(), strict=True):
        assert descriptor["shortDescription"]["text"] == info.summary
        assert descriptor["fullDescription"]["text"] == info.help
        assert info.help in descriptor["help"]["text"]
        assert info.help in descriptor["help"]["markdown"]
        assert descriptor["defaultConfiguration"]["level"] == info.severity
        assert descriptor["properties"]["tags"]
    assert descriptors[list(RULES).index("stale-digest")]["name"] == "StaleDigest"


def test_results_point_at_their_rule_and_region() -> None:
    run = _render(ONLINE)["runs"][0]
    descriptors = run["tool"]["driver"]["rules"]
    assert len(run["results"]) == len(ONLINE.findings)
    for result in run["results"]:
        assert descriptors[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in {"error", "warning", "note"}
    stale = next(r for r in run["results"] if r["ruleId"] == "basepin/stale-digest")
    location = stale["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "Dockerfile", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {
        "startLine": 12,
        "startColumn": 13,
        "endLine": 12,
        "endColumn": 107,
    }
    replacement = stale["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert replacement["deletedRegion"] == {
        "startLine": 12,
        "startColumn": 13,
        "endLine": 12,
        "endColumn": 107,
    }
    assert replacement["insertedContent"]["text"].startswith("ghcr.io/acme/tools:1.4@sha256:e5")
    assert "fixes" not in next(r for r in run["results"] if r["ruleId"] == "basepin/latest")


@pytest.mark.parametrize(
    ("path", "artifact"),
    [
        pytest.param("Dockerfile", {"uri": "Dockerfile", "uriBaseId": "%SRCROOT%"}, id="plain"),
        pytest.param(
            "a b/ü,%:x", {"uri": "a%20b/%C3%BC%2C%25%3Ax", "uriBaseId": "%SRCROOT%"}, id="quoted"
        ),
        pytest.param("/abs/Dockerfile", {"uri": "file:///abs/Dockerfile"}, id="absolute"),
        pytest.param(
            "bad\udcff", {"uri": "bad%FF", "uriBaseId": "%SRCROOT%"}, id="undecodable-name"
        ),
    ],
)
def test_artifact_uri(path: str, artifact: dict[str, str]) -> None:
    finding = Finding("invalid", "error", path, Span(1, 1, 1, 1, 0, 0), "", "m")
    result = _render(OFFLINE._replace(findings=(finding,)))["runs"][0]["results"][0]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == artifact


def _fingerprints(report: Report) -> list[str]:
    results = _render(report)["runs"][0]["results"]
    return [result["partialFingerprints"][sarif.FINGERPRINT_KEY] for result in results]


def test_fingerprints_are_unique_and_survive_moved_lines() -> None:
    fingerprints = _fingerprints(ONLINE)
    assert len(set(fingerprints)) == len(fingerprints)
    moved = tuple(f._replace(span=f.span._replace(line=f.span.line + 5)) for f in ONLINE.findings)
    assert _fingerprints(ONLINE._replace(findings=moved)) == fingerprints


def test_twin_findings_get_distinct_fingerprints() -> None:
    first = Finding("unpinned", "error", "Dockerfile", Span(1, 6, 1, 11, 5, 10), "nginx", "m")
    second = first._replace(span=Span(7, 6, 7, 11, 80, 85))
    fingerprints = _fingerprints(OFFLINE._replace(findings=(first, second)))
    assert len(set(fingerprints)) == 2


@pytest.mark.parametrize(
    ("report", "successful", "notifications"),
    [
        pytest.param(OFFLINE, True, 0, id="complete"),
        pytest.param(ONLINE, False, 1, id="incomplete"),
    ],
)
def test_incomplete_references_are_notifications(
    report: Report, successful: bool, notifications: int
) -> None:
    invocation = _render(report)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is successful
    assert len(invocation["toolExecutionNotifications"]) == notifications
