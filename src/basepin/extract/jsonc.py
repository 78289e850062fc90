"""JSON with comments and trailing commas (JSONC, as VS Code and dev containers read it), with
the position of every string.

`//` and `/* */` comments and a comma before a closing bracket are allowed; everything else is
JSON (RFC 8259). Strings keep where their text is written, so a fix can replace exactly their
characters. Nesting stops at `MAX_DEPTH`; errors carry the offset where reading stopped.
"""

from __future__ import annotations

import re

from basepin.records import NamedTuple

MAX_DEPTH = 256

_BLANKS = re.compile(r"(?:[ \t\n\r]+|//[^\n]*|/\*.*?\*/)*", re.DOTALL)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_PLAIN_CHARS = re.compile(r'[^"\\\x00-\x1f]*')
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_LOW_SURROGATE = re.compile(r"\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class JsonString(NamedTuple):
    value: str
    start: int  # the text inside the quotes
    end: int
    verbatim: bool  # no escapes: the text is the value


class JsonObject(NamedTuple):
    start: int
    members: tuple[tuple[JsonString, JsonValue], ...]

    def get(self, name: str) -> tuple[JsonString, JsonValue] | None:
        """The member `name` (the last one, as JavaScript's parse keeps)."""
        found = None
        for key, value in self.members:
            if key.value == name:
                found = (key, value)
        return found


class JsonArray(NamedTuple):
    start: int
    items: tuple[JsonValue, ...]


class JsonOther(NamedTuple):
    """A number, `true`, `false` or `null`, as written."""

    start: int
    text: str


JsonValue = JsonString | JsonObject | JsonArray | JsonOther


class JsoncError(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def parse_jsonc(text: str) -> JsonValue:
    """The one value `text` holds; raises `JsoncError`."""
    reader = _Reader(text)
    position = reader.blanks(1 if text.startswith("\ufeff") else 0)
    if position >= len(text):
        raise JsoncError(position, "empty: no JSON value")
    value, position = reader.value(position, 0)
    position = reader.blanks(position)
    if position < len(text):
        raise JsoncError(position, "more text after the JSON value")
    return value


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text

    def blanks(self, position: int) -> int:
        end = _BLANKS.match(self.text, position).end()  # type: ignore[union-attr]
        if self.text.startswith("/*", end):
            raise JsoncError(end, "comment not closed (*/)")
        return end

    def value(self, position: int, depth: int) -> tuple[JsonValue, int]:
        text = self.text
        if position >= len(text):
            raise JsoncError(position, "unexpected end of text: a value is missing")
        char = text[position]
        if char == '"':
            return self.string(position)
        if char in "{[":
            if depth >= MAX_DEPTH:
                raise JsoncError(position, f"not read: nested deeper than {MAX_DEPTH} levels")
            if char == "{":
                return self.object(position, depth + 1)
            return self.array(position, depth + 1)
        for word in ("true", "false", "null"):
            if text.startswith(word, position):
                return JsonOther(position, word), position + len(word)
        number = _NUMBER.match(text, position)
        if number is not None and number.end() > position:
            return JsonOther(position, number.group()), number.end()
        raise JsoncError(position, f"unexpected character {char!r}: a value is expected")

    def string(self, position: int) -> tuple[JsonString, int]:
        text = self.text
        pieces: list[str] = []
        at = position + 1
        while True:
            plain = _PLAIN_CHARS.match(text, at).end()  # type: ignore[union-attr]
            pieces.append(text[at:plain])
            if plain >= len(text):
                raise JsoncError(position, "string not closed")
            char = text[plain]
            if char == '"':
                value = "".join(pieces)
                verbatim = plain - position - 1 == len(value)
                return JsonString(value, position + 1, plain, verbatim), plain + 1
            if char != "\\":
                raise JsoncError(plain, f"control character {char!r} in a string")
            escape = text[plain + 1 : plain + 2]
            if escape in _ESCAPES:
                pieces.append(_ESCAPES[escape])
                at = plain + 2
            elif escape == "u" and _HEX4.fullmatch(text, plain + 2, plain + 6):
                code = int(text[plain + 2 : plain + 6], 16)
                at = plain + 6
                low = _LOW_SURROGATE.match(text, at)
                if 0xD800 <= code < 0xDC00 and low is not None:  # a pair is one character
                    code = 0x10000 + (code - 0xD800) * 0x400 + int(low.group(1), 16) - 0xDC00
                    at = low.end()
                pieces.append(chr(code))
            else:
                raise JsoncError(plain, "invalid escape in a string")

    def object(self, position: int, depth: int) -> tuple[JsonObject, int]:
        members: list[tuple[JsonString, JsonValue]] = []
        at = self.blanks(position + 1)
        while not self.text.startswith("}", at):
            if not self.text.startswith('"', at):
                raise JsoncError(at, "a member name in double quotes or '}' is expected")
            key, at = self.string(at)
            at = self.blanks(at)
            if not self.text.startswith(":", at):
                raise JsoncError(at, "':' is expected after a member name")
            value, at = self.value(self.blanks(at + 1), depth)
            members.append((key, value))
            at = self.blanks(at)
            if self.text.startswith(",", at):
                at = self.blanks(at + 1)
            elif not self.text.startswith("}", at):
                raise JsoncError(at, "',' or '}' is expected")
        return JsonObject(position, tuple(members)), at + 1

    def array(self, position: int, depth: int) -> tuple[JsonArray, int]:
        items: list[JsonValue] = []
        at = self.blanks(position + 1)
        while not self.text.startswith("]", at):
            value, at = self.value(at, depth)
            items.append(value)
            at = self.blanks(at)
            if self.text.startswith(",", at):
                at = self.blanks(at + 1)
            elif not self.text.startswith("]", at):
                raise JsoncError(at, "',' or ']' is expected")
        return JsonArray(position, tuple(items)), at + 1
