"""The JSON contract, and reading it back with `load`."""

from __future__ import annotations

import json as stdlib_json

import pytest
from hypothesis import given, settings

from basepin.errors import BasepinError
from basepin.model import Report
from basepin.report import github, json, json_load, sarif, text
from report.samples import OFFLINE, ONLINE, SAMPLES, assert_golden, reports

TOP_KEYS = {"version", "files", "uses", "findings", "notes", "incomplete"}
USE_KEYS = {
    "path",
    "line",
    "column",
    "kind",
    "reference",
    "resolved",
    "via_arg",
    "stage",
    "platform",
    "digest_now",
    "pushed",
    "pushed_source",
}
FINDING_KEYS = {
    "rule",
    "severity",
    "path",
    "line",
    "column",
    "end_line",
    "end_column",
    "reference",
    "message",
    "fix",
}
FIX_KEYS = {"line", "column", "end_column", "replacement"}


@pytest.mark.parametrize("variant", sorted(SAMPLES))
def test_render_golden(variant: str) -> None:
    assert_golden(f"{variant}.json", json.render(SAMPLES[variant]))


@pytest.mark.parametrize("variant", sorted(SAMPLES))
def test_exactly_the_contract_keys(variant: str) -> None:
    document = stdlib_json.loads(json.render(SAMPLES[variant]))
    extra = {"rate_limit"} if variant == "online" else set()
    assert set(document) == TOP_KEYS | extra
    assert document["version"] == 1
    assert all(set(use) == USE_KEYS for use in document["uses"])
    assert all(set(finding) == FINDING_KEYS for finding in document["findings"])
    fixes = [finding["fix"] for finding in document["findings"] if finding["fix"] is not None]
    assert fixes
    assert all(set(fix) == FIX_KEYS for fix in fixes)
    assert all(set(item) == {"reference", "reason"} for item in document["incomplete"])
    assert all(set(note) == {"path", "line", "column", "message"} for note in document["notes"])


def test_notes_are_listed_and_read_back() -> None:
    document = stdlib_json.loads(json.render(OFFLINE))
    assert document["notes"] == [
        {
            "path": "chart/templates/app.yaml",
            "line": 4,
            "column": 13,
            "message": OFFLINE.notes[0].message,
        }
    ]
    assert json_load.load(json.render(OFFLINE)).notes == OFFLINE.notes
    # A report written before there were notes has none.
    del document["notes"]
    assert json_load.load(stdlib_json.dumps(document)).notes == ()


def test_registry_fields_are_null_offline() -> None:
    document = stdlib_json.loads(json.render(OFFLINE))
    assert len(document["uses"]) == len(OFFLINE.uses)
    assert {(use["digest_now"], use["pushed"]) for use in document["uses"]} == {(None, None)}


def test_rate_limit_is_the_lowest_quota() -> None:
    assert stdlib_json.loads(json.render(ONLINE))["rate_limit"] == {"remaining": 4}


def test_output_is_ascii() -> None:
    assert json.render(ONLINE).isascii()


@pytest.mark.parametrize("variant", sorted(SAMPLES))
def test_round_trip(variant: str) -> None:
    rendered = json.render(SAMPLES[variant])
    assert json.render(json_load.load(rendered)) == rendered


@settings(deadline=None)
@given(reports())
def test_round_trip_any_report(report: Report) -> None:
    rendered = json.render(report)
    loaded = json_load.load(rendered)
    assert json.render(loaded) == rendered
    # The Action renders annotations, the log and SARIF from the loaded JSON.
    assert text.render(loaded, color=False) == text.render(report, color=False)
    assert github.render(loaded) == github.render(report)
    assert sarif.render(loaded, tool_version="1") == sarif.render(report, tool_version="1")


def test_load_gives_neutral_values_for_what_json_does_not_hold() -> None:
    loaded = json_load.load(json.render(ONLINE))
    use = next(u for u in loaded.uses if u.reference == "node:20-alpine")
    assert (use.span.end_line, use.span.end_column, use.span.start, use.span.end) == (1, 10, 0, 0)
    assert use.instruction_line == 1
    assert use.ignored_rules == frozenset()
    fixes = [f.fix for f in loaded.findings if f.fix is not None]
    assert {(fix.start, fix.end, fix.original) for fix in fixes} == {(0, 0, "")}


