"""Splitting one Dockerfile instruction as BuildKit does, with source positions kept.

Each function mirrors one piece of moby/buildkit's frontend/dockerfile: the instruction
splitter (parser/split_command.go: splitCommand, extractBuilderFlags), the word splitters
(parser/line_parsers.go: parseWords, parseStringsWhitespaceDelimited) and the CSV reading of
`--mount` values. Positions are indices into the instruction's joined text, so callers can map
every value back to the file.

Only the standard library is used: `basepin check --offline` imports this on every run.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import islice

from basepin.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

# Go's unicode.IsSpace (Python's str.isspace also takes \x1c-\x1f, which Go does not).
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)
GO_SPACE_SET = frozenset(GO_SPACE)
# parser.reWhitespace / tokenWhitespace: the separators of the command word and FROM's words.
SEPARATOR = re.compile(r"[\t\v\f\r ]+")
_NON_SEPARATOR = re.compile(r"[^\t\v\f\r ]+")


class Flag(NamedTuple):
    """One leading `--name[=value]` word, quotes and escapes removed.

    `positions[i]` is where `word[i]` stands in the instruction text.
    """

    word: str
    positions: Sequence[int]
    start: int
    end: int

    @property
    def name(self) -> str:
        return self.word[2:].partition("=")[0]

    @property
    def has_value(self) -> bool:
        return "=" in self.word

    @property
    def value(self) -> str:
        return self.word.partition("=")[2]

    @property
    def value_positions(self) -> Sequence[int]:
        return self.positions[self.word.index("=") + 1 :]


class Command(NamedTuple):
    """An instruction split as BuildKit splits it: command word, flags, arguments."""

    keyword: str  # lowercased
    word_start: int
    word_end: int
    flags: tuple[Flag, ...]
    args_start: int
    args_end: int
    # The trigger of an ONBUILD instruction.
    sub: Command | None = None


def _skip_blanks(text: str, pos: int, end: int) -> int:
    # A loop, not a regex: runs are short, and a class of Go's blanks takes ~0.3 ms to compile.
    while pos < end and text[pos] in GO_SPACE_SET:
        pos += 1
    return pos


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """strings.TrimSpace on text[start:end], as a range."""
    start = _skip_blanks(text, start, end)
    if end > start and text[end - 1] in GO_SPACE_SET:
        end = start + len(text[start:end].rstrip(GO_SPACE))
    return start, end


def split_command(
    text: str, escape: str, start: int = 0, end: int | None = None, *, trigger: bool = True
) -> Command:
    """splitCommand: the command word, the leading `--` flags, the trimmed arguments.

    An ONBUILD's trigger is split too, one level deep (ONBUILD ONBUILD is an error anyway).
    """
    start, stop = _trim(text, start, len(text) if end is None else end)
    gap = SEPARATOR.search(text, start, stop)
    if gap is None:
        return Command(text[start:stop].lower(), start, stop, (), stop, stop)
    flags, rest = extract_flags(text, gap.end(), stop, escape)
    args_start, args_end = _trim(text, rest, stop)
    keyword = text[start : gap.start()].lower()
    sub = None
    if keyword == "onbuild" and trigger:
        sub = split_command(text, escape, args_start, args_end, trigger=False)
    return Command(keyword, start, gap.start(), tuple(flags), args_start, args_end, sub)


@lru_cache(maxsize=4)
def _runs(escape: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """Runs of characters with no special meaning: outside quotes, in "...", in '...'."""
    outside = re.compile("[^" + re.escape(GO_SPACE + "'\"" + escape) + "]+")
    return outside, re.compile("[^" + re.escape('"' + escape) + "]+"), re.compile("[^']+")


def extract_flags(text: str, pos: int, end: int, escape: str) -> tuple[list[Flag], int]:
    """extractBuilderFlags: leading words that start with `--`; returns them and where the rest
    of the line starts. Quotes group and are removed, the escape character escapes."""
    flags: list[Flag] = []
    outside = _runs(escape)[0]
    while True:
        pos = _skip_blanks(text, pos, end)
        if pos >= end or not text.startswith("--", pos) or pos + 1 >= end:
            return flags, min(pos, end)
        start = pos
        places: Sequence[int]
        plain = outside.match(text, pos, end)
        if plain and (plain.end() == end or text[plain.end()] in GO_SPACE_SET):
            # The usual flag: no quotes or escapes, so every character stands where it is.
            word, places, pos = plain.group(), range(start, plain.end()), plain.end()
        else:
            word, places, pos = _quoted_flag(text, pos, end, escape)
        if word == "--":
            return flags, pos
        flags.append(Flag(word, places, start, pos))
        if pos >= end:
            return flags, end


def _quoted_flag(text: str, pos: int, end: int, escape: str) -> tuple[str, list[int], int]:
    """A flag word with quotes or escapes in it, read character by character."""
    chars: list[str] = []
    places: list[int] = []
    quote = ""
    while pos < end:
        ch = text[pos]
        if not quote and ch in GO_SPACE_SET:
            break
        if not quote and ch in "'\"":
            quote = ch
            pos += 1
            continue
        if quote and ch == quote:
            quote = ""
            pos += 1
            continue
        if ch == escape:
            pos += 1
            if pos == end:  # an escape at the very end is dropped
                continue
            ch = text[pos]
        chars.append(ch)
        places.append(pos)
        pos += 1
    return "".join(chars), places, pos


def whitespace_words(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """parseStringsWhitespaceDelimited (FROM's arguments): ranges of the first `limit` words."""
    return [m.span() for m in islice(_NON_SEPARATOR.finditer(text, start, end), limit)]


def unquote_range(text: str, start: int, end: int) -> tuple[int, int]:
    """The inside of a word that is one quoted string; the word itself otherwise."""
    if end - start >= 2 and text[start] in "'\"" and text[end - 1] == text[start]:
        return start + 1, end - 1
    return start, end


def parse_words(text: str, start: int, end: int, escape: str) -> list[tuple[int, int]]:
    """parseWords (ARG's arguments): ranges of the words, quotes and escapes kept in them."""
    outside, in_double, in_single = _runs(escape)
    words: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        pos = _skip_blanks(text, pos, end)
        if pos >= end:
            break
        first = pos
        last = pos  # just after the last character taken into the word
        quote = ""
        while pos < end:
            run = (in_double if quote == '"' else in_single if quote else outside).match(
                text, pos, end
            )
            if run:
                pos = last = run.end()
                continue
            ch = text[pos]
            if not quote and ch in GO_SPACE_SET:
                break
            if not quote and ch in "'\"":
                quote = ch
            elif quote and ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if pos + 1 == end:  # an escape at the very end is dropped
                    pos += 1
                    continue
                pos += 1
            pos += 1
            last = pos
        if last > first:  # not only an escape at the very end
            words.append((first, last))
    return words


class CsvError(ValueError):
    """A --mount value that is not one CSV record."""


def csv_fields(chars: str, places: Sequence[int]) -> list[tuple[str, Sequence[int]]]:
    """One CSV record as Go's encoding/csv reads it (default settings), positions kept."""
    fields: list[tuple[str, Sequence[int]]] = []
    if not chars:
        return fields
    if '"' not in chars:
        at = 0
        for piece in chars.split(","):
            fields.append((piece, places[at : at + len(piece)]))
            at += len(piece) + 1
        return fields
    pos, n = 0, len(chars)
    while True:
        out: list[str] = []
        where: list[int] = []
        if pos < n and chars[pos] == '"':
            pos += 1
            while True:
                if pos >= n:
                    raise CsvError('extraneous or missing " in quoted-field')
                if chars[pos] == '"':
                    if pos + 1 < n and chars[pos + 1] == '"':
                        out.append('"')
                        where.append(places[pos])
                        pos += 2
                        continue
                    pos += 1
                    break
                out.append(chars[pos])
                where.append(places[pos])
                pos += 1
            if pos < n and chars[pos] != ",":
                raise CsvError('extraneous or missing " in quoted-field')
        else:
            while pos < n and chars[pos] != ",":
                if chars[pos] == '"':
                    raise CsvError('bare " in non-quoted-field')
                out.append(chars[pos])
                where.append(places[pos])
                pos += 1
        fields.append(("".join(out), tuple(where)))
        if pos >= n:
            return fields
        pos += 1  # the comma
