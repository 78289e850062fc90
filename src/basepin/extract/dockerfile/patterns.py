"""The shell patterns of `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}`, `${V/p/r}` and `${V//p/r}`.

BuildKit (frontend/dockerfile/shell/lex.go: convertShellPatternToRegex, trimPrefix,
trimSuffix) turns a pattern into a Go regular expression: `*` is `.*` (`.*?` for the shortest
trims), `?` is `.`, `\\` escapes `*`, `?` and `\\` (and is dropped before `}` and `/`), every
other character stands for itself, and a leading U+FEFF is skipped (text/scanner drops a
byte order mark). Go's `.` takes any character but a newline, and its matches are leftmost-first
(the one a backtracking matcher finds first). `%` and `%%` reverse both the value and the
pattern and trim a prefix. Replacing with a pattern is in `replace`.

A backtracking regex engine takes time that grows as the value's length to the power of the
number of stars (`*a*a*a*a*b` on a kilobyte runs for hours), so the matches are computed here
without one. A pattern is a run of fixed-length segments (literal
characters and `?`) between stars. Since a star cannot cross a newline, a match places each
segment within the line the previous one ended in, and the leftmost placement of a segment
leaves every later choice open. So:
- the leftmost-first match from a position places every segment at its leftmost occurrence,
  the last one at its rightmost (greedy stars) or leftmost (lazy stars) occurrence;
- when the segments after the first star cannot be placed from a position, they cannot be
  placed from any later position on that line, so a search moves on to the next line.
A segment is found with `str.find`, or, when it has `?`s, with a regular expression of fixed
length (which cannot backtrack), so matching takes a few passes over the value. Work is
counted, and a pattern that needs more than MAX_MATCH_STEPS (only contrived ones do) is
refused rather than left to run.
"""

from __future__ import annotations

import re
from functools import lru_cache

from basepin.records import NamedTuple

# Work allowed for one pattern operation, about half a second of it: a step is one segment
# looked for (some microseconds of Python), or _COMPARES_PER_STEP characters a regular
# expression may compare (a few nanoseconds each).
MAX_MATCH_STEPS = 1 << 18
_COMPARES_PER_STEP = 512
# Compiled expressions of segments with `?`s, the oldest dropped first.
_REGEXES: dict[str, re.Pattern[str]] = {}


class PatternError(ValueError):
    """A pattern BuildKit rejects, or one too costly to match; the message says which."""


class Segment(NamedTuple):
    """A fixed-length part of a pattern: literal characters and `?`s, no star."""

    length: int
    # The whole segment when it has no `?`.
    text: str | None
    # Otherwise, regular expressions of the segment and of the segment reversed.
    forward: str = ""
    backward: str = ""
    # The longest run of literal characters (offset, text): any occurrence holds it there.
    needle: tuple[int, str] = (0, "")


class ShellPattern(NamedTuple):
    """segments[0] * segments[1] * ... * segments[-1]; middle segments are never empty."""

    segments: tuple[Segment, ...]
    # No segment holds a newline: a match lies within one line.
    one_line: bool

    @property
    def stars(self) -> int:
        return len(self.segments) - 1


def _segment(items: tuple[str | None, ...]) -> Segment:
    """A segment of literal characters and None for each `?`."""
    if None not in items:
        return _literal("".join(item for item in items if item is not None))
    regex = ["[^\n]" if item is None else re.escape(item) for item in items]
    needle: tuple[int, str] = (0, "")
    run: list[str] = []
    for at, item in enumerate((*items, None)):
        if item is not None:
            run.append(item)
            continue
        if len(run) > len(needle[1]):
            needle = (at - len(run), "".join(run))
        run = []
    return Segment(len(items), None, "".join(regex), "".join(reversed(regex)), needle)


def _literal(text: str) -> Segment:
    return Segment(len(text), text, needle=(0, text))


# Runs of literal characters, runs of stars, `?`, and `\` with what follows it.
_TOKENS = re.compile(r"[^*?\\]+|\*+|\?|\\(.?)", re.DOTALL)


