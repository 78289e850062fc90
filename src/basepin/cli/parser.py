"""The command line's parser: its commands, their options and their help.

`basepin` without a command checks, so the words are read with `check` in front unless they
name a command (`with_command`); each command's parser is built only when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys

from basepin import __version__
from basepin.discover import KINDS
from basepin.escape import shown

TYPE_CHECKING = False  # `typing` is not imported offline: start-up counts

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

FORMATS = ("text", "json", "sarif", "github", "markdown")
_EXIT_HELP = (
    "Exit 0: nothing at or above --fail-on; 1: findings at or above it (fix: files changed); "
    "2: usage or configuration error; 3: some reference could not be checked (fix: or a fix "
    "was not written)."
)


def with_command(words: list[str]) -> list[str]:
    """`words` with `check` in front when they name no command: `basepin` alone checks the
    current folder, and `basepin PATH...` (or `basepin --offline`) checks PATH. A folder named
    like a command is named `./check`."""
    if words and (words[0] in _COMMANDS or words[0] in ("-h", "--help", "--version")):
        return words
    return ["check", *words]


def check_implied(parser: argparse.ArgumentParser, words: Sequence[str]) -> None:
    """A first word that is neither a command nor a path is more likely a mistyped command
    than a missing folder: say both."""
    first = words[1] if len(words) > 1 else ""
    looks_like_a_word = first.replace("-", "").isalpha() and not first.startswith("-")
    if looks_like_a_word and not os.path.lexists(first):
        parser.error(
            f"{shown(first)!r} is neither a command ({', '.join(_COMMANDS)}) nor a file or folder"
        )


def _version() -> str:
    python = sys.version.split()[0]
    return f"basepin {__version__} (Python {python}, {shown(sys.executable or 'python')})"


class _PrintVersion(argparse.Action):
    """`--version`: one line as it is (argparse's own action wraps it to the terminal)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **_: object) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="show the version and the Python it runs on, and exit",
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(_version())
        parser.exit()


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; when `argv` names a command, only that command's parser is built
    (start-up counts: each parser costs time, even unused)."""
    parser = argparse.ArgumentParser(
        prog="basepin",
        usage="basepin [COMMAND] [options] [PATH ...]",
        description="Keep the base images of container builds pinned and fresh. Without a "
        "command, basepin checks: `basepin [PATH ...]` is `basepin check [PATH ...]`, and "
        "`basepin` alone checks the current folder.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action=_PrintVersion)
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    words = sys.argv[1:] if argv is None else argv
    chosen = next((word for word in words if not word.startswith("-")), None)
    for name, (summary, description, build) in _COMMANDS.items():
        if chosen in _COMMANDS and chosen != name:
            continue
        command = commands.add_parser(
            name, help=summary, description=description, formatter_class=_Formatter
        )
        build(command)
        command.set_defaults(command=name)  # `main` runs the module of the command named
    return parser


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter without its import of shutil, just to learn the terminal width."""

    def __init__(self, prog: str) -> None:
        try:
            width = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size().columns
        except (ValueError, OSError):
            width = 80
        super().__init__(prog, width=max(width - 2, 40))


def _build_check(command: argparse.ArgumentParser) -> None:
    _add_source_options(command)
    command.add_argument(
        "--offline", action="store_true", help="only the rules that need no registry"
    )
    _add_report_options(command)
    _add_registry_options(command)
    _add_vulns_option(command)


def _add_vulns_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--vulns",
        action="store_true",
        help="also report known vulnerabilities from SBOM attestations and OSV (costs "
        "Docker Hub pulls and OSV requests; cached)",
    )


def _build_fix(command: argparse.ArgumentParser) -> None:
    _add_source_options(command)
    _add_vulns_option(command)
    command.add_argument("--bump", action="store_true", help="also apply outdated upgrades")
    command.add_argument(
        "--diff",
        action="store_true",
        help="print a unified diff, write nothing; exits as check does",
    )
    # Accepted only to say why not: a fix writes what the registries answer.
    command.add_argument("--offline", action="store_true", help=argparse.SUPPRESS)
    _add_report_options(command)
    _add_registry_options(command)


def _build_resolve(command: argparse.ArgumentParser) -> None:
    command.add_argument("references", nargs="+", metavar="REF")
    _add_registry_options(command)


