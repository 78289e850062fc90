"""The instructions of a Dockerfile that name images: FROM, COPY --from, RUN --mount from=,
the ONBUILD triggers a later stage runs, the `# syntax=` directive; and the `# basepin:
ignore[...]` comments above them.

`Extractor` walks the instructions `lines` reads, as BuildKit's instructions.Parse does: it
finds the stages and the ARGs before the first FROM (`stages`), then each stage's base and the
sources its COPY and RUN instructions name that are no stage.
"""

from __future__ import annotations

import re
import sys
from functools import cached_property

from basepin.extract.dockerfile.commands import csv_fields, split_command, unquote_range
from basepin.extract.dockerfile.expansion import Expansion, ExpansionError
from basepin.extract.dockerfile.lines import detect_syntax
from basepin.extract.dockerfile.stages import (
    EMPTY_IMAGE,
    declare,
    on_amd64,
    per_platform,
    read_stage,
)
from basepin.extract.ignores import NONE_IGNORED, read_ignore
from basepin.model import ImageUse, Problem, Span

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from basepin.extract.dockerfile.commands import Command
    from basepin.extract.dockerfile.lines import Instruction, Reading
    from basepin.extract.dockerfile.stages import GlobalArgs, Stage
    from basepin.model import UseKind

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
# strconv.Atoi's reach: longer numbers fail there and are looked up as names.
_STAGE_INDEX = re.compile(r"[+-]?[0-9]{1,19}")
_INT64_MAX = (1 << 63) - 1
# Compiled on first use (re caches it): few files have such comments.
# One empty set for every use without an ignore comment: `frozenset()` makes a new one each
# time (~200 bytes a use).


def _variable_in(value: str) -> bool:
    """BuildKit's test for a variable in COPY --from / mount from= (a `$` before the end)."""
    return "$" in value[:-1]


class Extractor:
    """The images a read Dockerfile names (`run`), and what is wrong with it (`problems`)."""

    def __init__(self, path: str, reading: Reading, build_args: dict[str, str]) -> None:
        self.path = path
        self.reading = reading
        self.build_args = build_args
        self.problems: list[Problem] = []
        self.uses: list[tuple[int, ImageUse]] = []
        self.stages: list[Stage] = []
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
        fallback = per_platform(self.build_args)
        escape = self.reading.escape
        env = declare(self.global_args, escape, self.build_args, fallback, self._problem)
        names: dict[str, Stage] = {}
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
            ignored_rules=self.ignores.get(order, NONE_IGNORED),
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
                stage = read_stage(order, instruction, len(self.stages), escape, self._problem)
                self.stages.append(stage)
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
            if not comment.startswith("#"):
                continue
            named, complaint = read_ignore(comment[1:])
            if complaint is not None:
                self.problems.append(Problem(self.path, line, 1, complaint))
            rules |= named
        if rules:
            self.ignores[order] = frozenset(rules)

    # --- global ARGs -------------------------------------------------------------------------

    @cached_property
    def _amd64(self) -> GlobalArgs:
        """The global ARGs of a linux/amd64 build, to tell per-platform stage names apart."""
        fallback = on_amd64(self.build_args, self.stages[-1].name)
        return declare(self.global_args, self.reading.escape, self.build_args, fallback, None)

    # --- references --------------------------------------------------------------------------

    def _from(
        self,
        stage: Stage,
        operand: tuple[int, int],
        names: dict[str, Stage],
        env: GlobalArgs,
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
            inside = unquote_range(instruction.text, start, end)
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
                else instruction.file_range(*unquote_range(instruction.text, start, end))
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

    def _platform(self, command: Command, env: GlobalArgs) -> str | None:
        values = [flag.value for flag in command.flags if flag.name == "platform"]
        if not values:
            return None
        expansion = env.expand(values[0])
        return values[0] if expansion.unknown is not None else expansion.text

    def _command(
        self,
        stage: Stage,
        order: int,
        instruction: Instruction,
        command: Command,
        names: dict[str, Stage],
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
        stage: Stage,
        order: int,
        instruction: Instruction,
        command: Command,
        names: dict[str, Stage],
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
        stage: Stage,
        order: int,
        instruction: Instruction,
        command: Command,
        names: dict[str, Stage],
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
        stage: Stage,
        order: int,
        instruction: Instruction,
        kind: UseKind,
        value: str,
        places: Sequence[int],
        names: dict[str, Stage],
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
