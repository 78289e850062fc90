"""BuildKit's word rules: the shell lexer, flag extraction, ARG words, --mount CSV."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basepin.extract.dockerfile.commands import (
    CsvError,
    csv_fields,
    extract_flags,
    parse_words,
    split_command,
    whitespace_words,
)
from basepin.extract.dockerfile.expansion import EnvValue, ExpansionError, Unknown, Unset
from basepin.extract.dockerfile.words import MAX_NESTING, ShellLexer

ENV: dict[str, EnvValue] = {
    "A": "a/b/c",
    "EMPTY": "",
    "SPACED": "x y",
    "BS": "a\\b",
    "ARCH": Unknown("ARCH is set per platform"),
}


def lookup(name: str) -> EnvValue:
    return ENV.get(name, Unset(f"{name} is unset"))


def lexer(escape: str = "\\") -> ShellLexer:
    return ShellLexer(escape, lookup)


@pytest.mark.parametrize(
    ("word", "text", "via"),
    [
        ("plain:1.0", "plain:1.0", None),
        ("$A", "a/b/c", "A"),
        ("${A}", "a/b/c", "A"),
        ("x-${A}-$EMPTY", "x-a/b/c-", "A"),
        ("${A:-d}", "a/b/c", "A"),
        ("${EMPTY:-d}", "d", None),
        ("${EMPTY-d}", "", None),
        ("${UNSET-d}", "d", None),
        ("${UNSET:-${A}}", "a/b/c", "A"),
        ("${A:+alt}", "alt", None),
        ("${EMPTY:+alt}", "", None),
        ("${EMPTY+alt}", "alt", None),
        ("${UNSET+alt}", "", None),
        ("${A:?must be set}", "a/b/c", "A"),
        ("${A#*/}", "b/c", "A"),
        ("${A##*/}", "c", "A"),
        ("${A%/*}", "a/b", "A"),
        ("${A%%/*}", "a", "A"),
        ("${A#?}", "/b/c", "A"),
        ("${A/b/x}", "a/x/c", "A"),
        ("${A//\\//-}", "a-b-c", "A"),
        # Go's ReplaceAllString: no second replacement of the empty match after a match, and
        # $0 in the replacement is the match.
        ("${A//*/x}", "x", "A"),
        ("${A//?/['$0']}", "[a][/][b][/][c]", "A"),
        ("${A/?/['$0']}", "[$0]/b/c", "A"),
        ("${A//?/[\\$0]}", "[\\a][\\/][\\b][\\/][\\c]", "A"),
        ("${A//\\*/x}", "a/b/c", "A"),
        ("\ufeff${A%%/*}", "a", "A"),
        # In a pattern the escapes inside double quotes stay, and one that escapes nothing
        # stays twice (processDoubleQuote with raw escapes): "a\b" is the pattern a\\b.
        ('${BS#"a\\b"}', "", None),
        ('${BS#"a\\\\"}', "b", "BS"),
        ("${A:-$ARCH}", "a/b/c", "A"),
        ("'$A'", "$A", None),
        ('"$A"', "a/b/c", "A"),
        ('"a\\"b\\$A\\x"', 'a"b$A\\x', None),
        ("\\$A", "$A", None),
        ("a\\", "a", None),
        ("$", "$", None),
        ("a$/b", "a$/b", None),
        ("${A}${EMPTY}", "a/b/c", "A"),
        ("$SPACED", "x y", "SPACED"),
    ],
    ids=lambda value: str(value),
)
def test_expand(word: str, text: str, via: str | None) -> None:
    expansion = lexer().expand(word)
    assert (expansion.text, expansion.via, expansion.unknown) == (text, via, None)


def test_escape_directive_changes_the_escape_character() -> None:
    assert lexer("`").expand("a`$A\\b").text == "a$A\\b"


@pytest.mark.parametrize(
    ("word", "reason"),
    [
        ("$UNSET", "UNSET is unset"),
        ("${UNSET}", "UNSET is unset"),
        ("x${UNSET#a}", "UNSET is unset"),
        ("${UNSET?gone}", "UNSET is unset"),
        ("$ARCH", "ARCH is set per platform"),
        ("${ARCH:-x}", "ARCH is set per platform"),
        ("${ARCH:+x}", "ARCH is set per platform"),
        ("${A:+$ARCH}", "ARCH is set per platform"),
        ("${EMPTY:-$UNSET}", "UNSET is unset"),
        ("$1", "1 is unset"),
    ],
)
def test_expand_unknown(word: str, reason: str) -> None:
    assert lexer().expand(word).unknown == reason


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("${", "syntax error: missing '}'"),
        ("${A", "syntax error: missing '}'"),
        ("${}", "syntax error: bad substitution"),
        ("${:x}", "syntax error: bad substitution"),
        ("${A:x}", "unsupported modifier (:x) in substitution"),
        ("${A'x'}", "unsupported modifier (') in substitution"),
        ("${A'x", "unsupported modifier (') in substitution"),
        ("${A:#x}", "unsupported modifier (:#) in substitution"),
        ("${A:-x", "syntax error: missing '}'"),
        ("${A:-'x", "syntax error: missing '}'"),
        ("${A:-${EMPTY:?}", "syntax error: missing '}'"),
        ("${A:-${EMPTY:?}}", "EMPTY: is not allowed to be empty"),
        ("${A/x", "syntax error: missing '/' in ${}"),
        ("${A/x/y", "syntax error: missing '}'"),
        ("${A//\\q/y}", "invalid pattern (\\q) in substitution: invalid escape '\\q'"),
        ("${A%%\\q}", "invalid pattern (\\q) in substitution: invalid escape '\\q'"),
        ("'abc", "unexpected end of statement while looking for matching single-quote"),
        ('"abc', "unexpected end of statement while looking for matching double-quote"),
        ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
        ("${EMPTY:?set it}", "EMPTY: set it"),
        ("${A#\\x}", "invalid pattern (\\x) in substitution: invalid escape '\\x'"),
        ("${a:-" * (MAX_NESTING + 1), "variables are nested too deeply"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_expand_errors(word: str, message: str) -> None:
    with pytest.raises(ExpansionError, match="^" + re.escape(message) + "$"):
        lexer().expand(word)


def test_variables_cannot_blow_up() -> None:
    big = ShellLexer("\\", lambda name: "x" * 40_000)
    with pytest.raises(ExpansionError, match="more than 65536 characters"):
        big.expand("$A$A")


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("RUN a  b", ["RUN", "a", "b"]),
        ('RUN "a b" <<EOF', ["RUN", '"a b"', "<<EOF"]),
        ("RUN x\\ y 'q r'", ["RUN", "x\\ y", "'q r'"]),
        ("RUN $UNSET a", ["RUN", "a"]),
        ("RUN << EOF <<\tX <<-  Y", ["RUN", "<< EOF", "<<\tX", "<<-", "Y"]),
        ("RUN <<", ["RUN", "<<"]),
        ("RUN a<b < c", ["RUN", "a<b", "<", "c"]),
        # BuildKit's ${...} inside a word empties the word's buffer: "a" is lost.
        ("RUN a${X:-}<<EOF", ["RUN", "<<EOF"]),
        ('RUN a"${X:-b}"c', ["RUN", '"b"c']),
        ("RUN ''", ["RUN", "''"]),
        ("RUN 'open", []),
    ],
)
def test_words_as_heredoc_detection_sees_them(line: str, words: list[str]) -> None:
    raw = ShellLexer("\\", lambda name: Unset(name), raw_quotes=True, raw_escapes=True)
    assert raw.words(line) == words


def test_skip_unset_keeps_variables_as_written() -> None:
    keep = ShellLexer("\\", lambda name: Unset(name), skip_unset=True)
    assert keep.words("$EOF ${X:-y}") == ["$EOF", "${X:-y}"]
    assert keep.words("$EOF${X:-y}") == ["${X:-y}"]  # the ${...} empties the word so far


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="$ {}:-+?#%/'\"\\`aAé1\t", max_size=30))
def test_expand_returns_or_rejects(word: str) -> None:
    with contextlib.suppress(ExpansionError):
        lexer().expand(word)


# --- splitting an instruction ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "flags", "args"),
    [
        ("COPY --from=img:1 /a /b", ["--from=img:1"], "/a /b"),
        ("COPY --link --from=a\t/x /y", ["--link", "--from=a"], "/x /y"),
        ('COPY --from="a b" x', ["--from=a b"], "x"),
        ("COPY --from='a' -- --x y", ["--from=a"], "--x y"),
        ("COPY --from=a\\ b x", ["--from=a b"], "x"),
        ("COPY --from=a\\", ["--from=a"], ""),
        ('COPY --"from"=a x', ["--from=a"], "x"),
        ("COPY -from=a x", [], "-from=a x"),
        ("COPY --from=a", ["--from=a"], ""),
        ("COPY --", [], ""),
        ("RUN --mount=a\n--mount=b c", ["--mount=a", "--mount=b"], "c"),
    ],
)
def test_extract_flags(text: str, flags: list[str], args: str) -> None:
    found, rest = extract_flags(text, len(text.split(maxsplit=1)[0]), len(text), "\\")
    assert [flag.word for flag in found] == flags
    assert text[rest:].strip() == args


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="-=ab \t'\"\\`,", max_size=40), st.sampled_from(["\\", "`"]))
def test_flag_positions_point_at_their_characters(text: str, escape: str) -> None:
    flags, rest = extract_flags(text, 0, len(text), escape)
    assert 0 <= rest <= len(text)
    for flag in flags:
        assert len(flag.positions) == len(flag.word)
        assert all(text[place] == ch for ch, place in zip(flag.word, flag.positions, strict=True))
        assert flag.start <= min(flag.positions, default=flag.start)
        assert max(flag.positions, default=flag.start) < flag.end <= len(text)


@pytest.mark.parametrize(
    ("text", "keyword", "flags", "args", "trigger"),
    [
        ("FROM alpine AS a", "from", [], "alpine AS a", None),
        ("  run\t--mount=x  true  ", "run", ["--mount=x"], "true", None),
        ("FROM", "from", [], "", None),
        ("ONBUILD COPY --from=x / /", "onbuild", [], "COPY --from=x / /", "copy"),
        ("onbuild", "onbuild", [], "", None),
    ],
)
def test_split_command(
    text: str, keyword: str, flags: list[str], args: str, trigger: str | None
) -> None:
    command = split_command(text, "\\")
    assert command.keyword == keyword
    assert [flag.word for flag in command.flags] == flags
    assert text[command.args_start : command.args_end] == args
    assert (command.sub.keyword if command.sub else None) == trigger
    if command.sub is not None:
        assert [flag.word for flag in command.sub.flags] == ["--from=x"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a=1 b c=2", ["a=1", "b", "c=2"]),
        ('a="x y" b', ['a="x y"', "b"]),
        ("a='x \\' b", ["a='x \\'", "b"]),
        ('a="x \\" y" b', ['a="x \\" y"', "b"]),
        ("a\\ b c", ["a\\ b", "c"]),
        ("a \\", ["a"]),
        ('a=""', ['a=""']),
        ("", []),
    ],
)
def test_parse_words(text: str, words: list[str]) -> None:
    assert [text[start:end] for start, end in parse_words(text, 0, len(text), "\\")] == words


def test_whitespace_words_stop_at_the_limit() -> None:
    text = "a  b\tc d e"
    assert [text[s:e] for s, e in whitespace_words(text, 0, len(text), limit=4)] == list("abcd")


@pytest.mark.parametrize(
    ("chars", "fields"),
    [
        ("type=bind,from=img,target=/x", ["type=bind", "from=img", "target=/x"]),
        ('"from=a,b",x', ["from=a,b", "x"]),
        ('"say ""hi""",x', ['say "hi"', "x"]),
        ("a,,b,", ["a", "", "b", ""]),
        ("", []),
    ],
)
def test_csv_fields(chars: str, fields: list[str]) -> None:
    found = csv_fields(chars, range(len(chars)))
    assert [text for text, _ in found] == fields
    for text, places in found:
        assert all(chars[place] == ch for ch, place in zip(text, places, strict=True))


@pytest.mark.parametrize("chars", ['a"b', '"ab', '"a"b'])
def test_csv_errors(chars: str) -> None:
    with pytest.raises(CsvError):
        csv_fields(chars, range(len(chars)))
