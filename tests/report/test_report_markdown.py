"""The job summary: the table, escaping and the 1 MiB limit."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings

from basepin.model import USE_KINDS, Finding, ImageUse, Report, Resolution, Span, Unresolved
from basepin.report import markdown
from report.samples import NOW, OFFLINE, ONLINE, SAMPLES, assert_golden, reports


@pytest.mark.parametrize("variant", sorted(SAMPLES))
def test_render_golden(variant: str) -> None:
    assert_golden(f"{variant}.md", markdown.render(SAMPLES[variant], now=NOW))


def _table_rows(rendered: str) -> list[str]:
    return [line for line in rendered.splitlines() if line.startswith("| ")][2:]


@pytest.mark.parametrize("variant", sorted(SAMPLES))
def test_one_row_per_use_and_per_file_problem(variant: str) -> None:
    report = SAMPLES[variant]
    rows = _table_rows(markdown.render(report, now=NOW))
    file_problems = [f for f in report.findings if not f.reference]
    assert len(rows) == len(report.uses) + len(file_problems)
    assert all(row.count(" | ") == 8 for row in rows)


def test_no_references() -> None:
    rendered = markdown.render(Report(files=(), uses=(), findings=()), now=NOW)
    assert "No image references found." in rendered
    assert ":white_check_mark:" in rendered


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("plain text", "plain text", id="plain"),
        pytest.param("a|b", "a\\|b", id="pipe"),
        pytest.param("*b* _i_ `c` ~s~", "\\*b\\* \\_i\\_ \\`c\\` \\~s\\~", id="emphasis-code"),
        pytest.param("[x](http://y)", "\\[x\\](http://y)", id="link"),
        pytest.param("<script>&amp;", "\\<script\\>\\&amp;", id="html-and-entity"),
        pytest.param("$x$ #1", "\\$x\\$ \\#1", id="math-and-reference"),
        pytest.param("a\\|b", "a\\\\\\|b", id="backslash-before-pipe"),
        pytest.param("line\nbreak", "line\\\\nbreak", id="newline"),
        pytest.param("\x1b[2J\u202e", "\\\\x1b\\[2J\\\\u202e", id="controls-and-bidi"),
    ],
)
def test_escape(raw: str, expected: str) -> None:
    assert markdown.escape(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("python:3.12", "`python:3.12`", id="plain"),
        pytest.param("a|b", "`a\\|b`", id="pipe"),
        pytest.param("a`b", "a\\`b", id="backtick-is-escaped-text"),
        pytest.param("a\\b", "a\\\\b", id="backslash-is-escaped-text"),
    ],
)
def test_code(raw: str, expected: str) -> None:
    assert markdown.code(raw) == expected


@pytest.mark.parametrize(
    ("reference", "parts"),
    [
        pytest.param("nginx", ("nginx", None, None), id="name"),
        pytest.param("python:3.12", ("python", "3.12", None), id="tag"),
        pytest.param("localhost:5000/app", ("localhost:5000/app", None, None), id="port"),
        pytest.param(
            "localhost:5000/app:1@sha256:ab", ("localhost:5000/app", "1", "sha256:ab"), id="all"
        ),
        pytest.param("app@sha256:ab", ("app", None, "sha256:ab"), id="digest-only"),
    ],
)
def test_split_reference(reference: str, parts: tuple[str, str | None, str | None]) -> None:
    assert markdown.split_reference(reference) == parts


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (45_200_000, "45.2 MB"),
        (999_949, "999.9 kB"),
        (999_950, "1.0 MB"),
        (2_500_000_000, "2.5 GB"),
        (7_000_000_000_000_000, "7000.0 TB"),
    ],
)
def test_human_size(size: int, shown: str) -> None:
    assert markdown.human_size(size) == shown


@pytest.mark.parametrize(
    ("digest", "shown"),
    [
        ("sha256:" + "0123456789" * 6 + "abcd", "sha256:01234567…"),
        ("sha256:0123", "sha256:0123"),
    ],
)
def test_short_digest(digest: str, shown: str) -> None:
    assert markdown.short_digest(digest) == shown


@pytest.mark.parametrize(
    ("pushed", "age"),
    [
        pytest.param(datetime(2025, 6, 1, 11, tzinfo=timezone.utc), "0 days", id="today"),
        pytest.param(datetime(2025, 5, 31, 12, tzinfo=timezone.utc), "1 day", id="one"),
        pytest.param(datetime(2025, 6, 2, tzinfo=timezone.utc), "0 days", id="future-clock"),
        pytest.param(datetime(2024, 6, 1, 12), "365 days", id="naive-is-utc"),
    ],
)
def test_age(pushed: datetime, age: str) -> None:
    use = ImageUse("Dockerfile", "from", "a:1", True, Span(1, 6, 1, 9, 5, 8), 1)
    report = Report(
        files=("Dockerfile",),
        uses=(use,),
        findings=(),
        lookups={"a:1": Resolution("a:1", None, pushed=pushed)},
        offline=False,
    )
    (row,) = _table_rows(markdown.render(report, now=NOW))
    assert row.split(" | ")[6] == age


def test_offline_says_the_registry_was_not_asked() -> None:
    assert "Offline run" in markdown.render(OFFLINE, now=NOW)
    assert "Offline run" not in markdown.render(ONLINE, now=NOW)


def _big_report(rows: int, message: str = "x" * 200) -> Report:
    uses = tuple(
        ImageUse("Dockerfile", "from", f"image{n}:1", True, Span(n, 6, n, 14, 0, 0), n)
        for n in range(1, rows + 1)
    )
    findings = tuple(
        Finding("unpinned", "error", "Dockerfile", use.span, use.reference, message) for use in uses
    )
    incomplete = tuple(Unresolved(f"image{n}:1", "timed out") for n in range(1, 50))
    return Report(files=("Dockerfile",), uses=uses, findings=findings, incomplete=incomplete)


# Each message holds characters of 2, 3 and 4 bytes in UTF-8: bytes, not characters, count.
WIDE = "ü€😀" * 40


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("message", ["x" * 200, WIDE], ids=["ascii", "wide"])
@pytest.mark.parametrize("limit", [2_000, 5_000, 20_000])
def test_cut_to_the_limit_in_bytes_as_written(limit: int, message: str, newline: str) -> None:
    report = _big_report(100, message)
    rendered = markdown.render(report, now=NOW, limit=limit, newline=newline)
    written = markdown.encoded(rendered, newline)
    assert len(written) <= limit
    # Cut at a row boundary: every row shown is whole.
    rows = _table_rows(rendered)
    assert all(len(_cells(row)) == 9 for row in rows)
    assert rows == _table_rows(markdown.render(report, now=NOW, limit=10**9))[: len(rows)]
    shown_unchecked = rendered.count("\n- ")
    rows_out, unchecked_out = 100 - len(rows), 49 - shown_unchecked
    assert rows_out > 0
    left_out = f"{rows_out} rows"
    if unchecked_out:
        left_out += f" and {unchecked_out} unchecked references"
    assert f"_{left_out} left out: GitHub takes at most 1 MiB of summary per step." in rendered
    assert "Every row is in the JSON report" in rendered
    # Nothing that fit was left out: one more row would not have.
    next_row = _table_rows(markdown.render(report, now=NOW, limit=10**9))[len(rows)]
    assert len(written) + len(markdown.encoded(next_row + "\n", newline)) > limit - 200


def test_the_note_names_where_the_full_report_is() -> None:
    rendered = markdown.render(
        _big_report(100), now=NOW, limit=5_000, full_report="`/tmp/report.json`"
    )
    assert rendered.endswith("Every row is in `/tmp/report.json`._\n")


def test_crlf_lines_are_counted_as_two_bytes() -> None:
    report = _big_report(100)
    whole = markdown.render(report, now=NOW, limit=10**9)
    lf_size = len(whole.encode())
    assert markdown.render(report, now=NOW, limit=lf_size) == whole
    cut = markdown.render(report, now=NOW, limit=lf_size, newline="\r\n")
    assert len(_table_rows(cut)) + cut.count("\n- ") < 100 + 49
    assert len(markdown.encoded(cut, "\r\n")) == len(cut.encode()) + cut.count("\n") <= lf_size


def test_default_limit_is_githubs() -> None:
    report = _big_report(6_000)
    rendered = markdown.render(report, now=NOW)
    assert (
        len(rendered.encode())
        <= 1024 * 1024
        < len(markdown.render(report, now=NOW, limit=10**9).encode())
    )
    assert re.search(r"_\d+ rows and \d+ unchecked references left out", rendered)


def test_untruncated_when_it_fits() -> None:
    rendered = markdown.render(ONLINE, now=NOW)
    assert markdown.render(ONLINE, now=NOW, limit=len(rendered.encode())) == rendered


def test_findings_cell_escapes_messages() -> None:
    finding = Finding("invalid", "error", "a|b", Span(1, 1, 1, 1, 0, 0), "", "x|y\n<b>")
    (row,) = _table_rows(markdown.render(OFFLINE._replace(uses=(), findings=(finding,)), now=NOW))
    assert row == "| `a\\|b` | 1 | — | — | — | — | — | — | **error** `invalid`: x\\|y\\\\n\\<b\\> |"


def _cells(row: str) -> list[str]:
    """Split a table row at its unescaped pipes, as GitHub's table parser does."""
    cells, cell, escaped = [], "", False
    for char in row:
        if char == "|" and not escaped:
            cells.append(cell)
            cell = ""
        else:
            cell += char
        escaped = char == "\\" and not escaped
    return [*cells, cell][1:-1]


