"""GitHub Actions workflow commands and their escaping."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basepin.escape import escape_data, escape_property
from basepin.model import Finding, Report, Span
from basepin.report import github
from report.samples import OFFLINE, SAMPLES, assert_golden, reports

if TYPE_CHECKING:
    from basepin.model import Severity


@pytest.mark.parametrize("variant", sorted(SAMPLES))
def test_render_golden(variant: str) -> None:
    assert_golden(f"{variant}.github.txt", github.render(SAMPLES[variant]))


@pytest.mark.parametrize(
    ("raw", "data", "prop"),
    [
        pytest.param("plain", "plain", "plain", id="plain"),
        pytest.param("100%", "100%25", "100%25", id="percent"),
        pytest.param("%0A", "%250A", "%250A", id="percent-before-code"),
        pytest.param("a\nb", "a%0Ab", "a%0Ab", id="newline"),
        pytest.param("a\r\nb", "a%0D%0Ab", "a%0D%0Ab", id="crlf"),
        pytest.param("a:b,c", "a:b,c", "a%3Ab%2Cc", id="colon-comma"),
        pytest.param("::error::x", "::error::x", "%3A%3Aerror%3A%3Ax", id="command-in-text"),
        pytest.param("bü€", "bü€", "bü€", id="unicode"),
    ],
)
def test_escaping(raw: str, data: str, prop: str) -> None:
    assert escape_data(raw) == data
    assert escape_property(raw) == prop


def _unescape(text: str) -> str:
    for code, char in (("%2C", ","), ("%3A", ":"), ("%0A", "\n"), ("%0D", "\r"), ("%25", "%")):
        text = text.replace(code, char)
    return text


@settings(deadline=None)
@given(st.text())
def test_escaping_reverses_as_the_runner_reads_it(raw: str) -> None:
    escaped = escape_property(raw)
    assert not {"\n", "\r", ":", ","} & set(escaped)
    assert _unescape(escaped) == raw
    assert _unescape(escape_data(raw)) == raw


@pytest.mark.parametrize(
    ("severity", "command"),
    [("error", "::error "), ("warning", "::warning "), ("note", "::notice ")],
)
def test_severity_to_command(severity: Severity, command: str) -> None:
    finding = Finding("unpinned", severity, "a", Span(2, 3, 2, 9, 0, 0), "x", "m")
    rendered = github.render(OFFLINE._replace(findings=(finding,)))
    assert rendered == (
        f"{command}file=a,line=2,col=3,endLine=2,endColumn=9,title=basepin/unpinned::m\n"
    )


@pytest.mark.parametrize("variant", sorted(SAMPLES))
def test_one_command_per_line(variant: str) -> None:
    report = SAMPLES[variant]
    lines = github.render(report).splitlines()
    assert len(lines) == len(report.findings) + len(report.incomplete)
    assert all(line.startswith("::") for line in lines)


@settings(deadline=None)
@given(reports())
def test_any_report_gives_one_command_each(report: Report) -> None:
    lines = github.render(report).split("\n")
    assert lines.pop() == ""
    assert len(lines) == len(report.findings) + len(report.incomplete)
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)
