"""Compose interpolation and `.env` files, held to compose-go's own test cases
(template/template_test.go and dotenv fixtures at compose-spec/compose-go e70e961)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basepin.extract.compose_env import (
    EnvFile,
    Value,
    interpolate,
    mapping_lookup,
    read_env,
)

# template_test.go's `defaults`
DEFAULTS = mapping_lookup({"FOO": "first", "BAR": "", "JSON": '{"json":2}'})


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$${foo}", "${foo}"),
        ("foo", "foo"),
        ("a $ string", "a $ string"),
        ("^REGEX$", "^REGEX$"),
        ("$}", "$}"),
        ("$", "$"),
        ("$FOO-bar", "first-bar"),
        ("This $FOO var", "This first var"),
        ("This ${FOO} var", "This first var"),
        ("ok ${missing:-def}", "ok def"),
        ("ok ${missing-def}", "ok def"),
        ("ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric"),
        ("-ok ${BAR:-defaultValue}", "-ok defaultValue"),
        ("+ok ${UNSET:-${BAR-defaultValue}}", "+ok "),
        ("-ok ${FOO:-defaultValue}", "-ok first"),
        (":-ok ${UNSET-defaultValue}", ":-ok defaultValue"),
        (":-ok ${BAR-defaultValue}", ":-ok "),
        (":?ok ${BAR:-defaultValue}", ":?ok defaultValue"),
        ("+ok ${BAR-defaultValue}", "+ok "),
        ("ok ${UNSET_VAR-$FOO}", "ok first"),
        ("ok ${UNSET_VAR-${FOO}}", "ok first"),
        ("ok ${UNSET_VAR-${FOO} ${FOO}}", "ok first first"),
        ("ok ${BAR:-$FOO}", "ok first"),
        ("ok ${BAR:-${FOO} ${FOO}}", "ok first first"),
        ("ok ${BAR+$FOO}", "ok first"),
        ("ok ${BAR+$FOO ${FOO:+second}}", "ok first second"),
        ("ok ${FOO:?err}", "ok first"),
        ("ok ${FOO?err}", "ok first"),
        ("ok ${BAR?err}", "ok "),
        ("${UNSET_VAR-myerror?msg}", "myerror?msg"),
        ("${FOO?bar-baz}", "first"),
        ("${BAR:-default_value_for_empty_var}", "default_value_for_empty_var"),
        ('ok ${missing:-{"json":1}}', 'ok {"json":1}'),
        ('ok ${missing-{"json":1}}', 'ok {"json":1}'),
        ('ok ${JSON:-{"json":1}}', 'ok {"json":2}'),
        ("${BAR:+alt}", ""),
        ("${missing+alt}", ""),
        ("${FOO:+alt}", "alt"),
        ("${A:+${A},}B", "B"),
    ],
)
def test_compose_go_cases(template: str, expected: str) -> None:
    expansion = interpolate(template, DEFAULTS)
    assert expansion.unknown is None
    assert expansion.value == expected


@pytest.mark.parametrize(
    "template", ["${", "${}", "${ }", "${ foo}", "${foo }", "${foo!}", "${A:x}"]
)
def test_invalid_templates(template: str) -> None:
    expansion = interpolate(template, DEFAULTS)
    assert expansion.unknown is not None
    assert "invalid interpolation" in expansion.unknown
    assert expansion.value == template


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        (
            "not ok ${UNSET_VAR:?Mandatory Variable Unset}",
            "required variable UNSET_VAR is missing a value: Mandatory Variable Unset",
        ),
        (
            "not ok ${BAR:?Mandatory Variable Empty}",
            "required variable BAR is missing a value: Mandatory Variable Empty",
        ),
        ("not ok ${UNSET_VAR:?}", "required variable UNSET_VAR is missing a value"),
        ("not ok ${UNSET_VAR?}", "required variable UNSET_VAR is missing a value"),
        (
            "not ok ${UNSET_VAR:?Mandatory ${FOO}}",
            "required variable UNSET_VAR is missing a value: Mandatory first",
        ),
        ("x ${missing} y", "missing is not set"),
        ("x $missing y", "missing is not set"),
    ],
)
def test_values_that_cannot_be_known(template: str, reason: str) -> None:
    expansion = interpolate(template, DEFAULTS)
    assert expansion.unknown is not None
    assert expansion.unknown.startswith(reason)
    assert expansion.value == template


@pytest.mark.parametrize(
    ("template", "whole", "names"),
    [
        ("nginx:1", ("text", 0, 7), ()),
        ("a$ b", ("text", 0, 4), ()),  # a `$` that starts nothing
        ("$FOO", ("variable", "FOO", 0), ("FOO",)),
        ("${FOO}", ("variable", "FOO", 0), ("FOO",)),
        ("${FOO:-x}", ("variable", "FOO", 0), ("FOO",)),
        ("${missing:-nginx:1}", ("text", 11, 18), ("missing",)),
        ("${missing:-${other:-nginx}}", ("text", 20, 25), ("missing", "other")),
        ("${FOO:+nginx}", ("text", 7, 12), ("FOO",)),
        ("${missing:-$FOO}", ("variable", "FOO", 0), ("missing", "FOO")),
        ("x${FOO}", None, ("FOO",)),
        ("${FOO}${FOO}", None, ("FOO", "FOO")),
        ("$$x", None, ()),
        ("${BAR:-}", ("text", 7, 7), ("BAR",)),
    ],
)
def test_where_the_whole_value_comes_from(
    template: str, whole: tuple[str, str | int, int] | None, names: tuple[str, ...]
) -> None:
    expansion = interpolate(template, DEFAULTS)
    assert expansion.unknown is None
    assert expansion.whole == whole
    assert expansion.names == names
    if whole is not None and whole[0] == "text":
        assert template[int(whole[1]) : whole[2]] == expansion.value


def test_unknown_variables_stay_unknown() -> None:
    def lookup(name: str) -> Value:
        return Value(None, f"{name} comes from elsewhere")

    assert interpolate("${X:-d}", lookup).unknown == "X comes from elsewhere"
    assert interpolate("a${X}", lookup).unknown == "X comes from elsewhere"


def test_nesting_is_bounded() -> None:
    template = "${A:-" * 200 + "x" + "}" * 200
    expansion = interpolate(template, DEFAULTS)
    assert expansion.unknown is not None
    assert "nested deeper" in expansion.unknown


@given(st.text(alphabet="${}:-+?AB_ab01 \n", max_size=40))
def test_interpolation_never_raises(template: str) -> None:
    expansion = interpolate(template, DEFAULTS)
    if "$" not in template:
        assert expansion == (template, None, (), ("text", 0, len(template)))


# --- .env files ---------------------------------------------------------------------------

# dotenv/fixtures/quoted.env, whose expectations are in godotenv_test.go
QUOTED = """OPTION_A='1'
OPTION_B='2'
OPTION_C=''
OPTION_D='\\n'
OPTION_E="1"
OPTION_F="2"
OPTION_G=""
OPTION_H="\\n"
OPTION_I = "echo 'asd'" # Inline comment
OPTION_J = 'first line
second line
third line
and so on'
OPTION_K='Let\\'s go!'
OPTION_Z = "last value"
"""


def values(text: str) -> dict[str, str | None]:
    return {
        name: entry.value.text for name, entry in read_env(EnvFile(".env", text)).entries.items()
    }


def test_quoted_fixture() -> None:
    assert values(QUOTED) == {
        "OPTION_A": "1",
        "OPTION_B": "2",
        "OPTION_C": "",
        "OPTION_D": "\\n",
        "OPTION_E": "1",
        "OPTION_F": "2",
        "OPTION_G": "",
        "OPTION_H": "\n",
        "OPTION_I": "echo 'asd'",
        "OPTION_J": "first line\nsecond line\nthird line\nand so on",
        "OPTION_K": "Let's go!",
        "OPTION_Z": "last value",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A=b", {"A": "b"}),
        ("export A=b\n", {"A": "b"}),
        ("A: b\n", {"A": "b"}),
        ("  A = b  \n", {"A": "b"}),
        ("A=b # comment\nB=c#d\n", {"A": "b", "B": "c#d"}),
        ("# only\n\n\nA=\nB=x\n", {"A": "", "B": "x"}),
        ("A=1\nB=${A}-2\nC='${A}'\nD=\"$A\"\n", {"A": "1", "B": "1-2", "C": "${A}", "D": "1"}),
        ('A="x\\$y"\nB=$$z\n', {"A": "x$y", "B": "$z"}),
        ('A="\\0101"\nB="\\c"\n', {"A": "A", "B": "\\c"}),
        ("\ufeffA=b\r\nC=d\r\n", {"A": "b", "C": "d"}),
        ("A.B-c[0]=x\n", {"A.B-c[0]": "x"}),
        ("A=1\nA=2\n", {"A": "2"}),
    ],
)
def test_dotenv_values(text: str, expected: dict[str, str]) -> None:
    assert values(text) == expected


def test_a_name_alone_comes_from_the_environment() -> None:
    entry = read_env(EnvFile(".env", "A\nB=1\n")).entries["A"]
    assert entry.value.text is None
    assert entry.value.unknown is not None
    assert "environment" in entry.value.unknown


def test_where_values_are_written_and_whether_a_fix_may_rewrite_them() -> None:
    text = 'A=nginx:1\nB=\'nginx:2\'\nC="nginx:3"  # c\nD="a\\tb"\nE=${A}\nF=x$$y\n'
    entries = read_env(EnvFile(".env", text)).entries
    written = {name: (text[e.start : e.end], e.verbatim) for name, e in entries.items()}
    assert written == {
        "A": ("nginx:1", True),
        "B": ("nginx:2", True),
        "C": ("nginx:3", True),
        "D": ("a\\tb", False),
        "E": ("${A}", False),
        "F": ("x$$y", False),
    }


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ("A=1\nB C=2\n", 4, "key cannot contain a space"),
        ("A=1\nB!=2\n", 5, "unexpected character '!'"),
        ("A='open\n", 2, "unterminated quoted value"),
    ],
)
def test_dotenv_errors(text: str, offset: int, message: str) -> None:
    read = read_env(EnvFile(".env", text))
    assert read.error is not None
    assert read.error[0] == offset
    assert message in read.error[1]
    assert dict(read.entries).keys() == ({"A"} if offset > 2 else set())


@given(st.text(max_size=60))
def test_dotenv_never_raises(text: str) -> None:
    read_env(EnvFile(".env", text))
