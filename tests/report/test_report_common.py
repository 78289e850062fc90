"""The helpers every formatter shares: order, tally, registry facts, one-line text."""

from __future__ import annotations

import json as stdlib_json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings

from basepin.escape import json_text
from basepin.model import DigestInfo, Report, Resolution, Unresolved
from basepin.report import (
    Tally,
    head,
    iso_utc,
    json,
    one_line,
    parts,
    pushed_at,
    rate_limit_remaining,
    sarif,
    sorted_findings,
    sorted_uses,
    tally,
    text,
)
from report.samples import NGINX, OFFLINE, ONLINE, PYTHON, TOOLS, reports

PUSHED = datetime(2025, 5, 1, 10, 0, tzinfo=timezone.utc)
CREATED = datetime(2025, 4, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        pytest.param(
            Report(files=(), uses=(), findings=()),
            "no findings in 0 files (0 references, 0 unique)",
            id="empty",
        ),
        pytest.param(
            Report(files=("Dockerfile",), uses=(PYTHON,), findings=()),
            "no findings in 1 file (1 reference, 1 unique)",
            id="clean-one-file",
        ),
        pytest.param(
            Report(files=("Dockerfile", "b"), uses=(PYTHON, PYTHON, NGINX), findings=()),
            "no findings in 2 files (3 references, 2 unique)",
            id="repeated-reference",
        ),
        pytest.param(
            OFFLINE,
            "7 errors, 1 warning, 1 note in 4 files (9 references, 8 unique)",
            id="offline-sample",
        ),
        pytest.param(
            OFFLINE._replace(files=(*OFFLINE.files, "clean/Dockerfile")),
            "7 errors, 1 warning, 1 note in 4 of 5 files (9 references, 8 unique)",
            id="some-files-clean",
        ),
        pytest.param(
            OFFLINE._replace(incomplete=(Unresolved("a", "x"), Unresolved("b", "y"))),
            "7 errors, 1 warning, 1 note in 4 files (9 references, 8 unique); "
            "2 references could not be checked",
            id="incomplete",
        ),
        pytest.param(
            ONLINE,
            "9 errors, 3 warnings, 1 note in 4 files (9 references, 8 unique); "
            "1 reference could not be checked; Docker Hub pull quota: 4 left",
            id="online-low-quota",
        ),
        pytest.param(
            ONLINE._replace(
                incomplete=(),
                lookups={"a": Resolution("a", None, rate_limit_remaining=10)},
            ),
            "9 errors, 3 warnings, 1 note in 4 files (9 references, 8 unique)",
            id="quota-not-low",
        ),
    ],
)
def test_tally(report: Report, expected: str) -> None:
    assert tally(report) == expected


def test_rate_limit_is_the_lowest_reported() -> None:
    assert rate_limit_remaining(ONLINE) == 4
    assert rate_limit_remaining(OFFLINE) is None


@pytest.mark.parametrize(
    ("resolution", "expected"),
    [
        pytest.param(None, None, id="offline"),
        pytest.param(Resolution("r", None), None, id="nothing-known"),
        pytest.param(
            Resolution("r", DigestInfo("d", "m", created=CREATED), pushed=PUSHED),
            PUSHED,
            id="pushed-wins",
        ),
        pytest.param(
            Resolution("r", DigestInfo("d", "m", created=CREATED)), CREATED, id="created-fallback"
        ),
        pytest.param(
            Resolution("r", None, pushed=datetime(2025, 5, 1, 10, 0)), PUSHED, id="naive-is-utc"
        ),
        pytest.param(
            Resolution("r", None, pushed=PUSHED.astimezone(timezone(timedelta(hours=2)))),
            PUSHED,
            id="offset-to-utc",
        ),
    ],
)
def test_pushed_at(resolution: Resolution | None, expected: datetime | None) -> None:
    assert pushed_at(resolution) == expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        pytest.param(datetime(2025, 5, 1, 10, 0, 5, 999_999), "2025-05-01T10:00:05Z", id="naive"),
        pytest.param(
            datetime(2025, 5, 1, 1, tzinfo=timezone(timedelta(hours=3))),
            "2025-04-30T22:00:00Z",
            id="offset",
        ),
    ],
)
def test_iso_utc(when: datetime, expected: str) -> None:
    assert iso_utc(when) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("plain — ünïcode", "plain — ünïcode", id="unchanged"),
        pytest.param("a\nb\r\nc\rd", "a\\nb\\r\\nc\\rd", id="line-breaks"),
        pytest.param("a\u2028b\x85c", "a\\u2028b\\x85c", id="unicode-line-breaks"),
        pytest.param("tab\tsep", "tab\\tsep", id="tab"),
        pytest.param("\x1b[31mred", "\\x1b[31mred", id="escape-sequence"),
        pytest.param("nul\x00del\x7f", "nul\\x00del\\x7f", id="other-controls"),
        pytest.param("a\u202eb\u2066c", "a\\u202eb\\u2066c", id="bidi"),
        pytest.param("x https://u:secret@h/p", "x https://***@h/p", id="credentials"),
    ],
)
def test_one_line(text: str, expected: str) -> None:
    assert one_line(text) == expected


