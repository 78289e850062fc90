"""Shell patterns of ${V#p} ${V%p} ${V/p/r}: BuildKit's results, without backtracking.

The reference below is BuildKit's own recipe (lex.go: convertShellPatternToRegex, trimPrefix,
trimSuffix, reversePattern; Go's regexp: ReplaceAllString, Expand) run on Python's `re`, whose
leftmost-first matches are Go's for these expressions. It backtracks, so it only sees small
inputs; the matcher must agree with it on all of them.
"""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basepin.extract.dockerfile import patterns
from basepin.extract.dockerfile.patterns import (
    MAX_MATCH_STEPS,
    Matcher,
    PatternError,
    compile_pattern,
    trim,
)
from basepin.extract.dockerfile.replace import replace

# --- the reference: BuildKit's recipe on a backtracking engine -------------------------------


class Rejected(Exception):
    pass


def go_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """convertShellPatternToRegex, written for Python's re."""
    if pattern.startswith("\ufeff"):  # text/scanner skips a byte order mark
        pattern = pattern[1:]
    out = [r"\A"] if anchored else []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        i += 1
        if char == "*":
            out.append(".*" if greedy else ".*?")
        elif char == "?":
            out.append(".")
        elif char == "\\":
            if i < len(pattern) and pattern[i] in "}/":
                continue
            escaped = pattern[i] if i < len(pattern) else "\ufffd"
            i += 1
            if escaped not in "*?\\":
                raise Rejected(f"invalid escape '\\{escaped}'")
            out.append(re.escape(escaped))
        else:
            out.append(re.escape(char))
    return re.compile("".join(out))


def go_reverse_pattern(pattern: str) -> str:
    out = [""] * len(pattern)
    last = len(pattern) - 1
    i = 0
    while i <= last:
        if pattern[i] == "\\" and i != last:
            out[last - i - 1] = "\\"
            out[last - i] = pattern[i + 1]
            i += 2
        else:
            out[last - i] = pattern[i]
            i += 1
    return "".join(out)


def go_trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    found = go_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value[found.end() :] if found else value


def go_trim(value: str, word: str, op: str) -> str:
    greedy = word.startswith(op)
    if greedy:
        word = word[1:]
    if op == "#":
        return go_trim_prefix(word, value, greedy)
    return go_trim_prefix(go_reverse_pattern(word), value[::-1], greedy)[::-1]


def go_expand(template: str, match: str) -> str:
    """Regexp.expand for an expression without groups."""
    out = []
    while template:
        before, dollar, after = template.partition("$")
        if not dollar:
            break
        out.append(before)
        template = after
        if template.startswith("$"):
            out.append("$")
            template = template[1:]
            continue
        rest = template[1:] if template.startswith("{") else template
        i = 0
        while i < len(rest) and (rest[i].isalpha() or rest[i].isdecimal() or rest[i] == "_"):
            i += 1
        if i == 0 or (template.startswith("{") and not rest.startswith("}", i)):
            out.append("$")
            continue
        name = rest[:i]
        template = rest[i + 1 :] if template.startswith("{") else rest[i:]
        if name == "0":
            out.append(match)
    out.append(template)
    return "".join(out)


def go_replace(value: str, pattern: str, replacement: str, every: bool) -> str:
    regex = go_regex(pattern, greedy=True, anchored=False)
    if not every:
        found = regex.search(value)
        return value[: found.start()] + replacement + value[found.end() :] if found else value
    out: list[str] = []
    last_end = pos = 0
    while pos <= len(value):
        found = regex.search(value, pos)
        if found is None:
            break
        start, end = found.span()
        out.append(value[last_end:start])
        if end > last_end or start == 0:
            out.append(go_expand(replacement, found.group()))
        last_end = end
        pos = pos + 1 if pos + 1 > end else end
    out.append(value[last_end:])
    return "".join(out)


