"""BuildKit's word-level rules for one Dockerfile instruction, with source positions kept.

Each function mirrors one piece of moby/buildkit's frontend/dockerfile: the instruction
splitter (parser/split_command.go: splitCommand, extractBuilderFlags), the word splitters
(parser/line_parsers.go: parseWords, parseStringsWhitespaceDelimited), the CSV reading of
`--mount` values, and the shell lexer that expands `$VAR` words (shell/lex.go). Positions are
indices into the instruction's joined text, so callers can map every value back to the file.

Only the standard library is used: `basepin check --offline` imports this on every run.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import islice

from basepin.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

# Go's unicode.IsSpace (Python's str.isspace also takes \x1c-\x1f, which Go does not).
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)
_GO_SPACE_SET = frozenset(GO_SPACE)
# parser.reWhitespace / tokenWhitespace: the separators of the command word and FROM's words.
SEPARATOR = re.compile(r"[\t\v\f\r ]+")
_NON_SEPARATOR = re.compile(r"[^\t\v\f\r ]+")
# The most text variables may put into one word: ARG defaults can double in length at every
# line (ARG B=$A$A), and a file must never make basepin run out of memory.
MAX_EXPANSION = 1 << 16
# text/scanner skips a byte order mark at the start of each word BuildKit's lexer reads.
BOM = "\ufeff"
# Deepest nesting of ${...} inside ${...} followed before giving up.
MAX_NESTING = 64


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
    while pos < end and text[pos] in _GO_SPACE_SET:
        pos += 1
    return pos


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """strings.TrimSpace on text[start:end], as a range."""
    start = _skip_blanks(text, start, end)
    if end > start and text[end - 1] in _GO_SPACE_SET:
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
        if plain and (plain.end() == end or text[plain.end()] in _GO_SPACE_SET):
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
        if not quote and ch in _GO_SPACE_SET:
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
            if not quote and ch in _GO_SPACE_SET:
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


# --- the shell lexer -----------------------------------------------------------------------


class Unset:
    """A variable without a value; `reason` says why, for the user."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class Unknown:
    """A variable whose value only the build knows (a platform ARG, or one built from such)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


EnvValue = str | Unset | Unknown
if TYPE_CHECKING:
    Env = Callable[[str], EnvValue]


class ExpansionError(ValueError):
    """A word BuildKit's lexer rejects (unbalanced quotes, bad ${...}); the message says how."""


class Expansion(NamedTuple):
    """A word after expansion.

    `via` is the right-most variable whose non-empty value is part of `text`; `unknown` says
    why `text` cannot be known before the build, when it cannot.
    """

    text: str = ""
    via: str | None = None
    unknown: str | None = None


class _Builder:
    """Collects the pieces of one expansion."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.via: str | None = None
        self.unknown: str | None = None

    def add(self, text: str) -> None:
        self.parts.append(text)

    def extend(self, other: Expansion) -> None:
        self.parts.append(other.text)
        if other.via is not None:
            self.via = other.via
        if self.unknown is None:
            self.unknown = other.unknown

    def done(self) -> Expansion:
        return Expansion("".join(self.parts), self.via, self.unknown)


def _value(text: str, via: str | None = None) -> Expansion:
    return Expansion(text, via if text else None)


def _unknown(reason: str) -> Expansion:
    return Expansion(unknown=reason)


class _Words:
    """shell/lex.go wordsStruct: splits the lexer's output into words like a shell."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.parts: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch not in _GO_SPACE_SET:
            self.add_raw(ch)
        elif self.in_word and any(self.parts):
            self.words.append("".join(self.parts))
            self.parts = []
            self.in_word = False

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        self.parts.append(text)
        self.in_word = True

    def result(self) -> list[str]:
        if any(self.parts):
            self.words.append("".join(self.parts))
        return self.words


