"""`basepin fix`: the check's fixes written into the files (or with `--diff` shown), each file
replaced whole or left alone, and what is left reported as a check reports it."""

from __future__ import annotations

import sys

from basepin.cli.check import (
    emit,
    examine_paths,
    exit_code,
    read_bytes,
    say_done,
    severities_of,
    whole,
)
from basepin.cli.options import outside
from basepin.errors import UsageError
from basepin.escape import not_a_command, shown, shown_lines

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up counts

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path

    from basepin.config import Config
    from basepin.model import Edit


def run_fix(args: argparse.Namespace) -> int:
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
    run, files, config = examine_paths(args, bump=args.bump)
    report = whole(run, files)
    edits = [f.fix for f in report.findings if f.fix is not None]
    spans = _reference_spans(config)
    if args.diff:
        planned = plan_changes(edits, read_bytes, spans=spans)
        for plan in planned:
            _say_refused(plan.refused)
        for unresolved in report.incomplete:  # stdout holds the diff
            print(f"basepin: {one_line(incomplete_message(unresolved))}", file=sys.stderr)
        changes = [c for c in planned if c.changed]
        # A diff shows the files' own lines: escaped, but tabs and line ends kept.
        sys.stdout.write(shown_lines("".join(unified_diff(change) for change in changes)))
        if args.output:
            emit(head(report), parts(report), args)
        code = exit_code(severities_of(report.findings), report, config)
        return code or (3 if any(plan.refused for plan in planned) else 0)
    roots = _tree_roots(args.paths)
    fixed: set[Edit] = set()
    changed = unwritten = 0
    for path, file_edits in by_path(edits).items():
        try:
            change = fix_file(path, file_edits, roots=roots, spans=spans)
        except FixError as exc:
            print(not_a_command(outside(f"basepin: {exc}")), file=sys.stderr)
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
    emit(head(rest), counts.counting(parts(rest)), args)
    say_done(rest, counts, args)
    if changed:
        return 1
    return exit_code(severities_of(left), report, config) or (3 if unwritten else 0)


def _say_refused(refused: Iterable[tuple[Edit, str]]) -> None:
    for edit, reason in refused:
        where = f"{edit.path}:{edit.line}:{edit.column}"
        print(not_a_command(outside(f"{where}: not fixed: {reason}")), file=sys.stderr)


def _reference_spans(config: Config) -> Callable[[str, bytes], set[tuple[int, int]]]:
    """Where the references of a file stand now, as the check that planned the fixes reads
    it: with its kind's reader and the same build arguments (see `basepin.read`)."""
    from functools import partial

    from basepin.read import reference_spans

    return partial(reference_spans, config)


def _tree_roots(paths: Sequence[str]) -> list[Path]:
    """The folders a fix may write in: each folder named, and the folder of each file named
    (not of its target: a symbolic link named on the command line does not widen them)."""
    from pathlib import Path

    if not paths:
        return [Path.cwd().resolve()]
    return [(Path(p) if Path(p).is_dir() else Path(p).parent).resolve() for p in paths]
