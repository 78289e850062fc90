"""One reference's lookup within its deadline, cache first; `lookup` sets up the run around it."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import httpx

from basepin.model import DigestInfo, Gap, Lookup, Missing, Resolution, TagInfo, Unresolved
from basepin.reference import ImageReference
from basepin.registry.cache import Cache, CachedTag
from basepin.registry.errors import NotFound, RateLimited, RegistryError
from basepin.registry.hub import HubClient
from basepin.registry.hub_answers import HubAnswers, hub_facts, hub_key
from basepin.registry.oci import RegistryClient
from basepin.registry.pins import (
    Pin,
    ResolveOptions,
    asks_docker_hub,
    cached_pin_facts,
    pin_facts_wanted,
    pin_from_facts,
    pin_from_tag,
    probed_tags,
    resolution,
    tag_list_wanted,
    usable,
    with_dates,
    with_digests,
)

# Lookups in flight at once per registry host: enough to hide latency, polite to the server.
PER_REGISTRY = 64
# A repository's tags for the rules, and why the list is not whole (None: it is).
_Listing = tuple[tuple[TagInfo, ...] | None, str | None]
HUB_TAG_PAGES = 10


class Resolver:
    """Looks up a run's references, each within its deadline, the cache first; holds the
    warnings for the user and tells the progress hook."""

    def __init__(
        self,
        registry: RegistryClient,
        hub: HubClient | None,
        cache: Cache,
        options: ResolveOptions,
        asked: Sequence[ImageReference] = (),
    ) -> None:
        self.registry = registry
        self.hub = HubAnswers(registry, hub, cache, options, self._warn_about)
        self.cache = cache
        self.options = options
        # Warnings with the place of the reference that led to each: shown in file order,
        # each once, whatever order the answers came in.
        self._warnings: dict[str, int] = {}
        self._rank = {ref: number for number, ref in enumerate(asked)}
        # For the progress line: references answered, and those still waited for by registry.
        self._answered = 0
        self._waiting: Counter[str] = Counter(ref.registry for ref in asked)
        self._report_progress()
        # When the run's network side started (the event loop's clock).
        self.started = asyncio.get_running_loop().time()
        self._limits: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(PER_REGISTRY)
        )
        self._tag_lists: dict[tuple[str, str], asyncio.Task[_Listing]] = {}

    async def prefetch_tokens(self, refs: Iterable[ImageReference]) -> None:
        repositories: dict[str, set[str]] = defaultdict(set)
        for ref in refs:
            repositories[ref.registry].add(ref.repository)
        await asyncio.gather(
            *(
                self.registry.prefetch_tokens(host, sorted(repos))
                for host, repos in repositories.items()
            )
        )

    def warn(self, rank: int, text: str) -> None:
        """A warning for the user, placed as the reference of that rank in file order."""
        self._warnings[text] = min(rank, self._warnings.get(text, rank))

    def _warn_about(self, ref: ImageReference, text: str) -> None:
        self.warn(self._rank.get(ref, 0), text)

    def sorted_warnings(self) -> list[str]:
        return sorted(self._warnings, key=lambda text: (self._warnings[text], text))

    async def one(self, ref: ImageReference) -> Lookup:
        """The answer for `ref` (see `_one`), told to the progress hook."""
        try:
            return await self._one(ref)
        finally:
            self._answered += 1
            self._waiting[ref.registry] -= 1
            self._report_progress()

    def _report_progress(self) -> None:
        if self.options.progress is not None:
            waiting = tuple(host for host, left in self._waiting.items() if left > 0)
            self.options.progress(self._answered, len(self._rank), waiting)

    async def _one(self, ref: ImageReference) -> Lookup:
        """The answer for `ref`, within twice the timeout as a whole: each request has the
        timeout, and a reference that needs several in a row gets no more than that."""
        deadline = 2 * self.options.timeout
        # The run's first requests (pings, tokens) were made for every reference: their time
        # counts against each one's, as queueing for a slot below does not.
        spent = asyncio.get_running_loop().time() - self.started
        async with self._limits[ref.registry]:
            try:
                return await asyncio.wait_for(self._lookup(ref), max(deadline - spent, 0.1))
            except asyncio.TimeoutError:  # TimeoutError itself from 3.11 on
                silent = self.registry.silence(ref.registry)
                reason = silent or f"{ref.registry}: no answer within {deadline:g} s"
                return Unresolved(ref.text, reason)
            except NotFound as exc:
                return Missing(ref.text, str(exc))
            except RegistryError as exc:
                return Unresolved(ref.text, reason_about(ref, str(exc)))
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                # Whatever a server sends becomes a reason, never a traceback.
                return Unresolved(ref.text, f"{ref.registry}: {type(exc).__name__}")

    async def _lookup(self, ref: ImageReference) -> Lookup:
        wants_tags = tag_list_wanted(ref, self.options)
        if wants_tags and not self.options.want_facts:
            self._start_tag_list(ref)  # the tag's answer is the only other request: both at once
        head: CachedTag | None = None
        current: DigestInfo | None = None
        if ref.effective_tag is not None:
            head, current = await self._tag(ref)
        pin: Pin = (None, None, None)
        if ref.digest is not None:
            found = pin_from_tag(ref, current)
            pin = found or pin_from_facts(current, await self._pinned_facts(ref))
        if wants_tags:
            self._start_tag_list(ref)  # where the tag's answer did not start it
        tags, cut = await self._tags(ref, current) if wants_tags else (None, None)
        rate_limit = self.registry.rate_limit_remaining(ref.registry)
        answer = resolution(ref, current, head, pin, tags, rate_limit)
        gaps = self._gaps(ref, answer, cut)
        return answer._replace(unchecked=gaps) if gaps else answer

    def _gaps(self, ref: ImageReference, found: Resolution, cut: str | None) -> tuple[Gap, ...]:
        """The rules this reference's answers leave unjudged, and why."""
        gaps: list[Gap] = []
        trouble = self.hub.trouble.get(hub_key(ref))
        if trouble is not None:
            current = found.current
            rules = []
            if found.pushed is None and (current is None or current.created is None):
                rules.append("old-image")
            if current is not None and not current.platforms:
                rules.append("platforms")
            if rules:
                gaps.append(Gap(tuple(rules), trouble))
        if cut is not None:
            gaps.append(Gap(("latest" if ref.effective_tag == "latest" else "outdated",), cut))
        return tuple(gaps)

    def _on_hub(self, ref: ImageReference) -> bool:
        return asks_docker_hub(ref, self.options)

    async def _tag(self, ref: ImageReference) -> tuple[CachedTag, DigestInfo]:
        """What the tag points to now, confirmed, and what that digest is."""
        tag = ref.effective_tag or ""
        cached = self.cache.get_tag(ref.registry, ref.repository, tag)
        if cached is not None and usable(ref, cached):
            return cached, await self._facts(ref, cached.digest)
        if self._on_hub(ref):
            head = await self.hub.tag_digest(ref)
            self._start_tag_list_if_wanted(ref)
            return head, await self._facts(ref, head.digest)
        # One GET: the digest is the hash of the bytes received, and the same bytes tell
        # what the digest is (an index's platforms), where not known yet.
        answer, manifest = await self.registry.tag_manifest(ref)
        self._start_tag_list_if_wanted(ref)
        info = self.cache.get_digest(
            ref.registry, ref.repository, answer.digest, outline=not self.options.want_facts
        )
        if info is None:
            if self.options.want_facts:
                info = await self.registry.facts_of(ref, manifest)
                self.cache.put_digest(ref.registry, ref.repository, info)
            else:
                info = self.registry.outline(ref, manifest)
                self.cache.put_digest(
                    ref.registry, ref.repository, info, partial=True, outline=True
                )
        pushed, size, whole = await self.hub.dates(ref, answer.digest, answer.size)
        head = CachedTag(answer.digest, answer.media_type, pushed, size, verified=True)
        if whole:
            self.cache.put_tag(ref.registry, ref.repository, tag, head)
        return head, info

    async def _confirmed_tag_digest(self, ref: ImageReference) -> CachedTag:
        """What the tag points to now, confirmed: a digest that may be written."""
        tag = ref.effective_tag or ""
        cached = self.cache.get_tag(ref.registry, ref.repository, tag)
        if cached is not None and cached.verified:
            return cached
        if self._on_hub(ref):
            return await self.hub.tag_digest(ref._replace(digest=None))
        answer, _ = await self.registry.tag_manifest(ref)
        head = CachedTag(answer.digest, answer.media_type, None, answer.size, verified=True)
        self.cache.put_tag(ref.registry, ref.repository, tag, head)
        return head

    async def _tag_digest(self, ref: ImageReference) -> CachedTag:
        """What the tag points to now, by a HEAD: a digest to compare, not to write."""
        tag = ref.effective_tag or ""
        cached = self.cache.get_tag(ref.registry, ref.repository, tag)
        if cached is not None:
            return cached
        if self._on_hub(ref):
            return await self.hub.tag_digest(ref)
        head = await self.registry.head_digest(ref)
        answer = CachedTag(head.digest, head.media_type, None, head.size, head.verified)
        self.cache.put_tag(ref.registry, ref.repository, tag, answer)
        return answer

    async def _facts(self, ref: ImageReference, digest: str) -> DigestInfo:
        """What `digest` is. On Docker Hub from the Hub API: a manifest GET costs pull quota."""
        cached = self.cache.get_digest(ref.registry, ref.repository, digest)
        if cached is not None:
            return cached
        if self._on_hub(ref):
            view = self.hub.view(ref, await self.hub.tag(ref), digest)
            info = hub_facts(digest, view)
            # Kept for good only where the Hub named the digest its facts are about.
            if info.media_type and view is not None and view.digest == digest:
                self.cache.put_digest(ref.registry, ref.repository, info)
            return info
        if not self.options.want_facts:
            outline = self.cache.get_digest(ref.registry, ref.repository, digest, outline=True)
            return outline or DigestInfo(digest, "")
        info = await self.registry.digest_info(ref, digest)
        self.cache.put_digest(ref.registry, ref.repository, info)
        return info

    async def _pinned_facts(self, ref: ImageReference) -> DigestInfo:
        """What the pinned digest is; NotFound when the repository does not hold it (unknown,
        not stale)."""
        digest = ref.digest or ""
        partial = not pin_facts_wanted(ref, self.options)
        cached = cached_pin_facts(ref, self.cache, self.options)
        if cached is not None:
            return cached
        if partial:
            head = await self.registry.head_digest(ref._replace(tag=None))
            info = DigestInfo(digest, head.media_type or "")
        else:
            info = await self.registry.digest_info(ref, digest)
        self.cache.put_digest(ref.registry, ref.repository, info, partial=partial)
        return info

    def _start_tag_list_if_wanted(self, ref: ImageReference) -> None:
        """Start the tag list once the tag's own answer is in, where the digest's facts are
        wanted: its request then does not queue ahead of the manifests and blobs on the way
        to them (the longer chain), and it is in long before they are."""
        if tag_list_wanted(ref, self.options):
            self._start_tag_list(ref)

    def _start_tag_list(self, ref: ImageReference) -> None:
        """Fetch the repository's tags (once per run) in the background."""
        key = (ref.registry, ref.repository)
        if key not in self._tag_lists:
            self._tag_lists[key] = asyncio.ensure_future(self._tag_list(ref))

    async def _tags(self, ref: ImageReference, current: DigestInfo | None) -> _Listing:
        """Tags for `outdated` and for naming `latest`, with the digests the rules need: a
        newer version's confirmed (`fix --bump` writes it), the others' to compare; and why
        the list is not whole."""
        tags, cut = await asyncio.shield(self._tag_lists[(ref.registry, ref.repository)])
        if tags is None or current is None:
            return tags, cut
        bumping = self.options.want_newer_digests and ref.effective_tag != "latest"
        if ref.is_docker_hub and not bumping:
            return tags, cut  # the Hub API's list carries the digests to compare
        wanted = probed_tags(ref, tags, self.options)
        probe = self._confirmed_tag_digest if bumping else self._tag_digest
        heads = await asyncio.gather(
            *(probe(ref._replace(tag=name, digest=None)) for name in wanted),
            return_exceptions=True,
        )
        found = {
            name: head
            for name, head in zip(wanted, heads, strict=True)
            if isinstance(head, CachedTag)
        }
        known = {name: head.digest for name, head in found.items()}
        verified = {name for name, head in found.items() if head.verified and bumping}
        tags = with_digests(tags, known, ref, current.digest, verified)
        if self.options.want_dates and not ref.is_docker_hub:
            # The cooldown needs the probed images' build dates (read once per digest).
            facts: dict[str, DigestInfo] = {}
            for name, digest in known.items():
                # A date that cannot be read is unknown: the cooldown withholds the tag.
                with contextlib.suppress(RegistryError):
                    facts[name] = await self._facts(ref, digest)
            tags = with_dates(tags, facts)
        return tags, cut

    async def _tag_list(self, ref: ImageReference) -> _Listing:
        cached = self.cache.get_tag_list(ref.registry, ref.repository)
        if cached is not None:
            return cached, None
        what = f"the tag list of {ref.registry}/{ref.repository}"
        try:
            if ref.is_docker_hub and self.hub.client is not None:
                what = f"Docker Hub's tag list of {ref.repository}"
                if self.hub.failed is not None:
                    return None, f"{what} was not read: {self.hub.failed}"
                listing = await self.hub.client.tags(ref.repository, max_pages=HUB_TAG_PAGES)
                # Only active images are ever proposed (not inactive or stale tags, nor
                # other artifacts).
                platform = self.options.size_platform
                found = tuple(tag.info(platform) for tag in listing.tags if tag.candidate)
                cut = listing.cut
            else:
                names = await self.registry.list_tags(ref)
                found = tuple(TagInfo(name) for name in names.tags)
                cut = None if names.complete else names.note
        except RegistryError as exc:
            if ref.is_docker_hub and isinstance(exc, RateLimited) and self.hub.failed is None:
                self.hub.failed = f"Docker Hub API not asked after an earlier failure: {exc}"
            # `outdated` and naming `latest` cannot judge without it: not a pass.
            said = str(exc)
            # A message that names the list already says what could not be read.
            return None, said if _tag_list_of(ref) in said else f"{what} could not be read: {said}"
        if cut is not None:
            # Judged on part of the list, `outdated` could miss the newest version.
            return found, f"{what} is incomplete: {cut}"
        self.cache.put_tag_list(ref.registry, ref.repository, found)
        return found, None


def _tag_list_of(ref: ImageReference) -> str:
    """How messages name a repository's tag list (as `RegistryClient.list_tags` does)."""
    return f"{ref.registry}/{ref.repository} tag list"


def reason_about(ref: ImageReference, message: str) -> str:
    """A registry error's message as the reason `ref` could not be checked. It is shown after
    the reference (`could not check REF: reason`), so a message that opens with the reference
    or its repository (`host/repo:tag: ...`) opens with the registry instead: each subject is
    said once, and the host is always named."""
    repository = re.escape(f"{ref.registry}/{ref.repository}")
    opening = re.match(rf"(?:{re.escape(ref.text)}|{repository}(?:[:@]\S*?)?): ", message)
    if opening is None:
        return message
    return f"{ref.registry}: {message[opening.end() :]}"