@pytest.mark.parametrize(
    ("report", "offline"),
    [
        pytest.param(OFFLINE, True, id="offline"),
        pytest.param(ONLINE, False, id="online"),
        pytest.param(
            ONLINE._replace(lookups={}, incomplete=()), False, id="only-registry-findings"
        ),
        pytest.param(
            OFFLINE._replace(offline=False, incomplete=ONLINE.incomplete),
            False,
            id="only-incomplete",
        ),
    ],
)
def test_load_infers_offline(report: Report, offline: bool) -> None:
    assert json_load.load(json.render(report)).offline is offline


def _document(**changes: object) -> str:
    document = stdlib_json.loads(json.render(ONLINE))
    document.update(changes)
    return stdlib_json.dumps(document)


def _finding_with(**changes: object) -> str:
    finding = stdlib_json.loads(json.render(ONLINE))["findings"][0]
    finding.update(changes)
    return _document(findings=[finding])


@pytest.mark.parametrize(
    ("text_in", "message"),
    [
        pytest.param("{", "basepin JSON: not valid JSON: Expecting property name", id="not-json"),
        pytest.param("[]", "basepin JSON: expected an object, got []", id="not-object"),
        pytest.param(
            _document(version=2), "basepin JSON: version 2 is not supported", id="version"
        ),
        pytest.param(
            _document(version="1"),
            'basepin JSON: version: expected an integer, got "1"',
            id="version-type",
        ),
        pytest.param(
            stdlib_json.dumps({"version": 1}), 'basepin JSON: missing "uses"', id="missing-key"
        ),
        pytest.param(
            _document(files="Dockerfile"),
            'basepin JSON: files: expected a list, got "Dockerfile"',
            id="files-not-list",
        ),
        pytest.param(
            _document(files=["a", 3]),
            "basepin JSON: files[1]: expected a string, got 3",
            id="file-not-string",
        ),
        pytest.param(
            _finding_with(line=True),
            "basepin JSON: findings[0].line: expected an integer, got true",
            id="bool-is-not-a-line",
        ),
        pytest.param(
            _finding_with(column=0),
            "basepin JSON: findings[0].column: expected a line or column (1 or more), got 0",
            id="column-zero",
        ),
        pytest.param(
            _finding_with(rule="nope"),
            'basepin JSON: findings[0].rule: expected one of "unpinned", ',
            id="unknown-rule",
        ),
        pytest.param(
            _finding_with(severity="fatal"),
            'basepin JSON: findings[0].severity: expected one of "error", "warning", "note", '
            'got "fatal"',
            id="unknown-severity",
        ),
        pytest.param(
            _finding_with(fix={"line": 1}),
            'basepin JSON: findings[0].fix: missing "column"',
            id="fix-incomplete",
        ),
        pytest.param(
            _document(
                uses=[{**stdlib_json.loads(json.render(ONLINE))["uses"][0], "pushed": "yesterday"}]
            ),
            "basepin JSON: uses[0].pushed: expected a UTC time as YYYY-MM-DDTHH:MM:SSZ, got "
            '"yesterday"',
            id="bad-time",
        ),
        pytest.param(
            _document(
                uses=[
                    {
                        **stdlib_json.loads(json.render(ONLINE))["uses"][0],
                        "pushed": "2025-13-01T00:00:00Z",
                    }
                ]
            ),
            "basepin JSON: uses[0].pushed: expected a UTC time",
            id="impossible-date",
        ),
        pytest.param(
            _document(rate_limit={"remaining": "x" * 100}),
            'basepin JSON: rate_limit.remaining: expected an integer, got "xxxxxxxx',
            id="long-value-shortened",
        ),
    ],
)
def test_load_rejects_what_is_not_a_report(text_in: str, message: str) -> None:
    with pytest.raises(json_load.ReportFormatError) as caught:
        json_load.load(text_in)
    assert str(caught.value).startswith(message)
    assert len(str(caught.value)) < 250  # the longest: every rule id listed
    assert isinstance(caught.value, BasepinError)
