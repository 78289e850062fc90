"""Resolve: ask each registry what every unique reference points to now.

Each unique reference is looked up once. The cache answers first: a reference it can answer
whole costs no request, and a run the cache answers whole never builds the HTTP stack (nor
imports httpx and asyncio). The first reference it cannot answer sends its registry a ping
ahead (`registry.early`) while the HTTP stack is imported; the rest go to `registry.lookup`,
concurrently, bounded per registry, over one HTTP client, with the tokens of all repositories
of a registry asked for in one batched request first. Facts that never change (what a digest
is) are kept in the cache; tag answers expire.

Only what the active rules need is fetched: digest facts (dates, platforms) for `old-image`
and `platforms`, tag lists for `outdated` and for naming `latest`, the digests of newer tags
for `fix --bump`. The functions below the resolver are shared by the cache and the network.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from types import MappingProxyType
from typing import TYPE_CHECKING

from basepin.errors import InvalidReference
from basepin.model import DigestInfo, Lookup, Platform, Resolution, TagInfo
from basepin.records import NamedTuple
from basepin.reference import ImageReference, parse_reference
from basepin.registry.cache import Cache, CachedTag

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from basepin.registry.auth import CredentialStore
    from basepin.versions import Scope

    # references answered, references asked, registries still to answer
    Progress = Callable[[int, int, tuple[str, ...]], None]

# For `latest` on a registry without the Hub API: how many version tags to HEAD at most.
LATEST_PROBES = 12

# What a pinned digest is, and which digest the pin should hold now (see Resolution).
Pin = tuple[DigestInfo | None, str | None, Platform | None]
_NO_PIN: Pin = (None, None, None)
_Key = tuple[str, str, str | None, str | None]


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
    # Told as the registries answer (a progress line): references answered, references
    # asked, and the registries still to answer, in the order the files name them.
    progress: Progress | None = None


class ResolveResult(NamedTuple):
    lookups: dict[str, Lookup]
    warnings: list[str]


def resolve(references: Iterable[str], options: ResolveOptions) -> ResolveResult:
    """Lookups keyed by the reference text as written; invalid texts are left out."""
    return resolve_files([references], options)


def resolve_files(files: Iterable[Iterable[str]], options: ResolveOptions) -> ResolveResult:
    """`resolve` for references that come file by file, as the files are read: the first
    reference the cache cannot answer starts the network side, which meets each registry while
    the remaining files are still being read."""
    unique = _Unique(options)
    batches = (unique.add(texts) for texts in files)
    warnings: list[str] = []
    for first in batches:
        if first:
            from basepin.registry.early import start_pings
            from basepin.registry.endpoints import Endpoints
            from basepin.registry.trust import TrustLoader

            endpoints = Endpoints(
                options.mirrors, options.insecure, hub_registry=options.hub_registry_url
            )
            # The first registries are pinged while the HTTP stack is imported (see
            # `registry.early`), before the trust store's thread starts: it would hold them up
            # (it imports `ssl`), and they need it only once connected, if at all.
            trust = TrustLoader(start=False)
            timeout = options.timeout
            early = start_pings((ref.registry for ref in first), endpoints, trust, timeout)
            trust.start()  # loads while the HTTP stack is imported
            from basepin.registry.lookup import ask_registries

            found, warnings = ask_registries(
                first, batches, unique.cache, options, endpoints, trust, early
            )
            unique.answers.update(zip(unique.asked, found, strict=True))
            break  # the network side read the rest
    unique.cache.close()
    # In the order the files name them: what could not be checked is listed in that order.
    lookups = {text: unique.answers[key] for text, key in unique.keys.items()}
    return ResolveResult(lookups, [*unique.cache.warnings, *warnings])


class _Unique:
    """The unique references seen so far, answered from the cache where it can."""

    def __init__(self, options: ResolveOptions) -> None:
        self.options = options
        self.cache = Cache.open(
            options.cache_dir, tag_ttl=options.cache_ttl, list_ttl=options.cache_ttl
        )
        # Each reference text seen, in the order first seen, and the reference it names.
        self.keys: dict[str, _Key] = {}
        self.answers: dict[_Key, Lookup] = {}
        # Keys the cache could not answer, in the order they went to the registries.
        self.asked: list[_Key] = []
        self.asked_keys: set[_Key] = set()

    def add(self, texts: Iterable[str]) -> list[ImageReference]:
        """Take in `texts`; the new references the registries must be asked about."""
        new: list[ImageReference] = []
        for text in texts:
            try:
                ref = parse_reference(text)
            except InvalidReference:
                continue  # the rules report it as invalid
            key = (ref.registry, ref.repository, ref.effective_tag, ref.digest)
            seen = key in self.answers or key in self.asked_keys
            self.keys.setdefault(text, key)
            if seen:
                continue
            known = from_cache(ref, self.cache, self.options)
            if known is None:
                self.asked.append(key)
                self.asked_keys.add(key)
                new.append(ref)
            else:
                self.answers[key] = known
        return new


class TagListing(NamedTuple):
    """The tags `list_tags` shows, and why some have no digest where some could not be asked."""

    tags: list[TagInfo]
    # Each reason once; empty when every digest asked for was answered.
    problems: list[str]
    # How many tags have no digest for those reasons.
    unanswered: int = 0


def list_tags(ref: ImageReference, options: ResolveOptions, *, limit: int = 50) -> TagListing:
    """The repository's `limit` newest tags: Docker Hub's by push date, with dates and sizes;
    elsewhere tags/list in version order (newest version first, then the other tags by name).
    Each tag's digest comes from the listing where it has one, else from a HEAD (concurrent;
    `options.progress` is told as they are answered)."""
    from basepin.registry.lookup import list_repository_tags

    return list_repository_tags(ref, options, limit)


def from_cache(ref: ImageReference, cache: Cache, options: ResolveOptions) -> Resolution | None:
    """The whole answer for `ref` from the cache; None when a registry must be asked."""
    head: CachedTag | None = None
    current: DigestInfo | None = None
    if ref.effective_tag is not None:
        head = cache.get_tag(ref.registry, ref.repository, ref.effective_tag)
        if head is None or not usable(ref, head):
            return None
        on_hub = asks_docker_hub(ref, options)
        outline = not options.want_facts and not on_hub
        current = cache.get_digest(ref.registry, ref.repository, head.digest, outline=outline)
        if current is None:
            if on_hub or options.want_facts:
                return None
            current = DigestInfo(head.digest, "")
    pin = _NO_PIN
    if ref.digest is not None:
        found = pin_from_tag(ref, current)
        if found is None:
            facts = cached_pin_facts(ref, cache, options)
            if facts is None:
                return None
            found = pin_from_facts(current, facts)
        pin = found
    tags: tuple[TagInfo, ...] | None = None
    if tag_list_wanted(ref, options):
        tags = cache.get_tag_list(ref.registry, ref.repository)
        if tags is None:
            return None
        bumping = options.want_newer_digests and ref.effective_tag != "latest"
        if (bumping or not ref.is_docker_hub) and current is not None:
            known: dict[str, str] = {}
            verified: set[str] = set()
            for name in probed_tags(ref, tags, options):
                probed = cache.get_tag(ref.registry, ref.repository, name)
                if probed is None or (bumping and not probed.verified):
                    return None
                known[name] = probed.digest
                if bumping:
                    verified.add(name)
            tags = with_digests(tags, known, ref, current.digest, verified)
    return resolution(ref, current, head, pin, tags, None)


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
    if not options.want_tags or tag is None:
        return False
    if tag == "latest":
        return True
    if not options.want_newer:
        return False
    from basepin.versions import parse_tag  # packaging loads only once versions matter

    return parse_tag(tag) is not None


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
