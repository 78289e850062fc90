"""The images a Dockerfile builds from, read the way BuildKit reads them.

`parse_dockerfile` finds every external image a build pulls: FROM operands, COPY --from and
RUN --mount from= sources that name no stage, ONBUILD triggers run by a later stage of the same
file, and the `# syntax=` frontend. FROM operands are expanded with the ARGs declared before the
first FROM (and --build-arg values), following BuildKit's shell lexer; what cannot be known
before the build stays unresolved, with the reason in words.

Pure: no I/O, standard library only (an offline check imports this on every run).
"""

from __future__ import annotations

import re
import sys
from functools import cached_property

from basepin.extract.dockerfile.commands import (
    Command,
    csv_fields,
    parse_words,
    split_command,
    whitespace_words,
)
from basepin.extract.dockerfile.expansion import (
    EnvValue,
    Expansion,
    ExpansionError,
    Unknown,
    Unset,
)
from basepin.extract.dockerfile.lines import Instruction, Reading, detect_syntax, read_dockerfile
from basepin.extract.dockerfile.words import ShellLexer
from basepin.model import RULE_IDS, ImageUse, ParsedDockerfile, Problem, Span
from basepin.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from basepin.model import UseKind

__all__ = ["parse_dockerfile"]

INSTRUCTIONS = frozenset(
    {
        "add",
        "arg",
        "cmd",
        "copy",
        "entrypoint",
        "env",
        "expose",
        "from",
        "healthcheck",
        "label",
        "maintainer",
        "onbuild",
        "run",
        "shell",
        "stopsignal",
        "user",
        "volume",
        "workdir",
    }
)
# Set by BuildKit for every build (dockerfile2llb defaultArgs), with their linux/amd64 values.
AUTOMATIC_ARGS = {
    "BUILDPLATFORM": "linux/amd64",
    "BUILDOS": "linux",
    "BUILDOSVERSION": "",
    "BUILDARCH": "amd64",
    "BUILDVARIANT": "",
    "TARGETPLATFORM": "linux/amd64",
    "TARGETOS": "linux",
    "TARGETOSVERSION": "",
    "TARGETARCH": "amd64",
    "TARGETVARIANT": "",
    "TARGETSTAGE": "",
}
EMPTY_IMAGE = "scratch"
_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*")
# strconv.Atoi's reach: longer numbers fail there and are looked up as names.
_STAGE_INDEX = re.compile(r"[+-]?[0-9]{1,19}")
_INT64_MAX = (1 << 63) - 1
# Compiled on first use (re caches it): few files have such comments.
_IGNORE = r"#\s*basepin\s*:\s*ignore\b(?:\s*\[([^\]]*)\])?"
_RULES = frozenset(RULE_IDS)
# One empty set for every use without an ignore comment: `frozenset()` makes a new one each
# time (~200 bytes a use).
_NONE_IGNORED: frozenset[str] = frozenset()
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
    extractor = _Extractor(path, read_dockerfile(text), dict(build_args or {}))
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


def _unquote_range(text: str, start: int, end: int) -> tuple[int, int]:
    """The inside of a word that is one quoted string; the word itself otherwise."""
    if end - start >= 2 and text[start] in "'\"" and text[end - 1] == text[start]:
        return start + 1, end - 1
    return start, end


def _variable_in(value: str) -> bool:
    """BuildKit's test for a variable in COPY --from / mount from= (a `$` before the end)."""
    return "$" in value[:-1]


class _Stage(NamedTuple):
    number: int  # its index among the stages
    order: int
    instruction: Instruction
    command: Command
    name: str  # lowercased, "" when unnamed
    operand: tuple[int, int] | None
    # The COPY, RUN and ONBUILD instructions that may name a source, with their order.
    commands: list[tuple[int, Instruction, Command]]

    @property
    def label(self) -> str:
        return self.name or str(self.number)


