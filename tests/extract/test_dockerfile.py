"""The extractor against BuildKit's reading: the conformance corpus, real Dockerfiles, spans,
per-use fields, problems, large and hostile input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basepin.extract.dockerfile import parse_dockerfile
from basepin.model import ImageUse, ParsedDockerfile, Span

DATA = Path(__file__).parent.parent / "data"
CONFORMANCE: list[dict[str, Any]] = json.loads(
    (DATA / "conformance" / "dockerfile-references.json").read_text(encoding="utf-8")
)["cases"]
REAL = DATA / "real-dockerfiles"
MANIFEST: list[dict[str, Any]] = json.loads((REAL / "manifest.json").read_text(encoding="utf-8"))

Row = tuple[str, int, str, bool, "str | None"]


def rows(parsed: ParsedDockerfile) -> list[Row]:
    return [(u.kind, u.span.line, u.reference, u.resolved, u.via_arg) for u in parsed.uses]


def expected_rows(expected: list[dict[str, Any]]) -> list[Row]:
    return [(e["kind"], e["line"], e["reference"], e["resolved"], e["via_arg"]) for e in expected]


def assert_span_fits(text: str, span: Span) -> None:
    assert 0 <= span.start <= span.end <= len(text)
    for line, column, offset in (
        (span.line, span.column, span.start),
        (span.end_line, span.end_column, span.end),
    ):
        line_start = text.rfind("\n", 0, offset) + 1
        assert column == offset - line_start + 1
        assert line == text.count("\n", 0, line_start) + 1


def assert_span_is_source(parsed: ParsedDockerfile, use: ImageUse) -> None:
    """The span holds the reference's own text, or the default of the ARG it came from."""
    text = parsed.text
    assert_span_fits(text, use.span)
    written = text[use.span.start : use.span.end]
    if use.via_arg is None:
        # Variables whose values added nothing leave the operand as written.
        assert written == use.reference or (use.resolved and "$" in written)
        return
    line_start = text.rfind("\n", 0, use.span.start) + 1
    assert text[line_start : use.span.start].rstrip("'\"").endswith(f"{use.via_arg}="), (
        "the span starts with the ARG's default"
    )
    assert "\n" not in written


def load_real(entry: dict[str, Any]) -> bytes:
    return (REAL / "files" / str(entry["file"])).read_bytes()


# --- the corpora ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CONFORMANCE, ids=[case["name"] for case in CONFORMANCE])
def test_conformance(case: dict[str, Any]) -> None:
    parsed = parse_dockerfile(case["dockerfile"].encode(), "Dockerfile", case.get("build_args"))
    assert rows(parsed) == expected_rows(case["expected"])


@pytest.mark.parametrize("entry", MANIFEST, ids=[entry["file"] for entry in MANIFEST])
def test_real_dockerfile(entry: dict[str, Any]) -> None:
    data = load_real(entry)
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    parsed = parse_dockerfile(data, entry["file"])
    assert rows(parsed) == expected_rows(entry["expected"])
    assert_well_formed(parsed)


@pytest.mark.parametrize(
    ("data", "build_args"),
    [(case["dockerfile"].encode(), case.get("build_args")) for case in CONFORMANCE]
    + [(load_real(entry), None) for entry in MANIFEST],
    ids=[f"conformance: {case['name']}" for case in CONFORMANCE]
    + [f"real: {entry['file']}" for entry in MANIFEST],
)
def test_spans_point_at_the_source(data: bytes, build_args: dict[str, str] | None) -> None:
    parsed = parse_dockerfile(data, "Dockerfile", build_args)
    assert parsed.text.encode("utf-8", "surrogateescape") == data
    for use in parsed.uses:
        if use.via_arg is not None and build_args and use.via_arg in build_args:
            continue  # the value came from the command line; checked below
        assert_span_is_source(parsed, use)


def test_span_of_a_build_arg_without_default_is_the_name() -> None:
    parsed = parse_dockerfile(b"ARG BASE\nFROM $BASE\n", "D", {"BASE": "alpine:3.20"})
    (use,) = parsed.uses
    assert (use.reference, use.via_arg) == ("alpine:3.20", "BASE")
    assert parsed.text[use.span.start : use.span.end] == "BASE"


