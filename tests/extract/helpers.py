"""What the tests of every kind of file share: rows of uses, span checks, fixes applied the
way the pipeline applies them (rules.fixes.plan_fixes, then fix.plan_changes on the file's
bytes)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from basepin.fix import plan_changes
from basepin.model import Edit, ImageUse, ParsedDockerfile, Span
from basepin.rules.candidates import Candidate
from basepin.rules.fixes import plan_fixes

D1 = "sha256:" + "1" * 64

Row = tuple[str, int, int, int, str, bool]


def rows(parsed: ParsedDockerfile) -> list[Row]:
    """(kind, line, column, end column, reference, resolved) of each use."""
    return [
        (u.kind, u.span.line, u.span.column, u.span.end_column, u.reference, u.resolved)
        for u in parsed.uses
    ]


def assert_span(text: str, span: Span, source: str) -> None:
    """The span's offsets hold `source`, and its lines and columns say where they are."""
    assert 0 <= span.start <= span.end <= len(text)
    assert text[span.start : span.end] == source
    for line, column, offset in (
        (span.line, span.column, span.start),
        (span.end_line, span.end_column, span.end),
    ):
        line_start = text.rfind("\n", 0, offset) + 1
        assert column == offset - line_start + 1
        assert line == text.count("\n", 0, line_start) + 1


def assert_uses_fit(parsed: ParsedDockerfile, others: Mapping[str, str] | None = None) -> None:
    """Every use's span holds its source, in its own file (the file read, or another)."""
    files = {parsed.path: parsed.text, **(others or {})}
    for use in parsed.uses:
        assert_span(files[use.path], use.span, use.source)


def pinned(reference: str) -> str:
    return f"{reference}@{D1}"


def fixed(
    files: Mapping[str, str],
    uses: Sequence[ImageUse],
    wanted: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], dict[ImageUse, Edit | str]]:
    """Each use rewritten to `wanted[reference]` (by default: pinned to D1) through the
    pipeline's own fix planning; the files after, and each use's edit or why it has none."""
    candidates = [
        Candidate(
            "unpinned",
            use,
            use.path,
            use.span,
            use.reference,
            "no digest",
            wanted=(wanted or {}).get(use.reference, pinned(use.reference)),
        )
        for use in uses
    ]
    plans = plan_fixes(candidates, uses)
    edits = [plan for plan in plans.values() if isinstance(plan, Edit)]
    data = {path: text.encode("utf-8") for path, text in files.items()}
    after = dict(files)
    for change in plan_changes(edits, data.__getitem__):
        assert not change.refused, change.refused
        after[change.path] = change.after.decode("utf-8")
    return after, {cand.use: plan for cand, plan in plans.items() if cand.use is not None}


def outside_spans(text: str, spans: Sequence[tuple[int, int]], *, keep: bool = False) -> list[str]:
    """The pieces of `text` around the given runs, in order (with `keep`, each run stays at the
    end of the piece before it)."""
    pieces, at = [], 0
    for start, end in sorted(spans):
        pieces.append(text[at : end if keep else start])
        at = end
    pieces.append(text[at:])
    return pieces


def differences(before: Any, after: Any) -> Iterator[tuple[Any, Any]]:
    """The leaves of two loaded YAML documents that differ, as (before, after)."""
    if isinstance(before, dict) and isinstance(after, dict):
        assert before.keys() == after.keys()
        for key in before:
            yield from differences(before[key], after[key])
    elif isinstance(before, list) and isinstance(after, list):
        assert len(before) == len(after)
        for old, new in zip(before, after, strict=True):
            yield from differences(old, new)
    elif before != after:
        yield before, after
