"""From file text to instructions: directives, continuations, comments, heredoc bodies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basepin.extract.dockerfile.lines import Reading, detect_syntax, read_dockerfile


def texts(reading: Reading) -> list[str]:
    return [instruction.text for instruction in reading.instructions]


@pytest.mark.parametrize(
    ("dockerfile", "value", "line"),
    [
        ("# syntax=docker/dockerfile:1\nFROM a\n", "docker/dockerfile:1", 1),
        ("#  syntax = x:1  \nFROM a\n", "x:1", 1),
        ("# SYNTAX=x:1 --some option\n", "x:1", 1),
        ("# escape=`\n# syntax=x:1\n", "x:1", 2),
        ("# check=skip=all\n# syntax=x:1\n", "x:1", 2),
        ("#!/usr/bin/env docker-build\n# syntax=x:1\n", "x:1", 2),
        ("\ufeff# syntax=x:1\r\nFROM a\r\n", "x:1", 1),
        ("//syntax=x:1\n", "x:1", 1),
        ("\n# syntax=x:1\n", None, 0),
        ("# hello\n# syntax=x:1\n", None, 0),
        ("  # syntax=x:1\n", None, 0),
        ("FROM a\n# syntax=x:1\n", None, 0),
        ("# syntax=\n", None, 0),
        ("#!only a shebang", None, 0),
    ],
    ids=[
        "first line",
        "blanks",
        "key case and options",
        "after escape",
        "after check",
        "after shebang",
        "BOM and CRLF",
        "slashes",
        "after blank line",
        "after comment",
        "indented",
        "after instruction",
        "empty value",
        "shebang only",
    ],
)
def test_detect_syntax(dockerfile: str, value: str | None, line: int) -> None:
    directive = detect_syntax(dockerfile)
    if value is None:
        assert directive is None
        return
    assert directive is not None
    assert directive.value == value
    assert dockerfile[directive.offset : directive.offset + len(value)] == value
    assert dockerfile.count("\n", 0, directive.offset) + 1 == line


@pytest.mark.parametrize(
    ("dockerfile", "instructions"),
    [
        ("FROM\\\nnginx\n", ["FROMnginx"]),
        ("FROM \\ \nnginx\n", ["FROM nginx"]),
        ("RUN a \\\n\n  # note\n   b\nRUN c\n", ["RUN a    b", "RUN c"]),
        ("RUN a \\\\\nb\n", ["RUN a \\b"]),
        ("# escape=`\nRUN a `\nb\nRUN c:\\\n", ["RUN a b", "RUN c:\\"]),
        ("\n# escape=`\nRUN a `\nRUN b\n", ["RUN a `", "RUN b"]),
        ("\ufeff  FROM a\r\n\tRUN b \\\r\n c\r\n", ["FROM a", "RUN b  c"]),
        ("# a comment \\\nFROM a\n", ["FROM a"]),
        ("\\\nFROM a\n", ["FROM a"]),
    ],
    ids=[
        "joined with no separator",
        "blank after the escape",
        "blank and comment lines dropped",
        "an escaped escape still continues",
        "escape directive",
        "escape directive after a blank line",
        "BOM, indentation and CRLF",
        "comment ending in an escape",
        "lone escape",
    ],
)
def test_instructions(dockerfile: str, instructions: list[str]) -> None:
    assert texts(read_dockerfile(dockerfile)) == instructions


@pytest.mark.parametrize(
    ("dockerfile", "instructions"),
    [
        ("RUN <<EOF\nFROM x\nEOF\nFROM a\n", ["RUN <<EOF", "FROM a"]),
        ("RUN <<-EOF\n\tFROM x\n\tEOF\nFROM a\n", ["RUN <<-EOF", "FROM a"]),
        ("RUN <<EOF\n\tEOF\nFROM x\nEOF\nFROM a\n", ["RUN <<EOF", "FROM a"]),
        ("COPY <<\"A\" <<'B' /d\nx\nA\ny\nB\nFROM a\n", ["COPY <<\"A\" <<'B' /d", "FROM a"]),
        ("RUN 2<<EOF cat\nx\nEOF\nFROM a\n", ["RUN 2<<EOF cat", "FROM a"]),
        ("ONBUILD RUN <<EOF\nx\nEOF\nFROM a\n", ["ONBUILD RUN <<EOF", "FROM a"]),
        ("RUN <<EOF\r\nx\r\nEOF\r\nFROM a\r\n", ["RUN <<EOF", "FROM a"]),
        ('RUN echo "<<EOF"\nFROM a\n', ['RUN echo "<<EOF"', "FROM a"]),
        ("RUN cat<<EOF\nFROM a\n", ["RUN cat<<EOF", "FROM a"]),
        ('RUN ["sh", "<<EOF"]\nFROM a\n', ['RUN ["sh", "<<EOF"]', "FROM a"]),
        ("CMD <<EOF\nFROM a\n", ["CMD <<EOF", "FROM a"]),
        ("RUN 'x <<EOF\nFROM a\n", ["RUN 'x <<EOF", "FROM a"]),
        ("RUN <<-\nFROM a\n", ["RUN <<-", "FROM a"]),
        ("RUN <<'$NAME'\nx\n$NAME\nFROM a\n", ["RUN <<'$NAME'", "FROM a"]),
        ("RUN <<$NAME\nFROM x\n$NAME\nFROM a\n", ["RUN <<$NAME", "FROM a"]),
        ("RUN << EOF\nFROM x\nEOF\nFROM a\n", ["RUN << EOF", "FROM a"]),
        ("RUN <<  'EOF' >f\nFROM x\nEOF\nFROM a\n", ["RUN <<  'EOF' >f", "FROM a"]),
        ("RUN <<- EOF\nFROM a\n", ["RUN <<- EOF", "FROM a"]),
    ],
    ids=[
        "plain",
        "chomped",
        "indented terminator needs <<-",
        "quoted names, two heredocs",
        "file descriptor",
        "ONBUILD trigger",
        "CRLF",
        "quoted marker",
        "marker inside a word",
        "JSON form",
        "not ADD, COPY or RUN",
        "unbalanced quote on the line",
        "no name",
        "quoted name with a $",
        "an unset variable stays in the name",
        "blanks after the marker",
        "blanks before a quoted name",
        "a blank after <<- ends the word",
    ],
)
def test_heredoc_bodies_are_not_instructions(dockerfile: str, instructions: list[str]) -> None:
    reading = read_dockerfile(dockerfile)
    assert texts(reading) == instructions
    assert reading.issues == ()


def test_only_basepin_comments_right_above_are_kept() -> None:
    reading = read_dockerfile(
        "# basepin: ignore\n\n# other\n# basepin: ignore[latest]\n  # more\nFROM a\nRUN b\n"
    )
    assert [instruction.comments for instruction in reading.instructions] == [
        ((4, "# basepin: ignore[latest]"),),
        (),
    ]


def test_instruction_lines_and_keywords() -> None:
    reading = read_dockerfile("# c\nFROM a \\\n  AS b\n\n  run\\\nx\nRUN\\\n  x\nCOPY\u00a0 y\n")
    assert [(i.line, i.keyword) for i in reading.instructions] == [
        (2, "from"),
        (5, "runx"),
        (7, "run"),
        (9, "copy\u00a0"),
    ]


def test_escape_directive_is_read() -> None:
    assert read_dockerfile("# escape=`\nFROM a\n").escape == "`"
    assert read_dockerfile("FROM a\n").escape == "\\"


DOCKERFILE_LIKE = st.lists(
    st.sampled_from(
        [
            "FROM ",
            "RUN ",
            "a",
            " ",
            "\t",
            "\n",
            "\r\n",
            "\\",
            "`",
            "#",
            "# escape=`\n",
            "<<EOF",
            "\nEOF\n",
            "<<-X",
            "\n\tX\n",
            "'",
            '"',
            "\ufeff",
            "\u00a0",
            "$",
        ]
    ),
    max_size=50,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(DOCKERFILE_LIKE)
def test_every_character_maps_back_to_the_file(dockerfile: str) -> None:
    reading = read_dockerfile(dockerfile)
    for instruction in reading.instructions:
        for index, ch in enumerate(instruction.text):
            assert dockerfile[instruction.offset(index)] == ch
        # The first line may hold nothing but the escape.
        assert instruction.line <= dockerfile.count("\n", 0, instruction.offset(0)) + 1
    for offset, _ in reading.issues:
        assert 0 <= offset <= len(dockerfile)
