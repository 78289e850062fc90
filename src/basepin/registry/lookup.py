"""The network side of `basepin.resolve`: look references up in their registries.

Imported only when the cache cannot answer, so a run the cache answers whole never loads
httpx or asyncio. One HTTP client serves the run; lookups run concurrently, at most
PER_REGISTRY at once per registry host, after one batched token request per registry.
Each answer is written to the cache as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone

import httpx

from basepin.model import (
    DigestInfo,
    Gap,
    Lookup,
    Missing,
    Resolution,
    TagInfo,
    TagListing,
    Unresolved,
)
from basepin.reference import ImageReference
from basepin.registry.cache import Cache, CachedTag
from basepin.registry.credentials import CredentialStore
from basepin.registry.early import Pending
from basepin.registry.endpoints import Endpoints
from basepin.registry.eol_cache import LifecycleStore
from basepin.registry.errors import NotFound, RateLimited, RegistryError, Unverified
from basepin.registry.http import RetryPolicy
from basepin.registry.hub import HUB_URL, MAX_PAGE_SIZE, MAX_PAGES, HubClient, HubTag, hub_confirms
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
from basepin.registry.pools import load_network_backend, new_http_client
from basepin.registry.trust import TrustLoader, default_context
from basepin.versions import sort_newest_first

# Lookups in flight at once per registry host: enough to hide latency, polite to the server.
PER_REGISTRY = 64
HUB_TAG_PAGES = MAX_PAGES
# A repository's tags for the rules, and why the list is not whole (None: it is).
_Listing = tuple[tuple[TagInfo, ...] | None, str | None]
HUB_TAG_PAGES = 10
# A tag as distribution's reference grammar has it: anything else names no manifest to ask.
TAG_NAME = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)


def ask_registries(
    refs: Sequence[ImageReference],
    more: Iterable[Sequence[ImageReference]],
    cache: Cache,
    options: ResolveOptions,
    endpoints: Endpoints,
    trust: TrustLoader,
    early: Mapping[str, Pending],
    eol: LifecycleStore | None = None,
) -> tuple[list[Lookup], list[str]]:
    """A lookup for each of `refs`, then for each of the references `more` yields (in order),
    and warnings for the user. `endpoints`: those of `options`; `trust`: the TLS trust store
    being loaded; `early`: the answers to pings sent ahead (see `basepin.registry.early`), by
    registry; `eol`: the products whose endoflife.date data to fetch, over the same client.

    Each registry is introduced to as soon as a reference names it, while `more` is still
    being produced (files being read): that round trip is then over when the lookups start.
    """
    return asyncio.run(_ask(refs, more, cache, options, endpoints, trust, early, eol))


async def _ask(
    refs: Sequence[ImageReference],
    more: Iterable[Sequence[ImageReference]],
    cache: Cache,
    options: ResolveOptions,
    endpoints: Endpoints,
    trust: TrustLoader,
    early: Mapping[str, Pending],
    eol: LifecycleStore | None,
) -> tuple[list[Lookup], list[str]]:
    credentials = options.credentials or CredentialStore.from_environment()
    async with new_http_client(timeout=options.timeout, trust=trust.context()) as http:
        registry = RegistryClient(
            http, credentials, endpoints, retry=RetryPolicy(deadline=options.timeout)
        )
        for host, answer in early.items():
            registry.adopt(host, answer)
        # Now rather than on the first connection's way: the token realm a ping names is
        # then connected to as soon as it is known, while the files are still being read.
        await load_network_backend()
        asked: list[ImageReference] = []
        # Held here as well: the event loop keeps only weak references to tasks.
        introductions: dict[str, asyncio.Task[None]] = {}
        for batch in itertools.chain([refs], more):
            for ref in batch:
                if ref.registry not in introductions:
                    introduction = asyncio.ensure_future(registry.introduce(ref.registry))
                    introductions[ref.registry] = introduction
            asked += batch
            await asyncio.sleep(0)  # the introductions' answers come in between batches
        # Every reference is known now, and so is every product they carry.
        lifecycles = None
        if eol is not None and eol.missing():
            from basepin.registry.eol import fetch_missing

            lifecycles = asyncio.ensure_future(
                fetch_missing(http, eol, options.eol_url, options.timeout)
            )
        hub = _hub_client(http, options) if any(ref.is_docker_hub for ref in asked) else None
        # The connections the lookups will use open while the tokens are fetched.
        per_registry = Counter(ref.registry for ref in asked)
        opening = [
            asyncio.ensure_future(registry.preconnect(host, min(count, PER_REGISTRY)))
            for host, count in per_registry.items()
        ]
        resolver = _Resolver(registry, hub, cache, options, asked)
        # An optimisation, bounded like any request: a token server that does not answer
        # must not hold up the lookups, which then ask (and report) themselves.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(resolver.prefetch_tokens(asked), options.timeout)
        answers = await asyncio.gather(*(resolver.one(ref) for ref in asked))
        await asyncio.gather(*opening)
        if lifecycles is not None:
            await lifecycles
    if resolver.pulls_spent:
        resolver.warn(
            len(asked),
            f"Docker Hub: {resolver.pulls_spent} manifest pull(s) spent to confirm digests "
            "the Hub API did not confirm",
        )
    return list(answers), resolver.sorted_warnings()


def _hub_client(http: httpx.AsyncClient, options: ResolveOptions) -> HubClient:
    return HubClient(
        http,
        options.hub_url or HUB_URL,
        username=options.hub_username,
        token=options.hub_token,
        timeout=options.timeout,
    )


def list_repository_tags(ref: ImageReference, options: ResolveOptions, limit: int) -> TagListing:
    """See `basepin.resolve.list_tags`."""
    return asyncio.run(_list_tags(ref, options, limit))


async def _list_tags(ref: ImageReference, options: ResolveOptions, limit: int) -> TagListing:
    credentials = options.credentials or CredentialStore.from_environment()
    async with new_http_client(timeout=options.timeout, trust=default_context()) as http:
        endpoints = Endpoints(
            options.mirrors, options.insecure, hub_registry=options.hub_registry_url
        )
        registry = RegistryClient(
            http, credentials, endpoints, retry=RetryPolicy(deadline=options.timeout)
        )
        if asks_docker_hub(ref, options):
            # The API lists the most recently updated first: the pages the limit needs.
            pages = min(HUB_TAG_PAGES, -(-limit // MAX_PAGE_SIZE))
            found = await _hub_client(http, options).tags(ref.repository, max_pages=pages)
            epoch = datetime.min.replace(tzinfo=timezone.utc)
            infos = (tag.info(options.size_platform) for tag in found.tags)
            tags = sorted(infos, key=lambda t: t.pushed or epoch, reverse=True)[:limit]
            # A list cut by the pages the limit needs is cut as asked.
            cut = found.cut if len(found.tags) < limit else None
        else:
            listing = await registry.list_tags(ref)
            tags = [TagInfo(name) for name in sort_newest_first(listing.tags)[:limit]]
            cut = None if listing.complete else listing.note
        shown = await _with_head_digests(registry, ref, tags, options)
        return shown._replace(incomplete=cut)


async def _with_head_digests(
    registry: RegistryClient, ref: ImageReference, tags: list[TagInfo], options: ResolveOptions
) -> TagListing:
    """`tags` with the digest of each that has none yet, from concurrent HEADs (a HEAD costs
    no Docker Hub pull); what could not be asked is said once per reason."""
    asked = [t.name for t in tags if t.digest is None and TAG_NAME.fullmatch(t.name)]
    limit = asyncio.Semaphore(PER_REGISTRY)
    done = 0

    async def head(name: str) -> str | None:
        nonlocal done
        async with limit:
            try:
                return (await registry.head_digest(ref._replace(tag=name, digest=None))).digest
            finally:
                done += 1
                if options.progress is not None:
                    options.progress(done, len(asked), (ref.registry,) if done < len(asked) else ())

    answers = await asyncio.gather(*(head(name) for name in asked), return_exceptions=True)
    digests: dict[str, str] = {}
    problems: dict[str, None] = {}
    for name, answer in zip(asked, answers, strict=True):
        if isinstance(answer, str):
            digests[name] = answer
        elif isinstance(answer, NotFound):
            continue  # removed since it was listed: no digest to show
        elif isinstance(answer, RegistryError):
            problems[reason_about(ref._replace(tag=name, digest=None), str(answer))] = None
        elif isinstance(answer, (httpx.HTTPError, httpx.InvalidURL)):
            problems[f"{ref.registry}: {type(answer).__name__}"] = None
        elif isinstance(answer, BaseException):
            raise answer
    tags = [t._replace(digest=digests.get(t.name, t.digest)) for t in tags]
    unanswered = sum(1 for name in asked if name not in digests)
    return TagListing(tuple(tags), None, tuple(problems), unanswered if problems else 0)


class _Resolver:
    def __init__(
        self,
        registry: RegistryClient,
        hub: HubClient | None,
        cache: Cache,
        options: ResolveOptions,
        asked: Sequence[ImageReference] = (),
    ) -> None:
        self.registry = registry
        self.hub = hub
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
        self._hub_tags: dict[str, asyncio.Task[HubTag | None]] = {}
        # Why the Hub API told nothing usable about a tag (by `_hub_key`).
        self._hub_trouble: dict[str, str] = {}
        self._tag_lists: dict[tuple[str, str], asyncio.Task[_Listing]] = {}
        # Set when a Hub API question failed: the rest are not asked.
        self._hub_failed: str | None = None
        # Docker Hub manifest pulls spent on confirming digests the Hub API did not.
        self.pulls_spent = 0

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
        trouble = self._hub_trouble.get(_hub_key(ref))
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
            head = await self._hub_tag_digest(ref)
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
        pushed, size, whole = await self._hub_dates(ref, answer.digest, answer.size)
        head = CachedTag(answer.digest, answer.media_type, pushed, size, verified=True)
        if whole:
            self.cache.put_tag(ref.registry, ref.repository, tag, head)
        return head, info

    async def _hub_dates(
        self, ref: ImageReference, digest: str, size: int | None
    ) -> tuple[datetime | None, int | None, bool]:
        """The push date and size of a docker.io tag asked of a mirror, from the Hub API when
        its answer is about the same digest; and whether nothing wanted is missing."""
        if not ref.is_docker_hub or not self.options.want_facts:
            return None, size, True
        view = self._hub_view(ref, await self._hub_tag(ref), digest)
        if view is None:
            return None, size, self.hub is None
        return view.image_pushed(), view.size_for(self.options.size_platform), True

    async def _confirmed_tag_digest(self, ref: ImageReference) -> CachedTag:
        """What the tag points to now, confirmed: a digest that may be written."""
        tag = ref.effective_tag or ""
        cached = self.cache.get_tag(ref.registry, ref.repository, tag)
        if cached is not None and cached.verified:
            return cached
        if self._on_hub(ref):
            return await self._hub_tag_digest(ref._replace(digest=None))
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
            return await self._hub_tag_digest(ref)
        head = await self.registry.head_digest(ref)
        answer = CachedTag(head.digest, head.media_type, None, head.size, head.verified)
        self.cache.put_tag(ref.registry, ref.repository, tag, answer)
        return answer

    async def _hub_tag_digest(self, ref: ImageReference) -> CachedTag:
        """A Docker Hub tag's digest from a HEAD (no pull quota), with the Hub API's dates.

        The HEAD is confirmed when the Hub API, a second and independent answer, names the
        same digest for the tag. A digest other than the one `ref` pins (so one that may be
        written) and that the Hub API does not confirm is confirmed by hashing the manifest
        (a pull, within the run's budget), or the lookup fails as unverified.
        """
        tag = ref.effective_tag or ""
        asking_hub = asyncio.ensure_future(self._hub_tag(ref))  # both questions at once
        head = await self.registry.head_digest(ref)
        hub_tag = await asking_hub
        agrees = hub_tag is not None and hub_confirms(hub_tag, head.digest)
        verified = head.verified or agrees
        if not verified and head.digest != ref.digest:
            await self._pull_to_confirm(ref, head.digest, hub_tag)
            verified = True
        view = self._hub_view(ref, hub_tag, head.digest)
        pushed = view.image_pushed() if view else None
        size = view.size_for(self.options.size_platform) if view else None
        answer = CachedTag(head.digest, head.media_type, pushed, size, verified)
        if view is not None:  # without the Hub's dates it is not worth keeping
            self.cache.put_tag(ref.registry, ref.repository, tag, answer)
        return answer

    async def _pull_to_confirm(
        self, ref: ImageReference, digest: str, hub_tag: HubTag | None
    ) -> None:
        """Hash the manifest `digest` names (one Docker Hub pull), or raise Unverified when
        the run's pulls for this are spent."""
        if hub_tag is None:
            why = "the Docker Hub API gave no answer for the tag"
        elif hub_tag.digest:
            why = f"the Docker Hub API names {hub_tag.digest} for the tag"
        else:
            why = "the Docker Hub API names no digest for the tag"
        if self.pulls_spent >= self.options.hub_verify_pulls:
            raise Unverified(
                f"{ref.registry}/{ref.repository}:{ref.effective_tag}: the registry answers "
                f"{digest} and {why}; not confirmed, so not written (the "
                f"{self.options.hub_verify_pulls} manifest pulls a run may spend to confirm "
                "digests are spent)",
                registry=ref.registry,
                repository=ref.repository,
            )
        self.pulls_spent += 1
        await self.registry.manifest(ref, digest)

    async def _facts(self, ref: ImageReference, digest: str) -> DigestInfo:
        """What `digest` is. On Docker Hub from the Hub API: a manifest GET costs pull quota."""
        cached = self.cache.get_digest(ref.registry, ref.repository, digest)
        if cached is not None:
            return cached
        if self._on_hub(ref):
            view = self._hub_view(ref, await self._hub_tag(ref), digest)
            info = _hub_facts(digest, view)
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

    async def _hub_tag(self, ref: ImageReference) -> HubTag | None:
        """The Hub API's answer for a docker.io tag (dates, sizes, platforms, its digest);
        None elsewhere, and when it told nothing (the reason is kept for the rules)."""
        if self.hub is None or not ref.is_docker_hub or ref.effective_tag is None:
            return None
        key = _hub_key(ref)
        if key not in self._hub_tags:
            self._hub_tags[key] = asyncio.ensure_future(self._ask_hub(ref))
        # Shielded: another lookup may wait for the same answer after this one gave up.
        return await asyncio.shield(self._hub_tags[key])

    def _hub_view(self, ref: ImageReference, hub_tag: HubTag | None, digest: str) -> HubTag | None:
        """`hub_tag` where its dates, sizes and platforms are those of `digest`: it names that
        digest, or none (many multi-platform tags: their dates still count). An answer about
        another digest (the tag moved between the two answers) is set aside, and why kept."""
        if hub_tag is not None and hub_tag.digest not in (None, digest):
            self._hub_trouble.setdefault(
                _hub_key(ref),
                f"Docker Hub API describes {ref.effective_tag} as {_short(hub_tag.digest)}, not"
                f" the registry's {_short(digest)} (the tag moved between the answers)",
            )
            return None
        return hub_tag

    async def _ask_hub(self, ref: ImageReference) -> HubTag | None:
        assert self.hub is not None
        key = _hub_key(ref)
        if self._hub_failed is not None:
            self._hub_trouble[key] = self._hub_failed
            return None
        tag = ref.effective_tag or ""
        try:
            found = await self.hub.tag(ref.repository, tag)
        except RegistryError as exc:
            self._hub_trouble[key] = str(exc)
            if self._hub_failed is None:
                self._hub_failed = f"Docker Hub API not asked after an earlier failure: {exc}"
                # Which tag met the failure first depends on timing: the warning names none.
                asked = f"{ref.repository}:{tag}"
                reason = str(exc).replace(f" for {asked}", "").replace(f" to {asked}", "")
                self.warn(
                    self._rank.get(ref, 0),
                    f"Docker Hub API: {reason}; push dates and sizes are unknown this run",
                )
            return None
        if found is None:
            self._hub_trouble[key] = (
                f"Docker Hub API has no tag {ref.effective_tag} in {ref.repository}"
            )
        return found

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
            if ref.is_docker_hub and self.hub is not None:
                what = f"Docker Hub's tag list of {ref.repository}"
                if self._hub_failed is not None:
                    return None, f"{what} was not read: {self._hub_failed}"
                listing = await self.hub.tags(ref.repository, max_pages=HUB_TAG_PAGES)
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
            if ref.is_docker_hub and isinstance(exc, RateLimited) and self._hub_failed is None:
                self._hub_failed = f"Docker Hub API not asked after an earlier failure: {exc}"
            # `outdated` and naming `latest` cannot judge without it: not a pass.
            said = str(exc)
            # A message that names the list already says what could not be read.
            return None, said if _tag_list_of(ref) in said else f"{what} could not be read: {said}"
        if cut is not None:
            # Judged on part of the list, `outdated` could miss the newest version.
            return found, f"{what} is incomplete: {cut}"
        self.cache.put_tag_list(ref.registry, ref.repository, found)
        return found, None


def _hub_key(ref: ImageReference) -> str:
    return f"{ref.repository}:{ref.effective_tag}"


def _short(digest: str) -> str:
    algorithm, _, hexdigits = digest.partition(":")
    return f"{algorithm}:{hexdigits[:12]}"


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


def _hub_facts(digest: str, hub_tag: HubTag | None) -> DigestInfo:
    """What `digest` is per the Hub's answer for its tag (already checked to be about it)."""
    if hub_tag is None:
        return DigestInfo(digest, "")
    images = list(hub_tag.platform_images)
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
        size=None,  # per platform: in the tag's answer (Resolution.size)
    )
