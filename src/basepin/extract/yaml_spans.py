"""YAML read with exact positions, for the kinds of file written in YAML.

PyYAML's parser (libyaml's C parser where PyYAML was built with it) turns the text into
events that carry marks; `index` is an offset into the decoded text counted in code points,
so `text[start:end]` is what the file says. The tree is built here from those events rather
than with PyYAML's composer: it is iterative (PyYAML's C composer recurses in C, and only
some libyaml builds cap nesting), it stops at `MAX_DEPTH`, it keeps nothing but values,
styles and offsets, and it is faster. Nothing is constructed from tags, and an alias is the
very node its anchor names, so a billion-laughs file stays as small as its text; every walk
over the tree visits a node once.

YAML is never written back: a fix replaces the characters of one scalar, which `written`
finds in the text, and every other byte stays. libyaml does not count a leading BOM in its
marks, so the BOM is cut before parsing and its length added back to every offset.

PyYAML is imported when the first YAML file is read (an offline check of Dockerfiles alone
never pays for it).
"""

from __future__ import annotations

from bisect import bisect_right

from basepin.extract.source import FileUses, Place, open_file
from basepin.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

MAX_DEPTH = 512  # nesting levels (libyaml's own cap, where it has one, is 1000)
NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class Scalar:
    __slots__ = ("end", "start", "style", "tag", "value")

    def __init__(self, value: str, style: str | None, tag: str | None, start: int, end: int):
        self.value = value
        self.style = style or None  # None: plain; else one of ' " | >
        self.tag = tag
        self.start = start  # where the node starts, its anchor or tag included
        self.end = end

    @property
    def is_null(self) -> bool:
        if self.tag is not None:
            return self.tag == _NULL_TAG
        return self.style is None and self.value in NULLS


class Mapping:
    __slots__ = ("_index", "end", "pairs", "start", "tag")

    def __init__(self, tag: str | None, start: int) -> None:
        self.tag = tag
        self.start = start
        self.end = start
        self.pairs: list[tuple[Node, Node]] = []
        self._index: tuple[dict[str, tuple[Scalar, Node]], list[Mapping]] | None = None

    def index(self) -> tuple[dict[str, tuple[Scalar, Node]], list[Mapping]]:
        """Its own entries by key (the last written wins) and the mappings `<<` merges into
        it, in the order they take precedence; built once, however many mappings merge it."""
        if self._index is None:
            own: dict[str, tuple[Scalar, Node]] = {}
            merged: list[Mapping] = []
            for key, value in self.pairs:
                if _is_merge(key):
                    sources = value.items if isinstance(value, Sequence) else [value]
                    merged.extend(source for source in sources if isinstance(source, Mapping))
                elif isinstance(key, Scalar):
                    own[key.value] = (key, value)
            self._index = (own, merged)
        return self._index


class Sequence:
    __slots__ = ("end", "items", "start", "tag")

    def __init__(self, tag: str | None, start: int) -> None:
        self.tag = tag
        self.start = start
        self.end = start
        self.items: list[Node] = []


Node = Scalar | Mapping | Sequence


class YamlError(NamedTuple):
    offset: int
    message: str


