"""From file text to the instructions BuildKit's parser sees.

Mirrors moby/buildkit frontend/dockerfile/parser (parser.go Parse, directives.go): parser
directives in the leading comment block, continuation lines joined with no separator, comment
and empty lines inside a continuation dropped, heredoc bodies read as data. Every instruction
keeps where each of its pieces came from, so a value found in it maps back to the file.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate

from basepin.extract.dockerfile.commands import GO_SPACE, SEPARATOR, Command, split_command
from basepin.extract.dockerfile.expansion import Unset
from basepin.extract.dockerfile.words import ShellLexer
from basepin.model import Span
from basepin.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

DIRECTIVE_NAMES = frozenset({"syntax", "escape", "check"})
# parser/directives.go reDirective (Go's \s is [\t\n\f\r ]); the value is trimmed below.
# Patterns used on some files only are compiled on first use (re caches them): every compile
# counts in the start-up of an offline check.
_DIRECTIVE = {
    prefix: re.escape(prefix) + r"[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=(.*)"
    for prefix in ("#", "//")
}
_GO_RE_SPACE = "\t\n\f\r "
# parser.reHeredoc: an optional file descriptor, <<, an optional -, the name.
_HEREDOC = r"[0-9]*<<(-?)([^<]*)\Z"
# Characters the shell lexer gives a meaning to; a line without them (and without `<<` before
# a blank) splits at blanks.
_LEXED = frozenset("'\"$\\")
_SPACED_HEREDOC = ("<< ", "<<\t", "<<\r")
_BLANK_TO_SPACE = str.maketrans(dict.fromkeys(GO_SPACE, " "))
_HEREDOC_COMMANDS = frozenset({"add", "copy", "run"})
_MAY_OPEN_HEREDOC = _HEREDOC_COMMANDS | {"onbuild"}


class LineIndex:
    """Maps offsets in the text to 1-based lines and columns."""

    def __init__(self, lines: list[str]) -> None:
        self.starts = [0, *accumulate(len(line) + 1 for line in lines[:-1])]

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def span(self, start: int, end: int) -> Span:
        line, column = self.position(start)
        end_line, end_column = self.position(end)
        return Span(line, column, end_line, end_column, start, end)


class Instruction(NamedTuple):
    """One instruction, its continuation lines joined as BuildKit joins them.

    A light tuple: a large file holds hundreds of thousands of them.
    """

    text: str
    line: int  # first physical line
    keyword: str  # the command word, lowercased
    # Piece k of `text` starts at chunk_starts[k] and came from file offset chunk_offsets[k].
    chunk_starts: tuple[int, ...]
    chunk_offsets: tuple[int, ...]
    # The `basepin` comments among the comment lines right above, as (line number, text).
    comments: tuple[tuple[int, str], ...]

    def offset(self, index: int) -> int:
        """The file offset of text[index] (or just past the end for index == len(text))."""
        k = bisect_right(self.chunk_starts, index) - 1
        return self.chunk_offsets[k] + index - self.chunk_starts[k]

    def file_range(self, start: int, end: int) -> tuple[int, int]:
        """The file range of text[start:end]; it crosses lines if the text did."""
        first = self.offset(start)
        return (first, self.offset(end - 1) + 1) if end > start else (first, first)


class Directive(NamedTuple):
    value: str
    offset: int  # of the value's first character


class Reading(NamedTuple):
    text: str
    line_index: LineIndex
    instructions: tuple[Instruction, ...]
    escape: str
    # What BuildKit's parser would reject, as (file offset, message).
    issues: tuple[tuple[int, str], ...]


def _match_directive(line: str, prefix: str) -> tuple[str, str, int] | None:
    """Key, value and the value's index in `line`, for a `#key=value` line."""
    if not line.startswith(prefix):
        return None
    match = re.fullmatch(_DIRECTIVE[prefix], line)
    if match is None:
        return None
    rest, at = match.group(2), match.start(2)
    value = rest.lstrip(_GO_RE_SPACE)
    if value:
        return match.group(1).lower(), value.rstrip(_GO_RE_SPACE), at + len(rest) - len(value)
    if not rest:  # `(.+?)` needs one character; with only blanks left it takes the last one
        return None
    return match.group(1).lower(), rest[-1], at + len(rest) - 1


