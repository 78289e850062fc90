"""One file being read for the images it names: its text, where things are, what it says.

Shared by the extractors of every kind of file but Dockerfiles: decoding (UTF-8, a BOM kept
as the file has it), offsets to lines and columns, the `basepin: ignore[...]` comments above a
line, and the `ImageUse`s and `Problem`s gathered into a `ParsedDockerfile`, the record the
rest of the pipeline reads whatever the kind of file.

Pure: no I/O, standard library only.
"""

from __future__ import annotations

import sys
from bisect import bisect_right

from basepin.extract.ignores import NONE_IGNORED, read_ignore
from basepin.model import ImageUse, ParsedDockerfile, Problem, Span
from basepin.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from basepin.model import UseKind


def decode(data: bytes | str) -> tuple[str, int | None]:
    """The text of a file and, when its bytes are not UTF-8, the offset in the text where
    they stop being so (the text then holds them as surrogate escapes, as `fix` reads it)."""
    if isinstance(data, str):
        return data, None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as err:
        text = data.decode("utf-8", "surrogateescape")
        return text, len(data[: err.start].decode("utf-8", "surrogateescape"))


class Lines:
    """Offsets in a text to 1-based lines and columns (lines end at "\\n", as the Dockerfile
    reader and editors count them; columns count characters)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None

    @property
    def starts(self) -> list[int]:
        """Where each line starts; counted when first asked (most files name no image)."""
        if self._starts is None:
            text = self.text
            starts = [0]
            newline = text.find("\n")
            while newline >= 0:
                starts.append(newline + 1)
                newline = text.find("\n", newline + 1)
            self._starts = starts
        return self._starts

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def span(self, start: int, end: int) -> Span:
        line, column = self.position(start)
        end_line, end_column = self.position(end)
        return Span(line, column, end_line, end_column, start, end)

    def line_text(self, line: int) -> str:
        """Line `line` (1-based) without its line break."""
        start = self.starts[line - 1]
        end = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        return self.text[start:end].rstrip("\r")


class Place(NamedTuple):
    """Where a reference's text is written: a run of some file's text."""

    path: str
    span: Span
    source: str  # the text at `span`


class FileUses:
    """The uses and problems of one file, gathered as its extractor finds them.

    `comment` is how a comment line starts in this kind of file; `in_data` tells whether an
    offset lies inside a value (a YAML block scalar holds lines that only look like comments).
    """

    def __init__(
        self,
        path: str,
        text: str,
        *,
        comment: str = "#",
        in_data: Callable[[int], bool] | None = None,
    ) -> None:
        self.path = path
        self.text = text
        self.lines = Lines(text)
        self.comment = comment
        self.in_data = in_data
        self.uses: list[ImageUse] = []
        self.problems: list[Problem] = []
        self.notes: list[Problem] = []
        self._ignores: dict[int, frozenset[str]] = {}

    def place(self, start: int, end: int) -> Place:
        return Place(self.path, self.lines.span(start, end), self.text[start:end])

    def problem(self, offset: int, message: str) -> None:
        line, column = self.lines.position(offset)
        self.problems.append(Problem(self.path, line, column, message, offset))

    def problem_in(self, path: str, lines: Lines, offset: int, message: str) -> None:
        """A problem in another file this one reads (a Compose file's `.env`)."""
        line, column = lines.position(offset)
        self.problems.append(Problem(path, line, column, message, offset))

    def note(self, offset: int, message: str) -> None:
        line, column = self.lines.position(offset)
        self.notes.append(Problem(self.path, line, column, message, offset))

    def add(
        self,
        kind: UseKind,
        reference: str,
        place: Place,
        line: int,
        *,
        stage: str | None = None,
        unresolved: str | None = None,
        note: str | None = None,
        via: str | None = None,
        platform: str | None = None,
    ) -> None:
        """One use, named on `line` of this file (where its inline ignores are looked for).

        `note` says, for a resolved use, why no fix may rewrite its text; it shares the field
        that says why an unresolved use is so.
        """
        self.uses.append(
            ImageUse(
                path=place.path,
                kind=kind,
                reference=sys.intern(reference),
                resolved=unresolved is None,
                span=place.span,
                instruction_line=line,
                via_arg=via,
                stage=stage,
                platform=platform,
                unresolved_reason=unresolved or note,
                ignored_rules=self.ignored(line),
                source=place.source,
            )
        )

    def ignored(self, line: int) -> frozenset[str]:
        """The rules `basepin: ignore[...]` silences in the comment lines right above `line`."""
        if line in self._ignores:
            return self._ignores[line]
        rules: set[str] = set()
        above = line - 1
        while above >= 1:
            content = self.lines.line_text(above).lstrip(" \t")
            if not content.startswith(self.comment):
                break
            start = self.lines.starts[above - 1] + self.lines.line_text(above).index(content)
            if self.in_data is not None and self.in_data(start):
                break
            rules |= self._comment_rules(above, content[len(self.comment) :])
            above -= 1
        found = frozenset(rules) if rules else NONE_IGNORED
        self._ignores[line] = found
        return found

    def _comment_rules(self, line: int, comment: str) -> frozenset[str]:
        named, complaint = read_ignore(comment)
        if complaint is not None:
            self.problems.append(
                Problem(self.path, line, 1, complaint, self.lines.starts[line - 1])
            )
        return named

    def result(self) -> ParsedDockerfile:
        self.problems.sort(key=lambda problem: (problem.path != self.path, problem.offset))
        # In the order the file names them (a value from `.env` where its `image:` stands).
        self.uses.sort(key=lambda use: use.instruction_line)
        return ParsedDockerfile(
            self.path, self.text, tuple(self.uses), tuple(self.problems), tuple(self.notes)
        )


def open_file(data: bytes | str, path: str, *, comment: str = "#") -> tuple[FileUses, bool]:
    """A `FileUses` for the file and whether its text can be read at all (it is UTF-8)."""
    text, bad = decode(data)
    uses = FileUses(path, text, comment=comment)
    if bad is not None:
        byte = text[bad].encode("utf-8", "surrogateescape")[0]
        line, column = uses.lines.position(bad)
        uses.problem(bad, f"not valid UTF-8: byte 0x{byte:02x} at line {line}, column {column}")
    return uses, bad is None