def test_span_of_a_build_arg_over_a_default_is_the_default() -> None:
    parsed = parse_dockerfile(b"ARG TAG=3.19\nFROM alpine:$TAG\n", "D", {"TAG": "3.20"})
    (use,) = parsed.uses
    assert use.reference == "alpine:3.20"
    assert parsed.text[use.span.start : use.span.end] == "3.19"


@pytest.mark.parametrize(
    ("dockerfile", "written"),
    [
        ('FROM "alpine:3.20"\n', "alpine:3.20"),
        ("FROM a\nCOPY --from='busybox:1' / /\n", "busybox:1"),
        ('ARG V="3.20"\nFROM alpine:$V\n', "3.20"),
        ("ARG V=''\nARG W=x\nFROM $V$W\n", "x"),
        ("FROM $UNSET_AT_ALL\n", "$UNSET_AT_ALL"),
        ("FROM a\nRUN --mount=type=bind,from=img:1,target=/t true\n", "img:1"),
        ("# syntax = docker/dockerfile:1.9 extra words\nFROM a\n", "docker/dockerfile:1.9"),
    ],
    ids=["quoted FROM", "quoted --from", "quoted default", "empty ARG", "raw", "mount", "syntax"],
)
def test_span_text(dockerfile: str, written: str) -> None:
    parsed = parse_dockerfile(dockerfile.encode(), "D")
    spans = [parsed.text[u.span.start : u.span.end] for u in parsed.uses]
    assert written in spans


def test_span_crosses_a_continuation() -> None:
    parsed = parse_dockerfile(b"FROM alp\\\nine:3.20\n", "D")
    (use,) = parsed.uses
    assert use.reference == "alpine:3.20"
    assert (use.span.line, use.span.end_line) == (1, 2)
    assert parsed.text[use.span.start : use.span.end] == "alp\\\nine:3.20"


def test_crlf_and_bom() -> None:
    data = "\ufeffARG V=3.20\r\nFROM alpine:$V AS base\r\nCOPY --from=busybox:1 / /\r\n".encode()
    parsed = parse_dockerfile(data, "D")
    assert parsed.text.startswith("\ufeff")
    assert parsed.text.encode() == data
    assert [parsed.text[u.span.start : u.span.end] for u in parsed.uses] == ["3.20", "busybox:1"]
    # Columns count characters of the text as it is, the BOM included.
    assert [(u.span.line, u.span.column) for u in parsed.uses] == [(1, 8), (3, 13)]
    assert not parsed.problems


# --- fields of each use --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dockerfile", "expected"),
    [
        (
            "FROM --platform=$BUILDPLATFORM golang:1.22 AS Build\nFROM alpine:3.20\n"
            "COPY --from=busybox:1 / /\n",
            [
                ("golang:1.22", "build", "$BUILDPLATFORM"),
                ("alpine:3.20", "1", None),
                ("busybox:1", "1", None),
            ],
        ),
        (
            "ARG P=linux/arm64\nFROM --platform=$P alpine:3.20\n",
            [("alpine:3.20", "0", "linux/arm64")],
        ),
        (
            'FROM --platform="linux/amd64" alpine:3.20 AS a\n'
            "RUN --mount=from=img:1,target=/i true\n",
            [("alpine:3.20", "a", "linux/amd64"), ("img:1", "a", None)],
        ),
        (
            "FROM alpine:3.20 AS base\nONBUILD COPY --from=busybox:1 / /\nFROM base AS next\n",
            [("alpine:3.20", "base", None), ("busybox:1", "base", None)],
        ),
        (
            "# syntax=docker/dockerfile:1\nFROM alpine:3.20\n",
            [("docker/dockerfile:1", None, None), ("alpine:3.20", "0", None)],
        ),
    ],
    ids=["stage names and indexes", "platform from ARG", "quoted platform", "onbuild", "syntax"],
)
def test_stage_and_platform(dockerfile: str, expected: list[tuple[str, Any, Any]]) -> None:
    uses = parse_dockerfile(dockerfile.encode(), "D").uses
    assert [(u.reference, u.stage, u.platform) for u in uses] == expected


