"""SARIF 2.1.0: valid against the schema, and what GitHub code scanning reads."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from jsonschema import Draft4Validator

from basepin.catalog import RULES
from basepin.model import Finding, Report, Span
from basepin.report import sarif
from basepin.report.fingerprints import line_hashes
from report.samples import OFFLINE, ONLINE, SAMPLES, assert_golden, reports

SCHEMA = Path(__file__).parents[1] / "data" / "schemas" / "sarif-schema-2.1.0.json"


@cache
def _validator() -> Draft4Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)


def _render(report: Report) -> Any:
    return json.loads(sarif.render(report, tool_version="1.2.3"))


def _sample_hashes(path: str) -> list[str] | None:
    """Line hashes of a made-up text for each sample file (the golden files show them)."""
    text = "".join(f"FROM {path}:{n}\n" for n in range(1, 40))
    return None if path.startswith("/") else line_hashes(text.encode())


@pytest.mark.parametrize("variant", sorted(SAMPLES))
def test_render_golden(variant: str) -> None:
    assert_golden(
        f"{variant}.sarif",
        sarif.render(
            SAMPLES[variant],
            tool_version="1.2.3",
            line_hashes=_sample_hashes,
            source_root="/home/runner/work/app/app",
        ),
    )


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


def test_primary_location_line_hash_is_the_upload_actions() -> None:
    files = {
        "Dockerfile": b"FROM python:3.12\nRUN true\nFROM python:3.12\n",
        "services/api/Dockerfile": b"FROM a\n" * 20,
    }
    hashes = {path: line_hashes(data) for path, data in files.items()}
    read: list[str] = []

    def reader(path: str) -> list[str] | None:
        read.append(path)
        return hashes.get(path)

    run = json.loads(sarif.render(ONLINE, tool_version="1.2.3", line_hashes=reader))["runs"][0]
    for result in run["results"]:
        location = result["locations"][0]["physicalLocation"]
        path = unquote(location["artifactLocation"]["uri"])
        line = location["region"]["startLine"]
        fingerprints = result["partialFingerprints"]
        if path in hashes and line <= len(hashes[path]):
            assert fingerprints["primaryLocationLineHash"] == hashes[path][line - 1]
        else:  # a file that cannot be read, or a line past its end: the upload action decides
            assert "primaryLocationLineHash" not in fingerprints
    assert sorted(read) == sorted(set(read))  # each file is read once


def test_line_hashes_keep_identity_when_lines_move() -> None:
    finding = Finding("unpinned", "error", "Dockerfile", Span(1, 6, 1, 18, 5, 17), "python", "m")
    before = line_hashes(b"FROM python:3.12\n")
    after = line_hashes(b"# a comment above\nFROM python:3.12\n")
    moved = finding._replace(span=finding.span._replace(line=2))

    def fingerprint(report: Report, hashes: list[str]) -> str:
        result = _render_with(report, {"Dockerfile": hashes})["runs"][0]["results"][0]
        return str(result["partialFingerprints"]["primaryLocationLineHash"])

    # The window reaches past the line, so the hash of a last line differs from a moved
    # line's only by what follows it: here nothing does, in both files.
    assert fingerprint(OFFLINE._replace(findings=(finding,)), before) == fingerprint(
        OFFLINE._replace(findings=(moved,)), after
    )


def _render_with(report: Report, hashes: dict[str, list[str]]) -> Any:
    return json.loads(sarif.render(report, tool_version="1.2.3", line_hashes=hashes.get))


def test_paths_are_relative_to_the_source_root() -> None:
    inside = Finding("invalid", "error", "/work/repo/a/Dockerfile", Span(1, 1, 1, 1, 0, 0), "", "m")
    outside = inside._replace(path="/elsewhere/Dockerfile")
    document = json.loads(
        sarif.render(
            OFFLINE._replace(findings=(inside, outside)),
            tool_version="1",
            source_root="/work/repo",
        )
    )
    run = document["runs"][0]
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": "file:///work/repo/"}}
    artifacts = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in run["results"]]
    assert artifacts == [  # in path order
        {"uri": "file:///elsewhere/Dockerfile"},
        {"uri": "a/Dockerfile", "uriBaseId": "%SRCROOT%"},
    ]
    _validator().validate(document)


def test_without_a_source_root_the_base_is_described() -> None:
    bases = _render(OFFLINE)["runs"][0]["originalUriBaseIds"]
    assert set(bases) == {"%SRCROOT%"}
    assert bases["%SRCROOT%"]["description"]["text"]


def test_rules_carry_help_and_tags_and_no_invented_security_severity() -> None:
    for descriptor in _render(OFFLINE)["runs"][0]["tool"]["driver"]["rules"]:
        assert descriptor["help"]["text"]
        assert descriptor["help"]["markdown"]
        tags = descriptor["properties"]["tags"]
        assert 0 < len(tags) <= 10  # code scanning shows 10 tags of a rule, takes 20
        # No rule reports a known vulnerability: none gets a CVSS-like score.
        assert "security-severity" not in descriptor["properties"]


def _many(count: int) -> Report:
    severities = ("note", "warning", "error")
    findings = tuple(
        Finding(
            "unpinned",
            severities[n % 3],  # type: ignore[arg-type]
            f"d{n // 1000:03}/Dockerfile",
            Span(n % 1000 + 1, 6, n % 1000 + 1, 12, 0, 0),
            f"image{n}",
            "m",
        )
        for n in range(count)
    )
    return OFFLINE._replace(findings=findings)


def test_a_run_over_the_limit_is_cut_after_the_first_results() -> None:
    report = _many(30)
    document = json.loads(sarif.render(report, tool_version="1", max_results=12))
    assert len(document["runs"]) == 1  # code scanning rejects two runs of one tool
    run = document["runs"][0]
    everything = json.loads(sarif.render(report, tool_version="1"))["runs"][0]["results"]
    # The results are written as the files come: the first ones are kept, in path order.
    assert run["results"] == everything[:12]
    [notification] = run["invocations"][0]["toolExecutionNotifications"]
    assert notification["descriptor"]["id"] == "basepin/results-left-out"
    assert notification["message"]["text"].startswith(
        "18 of 30 results left out (6 errors, 6 warnings, 6 notes): GitHub code scanning takes "
        "at most 12 results per run"
    )
    assert (
        "the JSON report (basepin check --format json) has every finding"
        in (notification["message"]["text"])
    )
    _validator().validate(document)


def test_the_limit_is_githubs() -> None:
    assert sarif.MAX_RESULTS == 25_000
    report = _many(30_000)
    document = json.loads(sarif.render(report, tool_version="1"))
    [run] = document["runs"]
    assert len(run["results"]) == 25_000
    [notification] = run["invocations"][0]["toolExecutionNotifications"]
    left_out = "5000 of 30000 results left out (1667 errors, 1667 warnings, 1666 notes)"
    assert left_out in notification["message"]["text"]


def test_at_the_limit_nothing_is_cut() -> None:
    run = json.loads(sarif.render(_many(12), tool_version="1", max_results=12))["runs"][0]
    assert len(run["results"]) == 12
    assert run["invocations"][0]["toolExecutionNotifications"] == []


@pytest.mark.parametrize("variant", sorted(SAMPLES))
def test_written_as_json_dumps_writes_it(variant: str) -> None:
    for limit in (0, 1, sarif.MAX_RESULTS):
        text = sarif.render(SAMPLES[variant], tool_version="1", max_results=limit)
        assert text == json.dumps(json.loads(text), indent=2) + "\n"


def test_the_cli_hashes_the_checked_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from basepin.cli import main

    data = b"\xef\xbb\xbfFROM python:3.12\r\n\r\nFROM  node\r\n"
    (tmp_path / "Dockerfile").write_bytes(data)
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--offline", "--format", "sarif", "Dockerfile"]) == 1
    document = json.loads(capsys.readouterr().out)
    _validator().validate(document)
    [run] = document["runs"]
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": tmp_path.as_uri() + "/"}}
    hashes = line_hashes(data)
    lines = []
    for result in run["results"]:
        line = result["locations"][0]["physicalLocation"]["region"]["startLine"]
        lines.append(line)
        assert result["partialFingerprints"]["primaryLocationLineHash"] == hashes[line - 1]
    assert set(lines) == {1, 3}