@lru_cache(maxsize=16)
def compile_pattern(pattern: str, shown: str | None = None) -> ShellPattern:
    """convertShellPatternToRegex, as segments; `shown` is the pattern for error messages."""
    shown = pattern if shown is None else shown
    if pattern.startswith("\ufeff"):
        pattern = pattern[1:]
    if "?" not in pattern and "\\" not in pattern:  # literal text and stars: most patterns
        texts = pattern.split("*")
        if len(texts) > 2:  # a run of stars is one star
            texts = [texts[0], *(text for text in texts[1:-1] if text), texts[-1]]
        known: dict[str, Segment] = {}
        return ShellPattern(
            tuple(known.get(t) or known.setdefault(t, _literal(t)) for t in texts),
            "\n" not in pattern,
        )
    chunks: list[tuple[str | None, ...]] = []
    items: list[str | None] = []
    for token in _TOKENS.finditer(pattern):
        text = token.group()
        if text[0] == "*":
            chunks.append(tuple(items))
            items = []
        elif text == "?":
            items.append(None)
        elif text[0] == "\\":
            # `\}` and `\/` only escape the ${} syntax, but the character is plain all the same.
            escaped = token.group(1)
            if not escaped or escaped not in "*?\\}/":
                raise PatternError(
                    f"invalid pattern ({shown}) in substitution: "
                    f"invalid escape '\\{escaped or chr(0xFFFD)}'"
                )
            items.append(escaped)
        else:
            items.extend(text)
    chunks.append(tuple(items))
    segments: dict[tuple[str | None, ...], Segment] = {}
    return ShellPattern(
        tuple(segments.get(c) or segments.setdefault(c, _segment(c)) for c in chunks),
        "\n" not in pattern,
    )


_ESCAPED_OR_NOT = re.compile(r"\\.|.", re.DOTALL)


def reverse_pattern(pattern: str) -> str:
    """reversePattern: the pattern backwards, each `\\x` escape kept in order."""
    if "\\" not in pattern:
        return pattern[::-1]
    return "".join(reversed(_ESCAPED_OR_NOT.findall(pattern)))


