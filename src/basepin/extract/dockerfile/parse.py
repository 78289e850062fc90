"""The images a Dockerfile builds from, read the way BuildKit reads them.

`parse_dockerfile` finds every external image a build pulls: FROM operands, COPY --from and
RUN --mount from= sources that name no stage, ONBUILD triggers run by a later stage of the same
file, and the `# syntax=` frontend. FROM operands are expanded with the ARGs declared before the
first FROM (and --build-arg values), following BuildKit's shell lexer; what cannot be known
before the build stays unresolved, with the reason in words.

Here the bytes become text: what is not UTF-8 and what is binary is a problem of its own.

Pure: no I/O, standard library only (an offline check imports this on every run).
"""

from __future__ import annotations

import re

from basepin.extract.dockerfile.instructions import Extractor
from basepin.extract.dockerfile.lines import read_dockerfile
from basepin.model import ParsedDockerfile, Problem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["parse_dockerfile"]

# What `surrogateescape` makes of a byte that is not UTF-8, and a message that holds one
# (`repr` shows it as `\\udcff`).
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_SHOWS_UNDECODABLE = re.compile("[\udc80-\udcff]|\\\\udc[89a-f][0-9a-f]")
# Lines of later such bytes a problem names.
_LATER_LINES = 5


def parse_dockerfile(
    data: bytes, path: str, build_args: Mapping[str, str] | None = None
) -> ParsedDockerfile:
    """Read one Dockerfile; never raises. Problems with the file come back as `problems`.

    Each `ImageUse` keeps the reference as written after ARG substitution (quotes removed, not
    normalised) and the span of its source text: the operand itself, or the ARG default it
    came from (when the value came from --build-arg and that ARG line has no default, the
    span is the ARG's name).
    """
    try:
        text = data.decode("utf-8")
        problems = []
    except UnicodeDecodeError as err:
        text = data.decode("utf-8", "surrogateescape")
        problems = [_not_utf8(data, text, err, path)]
    if b"\0" in data:
        return ParsedDockerfile(path, text, (), _placed(text, [_binary(data, path)]))
    empty = not data
    del data  # the reader's structures are the peak for a large file: not the bytes as well
    extractor = Extractor(path, read_dockerfile(text), dict(build_args or {}))
    uses = extractor.run(empty=empty)
    if problems:
        # A reference or a problem made of bytes that are not UTF-8 is named by the one
        # problem above, which shows them escaped.
        uses = tuple(use for use in uses if not _UNDECODABLE.search(use.reference))
        problems.extend(p for p in extractor.problems if not _SHOWS_UNDECODABLE.search(p.message))
    else:
        problems.extend(extractor.problems)
    problems.sort(key=lambda problem: (problem.line, problem.column))
    return ParsedDockerfile(path, text, uses, _placed(text, problems))


def _placed(text: str, problems: list[Problem]) -> tuple[Problem, ...]:
    """`problems` with their offsets in `text` (past its end where a line is not there)."""
    if not problems:
        return ()
    line_starts = [0]
    newline = text.find("\n")
    while newline >= 0:
        line_starts.append(newline + 1)
        newline = text.find("\n", newline + 1)
    placed = []
    for problem in problems:
        offset = len(text)
        if problem.line <= len(line_starts):
            offset = min(line_starts[problem.line - 1] + problem.column - 1, offset)
        placed.append(problem._replace(offset=offset))
    return tuple(placed)


def _not_utf8(data: bytes, text: str, err: UnicodeDecodeError, path: str) -> Problem:
    """One problem for all the bytes that are not UTF-8: the first run of them, shown escaped
    (`\\xff`) with its byte offset, and the lines of the next few."""
    first = _UNDECODABLE.search(text)
    at = first.start() if first else 0  # the text up to the first such byte is the bytes'
    line = text.count("\n", 0, at) + 1
    column = at - text.rfind("\n", 0, at)
    shown = "".join(f"\\x{byte:02x}" for byte in data[err.start : err.end])
    later: list[int] = []
    position, position_line = at, line
    for match in _UNDECODABLE.finditer(text, at + err.end - err.start):
        position_line += text.count("\n", position, match.start())
        position = match.start()
        if not later or later[-1] != position_line:
            later.append(position_line)
            if len(later) > _LATER_LINES:
                break
    more = ""
    if later:
        more = ", more on line" + ("s " if len(later) > 1 else " ")
        more += ", ".join(map(str, later[:_LATER_LINES]))
        more += " and after" if len(later) > _LATER_LINES else ""
    return Problem(
        path,
        line,
        column,
        f"not valid UTF-8: {'byte' if err.end - err.start == 1 else 'bytes'} {shown} at byte "
        f"offset {err.start} (line {line}, column {column}){more}; "
        "BuildKit reads Dockerfiles as UTF-8",
    )


def _binary(data: bytes, path: str) -> Problem:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Problem(path, 1, 1, "UTF-16 text: BuildKit reads Dockerfiles as UTF-8 only")
    line = data.count(b"\n", 0, data.index(b"\0")) + 1
    return Problem(path, line, 1, f"binary file (NUL byte on line {line}), not a Dockerfile")
