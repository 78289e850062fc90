"""Property tests of the lexer and the extractor on generated Dockerfiles.

Whatever the text: the lexer returns or raises ExpansionError, and nothing else; the extractor
never raises, and every span indexes the text it names; fixing twice (with the same registry
answers) changes nothing the second time.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from basepin.config import Config
from basepin.errors import InvalidReference
from basepin.extract.dockerfile import parse_dockerfile
from basepin.extract.dockerfile.expansion import (
    EnvValue,
    Expansion,
    ExpansionError,
    Unknown,
    Unset,
)
from basepin.extract.dockerfile.words import MAX_EXPANSION, ShellLexer
from basepin.fix import plan_changes
from basepin.model import DigestInfo, Lookup, ParsedDockerfile, Platform, Resolution
from basepin.reference import parse_reference
from basepin.rules.judging import judge

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)
INDEX = "application/vnd.oci.image.index.v1+json"
OLD = "sha256:" + "0" * 64

# --- the lexer -------------------------------------------------------------------------------

# Every character the lexer treats apart, and a few it does not.
LEXED = "$ {}:-+?#%/*'\"\\`<\n\t\ufeffaZé1_@"
VALUES = st.one_of(
    st.text(alphabet="a/b:*?\\ \n$é", max_size=40),
    st.builds(
        lambda unit, count: unit * count, st.sampled_from(["a", "ab", "a\n"]), st.integers(0, 5000)
    ),
    st.builds(Unset, st.just("unset")),
    st.builds(Unknown, st.just("unknown")),
)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=LEXED, max_size=60),
    st.dictionaries(st.sampled_from(["a", "A", "Z", "1", "é", "_"]), VALUES, max_size=4),
    st.sampled_from(["\\", "`"]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_the_lexer_returns_or_rejects(
    word: str,
    env: dict[str, EnvValue],
    escape: str,
    raw_quotes: bool,
    raw_escapes: bool,
    skip_unset: bool,
) -> None:
    lexer = ShellLexer(
        escape,
        lambda name: env.get(name, Unset(f"{name} is unset")),
        raw_quotes=raw_quotes,
        raw_escapes=raw_escapes,
        skip_unset=skip_unset,
    )
    try:
        expansion = lexer.expand(word)
    except ExpansionError:
        pass
    else:
        assert isinstance(expansion, Expansion)
        assert isinstance(expansion.text, str)
        assert expansion.via is None or expansion.via in env
    words = lexer.words(word)
    assert all(isinstance(w, str) and w for w in words)


# Patterns of stars, `?`s and letters against long values: always an answer, in few steps.
@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="ab*?", min_size=1, max_size=24),
    st.sampled_from(["a", "ab", "aab", "ba", "a\n", "ab\nb"]),
    st.integers(0, 20_000),
    st.sampled_from(["#", "##", "%", "%%", "/", "//"]),
)
def test_patterns_on_long_values_finish(pattern: str, unit: str, count: int, op: str) -> None:
    value = unit * count
    word = "${V" + op + pattern + ("/x}" if "/" in op else "}")
    lexer = ShellLexer("\\", lambda name: value)
    try:
        expansion = lexer.expand(word)
    except ExpansionError as err:
        error = str(err)
    else:
        error = ""
        assert len(expansion.text) <= MAX_EXPANSION
    # The only ways these can fail: a result past the cap, or (never seen) the step budget.
    assert not error or "more than" in error


# --- the extractor ---------------------------------------------------------------------------

# Mostly the same two names, so that FROMs use the ARGs before them.
NAMES = st.one_of(
    st.sampled_from(["A", "TAG"]),
    st.sampled_from(["IMG", "BUILDPLATFORM", "TARGETARCH", "1", "é"]),
)
IMAGES = st.sampled_from(
    [
        "alpine",
        "alpine:3.20",
        "python:3.12-slim",
        "ghcr.io/owner/repo:1.2",
        "docker.io/library/node:20",
        "localhost:5000/x/y:dev",
        f"alpine:3.19@{OLD}",
        f"busybox@{OLD}",
        "Bad:Ref",
        "scratch",
        "build",
        "0",
        "a:b@sha256:abc",
        "",
    ]
)


def _form(template: str) -> st.SearchStrategy[str]:
    """`template` with {n} a variable name, {i} an image and {p} a pattern filled in."""
    return st.builds(
        template.format,
        n=NAMES,
        i=IMAGES,
        p=st.text(alphabet="a*?:", max_size=6),
    )


# An operand: an image, a variable form, quoting, or a mix of them.
WORDS = st.lists(
    st.one_of(
        IMAGES,
        _form("${n}"),
        _form("${{{n}}}"),
        _form("${{{n}:-{i}}}"),
        _form("${{{n}:+{i}}}"),
        _form("${{{n}#*:}}"),
        _form("${{{n}%%:*}}"),
        _form("${{{n}//a/b}}"),
        _form("${{{n}/*/{i}}}"),
        _form("${{{n}##{p}}}"),
        _form("'{i}'"),
        _form('"{i}${n}"'),
        _form("\\${n}"),
        st.text(alphabet="ab:$/{}'\"\\ @.", max_size=12),
    ),
    min_size=1,
    max_size=3,
).map("".join)
HEREDOC_BODY = st.lists(st.sampled_from(["FROM x", "EOF", "echo hi", "ARG A=b", ""]), max_size=3)
LINES = st.one_of(
    st.builds("ARG {}".format, NAMES),
    st.builds("ARG {}={}".format, NAMES, WORDS),
    st.builds('ARG {}="{}" B={}'.format, NAMES, WORDS, WORDS),
    st.builds(
        "FROM {}{}{}".format,
        st.sampled_from(["", "--platform=$BUILDPLATFORM ", "--platform=linux/arm64 "]),
        WORDS,
        st.sampled_from(["", " AS build", " as Build", " AS 0", " AS"]),
    ),
    st.builds("FROM \\\n  {}".format, WORDS),
    st.builds("FROM ${{{}}}".format, NAMES),
    st.builds("FROM python:${} AS py".format, NAMES),
    st.builds("COPY --from={} /a /b".format, WORDS),
    st.builds("RUN --mount=type=bind,from={},target=/x --mount=from={} true".format, WORDS, WORDS),
    st.builds("ONBUILD COPY --from={} /a /b".format, WORDS),
    st.builds("RUN <<EOF\n{}\nEOF".format, HEREDOC_BODY.map("\n".join)),
    st.builds("RUN << EOF cat\n{}\nEOF".format, HEREDOC_BODY.map("\n".join)),
    st.builds("# syntax={}".format, WORDS),
    st.sampled_from(["# escape=`", "# basepin: ignore[unpinned]", "# basepin: ignore", ""]),
    st.builds("  {}".format, WORDS),
    st.text(alphabet="FROMARGab =${}\\#\t\r'\"<\n", max_size=30),
)


GLOBAL_ARGS = st.one_of(
    st.builds("ARG {}={}".format, NAMES, WORDS),
    st.builds("ARG {}={}".format, NAMES, st.sampled_from(["3.12-slim", "3.20", f"3.19@{OLD}"])),
    st.builds("ARG {}={}".format, NAMES, IMAGES),
    st.builds("ARG {}={}:{}".format, NAMES, IMAGES, st.sampled_from(["3.20", "1", "v2-slim"])),
    st.builds('ARG {}="{}"'.format, NAMES, IMAGES),
    st.builds("ARG {}".format, NAMES),
)


@st.composite
def dockerfiles(draw: st.DrawFn) -> bytes:
    """Directives, global ARGs, then anything: the order BuildKit gives a meaning to."""
    header = draw(st.lists(st.sampled_from(["# escape=`", "# syntax=docker/dockerfile:1"])))
    found = header + draw(st.lists(GLOBAL_ARGS, max_size=3)) + draw(st.lists(LINES, max_size=8))
    text = ("\r\n" if draw(st.booleans()) else "\n").join(found)
    if draw(st.booleans()):
        text += "\n"
    data = text.encode("utf-8")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    if draw(st.integers(0, 9)) == 0:  # bytes that are not UTF-8
        at = draw(st.integers(0, len(data)))
        data = data[:at] + b"\xff" + data[at:]
    return data


BUILD_ARGS = st.dictionaries(NAMES, IMAGES, max_size=2)


def check_spans(parsed: ParsedDockerfile) -> None:
    text = parsed.text
    for use in parsed.uses:
        span = use.span
        assert 0 <= span.start <= span.end <= len(text)
        assert text[span.start : span.end] == use.source
        assert span.line == text.count("\n", 0, span.start) + 1
        assert span.end_line == text.count("\n", 0, span.end) + 1
        assert span.column == span.start - text.rfind("\n", 0, span.start)
        assert use.resolved == (use.unresolved_reason is None)
    for problem in parsed.problems:
        assert 0 <= problem.offset <= len(text)


@settings(max_examples=200, deadline=None)
@given(dockerfiles(), BUILD_ARGS)
def test_the_extractor_reads_anything(data: bytes, build_args: dict[str, str]) -> None:
    check_spans(parse_dockerfile(data, "Dockerfile", build_args))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_the_extractor_reads_any_bytes(data: bytes) -> None:
    check_spans(parse_dockerfile(data, "Dockerfile"))


# --- fixing twice ----------------------------------------------------------------------------


def answers(parsed: ParsedDockerfile) -> dict[str, Lookup]:
    """A fixed registry: each repository and tag points to a digest made from its name."""
    lookups: dict[str, Lookup] = {}
    for use in parsed.uses:
        if not use.resolved:
            continue
        try:
            ref = parse_reference(use.reference)
        except InvalidReference:
            continue
        name = use.reference.partition("@")[0]
        digest = "sha256:" + hashlib.sha256(name.encode()).hexdigest()
        current = DigestInfo(
            digest,
            INDEX,
            platforms=(Platform("linux", "amd64"), Platform("linux", "arm64", "v8")),
            is_index=True,
            created=NOW - timedelta(days=3),
        )
        pinned = None if ref.digest is None else current._replace(digest=ref.digest)
        lookups[use.reference] = Resolution(use.reference, current, pinned=pinned, pin_now=digest)
    return lookups


def fixed(data: bytes, build_args: dict[str, str]) -> bytes:
    parsed = parse_dockerfile(data, "Dockerfile", build_args)
    verdict = judge([parsed], answers(parsed), Config(), now=NOW)
    edits = [f.fix for f in verdict.findings if f.fix is not None]
    if not edits:
        return data
    (change,) = plan_changes(edits, lambda path: data)
    return change.after


@settings(max_examples=200, deadline=None)
@given(dockerfiles(), BUILD_ARGS)
def test_fixing_twice_is_fixing_once(data: bytes, build_args: dict[str, str]) -> None:
    once = fixed(data, build_args)
    assert fixed(once, build_args) == once
