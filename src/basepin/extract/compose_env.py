"""Compose's variables: interpolation as the Compose specification defines it, and `.env` files.

Interpolation follows compose-go's `template` package: `$$` is a `$`; `$NAME` and `${NAME}`;
`${NAME:-default}` / `${NAME-default}` (unset or empty / unset), `${NAME:?error}` /
`${NAME?error}`, `${NAME:+alt}` / `${NAME+alt}`; defaults, errors and alternatives are
interpolated in turn (nesting). Names are `[_A-Za-z][_A-Za-z0-9]*`. A `$` that starts none of
these stays as it is; a `${` that does not close on a valid name is an invalid template, and
Compose refuses the file.

`.env` files are read as compose-go's `dotenv` parser reads them: `NAME=value` (or `NAME: value`,
`export NAME=value`), `#` comment lines, unquoted values cut at ` #` and trimmed, single quotes
taken literally, double quotes with escapes (`\\n`, `\\"`, `\\$`...) and interpolation, values
that may use the names defined above them. A name alone on its line takes its value from the
environment, which basepin does not read: such a variable is unknown, never guessed.

What is tracked beyond the value: whether the whole value is one run of the text as written
(so a fix can rewrite it), and which variable it came from when it came whole from one.
"""

from __future__ import annotations

import re

from basepin.extract.source import Lines
from basepin.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

_NAME = r"[_A-Za-z][_A-Za-z0-9]*"
_NAMED = re.compile(_NAME)
_BRACED = re.compile(f"({_NAME})(?:(:?[-+?])(.*))?")
_MAX_NESTING = 32
# Longer than any image reference: values past it are not references, and cutting them off
# keeps a file of variables that double each other from filling the memory.
MAX_VALUE = 4096


class Value(NamedTuple):
    """A variable's value as a lookup sees it: `text`, or why it is not known (`unknown`);
    both None: the variable is not set."""

    text: str | None
    unknown: str | None = None


UNSET = Value(None)


class Expansion(NamedTuple):
    value: str  # with every variable replaced; the text as written when `unknown`
    unknown: str | None = None  # why the value cannot be known
    names: tuple[str, ...] = ()  # the variables read, in order
    # Where the whole value stands when it is one run: ("text", start, end) in the template
    # (text written as it is, or a default), or ("variable", name, 0) for one variable's value.
    whole: tuple[str, str | int, int] | None = None


def interpolate(template: str, lookup: Callable[[str], Value]) -> Expansion:
    """`template` with Compose's interpolation applied; never raises."""
    return _Interpolation(template, lookup).run(0, len(template), 0)