def test_instruction_line_is_the_first_line_of_the_instruction() -> None:
    dockerfile = (
        b"ARG V=3.20\nFROM \\\n  alpine:$V\n"
        b"RUN --mount=type=bind,target=/a \\\n  --mount=from=img:1,target=/b true\n"
    )
    uses = parse_dockerfile(dockerfile, "D").uses
    assert [(u.span.line, u.instruction_line) for u in uses] == [(1, 2), (5, 4)]


@pytest.mark.parametrize(
    ("dockerfile", "reason"),
    [
        ("ARG TAG\nFROM alpine:$TAG\n", "ARG TAG has no value; pass --build-arg TAG=..."),
        ("FROM alpine:${TARGETARCH}\n", "TARGETARCH is set per platform at build time"),
        ("ARG A=x-$TARGETOS\nFROM $A\n", "TARGETOS is set per platform at build time"),
        ("ARG R\nARG IMG=$R/app\nFROM $IMG\n", "ARG R has no value; pass --build-arg R=..."),
        (
            "FROM a AS s\nARG IMG=nginx\nFROM $IMG\n",
            "IMG is not an ARG declared before the first FROM, so FROM cannot see it",
        ),
        (
            "FROM a\nCOPY --from=$IMG / /\n",
            "BuildKit does not expand variables in COPY --from; name a stage built FROM it",
        ),
        (
            "FROM a\nRUN --mount=from=${IMG},target=/x true\n",
            "BuildKit does not expand variables in RUN --mount from=; name a stage built FROM it",
        ),
        ("FROM 'alpine\n", "unexpected end of statement while looking for matching single-quote"),
    ],
    ids=[
        "no value",
        "platform",
        "default from platform",
        "default from unset",
        "stage ARG",
        "copy",
        "mount",
        "lexer error",
    ],
)
def test_unresolved_reason(dockerfile: str, reason: str) -> None:
    unresolved = [u for u in parse_dockerfile(dockerfile.encode(), "D").uses if not u.resolved]
    assert [u.unresolved_reason for u in unresolved] == [reason]


def test_build_args_only_reach_declared_args() -> None:
    parsed = parse_dockerfile(b"FROM alpine:$TAG\n", "D", {"TAG": "3.20"})
    assert [(u.reference, u.resolved) for u in parsed.uses] == [("alpine:$TAG", False)]


def test_build_arg_sets_a_platform_arg() -> None:
    parsed = parse_dockerfile(b"FROM tool:1-$TARGETARCH\n", "D", {"TARGETARCH": "arm64"})
    assert [(u.reference, u.resolved) for u in parsed.uses] == [("tool:1-arm64", True)]


def test_stage_chosen_per_platform_is_a_stage() -> None:
    dockerfile = b"FROM alpine AS bin-linux\nFROM nanoserver AS bin-windows\nFROM bin-$TARGETOS\n"
    assert [u.reference for u in parse_dockerfile(dockerfile, "D").uses] == [
        "alpine",
        "nanoserver",
    ]


@pytest.mark.parametrize(
    ("dockerfile", "ignored"),
    [
        ("# basepin: ignore\nFROM alpine\n", {"*"}),
        ("# basepin: ignore[latest]\nFROM alpine\n", {"latest"}),
        ("#basepin:ignore[ unpinned ,latest ]\nFROM alpine\n", {"unpinned", "latest"}),
        ("# basepin: ignore[latest]\n# why: tests pin it elsewhere\nFROM alpine\n", {"latest"}),
        ("# basepin: ignore[latest]\n\nFROM alpine\n", set()),
        ("FROM alpine # basepin: ignore\n", set()),
        ("# basepin: ignore[latest]\nRUN true\nFROM alpine\n", set()),
        ("  # basepin: ignore[unpinned]\nFROM alpine\n", {"unpinned"}),
        ("# basepin: ignore[latest, nope]\nFROM alpine\n", {"latest"}),
    ],
    ids=[
        "all",
        "one",
        "blanks",
        "comment run",
        "blank line between",
        "trailing text",
        "another instruction",
        "indented",
        "unknown id dropped",
    ],
)
def test_inline_ignores(dockerfile: str, ignored: set[str]) -> None:
    parsed = parse_dockerfile(dockerfile.encode(), "D")
    assert [u.ignored_rules for u in parsed.uses] == [frozenset(ignored)]


