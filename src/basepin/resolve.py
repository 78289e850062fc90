"""Resolve: ask each registry what every unique reference points to now.

The only place that builds the HTTP stack (imported lazily by the CLI, never offline). Each
unique reference is looked up once, concurrently, bounded per registry, over one connection
pool; tokens for all repositories of a registry are asked for in one batched request first.
Facts that never change (what a digest is) come from the cache; tag answers expire.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from basepin.errors import InvalidReference
from basepin.model import DigestInfo, Lookup, Missing, Platform, Resolution, TagInfo, Unresolved
from basepin.reference import ImageReference, parse_reference
from basepin.registry.auth import CredentialStore
from basepin.registry.cache import Cache, CachedTag
from basepin.registry.errors import NotFound, RegistryError
from basepin.registry.http import Endpoints, new_http_client
from basepin.registry.hub import HUB_URL, HubClient, HubTag
from basepin.registry.oci import RegistryClient
from basepin.versions import Scope, newer_tags, parse_tag, sort_newest_first

# Lookups in flight at once per registry host: enough to hide latency, polite to the server.
PER_REGISTRY = 16
# For `latest` on a registry without the Hub API: how many version tags to HEAD at most.
LATEST_PROBES = 12
HUB_TAG_PAGES = 10


@dataclass(frozen=True)
class ResolveOptions:
    mirrors: Mapping[str, str] = field(default_factory=dict)
    insecure: Sequence[str] = ()
    timeout: float = 10.0
    cache_dir: Path | None = None
    cache_ttl: float = 600.0
    hub_url: str = HUB_URL
    hub_username: str | None = None
    hub_token: str | None = None
    # Which answers the active rules need beyond the digest.
    want_facts: bool = True
    want_tags: bool = True
    bump_scope: Scope = "minor"
    credentials: CredentialStore | None = None


@dataclass
class ResolveResult:
    lookups: dict[str, Lookup]
    warnings: list[str]


def resolve(references: Iterable[str], options: ResolveOptions) -> ResolveResult:
    """Lookups keyed by the reference text as written; invalid texts are left out."""
    return asyncio.run(_resolve(references, options))


async def _resolve(references: Iterable[str], options: ResolveOptions) -> ResolveResult:
    by_key: dict[tuple[str, str, str | None, str | None], list[str]] = defaultdict(list)
    parsed: dict[tuple[str, str, str | None, str | None], ImageReference] = {}
    for text in dict.fromkeys(references):
        try:
            ref = parse_reference(text)
        except InvalidReference:
            continue  # the rules report it as invalid
        key = (ref.registry, ref.repository, ref.effective_tag, ref.digest)
        by_key[key].append(text)
        parsed.setdefault(key, ref)

    cache = Cache.open(options.cache_dir, tag_ttl=options.cache_ttl, list_ttl=options.cache_ttl)
    credentials = options.credentials or CredentialStore.from_environment()
    async with new_http_client(timeout=options.timeout) as http:
        registry = RegistryClient(http, credentials, Endpoints(options.mirrors, options.insecure))
        hub = None
        if any(ref.is_docker_hub for ref in parsed.values()):
            hub = HubClient(
                http,
                options.hub_url,
                username=options.hub_username,
                token=options.hub_token,
                timeout=options.timeout,
            )
        lookup = _Resolver(registry, hub, cache, options)
        await lookup.prefetch_tokens(parsed.values())
        answers = await asyncio.gather(*(lookup.one(ref) for ref in parsed.values()))
    cache.close()
    lookups: dict[str, Lookup] = {}
    for key, answer in zip(parsed, answers, strict=True):
        for text in by_key[key]:
            lookups[text] = answer
    return ResolveResult(lookups, [*cache.warnings, *lookup.warnings])


class _Resolver:
    def __init__(
        self,
        registry: RegistryClient,
        hub: HubClient | None,
        cache: Cache,
        options: ResolveOptions,
    ) -> None:
        self.registry = registry
        self.hub = hub
        self.cache = cache
        self.options = options
        self.warnings: list[str] = []
        self._limits: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(PER_REGISTRY)
        )
        self._hub_tags: dict[str, asyncio.Task[HubTag | None]] = {}
        self._tag_lists: dict[tuple[str, str], asyncio.Task[tuple[TagInfo, ...] | None]] = {}
        self._hub_failed = False

    async def prefetch_tokens(self, refs: Iterable[ImageReference]) -> None:
        repositories: dict[str, set[str]] = defaultdict(set)
        for ref in refs:
            if self.cache.get_tag(ref.registry, ref.repository, ref.effective_tag or "") is None:
                repositories[ref.registry].add(ref.repository)
        await asyncio.gather(
            *(
                self.registry.prefetch_tokens(host, sorted(repos))
                for host, repos in repositories.items()
            )
        )

    async def one(self, ref: ImageReference) -> Lookup:
        async with self._limits[ref.registry]:
            try:
                return await self._lookup(ref)
            except NotFound as exc:
                return Missing(ref.text, str(exc))
            except RegistryError as exc:
                return Unresolved(ref.text, str(exc))

    async def _lookup(self, ref: ImageReference) -> Lookup:
        current: DigestInfo | None = None
        pushed = size = None
        if ref.effective_tag is not None:
            head = await self._tag_digest(ref)
            pushed, size = head.pushed, head.size
            current = await self._facts(ref, head.digest)
        pinned = pin_now = None
        pinned_platform: Platform | None = None
        if ref.digest is not None:
            if current is not None and ref.digest == current.digest:
                pinned, pin_now = current, current.digest
            else:
                pinned, pin_now, pinned_platform = await self._pinned(ref, current)
        tags = await self._tags(ref, current) if self.options.want_tags else None
        return Resolution(
            ref.canonical(),
            current,
            pinned=pinned,
            pushed=pushed,
            size=size,
            tags=tags,
            rate_limit_remaining=self.registry.rate_limit_remaining(ref.registry),
            pin_now=pin_now,
            pinned_platform=pinned_platform,
        )

    async def _tag_digest(self, ref: ImageReference) -> CachedTag:
        tag = ref.effective_tag or ""
        cached = self.cache.get_tag(ref.registry, ref.repository, tag)
        if cached is not None:
            return cached
        head = await self.registry.head_digest(ref)
        hub_tag = await self._hub_tag(ref)
        pushed = hub_tag.pushed if hub_tag and hub_tag.digest == head.digest else None
        size = hub_tag.size if hub_tag and hub_tag.digest == head.digest else head.size
        answer = CachedTag(head.digest, head.media_type, pushed, size)
        self.cache.put_tag(ref.registry, ref.repository, tag, answer)
        return answer

    async def _facts(self, ref: ImageReference, digest: str) -> DigestInfo:
        """What `digest` is. On Docker Hub from the Hub API: a manifest GET costs pull quota."""
        cached = self.cache.get_digest(ref.registry, ref.repository, digest)
        if cached is not None:
            return cached
        if ref.is_docker_hub:
            info = _hub_facts(digest, await self._hub_tag(ref))
            if info.media_type:  # the Hub API knew it; worth keeping
                self.cache.put_digest(ref.registry, ref.repository, info)
            return info
        if not self.options.want_facts:
            return DigestInfo(digest, "")
        info = await self.registry.digest_info(ref, digest)
        self.cache.put_digest(ref.registry, ref.repository, info)
        return info

    async def _pinned(
        self, ref: ImageReference, current: DigestInfo | None
    ) -> tuple[DigestInfo, str | None, Platform | None]:
        """Facts of a pin that is not the tag's digest: a platform child, or stale."""
        digest = ref.digest or ""
        if current is not None and digest in current.children:
            platform = current.platforms[current.children.index(digest)]
            return DigestInfo(digest, "", (platform,)), digest, platform
        cached = self.cache.get_digest(ref.registry, ref.repository, digest)
        if cached is None:
            head = await self.registry.head_digest(
                replace(ref, tag=None)
            )  # NotFound: unknown, not stale
            if ref.is_docker_hub or not self.options.want_facts:
                cached = DigestInfo(digest, head.media_type or "")
            else:
                cached = await self.registry.digest_info(ref, digest)
                self.cache.put_digest(ref.registry, ref.repository, cached)
        if current is None:
            return cached, None, None
        # A pin of one platform's manifest moves with that platform's manifest in the index.
        if not cached.is_index and len(cached.platforms) == 1 and current.children:
            platform = cached.platforms[0]
            for child_platform, child in zip(current.platforms, current.children, strict=False):
                if child_platform == platform:
                    return cached, child, platform
        return cached, current.digest, None

    async def _hub_tag(self, ref: ImageReference) -> HubTag | None:
        """The Hub API's view of a docker.io tag (dates, sizes, platforms); None elsewhere."""
        if self.hub is None or not ref.is_docker_hub or ref.effective_tag is None:
            return None
        key = f"{ref.repository}:{ref.effective_tag}"
        if key not in self._hub_tags:
            self._hub_tags[key] = asyncio.ensure_future(self._ask_hub(ref))
        return await self._hub_tags[key]

    async def _ask_hub(self, ref: ImageReference) -> HubTag | None:
        assert self.hub is not None
        if self._hub_failed:
            return None
        try:
            return await self.hub.tag(ref.repository, ref.effective_tag or "")
        except RegistryError as exc:
            self._hub_failed = True
            self.warnings.append(f"Docker Hub API: {exc}; push dates and sizes are unknown")
            return None

    async def _tags(
        self, ref: ImageReference, current: DigestInfo | None
    ) -> tuple[TagInfo, ...] | None:
        """Tags for `outdated` and for naming `latest`; None when the tag is no version."""
        tag = ref.effective_tag
        if tag is None or (tag != "latest" and parse_tag(tag) is None):
            return None
        key = (ref.registry, ref.repository)
        if key not in self._tag_lists:
            self._tag_lists[key] = asyncio.ensure_future(self._tag_list(ref))
        tags = await self._tag_lists[key]
        if tags is None or ref.is_docker_hub or current is None:
            return tags
        return await self._probe_digests(ref, tags, tag, current.digest)

    async def _tag_list(self, ref: ImageReference) -> tuple[TagInfo, ...] | None:
        cached = self.cache.get_tag_list(ref.registry, ref.repository)
        if cached is not None:
            return cached
        try:
            if ref.is_docker_hub:
                if self.hub is None or self._hub_failed:
                    return None
                found = tuple(await self.hub.tags(ref.repository, max_pages=HUB_TAG_PAGES))
            else:
                listing = await self.registry.list_tags(ref)
                found = tuple(TagInfo(name) for name in listing.tags)
        except RegistryError as exc:
            self.warnings.append(f"{ref.registry}/{ref.repository}: tag list: {exc}")
            return None
        self.cache.put_tag_list(ref.registry, ref.repository, found)
        return found

    async def _probe_digests(
        self, ref: ImageReference, tags: tuple[TagInfo, ...], tag: str, digest: str
    ) -> tuple[TagInfo, ...]:
        """tags/list has no digests: HEAD the few tags the rules need one for (capped)."""
        if tag == "latest":
            versions = [t.name for t in tags if parse_tag(t.name) is not None]
            wanted = sorted(versions, key=_specificity, reverse=True)[:LATEST_PROBES]
        else:
            wanted = newer_tags(tag, (t.name for t in tags), self.options.bump_scope)[:1]
        if not wanted:
            return tags
        heads = await asyncio.gather(
            *(self._tag_digest(replace(ref, tag=name)) for name in wanted),
            return_exceptions=True,
        )
        known = {
            name: head.digest
            for name, head in zip(wanted, heads, strict=True)
            if isinstance(head, CachedTag)
        }
        known.setdefault(tag, digest)
        return tuple(TagInfo(t.name, known.get(t.name, t.digest), t.pushed, t.size) for t in tags)


