"""Tags read as versions: which tags are versions, which are one variant, which is newer.

A version tag is `[v]N(.N)*[pre][-suffix]`, as in `3.12.1rc1-slim-bookworm`:
- the release numbers (`3.12.1`) compare as integers; their count is the tag's precision, and
  tags of different precision are never compared (`3.12` floats over every `3.12.x`, it is
  neither older nor newer than `3.12.1`);
- text attached to the numbers (`rc1`, `b5`, `_beta`) is read by `packaging.version` where it
  can (`b5` < `b10` < `rc1` < the release < `post1`); attached text it cannot read counts as
  a prerelease and compares naturally (letters as text, digit runs as numbers);
- the suffix after the first `-` names the variant (`slim-bookworm`); numbers inside it may
  move forward (`alpine3.18` -> `alpine3.19`), its words must match exactly.
`latest`, codenames (`bookworm`) and hash-like tags (7-40 lowercase hex digits, not all digits)
are not versions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cmp_to_key, lru_cache
from typing import TYPE_CHECKING, Literal

from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from _typeshed import SupportsAllComparisons

Scope = Literal["patch", "minor", "major"]
# How many leading release numbers a candidate must share with the current tag.
_SCOPE_FIXED_PARTS: dict[Scope, int] = {"major": 0, "minor": 1, "patch": 2}

_MAX_TAG_LENGTH = 128
_VERSION_TAG = re.compile(
    r"(?P<v>v)?(?P<release>[0-9]+(?:\.[0-9]+)*)(?P<attached>[A-Za-z0-9_]*)"
    r"(?:-(?P<suffix>[A-Za-z0-9_.-]+))?"
)
_HASH_LIKE = re.compile(r"[0-9a-f]{7,40}")
_SUFFIX_NUMBER = re.compile(r"([0-9]+(?:\.[0-9]+)*)")
# Suffix words that mark a prerelease (`1.0.0-beta`, `1.2.3-rc.1`). Only spelled-out words:
# packaging's one-letter spellings (a, b, c) are too likely to be variant names.
_PRERELEASE_WORD = re.compile(
    r"(?:alpha|beta|rc|pre|preview|dev|snapshot|nightly|canary)(?:[._]?[0-9]+)?", re.IGNORECASE
)
_NATURAL_RUN = re.compile(r"([^0-9]+)([0-9]*)")


@dataclass(frozen=True, order=False)
class TagVersion:
    """A tag read as a version. Order tags with `compare_tags`, not with operators."""

    text: str
    v_prefix: bool
    release: tuple[int, ...]
    attached: str  # text attached to the release numbers ("rc1"), "" when none
    suffix: str  # text after the first "-", "" when none
    # Release and attached text as packaging reads them; None when it cannot read the text.
    pep440: Version | None
    # The suffix split into the words around its numbers and the numbers themselves:
    # "alpine3.18" -> ("alpine", "") and ((3, 18),).
    suffix_words: tuple[str, ...]
    suffix_numbers: tuple[tuple[int, ...], ...]

    @property
    def major(self) -> int:
        return self.release[0]

    @property
    def minor(self) -> int | None:
        return self.release[1] if len(self.release) > 1 else None

    @property
    def patch(self) -> int | None:
        return self.release[2] if len(self.release) > 2 else None

    @property
    def is_prerelease(self) -> bool:
        """Attached prerelease text (`3.13.0rc1`), or a prerelease word in the suffix."""
        if self.attached and (self.pep440 is None or self.pep440.is_prerelease):
            return True
        return any(_PRERELEASE_WORD.fullmatch(word) for word in self.suffix.split("-"))

    @property
    def is_stable(self) -> bool:
        return not self.is_prerelease


# Every use of a repository compares against the same tag list: each tag is read once.
@lru_cache(maxsize=8192)
def parse_tag(tag: str) -> TagVersion | None:
    """Read `tag` as a version; None when it is not one (`latest`, `bookworm`, a hash)."""
    if len(tag) > _MAX_TAG_LENGTH or (_HASH_LIKE.fullmatch(tag) and not tag.isdigit()):
        return None
    match = _VERSION_TAG.fullmatch(tag)
    if match is None:
        return None
    release, attached, suffix = match["release"], match["attached"], match["suffix"] or ""
    try:
        pep440: Version | None = Version(release + attached)
    except InvalidVersion:
        pep440 = None
    pieces = _SUFFIX_NUMBER.split(suffix)
    return TagVersion(
        text=tag,
        v_prefix=match["v"] is not None,
        release=_numbers(release),
        attached=attached,
        suffix=suffix,
        pep440=pep440,
        suffix_words=tuple(pieces[0::2]),
        suffix_numbers=tuple(_numbers(piece) for piece in pieces[1::2]),
    )


def is_same_variant(candidate: str, current: str) -> bool:
    """Whether `candidate` may replace `current`: the same series, not necessarily newer.

    Both must be versions with the same `v` prefix, the same precision and the same suffix
    words; each number in the suffix must keep its shape and may only move forward
    (`1.25.4-alpine3.19` may replace `1.25.3-alpine3.18`, `-alpine3.17` may not). Prerelease
    text does not make a variant: `3.13.0rc1` is in the series of `3.12.0`.
    """
    new, old = parse_tag(candidate), parse_tag(current)
    return new is not None and old is not None and _replaces(new, old)


def compare_tags(a: str, b: str) -> int:
    """-1, 0 or 1 as `a` is older than, level with or newer than `b`.

    Release numbers decide first, then attached prerelease text (below the release), then the
    suffix: numbers in the same suffix words compare as integers, a tag without a suffix ranks
    above a suffixed one, and different suffix words are ordered by text only so that sorting
    is stable. The `v` prefix does not count. Meaningful within one variant (`is_same_variant`).

    Raises ValueError when either tag is not a version or the two differ in precision.
    """
    first, second = parse_tag(a), parse_tag(b)
    if first is None or second is None:
        not_version = a if first is None else b
        raise ValueError(f"not a version tag: {not_version!r}")
    if len(first.release) != len(second.release):
        raise ValueError(f"{a!r} and {b!r} have different precision and are not comparable")
    return _compare(first, second)


def newer_tags(current: str, candidates: Iterable[str], scope: Scope = "minor") -> list[str]:
    """Candidates of `current`'s variant that are strictly newer within `scope`, newest first.

    `scope` fixes leading release numbers: "major" fixes none, "minor" fixes the first (the
    major), "patch" fixes the first two (major and minor). A tag with fewer numbers than the
    scope fixes can only move its prerelease or suffix: `3.11` finds `3.13` with "minor" but
    nothing with "patch" (a two-part tag has no patch level), `3` finds `4` only with "major",
    while `3.11rc1` -> `3.11` or `3.11-alpine3.18` -> `3.11-alpine3.19` fit every scope.
    Prereleases are offered only when `current` is a prerelease itself. Not a version: [].
    """
    old = parse_tag(current)
    if old is None:
        return []
    fixed = _SCOPE_FIXED_PARTS[scope]
    found: dict[str, TagVersion] = {}
    for text in candidates:
        new = parse_tag(text)
        if (
            new is not None
            and text not in found
            and _replaces(new, old)
            and new.release[:fixed] == old.release[:fixed]
            and (new.is_stable or old.is_prerelease)
            and _compare(new, old) > 0
        ):
            found[text] = new
    newest_first = sorted(found.values(), key=cmp_to_key(_compare), reverse=True)
    return [version.text for version in newest_first]


def most_specific_version(tags: Iterable[str]) -> str | None:
    """The version tag that best names an image among tags sharing its digest.

    Stable beats prerelease, then more release numbers win (`3.13.1-bookworm` beats `3.13` and
    `3`), then no suffix beats a suffix; remaining ties go to the first tag in text order.
    None when no tag is a version.
    """
    versions = sorted(
        (version for version in map(parse_tag, tags) if version is not None),
        key=lambda version: version.text,
    )
    if not versions:
        return None
    best = max(
        versions,
        key=lambda version: (version.is_stable, len(version.release), not version.suffix),
    )
    return best.text


def _numbers(dotted: str) -> tuple[int, ...]:
    return tuple(int(number) for number in dotted.split("."))


def _replaces(new: TagVersion, old: TagVersion) -> bool:
    return (
        new.v_prefix == old.v_prefix
        and len(new.release) == len(old.release)
        and new.suffix_words == old.suffix_words
        and all(
            len(new_numbers) == len(old_numbers) and new_numbers >= old_numbers
            for new_numbers, old_numbers in zip(new.suffix_numbers, old.suffix_numbers, strict=True)
        )
    )


def _sign(a: SupportsAllComparisons, b: SupportsAllComparisons) -> int:
    return bool(a > b) - bool(a < b)


def _compare(a: TagVersion, b: TagVersion) -> int:
    return _sign(a.release, b.release) or _compare_attached(a, b) or _compare_suffix(a, b)


def _compare_attached(a: TagVersion, b: TagVersion) -> int:
    if a.pep440 is not None and b.pep440 is not None:
        return _sign(a.pep440, b.pep440)
    if a.pep440 is None and b.pep440 is None:
        return _sign(_natural_key(a.attached), _natural_key(b.attached))
    # Text packaging cannot read is a prerelease of an unknown kind: below all it can read.
    return 1 if a.pep440 is not None else -1


def _compare_suffix(a: TagVersion, b: TagVersion) -> int:
    if not a.suffix or not b.suffix:
        return _sign(not a.suffix, not b.suffix)
    return _sign((a.suffix_words, a.suffix_numbers), (b.suffix_words, b.suffix_numbers))


def _natural_key(text: str) -> tuple[tuple[str, int], ...]:
    # Attached text never starts with a digit (the release numbers take them all).
    return tuple(
        (letters, int(digits) if digits else -1) for letters, digits in _NATURAL_RUN.findall(text)
    )


def sort_newest_first(tags: Iterable[str]) -> list[str]:
    """A listing order for tags without dates: versions by release numbers (stable before
    prerelease at equal numbers, more specific first), then every other tag by name."""
    versions: list[TagVersion] = []
    others: list[str] = []
    for tag in tags:
        version = parse_tag(tag)
        if version is None:
            others.append(tag)
        else:
            versions.append(version)
    versions.sort(key=lambda v: (v.release, v.is_stable, not v.suffix, v.text), reverse=True)
    return [v.text for v in versions] + sorted(others)
