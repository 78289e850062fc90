"""BuildKit's shell lexer (frontend/dockerfile/shell/lex.go) for one word or line: quotes,
escapes and the `$VAR` / `${VAR...}` forms expanded, or a line split into shell words.

Only the standard library is used: `basepin check --offline` imports this on every run.
"""

from __future__ import annotations

import re
from functools import lru_cache

from basepin.extract.dockerfile.commands import GO_SPACE, GO_SPACE_SET
from basepin.extract.dockerfile.expansion import (
    Expansion,
    ExpansionBuilder,
    ExpansionError,
    Unknown,
    Unset,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from basepin.extract.dockerfile.expansion import EnvValue

    Env = Callable[[str], EnvValue]

# The most text variables may put into one word: ARG defaults can double in length at every
# line (ARG B=$A$A), and a file must never make basepin run out of memory.
MAX_EXPANSION = 1 << 16
# text/scanner skips a byte order mark at the start of each word BuildKit's lexer reads.
BOM = "\ufeff"
# Deepest nesting of ${...} inside ${...} followed before giving up.
MAX_NESTING = 64


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
        if ch not in GO_SPACE_SET:
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
        result = ExpansionBuilder()
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
        result = ExpansionBuilder()
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
        # Few files need these.
        from basepin.extract.dockerfile.patterns import PatternError
        from basepin.extract.dockerfile.replace import replace

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
