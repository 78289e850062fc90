"""Command line: `basepin check`, `basepin fix`, `basepin resolve`, `basepin tags`."""

from __future__ import annotations

import argparse
import os
import sys

from basepin import __version__
from basepin.config import Config, find_config_file, load_config
from basepin.discover import KINDS
from basepin.errors import BasepinError, UsageError
from basepin.escape import not_a_command, redacted_url, shown, shown_lines
from basepin.model import (
    SEVERITY_RANK,
    Edit,
    Finding,
    ImageUse,
    ParsedDockerfile,
    Report,
    Resolution,
    Unresolved,
)

TYPE_CHECKING = False  # neither `typing` nor `pathlib` is imported offline: start-up counts

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
    from datetime import datetime
    from pathlib import Path

    from basepin.model import Lifecycle
    from basepin.progress import Progress
    from basepin.report import Tally
    from basepin.resolve import ResolveOptions
    from basepin.rules.lifecycle import EolAdvisor

FORMATS = ("text", "json", "sarif", "github", "markdown")
_EXIT_HELP = (
    "Exit 0: nothing at or above --fail-on; 1: findings at or above it (fix: files changed); "
    "2: usage or configuration error; 3: some reference could not be checked (fix: or a fix "
    "was not written)."
)


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    words = _with_command(given)
    parser = _build_parser(words)
    try:
        if len(words) > len(given):
            _check_implied(parser, words)
        args = parser.parse_args(words)
    except SystemExit as exc:  # argparse already printed the usage error
        return exc.code if isinstance(exc.code, int) else 2
    try:
        code: int = args.run(args)
    except BasepinError as exc:
        # Messages carry file names and registry text: escaped, and URLs without credentials.
        print(f"basepin: error: {_outside(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("basepin: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader stopped reading (`| head`): the rest of the report has nowhere to go, and
        # the interpreter must not fail again flushing into the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code


def _outside(text: str) -> str:
    """A message that may hold file names, registry text or URLs, as it may be shown."""
    return shown(redacted_url(text))


def run() -> int:
    """The `basepin` command: `main`, then exit without the interpreter's teardown.

    Once the report is out, freeing a run's objects one by one only costs time: a tenth of an
    offline check, more for a monorepo. Nothing is pending by then (files and the cache are
    closed as they are finished with), so only the standard streams need flushing. Under a
    profiler or a coverage tracer the exit is the usual one, so that they can save their data.
    """
    code = main()
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return code
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away, a stream already closed
            code = code or 1
    os._exit(code)


def _with_command(words: list[str]) -> list[str]:
    """`words` with `check` in front when they name no command: `basepin` alone checks the
    current folder, and `basepin PATH...` (or `basepin --offline`) checks PATH. A folder named
    like a command is named `./check`."""
    if words and (words[0] in _COMMANDS or words[0] in ("-h", "--help", "--version")):
        return words
    return ["check", *words]


def _check_implied(parser: argparse.ArgumentParser, words: Sequence[str]) -> None:
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


def _build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
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
    command.set_defaults(run=_run_check)


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
    command.set_defaults(run=_run_fix)


def _build_resolve(command: argparse.ArgumentParser) -> None:
    command.add_argument("references", nargs="+", metavar="REF")
    _add_registry_options(command)
    command.set_defaults(run=_run_resolve)


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
    command.set_defaults(run=_run_vulns)


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
    command.set_defaults(run=_run_tags)


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


# -- configuration ----------------------------------------------------------------------------


def _load_config(args: argparse.Namespace) -> Config:
    if getattr(args, "config", None):
        config = load_config(args.config)
    else:
        paths = getattr(args, "paths", None)
        start = paths[0] if paths else os.getcwd()
        found = find_config_file(start if os.path.exists(start) else os.getcwd())
        config = load_config(found) if found else Config()
    build_args = dict(config.build_args)
    for name, value in _pairs(getattr(args, "build_arg", []), "--build-arg", "NAME=VALUE"):
        build_args[name] = value
    mirrors = dict(config.registry_mirrors)
    mirrors.update(_pairs(args.registry_mirror, "--registry-mirror", "HOST=URL"))
    platforms = getattr(args, "platforms", None)
    kinds = getattr(args, "kinds", None)
    for flag in ("max_age", "min_release_age", "eol_warning_days"):
        if getattr(args, flag, None) is not None and getattr(args, flag) < 0:
            raise UsageError(f"--{flag.replace('_', '-')} takes a number of days >= 0")
    if getattr(args, "vulns", False) and config.severity_of("vulnerable") == "off":
        config = config._replace(severity={**config.severity, "vulnerable": "warning"})
    return config.merged(
        fail_on=getattr(args, "fail_on", None),
        build_args=build_args,
        registry_mirrors=mirrors,
        insecure_registries=(*config.insecure_registries, *args.insecure_registry),
        max_age=getattr(args, "max_age", None),
        min_release_age=getattr(args, "min_release_age", None),
        min_release_age_unknown=getattr(args, "min_release_age_unknown", None),
        eol_warning_days=getattr(args, "eol_warning_days", None),
        platforms=tuple(platforms) if platforms else None,
        kinds=tuple(dict.fromkeys(kinds)) if kinds else None,
        timeout=args.timeout,
    )


def _pairs(items: Sequence[str], flag: str, shape: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"{flag} takes {shape}, not {item!r}")
        pairs.append((name, value))
    return pairs


def _resolve_options(
    args: argparse.Namespace, config: Config, *, bump: bool = False
) -> ResolveOptions:
    """What to look up; `bump`: also the digests of newer versions (`fix --bump`)."""
    from pathlib import Path

    from basepin.model import size_platform
    from basepin.registry.cache import default_folder
    from basepin.resolve import ResolveOptions

    cache_dir: Path | None = None
    if not args.no_cache:
        chosen = args.cache_dir or os.environ.get("BASEPIN_CACHE_DIR")
        cache_dir = Path(chosen) if chosen else default_folder()
    eol = _eol_on(config)
    cooldown = config.min_release_age > 0
    eol_url = None
    if eol:
        from basepin.registry.eol_cache import EOL_URL

        eol_url = os.environ.get("BASEPIN_EOL_URL") or EOL_URL
    return ResolveOptions(
        mirrors=config.registry_mirrors,
        insecure=config.insecure_registries,
        timeout=config.timeout,
        cache_dir=cache_dir,
        cache_ttl=float(config.cache_ttl),
        hub_url=os.environ.get("BASEPIN_HUB_URL") or None,
        hub_registry_url=os.environ.get("BASEPIN_HUB_REGISTRY_URL") or None,
        hub_username=os.environ.get("DOCKERHUB_USERNAME") or None,
        hub_token=os.environ.get("DOCKERHUB_TOKEN") or None,
        want_facts=cooldown
        or any(config.severity_of(r) != "off" for r in ("old-image", "platforms")),
        want_tags=any(config.severity_of(r) != "off" for r in ("outdated", "latest")),
        want_newer=config.severity_of("outdated") != "off",
        # Under a cooldown the newest version's date is needed, whether bumping or not.
        want_newer_digests=bump or cooldown,
        want_dates=cooldown,
        bump_scope=config.bump,
        size_platform=size_platform(config.platforms),
        eol_url=eol_url,
    )


def _eol_on(config: Config) -> bool:
    return any(config.severity_of(rule) != "off" for rule in ("eol", "eol-soon"))


def _eol_advisor(
    find: Callable[[str], Lifecycle | None], config: Config, now: datetime
) -> EolAdvisor:
    from basepin.rules.lifecycle import EolAdvisor

    return EolAdvisor(find, today=now.date(), warn_days=config.eol_warning_days)


def _kept_lifecycles(args: argparse.Namespace) -> Callable[[str], Lifecycle | None] | None:
    """For an offline check: what the cache keeps of endoflife.date's data, however old,
    read as products come up (nothing is asked; without it the rules are silent)."""
    from basepin.registry.eol_cache import LifecycleStore, default_cache_dir

    folder = args.cache_dir or os.environ.get("BASEPIN_CACHE_DIR") or default_cache_dir()
    if not os.path.isdir(os.path.join(folder, "eol")):
        return None
    store = LifecycleStore(folder, 0.0)
    kept: dict[str, Lifecycle | None] = {}

    def find(product: str) -> Lifecycle | None:
        if product not in kept:
            kept[product] = store.read(product)
        return kept[product]

    return find


# -- check and fix ----------------------------------------------------------------------------


def _read_files(
    paths: Sequence[str], config: Config, unreadable: Mapping[str, str] | None = None
) -> Iterator[ParsedDockerfile]:
    """Each path read and parsed, in order (see `basepin.read`); what reading a file had to
    say that is no finding is said on stderr as it is read."""
    from basepin.read import read_files

    for parsed in read_files(paths, config, unreadable):
        for note in dict.fromkeys(parsed.notes):
            where = f"{note.path}:{note.line}:{note.column}: note"
            print(not_a_command(_outside(f"basepin: {where}: {note.message}")), file=sys.stderr)
        yield parsed


def _once(
    seen: set[tuple[str, str, int, int, str]], path: str, findings: Iterable[Finding]
) -> list[Finding]:
    """The findings of the file at `path`, those in another file it reads (the `.env` that the
    Compose files beside it share) only the first time the run meets them."""
    kept = []
    for finding in findings:
        if finding.path != path:
            span = finding.span
            key = (finding.rule, finding.path, span.start, span.end, finding.reference)
            if key in seen:
                continue
            seen.add(key)
        kept.append(finding)
    return kept


def _examine(
    args: argparse.Namespace, *, bump: bool = False
) -> tuple[Report, Iterator[Report], Config]:
    """Discover, extract, resolve (unless offline) and judge: the run's head and its parts,
    one per file in path order (see `basepin.report`).

    Files are judged one at a time as the parts are asked for (every rule and fix stays within
    its file), so a report can be written while the later files are still being judged, and
    memory does not grow with the tree.
    """
    from basepin.discover import find
    from basepin.report import part

    config = _load_config(args)
    found = find(args.paths, exclude=config.exclude, kinds=config.kinds)
    # A folder that could not be searched is listed as a file that cannot be read.
    paths = [*found.files, *found.unreadable]
    in_order = sorted(paths)  # the order the formatters list files in
    if args.offline:
        from basepin.rules.offline import judge_offline

        run = Report(tuple(paths), (), ())

        def judged_offline() -> Iterator[Report]:
            eol: EolAdvisor | None = None
            kept = None if args.no_cache or not _eol_on(config) else _kept_lifecycles(args)
            if kept is not None:
                from datetime import datetime, timezone

                eol = _eol_advisor(kept, config, datetime.now(timezone.utc))
            seen: set[tuple[str, str, int, int, str]] = set()
            for dockerfile in _read_files(in_order, config, found.unreadable):
                findings = _once(
                    seen, dockerfile.path, judge_offline((dockerfile,), config, eol=eol)
                )
                yield part(run, dockerfile.path, dockerfile.uses, findings, dockerfile.notes)

        return run, judged_offline(), config

    from basepin.file_queue import FileQueue
    from basepin.resolve import resolve_files
    from basepin.rules.judging import judge
    from basepin.rules.online import asks_registry

    waiting = FileQueue()
    platforms_of: dict[str, list[str | None]] = {}  # each reference's FROM --platform
    progress = _start_progress(args)

    def references() -> Iterator[list[str]]:
        # Read as resolve asks: it meets the registries while the later files are read.
        for read, dockerfile in enumerate(_read_files(in_order, config, found.unreadable), start=1):
            waiting.put(dockerfile._replace(text=""))  # judging needs no text
            if progress is not None:
                progress.files_read(read)
            for use in dockerfile.uses:
                platforms_of.setdefault(use.reference, []).append(use.platform)
            # An image no rule that reads the registry's answer may speak of is not asked.
            yield [use.reference for use in dockerfile.uses if asks_registry(use, config)]

    options = _resolve_options(args, config, bump=bump)
    try:
        result = resolve_files(references(), _told(options, progress))
    finally:
        if progress is not None:
            progress.stop()
    from basepin.rules.judging import incomplete_of

    warnings = list(result.warnings)
    incomplete: dict[tuple[str, str], Unresolved] = {}
    vulnerabilities = None
    if config.severity_of("vulnerable") != "off":
        from basepin.rules.vulnerable import examine

        examined = examine(
            result.lookups,
            platforms_of,
            config,
            options,
            bump=bump,
            osv_url=os.environ.get("BASEPIN_OSV_URL") or None,
        )
        vulnerabilities = examined.report
        warnings += examined.warnings
        for unresolved in examined.incomplete:
            incomplete.setdefault((unresolved.reference, unresolved.reason), unresolved)
    for warning in dict.fromkeys(warnings):  # in file order, each once
        print(f"basepin: warning: {_outside(warning)}", file=sys.stderr)
    for text, lookup in result.lookups.items():
        # Unchecked whole, or answered without what some active rules needed.
        for each in incomplete_of(text, lookup, config):
            incomplete.setdefault((each.reference, each.reason), each)
    run = Report(
        tuple(paths),
        (),
        (),
        tuple(incomplete.values()),
        result.lookups,
        offline=False,
        vulnerabilities=vulnerabilities,
    )
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    eol = _eol_advisor(result.lifecycles.get, config, now) if result.lifecycles else None

    def judged() -> Iterator[Report]:
        seen: set[tuple[str, str, int, int, str]] = set()
        for dockerfile in waiting.drain():
            verdict = judge(
                (dockerfile,),
                result.lookups,
                config,
                now=now,
                bump=bump,
                eol=eol,
                vulnerabilities=vulnerabilities,
            )
            findings = _once(seen, dockerfile.path, verdict.findings)
            yield part(run, dockerfile.path, dockerfile.uses, findings, dockerfile.notes)

    return run, judged(), config


def _whole(run: Report, files: Iterable[Report]) -> Report:
    """The run's report held whole, for what needs all of it at once (fixes, the job summary)."""
    uses: list[ImageUse] = []
    findings: list[Finding] = []
    for each in files:
        uses.extend(each.uses)
        findings.extend(each.findings)
    return run._replace(uses=tuple(uses), findings=tuple(findings))


def _start_progress(
    args: argparse.Namespace, answers: str = "references answered"
) -> Progress | None:
    """A progress line on stderr for this run, where one is wanted (see `basepin.progress`)."""
    from basepin import progress

    return progress.start(quiet=args.quiet, answers=answers)


def _told(options: ResolveOptions, progress: Progress | None) -> ResolveOptions:
    return options if progress is None else options._replace(progress=progress.answered)


def _say_done(run: Report, counts: Tally, args: argparse.Namespace) -> None:
    """The summary line on stderr; for a run that found nothing to read, that it did not."""
    if args.quiet:
        return
    if not run.files:
        where = " ".join(shown(path) for path in args.paths) or "."
        print(
            f"basepin: no Dockerfiles (nor other files basepin reads) found in {where}; "
            "nothing to check",
            file=sys.stderr,
        )
        return
    from basepin.report import text

    print(text.summary_of(counts), file=sys.stderr)


def _run_check(args: argparse.Namespace) -> int:
    from basepin.report import Tally

    run, files, config = _examine(args)
    counts = Tally(run)
    _emit(run, counts.counting(files), args)
    _say_done(run, counts, args)
    return _exit_code(counts.severities, run, config)


def _run_fix(args: argparse.Namespace) -> int:
    """Exit 1 when a file changed or findings at or above --fail-on are left; else 3 when a
    fix was not written (refused, or the file could not be written); else as a check.
    `--diff` writes nothing and exits as a check does (3 also for a fix it would refuse)."""
    from basepin.fix import FixError, by_path, fix_file, plan_changes, unified_diff
    from basepin.report import Tally, head, incomplete_message, one_line, parts, plural

    if args.offline:
        raise UsageError(
            "fix has no --offline: a fix writes the digests the registries answer "
            "(basepin check --offline runs the rules that read only the files)"
        )
    run, files, config = _examine(args, bump=args.bump)
    report = _whole(run, files)
    edits = [f.fix for f in report.findings if f.fix is not None]
    spans = _reference_spans(config)
    if args.diff:
        planned = plan_changes(edits, _read_bytes, spans=spans)
        for plan in planned:
            _say_refused(plan.refused)
        for unresolved in report.incomplete:  # stdout holds the diff
            print(f"basepin: {one_line(incomplete_message(unresolved))}", file=sys.stderr)
        changes = [c for c in planned if c.changed]
        # A diff shows the files' own lines: escaped, but tabs and line ends kept.
        sys.stdout.write(shown_lines("".join(unified_diff(change) for change in changes)))
        if args.output:
            _emit(head(report), parts(report), args)
        code = _exit_code(_severities(report.findings), report, config)
        return code or (3 if any(plan.refused for plan in planned) else 0)
    roots = _tree_roots(args.paths)
    fixed: set[Edit] = set()
    changed = unwritten = 0
    for path, file_edits in by_path(edits).items():
        try:
            change = fix_file(path, file_edits, roots=roots, spans=spans)
        except FixError as exc:
            print(not_a_command(_outside(f"basepin: {exc}")), file=sys.stderr)
            unwritten += 1
            continue
        _say_refused(change.refused)
        unwritten += len(change.refused)
        fixed.update(change.applied, change.done)
        if change.changed:
            changed += 1
            edits_made = plural(len(change.applied), "edit")
            print(f"basepin: fixed {shown(path)} ({edits_made})", file=sys.stderr)
        if change.done:
            made = plural(len(change.done), "edit")
            print(f"basepin: {shown(path)}: {made} already made", file=sys.stderr)
    left = tuple(f for f in report.findings if f.fix is None or f.fix not in fixed)
    rest = report._replace(findings=left)
    counts = Tally(rest)
    _emit(head(rest), counts.counting(parts(rest)), args)
    _say_done(rest, counts, args)
    if changed:
        return 1
    return _exit_code(_severities(left), report, config) or (3 if unwritten else 0)


def _say_refused(refused: Iterable[tuple[Edit, str]]) -> None:
    for edit, reason in refused:
        where = f"{edit.path}:{edit.line}:{edit.column}"
        print(not_a_command(_outside(f"{where}: not fixed: {reason}")), file=sys.stderr)


def _reference_spans(config: Config) -> Callable[[str, bytes], set[tuple[int, int]]]:
    """Where the references of a file stand now, as the check that planned the fixes reads
    it: with its kind's reader and the same build arguments (see `basepin.read`)."""
    from functools import partial

    from basepin.read import reference_spans

    return partial(reference_spans, config)


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


def _tree_roots(paths: Sequence[str]) -> list[Path]:
    """The folders a fix may write in: each folder named, and the folder of each file named
    (not of its target: a symbolic link named on the command line does not widen them)."""
    from pathlib import Path

    if not paths:
        return [Path.cwd().resolve()]
    return [(Path(p) if Path(p).is_dir() else Path(p).parent).resolve() for p in paths]


def _emit(run: Report, files: Iterable[Report], args: argparse.Namespace) -> None:
    """Write the report as it is rendered (a monorepo's report is megabytes)."""
    pieces = _render(run, files, args)
    if args.output:
        _write_output(args.output, pieces)
    else:
        write = sys.stdout.write
        for piece in pieces:
            write(piece)
        sys.stdout.flush()


def _write_output(path: str, pieces: Iterable[str]) -> None:
    """Replace `path` whole or not at all: a report cut short must not pass for one."""
    import contextlib

    folder = os.path.dirname(path) or "."
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as stream:
            stream.writelines(pieces)
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            reason = exc.strerror or type(exc).__name__
            raise UsageError(f"cannot write the report to {path}: {reason}") from None
        raise


def _render(run: Report, files: Iterable[Report], args: argparse.Namespace) -> Iterable[str]:
    fmt = args.format
    if fmt == "json":
        from basepin.report import json

        return json.chunks(run, files)
    if fmt == "sarif":
        from basepin.report import sarif

        return sarif.chunks(
            run,
            files,
            tool_version=__version__,
            line_hashes=_line_hashes,
            source_root=os.getcwd(),
        )
    if fmt == "github":
        from basepin.report import github

        return github.lines(run, files)
    if fmt == "markdown":
        from datetime import datetime, timezone

        from basepin.report import markdown

        # A job summary is at most 1 MiB and opens with the verdict: it is made whole.
        return (markdown.render(_whole(run, files), now=datetime.now(timezone.utc)),)
    from basepin.report import text

    return text.lines(run, files, color=_use_color(args))


def _line_hashes(path: str) -> list[str] | None:
    """Code scanning's line fingerprints of a checked file (paths are relative to the cwd)."""
    from basepin.report.fingerprints import line_hashes

    try:
        return line_hashes(_read_bytes(path))
    except OSError:
        return None


def _use_color(args: argparse.Namespace) -> bool:
    if args.color != "auto":
        return bool(args.color == "always")
    if args.output or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def _exit_code(severities: Iterable[str], run: Report, config: Config) -> int:
    threshold = SEVERITY_RANK[config.fail_on]
    if any(SEVERITY_RANK[severity] >= threshold for severity in severities):
        return 1
    if run.incomplete:
        return 3
    return 0


def _severities(findings: Iterable[Finding]) -> set[str]:
    return {finding.severity for finding in findings}


# -- resolve and tags -------------------------------------------------------------------------


def _run_resolve(args: argparse.Namespace) -> int:
    from basepin.model import Missing
    from basepin.reference import parse_reference
    from basepin.resolve import resolve

    for text in args.references:
        parse_reference(text)  # InvalidReference: exit 2 with the reason
    config = _load_config(args)
    options = _resolve_options(args, config)._replace(want_facts=False, want_tags=False)
    progress = _start_progress(args)
    try:
        result = resolve(args.references, _told(options, progress))
    finally:
        if progress is not None:
            progress.stop()
    code = 0
    for text in args.references:
        lookup = result.lookups[text]
        if isinstance(lookup, Resolution):
            known = lookup.current or lookup.pinned
            print(not_a_command(shown(f"{text} {known.digest if known else '?'}")))
        else:
            reason = lookup.message if isinstance(lookup, Missing) else lookup.reason
            print(f"basepin: {_outside(f'{text}: {reason}')}", file=sys.stderr)
            code = max(code, 1 if isinstance(lookup, Missing) else 3)
    return code


def _run_vulns(args: argparse.Namespace) -> int:
    from basepin.vulns_command import run_vulns

    config = _load_config(args)
    return run_vulns(args.image, args.format, config, _resolve_options(args, config))


def _run_tags(args: argparse.Namespace) -> int:
    from basepin.reference import parse_reference
    from basepin.report.tags import render_tags
    from basepin.resolve import list_tags

    ref = parse_reference(args.image)
    config = _load_config(args)
    progress = _start_progress(args, "tag digests asked")
    if progress is not None:
        progress.waiting_for(f"waiting for {shown(ref.registry)}")
    try:
        listing = list_tags(ref, _told(_resolve_options(args, config), progress), limit=args.limit)
    finally:
        if progress is not None:
            progress.stop()
    sys.stdout.write(render_tags(listing.tags, args.format))
    for problem in listing.problems:
        print(f"basepin: {_outside(problem)}", file=sys.stderr)
    if listing.problems:
        print(
            f"basepin: the digests of {listing.unanswered} of {len(listing.tags)} tags "
            "could not be asked",
            file=sys.stderr,
        )
    if listing.incomplete is not None:
        print(f"basepin: the list is incomplete: {_outside(listing.incomplete)}", file=sys.stderr)
    return 3 if listing.problems or listing.incomplete is not None else 0
