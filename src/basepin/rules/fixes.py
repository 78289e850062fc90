"""Fixes planned across uses: the one edit of each finding that wants a new reference, or
why there is none (a reference that spans lines, a variable other uses would break on)."""

from __future__ import annotations

from collections import defaultdict

from basepin.model import Edit, ImageUse

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from basepin.rules.candidates import Candidate


def plan_fixes(
    candidates: Sequence[Candidate], uses: Sequence[ImageUse]
) -> dict[Candidate, Edit | str]:
    """One edit (or the reason there is none) per candidate that wants a new reference.

    A reference that comes from an ARG default is fixed in the ARG line (one from a Compose
    or GitLab variable where its value is written), and only when every use of that variable
    would end up with the text it wants.
    """
    sharing: dict[tuple[str, int, int], list[ImageUse]] = defaultdict(list)
    for use in uses:
        sharing[(use.path, use.span.start, use.span.end)].append(use)
    wanted_by_use: dict[ImageUse, str] = {}
    for cand in candidates:
        if cand.use is not None and cand.wanted is not None:
            wanted_by_use.setdefault(cand.use, cand.wanted)
    plans: dict[Candidate, Edit | str] = {}
    for cand in candidates:
        if cand.use is None or cand.wanted is None:
            continue
        use = cand.use
        plans[cand] = _edit_for(
            use, cand.wanted, sharing[(use.path, use.span.start, use.span.end)], wanted_by_use
        )
    return plans


def _edit_for(
    use: ImageUse,
    wanted: str,
    sharing: Sequence[ImageUse],
    wanted_by_use: Mapping[ImageUse, str],
) -> Edit | str:
    span, source = use.span, use.source
    if span.line != span.end_line:
        return "not fixed: the reference text spans several lines"
    new_texts = set()
    for other in sharing:
        new_text = _replacement(other, wanted_by_use.get(other, other.reference), source)
        if new_text is None and other is not use:
            return (
                f"not fixed: {_variable(use)} is also used by {other.reference}, "
                "which the change would break"
            )
        if new_text is None:
            where = f"{_variable(use)}'s value" if use.via_arg else "the literal text"
            return f"not fixed: the change to {wanted} falls outside {where}"
        new_texts.add(new_text)
    if len(new_texts) != 1:
        return f"not fixed: the uses of {_variable(use)} want different values"
    replacement = new_texts.pop()
    return Edit(
        use.path, span.line, span.column, span.end_column, span.start, span.end, source, replacement
    )


# The kinds of use a Dockerfile has: their variables are ARGs. Compose, GitLab CI and the
# others have variables of their own.
_DOCKERFILE_USES = frozenset({"from", "copy-from", "mount-from", "syntax"})


def _variable(use: ImageUse) -> str:
    """The variable a use's text comes from, as its kind of file calls it."""
    word = "ARG" if use.kind in _DOCKERFILE_USES else "variable"
    return f"{word} {use.via_arg}"


def _replacement(use: ImageUse, wanted: str, source: str) -> str | None:
    """The new span text that turns `use.reference` into `wanted`, if the span can carry it."""
    if wanted == use.reference:
        return source
    at = use.reference.find(source)
    if at < 0:
        return _tail_replacement(use, wanted, source)
    prefix, suffix = use.reference[:at], use.reference[at + len(source) :]
    if not wanted.startswith(prefix) or not wanted.endswith(suffix):
        return None
    return wanted[len(prefix) : len(wanted) - len(suffix)]


def _tail_replacement(use: ImageUse, wanted: str, source: str) -> str | None:
    """For an operand with variables in it (`nginx:1.20${patch}`): the fix may only touch
    the literal tail of its text, where the wanted reference differs from the current one."""
    if use.via_arg is not None:
        return None
    shared = 0
    while shared < min(len(wanted), len(use.reference)) and (
        wanted[shared] == use.reference[shared]
    ):
        shared += 1
    removed, added = use.reference[shared:], wanted[shared:]
    if not source.endswith(removed):
        return None
    return source[: len(source) - len(removed)] + added