def test_findings_sort_by_path_line_column() -> None:
    shuffled = ONLINE._replace(findings=tuple(reversed(ONLINE.findings)))
    keys = [(f.path, f.span.line, f.span.column) for f in sorted_findings(shuffled)]
    assert keys == sorted(keys)
    assert sorted_findings(shuffled) == sorted_findings(ONLINE)


def test_uses_sort_in_file_order() -> None:
    shuffled = OFFLINE._replace(uses=(TOOLS, NGINX, PYTHON))
    assert sorted_uses(shuffled) == [PYTHON, NGINX, TOOLS]


# -- streaming: the CLI writes each formatter's pieces as they come ----------------------------


@settings(max_examples=40, deadline=None)
@given(reports())
def test_streamed_sarif_is_laid_out_as_the_whole_document_would_be(report: Report) -> None:
    streamed = sarif.render(report, tool_version="1.0")
    assert streamed == json_text(stdlib_json.dumps(stdlib_json.loads(streamed), indent=2)) + "\n"


@settings(max_examples=40, deadline=None)
@given(reports())
def test_streamed_json_reads_back(report: Report) -> None:
    document = stdlib_json.loads(json.render(report))
    assert len(document["uses"]) == len(report.uses)
    assert len(document["findings"]) == len(report.findings)
    assert len(document["incomplete"]) == len(report.incomplete)


@settings(max_examples=60, deadline=None)
@given(reports())
def test_file_by_file_rendering_keeps_the_whole_reports_order(report: Report) -> None:
    findings = sorted_findings(report)
    document = stdlib_json.loads(json.render(report))
    assert [(f["path"], f["line"], f["column"]) for f in document["findings"]] == [
        (f.path, f.span.line, f.span.column) for f in findings
    ]
    assert [(u["path"], u["line"], u["reference"]) for u in document["uses"]] == [
        (u.path, u.span.line, u.reference) for u in sorted_uses(report)
    ]
    results = stdlib_json.loads(sarif.render(report, tool_version="1.0"))["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == [f"basepin/{f.rule}" for f in findings]
    shown = text.render(report, color=False).splitlines()
    for line, finding in zip(shown, findings, strict=False):
        span = finding.span
        assert line.startswith(one_line(f"{finding.path}:{span.line}:{span.column}: "))
    assert len(shown) == len(findings) + len(report.incomplete)


@settings(max_examples=60, deadline=None)
@given(reports())
def test_the_tally_counts_the_whole_report(report: Report) -> None:
    counts = Tally(head(report))
    for part in counts.counting(parts(report)):
        paths = {use.path for use in part.uses} | {f.path for f in part.findings}
        assert paths | {note.path for note in part.notes} == {part.files[0]}
    assert counts.uses == len(report.uses)
    assert counts.references == {use.reference for use in report.uses}
    assert counts.files_with_findings == len({finding.path for finding in report.findings})
    assert sum(counts.severities.values()) == len(report.findings)
    assert counts.line() == tally(report)


def test_findings_wait_in_a_temporary_file_beyond_a_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held_whole = json.render(ONLINE)
    monkeypatch.setattr(json, "FINDINGS_IN_MEMORY", 16)
    assert json.render(ONLINE) == held_whole
