"""`${V/p/r}` and `${V//p/r}`: a value with the matches of a shell pattern replaced.

`${V//p/r}` is Go's ReplaceAllString on the pattern's expression (see `patterns`), so `$0` in
`r` is the match (other `$name`s are empty) and an empty match right after a match is not
replaced; `${V/p/r}` puts `r` in as it is. A result longer than the caller's limit is not built.
"""

from __future__ import annotations

from basepin.extract.dockerfile.patterns import Matcher, compile_pattern
from basepin.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

    from basepin.extract.dockerfile.patterns import Segment, ShellPattern


class _Template(NamedTuple):
    """A replacement as Go's Regexp.Expand reads it: text, and None where the match goes."""

    parts: tuple[str | None, ...]

    def constant(self, match: str) -> str:
        return "".join(match if part is None else part for part in self.parts)


def _name_end(text: str, pos: int) -> int:
    """The end of a run of letters, digits (Unicode Nd) and `_` from `pos` (Go's extract)."""
    while pos < len(text) and (text[pos].isalpha() or text[pos].isdecimal() or text[pos] == "_"):
        pos += 1
    return pos


def _template(replacement: str) -> _Template:
    """Regexp.expand: `$$` is `$`, `$0`/`${0}` the match, other `$name`/`${name}` nothing
    (the pattern has no groups); a `$` that starts no name stays."""
    parts: list[str | None] = []
    pos = 0
    while True:
        dollar = replacement.find("$", pos)
        if dollar < 0:
            parts.append(replacement[pos:])
            return _Template(tuple(part for part in parts if part != ""))
        parts.append(replacement[pos:dollar])
        if replacement.startswith("$", dollar + 1):
            parts.append("$")
            pos = dollar + 2
            continue
        brace = replacement.startswith("{", dollar + 1)
        start = dollar + 1 + brace
        end = _name_end(replacement, start)
        if end == start or (brace and not replacement.startswith("}", end)):
            parts.append("$")  # malformed: the `$` is text
            pos = dollar + 1
            continue
        if replacement[start:end] == "0":
            parts.append(None)
        pos = end + brace


def replace(value: str, pattern: str, replacement: str, *, every: bool, limit: int) -> str | None:
    """`${V/p/r}` (`every` False) or `${V//p/r}`; None when the result would pass `limit`."""
    shape = compile_pattern(pattern)
    matcher = Matcher(value)
    if not every:
        # A match that starts past `stop` makes the result too long, as does none at all then.
        stop = len(value) if len(value) <= limit else limit - len(replacement)
        found = _first_match(matcher, shape, stop)
        if found is None:
            return value if len(value) <= limit else None
        start, end = found
        if len(value) - (end - start) + len(replacement) > limit:
            return None
        return value[:start] + replacement + value[end:]
    template = _template(replacement)
    if not shape.stars:
        return _replace_fixed(matcher, shape.segments[0], template, limit)
    return _replace_all(matcher, shape, template, limit)


def _first_match(matcher: Matcher, shape: ShellPattern, stop: int) -> tuple[int, int] | None:
    if not shape.stars and shape.segments[0].text is None:
        regex = _fixed_regex(matcher, shape.segments[0])
        found = regex.search(matcher.text, 0, stop + shape.segments[0].length)
        return found.span() if found else None
    return matcher.search(shape, 0, stop)


def _fixed_regex(matcher: Matcher, segment: Segment) -> re.Pattern[str]:
    """A segment with `?`s as a regular expression, charged for a scan of the whole value."""
    regex = matcher.regex(segment, backward=False)
    matcher.charge_scan(segment, 0, matcher.n)
    return regex


def _replace_fixed(
    matcher: Matcher, segment: Segment, template: _Template, limit: int
) -> str | None:
    """ReplaceAllString for a pattern without stars: its matches never overlap nor are empty
    (but for the empty pattern), so Python's re agrees with Go's on them."""
    value = matcher.text
    if segment.text is not None:  # no `?`: every match is the segment itself
        put = template.constant(segment.text)
        if not segment.length:  # an empty match before and after every character
            if len(value) + (len(value) + 1) * len(put) > limit:
                return None
            return put.join(["", *value, ""])
        count = value.count(segment.text)
        if len(value) + count * (len(put) - segment.length) > limit:
            return None
        return value.replace(segment.text, put)
    regex = _fixed_regex(matcher, segment)
    if None not in template.parts:
        put = template.constant("")
        if len(put) <= segment.length:  # the result is no longer than the value
            result = regex.sub(put.replace("\\", "\\\\"), value)
            return result if len(result) <= limit else None
    # Each match adds at least one character: the limit ends the loop soon enough.
    parts: list[str] = []
    size = position = 0
    for match in regex.finditer(value):
        start, end = match.span()
        put = template.constant(match.group())
        parts += (value[position:start], put)
        size += start - position + len(put)
        if size > limit:
            return None
        position = end
    parts.append(value[position:])
    return "".join(parts) if size + len(value) - position <= limit else None


def _replace_all(
    matcher: Matcher, shape: ShellPattern, template: _Template, limit: int
) -> str | None:
    """Go's Regexp.replaceAll, step by step."""
    value, n = matcher.text, matcher.n
    parts: list[str] = []
    size = last_end = pos = 0
    while pos <= n:
        matcher.charge(2)
        # Unmatched text is copied: a match starting past `stop` makes the result too long.
        found = matcher.search(shape, pos, min(n, last_end + limit - size))
        if found is None:
            break
        start, end = found
        parts.append(value[last_end:start])
        size += start - last_end
        # Not for an empty match right after the previous match.
        if end > last_end or start == 0:
            put = template.constant(value[start:end])
            parts.append(put)
            size += len(put)
        if size > limit:
            return None
        last_end = end
        pos = pos + 1 if end <= pos else end
    parts.append(value[last_end:])
    return "".join(parts) if size + n - last_end <= limit else None