def detect_syntax(text: str) -> Directive | None:
    """parser.DetectSyntax: the frontend image, from `# syntax=` (or `//syntax=`) lines.

    Only the leading run of directive lines counts, read without trimming indentation; a BOM
    and a first `#!` line are skipped. The reference is the value up to the first space.
    """
    start = 1 if text.startswith("\ufeff") else 0
    if text.startswith("#!", start):
        newline = text.find("\n", start)
        if newline < 0:
            return None
        start = newline + 1
    for prefix in _DIRECTIVE:
        offset = start
        while offset <= len(text):
            newline = text.find("\n", offset)
            end = len(text) if newline < 0 else newline
            line = text[offset : end - 1] if text.endswith("\r", offset, end) else text[offset:end]
            found = _match_directive(line, prefix)
            if found is None or found[0] not in DIRECTIVE_NAMES:
                break
            name, value, at = found
            if name == "syntax":
                image = value.split(" ", 1)[0]
                return Directive(image, offset + at) if image else None
            if newline < 0:
                break
            offset = newline + 1
    return None


def _no_value(name: str) -> Unset:
    return Unset(name)


def _heredoc_names(line: str) -> Iterator[tuple[str, bool]]:
    """heredocsFromLine: (name, chomp) of each heredoc an instruction line opens, in order.

    The lexer keeps unset variables as written (`<<$EOF` is named `$EOF`) and the blanks after
    `<<` in its word (`<< EOF` is named `EOF`)."""
    if _LEXED.isdisjoint(line) and not any(marker in line for marker in _SPACED_HEREDOC):
        # Nothing to lex: the words are the runs of non-blanks.
        for word in line.translate(_BLANK_TO_SPACE).split(" "):
            match = re.match(_HEREDOC, word) if "<<" in word else None
            if match is not None and match.group(2):
                yield match.group(2), match.group(1) == "-"
        return
    lexer = ShellLexer("\\", _no_value, raw_quotes=True, raw_escapes=True, skip_unset=True)
    for word in lexer.words(line):
        match = re.match(_HEREDOC, word)
        if match is None or not match.group(2):
            continue
        names = ShellLexer("\\", _no_value, skip_unset=True).words(match.group(2))
        if len(names) == 1:
            yield names[0], match.group(1) == "-"


def _keyword(text: str) -> str:
    """The command word as splitCommand finds it, without splitting the whole instruction."""
    space = text.find(" ", 0, 12)
    if space > 0 and text[:space].isalpha():  # the usual `WORD args`
        return text[:space].lower()
    text = text.lstrip(GO_SPACE)
    gap = SEPARATOR.search(text)
    return (text[: gap.start()] if gap else text.rstrip(GO_SPACE)).lower()


