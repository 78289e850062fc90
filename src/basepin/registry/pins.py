"""What the registries' answers about a reference come to, shared by the cache and the network
side of `basepin.resolve`: which answers the active rules want, whether a tag's answer may stand
for a reference, and how answers become a pin and a `Resolution`.

Free of the HTTP stack: `resolve` answers from the cache with these alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from types import MappingProxyType
from typing import TYPE_CHECKING

from basepin.model import DEFAULT_PLATFORM, DigestInfo, Platform, Resolution, TagInfo
from basepin.records import NamedTuple
from basepin.reference import ImageReference
from basepin.registry.cache import Cache, CachedTag

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from basepin.registry.credentials import CredentialStore
    from basepin.versions import Scope

    # references answered, references asked, registries still to answer
    Progress = Callable[[int, int, tuple[str, ...]], None]

# For `latest` on a registry without the Hub API: how many version tags to HEAD at most.
LATEST_PROBES = 12

# What a pinned digest is, and which digest the pin should hold now (see Resolution).
Pin = tuple[DigestInfo | None, str | None, Platform | None]
NO_PIN: Pin = (None, None, None)


class ResolveOptions(NamedTuple):
    mirrors: Mapping[str, str] = MappingProxyType({})
    insecure: Sequence[str] = ()
    timeout: float = 10.0
    cache_dir: Path | None = None
    cache_ttl: float = 600.0
    # The Docker Hub API's base URL; None: hub.docker.com.
    hub_url: str | None = None
    # Where Docker Hub's registry answers; None: registry-1.docker.io.
    hub_registry_url: str | None = None
    hub_username: str | None = None
    hub_token: str | None = None
    # Which answers the active rules need beyond the digest: digest facts (`old-image`,
    # `platforms`); tag lists at all (`outdated`, `latest`); tag lists of version tags, not
    # only of `latest` (`outdated`); the digests of newer versions (`fix --bump`).
    want_facts: bool = True
    want_tags: bool = True
    want_newer: bool = True
    want_newer_digests: bool = True
    bump_scope: Scope = "minor"
    credentials: CredentialStore | None = None
    # Docker Hub manifest pulls a run may spend to confirm digests the Hub API does not.
    hub_verify_pulls: int = 10
    # The build dates of the newer tags probed (the cooldown, `min-release-age`); the Docker
    # Hub API's tag list has push dates of its own.
    want_dates: bool = False
    # endoflife.date's base URL, for the `eol` rules; None: they are off.
    eol_url: str | None = None
    # Told as the registries answer (a progress line): references answered, references
    # asked, and the registries still to answer, in the order the files name them.
    progress: Progress | None = None
    # The platform whose image sizes are given (Docker Hub knows them per platform).
    size_platform: str = DEFAULT_PLATFORM


def resolution(
    ref: ImageReference,
    current: DigestInfo | None,
    head: CachedTag | None,
    pin: Pin,
    tags: tuple[TagInfo, ...] | None,
    rate_limit_remaining: int | None,
) -> Resolution:
    pinned, pin_now, pinned_platform = pin
    return Resolution(
        ref.canonical(),
        current,
        pinned=pinned,
        pushed=head.pushed if head else None,
        size=head.size if head else None,
        tags=tags,
        rate_limit_remaining=rate_limit_remaining,
        pin_now=pin_now,
        pinned_platform=pinned_platform,
    )


def usable(ref: ImageReference, head: CachedTag) -> bool:
    """Whether a tag's answer may stand for `ref`: a confirmed digest, or the very digest the
    reference pins (then nothing is written from it)."""
    return head.verified or head.digest == ref.digest


def pin_from_tag(ref: ImageReference, current: DigestInfo | None) -> Pin | None:
    """The pin when the tag's own facts tell what it is (the tag's digest or one of its
    platform manifests); None when the pinned digest must be looked up."""
    digest = ref.digest or ""
    if current is None:
        return None
    if digest == current.digest:
        return current, digest, None
    if digest in current.children:
        platform = current.platforms[current.children.index(digest)]
        return DigestInfo(digest, "", (platform,)), digest, platform
    return None


def cached_pin_facts(
    ref: ImageReference, cache: Cache, options: ResolveOptions
) -> DigestInfo | None:
    """What the cache knows of the pinned digest, as much as the rules want of it: where they
    want only that it exists, no more than that, whatever else the cache holds."""
    digest = ref.digest or ""
    if pin_facts_wanted(ref, options):
        return cache.get_digest(ref.registry, ref.repository, digest)
    found = cache.get_digest(ref.registry, ref.repository, digest, partial=True)
    return None if found is None else DigestInfo(found.digest, found.media_type)


def pin_facts_wanted(ref: ImageReference, options: ResolveOptions) -> bool:
    """Whether a pin's own facts are read, or only its existence checked (a HEAD): without
    the rules that need them, and on Docker Hub, where a manifest GET costs pull quota."""
    return options.want_facts and not asks_docker_hub(ref, options)


def asks_docker_hub(ref: ImageReference, options: ResolveOptions) -> bool:
    """Whether `ref` is asked of Docker Hub's registry itself, where a manifest GET costs
    pull quota (a mirror's answers are hashed like any other registry's; the Hub API still
    tells a docker.io image's dates and tags)."""
    if not ref.is_docker_hub:
        return False
    from basepin.registry.endpoints import normalise_host

    return not any(normalise_host(host) == ref.registry for host in options.mirrors)


def pin_from_facts(current: DigestInfo | None, facts: DigestInfo) -> Pin:
    """A pin that is not the tag's digest: stale, or one platform's manifest of it."""
    if current is None:
        return facts, None, None
    # A pin of one platform's manifest moves with that platform's manifest in the index.
    if not facts.is_index and len(facts.platforms) == 1 and current.children:
        platform = facts.platforms[0]
        for child_platform, child in zip(current.platforms, current.children, strict=False):
            if child_platform == platform:
                return facts, child, platform
    return facts, current.digest, None


def tag_list_wanted(ref: ImageReference, options: ResolveOptions) -> bool:
    """Whether the rules need the repository's tags: `latest` to name its version, a version
    tag to find newer ones; other tags (`bookworm`, a hash) have nothing to compare."""
    tag = ref.effective_tag
    if tag is None:
        return False
    if tag == "latest":
        return options.want_tags
    if not (options.want_tags and options.want_newer) and not _eol_advice_wanted(ref, options):
        return False
    from basepin.versions import parse_tag  # packaging loads only once versions matter

    return parse_tag(tag) is not None


def _eol_advice_wanted(ref: ImageReference, options: ResolveOptions) -> bool:
    """The `eol` rules name the nearest supported tag from the tag list: wanted for the
    references that carry a product endoflife.date knows."""
    if options.eol_url is None:
        return False
    from basepin.products import products_of

    return bool(products_of(ref))


def probed_tags(
    ref: ImageReference, tags: tuple[TagInfo, ...], options: ResolveOptions
) -> list[str]:
    """The tags whose digests the rules need where the tag list has none (capped)."""
    from basepin.versions import newer_tags, parse_tag

    tag = ref.effective_tag or ""
    if tag == "latest":
        versions = [t.name for t in tags if parse_tag(t.name) is not None]
        return sorted(versions, key=_specificity, reverse=True)[:LATEST_PROBES]
    if not options.want_newer_digests:
        return []
    return newer_tags(tag, (t.name for t in tags), options.bump_scope)[:1]


def with_digests(
    tags: tuple[TagInfo, ...],
    known: Mapping[str, str],
    ref: ImageReference,
    digest: str,
    verified: Set[str] = frozenset(),
) -> tuple[TagInfo, ...]:
    """`tags` with the digests found by probing (`verified`: the confirmed ones), and the
    reference's own tag's (confirmed: a tag's answer is, where it is written)."""
    if not known:
        return tags
    own = ref.effective_tag or ""
    known = {own: digest, **known}
    verified = {own, *verified}
    return tuple(
        TagInfo(
            t.name,
            known.get(t.name, t.digest),
            t.pushed,
            t.size,
            t.name in verified and t.name in known,
        )
        for t in tags
    )


def _specificity(tag: str) -> tuple[int, bool]:
    from basepin.versions import parse_tag

    version = parse_tag(tag)
    assert version is not None
    return (len(version.release), not version.suffix)


def with_dates(tags: tuple[TagInfo, ...], facts: Mapping[str, DigestInfo]) -> tuple[TagInfo, ...]:
    """`tags` with the build dates of the images probed (registries other than Docker Hub,
    whose tag lists carry no dates)."""
    return tuple(
        t._replace(pushed=info.created, pushed_source=info.created_source or "config")
        if (info := facts.get(t.name)) is not None and info.created is not None
        else t
        for t in tags
    )
