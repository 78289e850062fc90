"""basepin.escape: what text from outside may look like once shown, in examples and properties."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basepin import escape
from basepin.escape import (
    escape_data,
    escape_property,
    json_text,
    not_a_command,
    redact_record,
    redacted_url,
    shown,
    shown_lines,
    workflow_command,
)
from fixtures.actions_runner import commands, unescape_data, unescape_property
from fixtures.hostile_text import FORBIDDEN, HOSTILE, SHOWN

SRC = Path(__file__).resolve().parents[1] / "src"

# Text of any kind, weighted towards what attacks.
hostile_text = st.lists(
    st.one_of(
        st.characters(codec="utf-8"),
        st.characters(max_codepoint=0x9F),
        st.sampled_from(["\u202e", "\u2066", "\u200f", "\u061c", "\ud800", "\U000e0041"]),
        st.sampled_from(["::", "##[", "#", "%0A", "%25", "\r\n", "\x1b[", "\\", " ", "\u00a0"]),
    )
).map("".join)


@pytest.mark.parametrize(("raw", "expected"), list(zip(HOSTILE, SHOWN, strict=True)))
def test_shown_hostile(raw: str, expected: str) -> None:
    assert shown(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("python:3.12-slim", "python:3.12-slim", id="plain"),
        pytest.param("café 中文 — ü", "café 中文 — ü", id="non-ascii-stays-readable"),
        pytest.param("a\tb", "a\\tb", id="tab"),
        pytest.param("\x00\x1f", "\\x00\\x1f", id="c0"),
        pytest.param("\x85\u2028\u2029", "\\x85\\u2028\\u2029", id="unicode-line-breaks"),
        pytest.param("\u200b\ufeff\u2060", "\\u200b\\ufeff\\u2060", id="invisible"),
        pytest.param("Dockerfile.\udcff", "Dockerfile.\\udcff", id="not-utf-8-file-name"),
        pytest.param("\U000e0041\U000e007f", "\\U000e0041\\U000e007f", id="tag-characters"),
        pytest.param("###[", "##\\x23[", id="legacy-prefix-in-a-run"),
        pytest.param("C:\\x1b", "C:\\x1b", id="backslashes-stay"),
    ],
)
def test_shown(raw: str, expected: str) -> None:
    assert shown(raw) == expected


def _read_back(text: str) -> str:
    """Python reads the escapes `shown` writes."""
    return text.encode("ascii", "backslashreplace").decode("unicode_escape")


@given(hostile_text)
def test_shown_leaves_nothing_raw_and_reads_back(text: str) -> None:
    escaped = shown(text)
    assert not FORBIDDEN.search(escaped)
    assert "\n" not in escaped
    assert "##[" not in escaped
    if "\\" not in text:
        assert _read_back(escaped) == text


@given(st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cf", "Zl", "Zp"])))
def test_shown_keeps_printable_text(text: str) -> None:
    if "##[" not in text:
        assert shown(text) == text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("::error::x", "\\x3a:error::x", id="command"),
        pytest.param("  ::error::x", "  \\x3a:error::x", id="after-spaces"),
        pytest.param("\u00a0\u3000::x", "\u00a0\u3000\\x3a:x", id="after-unicode-space"),
        pytest.param(":error::x", ":error::x", id="one-colon"),
        pytest.param("a ::error::x", "a ::error::x", id="inside"),
    ],
)
def test_not_a_command(line: str, expected: str) -> None:
    assert not_a_command(line) == expected


@given(hostile_text)
def test_no_shown_line_is_a_workflow_command(text: str) -> None:
    assert commands(not_a_command(shown(text))) == []


@given(hostile_text)
def test_shown_lines_keep_lines_and_tabs_and_issue_no_command(text: str) -> None:
    escaped = shown_lines(text)
    assert commands(escaped) == []
    assert not FORBIDDEN.search(re.sub("\r\n|[\n\t]", "", escaped))
    assert escaped.count("\n") == text.count("\n")
    assert escaped.count("\t") == text.count("\t")


# -- workflow commands ---------------------------------------------------------------------------


@settings(deadline=None)
@given(hostile_text)
def test_toolkit_escaping_reads_back_as_the_runner_reads_it(text: str) -> None:
    assert unescape_data(escape_data(text)) == text
    escaped = escape_property(text)
    assert not {"\n", "\r", ":", ","} & set(escaped)
    assert unescape_property(escaped) == text


@given(
    st.sampled_from(["error", "warning", "notice"]),
    hostile_text,
    # The runner trims the properties' white space: values that start and end with a letter.
    st.dictionaries(
        st.sampled_from(["file", "title", "line"]), hostile_text.map("a{}z".format), max_size=3
    ),
)
def test_a_workflow_command_is_one_command_with_its_text_shown(
    name: str, message: str, properties: dict[str, str]
) -> None:
    line = workflow_command(name, message, properties)
    (command,) = commands(line)
    assert command.name == name
    assert command.data == shown(message)
    assert command.properties == {k: shown(v) for k, v in properties.items()}


def test_a_workflow_command_of_hostile_text() -> None:
    line = workflow_command("error", "nl\n::error::pwned %0A", {"file": "::a,b", "title": "t"})
    assert line == "::error file=%3A%3Aa%2Cb,title=t::nl\\n::error::pwned %250A"


# -- JSON ------------------------------------------------------------------------------------------


@given(
    st.recursive(
        hostile_text,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3)
        ),
        max_leaves=8,
    )
)
def test_json_text_is_the_same_json_with_nothing_raw(value: object) -> None:
    dumped = json_text(json.dumps(value))
    assert json.loads(dumped) == value
    assert dumped.isascii()
    assert not FORBIDDEN.search(dumped)
    assert "##[" not in dumped


# -- credentials in URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("https://host/v2/", "https://host/v2/", id="no-credentials"),
        pytest.param(
            "cannot reach https://user:secret@host:5000/x.",
            "cannot reach https://***@host:5000/x.",
            id="user-and-password",
        ),
        pytest.param("'https://tok@host'", "'https://***@host'", id="token-as-user-quoted"),
        pytest.param("http://u:p@ss@host/", "http://***@host/", id="at-in-password"),
        pytest.param(
            "https://auth.example/token?service=reg&scope=repository:a:pull&token=secret",
            "https://auth.example/token?service=reg&scope=repository:a:pull&token=***",
            id="token-in-query",
        ),
        pytest.param(
            "https://cdn/blob?X-Amz-Credential=ak&X-Amz-Signature=sig&x=1#f",
            "https://cdn/blob?X-Amz-Credential=***&X-Amz-Signature=***&x=1#f",
            id="signed-url",
        ),
        pytest.param(
            'b\'Bearer realm="https://u:secret@auth/t",service="r"\'',
            'b\'Bearer realm="https://***@auth/t",service="r"\'',
            id="in-a-header-repr",
        ),
        pytest.param("/v2/x/manifests/a@sha256:1", "/v2/x/manifests/a@sha256:1", id="no-url"),
        pytest.param("https://h/v2/a@sha256:1", "https://h/v2/a@sha256:1", id="at-in-path"),
    ],
)
def test_redacted_url(text: str, expected: str) -> None:
    assert redacted_url(text) == expected


@given(
    st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1),
    # A password as URL parsers read one: anything but the authority's delimiters.
    st.text(st.characters(codec="utf-8", exclude_characters="/?#@ \t\n\v\f\r\"'<>`")),
    st.sampled_from(["https", "http", "ftp"]),
    hostile_text.filter(lambda text: "://" not in text),
)
def test_redacted_url_leaves_out_any_password(
    user: str, password: str, scheme: str, around: str
) -> None:
    secret = f"{password}-S3CRET"
    text = f"{around} {scheme}://{user}:{secret}@registry.example:5000/v2/ {around}"
    assert secret not in redacted_url(text)


def test_log_records_are_redacted_and_escaped() -> None:
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "HTTP Request: %s %s",
        ("GET", "http://u:pw@h/\x1b"),
        None,
    )
    assert redact_record(record)
    assert record.getMessage() == "HTTP Request: GET http://***@h/\\x1b"


def test_the_network_loggers_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    import basepin.registry.http  # noqa: F401  (puts the filters on)

    caplog.set_level(logging.DEBUG)
    for name in escape.LOGGERS:
        logging.getLogger(name).debug("to %s", "https://user:secret@registry.example/")
    assert "secret" not in caplog.text
    assert caplog.text.count("https://***@registry.example/") == len(escape.LOGGERS)


def test_every_module_that_logs_is_redacted() -> None:
    logging_modules = {
        ".".join(path.relative_to(SRC).with_suffix("").parts)
        for path in SRC.rglob("*.py")
        if "getLogger(__name__)" in path.read_text(encoding="utf-8")
    }
    assert logging_modules
    assert logging_modules <= set(escape.LOGGERS)


def test_importing_it_imports_nothing_heavy() -> None:
    program = "import sys, basepin.escape; print(sorted({'logging', 'typing'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
