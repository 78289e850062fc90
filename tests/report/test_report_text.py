"""The terminal report and the stderr summary."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from basepin.model import Finding, Report, Span
from basepin.report import text
from report.samples import OFFLINE, SAMPLES, assert_golden, reports


@pytest.mark.parametrize("variant", sorted(SAMPLES))
@pytest.mark.parametrize("color", [False, True], ids=["plain", "color"])
def test_render_golden(variant: str, color: bool) -> None:
    suffix = "-color" if color else ""
    assert_golden(f"{variant}{suffix}.txt", text.render(SAMPLES[variant], color=color))


@pytest.mark.parametrize("variant", sorted(SAMPLES))
def test_summary_golden(variant: str) -> None:
    assert_golden(f"{variant}-summary.txt", text.summary(SAMPLES[variant]) + "\n")


@pytest.mark.parametrize("variant", sorted(SAMPLES))
def test_one_line_per_finding_and_incomplete_reference(variant: str) -> None:
    report = SAMPLES[variant]
    lines = text.render(report, color=False).splitlines()
    assert len(lines) == len(report.findings) + len(report.incomplete)


def test_no_colour_codes_unless_asked() -> None:
    assert "\x1b" not in text.render(OFFLINE, color=False)
    assert "\x1b[1;31merror\x1b[0m" in text.render(OFFLINE, color=True)


def test_nothing_to_say_is_empty() -> None:
    assert text.render(Report(files=("Dockerfile",), uses=(), findings=()), color=True) == ""


def test_text_from_a_dockerfile_cannot_drive_the_terminal() -> None:
    finding = Finding(
        "invalid", "error", "evil\x1b]0;x\x07.Dockerfile", Span(1, 1, 1, 2, 0, 1), "", "a\x1b[2Jb"
    )
    rendered = text.render(OFFLINE._replace(findings=(finding,)), color=False)
    assert rendered == "evil\\x1b]0;x\\x07.Dockerfile:1:1: error invalid: a\\x1b[2Jb\n"


def test_summary_is_one_line() -> None:
    summary = text.summary(SAMPLES["online"])
    assert "\n" not in summary
    assert summary.startswith("basepin: ")


@settings(deadline=None)
@given(reports())
def test_any_report_gives_one_line_each(report: Report) -> None:
    lines = text.render(report, color=False).splitlines()
    assert len(lines) == len(report.findings) + len(report.incomplete)
    assert "\n" not in text.summary(report)