def outcome(function: object, *args: object, **kwargs: object) -> str:
    try:
        return repr(function(*args, **kwargs))  # type: ignore[operator]
    except (Rejected, PatternError) as err:
        return "error: " + str(err).rpartition(": ")[2]


# --- agreement -------------------------------------------------------------------------------

VALUES = st.text(alphabet="ab\né", max_size=12)
PATTERNS = st.text(alphabet="ab??**\\\n}/\ufeff", max_size=8)
REPLACEMENTS = st.text(alphabet="x$0{}1_é", max_size=6)


@settings(max_examples=300, deadline=None)
@given(VALUES, PATTERNS, st.sampled_from(["#", "##", "%", "%%"]))
def test_trim_agrees_with_buildkit(value: str, pattern: str, op: str) -> None:
    word = op[1:] + pattern  # the doubled operator stays on the word, as the lexer passes it
    assert outcome(trim, value, word, op[0]) == outcome(go_trim, value, word, op[0])


@settings(max_examples=300, deadline=None)
@given(VALUES, PATTERNS, REPLACEMENTS, st.booleans())
def test_replace_agrees_with_buildkit(
    value: str, pattern: str, replacement: str, every: bool
) -> None:
    ours = outcome(replace, value, pattern, replacement, every=every, limit=1 << 20)
    assert ours == outcome(go_replace, value, pattern, replacement, every)


@settings(max_examples=300, deadline=None)
@given(VALUES, PATTERNS, REPLACEMENTS, st.booleans(), st.integers(0, 30))
def test_a_limit_only_refuses_results_past_it(
    value: str, pattern: str, replacement: str, every: bool, limit: int
) -> None:
    try:
        whole = replace(value, pattern, replacement, every=every, limit=1 << 20)
    except PatternError:
        return
    assert whole is not None
    expected = whole if len(whole) <= limit else None
    assert replace(value, pattern, replacement, every=every, limit=limit) == expected


def test_every_small_case_agrees_with_buildkit() -> None:
    """All patterns of up to 3 items from `a?*\\n` on all values of up to 4 of `ab\\n`."""
    values = ["".join(v) for n in range(5) for v in itertools.product("ab\n", repeat=n)]
    patterns = ["".join(p) for n in range(4) for p in itertools.product("a?*\n", repeat=n)]
    for pattern, value in itertools.product(patterns, values):
        for op in ("#", "%"):
            for word in (pattern, op + pattern):
                assert trim(value, word, op) == go_trim(value, word, op), (value, word)
        for every in (False, True):
            ours = replace(value, pattern, "<$0>", every=every, limit=1 << 10)
            assert ours == go_replace(value, pattern, "<$0>", every), (value, pattern, every)


@pytest.mark.parametrize(
    ("value", "pattern", "replacement", "expected"),
    [
        # An empty match right after a match is not replaced (Python's re.sub would).
        ("abc", "*", "x", "x"),
        ("ab\n\ncd", "*", "x", "x\nx\nx"),
        ("abc", "", "-", "-a-b-c-"),
        # $0 is the match, other names are empty, $$ is $, a $ that names nothing stays.
        ("a-b", "?", "<$0>", "<a><-><b>"),
        ("ab", "a", "${0}$1$x$$$", "a$$b"),
        ("ab", "a", "$0x", "b"),
        ("ab", "a", "${0", "${0b"),
        ("ab", "a", "$²", "$²b"),
        # A star does not cross a newline; a literal newline does.
        ("a1\na2", "a*", "x", "x\nx"),
        ("a1\na2", "1\n*", "x", "ax"),
    ],
)
def test_replace_all(value: str, pattern: str, replacement: str, expected: str) -> None:
    assert replace(value, pattern, replacement, every=True, limit=100) == expected
    assert go_replace(value, pattern, replacement, every=True) == expected


def test_one_replacement_is_put_in_as_written() -> None:
    assert replace("abc", "b", "$0$$", every=False, limit=100) == "a$0$$c"