class YamlFile:
    """The documents of one YAML text, as far as the text is valid YAML."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.documents: list[Node | None] = []
        self.error: YamlError | None = None
        # Scalars that cross lines in quotes or as block scalars: their lines are data, even
        # where they look like comments.
        self._multiline: list[tuple[int, int]] = []
        self._read()

    # --- reading -----------------------------------------------------------------------------

    def _read(self) -> None:
        import yaml

        base = 1 if self.text.startswith("\ufeff") else 0
        loader_class = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
        loader = None
        try:
            loader = loader_class(self.text[base:])  # the pure-Python reader checks it here
            self._build(loader.get_event, base)
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            offset = base + (mark.index if mark is not None else 0)
            what = err.problem or "not valid YAML"
            context = f" {err.context}" if err.context else ""
            self.error = YamlError(offset, f"not valid YAML: {what}{context}")
        except yaml.reader.ReaderError as err:
            self.error = self._reader_error(err, base, loader_class is not yaml.SafeLoader)
        except _TooDeep as err:
            self.error = YamlError(err.offset, f"not read: nested deeper than {MAX_DEPTH} levels")
        except _UnknownAlias as err:
            message = f"not valid YAML: found undefined alias {err.name!r}"
            self.error = YamlError(err.offset, message)
        finally:
            if loader is not None:
                loader.dispose()

    def _reader_error(self, err: Any, base: int, in_bytes: bool) -> YamlError:
        """A character YAML does not allow; libyaml counts its position in UTF-8 bytes."""
        position = int(err.position)
        if in_bytes:
            position = len(self.text[base:].encode("utf-8")[:position].decode("utf-8", "ignore"))
        character = err.character
        code = character if isinstance(character, int) else ord(character)
        return YamlError(
            base + position, f"not valid YAML: unacceptable character #x{code:04x}: {err.reason}"
        )

    def _build(self, next_event: Callable[[], object], base: int) -> None:
        from yaml import (
            AliasEvent,
            DocumentEndEvent,
            DocumentStartEvent,
            MappingStartEvent,
            ScalarEvent,
            SequenceStartEvent,
            StreamEndEvent,
        )

        text = self.text
        multiline = self._multiline
        anchors: dict[str, Node] = {}
        # Open collections, each with its pending mapping key (None: the next node is a key).
        stack: list[tuple[Mapping | Sequence, list[Node]]] = []
        while True:
            event = next_event()
            kind = event.__class__
            node: Node
            if kind is ScalarEvent:
                start = base + event.start_mark.index  # type: ignore[attr-defined]
                end = base + event.end_mark.index  # type: ignore[attr-defined]
                style = event.style  # type: ignore[attr-defined]
                tag = event.tag  # type: ignore[attr-defined]
                node = Scalar(event.value, style, tag, start, end)  # type: ignore[attr-defined]
                if style and style in "|>\"'" and text.find("\n", start, end) >= 0:
                    multiline.append((start, end))
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if len(stack) >= MAX_DEPTH:
                    raise _TooDeep(base + event.start_mark.index)  # type: ignore[attr-defined]
                start = base + event.start_mark.index  # type: ignore[attr-defined]
                tag = event.tag  # type: ignore[attr-defined]
                opened: Mapping | Sequence = (
                    Mapping(tag, start) if kind is MappingStartEvent else Sequence(tag, start)
                )
                if event.anchor is not None:  # type: ignore[attr-defined]
                    anchors[event.anchor] = opened  # type: ignore[attr-defined]
                stack.append((opened, []))
                continue
            elif kind is AliasEvent:
                name = event.anchor  # type: ignore[attr-defined]
                if name not in anchors:
                    offset = base + event.start_mark.index  # type: ignore[attr-defined]
                    raise _UnknownAlias(offset, name)
                node = anchors[name]
            elif kind is DocumentStartEvent:
                anchors = {}
                continue
            elif kind is StreamEndEvent:
                return
            elif kind is DocumentEndEvent:
                continue
            elif stack:  # the end of a mapping or a sequence
                closed, _ = stack.pop()
                closed.end = base + event.end_mark.index  # type: ignore[attr-defined]
                node = closed
            else:  # the stream's start
                continue
            if kind is ScalarEvent and event.anchor is not None:  # type: ignore[attr-defined]
                anchors[event.anchor] = node  # type: ignore[attr-defined]
            if not stack:
                self.documents.append(node)
                continue
            parent, pending = stack[-1]
            if isinstance(parent, Sequence):
                parent.items.append(node)
            elif pending:
                parent.pairs.append((pending.pop(), node))
            else:
                pending.append(node)

    # --- where values are written ------------------------------------------------------------

    def in_data(self, offset: int) -> bool:
        """Whether `offset` lies inside a multi-line quoted or block scalar."""
        spans = self._multiline
        at = bisect_right(spans, (offset, len(self.text) + 1)) - 1
        return at >= 0 and spans[at][0] <= offset < spans[at][1]

    def written(self, scalar: Scalar) -> tuple[int, int] | None:
        """The run of text that is the scalar's value character for character, or None when
        the value is written otherwise (escapes, quotes doubled, folded across lines)."""
        text, value, end = self.text, scalar.value, scalar.end
        if scalar.style is None:
            start = end - len(value)
            fits = start >= scalar.start and text[start:end] == value
            return (start, end) if fits and value else None
        if scalar.style in "'\"":
            start = end - 1 - len(value)
            fits = start > scalar.start and text[start - 1] == scalar.style
            return (start, end - 1) if fits and text[start : end - 1] == value else None
        return self._block_line(scalar)

    def _block_line(self, scalar: Scalar) -> tuple[int, int] | None:
        """A block scalar (`|`, `>`) of one line: that line's text after its indentation."""
        content = scalar.value[:-1] if scalar.value.endswith("\n") else scalar.value
        if not content or "\n" in content:
            return None
        text = self.text
        header_end = text.find("\n", scalar.start, scalar.end)
        if header_end < 0:
            return None
        line_start = header_end + 1
        while line_start < scalar.end:
            line_end = text.find("\n", line_start, scalar.end)
            line_end = scalar.end if line_end < 0 else line_end
            line = text[line_start:line_end].removesuffix("\r")
            if line.strip(" "):
                start = line_start + len(line) - len(content)
                fits = line.endswith(content) and not line[: len(line) - len(content)].strip(" ")
                return (start, start + len(content)) if fits else None
            line_start = line_end + 1
        return None