class _Interpolation:
    def __init__(self, template: str, lookup: Callable[[str], Value]) -> None:
        self.template = template
        self.lookup = lookup

    def run(self, start: int, end: int, depth: int) -> Expansion:
        """Interpolate template[start:end]."""
        text = self.template
        if "$" not in text[start:end]:
            return Expansion(text[start:end], whole=("text", start, end))
        if depth > _MAX_NESTING:
            return Expansion(text[start:end], f"nested deeper than {_MAX_NESTING} levels")
        pieces: list[str] = []
        names: list[str] = []
        whole: tuple[str, str | int, int] | None = None
        at = start
        literal_from = start
        while True:
            dollar = text.find("$", at, end)
            if dollar < 0:
                break
            after = dollar + 1
            if text.startswith("$", after) and after < end:
                pieces.append(text[literal_from:dollar] + "$")
                at = literal_from = after + 1
                whole = None
                continue
            named = _NAMED.match(text, after, end)
            if named is not None:
                pieces.append(text[literal_from:dollar])
                name = named.group()
                names.append(name)
                found = self.lookup(name)
                if found.unknown is not None:
                    return Expansion(text[start:end], found.unknown, tuple(names))
                if found.text is None:
                    return Expansion(text[start:end], _not_set(name), tuple(names))
                pieces.append(found.text)
                if len(found.text) > MAX_VALUE:
                    return Expansion(text[start:end], _too_long(), tuple(names))
                whole = ("variable", name, 0) if (dollar, named.end()) == (start, end) else None
                at = literal_from = named.end()
                continue
            if not text.startswith("{", after) or after >= end:
                at = after  # a `$` that starts nothing is itself
                continue
            braced = self._braced(dollar, end, depth)
            if braced is None:
                line_end = text.find("\n", dollar, end)
                shown = text[dollar : end if line_end < 0 else line_end]
                return Expansion(text[start:end], f"invalid interpolation {shown!r}", tuple(names))
            expansion, close = braced
            names.extend(expansion.names)
            if expansion.unknown is not None:
                return Expansion(text[start:end], expansion.unknown, tuple(names))
            pieces += (text[literal_from:dollar], expansion.value)
            whole = expansion.whole if (dollar, close + 1) == (start, end) else None
            at = literal_from = close + 1
        pieces.append(text[literal_from:end])
        if sum(map(len, pieces)) > MAX_VALUE:
            return Expansion(text[start:end], _too_long(), tuple(names))
        value = "".join(pieces)
        if not names and value == text[start:end]:
            whole = ("text", start, end)  # its `$`s start nothing
        return Expansion(value, None, tuple(names), whole)

    def _braced(self, dollar: int, end: int, depth: int) -> tuple[Expansion, int] | None:
        """`${...}` at `dollar`: its expansion and the offset of its closing brace."""
        text = self.template
        close = _closing_brace(text, dollar, end)
        if close < 0:  # compose-go then takes its pattern's greedy match: the last brace
            line_end = text.find("\n", dollar, end)
            close = text.rfind("}", dollar, end if line_end < 0 else line_end)
            if close < 0:
                return None
        form = _BRACED.fullmatch(text, dollar + 2, close)
        if form is None:
            return None
        name, operator = form.group(1), form.group(2)
        value = self.lookup(name)
        if value.unknown is not None:
            return Expansion("", value.unknown, (name,)), close
        if operator is None:
            if value.text is None:
                return Expansion("", _not_set(name), (name,)), close
            return Expansion(value.text, None, (name,), ("variable", name, 0)), close
        argument = self.run(form.start(3), form.end(3), depth + 1)
        names = (name, *argument.names)
        empty_counts = operator.startswith(":")
        is_set = value.text is not None and (value.text != "" or not empty_counts)
        if operator.endswith("?"):
            if is_set:
                return Expansion(value.text or "", None, names, ("variable", name, 0)), close
            if argument.unknown is not None:
                return Expansion("", argument.unknown, names), close
            why = f"required variable {name} is missing a value"
            why = f"{why}: {argument.value}" if argument.value else why
            return Expansion("", why, names), close
        if operator.endswith("-"):
            if is_set:
                return Expansion(value.text or "", None, names, ("variable", name, 0)), close
            return argument._replace(names=names), close
        # `+`: the alternative when set, else the value itself ("" or unset, which is "")
        if is_set:
            return argument._replace(names=names), close
        return Expansion(value.text or "", None, names), close


def _closing_brace(text: str, dollar: int, end: int) -> int:
    """compose-go's getFirstBraceClosingIndex: the brace that closes `${`, counting nested
    opening braces (the character after each `{` is skipped)."""
    depth = 0
    index = dollar
    while index < end:
        char = text[index]
        if char == "}":
            depth -= 1
            if depth == 0:
                return index
        if char == "{":
            depth += 1
            index += 1
        index += 1
    return -1


def _too_long() -> str:
    return f"its value would be longer than {MAX_VALUE} characters: not an image reference"


def _not_set(name: str) -> str:
    return f"{name} is not set (Compose would put an empty string in its place)"


# --- .env files ----------------------------------------------------------------------------


class EnvFile(NamedTuple):
    """The `.env` file next to a Compose file: where it is and what it says."""

    path: str
    text: str


class EnvEntry(NamedTuple):
    value: Value
    start: int  # the value as written (inside its quotes)
    end: int
    verbatim: bool  # the written text is the value itself: a fix may rewrite it


class DotEnv(NamedTuple):
    path: str
    lines: Lines
    entries: dict[str, EnvEntry]
    error: tuple[int, str] | None  # where reading stopped, and why