@pytest.mark.parametrize(
    ("value", "word", "op", "expected"),
    [
        ("a/b/c", "*/", "#", "b/c"),
        ("a/b/c", "#*/", "#", "c"),
        ("a/b/c", "/*", "%", "a/b"),
        ("a/b/c", "%/*", "%", "a"),
        ("x\ny", "#*", "#", "\ny"),
        ("\ufeffab", "\ufeffa", "#", "\ufeffab"),  # the pattern's BOM is dropped, not the value's
        ("ab", "b\ufeff", "%", "a"),  # reversed, the trailing BOM leads: dropped
        ("ab", "\\*", "#", "ab"),
        ("*b", "\\*", "#", "b"),
        ("a}b", "a\\}", "#", "b"),
    ],
)
def test_trim(value: str, word: str, op: str, expected: str) -> None:
    assert trim(value, word, op) == expected == go_trim(value, word, op)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("\\x", "invalid pattern (\\x) in substitution: invalid escape '\\x'"),
        ("a\\", "invalid pattern (a\\) in substitution: invalid escape '\\\ufffd'"),
        ("[\\a", "invalid pattern ([\\a) in substitution: invalid escape '\\a'"),
    ],
)
def test_bad_escapes_are_rejected(pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match="^" + re.escape(message) + "$"):
        compile_pattern(pattern)


def test_regex_characters_are_plain() -> None:
    assert replace("a.b(c)[d]{e}|^$+", ".(|)[]{}^$+", "", every=True, limit=99) == (
        "a.b(c)[d]{e}|^$+"
    )
    assert replace("x.(|)[]{}^$+y", ".(|)[]{}^$+", "", every=True, limit=99) == "xy"


# --- work ------------------------------------------------------------------------------------


def steps(value: str, pattern: str, *, greedy: bool = True) -> int:
    matcher = Matcher(value)
    shape = compile_pattern(pattern)
    matcher.prefix(shape, greedy=greedy)
    matcher.search(shape, 0, len(value))
    return matcher.steps


@pytest.mark.parametrize("pattern", ["*a*a*a*a*a*b", "*a*a*a*a*a*", "a" + "*a" * 40 + "*b"])
def test_work_does_not_grow_with_the_value(pattern: str) -> None:
    small = steps("a" * 1000, pattern)
    assert steps("a" * 100_000, pattern) == small < 200


@pytest.mark.parametrize(
    "pattern", ["?*?*?*?*?*b", "*a?a?a*a?a?b", "*" + "a?" * 30 + "b", "*a*b?*c"]
)
def test_work_grows_with_the_value_at_most(pattern: str) -> None:
    """A segment with `?`s is looked for with a regular expression: one pass of it."""
    assert steps("ab" * 50_000, pattern) <= 11 * steps("ab" * 5_000, pattern) + 100


def test_work_grows_with_the_lines_at_most() -> None:
    lines = 1000
    value = ("a" * 20 + "\n") * lines
    assert steps(value, "*a*a*a*b") <= 4 * lines + 10


def test_work_past_the_budget_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patterns, "MAX_MATCH_STEPS", 1000)
    # Every line is a match of `*\n`: a thousand searches.
    with pytest.raises(PatternError, match=r"^matching takes more than 1000 steps$"):
        replace("\n" * 1000, "*\n", "", every=True, limit=1 << 20)
    # The budget is for one operation: each of these fits in it, all of them would not.
    for _ in range(5):
        assert replace("\n" * 100, "*\n", "", every=True, limit=1 << 20) == ""
    assert MAX_MATCH_STEPS == 1 << 18


def test_results_past_the_limit_are_not_built() -> None:
    value = "a" * 100_000
    assert replace(value, "?", "$0$0", every=True, limit=1000) is None
    assert replace(value, "a", "bb", every=True, limit=1000) is None
    assert replace(value, "", "b", every=True, limit=1000) is None
    assert replace(value, "*", "b", every=True, limit=1000) == "b"
    assert replace(value, "a", "b", every=False, limit=100) is None