def _may_hold_heredoc(text: str, command: Command) -> bool:
    """Node.canContainHeredoc: ADD, COPY or RUN (also as ONBUILD trigger), not in JSON form."""
    if command.keyword == "onbuild" and command.sub is not None:
        command = command.sub
    if command.keyword not in _HEREDOC_COMMANDS:
        return False
    args = text[command.args_start : command.args_end]
    if not args.startswith("["):
        return True
    import json  # only for this rare form; an offline run should not pay for it up front

    try:
        parsed = json.loads(args)
    except ValueError:
        return True
    return not (isinstance(parsed, list) and all(isinstance(item, str) for item in parsed))


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        self.line_index = LineIndex(self.lines)
        self.escape = "\\"
        self.issues: list[tuple[int, str]] = []
        self.instructions: list[Instruction] = []
        self._directives_open = True
        self._seen_directives: set[str] = set()

    def read(self) -> Reading:
        lines, starts, escape = self.lines, self.line_index.starts, self.escape
        comments: list[tuple[int, str]] = []
        i, count = 0, len(lines)
        while i < count:
            base = starts[i]
            raw = lines[i]
            if i == 0 and raw.startswith("\ufeff"):
                raw, base = raw[1:], base + 1
            content = raw.rstrip("\r")
            body = content if content[:1].isalnum() else content.lstrip(GO_SPACE)
            base += len(content) - len(body)
            if self._directives_open:
                self._directive(body, base)
                escape = self.escape
            i += 1
            if body.startswith("#"):
                if "basepin" in body:
                    comments.append((i, body))
                continue
            # trimContinuationCharacter: a trailing escape (and blanks after it) continues.
            trimmed = body.rstrip(" \t")
            continued = trimmed.endswith(escape)
            if continued:
                body = trimmed[:-1]
            elif not body:
                comments.clear()
                continue
            line = i
            pieces, offsets = [body], [base]
            while continued and i < count:
                content = lines[i].rstrip("\r")
                base = starts[i]
                i += 1
                stripped = content.lstrip(GO_SPACE)
                if not stripped or stripped.startswith("#"):
                    continue  # empty and comment lines inside a continuation are dropped
                trimmed = content.rstrip(" \t")
                continued = trimmed.endswith(escape)
                pieces.append(trimmed[:-1] if continued else content)
                offsets.append(base)
            if continued:
                self.issues.append(
                    (offsets[-1] + len(pieces[-1]), "the file ends inside a line continuation")
                )
            i = self._add(line, pieces, offsets, comments, i)
            comments = []
        return Reading(
            self.text, self.line_index, tuple(self.instructions), escape, tuple(self.issues)
        )

    def _add(
        self,
        line: int,
        pieces: list[str],
        offsets: list[int],
        comments: list[tuple[int, str]],
        i: int,
    ) -> int:
        """Record one instruction; skip the heredoc bodies it opens; return the next line."""
        chunk_starts: tuple[int, ...]
        if len(pieces) == 1:
            text, chunk_starts = pieces[0], (0,)
        else:
            text = "".join(pieces)
            chunk_starts = tuple(accumulate((len(piece) for piece in pieces[:-1]), initial=0))
        keyword = _keyword(text)
        self.instructions.append(
            Instruction(text, line, keyword, chunk_starts, tuple(offsets), tuple(comments))
        )
        if (
            "<<" not in text
            or keyword not in _MAY_OPEN_HEREDOC
            or not _may_hold_heredoc(text, split_command(text, self.escape))
        ):
            return i
        for name, chomp in _heredoc_names(text):
            while i < len(self.lines):
                candidate = self.lines[i].rstrip("\r")
                i += 1
                if (candidate.lstrip("\t") if chomp else candidate) == name:
                    break
            else:
                opener = "<<-" if chomp else "<<"
                self.issues.append(
                    (
                        offsets[0],
                        f"unterminated heredoc {opener}{name} opened on line {line}: "
                        f"no line after it reads exactly {name!r}",
                    )
                )
                break
        return i

    def _directive(self, body: str, offset: int) -> None:
        """DirectiveParser.ParseLine on a left-trimmed line (the parser's view; see also
        detect_syntax, which does not trim)."""
        found = _match_directive(body, "#")
        if found is None or found[0] not in DIRECTIVE_NAMES:
            self._directives_open = False
            return
        name, value, at = found
        if name in self._seen_directives:
            self.issues.append((offset, f"only one {name} parser directive can be used"))
            return
        self._seen_directives.add(name)
        if name != "escape":
            return
        if value in ("\\", "`"):
            self.escape = value
        else:
            self.issues.append(
                (offset + at, f"invalid escape token {value!r}: use ` or \\ (the default)")
            )


def read_dockerfile(text: str) -> Reading:
    """Split the text into instructions the way BuildKit's parser does."""
    return _Reader(text).read()