_SPACE = "\t\v\f\r \x85\xa0"  # dotenv's isSpace: blanks, no line break
_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0[0-9]{0,3})")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def read_env(env: EnvFile) -> DotEnv:
    """The variables an `.env` file sets, in order; reading stops at the first error."""
    text = env.text
    position = 1 if text.startswith("\ufeff") else 0
    entries: dict[str, EnvEntry] = {}

    def lookup(name: str) -> Value:
        entry = entries.get(name)
        return entry.value if entry is not None else UNSET

    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return DotEnv(env.path, Lines(text), entries, None)
        if text[position] == "#":
            newline = text.find("\n", position)
            position = len(text) if newline < 0 else newline
            continue
        statement = position
        exported = re.compile(r"export\s+").match(text, position)
        if exported is not None:
            position = exported.end()
        key_end = position
        while key_end < len(text) and text[key_end] not in "=:\n":
            char = text[key_end]
            if not (char in _SPACE or char in "_.-[]" or char.isalpha() or char.isnumeric()):
                return DotEnv(
                    env.path,
                    Lines(text),
                    entries,
                    (key_end, f"unexpected character {char!r} in variable name"),
                )
            key_end += 1
        name = text[position:key_end].rstrip()
        if " " in name:
            return DotEnv(env.path, Lines(text), entries, (statement, "key cannot contain a space"))
        if key_end >= len(text) or text[key_end] == "\n":
            why = f"{name} takes its value from the environment, which basepin does not read"
            entries[name] = EnvEntry(Value(None, why), statement, statement, False)
            position = key_end
            continue
        position = key_end + 1
        while position < len(text) and text[position] in _SPACE:
            position += 1
        entry, position, error = _value(text, position, lookup)
        if error is not None:
            return DotEnv(env.path, Lines(text), entries, (position, error))
        entries[name] = entry


def _value(
    text: str, start: int, lookup: Callable[[str], Value]
) -> tuple[EnvEntry, int, str | None]:
    """The value at `start`, the offset after it, and an error if it has no end."""
    quote = text[start] if start < len(text) and text[start] in "'\"" else ""
    if not quote:
        line_end = text.find("\n", start)
        line_end = len(text) if line_end < 0 else line_end
        comment = text.find(" #", start, line_end)
        raw = text[start : line_end if comment < 0 else comment].rstrip()
        expansion = interpolate(raw, lookup)
        value = _as_value(expansion)
        verbatim = expansion.unknown is None and expansion.value == raw
        return EnvEntry(value, start, start + len(raw), verbatim), line_end, None
    chars: list[str] = []
    escaped = False
    for index in range(start + 1, len(text)):
        char = text[index]
        if char != quote:
            if not escaped and char == "\\":
                escaped = True
                continue
            if escaped:
                escaped = False
                chars.append("\\")
            chars.append(char)
            continue
        if escaped:
            escaped = False
            chars.append(char)
            continue
        raw = text[start + 1 : index]
        inside = "".join(chars)
        if quote == "'":
            return EnvEntry(Value(inside), start + 1, index, inside == raw), index + 1, None
        expansion = interpolate(_unescape(inside), lookup)
        verbatim = expansion.unknown is None and expansion.value == raw
        return EnvEntry(_as_value(expansion), start + 1, index, verbatim), index + 1, None
    return EnvEntry(UNSET, start, start, False), start, "unterminated quoted value"


def _unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        sequence = match.group()
        if sequence == "\\$":
            return "$$"  # a literal `$` for interpolation
        letter = sequence[1]
        if letter in _ESCAPES:
            return _ESCAPES[letter]
        if letter == "0":  # `\0NNN` is octal NNN; Go refuses any other form: kept as written
            digits = sequence[2:]
            octal = len(digits) == 3 and set(digits) <= set("01234567") and int(digits, 8) < 256
            return chr(int(digits, 8)) if octal else sequence
        if letter == "c":
            return sequence  # Go's UnquoteChar refuses it: kept as written
        return letter  # \" and \\

    return _ESCAPE.sub(one, text)


def _as_value(expansion: Expansion) -> Value:
    return Value(None, expansion.unknown) if expansion.unknown else Value(expansion.value)


def mapping_lookup(values: Mapping[str, str]) -> Callable[[str], Value]:
    def lookup(name: str) -> Value:
        return Value(values[name]) if name in values else UNSET

    return lookup
