"""YAML read with exact positions: offsets against the text, BOM and CRLF, styles, aliases,
merges, errors with their place, and input built to exhaust time, memory or the stack."""

from __future__ import annotations

import sys
import time

import pytest

from basepin.extract.yaml_spans import (
    MAX_DEPTH,
    Mapping,
    Scalar,
    Sequence,
    YamlFile,
    duplicates,
    get,
    pairs,
    string,
    text_of,
)


def scalar_at(read: YamlFile, *path: str | int) -> Scalar:
    node: object = read.documents[0]
    for step in path:
        if isinstance(step, int):
            assert isinstance(node, Sequence)
            node = node.items[step]
        else:
            entry = get(node, step)  # type: ignore[arg-type]
            assert entry is not None, step
            node = entry[1]
    assert isinstance(node, Scalar)
    return node


def written(read: YamlFile, *path: str | int) -> str | None:
    found = read.written(scalar_at(read, *path))
    return None if found is None else read.text[found[0] : found[1]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("image: nginx:1\n", "nginx:1"),
        ("image: 'nginx:1'\n", "nginx:1"),
        ('image: "nginx:1"\n', "nginx:1"),
        ("image:   nginx:1   # a comment\n", "nginx:1"),
        ("image: &anchor nginx:1\n", "nginx:1"),
        ("image: !!str nginx:1\n", "nginx:1"),
        ("image: |-\n  nginx:1\n", "nginx:1"),
        ("image: >-\n    nginx:1\n", "nginx:1"),
        ("image: |\n\n  nginx:1\n", None),  # the value starts with a line break
        ("image: |\n  nginx:1   \n", "nginx:1   "),  # literal: trailing blanks are value
        ("{image: nginx:1}\n", "nginx:1"),
        ("{image: 'nginx:1', b: 2}\n", "nginx:1"),
        ("image: 'it''s'\n", None),  # a doubled quote
        ('image: "ng\\x69nx"\n', None),  # an escape
        ("image: nginx\n  :1\n", None),  # folded across lines
        ('image: "nginx\n  :1"\n', None),
        ("image: \u00e9t\u00e9:1\n", "\u00e9t\u00e9:1"),
        ("image: \U0001f600:1\n", "\U0001f600:1"),
        ("x: \u65e5\u672c\nimage: nginx\n", "nginx"),
    ],
)
def test_written_finds_the_value_as_the_file_has_it(text: str, expected: str | None) -> None:
    for prefix in ("", "\ufeff"):
        for newline in ("\n", "\r\n"):
            body = prefix + text.replace("\n", newline)
            read = YamlFile(body)
            assert read.error is None
            assert written(read, "image") == (
                None if expected is None else expected.replace("\n", newline)
            ), repr(body)


def test_offsets_count_code_points_past_a_bom_and_crlf() -> None:
    text = "\ufeff# \U0001f600\r\nx: \u00e9\r\nimage: 'nginx:1'\r\n"
    read = YamlFile(text)
    scalar = scalar_at(read, "image")
    start, end = read.written(scalar) or (0, 0)
    assert text[start:end] == "nginx:1"
    assert text[scalar.start : scalar.end] == "'nginx:1'"


