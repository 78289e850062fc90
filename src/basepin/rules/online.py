"""The rules that read the registry's answer about a use: `stale-digest`, `platforms`,
`old-image` and `outdated`, `latest`'s version today, and the one reference every fix of a
use writes (the pin, a bump). `asks_registry` says beforehand whether any of them may speak.
"""

from __future__ import annotations

from functools import lru_cache

from basepin.config import Config
from basepin.errors import InvalidReference
from basepin.model import ImageUse, Resolution, TagInfo, size_platform
from basepin.reference import ImageReference, parse_reference
from basepin.rules.candidates import Candidate, candidate, has_rule

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from datetime import datetime

    from basepin.model import Dated
    from basepin.versions import Scope


def online_candidates(
    use: ImageUse,
    res: Resolution,
    offline: list[Candidate],
    config: Config,
    *,
    now: datetime,
    bump: bool,
) -> Iterator[Candidate]:
    """`offline` (the use's offline candidates) with what the registry's answer `res` adds,
    each that a fix would settle carrying the reference it writes."""
    from basepin.dates import tag_date, withheld  # online only: keep start-up light

    ref = parse_reference(use.reference)
    found: list[Candidate] = []
    # What a floating `latest` is today: the most specific version tag sharing its digest.
    version = _latest_version(res) if has_rule(offline, "latest") else None
    for cand in offline:
        if cand.rule == "latest" and version is not None:
            message = f"{cand.message}; {use.reference} is {ref.with_tag(version)} today"
            found.append(cand._replace(message=message))
        else:
            found.append(cand)
    if ref.digest is not None and res.pin_now is not None and ref.digest != res.pin_now:
        found.append(candidate("stale-digest", use, _stale_message(use, ref, res)))
    found.extend(_platform_candidates(use, res, config))
    found.extend(_age_candidates(use, ref, res, config, now))
    newest = _newest_of_variant(ref, res, config)
    # The cooldown: a digest or tag younger than min-release-age is not proposed yet.
    newest_held = withheld(tag_date(newest), config, now) if newest is not None else None
    if newest is not None:
        found.append(_outdated_candidate(use, ref, res, newest, config, newest_held))
    # Only a confirmed digest is written: a tag list's own digests are claims to compare.
    bump_to = newest if bump and newest is not None and newest.verified else None
    if newest_held is not None:
        bump_to = None
    pin_held = _pin_withheld(ref, res, config, now)
    wanted = _wanted_reference(ref, res, config, version, bump_to)
    if pin_held is not None and bump_to is None:
        wanted = None
    for cand in found:
        fixable = cand.rule in _PIN_RULES or (cand.rule == "outdated" and bump_to is not None)
        if cand.rule in _PIN_RULES and pin_held is not None and bump_to is None:
            cand = cand._replace(message=f"{cand.message}; not proposed: {pin_held}")
        yield cand._replace(wanted=wanted) if fixable and wanted != use.reference else cand


def _stale_message(use: ImageUse, ref: ImageReference, res: Resolution) -> str:
    """The tag moved: since when, and how much newer its image is than the pinned one."""
    from basepin.dates import current_date, describe, pinned_date

    assert ref.digest is not None
    assert res.pin_now is not None
    pinned, current = pinned_date(res), current_date(res)
    since = f" (the image it points to now was {describe(current)})" if current else ""
    behind = ""
    if pinned is not None and current is not None:
        days = (current.when - pinned.when).days
        newer = f"{days} days newer" if days >= 0 else f"{-days} days older"
        behind = f"; pinned image {describe(pinned)}, the tag's image {describe(current)}, {newer}"
    return (
        f"{use.reference}: the tag {ref.effective_tag} now points to {_short(res.pin_now)}, "
        f"not the pinned {_short(ref.digest)}{since}{behind}"
    )


def _pin_withheld(
    ref: ImageReference, res: Resolution, config: Config, now: datetime
) -> str | None:
    """Why the digest a pin would write is not proposed yet (min-release-age); None when it
    may be, or when it is the digest already pinned."""
    if config.min_release_age <= 0 or res.current is None:
        return None
    from basepin.dates import current_date, withheld

    writes = res.pin_now if ref.digest is not None and res.pin_now else res.current.digest
    if writes == ref.digest:
        return None
    held = withheld(current_date(res), config, now)
    if held is None:
        return None
    what = "the newer digest" if ref.digest is not None else "the tag's digest"
    return f"{what} {held}"


# Rules whose fix is the reference pinned to what its tag (or its version) holds today.
_PIN_RULES = frozenset({"unpinned", "latest", "stale-digest", "platforms"})


def _wanted_reference(
    ref: ImageReference,
    res: Resolution,
    config: Config,
    version: str | None,
    bump_to: TagInfo | None,
) -> str | None:
    """The one reference every fix of a use writes: each rule's edit must agree with it."""
    if res.current is None:
        return None
    tag: str | None = ref.tag
    digest: str | None = res.current.digest
    keep_child_pin = res.pinned_platform is not None and config.severity_of("platforms") == "off"
    if ref.digest is not None and keep_child_pin and res.pin_now is not None:
        digest = res.pin_now  # the user pinned one platform on purpose
    if version is not None:
        tag = version
    if bump_to is not None:
        tag, digest = bump_to.name, bump_to.digest
    pin = ref.digest is not None or config.severity_of("unpinned") != "off"
    if pin and digest is None:
        return None
    if tag is None or tag == ref.tag:
        return ref.with_digest(digest) if pin and digest else ref.text
    return ref.with_tag(tag, digest if pin else None)