def _build_vulns(command: argparse.ArgumentParser) -> None:
    command.add_argument("image", metavar="IMAGE[:TAG|@DIGEST]")
    command.add_argument("--format", choices=("text", "json"), default="text")
    command.add_argument(
        "--platform",
        action="append",
        dest="platforms",
        metavar="OS/ARCH",
        help="read the SBOM of this platform (repeatable; default: linux/amd64)",
    )
    command.add_argument("--config", metavar="FILE", help="configuration file to use")
    _add_registry_options(command)


def _build_tags(command: argparse.ArgumentParser) -> None:
    command.add_argument("image", metavar="IMAGE")
    command.add_argument("--format", choices=("text", "json"), default="text")
    command.add_argument(
        "--limit",
        type=_positive,
        default=50,
        metavar="N",
        help="show the N newest tags (default: 50)",
    )
    _add_registry_options(command)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a whole number >= 1 expected, not {text!r}")
    return int(text)


_COMMANDS: dict[str, tuple[str, str | None, Callable[[argparse.ArgumentParser], None]]] = {
    "check": (
        "check the images files build from or run (the default job)",
        "Find every image the files under PATH build from or run (Dockerfiles, Compose files, "
        "GitHub workflows and actions, Kubernetes manifests, dev containers, GitLab CI) and "
        "report references that float (no digest, 'latest'), have gone stale or are old. "
        + _EXIT_HELP,
        _build_check,
    ),
    "fix": (
        "pin, refresh (and with --bump upgrade) references in place",
        "Rewrite only the reference text of each fixable finding: pin unpinned references, "
        "refresh stale digests, name the version of 'latest'; with --bump also move to the "
        "newest version of the same variant. " + _EXIT_HELP,
        _build_fix,
    ),
    "resolve": (
        "print the digest each reference points to now (REF DIGEST)",
        None,
        _build_resolve,
    ),
    "tags": (
        "list an image's tags with digest, push date and size, newest first",
        None,
        _build_tags,
    ),
    "vulns": (
        "list an image's known vulnerabilities (its SBOM attestation, asked of OSV)",
        "Read the SBOM attestation of the image a reference names (its digest, else what its "
        "tag points to now) and list the known vulnerabilities OSV has for its packages, "
        "worst first. Exit 0: none known; 1: some known; 3: could not be checked, or the "
        "image has no SBOM attestation (its vulnerabilities are unknown, not none).",
        _build_vulns,
    ),
}


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: .)")
    parser.add_argument("--config", metavar="FILE", help="configuration file to use")
    parser.add_argument(
        "--build-arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="value for a global ARG, as docker build takes it (repeatable)",
    )
    parser.add_argument(
        "--fail-on",
        choices=("error", "warning", "note"),
        help="lowest severity that fails the check (default: error)",
    )
    parser.add_argument("--max-age", type=int, metavar="DAYS", help="old-image limit (90)")
    parser.add_argument(
        "--min-release-age",
        type=int,
        metavar="DAYS",
        help="propose no digest or tag younger than this (default 0: off)",
    )
    parser.add_argument(
        "--min-release-age-unknown",
        choices=("deny", "allow"),
        help="whether a candidate without a known date may be proposed (default deny)",
    )
    parser.add_argument(
        "--eol-warning-days",
        type=int,
        metavar="DAYS",
        help="eol-soon when end of life is this close (90)",
    )
    parser.add_argument(
        "--kind",
        action="append",
        dest="kinds",
        choices=KINDS,
        metavar="KIND",
        help=f"read only this kind of file (repeatable): {', '.join(KINDS)} (default: all)",
    )
    parser.add_argument(
        "--platform",
        action="append",
        dest="platforms",
        metavar="OS/ARCH",
        help="a platform every pinned image must cover (repeatable)",
    )


def _add_registry_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry-mirror",
        action="append",
        default=[],
        metavar="HOST=URL",
        help="send HOST's lookups to a mirror or pull-through cache (repeatable)",
    )
    parser.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST",
        help="allow plain HTTP for HOST (repeatable)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="per request (10); a reference is given up after twice that",
    )
    parser.add_argument(
        "--cache-dir", metavar="DIR", help="cache folder (default: $BASEPIN_CACHE_DIR, user cache)"
    )
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress line and no summary on stderr (warnings and errors still show)",
    )


def _add_report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="text", help="report format")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the text report (auto: on a terminal, unless NO_COLOR is set)",
    )