def test_pure_python_parser_gives_the_same_offsets(monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    text = '\ufeffa: [1, {b: c}]\r\nimage: "\u00e9:1"\r\nz: |-\r\n  q\r\n'
    fast = YamlFile(text)
    monkeypatch.delattr(yaml, "CSafeLoader")
    slow = YamlFile(text)
    for path in (("image",), ("z",), ("a", 0)):
        assert written(fast, *path) == written(slow, *path)
    assert (scalar_at(fast, "image").start, scalar_at(fast, "image").end) == (
        scalar_at(slow, "image").start,
        scalar_at(slow, "image").end,
    )


def test_nulls_strings_and_tags() -> None:
    read = YamlFile("a:\nb: ~\nc: null\nd: ''\ne: !!null x\nf: 'null'\ng: !reference [.x, y]\n")
    document = read.documents[0]
    assert [string(get(document, key)[1]) is None for key in "abcdef"] == [  # type: ignore[index]
        True,
        True,
        True,
        False,
        True,
        False,
    ]
    g = get(document, "g")
    assert g is not None
    assert isinstance(g[1], Sequence)
    assert g[1].tag == "!reference"


def test_merge_keys_fill_in_what_a_mapping_lacks() -> None:
    text = (
        "base: &base {image: a, platform: p}\n"
        "more: &more {image: b, extra: e}\n"
        "one:\n  <<: *base\n  image: own\n"
        "two: &two\n  <<: [*more, *base]\n"
        "three:\n  <<: *two\n"
    )
    document = YamlFile(text).documents[0]
    assert text_of(get(document, "one")[1], "image") == "own"  # type: ignore[index]
    assert text_of(get(document, "one")[1], "platform") == "p"  # type: ignore[index]
    assert text_of(get(document, "two")[1], "image") == "b"  # type: ignore[index]
    assert text_of(get(document, "two")[1], "platform") == "p"  # type: ignore[index]
    assert text_of(get(document, "three")[1], "extra") == "e"  # type: ignore[index]
    keys = [key.value for key, _ in pairs(get(document, "two")[1])]  # type: ignore[arg-type,index]
    assert keys == ["image", "extra", "platform"]


def test_merge_cycles_end() -> None:
    text = "a: &a\n  x: 1\nb: &b\n  <<: *a\n  y: 2\n"
    document = YamlFile(text).documents[0]
    b = get(document, "b")
    assert b is not None
    assert isinstance(b[1], Mapping)
    b[1].pairs.append((b[1].pairs[0][0], b[1]))  # a merge of itself: only a tree built by hand
    assert [key.value for key, _ in pairs(b[1])] == ["y", "x"]


def test_a_key_written_twice() -> None:
    document = YamlFile("image: a\nimage: b\n").documents[0]
    assert isinstance(document, Mapping)
    assert text_of(document, "image") == "b"
    assert [key.start for key in duplicates(document, "image")] == [9]


def test_aliases_are_the_nodes_they_name() -> None:
    read = YamlFile("a: &x [1, 2]\nb: *x\n---\nc: &y {d: 1}\n")
    first = read.documents[0]
    assert get(first, "a")[1] is get(first, "b")[1]  # type: ignore[index]
    assert len(read.documents) == 2


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ("a: [1, 2\n", 9, "did not find expected ',' or ']'"),
        ("a: b\n c: d\n", 7, "mapping values are not allowed"),
        ("a: *nope\n", 3, "undefined alias 'nope'"),
        ("---\na: &x 1\n---\nb: *x\n", 19, "undefined alias 'x'"),
        ("\ufeffa:\n\t- b\n", 4, "cannot start any token"),
        ("a: \x01\n", 3, "control characters are not allowed"),
        ("a: 'x\n", 6, "found unexpected end of stream"),
    ],
)
def test_errors_say_where(text: str, offset: int, message: str) -> None:
    read = YamlFile(text)
    assert read.error is not None
    assert read.error.offset == offset
    assert message in read.error.message
    assert read.error.message.startswith("not valid YAML: ")


def test_documents_before_an_error_are_kept() -> None:
    read = YamlFile("a: 1\n---\nb: [\n")
    assert len(read.documents) == 1
    assert read.error is not None


def test_a_billion_laughs_stays_small_and_fast() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 30):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 9)}]")
    text = "\n".join(lines) + "\n"
    started = time.perf_counter()
    read = YamlFile(text)
    assert read.error is None
    assert [key.value for key, _ in pairs(read.documents[0])][-1] == "a29"  # type: ignore[arg-type]
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        "{a: " * 20_000 + "b" + "}" * 20_000,
        "".join("  " * level + "a:\n" for level in range(3_000)),
        "".join("  " * level + "- \n" for level in range(3_000)),
        "- " * 5_000 + "x\n",
    ],
)
def test_deep_nesting_is_an_error_not_a_crash(text: str) -> None:
    read = YamlFile(text)
    assert read.error is not None
    assert "nest" in read.error.message or "not valid YAML" in read.error.message


def test_nesting_at_the_cap_is_read() -> None:
    depth = MAX_DEPTH - 1
    read = YamlFile("[" * depth + "x" + "]" * depth)
    assert read.error is None
    read = YamlFile("[" * (MAX_DEPTH + 1) + "x" + "]" * (MAX_DEPTH + 1))
    assert read.error is not None
    assert "deeper than" in read.error.message


def test_lines_of_block_and_quoted_scalars_are_data() -> None:
    text = 'a: |\n  # basepin: ignore\nb: "x\n  # y"\n# real\nc: 1\n'
    read = YamlFile(text)
    assert read.in_data(text.index("# basepin"))
    assert read.in_data(text.index("# y"))
    assert not read.in_data(text.index("# real"))


def test_yaml_is_imported_only_when_read() -> None:
    import subprocess

    code = (
        "import sys, basepin.extract, basepin.extract.compose, basepin.extract.kubernetes, "
        "basepin.extract.workflows, basepin.extract.gitlab, basepin.extract.devcontainer\n"
        "before = 'yaml' in sys.modules\n"
        "basepin.extract.compose.parse_compose(b'services: {a: {image: x}}', 'c.yaml')\n"
        "print(before, 'yaml' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True"]


@pytest.mark.parametrize("fast", [True, False])
def test_a_character_yaml_refuses_is_placed_in_characters(
    fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    if not fast:
        monkeypatch.delattr(yaml, "CSafeLoader")
    text = "\ufeffa: \u0800\U0001f600\x1f\n"
    read = YamlFile(text)
    assert read.error is not None
    assert text[read.error.offset] == "\x1f"
    assert read.error.message.startswith("not valid YAML: unacceptable character #x001f: ")