def _latest_version(res: Resolution) -> str | None:
    if res.current is None or not res.tags:
        return None
    digest = res.current.digest
    from basepin.versions import most_specific_version  # online only: keep start-up light

    return most_specific_version(t.name for t in res.tags if t.digest == digest)


def _platform_candidates(use: ImageUse, res: Resolution, config: Config) -> Iterator[Candidate]:
    if res.pinned_platform is not None and res.current is not None:
        yield candidate(
            "platforms",
            use,
            f"{use.reference}: pins the {res.pinned_platform} manifest of a multi-platform "
            f"image; pin the index digest {_short(res.current.digest)} so every platform builds",
        )
        return
    wanted_platforms = _wanted_platforms(use, config)
    info = res.pinned or res.current
    if not wanted_platforms or info is None or not info.platforms:
        return
    have = {str(p) for p in info.platforms}
    missing = [p for p in wanted_platforms if not _covered(p, have)]
    if missing:
        yield candidate(
            "platforms",
            use,
            f"{use.reference}: has no image for {', '.join(missing)} "
            f"(it has {', '.join(sorted(have))})",
        )


def _wanted_platforms(use: ImageUse, config: Config) -> list[str]:
    # FROM --platform=linux/arm64 builds that one platform whatever the configuration says;
    # a variable ($BUILDPLATFORM) is known only at build time.
    if use.platform and "$" not in use.platform:
        return [use.platform]
    return list(config.platforms)


def _covered(platform: str, have: set[str]) -> bool:
    # linux/arm64 is covered by linux/arm64/v8; linux/arm/v7 needs the variant.
    return platform in have or any(h.startswith(platform + "/") for h in have)


def _age_candidates(
    use: ImageUse, ref: ImageReference, res: Resolution, config: Config, now: datetime
) -> Iterator[Candidate]:
    from basepin.dates import describe, image_date

    born: Dated | None = image_date(ref, res)
    if born is None:
        return
    days = (now - born.when).days
    if days > config.max_age:
        yield candidate(
            "old-image",
            use,
            f"{use.reference}: the image is {days} days old ({describe(born)}); "
            f"max-age is {config.max_age}",
        )


def _newest_of_variant(ref: ImageReference, res: Resolution, config: Config) -> TagInfo | None:
    if not res.tags or ref.tag is None:
        return None
    newest = _newest_tag(ref.tag, tuple(t.name for t in res.tags), config.bump)
    if newest is None:
        return None
    return next(t for t in res.tags if t.name == newest)


@lru_cache(maxsize=1024)
def _newest_tag(tag: str, names: tuple[str, ...], scope: Scope) -> str | None:
    """The newest of `names` that replaces `tag` within `scope`. A monorepo asks this for the
    same few tags thousands of times, over tag lists hundreds long."""
    from basepin.versions import newer_tags  # online only: keep start-up light

    newer = newer_tags(tag, names, scope)
    return newer[0] if newer else None


def _outdated_candidate(
    use: ImageUse,
    ref: ImageReference,
    res: Resolution,
    newest: TagInfo,
    config: Config,
    held: str | None,
) -> Candidate:
    now_tag = next((t for t in res.tags or () if t.name == ref.tag), None)
    not_yet = f"; not proposed: {newest.name} {held}" if held else ""
    return candidate(
        "outdated",
        use,
        f"{use.reference}: a newer version of the same variant exists: "
        f"{ref.tag} -> {newest.name}{_size_delta(now_tag, newest, config.platforms)}{not_yet}",
    )


def _size_delta(old: TagInfo | None, new: TagInfo | None, platforms: Sequence[str]) -> str:
    """The size change, where both sizes are known; they are sizes of the first configured
    platform's image, which is named when there are several."""
    if old is None or new is None or old.size is None or new.size is None:
        return ""
    change = (new.size - old.size) / 1_000_000
    which = f" for {size_platform(platforms)}" if len(platforms) > 1 else ""
    return f", {change:+.1f} MB{which}"


def _short(digest: str) -> str:
    algorithm, _, hexdigits = digest.partition(":")
    return f"{algorithm}:{hexdigits[:12]}"


# Rules that read the registry's answer about a use: the online rules, and the two offline
# rules whose fix (a pin, latest's version) comes from that answer.
_ASKING_RULES = ("stale-digest", "unknown", "outdated", "old-image", "platforms")


def asks_registry(use: ImageUse, config: Config) -> bool:
    """Whether a registry must be asked about `use`: some rule that reads the answer is
    neither off nor ignored for it. Where none is, asking would cost a request and could
    make the run incomplete for nothing any rule would say."""
    if not use.resolved or "*" in use.ignored_rules:
        return False

    def heard(rule: str) -> bool:
        return config.severity_of(rule) != "off" and rule not in use.ignored_rules

    if any(heard(rule) for rule in _ASKING_RULES):
        return True
    try:
        ref = parse_reference(use.reference)
    except InvalidReference:
        return False  # `invalid` says so; no registry to ask
    unpinned = ref.digest is None and heard("unpinned")
    return unpinned or (ref.tag in (None, "latest") and heard("latest"))