def test_inline_ignore_covers_every_use_of_the_instruction() -> None:
    dockerfile = (
        b"ARG V=1\nFROM a\n# basepin: ignore[unpinned]\n"
        b"RUN --mount=from=b:1,target=/b --mount=from=c:1,target=/c true\n"
    )
    uses = parse_dockerfile(dockerfile, "D").uses
    assert [(u.reference, u.ignored_rules) for u in uses] == [
        ("a", frozenset()),
        ("b:1", frozenset({"unpinned"})),
        ("c:1", frozenset({"unpinned"})),
    ]


# --- problems ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "line", "column", "message"),
    [
        (
            b"FROM alpine\nRUN echo \xff\n",
            2,
            10,
            "not valid UTF-8: byte \\xff at byte offset 21 (line 2, column 10); "
            "BuildKit reads Dockerfiles as UTF-8",
        ),
        (b"FROM a\x00\n", 1, 1, "binary file (NUL byte on line 1), not a Dockerfile"),
        (
            "FROM a\n".encode("utf-16"),
            1,
            1,
            "UTF-16 text: BuildKit reads Dockerfiles as UTF-8 only",
        ),
        (b"", 1, 1, "empty file; BuildKit has nothing to build"),
        (
            b"# just a comment\n\n",
            1,
            1,
            "no instructions: only comments and blank lines; BuildKit has nothing to build",
        ),
        (b"ARG A=1\n", 1, 1, "no FROM instruction: BuildKit has no stage to build"),
        (
            b"FROM a\nRUN <<EOF\necho\n",
            2,
            1,
            "unterminated heredoc <<EOF opened on line 2: no line after it reads exactly 'EOF'",
        ),
        (
            b"FROM a\nCOPY <<-'END' /x\nx\n",
            2,
            1,
            "unterminated heredoc <<-END opened on line 2: no line after it reads exactly 'END'",
        ),
        (b"FROM a\nRUN echo \\\n", 2, 10, "the file ends inside a line continuation"),
        (
            b"FROM a\nCOPY --from img /a /b\n",
            2,
            6,
            "COPY --from needs a value: write --from=<stage or image>",
        ),
        (b"FROM a\nFROMX b\n", 2, 1, "unknown instruction 'FROMX'"),
        (
            b"FROM a\nRUN\\\ntrue\n",
            2,
            1,
            "unknown instruction 'RUNtrue' "
            "(continuation lines are joined with no space in between)",
        ),
        (
            b"FROM alpine # base\n",
            1,
            1,
            "FROM takes an image and optionally AS <name>; found 3 words",
        ),
        (b"FROM\n", 1, 1, "FROM needs an image"),
        (
            b"FROM a AS 1st\n",
            1,
            11,
            "invalid stage name '1st': it must start with a letter and hold only letters, digits, "
            "'-', '_' and '.'",
        ),
        (b"FROM --foo=bar a\n", 1, 6, "unknown flag '--foo=bar' on FROM"),
        (b"FROM --platform a\n", 1, 6, "--platform needs a value"),
        (b"# escape=`\n# escape=`\nFROM a\n", 2, 1, "only one escape parser directive can be used"),
        (b"# escape=x\nFROM a\n", 1, 10, "invalid escape token 'x': use ` or \\ (the default)"),
        (b"RUN true\nFROM a\n", 1, 1, "RUN before the first FROM: only ARG may come before FROM"),
        (b'ARG E=""\nFROM $E\n', 2, 6, "FROM $E expands to an empty image name"),
        (
            b'FROM a\nRUN --mount=type=bind,from=a\\"b true\n',
            2,
            5,
            'cannot read --mount: bare " in non-quoted-field',
        ),
        (b"FROM a\nRUN --mount true\n", 2, 5, "--mount needs a value"),
        (b"FROM a\nCOPY --from=3 / /\n", 2, 13, "COPY --from=3: no stage has that index"),
        (b"FROM a\nCOPY --from=b --from=c / /\n", 2, 15, "duplicate flag --from on COPY"),
        (b"FROM a\nONBUILD FROM b\n", 2, 9, "FROM is not allowed as an ONBUILD trigger"),
        (b"FROM a\nONBUILD\n", 2, 1, "ONBUILD needs an instruction to run later"),
        (
            b"ARG A=${B\nFROM $A\n",
            1,
            1,
            "cannot read the default of ARG A: syntax error: missing '}'",
        ),
        (
            b"FROM 'a\n",
            1,
            6,
            "cannot read FROM 'a: unexpected end of statement while looking for matching "
            "single-quote",
        ),
        (b"ARG =x\nFROM a\n", 1, 5, "ARG names can not be blank"),
        (
            b"# basepin: ignore[nope]\nFROM a\n",
            1,
            1,
            "unknown rule nope in basepin: ignore[...]; rules are unpinned, latest, unresolved, "
            "invalid, stale-digest, unknown, outdated, old-image, platforms, disallowed, eol, "
            "eol-soon, vulnerable",
        ),
    ],
    ids=[
        "not utf-8",
        "binary",
        "utf-16",
        "empty",
        "comments only",
        "no FROM",
        "unterminated heredoc",
        "unterminated chomped heredoc",
        "continuation at end of file",
        "COPY --from without =",
        "unknown instruction",
        "words glued by a continuation",
        "stray # after FROM",
        "FROM alone",
        "invalid stage name",
        "unknown FROM flag",
        "--platform without value",
        "directive twice",
        "invalid escape",
        "instruction before FROM",
        "blank base name",
        "bad --mount CSV",
        "--mount without value",
        "stage index out of range",
        "--from twice",
        "ONBUILD FROM",
        "empty ONBUILD",
        "bad ARG default",
        "bad FROM word",
        "blank ARG name",
        "unknown rule id",
    ],
)
def test_problems(data: bytes, line: int, column: int, message: str) -> None:
    parsed = parse_dockerfile(data, "dir/Dockerfile")
    assert (parsed.path, line, column, message) in [
        (p.path, p.line, p.column, p.message) for p in parsed.problems
    ]


