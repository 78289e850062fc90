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
for `fix --bump`. What the answers come to (a pin, a `Resolution`) is `registry.pins`, shared
by the cache here and the network side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from basepin.errors import InvalidReference
from basepin.model import DigestInfo, Lifecycle, Lookup, Resolution, TagInfo, TagListing
from basepin.records import NamedTuple
from basepin.reference import ImageReference, parse_reference
from basepin.registry.cache import Cache, CachedTag
from basepin.registry.pins import (
    LATEST_PROBES,
    NO_PIN,
    ResolveOptions,
    asks_docker_hub,
    cached_pin_facts,
    pin_from_facts,
    pin_from_tag,
    probed_tags,
    resolution,
    tag_list_wanted,
    usable,
    with_dates,
    with_digests,
)

if TYPE_CHECKING:
    from basepin.registry.eol_cache import LifecycleStore

__all__ = ["LATEST_PROBES", "ResolveOptions", "ResolveResult", "list_tags", "resolve"]

_Key = tuple[str, str, str | None, str | None]


class ResolveResult(NamedTuple):
    lookups: dict[str, Lookup]
    warnings: list[str]
    # endoflife.date's release cycles of the products the references carry, by product.
    lifecycles: Mapping[str, Lifecycle] = MappingProxyType({})


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
    asked_network = False
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
                first, batches, unique.cache, options, endpoints, trust, early, unique.eol
            )
            unique.answers.update(zip(unique.asked, found, strict=True))
            asked_network = True
            break  # the network side read the rest
    unique.cache.close()
    eol = unique.eol
    if eol is not None and not asked_network and eol.missing():
        from basepin.registry.eol import fetch_now

        fetch_now(eol, options.eol_url, options.timeout)
    # In the order the files name them: what could not be checked is listed in that order.
    lookups = {text: unique.answers[key] for text, key in unique.keys.items()}
    if eol is None:
        return ResolveResult(lookups, [*unique.cache.warnings, *warnings])
    return ResolveResult(
        lookups, [*unique.cache.warnings, *warnings, *eol.warnings], eol.lifecycles()
    )


class _Unique:
    """The unique references seen so far, answered from the cache where it can."""

    def __init__(self, options: ResolveOptions) -> None:
        self.options = options
        self.cache = Cache.open(
            options.cache_dir, tag_ttl=options.cache_ttl, list_ttl=options.cache_ttl
        )
        # The products the references carry, for the `eol` rules (None: they are off).
        self.eol: LifecycleStore | None = None
        if options.eol_url is not None:
            import time

            from basepin.registry.eol_cache import LifecycleStore

            self.eol = LifecycleStore(options.cache_dir, time.time())
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
            if not seen and self.eol is not None:
                self.eol.add((ref,))
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


def list_tags(ref: ImageReference, options: ResolveOptions, *, limit: int = 50) -> TagListing:
    """The repository's `limit` newest tags: Docker Hub's by push date, with dates and sizes;
    elsewhere tags/list in version order (newest version first, then the other tags by name);
    with why the list is not whole where it is not. Each tag's digest comes from the listing
    where it has one, else from a HEAD (concurrent; `options.progress` is told as they are
    answered)."""
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
    pin = NO_PIN
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
            if options.want_dates and not ref.is_docker_hub:
                dates: dict[str, DigestInfo] = {}
                for name, digest in known.items():
                    facts = cache.get_digest(ref.registry, ref.repository, digest)
                    if facts is None:
                        return None
                    dates[name] = facts
                tags = with_dates(tags, dates)
    return resolution(ref, current, head, pin, tags, None)