class Matcher:
    """Finds a pattern's segments in one value, counting the work done."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.lines = "\n" in text
        self.steps = 0
        self._reversed: str | None = None

    def charge(self, steps: int) -> None:
        self.steps += steps
        if self.steps > MAX_MATCH_STEPS:
            raise PatternError(f"matching takes more than {MAX_MATCH_STEPS} steps")

    def line_end(self, pos: int) -> int:
        """Where a star starting at `pos` must stop: the next newline, or the end."""
        end = self.text.find("\n", pos) if self.lines else -1
        return self.n if end < 0 else end

    def regex(self, segment: Segment, *, backward: bool) -> re.Pattern[str]:
        """The compiled expression of a segment with `?`s; a compile counts as work."""
        source = segment.backward if backward else segment.forward
        regex = _REGEXES.get(source)
        if regex is None:
            self.charge(16 + len(source) // 8)  # tens of microseconds
            if len(_REGEXES) >= 64:
                del _REGEXES[next(iter(_REGEXES))]
            regex = _REGEXES[source] = re.compile(source)
        return regex

    def charge_scan(self, segment: Segment, low: int, high: int) -> None:
        """A regular expression may compare the whole segment at every start it tries."""
        self.charge((high - low + 1) * segment.length // _COMPARES_PER_STEP)

    def first(self, segment: Segment, low: int, high: int) -> int:
        """The leftmost start in [low, high] of an occurrence of `segment`, or -1."""
        length = segment.length
        high = min(high, self.n - length)
        self.charge(1)
        if low > high:
            return -1
        if segment.text is not None:
            return self.text.find(segment.text, low, high + length) if length else low
        found = self.regex(segment, backward=False).search(self.text, low, high + length)
        if found is None:
            self.charge_scan(segment, low, high)
            return -1
        self.charge_scan(segment, low, found.start())
        return found.start()

    def last(self, segment: Segment, low: int, high: int) -> int:
        """The rightmost start in [low, high] of an occurrence of `segment`, or -1."""
        length = segment.length
        high = min(high, self.n - length)
        self.charge(1)
        if low > high:
            return -1
        if segment.text is not None:
            return self.text.rfind(segment.text, low, high + length) if length else high
        # Searched in the reversed text, where the rightmost occurrence is the leftmost.
        if self._reversed is None:
            self._reversed = self.text[::-1]
        n = self.n
        regex = self.regex(segment, backward=True)
        found = regex.search(self._reversed, n - high - length, n - low)
        if found is None:
            self.charge_scan(segment, low, high)
            return -1
        start = n - found.end()
        self.charge_scan(segment, start, high)
        return start

    def rest(self, pattern: ShellPattern, pos: int, *, greedy: bool) -> int:
        """Where a match ends whose first segment ended at `pos` (stars follow it), or -1."""
        segments = pattern.segments
        find = self.text.find
        reach = self.line_end(pos)
        placed = 0
        for segment in segments[1:-1]:
            placed += 1
            if segment.text is not None:  # the usual literal text: one find, inline
                found = find(segment.text, pos, reach + segment.length)
            else:
                found = self.first(segment, pos, reach)
            if found < 0:
                self.charge(placed)
                return -1
            pos = found + segment.length
            if pos > reach:  # the segment holds a newline: the next star starts a new line
                reach = self.line_end(pos)
        self.charge(placed)
        last = segments[-1]
        if not greedy:
            found = self.first(last, pos, reach)
        elif not last.length:
            return reach
        else:
            found = self.last(last, pos, reach)
        return found + last.length if found >= 0 else -1

    def prefix(self, pattern: ShellPattern, *, greedy: bool) -> int:
        """The end of the match at the start of the text, or -1."""
        head = pattern.segments[0]
        if self.first(head, 0, 0) < 0:
            return -1
        if not pattern.stars:
            return head.length
        return self.rest(pattern, head.length, greedy=greedy)

    def _skip_to(self, segment: Segment, pos: int) -> int:
        """The start of the first line from `pos` on where `segment` may start (its longest
        literal run is there), `pos` itself if that is on its line, past the end if none."""
        offset, needle = segment.needle
        if not needle:
            return pos
        self.charge(1)
        found = self.text.find(needle, pos + offset)
        if found < 0:
            return self.n + 1
        return max(pos, self.text.rfind("\n", pos, found - offset) + 1)

    def search(self, pattern: ShellPattern, pos: int, stop: int) -> tuple[int, int] | None:
        """The leftmost-first match starting in [pos, stop] (stars greedy), if any."""
        segments = pattern.segments
        head, tail = segments[0], segments[-1]
        while pos <= stop:
            self.charge(2)
            if pattern.stars and pattern.one_line:
                # A match holds the last segment on the line it starts: lines without it are
                # skipped in one find.
                pos = self._skip_to(tail, pos)
                if pos > stop:
                    return None
            if head.length:
                start = self.first(head, pos, stop)
                if start < 0:
                    return None
            elif pattern.stars:
                # A match starts on the line where the segment after the star starts.
                start = self._skip_to(segments[1], pos)
                if start > stop:
                    return None
            else:
                start = pos
            head_end = start + head.length
            if not pattern.stars:
                return start, head_end
            end = self.rest(pattern, head_end, greedy=True)
            if end >= 0:
                return start, end
            # Every start whose first segment ends on the same line fails the same way.
            line_end = self.line_end(head_end)
            if line_end >= self.n:
                return None
            pos = max(start + 1, line_end + 1 - head.length)
        return None


def trim(value: str, pattern: str, op: str) -> str:
    """`${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}` (`pattern` still has the doubled `#`/`%`)."""
    longest = pattern.startswith(op)
    if longest:
        pattern = pattern[1:]
    if op == "#":
        end = Matcher(value).prefix(compile_pattern(pattern), greedy=longest)
        return value[end:] if end >= 0 else value
    # The shortest suffix is the shortest prefix of the reversed text.
    shape = compile_pattern(reverse_pattern(pattern), pattern)
    end = Matcher(value[::-1]).prefix(shape, greedy=longest)
    return value[: len(value) - end] if end >= 0 else value