@settings(deadline=None)
@given(reports())
def test_any_text_keeps_the_table_in_shape(report: Report) -> None:
    rendered = markdown.render(report, now=NOW)
    rows = _table_rows(rendered)
    assert all(len(_cells(row)) == 9 for row in rows)
    assert len(rows) >= len(report.uses)
    unchecked = [line for line in rendered.splitlines() if line.startswith("- ")]
    assert len(unchecked) == len(report.incomplete)


def test_each_kind_of_use_says_where_the_image_is_named() -> None:
    uses = tuple(
        ImageUse(f"f{n:02d}", kind, f"alpine:3.{n}", True, Span(1, 1, 1, 11, 0, 10), 1)
        for n, kind in enumerate(USE_KINDS)
    )
    rows = _table_rows(markdown.render(Report(("f",), uses, ()), now=NOW))
    marks = [row.split(" | ")[2] for row in rows]
    assert marks[0] == "`alpine`"  # a FROM line says it plainly
    assert marks[USE_KINDS.index("compose-image")] == "`alpine` (Compose service)"
    assert marks[USE_KINDS.index("kubernetes-container")] == "`alpine` (Kubernetes container)"
    assert len(set(marks[4:])) == len(USE_KINDS) - 4 - 1  # the two docker:// steps share one