class _TooDeep(Exception):
    def __init__(self, offset: int) -> None:
        self.offset = offset


class _UnknownAlias(Exception):
    def __init__(self, offset: int, name: str) -> None:
        self.offset = offset
        self.name = name


# --- reading the tree --------------------------------------------------------------------------


def string(node: Node | None) -> Scalar | None:
    """The node when it is a scalar that is not null."""
    return node if isinstance(node, Scalar) and not node.is_null else None


def _is_merge(key: Node) -> bool:
    if not isinstance(key, Scalar):
        return False
    if key.value == "<<":
        return (key.tag is None and key.style is None) or key.tag == _MERGE_TAG
    return key.tag == _MERGE_TAG


def pairs(mapping: Mapping) -> Iterator[tuple[Scalar, Node]]:
    """The entries of a mapping whose keys are scalars, then those `<<` merges into it that it
    does not have itself (the first merged mapping to hold a key wins, as YAML's merge key
    says). A key written twice comes twice: tools that read these files reject it."""
    own, merged = mapping.index()
    for key, value in mapping.pairs:
        if isinstance(key, Scalar) and not _is_merge(key):
            yield key, value
    if not merged:
        return
    given = set(own)
    for source in _merged(mapping):
        for name, entry in source.index()[0].items():
            if name not in given:
                given.add(name)
                yield entry


def _merged(mapping: Mapping) -> Iterator[Mapping]:
    """The mappings merged into `mapping`, nearest first, each once (merges may nest, and an
    alias may even merge a mapping into itself)."""
    seen = {id(mapping)}
    todo = list(reversed(mapping.index()[1]))
    while todo:
        source = todo.pop()
        if id(source) in seen:
            continue
        seen.add(id(source))
        yield source
        todo.extend(reversed(source.index()[1]))


def get(mapping: Node | None, name: str) -> tuple[Scalar, Node] | None:
    """The entry `name` of a mapping (the last one written; else one merged in), if any."""
    if not isinstance(mapping, Mapping):
        return None
    own, merged = mapping.index()
    if name in own or not merged:
        return own.get(name)
    for source in _merged(mapping):
        found = source.index()[0].get(name)
        if found is not None:
            return found
    return None


def duplicates(mapping: Mapping, name: str) -> list[Scalar]:
    """The keys `name` written in the mapping itself after its first one."""
    keys = [key for key, _ in mapping.pairs if isinstance(key, Scalar) and key.value == name]
    return keys[1:]


def text_of(mapping: Node | None, name: str) -> str | None:
    """The value of the entry `name` of a mapping when it is a string."""
    entry = get(mapping, name)
    scalar = string(entry[1]) if entry is not None else None
    return scalar.value if scalar is not None else None


# --- one YAML file being read for its images ---------------------------------------------------

# Why a scalar whose text is not its value character for character is not read.
NOT_PLAIN = (
    "written with escapes, doubled quotes or across lines, which basepin does not rewrite: "
    "write the reference as plain text"
)


def open_yaml(
    data: bytes | str, path: str, needles: tuple[str, ...]
) -> tuple[FileUses, YamlFile | None]:
    """The file's uses so far and its YAML, or None when it cannot name an image: its text is
    not UTF-8, or holds none of `needles` (then it is not parsed at all)."""
    uses, readable = open_file(data, path)
    if not readable or not any(needle in uses.text for needle in needles):
        return uses, None
    read = YamlFile(uses.text)
    uses.in_data = read.in_data
    if read.error is not None:
        uses.problem(read.error.offset, read.error.message)
    return uses, read


def scalar_place(
    uses: FileUses, read: YamlFile, scalar: Scalar, skip: int = 0
) -> tuple[Place, bool]:
    """Where a scalar's value (past its first `skip` characters) is written, and whether that
    run of text is the value itself; when it is not, the place is the whole node."""
    written = read.written(scalar)
    if written is None:
        return uses.place(scalar.start, scalar.end), False
    return uses.place(written[0] + skip, written[1]), True


def key_line(uses: FileUses, key: Node) -> int:
    return uses.lines.position(key.start)[0]