def test_references_are_still_read_from_a_file_that_is_not_utf8() -> None:
    data = b"FROM alpine:3.20\nRUN echo \xff\xfe\nFROM caf\xc3\xa9\n"
    parsed = parse_dockerfile(data, "D")
    assert [u.reference for u in parsed.uses] == ["alpine:3.20", "café"]
    assert parsed.text.encode("utf-8", "surrogateescape") == data
    assert len(parsed.problems) == 1


def test_binary_file_yields_no_uses() -> None:
    parsed = parse_dockerfile(b"FROM alpine\n\x00\x01\x02", "D")
    assert parsed.uses == ()
    assert parsed.text.encode("utf-8", "surrogateescape") == b"FROM alpine\n\x00\x01\x02"


def test_clean_file_has_no_problems() -> None:
    dockerfile = b"# syntax=docker/dockerfile:1\nARG V=3.20\nFROM alpine:$V AS a\nRUN true\n"
    assert parse_dockerfile(dockerfile, "D").problems == ()


# --- large and hostile input ---------------------------------------------------------------

TYPICAL = b"""# syntax=docker/dockerfile:1
ARG PY=3.12
FROM python:${PY}-slim AS base
RUN apt-get update && apt-get install -y --no-install-recommends curl \\
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=ghcr.io/astral-sh/uv:0.4 /uv /bin/uv
RUN --mount=type=cache,target=/root/.cache pip install -r requirements.txt
RUN <<EOF
FROM not-an-image
EOF
CMD ["python", "main.py"]

"""


def test_a_ten_megabyte_file_completes() -> None:
    repeats = 10_000_000 // len(TYPICAL) + 1
    parsed = parse_dockerfile(TYPICAL * repeats, "D")
    assert len(parsed.uses) == 1 + 2 * repeats
    assert parsed.problems == ()


