"""JSON with comments and trailing commas, held to the json5 package (a superset reader) and to
the standard library's JSON."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import json5
import pytest
from hypothesis import given
from hypothesis import strategies as st

from basepin.extract.jsonc import (
    MAX_DEPTH,
    JsonArray,
    JsoncError,
    JsonObject,
    JsonOther,
    JsonString,
    JsonValue,
    parse_jsonc,
)


def plain(value: JsonValue) -> Any:
    """The Python value a JSON reader would give."""
    if isinstance(value, JsonString):
        return value.value
    if isinstance(value, JsonArray):
        return [plain(item) for item in value.items]
    if isinstance(value, JsonObject):
        return {key.value: plain(item) for key, item in value.members}
    return json.loads(value.text)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        '\ufeff{"a": [1, 2.5e-3, -0, true, false, null, "x"]}',
        '// c\n{\n  "a": 1, // c\n  /* c */ "b": [1, 2,],\n}\n',
        '{"a": "http://x//y/*z*/"}',
        '{"a": "\\u00e9\\n\\"\\\\\\/"}',
        '{"a": 1, "a": 2}',
        "[]",
        '"top"',
        '{"a": {}, "b": [[], {}],}',
    ],
)
def test_values(text: str) -> None:
    assert plain(parse_jsonc(text)) == json5.loads(text.lstrip("\ufeff"))


def test_strings_keep_where_they_are_written() -> None:
    text = '{\n  // x\n  "image": "mcr.microsoft.com/devcontainers/base:ubuntu",\n  "b": "a\\/b"\n}'
    document = parse_jsonc(text)
    assert isinstance(document, JsonObject)
    member = document.get("image")
    assert member is not None
    key, value = member
    assert isinstance(value, JsonString)
    assert text[key.start : key.end] == "image"
    assert text[value.start : value.end] == value.value
    assert value.verbatim
    escaped = document.get("b")
    assert escaped is not None
    assert isinstance(escaped[1], JsonString)
    assert not escaped[1].verbatim
    assert escaped[1].value == "a/b"


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ("", 0, "empty"),
        ("// only a comment\n", 18, "empty"),
        ('{"a": 1', 7, "',' or '}' is expected"),
        ('{"a" 1}', 5, "':' is expected"),
        ("{a: 1}", 1, "a member name in double quotes"),
        ('{"a": tru}', 6, "unexpected character 't'"),
        ('{"a": "x}', 6, "string not closed"),
        ('{"a": "x\ny"}', 8, "control character"),
        ('{"a": "\\x"}', 7, "invalid escape"),
        ('{"a": 1} 2', 9, "more text after"),
        ('{"a": 1 /* open', 8, "comment not closed"),
        ("[1,,2]", 3, "unexpected character ','"),
        ('{"a": 01}', 7, "',' or '}' is expected"),
    ],
)
def test_errors(text: str, offset: int, message: str) -> None:
    with pytest.raises(JsoncError) as caught:
        parse_jsonc(text)
    assert caught.value.offset == offset
    assert message in caught.value.message


def test_nesting_is_capped() -> None:
    parse_jsonc("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))
    with pytest.raises(JsoncError, match="deeper than"):
        parse_jsonc("[" * 100_000 + "]" * 100_000)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)
BLANKS = st.sampled_from(["", " ", "\n", "\r\n", "// c\n", "/* c */", "/**/", " // x \n  "])


def render(value: Any, draw: Any, ascii: bool) -> str:
    """`value` as JSONC, with comments and trailing commas drawn in between."""
    blank = draw(BLANKS)
    if isinstance(value, list):
        items = [render(item, draw, ascii) for item in value]
        comma = "," if items and draw(st.booleans()) else ""
        return f"[{blank}{','.join(items)}{comma}{draw(BLANKS)}]"
    if isinstance(value, dict):
        members = [
            f"{json.dumps(k, ensure_ascii=ascii)}{draw(BLANKS)}:{render(v, draw, ascii)}"
            for k, v in value.items()
        ]
        comma = "," if members and draw(st.booleans()) else ""
        return f"{{{blank}{','.join(members)}{comma}{draw(BLANKS)}}}"
    return f"{blank}{json.dumps(value, ensure_ascii=ascii)}{draw(BLANKS)}"


@given(JSON, st.booleans(), st.data())
def test_matches_json5(value: Any, ascii: bool, data: st.DataObject) -> None:
    text = render(value, data.draw, ascii)
    assert plain(parse_jsonc(text)) == value
    if not ascii:  # json5 reads an escaped surrogate pair as two characters
        assert json5.loads(text) == value


@given(st.text(max_size=40))
def test_never_raises_anything_else(text: str) -> None:
    with contextlib.suppress(JsoncError):
        parse_jsonc(text)


def test_literals_keep_their_text() -> None:
    document = parse_jsonc('{"n": -1.5E+2}')
    assert isinstance(document, JsonObject)
    member = document.get("n")
    assert member is not None
    assert member[1] == JsonOther(6, "-1.5E+2")