class _GlobalArgs:
    """The ARGs declared before the first FROM, as FROM sees them (buildMetaArgs)."""

    def __init__(self, escape: str, fallback: Callable[[str], EnvValue]) -> None:
        self.fallback = fallback
        self.values: dict[str, EnvValue] = {}
        # Where each value came from: the default (inside quotes), or the name.
        self.sources: dict[str, tuple[Instruction, int, int]] = {}
        self.lexer = ShellLexer(escape, self.lookup)

    def lookup(self, name: str) -> EnvValue:
        return self.values[name] if name in self.values else self.fallback(name)

    def source(self, name: str) -> tuple[int, int]:
        """The file range of the text a global ARG's value came from."""
        instruction, start, end = self.sources[name]
        return instruction.file_range(start, end)

    def expand(self, word: str) -> Expansion:
        """The word as FROM sees it; a word the lexer rejects cannot be known."""
        try:
            return self.lexer.expand(word)
        except ExpansionError as err:
            return Expansion(unknown=str(err))


class _Extractor:
    def __init__(self, path: str, reading: Reading, build_args: dict[str, str]) -> None:
        self.path = path
        self.reading = reading
        self.build_args = build_args
        self.problems: list[Problem] = []
        self.uses: list[tuple[int, ImageUse]] = []
        self.stages: list[_Stage] = []
        self.global_args: list[tuple[Instruction, Command]] = []
        self.ignores: dict[int, frozenset[str]] = {}
        # Stages a later stage is built FROM: they run their ONBUILD triggers there.
        self.derived: set[int] = set()
        for offset, message in reading.issues:
            self._problem(offset, message)

    def run(self, *, empty: bool) -> tuple[ImageUse, ...]:
        self._syntax()
        self._structure()
        if not self.reading.instructions:
            what = "empty file" if empty else "no instructions: only comments and blank lines"
            self.problems.append(Problem(self.path, 1, 1, f"{what}; BuildKit has nothing to build"))
        elif not self.stages:
            self.problems.append(
                Problem(self.path, 1, 1, "no FROM instruction: BuildKit has no stage to build")
            )
        env = self._declare(self._unknown_automatic, report=True)
        names: dict[str, _Stage] = {}
        for stage in self.stages:
            if stage.operand is not None:
                self._from(stage, stage.operand, names, env)
            if stage.name:
                names[stage.name] = stage
        for stage in self.stages:
            for order, instruction, command in stage.commands:
                self._command(stage, order, instruction, command, names)
        self.uses.sort(key=lambda entry: entry[0])
        return tuple(use for _, use in self.uses)

    # --- where things are --------------------------------------------------------------------

    def _span(self, start: int, end: int) -> Span:
        return self.reading.line_index.span(start, end)

    def _problem(self, offset: int, message: str) -> None:
        line, column = self.reading.line_index.position(offset)
        self.problems.append(Problem(self.path, line, column, message))

    def _use(
        self,
        order: int,
        instruction: Instruction,
        kind: UseKind,
        reference: str,
        span: Span,
        stage: str,
        *,
        unresolved: str | None = None,
        via: str | None = None,
        platform: str | None = None,
    ) -> None:
        # A monorepo names the same few images and stages thousands of times, and its uses
        # are held until the registries have answered: one copy of each text will do.
        use = ImageUse(
            path=self.path,
            kind=kind,
            reference=sys.intern(reference),
            resolved=unresolved is None,
            span=span,
            instruction_line=instruction.line,
            via_arg=via,
            stage=sys.intern(stage),
            platform=platform,
            unresolved_reason=unresolved,
            ignored_rules=self.ignores.get(order, _NONE_IGNORED),
            source=sys.intern(self.reading.text[span.start : span.end]),
        )
        self.uses.append((order, use))

    # --- the file's shape --------------------------------------------------------------------

    def _syntax(self) -> None:
        directive = detect_syntax(self.reading.text)
        if directive is None:
            return
        span = self._span(directive.offset, directive.offset + len(directive.value))
        source = self.reading.text[span.start : span.end]
        use = ImageUse(self.path, "syntax", directive.value, True, span, span.line, source=source)
        self.uses.append((-1, use))

    def _structure(self) -> None:
        """instructions.Parse: global ARGs, stages, and the commands of each stage."""
        escape = self.reading.escape
        for order, instruction in enumerate(self.reading.instructions):
            keyword = instruction.keyword
            if instruction.comments:
                self._ignores(order, instruction)
            if keyword not in INSTRUCTIONS:
                command = split_command(instruction.text, escape)
                word = instruction.text[command.word_start : command.word_end]
                hint = ""
                if len(instruction.chunk_starts) > 1:
                    hint = " (continuation lines are joined with no space in between)"
                self._problem(instruction.offset(0), f"unknown instruction {word!r}{hint}")
            elif keyword == "from":
                self.stages.append(self._stage(order, instruction))
            elif not self.stages and keyword == "arg":
                self.global_args.append((instruction, split_command(instruction.text, escape)))
            elif not self.stages:
                self._problem(
                    instruction.offset(0),
                    f"{keyword.upper()} before the first FROM: only ARG may come before FROM",
                )
            elif keyword == "onbuild" or (keyword in ("copy", "run") and "--" in instruction.text):
                command = split_command(instruction.text, escape)
                self.stages[-1].commands.append((order, instruction, command))

    def _ignores(self, order: int, instruction: Instruction) -> None:
        """`# basepin: ignore[...]` in the comment lines right above an instruction."""
        rules: set[str] = set()
        for line, comment in instruction.comments:
            match = re.match(_IGNORE, comment)
            if match is None:
                continue
            if match.group(1) is None:
                rules.add("*")
                continue
            named = {part.strip() for part in match.group(1).split(",")} - {""}
            unknown = named - _RULES - {"*"}
            if unknown or not named:
                what = f"unknown rule {', '.join(sorted(unknown))}" if unknown else "no rule"
                self.problems.append(
                    Problem(
                        self.path,
                        line,
                        1,
                        f"{what} in basepin: ignore[...]; rules are {', '.join(RULE_IDS)}",
                    )
                )
            rules |= named & (_RULES | {"*"})
        if rules:
            self.ignores[order] = frozenset(rules)

    def _stage(self, order: int, instruction: Instruction) -> _Stage:
        """parseFrom: `FROM [--platform=...] <image> [AS <name>]`."""
        text = instruction.text
        command = split_command(text, self.reading.escape)
        seen: set[str] = set()
        for flag in command.flags:
            if flag.name != "platform":
                self._problem(instruction.offset(flag.start), f"unknown flag {flag.word!r} on FROM")
            elif flag.name in seen or not flag.has_value:
                problem = "duplicate flag --platform" if seen else "--platform needs a value"
                self._problem(instruction.offset(flag.start), problem)
            seen.add(flag.name)
        words = whitespace_words(text, command.args_start, command.args_end, limit=4)
        name = ""
        if len(words) == 3 and text[slice(*words[1])].lower() == "as":
            written = text[slice(*words[2])]
            name = written.lower()
            if not _STAGE_NAME.fullmatch(name):
                self._problem(
                    instruction.offset(words[2][0]),
                    f"invalid stage name {written!r}: it must start with a letter and hold only "
                    "letters, digits, '-', '_' and '.'",
                )
        elif not words:
            self._problem(instruction.offset(command.word_start), "FROM needs an image")
        elif len(words) != 1:
            found = "more than three words" if len(words) > 3 else f"{len(words)} words"
            self._problem(
                instruction.offset(command.word_start),
                f"FROM takes an image and optionally AS <name>; found {found}",
            )
        operand = words[0] if words else None
        return _Stage(len(self.stages), order, instruction, command, name, operand, [])

    # --- global ARGs -------------------------------------------------------------------------

    def _unknown_automatic(self, name: str) -> EnvValue:
        if name in AUTOMATIC_ARGS:
            if name in self.build_args:
                return self.build_args[name]
            return Unknown(f"{name} is set per platform at build time")
        return Unset(f"{name} is not an ARG declared before the first FROM, so FROM cannot see it")

    def _amd64_automatic(self, name: str) -> EnvValue:
        if name in AUTOMATIC_ARGS:
            target = self.stages[-1].name if name == "TARGETSTAGE" else AUTOMATIC_ARGS[name]
            return self.build_args.get(name, target)
        return self._unknown_automatic(name)

    @cached_property
    def _amd64(self) -> _GlobalArgs:
        """The global ARGs of a linux/amd64 build, to tell per-platform stage names apart."""
        return self._declare(self._amd64_automatic, report=False)

    def _declare(self, fallback: Callable[[str], EnvValue], *, report: bool) -> _GlobalArgs:
        """buildMetaArgs: a --build-arg replaces a declared ARG's value, a default is expanded
        with the ARGs before it, a bare declaration keeps an earlier value."""
        escape = self.reading.escape
        args = _GlobalArgs(escape, fallback)
        for instruction, command in self.global_args:
            text = instruction.text
            words = parse_words(text, command.args_start, command.args_end, escape)
            if not words and report:
                self._problem(instruction.offset(0), "ARG needs at least one name")
            for start, end in words:
                key, equals, default = text[start:end].partition("=")
                if equals and not key:
                    if report:
                        self._problem(instruction.offset(start), "ARG names can not be blank")
                    continue
                if key in self.build_args:
                    args.values[key] = self.build_args[key]
                elif equals:
                    args.values[key] = self._default(key, default, args, instruction, report)
                elif key not in args.values and key not in AUTOMATIC_ARGS:
                    args.values[key] = Unset(f"ARG {key} has no value; pass --build-arg {key}=...")
                else:
                    continue
                source = _unquote_range(text, start + len(key) + 1, end) if equals else (start, end)
                args.sources[key] = (instruction, *source)
        return args

    def _default(
        self, key: str, default: str, env: _GlobalArgs, instruction: Instruction, report: bool
    ) -> EnvValue:
        try:
            expansion = env.lexer.expand(default)
        except ExpansionError as err:
            if report:
                self._problem(instruction.offset(0), f"cannot read the default of ARG {key}: {err}")
            return Unknown(f"the default of ARG {key} cannot be read: {err}")
        return expansion.text if expansion.unknown is None else Unknown(expansion.unknown)

    # --- references --------------------------------------------------------------------------

    def _from(
        self,
        stage: _Stage,
        operand: tuple[int, int],
        names: dict[str, _Stage],
        env: _GlobalArgs,
    ) -> None:
        """The base of one stage: an earlier stage (as written), scratch, or an image."""
        instruction, order = stage.instruction, stage.order
        start, end = operand
        raw = instruction.text[start:end]
        try:
            expansion = env.lexer.expand(raw)
        except ExpansionError as err:
            self._problem(instruction.offset(start), f"cannot read FROM {raw}: {err}")
            expansion = Expansion(unknown=str(err))
        platform = self._platform(stage.command, env)
        if expansion.unknown is not None:
            probe = self._amd64.expand(raw)  # a stage chosen per platform is still a stage
            if probe.unknown is None and probe.text in names:
                self.derived.add(names[probe.text].number)
                return
            inside = _unquote_range(instruction.text, start, end)
            self._use(
                order,
                instruction,
                "from",
                instruction.text[slice(*inside)],
                self._span(*instruction.file_range(*inside)),
                stage.label,
                unresolved=expansion.unknown,
                platform=platform,
            )
            return
        reference = expansion.text
        if not reference:
            self._problem(instruction.offset(start), f"FROM {raw} expands to an empty image name")
        elif reference in names:
            self.derived.add(names[reference].number)
        elif reference != EMPTY_IMAGE:
            via = expansion.via if expansion.via in env.sources else None
            source = (
                env.source(via)
                if via is not None
                else instruction.file_range(*_unquote_range(instruction.text, start, end))
            )
            self._use(
                order,
                instruction,
                "from",
                reference,
                self._span(*source),
                stage.label,
                via=via,
                platform=platform,
            )

    def _platform(self, command: Command, env: _GlobalArgs) -> str | None:
        values = [flag.value for flag in command.flags if flag.name == "platform"]
        if not values:
            return None
        expansion = env.expand(values[0])
        return values[0] if expansion.unknown is not None else expansion.text

    def _command(
        self,
        stage: _Stage,
        order: int,
        instruction: Instruction,
        command: Command,
        names: dict[str, _Stage],
    ) -> None:
        if command.keyword == "onbuild":
            trigger = command.sub
            if trigger is None:
                self._problem(instruction.offset(0), "ONBUILD needs an instruction to run later")
                return
            if trigger.keyword in ("onbuild", "from", "maintainer"):
                self._problem(
                    instruction.offset(trigger.word_start),
                    f"{trigger.keyword.upper()} is not allowed as an ONBUILD trigger",
                )
                return
            if stage.number not in self.derived:  # triggers run in a stage built FROM this one
                return
            command = trigger
        if command.keyword == "copy":
            self._copy_from(stage, order, instruction, command, names)
        elif command.keyword == "run":
            self._mounts(stage, order, instruction, command, names)

    def _copy_from(
        self,
        stage: _Stage,
        order: int,
        instruction: Instruction,
        command: Command,
        names: dict[str, _Stage],
    ) -> None:
        flags = [flag for flag in command.flags if flag.name == "from"]
        if not flags:
            return
        flag = flags[0]
        if len(flags) > 1:
            self._problem(instruction.offset(flags[1].start), "duplicate flag --from on COPY")
        if not flag.has_value:
            self._problem(
                instruction.offset(flag.start),
                "COPY --from needs a value: write --from=<stage or image>",
            )
            return
        self._source(
            stage, order, instruction, "copy-from", flag.value, flag.value_positions, names
        )

    def _mounts(
        self,
        stage: _Stage,
        order: int,
        instruction: Instruction,
        command: Command,
        names: dict[str, _Stage],
    ) -> None:
        """Every --mount of a RUN; the last from= of a mount names its source."""
        for flag in command.flags:
            if flag.name != "mount":
                continue
            if not flag.has_value:
                self._problem(instruction.offset(flag.start), "--mount needs a value")
                continue
            try:
                fields = csv_fields(flag.value, flag.value_positions)
            except ValueError as err:
                self._problem(instruction.offset(flag.start), f"cannot read --mount: {err}")
                continue
            source: tuple[str, Sequence[int]] | None = None
            for text, places in fields:
                key, equals, value = text.partition("=")
                if equals and key.lower() == "from":
                    source = (value, places[len(key) + 1 :])
            if source is not None:
                self._source(stage, order, instruction, "mount-from", *source, names)

    def _source(
        self,
        stage: _Stage,
        order: int,
        instruction: Instruction,
        kind: UseKind,
        value: str,
        places: Sequence[int],
        names: dict[str, _Stage],
    ) -> None:
        """A COPY --from / mount from= value: a stage (looked up lowercased), a stage index
        (COPY only), scratch, or an image. BuildKit rejects variables here."""
        if not value:
            return
        span = self._span(*instruction.file_range(places[0], places[-1] + 1))
        where = "COPY --from" if kind == "copy-from" else "RUN --mount from="
        if _variable_in(value):
            reason = f"BuildKit does not expand variables in {where}; name a stage built FROM it"
            self._use(order, instruction, kind, value, span, stage.label, unresolved=reason)
        elif (
            kind == "copy-from" and _STAGE_INDEX.fullmatch(value) and abs(int(value)) <= _INT64_MAX
        ):
            if not 0 <= int(value) < len(self.stages):
                self._problem(span.start, f"COPY --from={value}: no stage has that index")
        elif value.lower() not in names and value != EMPTY_IMAGE:
            self._use(order, instruction, kind, value, span, stage.label)