@pytest.mark.parametrize(
    "data",
    [
        b"ARG A0=xxxxxxxx\n"
        + b"".join(b"ARG A%d=$A%d$A%d\n" % (i + 1, i, i) for i in range(64))
        + b"FROM $A64\n",
        b"FROM " + b"${a:-" * 5000 + b"x" + b"}" * 5000 + b"\n",
        b"FROM a\nRUN " + b"x <<EOF " * 200_000 + b"\n",
        b"FROM a\nRUN echo '" + b"<<" * 500_000 + b"\n",
        b"FROM a\nRUN " + b"--mount=from=img,target=/x " * 50_000 + b"true\n",
        b"ARG " + b"a=1 " * 100_000 + b"\nFROM a\n",
        b"FROM " + b"a " * 1_000_000 + b"\n",
        b"#a=" + b" " * 1_000_000 + b"x\nFROM a\n",
        b"FROM a\nRUN x \\\n" + b"  \\\n" * 200_000,
        b"FROM a\nCOPY --from=" + b"9" * 5000 + b" / /\n",
        b"FROM a\n" + b"ONBUILD " * 5000 + b"RUN <<EOF\n",
    ],
    ids=[
        "ARG defaults doubling",
        "deep nesting",
        "many heredocs",
        "unbalanced quote",
        "many mounts",
        "many ARGs",
        "many FROM words",
        "long directive",
        "long continuation",
        "huge stage index",
        "ONBUILD chain",
    ],
)
def test_hostile_input_completes(data: bytes) -> None:
    parsed = parse_dockerfile(data, "D")
    assert all(0 <= u.span.start <= u.span.end <= len(parsed.text) for u in parsed.uses)


def test_doubling_defaults_stay_bounded() -> None:
    lines = [b"ARG A0=xxxxxxxx"] + [b"ARG A%d=$A%d$A%d" % (i + 1, i, i) for i in range(40)]
    parsed = parse_dockerfile(b"\n".join([*lines, b"FROM $A40\n"]), "D")
    (use,) = parsed.uses
    assert not use.resolved
    assert use.unresolved_reason is not None
    assert "more than 65536 characters" in use.unresolved_reason


# --- properties ----------------------------------------------------------------------------

ATOMS = [
    "FROM ",
    "from ",
    "ARG ",
    "COPY ",
    "RUN ",
    "ONBUILD ",
    "ADD ",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\\",
    "`",
    "\\\n",
    "#",
    "# escape=`\n",
    "# syntax=x\n",
    "$",
    "${",
    "}",
    ":-",
    ":+",
    "-",
    "?",
    "%",
    "/",
    "'",
    '"',
    "<<",
    "<<-",
    "EOF",
    "\nEOF\n",
    "--from=",
    "--mount=",
    "from=",
    ",",
    "=",
    " AS ",
    "a",
    "1",
    "scratch",
    "\ufeff",
    "\x85",
    "\xa0",
    "--platform=",
    "$TARGETARCH",
    "${A}",
    "A=",
    "[",
    "]",
    "@",
    ":",
    "# basepin: ignore[latest]\n",
]
DOCKERFILE_LIKE = st.lists(st.sampled_from(ATOMS), max_size=60).map("".join)


def assert_well_formed(parsed: ParsedDockerfile) -> None:
    text = parsed.text
    for use in parsed.uses:
        assert_span_fits(text, use.span)
        assert use.source == text[use.span.start : use.span.end]
        assert use.instruction_line >= 1
    for problem in parsed.problems:
        assert problem.line >= 1
        assert problem.column >= 1
        # The offset is (line, column) in the text, or its end where the text stops short.
        lines = text.split("\n")
        if problem.line <= len(lines):
            line_start = len("\n".join(lines[: problem.line - 1])) + (problem.line > 1)
            assert problem.offset == min(line_start + problem.column - 1, len(text))
        else:
            assert problem.offset == len(text)


@settings(max_examples=400, deadline=None)
@given(DOCKERFILE_LIKE, st.booleans())
def test_never_raises_on_dockerfile_like_text(text: str, with_build_args: bool) -> None:
    build_args = {"A": "x", "TARGETARCH": "arm64"} if with_build_args else None
    parsed = parse_dockerfile(text.encode("utf-8", "surrogateescape"), "D", build_args)
    assert_well_formed(parsed)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_on_any_text(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    parsed = parse_dockerfile(data, "D")
    assert parsed.text.encode("utf-8", "surrogateescape") == data
    assert_well_formed(parsed)


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_never_raises_on_any_bytes(data: bytes) -> None:
    parsed = parse_dockerfile(data, "D")
    assert parsed.text.encode("utf-8", "surrogateescape") == data
    assert_well_formed(parsed)
