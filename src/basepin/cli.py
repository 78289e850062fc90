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
    from pathlib import Path

    from basepin.resolve import ResolveOptions

FORMATS = ("text", "json", "sarif", "github", "markdown")
_EXIT_HELP = (
    "Exit 0: nothing at or above --fail-on; 1: findings at or above it (fix: files changed); "
    "2: usage or configuration error; 3: some reference could not be checked (fix: or a fix "
    "was not written)."
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser(argv)
    try:
        args = parser.parse_args(argv)
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


def _build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; when `argv` names a command, only that command's parser is built
    (start-up counts: each parser costs time, even unused)."""
    parser = argparse.ArgumentParser(
        prog="basepin",
        description="Keep the base images of container builds pinned and fresh.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"basepin {__version__}")
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
    _add_registry_options(command)
    _add_report_options(command)
    command.set_defaults(run=_run_check)


def _build_fix(command: argparse.ArgumentParser) -> None:
    _add_source_options(command)
    _add_registry_options(command)
    command.add_argument("--bump", action="store_true", help="also apply outdated upgrades")
    command.add_argument("--diff", action="store_true", help="print a unified diff, write nothing")
    command.set_defaults(run=_run_fix, offline=False, format="text", output=None, color="auto")


def _build_resolve(command: argparse.ArgumentParser) -> None:
    command.add_argument("references", nargs="+", metavar="REF")
    _add_registry_options(command)
    command.set_defaults(run=_run_resolve)


def _build_tags(command: argparse.ArgumentParser) -> None:
    command.add_argument("image", metavar="IMAGE")
    command.add_argument("--format", choices=("text", "json"), default="text")
    _add_registry_options(command)
    command.set_defaults(run=_run_tags)


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
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="per request (10)")
    parser.add_argument(
        "--cache-dir", metavar="DIR", help="cache folder (default: $BASEPIN_CACHE_DIR, user cache)"
    )
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")


def _add_report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--offline", action="store_true", help="only the rules that need no registry"
    )
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
    if getattr(args, "max_age", None) is not None and args.max_age < 0:
        raise UsageError("--max-age takes a number of days >= 0")
    return config.merged(
        fail_on=getattr(args, "fail_on", None),
        build_args=build_args,
        registry_mirrors=mirrors,
        insecure_registries=(*config.insecure_registries, *args.insecure_registry),
        max_age=getattr(args, "max_age", None),
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

    from basepin.registry.cache import default_folder
    from basepin.resolve import ResolveOptions

    cache_dir: Path | None = None
    if not args.no_cache:
        chosen = args.cache_dir or os.environ.get("BASEPIN_CACHE_DIR")
        cache_dir = Path(chosen) if chosen else default_folder()
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
        want_facts=any(config.severity_of(r) != "off" for r in ("old-image", "platforms")),
        want_tags=any(config.severity_of(r) != "off" for r in ("outdated", "latest")),
        want_newer=config.severity_of("outdated") != "off",
        want_newer_digests=bump,
        bump_scope=config.bump,
    )


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
        from basepin.rules import judge_offline

        run = Report(tuple(paths), (), ())

        def judged_offline() -> Iterator[Report]:
            seen: set[tuple[str, str, int, int, str]] = set()
            for dockerfile in _read_files(in_order, config, found.unreadable):
                findings = _once(seen, dockerfile.path, judge_offline((dockerfile,), config))
                yield part(run, dockerfile.path, dockerfile.uses, findings, dockerfile.notes)

        return run, judged_offline(), config

    from basepin.file_queue import FileQueue
    from basepin.resolve import resolve_files
    from basepin.rules import judge

    waiting = FileQueue()

    def references() -> Iterator[list[str]]:
        # Read as resolve asks: it meets the registries while the later files are read.
        for dockerfile in _read_files(in_order, config, found.unreadable):
            waiting.put(dockerfile._replace(text=""))  # judging needs no text
            yield [use.reference for use in dockerfile.uses if use.resolved]

    done = _progress(f"basepin: asking the registries about {len(paths)} files' images...")
    try:
        result = resolve_files(references(), _resolve_options(args, config, bump=bump))
    finally:
        done()
    for warning in result.warnings:
        print(f"basepin: warning: {_outside(warning)}", file=sys.stderr)
    incomplete: dict[str, Unresolved] = {}
    for text, lookup in result.lookups.items():
        if isinstance(lookup, Unresolved):
            incomplete.setdefault(lookup.reference, lookup)
        elif isinstance(lookup, Resolution):
            for reason in lookup.unchecked:  # answered, but not all the rules could judge it
                incomplete.setdefault(reason, Unresolved(text, reason))
    run = Report(tuple(paths), (), (), tuple(incomplete.values()), result.lookups, offline=False)
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)

    def judged() -> Iterator[Report]:
        seen: set[tuple[str, str, int, int, str]] = set()
        for dockerfile in waiting.drain():
            verdict = judge((dockerfile,), result.lookups, config, now=now, bump=bump)
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


def _progress(message: str, delay: float = 1.0) -> Callable[[], None]:
    """Show `message` on a terminal's stderr once a run has taken a second; returns what
    takes it away again. Nothing on pipes and CI logs."""
    if not sys.stderr.isatty():
        return lambda: None
    import threading

    shown = threading.Event()

    def show() -> None:
        sys.stderr.write(message)
        sys.stderr.flush()
        shown.set()

    timer = threading.Timer(delay, show)
    timer.daemon = True
    timer.start()

    def clear() -> None:
        timer.cancel()
        timer.join()
        if shown.is_set():
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()

    return clear


def _run_check(args: argparse.Namespace) -> int:
    from basepin.report import Tally, text

    run, files, config = _examine(args)
    counts = Tally(run)
    _emit(run, counts.counting(files), args)
    print(text.summary_of(counts), file=sys.stderr)
    return _exit_code(counts.severities, run, config)


def _run_fix(args: argparse.Namespace) -> int:
    """Exit 1 when a file changed or findings at or above --fail-on are left; else 3 when a
    fix was not written (refused, or the file could not be written); else as a check."""
    from basepin.fix import FixError, by_path, fix_file, plan_changes, unified_diff
    from basepin.report import plural, text

    run, files, config = _examine(args, bump=args.bump)
    report = _whole(run, files)
    edits = [f.fix for f in report.findings if f.fix is not None]
    spans = _reference_spans(config)
    if args.diff:
        planned = plan_changes(edits, _read_bytes, spans=spans)
        for plan in planned:
            _say_refused(plan.refused)
        changes = [c for c in planned if c.changed]
        # A diff shows the files' own lines: escaped, but tabs and line ends kept.
        sys.stdout.write(shown_lines("".join(unified_diff(change) for change in changes)))
        if changes:
            return 1
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
    rest = Report(report.files, report.uses, left, report.incomplete, report.lookups, False)
    sys.stdout.write(text.render(rest, color=False))
    print(text.summary(rest), file=sys.stderr)
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
    from basepin.model import Missing, Resolution
    from basepin.reference import parse_reference
    from basepin.resolve import resolve

    for text in args.references:
        parse_reference(text)  # InvalidReference: exit 2 with the reason
    config = _load_config(args)
    options = _resolve_options(args, config)._replace(want_facts=False, want_tags=False)
    result = resolve(args.references, options)
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


def _run_tags(args: argparse.Namespace) -> int:
    from basepin.reference import parse_reference
    from basepin.report.tags import render_tags
    from basepin.resolve import list_tags

    ref = parse_reference(args.image)
    config = _load_config(args)
    tags = list_tags(ref, _resolve_options(args, config))
    sys.stdout.write(render_tags(tags, args.format))
    return 0