def list_tags(ref: ImageReference, options: ResolveOptions) -> list[TagInfo]:
    """The repository's tags, newest first: Docker Hub with dates and sizes, elsewhere
    tags/list in version order (newest version first, then the other tags by name)."""
    return asyncio.run(_list_tags(ref, options))


async def _list_tags(ref: ImageReference, options: ResolveOptions) -> list[TagInfo]:
    credentials = options.credentials or CredentialStore.from_environment()
    async with new_http_client(timeout=options.timeout) as http:
        if ref.is_docker_hub and ref.registry not in options.mirrors:
            hub = HubClient(
                http,
                options.hub_url,
                username=options.hub_username,
                token=options.hub_token,
                timeout=options.timeout,
            )
            found = await hub.tags(ref.repository, max_pages=HUB_TAG_PAGES)
            epoch = datetime.min.replace(tzinfo=timezone.utc)
            return sorted(found, key=lambda t: t.pushed or epoch, reverse=True)
        registry = RegistryClient(http, credentials, Endpoints(options.mirrors, options.insecure))
        listing = await registry.list_tags(ref)
    return [TagInfo(name) for name in sort_newest_first(listing.tags)]


def _specificity(tag: str) -> tuple[int, bool]:
    version = parse_tag(tag)
    assert version is not None
    return (len(version.release), not version.suffix)


def _hub_facts(digest: str, hub_tag: HubTag | None) -> DigestInfo:
    if hub_tag is None or hub_tag.digest != digest:
        return DigestInfo(digest, "")
    images = [image for image in hub_tag.images if image.os != "unknown"]
    children = tuple(image.digest for image in images if image.digest)
    is_index = len(images) > 1 or (hub_tag.media_type or "").endswith(
        ("index.v1+json", "list.v2+json")
    )
    return DigestInfo(
        digest,
        hub_tag.media_type or "",
        tuple(image.platform for image in images),
        is_index=is_index,
        children=children if len(children) == len(images) else (),
        created=None,
        size=hub_tag.size,
    )
