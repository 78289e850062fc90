"""A rule's finding before configuration has its say, and how one is made: the floor every
rule of the judge builds on (nothing else of `basepin.rules` is imported here)."""

from __future__ import annotations

from basepin.model import ImageUse, Span
from basepin.records import NamedTuple

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Iterable

    from basepin.model import Severity


class Candidate(NamedTuple):
    """A finding before configuration and inline ignores have had their say."""

    rule: str
    use: ImageUse | None
    path: str
    span: Span
    reference: str
    message: str
    severity: Severity | None = None  # None: the rule's configured severity
    # The reference text the fix would write in place of the use's reference.
    wanted: str | None = None


def candidate(rule: str, use: ImageUse, message: str, *, wanted: str | None = None) -> Candidate:
    return Candidate(rule, use, use.path, use.span, use.reference, message, wanted=wanted)


def has_rule(candidates: Iterable[Candidate], rule: str) -> bool:
    return any(c.rule == rule for c in candidates)
