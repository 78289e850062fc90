"""The stages of a Dockerfile and the ARGs before its first FROM, as FROM sees them.

Mirrors moby/buildkit frontend/dockerfile: instructions/parse.go parseFrom (`FROM
[--platform=...] <image> [AS <name>]`) and dockerfile2llb buildMetaArgs with its automatic
platform ARGs (defaultArgs).
"""

from __future__ import annotations

import re

from basepin.extract.dockerfile.commands import (
    parse_words,
    split_command,
    unquote_range,
    whitespace_words,
)
from basepin.extract.dockerfile.expansion import Expansion, ExpansionError, Unknown, Unset
from basepin.extract.dockerfile.words import ShellLexer
from basepin.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from basepin.extract.dockerfile.commands import Command
    from basepin.extract.dockerfile.expansion import EnvValue
    from basepin.extract.dockerfile.lines import Instruction

    # Reports a problem at a file offset.
    Report = Callable[[int, str], None]

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


class Stage(NamedTuple):
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


def read_stage(
    order: int, instruction: Instruction, number: int, escape: str, report: Report
) -> Stage:
    """parseFrom: `FROM [--platform=...] <image> [AS <name>]`."""
    text = instruction.text
    command = split_command(text, escape)
    seen: set[str] = set()
    for flag in command.flags:
        if flag.name != "platform":
            report(instruction.offset(flag.start), f"unknown flag {flag.word!r} on FROM")
        elif flag.name in seen or not flag.has_value:
            problem = "duplicate flag --platform" if seen else "--platform needs a value"
            report(instruction.offset(flag.start), problem)
        seen.add(flag.name)
    words = whitespace_words(text, command.args_start, command.args_end, limit=4)
    name = ""
    if len(words) == 3 and text[slice(*words[1])].lower() == "as":
        written = text[slice(*words[2])]
        name = written.lower()
        if not _STAGE_NAME.fullmatch(name):
            report(
                instruction.offset(words[2][0]),
                f"invalid stage name {written!r}: it must start with a letter and hold only "
                "letters, digits, '-', '_' and '.'",
            )
    elif not words:
        report(instruction.offset(command.word_start), "FROM needs an image")
    elif len(words) != 1:
        found = "more than three words" if len(words) > 3 else f"{len(words)} words"
        report(
            instruction.offset(command.word_start),
            f"FROM takes an image and optionally AS <name>; found {found}",
        )
    operand = words[0] if words else None
    return Stage(number, order, instruction, command, name, operand, [])


class GlobalArgs:
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


def per_platform(build_args: Mapping[str, str]) -> Callable[[str], EnvValue]:
    """What FROM sees of a name no global ARG declares: an automatic ARG is set per platform
    at build time (unless a --build-arg gives it), any other name is unset."""

    def lookup(name: str) -> EnvValue:
        if name in AUTOMATIC_ARGS:
            if name in build_args:
                return build_args[name]
            return Unknown(f"{name} is set per platform at build time")
        return Unset(f"{name} is not an ARG declared before the first FROM, so FROM cannot see it")

    return lookup


def on_amd64(build_args: Mapping[str, str], target: str) -> Callable[[str], EnvValue]:
    """The same on a linux/amd64 build of the stage named `target`."""
    unknown = per_platform(build_args)

    def lookup(name: str) -> EnvValue:
        if name in AUTOMATIC_ARGS:
            value = target if name == "TARGETSTAGE" else AUTOMATIC_ARGS[name]
            return build_args.get(name, value)
        return unknown(name)

    return lookup


def declare(
    declared: Sequence[tuple[Instruction, Command]],
    escape: str,
    build_args: Mapping[str, str],
    fallback: Callable[[str], EnvValue],
    report: Report | None,
) -> GlobalArgs:
    """buildMetaArgs: a --build-arg replaces a declared ARG's value, a default is expanded
    with the ARGs before it, a bare declaration keeps an earlier value."""
    args = GlobalArgs(escape, fallback)
    for instruction, command in declared:
        text = instruction.text
        words = parse_words(text, command.args_start, command.args_end, escape)
        if not words and report:
            report(instruction.offset(0), "ARG needs at least one name")
        for start, end in words:
            key, equals, default = text[start:end].partition("=")
            if equals and not key:
                if report:
                    report(instruction.offset(start), "ARG names can not be blank")
                continue
            if key in build_args:
                args.values[key] = build_args[key]
            elif equals:
                args.values[key] = _default(key, default, args, instruction, report)
            elif key not in args.values and key not in AUTOMATIC_ARGS:
                args.values[key] = Unset(f"ARG {key} has no value; pass --build-arg {key}=...")
            else:
                continue
            source = unquote_range(text, start + len(key) + 1, end) if equals else (start, end)
            args.sources[key] = (instruction, *source)
    return args


def _default(
    key: str, default: str, env: GlobalArgs, instruction: Instruction, report: Report | None
) -> EnvValue:
    try:
        expansion = env.lexer.expand(default)
    except ExpansionError as err:
        if report:
            report(instruction.offset(0), f"cannot read the default of ARG {key}: {err}")
        return Unknown(f"the default of ARG {key} cannot be read: {err}")
    return expansion.text if expansion.unknown is None else Unknown(expansion.unknown)
