"""Judge end of life: the `eol` and `eol-soon` findings of a reference, from endoflife.date's
release cycles of the products it carries (`basepin.products`), and the nearest supported tag
of the same variant where the repository's tags are known.

`python:3.8-slim-bullseye` -> "Python 3.8 reached end of life 2024-10-07, Debian 11 (Bullseye)
reached end of life 2024-08-14 (per endoflife.date); the nearest supported tag of the same
variant is 3.11-slim-trixie". The nearest tag has the same shape (the same precision, the same
words), the image's version the same or higher, and OS words and numbers moved to releases
that are supported: the smallest such move, and one that is not about to reach end of life
where there is one. No fix is offered: moving to another version is the user's call.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from basepin.product_table import CODENAMES
from basepin.products import ProductVersion, cycle_of, products_of
from basepin.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from basepin.model import EolCycle, Lifecycle, TagInfo
    from basepin.reference import ImageReference

_VERSION_TOKEN = re.compile(r"(v?)([0-9]+(?:\.[0-9]+)*)")
_NUMBERS = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_ATTACHED = re.compile(r"([a-z]+)[0-9]+(?:\.[0-9]+)*")


class Verdict(NamedTuple):
    rule: str  # "eol" or "eol-soon"
    message: str


class _Status(NamedTuple):
    text: str
    past: bool  # past end of life (else: reaches it soon)


class EolAdvisor:
    """End-of-life verdicts for a run: endoflife.date's data, the warning window and today.
    A monorepo names the same references over and over: each is judged once."""

    def __init__(
        self, find: Callable[[str], Lifecycle | None], *, today: date, warn_days: int
    ) -> None:
        # A product's release cycles by its name; None where nothing is known of it.
        self.find = find
        self.today = today
        self.soon = today + timedelta(days=warn_days)
        self._memo: dict[tuple[str, int], tuple[object, list[Verdict]]] = {}

    def verdicts(self, ref: ImageReference, tags: Sequence[TagInfo] | None = None) -> list[Verdict]:
        key = (ref.text, id(tags))
        known = self._memo.get(key)
        if known is not None and known[0] is tags:
            return known[1]
        found = self._judge(ref, tags)
        self._memo[key] = (tags, found)
        return found

    def _judge(self, ref: ImageReference, tags: Sequence[TagInfo] | None) -> list[Verdict]:
        past: list[str] = []
        soon: list[str] = []
        for version in products_of(ref):
            status = self._status(version)
            if status is not None:
                (past if status.past else soon).append(status.text)
        if not past and not soon:
            return []
        advice = ""
        if tags:
            nearest = self.nearest_supported(ref, [t.name for t in tags])
            advice = (
                f"; the nearest supported tag of the same variant is {nearest}"
                if nearest
                else "; no supported tag of the same variant was found"
            )
        found = []
        if past:
            found.append(Verdict("eol", f"{ref.text}: {', '.join(past)} (per endoflife.date)"))
        if soon:
            found.append(Verdict("eol-soon", f"{ref.text}: {', '.join(soon)} (per endoflife.date)"))
        return [verdict._replace(message=verdict.message + advice) for verdict in found]

    def _cycle(self, version: ProductVersion) -> tuple[Lifecycle, EolCycle] | None:
        lifecycle = self.find(version.product)
        cycle = None if lifecycle is None else cycle_of(lifecycle, version)
        return None if lifecycle is None or cycle is None else (lifecycle, cycle)

    def _status(self, version: ProductVersion) -> _Status | None:
        found = self._cycle(version)
        if found is None:
            return None
        lifecycle, cycle = found
        name = f"{lifecycle.label} {cycle.name}"
        if cycle.codename:
            name += f" ({cycle.codename})"
        if cycle.eol is None:
            return _Status(f"{name} is past end of life", True) if cycle.is_eol else None
        if cycle.eol <= self.today:
            return _Status(f"{name} reached end of life {cycle.eol.isoformat()}", True)
        if cycle.eol <= self.soon:
            days = (cycle.eol - self.today).days
            return _Status(
                f"{name} reaches end of life {cycle.eol.isoformat()}, in {_days(days)}", False
            )
        return None

    def nearest_supported(self, ref: ImageReference, names: Iterable[str]) -> str | None:
        """The tag of the same variant with every product supported, moved the least; one
        that is not about to reach end of life where there is one."""
        shape = _shape(ref.tag or "")
        if shape is None:
            return None
        products = [version.product for version in products_of(ref)]
        best: tuple[tuple[object, ...], str] | None = None
        for name in names:
            other = _shape(name)
            if other is None or not _same_variant(shape, other) or other[1] < shape[1]:
                continue
            rank = self._rank(ref._replace(tag=name, digest=None), products)
            if rank is None:
                continue
            key = (rank[0], other[1], *rank[1:])
            if best is None or (key, name) < best:
                best = (key, name)
        return None if best is None else best[1]

    def _rank(
        self, candidate: ImageReference, products: Sequence[str]
    ) -> tuple[object, ...] | None:
        """(whether a product reaches end of life soon, its products' cycles) for a candidate
        carrying the same products, all of them supported; None otherwise."""
        versions = products_of(candidate)
        if [version.product for version in versions] != list(products):
            return None
        soon = False
        cycles: list[tuple[int, ...]] = []
        for version in versions:
            found = self._cycle(version)
            if found is None:
                return None
            cycle = found[1]
            if cycle.eol is None and cycle.is_eol:
                return None
            if cycle.eol is not None and cycle.eol <= self.today:
                return None
            soon = soon or (cycle.eol is not None and cycle.eol <= self.soon)
            cycles.append(_numbers(cycle.name))
        return (soon, *cycles)


_Shape = tuple[str, tuple[int, ...], tuple[str, ...]]


def _shape(tag: str) -> _Shape | None:
    """A version tag split: its `v`, its release numbers, the words after them."""
    tokens = tag.lower().split("-")
    match = _VERSION_TOKEN.fullmatch(tokens[0])
    if match is None:
        return None
    return match.group(1), _numbers(match.group(2)), tuple(tokens[1:])


def _same_variant(current: _Shape, other: _Shape) -> bool:
    """The same `v`, precision and words, where OS code names and versioned words may move
    (`bullseye` -> `bookworm`, `alpine3.16` -> `alpine3.20`, `otp-26` -> `otp-27`)."""
    if current[0] != other[0] or len(current[1]) != len(other[1]):
        return False
    if len(current[2]) != len(other[2]):
        return False
    return all(_same_slot(a, b) for a, b in zip(current[2], other[2], strict=True))


def _same_slot(a: str, b: str) -> bool:
    if a == b:
        return True
    if a in CODENAMES and b in CODENAMES:
        return CODENAMES[a][0] == CODENAMES[b][0]
    if _NUMBERS.fullmatch(a) and _NUMBERS.fullmatch(b):
        return True
    first, second = _ATTACHED.fullmatch(a), _ATTACHED.fullmatch(b)
    return first is not None and second is not None and first.group(1) == second.group(1)


def _numbers(dotted: str) -> tuple[int, ...]:
    return tuple(int(part) for part in dotted.split(".")) if _NUMBERS.fullmatch(dotted) else ()


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"
