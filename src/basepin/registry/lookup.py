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
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone

import httpx

from basepin.model import Lookup, TagInfo, TagListing
from basepin.reference import ImageReference
from basepin.registry.cache import Cache
from basepin.registry.credentials import CredentialStore
from basepin.registry.early import Pending
from basepin.registry.endpoints import Endpoints
from basepin.registry.eol_cache import LifecycleStore
from basepin.registry.errors import NotFound, RegistryError
from basepin.registry.http import RetryPolicy
from basepin.registry.hub import MAX_PAGE_SIZE, HubClient
from basepin.registry.hub_session import HUB_URL
from basepin.registry.oci import RegistryClient
from basepin.registry.pins import ResolveOptions, asks_docker_hub
from basepin.registry.pools import load_network_backend, new_http_client
from basepin.registry.resolver import HUB_TAG_PAGES, PER_REGISTRY, Resolver, reason_about
from basepin.registry.trust import TrustLoader, default_context
from basepin.versions import sort_newest_first

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
        resolver = Resolver(registry, hub, cache, options, asked)
        # An optimisation, bounded like any request: a token server that does not answer
        # must not hold up the lookups, which then ask (and report) themselves.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(resolver.prefetch_tokens(asked), options.timeout)
        answers = await asyncio.gather(*(resolver.one(ref) for ref in asked))
        await asyncio.gather(*opening)
        if lifecycles is not None:
            await lifecycles
    if resolver.hub.pulls_spent:
        resolver.warn(
            len(asked),
            f"Docker Hub: {resolver.hub.pulls_spent} manifest pull(s) spent to confirm digests "
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