class ShellLexer:
    """shell/lex.go for one word: quotes, escapes and $VAR / ${VAR...} forms.

    `raw_quotes` and `raw_escapes` keep quote and escape characters in the output (as the
    heredoc detection asks); `skip_unset` leaves unset variables as written.
    """

    def __init__(
        self,
        escape: str,
        env: Env,
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_unset: bool = False,
    ) -> None:
        self.escape = escape
        self.env = env
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset = skip_unset
        self._src = ""
        self._pos = 0
        self._depth = 0
        self._inserted = 0
        # Whether escapes are kept right now: processStopOn sets it for what it reads, double
        # quotes included (`${V#"\x"}` keeps the escape in the pattern).
        self._raw = raw_escapes
        # The words being split, when words() runs.
        self._words: _Words | None = None

    def expand(self, word: str) -> Expansion:
        """ProcessWord: the word with quotes removed and variables expanded."""
        word = word.removeprefix(BOM)
        if _plain_run(self.escape, "", False).fullmatch(word):
            return Expansion(word)
        self._src, self._pos, self._depth, self._inserted = word, 0, 0, 0
        self._words = None
        return self._until("", self.raw_escapes, None)

    def words(self, line: str) -> list[str]:
        """ProcessWords: the line split into shell words; an error yields no words."""
        self._src, self._pos, self._depth, self._inserted = line.removeprefix(BOM), 0, 0, 0
        words = self._words = _Words()
        try:
            self._until("", self.raw_escapes, words)
        except ExpansionError:
            return []
        return words.result()

    def _insert(self, value: str, name: str) -> Expansion:
        """A variable's value put into the word, within the MAX_EXPANSION budget."""
        self._inserted += len(value)
        if self._inserted > MAX_EXPANSION:
            raise ExpansionError(f"variables expand to more than {MAX_EXPANSION} characters")
        return _value(value, name)

    def _until(self, stop: str, raw_escapes: bool, words: _Words | None) -> Expansion:
        """processStopOn: read to `stop` (consumed) or, when stop is "", to the end."""
        if words is None and self._words is not None:
            # BuildKit's lexer shares one buffer for the word being split with the ${...}
            # it reads inside it: the part of that word before a `${X:-...}` is lost.
            self._words.parts.clear()
        outer, self._raw = self._raw, raw_escapes
        try:
            return self._read_until(stop, raw_escapes, words)
        finally:
            self._raw = outer

    def _read_until(self, stop: str, raw_escapes: bool, words: _Words | None) -> Expansion:
        result = _Builder()
        src, n = self._src, len(self._src)
        plain = _plain_run(self.escape, stop, words is not None)
        while self._pos < n:
            ch = src[self._pos]
            if stop and ch == stop:
                self._pos += 1
                return result.done()
            if ch == "$":
                part = self._dollar()
                result.extend(part)
                if words is not None:
                    words.add_string(part.text)
            elif ch == "'":
                text = self._single_quoted()
                result.add(text)
                if words is not None:
                    words.add_raw(text)
            elif ch == '"':
                part = self._double_quoted()
                result.extend(part)
                if words is not None:
                    words.add_raw(part.text)
            elif ch == "<" and words is not None:
                text = self._heredoc_start()
                result.add(text)
                if text == "<":
                    words.add_char(text)
                else:
                    words.add_raw(text)
            elif ch == self.escape:
                self._pos += 1
                if raw_escapes:
                    result.add(ch)
                    if words is not None:
                        words.add_raw(ch)
                if self._pos >= n:
                    break
                escaped = src[self._pos]
                self._pos += 1
                result.add(escaped)
                if words is not None:
                    words.add_raw(escaped)
            else:
                run = plain.match(src, self._pos)
                text = run.group() if run else ch
                self._pos += len(text)
                result.add(text)
                if words is not None:
                    if run:
                        words.add_raw(text)
                    else:
                        words.add_char(text)
        if stop:
            raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
        return result.done()

    def _heredoc_start(self) -> str:
        """processPossibleHeredoc: `<<` takes the blanks after it into its word (`<< EOF`)."""
        src, start = self._src, self._pos
        self._pos += 1
        if not src.startswith("<", self._pos):
            return "<"
        self._pos += 1
        while self._pos < len(src) and src[self._pos] in " \t\r":
            self._pos += 1
        return src[start : self._pos]

    def _single_quoted(self) -> str:
        close = self._src.find("'", self._pos + 1)
        if close < 0:
            self._pos = len(self._src)
            raise ExpansionError(
                "unexpected end of statement while looking for matching single-quote"
            )
        start = self._pos if self.raw_quotes else self._pos + 1
        self._pos = close + 1
        return self._src[start : self._pos if self.raw_quotes else close]

    def _double_quoted(self) -> Expansion:
        result = _Builder()
        if self.raw_quotes:
            result.add('"')
        src, n = self._src, len(self._src)
        plain = _plain_run(self.escape, '"', False)
        self._pos += 1
        while True:
            if self._pos >= n:
                raise ExpansionError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            ch = src[self._pos]
            if ch == '"':
                self._pos += 1
                if self.raw_quotes:
                    result.add('"')
                return result.done()
            if ch == "$":
                result.extend(self._dollar())
                continue
            if ch == self.escape:
                self._pos += 1
                if self._raw:
                    result.add(ch)  # and once more below when it escapes nothing, as Go does
                if self._pos >= n:
                    continue  # the end-of-word error follows
                if src[self._pos] in ('"', "$", self.escape):
                    ch = src[self._pos]
                    self._pos += 1
                result.add(ch)
                continue
            run = plain.match(src, self._pos)
            text = run.group() if run else ch
            self._pos += len(text)
            result.add(text)

    def _name(self) -> str:
        """processName: a run of letters, digits and `_`, a run of digits, or one of `@*#?-$!`."""
        src, n, start = self._src, len(self._src), self._pos
        if start < n and src[start].isdecimal():
            while self._pos < n and src[self._pos].isdecimal():
                self._pos += 1
        elif start < n and src[start] in "@*#?-$!":
            self._pos += 1
        else:
            while self._pos < n and (
                src[self._pos].isalpha() or src[self._pos].isdecimal() or src[self._pos] == "_"
            ):
                self._pos += 1
        return src[start : self._pos]

    def _dollar(self) -> Expansion:
        """processDollar, with set/unset/unknown values instead of plain strings."""
        self._depth += 1
        if self._depth > MAX_NESTING:
            raise ExpansionError("variables are nested too deeply")
        try:
            return self._dollar_form()
        finally:
            self._depth -= 1

    def _dollar_form(self) -> Expansion:
        src, n = self._src, len(self._src)
        self._pos += 1
        if self._pos >= n or src[self._pos] != "{":
            name = self._name()
            if not name:
                return _value("$")
            return self._plain_value(name, "$" + name)
        self._pos += 1
        if self._pos >= n:
            raise ExpansionError("syntax error: missing '}'")
        if src[self._pos] in "{}:":
            raise ExpansionError("syntax error: bad substitution")
        name = self._name()
        if self._pos >= n:
            raise ExpansionError("syntax error: missing '}'")
        modifier = src[self._pos]
        self._pos += 1
        if modifier == "}":
            return self._plain_value(name, "${" + name + "}")
        if modifier == "/":
            return self._replace(name)
        null_is_unset = modifier == ":"
        if null_is_unset:
            if self._pos >= n:
                raise ExpansionError("syntax error: missing '}'")
            modifier += src[self._pos]
            self._pos += 1
        op = modifier[-1]
        # Only after a `:` does BuildKit read the word before it finds the modifier unknown.
        if (null_is_unset and op in "#%") or (not null_is_unset and op not in "-+?#%"):
            raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")
        word = self._closed("}", op in "#%", "syntax error: missing '}'")
        value = self.env(name)
        if isinstance(value, Unset) and self.skip_unset:
            return _value("${" + name + modifier + word.text + "}")
        if op not in "-+?#%":
            raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")
        if isinstance(value, Unknown):
            return _unknown(value.reason)
        empty = isinstance(value, Unset) or (null_is_unset and value == "")
        if op == "-":
            return word if empty else self._insert(str(value), name)
        if op == "+":
            return _value("") if empty else word
        if isinstance(value, Unset):
            return _unknown(value.reason)
        if op == "?":
            if empty:
                raise ExpansionError(f"{name}: {word.text or 'is not allowed to be empty'}")
            return self._insert(value, name)
        if word.unknown is not None:
            return word
        from basepin.extract.dockerfile.patterns import PatternError, trim  # few files need it

        try:
            return self._insert(trim(value, word.text, op), name)
        except PatternError as err:
            raise ExpansionError(str(err)) from None

    def _closed(self, stop: str, raw_escapes: bool, missing: str) -> Expansion:
        """The text of a ${...} up to `stop`; an error at the end of the word is `missing`."""
        try:
            return self._until(stop, raw_escapes, None)
        except ExpansionError:
            if self._pos >= len(self._src):
                raise ExpansionError(missing) from None
            raise

    def _plain_value(self, name: str, written: str) -> Expansion:
        value = self.env(name)
        if isinstance(value, Unset):
            return _value(written) if self.skip_unset else _unknown(value.reason)
        if isinstance(value, Unknown):
            return _unknown(value.reason)
        return self._insert(value, name)

    def _replace(self, name: str) -> Expansion:
        every = self._pos < len(self._src) and self._src[self._pos] == "/"
        if every:
            self._pos += 1
        pattern = self._closed("/", True, "syntax error: missing '/' in ${}")
        replacement = self._closed("}", True, "syntax error: missing '}'")
        value = self.env(name)
        if isinstance(value, Unset) and self.skip_unset:
            return _value("${" + name + "/" + pattern.text + "/" + replacement.text + "}")
        if isinstance(value, Unset | Unknown):
            return _unknown(value.reason)
        for part in (pattern, replacement):
            if part.unknown is not None:
                return part
        from basepin.extract.dockerfile.patterns import PatternError, replace  # few files need it

        room = MAX_EXPANSION - self._inserted
        try:
            text = replace(value, pattern.text, replacement.text, every=every, limit=room)
        except PatternError as err:
            raise ExpansionError(str(err)) from None
        if text is None:
            raise ExpansionError(f"variables expand to more than {MAX_EXPANSION} characters")
        return self._insert(text, name)


@lru_cache(maxsize=32)
def _plain_run(escape: str, stop: str, split: bool) -> re.Pattern[str]:
    """Text the lexer copies as it is: no `$`, quote, escape, stop character (or, when it
    splits words, blank or `<`)."""
    special = "$'\"" + escape + stop + (GO_SPACE + "<" if split else "")
    return re.compile("[^" + re.escape(special) + "]+")
