"""`basepin check`: find the files, read them, ask the registries (unless offline), judge each
file as the report asks for it, and write the report; the exit code says what it found.

`basepin fix` runs the same check (`examine_paths`) before it writes its fixes.
"""

from __future__ import annotations

import os
import sys

from basepin import __version__
from basepin.cli.options import eol_on, outside, resolve_options, run_config, start_progress, told
from basepin.errors import UsageError
from basepin.escape import not_a_command, shown
from basepin.model import SEVERITY_RANK, Finding, ImageUse, ParsedDockerfile, Report, Unresolved

TYPE_CHECKING = False  # neither `typing` nor `pathlib` is imported offline: start-up counts

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
    from datetime import datetime

    from basepin.config import Config
    from basepin.model import Lifecycle
    from basepin.report import Tally
    from basepin.rules.lifecycle import EolAdvisor


def run_check(args: argparse.Namespace) -> int:
    from basepin.report import Tally

    run, files, config = examine_paths(args)
    counts = Tally(run)
    emit(run, counts.counting(files), args)
    say_done(run, counts, args)
    return exit_code(counts.severities, run, config)


def examine_paths(
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

    config = run_config(args)
    found = find(args.paths, exclude=config.exclude, kinds=config.kinds, named=config.named_files())
    # A folder that could not be searched is listed as a file that cannot be read.
    paths = [*found.files, *found.unreadable]
    in_order = sorted(paths)  # the order the formatters list files in
    if args.offline:
        from basepin.rules.offline import judge_offline

        run = Report(tuple(paths), (), ())

        def judged_offline() -> Iterator[Report]:
            eol: EolAdvisor | None = None
            kept = None if args.no_cache or not eol_on(config) else _kept_lifecycles(args)
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
    progress = start_progress(args)

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

    options = resolve_options(args, config, bump=bump)
    try:
        result = resolve_files(references(), told(options, progress))
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
        print(f"basepin: warning: {outside(warning)}", file=sys.stderr)
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


def _read_files(
    paths: Sequence[str], config: Config, unreadable: Mapping[str, str] | None = None
) -> Iterator[ParsedDockerfile]:
    """Each path read and parsed, in order (see `basepin.read`); what reading a file had to
    say that is no finding is said on stderr as it is read."""
    from basepin.read import read_files

    for parsed in read_files(paths, config, unreadable):
        for note in dict.fromkeys(parsed.notes):
            where = f"{note.path}:{note.line}:{note.column}: note"
            print(not_a_command(outside(f"basepin: {where}: {note.message}")), file=sys.stderr)
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


def whole(run: Report, files: Iterable[Report]) -> Report:
    """The run's report held whole, for what needs all of it at once (fixes, the job summary)."""
    uses: list[ImageUse] = []
    findings: list[Finding] = []
    for each in files:
        uses.extend(each.uses)
        findings.extend(each.findings)
    return run._replace(uses=tuple(uses), findings=tuple(findings))


def say_done(run: Report, counts: Tally, args: argparse.Namespace) -> None:
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


def emit(run: Report, files: Iterable[Report], args: argparse.Namespace) -> None:
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
        return (markdown.render(whole(run, files), now=datetime.now(timezone.utc)),)
    from basepin.report import text

    return text.lines(run, files, color=_use_color(args))


def _line_hashes(path: str) -> list[str] | None:
    """Code scanning's line fingerprints of a checked file (paths are relative to the cwd)."""
    from basepin.report.fingerprints import line_hashes

    try:
        return line_hashes(read_bytes(path))
    except OSError:
        return None


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


def _use_color(args: argparse.Namespace) -> bool:
    if args.color != "auto":
        return bool(args.color == "always")
    if args.output or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def exit_code(severities: Iterable[str], run: Report, config: Config) -> int:
    threshold = SEVERITY_RANK[config.fail_on]
    if any(SEVERITY_RANK[severity] >= threshold for severity in severities):
        return 1
    if run.incomplete:
        return 3
    return 0


def severities_of(findings: Iterable[Finding]) -> set[str]:
    return {finding.severity for finding in findings}
