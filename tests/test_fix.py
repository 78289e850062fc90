"""Planning edits and showing them: bytes in, bytes out, every byte outside a span kept."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basepin.fix import JOINS_BYTES, STALE, FileChange, plan_changes, unified_diff
from basepin.model import Edit

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
B1 = D1.encode()
B2 = D2.encode()


def decoded(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def edit_of(text: str, start: int, end: int, replacement: str, *, path: str = "Dockerfile") -> Edit:
    line = text.count("\n", 0, start) + 1
    column = start - text.rfind("\n", 0, start)
    return Edit(path, line, column, column + end - start, start, end, text[start:end], replacement)


def edit_at(data: bytes, needle: str, replacement: str, *, path: str = "Dockerfile") -> Edit:
    """The edit replacing the one occurrence of `needle` in the decoded file."""
    text = decoded(data)
    assert text.count(needle) == 1, needle
    start = text.index(needle)
    return edit_of(text, start, start + len(needle), replacement, path=path)


def reader(files: dict[str, bytes]) -> Callable[[str], bytes]:
    return lambda path: files[path]


def plan_one(data: bytes, edits: Sequence[Edit]) -> FileChange:
    (change,) = plan_changes(edits, reader({"Dockerfile": data}))
    return change


BYTE_CASES = [
    pytest.param(
        b"FROM python:3.12\n",
        [("python:3.12", f"python:3.12@{D1}")],
        b"FROM python:3.12@" + B1 + b"\n",
        id="plain",
    ),
    pytest.param(
        b"FROM python:3.12-slim AS build\r\nRUN pip install x\r\n",
        [("python:3.12-slim", f"python:3.12-slim@{D1}")],
        b"FROM python:3.12-slim@" + B1 + b" AS build\r\nRUN pip install x\r\n",
        id="crlf-and-as",
    ),
    pytest.param(
        b"\xef\xbb\xbfFROM alpine:3.20\n",
        [("alpine:3.20", f"alpine:3.20@{D1}")],
        b"\xef\xbb\xbfFROM alpine:3.20@" + B1 + b"\n",
        id="bom",
    ),
    pytest.param(
        b"FROM\t--platform=$BUILDPLATFORM\tgolang:1.22\tAS\tbuilder\n",
        [("golang:1.22", f"golang:1.22@{D1}")],
        b"FROM\t--platform=$BUILDPLATFORM\tgolang:1.22@" + B1 + b"\tAS\tbuilder\n",
        id="tabs-and-platform",
    ),
    pytest.param(
        b"FROM \\\n    --platform=linux/arm64 \\\n    node:20-alpine \\\n    AS web\n",
        [("node:20-alpine", f"node:20-alpine@{D1}")],
        b"FROM \\\n    --platform=linux/arm64 \\\n    node:20-alpine@" + B1 + b" \\\n    AS web\n",
        id="continuation-lines",
    ),
    pytest.param(
        b"# escape=`\r\nFROM mcr.microsoft.com/windows/servercore:ltsc2022 `\r\n  AS base\r\n",
        [("servercore:ltsc2022", f"servercore:ltsc2022@{D1}")],
        b"# escape=`\r\nFROM mcr.microsoft.com/windows/servercore:ltsc2022@"
        + B1
        + b" `\r\n  AS base\r\n",
        id="escape-backtick-crlf",
    ),
    pytest.param(
        b'ARG BASE="debian:bookworm-slim"\nFROM ${BASE}\n',
        [("debian:bookworm-slim", f"debian:bookworm-slim@{D1}")],
        b'ARG BASE="debian:bookworm-slim@' + B1 + b'"\nFROM ${BASE}\n',
        id="double-quoted-arg-default",
    ),
    pytest.param(
        b"ARG IMAGE='redis:7.2'\nFROM $IMAGE\n",
        [("redis:7.2", f"redis:7.2@{D1}")],
        b"ARG IMAGE='redis:7.2@" + B1 + b"'\nFROM $IMAGE\n",
        id="single-quoted-arg-default",
    ),
    pytest.param(
        b'# caf\xe9 \xff\xfe\nFROM nginx:1.27\nLABEL note="\x80\x81"\n',
        [("nginx:1.27", f"nginx:1.27@{D1}")],
        b"# caf\xe9 \xff\xfe\nFROM nginx:1.27@" + B1 + b'\nLABEL note="\x80\x81"\n',
        id="non-utf8-bytes-elsewhere",
    ),
    pytest.param(
        b"FROM busybox:1.36",
        [("busybox:1.36", f"busybox:1.36@{D1}")],
        b"FROM busybox:1.36@" + B1,
        id="no-trailing-newline",
    ),
    pytest.param(
        "# été ✓ 🐳\nLABEL “q”\nFROM ubuntu:24.04\n".encode(),
        [("ubuntu:24.04", f"ubuntu:24.04@{D1}")],
        "# été ✓ 🐳\nLABEL “q”\nFROM ubuntu:24.04@".encode() + B1 + b"\n",
        id="multibyte-before-span",
    ),
    pytest.param(
        b"FROM python:3.12@" + B1 + b" AS app\n",
        [(f"python:3.12@{D1}", f"python:3.12@{D2}")],
        b"FROM python:3.12@" + B2 + b" AS app\n",
        id="replace-digest",
    ),
    pytest.param(
        b"# syntax=docker/dockerfile:1\nFROM scratch\n"
        b"COPY --from=busybox:1.36 /bin/sh /sh\n"
        b"RUN --mount=type=cache,from=alpine:3.20,target=/x true\n",
        [
            ("docker/dockerfile:1", f"docker/dockerfile:1@{D1}"),
            ("busybox:1.36", f"busybox:1.36@{D2}"),
            ("alpine:3.20", f"alpine:3.20@{D1}"),
        ],
        b"# syntax=docker/dockerfile:1@" + B1 + b"\nFROM scratch\n"
        b"COPY --from=busybox:1.36@" + B2 + b" /bin/sh /sh\n"
        b"RUN --mount=type=cache,from=alpine:3.20@" + B1 + b",target=/x true\n",
        id="syntax-copy-from-mount-from",
    ),
    pytest.param(
        b"FROM registry.example.com:5000/team/a-very-long-name:1 AS a\nFROM b:2\n",
        [
            ("registry.example.com:5000/team/a-very-long-name:1", "x"),
            ("b:2", f"b:2@{D1}"),
        ],
        b"FROM x AS a\nFROM b:2@" + B1 + b"\n",
        id="shrink-then-grow",
    ),
    pytest.param(
        b"FROM a:1\r\nFROM b:2\nFROM c:3\r",
        [("a:1", f"a:1@{D1}"), ("c:3", f"c:3@{D2}")],
        b"FROM a:1@" + B1 + b"\r\nFROM b:2\nFROM c:3@" + B2 + b"\r",
        id="mixed-line-endings",
    ),
    pytest.param(
        b"FROM \xe9x:1\n",
        [("\udce9x:1", "ex:1")],
        b"FROM ex:1\n",
        id="span-holding-non-utf8-byte",
    ),
    pytest.param(
        b"FROM a:1\n",
        [("a:1", "a:1")],
        b"FROM a:1\n",
        id="replacement-equal-to-original",
    ),
]


@pytest.mark.parametrize(("data", "pairs", "expected"), BYTE_CASES)
def test_plan_rewrites_only_the_spans(
    data: bytes, pairs: list[tuple[str, str]], expected: bytes
) -> None:
    edits = [edit_at(data, needle, replacement) for needle, replacement in pairs]
    change = plan_one(data, list(reversed(edits)))  # the order edits come in does not matter
    assert change.after == expected
    assert change.before == data
    assert change.applied == tuple(sorted(edits, key=lambda e: e.start))
    assert change.refused == ()
    assert change.changed == (expected != data)


def test_offsets_count_characters_not_bytes() -> None:
    data = "# 🐳 été\nFROM ubuntu:24.04\n".encode()
    edit = edit_at(data, "ubuntu:24.04", "ubuntu:24.04@" + D1)
    assert (edit.start, edit.line, edit.column) == (13, 2, 6)
    assert data.index(b"ubuntu") == 18
    assert plan_one(data, [edit]).after == "# 🐳 été\nFROM ubuntu:24.04@".encode() + B1 + b"\n"


def test_duplicate_edits_apply_once() -> None:
    data = b"ARG BASE=python:3.12\nFROM ${BASE} AS a\nFROM ${BASE} AS b\n"
    edit = edit_at(data, "python:3.12", f"python:3.12@{D1}")
    change = plan_one(data, [edit, edit, edit])
    assert (
        change.after == b"ARG BASE=python:3.12@" + B1 + b"\nFROM ${BASE} AS a\nFROM ${BASE} AS b\n"
    )
    assert change.applied == (edit,)
    assert change.refused == ()


CONFLICT_DATA = b"FROM python:3.12 AS a\nFROM node:20\n"
CONFLICT_TEXT = decoded(CONFLICT_DATA)
NODE = edit_at(CONFLICT_DATA, "node:20", f"node:20@{D1}")


def span_edit(start: int, end: int, replacement: str) -> Edit:
    return edit_of(CONFLICT_TEXT, start, end, replacement)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(
            span_edit(5, 16, "python:3.13"), span_edit(5, 16, "python:3.11"), id="same-span"
        ),
        pytest.param(span_edit(5, 16, "python:3.13"), span_edit(12, 19, "X"), id="partial-overlap"),
        pytest.param(span_edit(5, 16, "python:3.13"), span_edit(7, 9, "X"), id="nested"),
        pytest.param(span_edit(16, 16, "@a"), span_edit(16, 16, "@b"), id="two-insertions"),
        pytest.param(span_edit(5, 16, "python:3.13"), span_edit(16, 16, "@a"), id="insert-at-end"),
        pytest.param(span_edit(5, 16, "python:3.13"), span_edit(5, 5, "x/"), id="insert-at-start"),
        pytest.param(
            span_edit(5, 16, f"python:3.12@{D1}"),
            Edit("Dockerfile", 9, 9, 20, 5, 16, "python:3.12", f"python:3.12@{D1}"),
            id="same-effect-other-position",
        ),
    ],
)
def test_conflicting_edits_are_both_refused(first: Edit, second: Edit) -> None:
    change = plan_one(CONFLICT_DATA, [first, NODE, second])
    assert change.applied == (NODE,)
    assert change.after == b"FROM python:3.12 AS a\nFROM node:20@" + B1 + b"\n"
    assert change.refused == (
        (first, f"overlaps another edit at line {second.line}, column {second.column}"),
        (second, f"overlaps another edit at line {first.line}, column {first.column}"),
    )


def test_adjacent_edits_do_not_conflict() -> None:
    edits = [span_edit(5, 11, "py"), span_edit(11, 16, "thon")]
    change = plan_one(CONFLICT_DATA, edits)
    assert change.after == b"FROM python AS a\nFROM node:20\n"
    assert change.refused == ()


def test_an_edit_overlapping_two_others_refuses_all_three() -> None:
    left, middle, right = span_edit(5, 10, "a"), span_edit(8, 14, "b"), span_edit(12, 16, "c")
    change = plan_one(CONFLICT_DATA, [left, middle, right, NODE])
    assert [edit for edit, _ in change.refused] == [left, middle, right]
    assert change.applied == (NODE,)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        pytest.param(
            Edit("Dockerfile", 1, 6, 17, 5, 16, "python:3.11", "python:3.11@" + D1),
            STALE,
            id="original-not-in-place",
        ),
        pytest.param(
            Edit("Dockerfile", 2, 6, 13, 27, 40, "node:20-slim\n", "x"), STALE, id="past-the-end"
        ),
        pytest.param(
            Edit("Dockerfile", 1, 1, 1, 9, 5, "", "x"),
            "edit has an invalid range 9:5",
            id="end-before-start",
        ),
        pytest.param(
            Edit("Dockerfile", 1, 1, 1, -1, 0, "", "x"),
            "edit has an invalid range -1:0",
            id="negative-start",
        ),
        pytest.param(
            span_edit(5, 16, "python:3.12\nRUN evil"),
            "replacement spans more than one line",
            id="newline-in-replacement",
        ),
        pytest.param(
            span_edit(5, 16, "python:3.12\r"),
            "replacement spans more than one line",
            id="carriage-return-in-replacement",
        ),
        pytest.param(
            span_edit(5, 16, "python:\ud8003.12"),
            "replacement is not valid text",
            id="lone-surrogate-in-replacement",
        ),
    ],
)
def test_unfit_edit_is_refused_and_others_still_apply(edit: Edit, reason: str) -> None:
    change = plan_one(CONFLICT_DATA, [edit, NODE])
    assert change.refused == ((edit, reason),)
    assert change.applied == (NODE,)
    assert change.after == b"FROM python:3.12 AS a\nFROM node:20@" + B1 + b"\n"


def test_a_refused_edit_does_not_block_one_it_would_overlap() -> None:
    stale = Edit("Dockerfile", 1, 6, 17, 5, 16, "python:3.11", "python:3.11@" + D1)
    good = span_edit(5, 16, f"python:3.12@{D1}")
    change = plan_one(CONFLICT_DATA, [stale, good])
    assert change.refused == ((stale, STALE),)
    assert change.applied == (good,)


@pytest.mark.parametrize(
    ("data", "spans", "after", "refused"),
    [
        pytest.param(
            b"A\xc2BCD\x80E", [(2, 5)], b"A\xc2BCD\x80E", [0], id="would-read-as-one-character"
        ),
        pytest.param(
            b"A\xc2BCD\x80E", [(2, 3), (3, 5)], b"A\xc2BCD\x80E", [0, 1], id="adjacent-deletions"
        ),
        pytest.param(b"A\xc2BCD\x80E", [(2, 3), (4, 5)], b"A\xc2C\x80E", [], id="apart-deletions"),
        pytest.param(b"A\x80BC\x80E", [(2, 4)], b"A\x80\x80E", [], id="still-not-utf8"),
        pytest.param(b"A\xc2B\x80E", [(1, 2)], b"AB\x80E", [], id="deleting-the-byte-itself"),
    ],
)
def test_deletion_between_bytes_that_are_not_utf8(
    data: bytes, spans: list[tuple[int, int]], after: bytes, refused: list[int]
) -> None:
    edits = [edit_of(decoded(data), start, end, "") for start, end in spans]
    change = plan_one(data, edits)
    assert change.after == after
    assert change.refused == tuple((edits[i], JOINS_BYTES) for i in refused)


def test_edits_are_grouped_by_file_in_first_seen_order() -> None:
    files = {"b/Dockerfile": b"FROM b:1\n", "a/Dockerfile": b"FROM a:1\n"}
    reads: list[str] = []

    def read(path: str) -> bytes:
        reads.append(path)
        return files[path]

    b1 = edit_at(files["b/Dockerfile"], "b:1", "b:1@" + D1, path="b/Dockerfile")
    a1 = edit_at(files["a/Dockerfile"], "a:1", "a:1@" + D2, path="a/Dockerfile")
    b2 = edit_at(files["b/Dockerfile"], "FROM", "from", path="b/Dockerfile")
    changes = plan_changes([b1, a1, b2], read)
    assert [c.path for c in changes] == ["b/Dockerfile", "a/Dockerfile"]
    assert reads == ["b/Dockerfile", "a/Dockerfile"]
    assert changes[0].after == b"from b:1@" + B1 + b"\n"
    assert changes[1].after == b"FROM a:1@" + B2 + b"\n"


def test_no_edits_no_changes() -> None:
    assert plan_changes([], reader({})) == []


def test_unreadable_file_refuses_its_edits() -> None:
    def read(path: str) -> bytes:
        raise FileNotFoundError(2, "No such file or directory", path)

    edit = Edit("gone/Dockerfile", 1, 6, 9, 5, 8, "a:1", "a:1@" + D1)
    (change,) = plan_changes([edit, edit], read)
    assert change.refused == ((edit, "file could not be read: No such file or directory"),)
    assert change.applied == ()
    assert not change.changed


# --- unified diff ---------------------------------------------------------------------------


def diff_of(before: bytes, after: bytes, path: str = "Dockerfile") -> str:
    return unified_diff(FileChange(path, before, after, (), ()))


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param(
            b"# syntax=docker/dockerfile:1\nFROM python:3.12\nRUN true\n",
            b"# syntax=docker/dockerfile:1\nFROM python:3.12@" + B1 + b"\nRUN true\n",
            "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1,3 +1,3 @@\n"
            " # syntax=docker/dockerfile:1\n-FROM python:3.12\n"
            f"+FROM python:3.12@{D1}\n RUN true\n",
            id="one-line",
        ),
        pytest.param(
            b"FROM a:1\r\nRUN true\r\n",
            b"FROM a:1@" + B1 + b"\r\nRUN true\r\n",
            f"--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1,2 +1,2 @@\n-FROM a:1\r\n+FROM a:1@{D1}\r\n"
            " RUN true\r\n",
            id="crlf-kept",
        ),
        pytest.param(
            b"RUN true\nFROM a:1",
            b"RUN true\nFROM a:1@" + B1,
            "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1,2 +1,2 @@\n RUN true\n"
            "-FROM a:1\n\\ No newline at end of file\n"
            f"+FROM a:1@{D1}\n\\ No newline at end of file\n",
            id="no-newline-at-end",
        ),
        pytest.param(
            b"# caf\xe9\nFROM a:1\n",
            b"# caf\xe9\nFROM a:1@" + B1 + b"\n",
            "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1,2 +1,2 @@\n # caf\ufffd\n"
            f"-FROM a:1\n+FROM a:1@{D1}\n",
            id="non-utf8-shown-replaced",
        ),
        pytest.param(b"FROM a:1\n", b"FROM a:1\n", "", id="unchanged"),
    ],
)
def test_unified_diff(before: bytes, after: bytes, expected: str) -> None:
    assert diff_of(before, after) == expected


def test_unified_diff_names_the_path_like_git() -> None:
    header = diff_of(b"FROM a\n", b"FROM b\n", "services/api/Dockerfile").splitlines()[:2]
    assert header == ["--- a/services/api/Dockerfile", "+++ b/services/api/Dockerfile"]


@pytest.mark.parametrize(
    "before",
    [
        pytest.param(b"FROM a:1\nRUN x\nRUN y\nRUN z\nRUN w\nFROM b:2\n", id="two-hunks-lf"),
        pytest.param(b"FROM a:1\r\nRUN x\r\nFROM b:2", id="crlf-no-final-newline"),
        pytest.param(b"\xef\xbb\xbfFROM a:1\nFROM b:2\n", id="bom"),
    ],
)
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_unified_diff_applies_with_git(before: bytes, tmp_path: Path) -> None:
    edits = [edit_at(before, "a:1", "a:1@" + D1), edit_at(before, "b:2", "b:2@" + D2)]
    change = plan_one(before, edits)
    (tmp_path / "Dockerfile").write_bytes(before)
    (tmp_path / "fix.diff").write_text(unified_diff(change), encoding="utf-8", newline="")
    # Outside any work tree, `git apply` patches files as `patch` does.
    outside = {**os.environ, "GIT_CEILING_DIRECTORIES": str(tmp_path.parent)}
    subprocess.run(
        ["git", "apply", "fix.diff"], cwd=tmp_path, env=outside, check=True, capture_output=True
    )
    assert (tmp_path / "Dockerfile").read_bytes() == change.after


# --- properties -----------------------------------------------------------------------------

CHUNKS = st.one_of(
    st.binary(max_size=6),
    st.text(max_size=6).map(str.encode),
    st.sampled_from([b"\r\n", b"\n", b"\r", b"\xef\xbb\xbf", b"\\\n", b"\t", b"FROM ", b'"']),
)
FILES = st.lists(CHUNKS, max_size=24).map(b"".join)
REPLACEMENTS = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12)


@st.composite
def files_with_edits(draw: st.DrawFn) -> tuple[bytes, list[Edit]]:
    """A file and non-overlapping edits on it (their spans are not empty and do not touch)."""
    data = draw(FILES.filter(bool))
    text = decoded(data)
    points = sorted(draw(st.sets(st.integers(0, len(text)), min_size=2, max_size=10)))
    edits = [
        edit_of(text, start, end, draw(REPLACEMENTS))
        for start, end in zip(points[0::2], points[1::2], strict=False)
    ]
    return data, draw(st.permutations(edits))


def byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogateescape"))


@given(files_with_edits())
def test_only_the_spans_change(case: tuple[bytes, list[Edit]]) -> None:
    data, edits = case
    change = plan_one(data, edits)
    assert {reason for _, reason in change.refused} <= {JOINS_BYTES}
    text = decoded(data)
    expected = bytearray()
    position = 0
    for edit in change.applied:
        expected += data[position : byte_offset(text, edit.start)]
        expected += edit.replacement.encode()
        position = byte_offset(text, edit.end)
    expected += data[position:]
    assert change.after == bytes(expected)


@given(files_with_edits())
def test_fixing_a_fixed_file_changes_nothing(case: tuple[bytes, list[Edit]]) -> None:
    data, edits = case
    first = plan_one(data, edits)
    text = decoded(first.after)
    again = []
    shift = 0
    for edit in first.applied:
        start = edit.start + shift
        again.append(edit_of(text, start, start + len(edit.replacement), edit.replacement))
        shift += len(edit.replacement) - (edit.end - edit.start)
    assert [e.original for e in again] == [e.replacement for e in first.applied]
    for second in plan_changes(again, reader({"Dockerfile": first.after})):
        assert second.refused == ()
        assert second.after == first.after


@given(FILES, st.data())
def test_any_bytes_survive_an_empty_insertion(data: bytes, draw: st.DataObject) -> None:
    text = decoded(data)
    at = draw.draw(st.integers(0, len(text)))
    assert plan_one(data, [edit_of(text, at, at, "")]).after == data
