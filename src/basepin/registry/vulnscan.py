"""The network side of `basepin.rules.vulnerable.scan`: SBOMs from the registries, OSV's answers.

Imported only when the cache cannot answer a scan whole. One HTTP client serves it: the
registries' SBOM attestations are read first (each image within three times the timeout),
then OSV is asked about every package version no fresh answer is cached for, in batches of
1,000, then for the records of the vulnerabilities not cached yet. Each answer is cached as it
comes; what fails makes the images it concerns incomplete, never clean.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

from basepin.advisories import Advisory, advisory_from
from basepin.reference import ImageReference
from basepin.registry.cache import Cache
from basepin.registry.credentials import CredentialStore
from basepin.registry.endpoints import Endpoints
from basepin.registry.errors import RegistryError
from basepin.registry.http import RetryPolicy
from basepin.registry.oci import RegistryClient
from basepin.registry.osv import OSV_URL, Hit, OsvClient, failure
from basepin.registry.pins import ResolveOptions, asks_docker_hub
from basepin.registry.pools import new_http_client
from basepin.registry.sbom import SbomReader
from basepin.registry.trust import default_context
from basepin.sbom import PackageQuery, SbomAnswer
from basepin.scans import (
    Scanned,
    ScanTarget,
    assemble,
    cached_answer,
    cached_hits,
    cached_record,
    store_answer,
    store_hits,
    store_record,
)


def scan_network(
    targets: Sequence[ScanTarget],
    options: ResolveOptions,
    cache: Cache,
    *,
    osv_url: str | None = None,
) -> Scanned:
    return asyncio.run(_scan(targets, options, cache, osv_url or OSV_URL))


async def _scan(
    targets: Sequence[ScanTarget], options: ResolveOptions, cache: Cache, osv_url: str
) -> Scanned:
    credentials = options.credentials or CredentialStore.from_environment()
    timeout = options.timeout
    async with new_http_client(timeout=timeout, trust=default_context()) as http:
        endpoints = Endpoints(
            options.mirrors, options.insecure, hub_registry=options.hub_registry_url
        )
        registry = RegistryClient(http, credentials, endpoints, retry=RetryPolicy(deadline=timeout))
        reader = SbomReader(registry)
        osv = _Osv(OsvClient(http, osv_url, RetryPolicy(deadline=timeout)), cache)
        # Each image goes on to OSV as soon as its SBOM is read: the images' requests overlap.
        try:
            scanned = await asyncio.gather(
                *(_one(reader, osv, target, options, cache) for target in targets)
            )
        finally:
            await osv.close()
    answers = {target.key: answer for target, (answer, _, _) in zip(targets, scanned, strict=True)}
    failed = {
        target.key: reason
        for target, (_, reason, _) in zip(targets, scanned, strict=True)
        if reason is not None
    }
    summaries, found = assemble(targets, answers, osv.hits(), osv.records(), failed)
    for target, (_, reason, known) in zip(targets, scanned, strict=True):
        if reason is not None and not known:
            # Without OSV's answers nothing is known of the image, not "none".
            summaries[target.key] = summaries[target.key]._replace(
                counts=None, ids=(), reason=reason, unchecked=True
            )
            found[target.key] = []
    return Scanned(summaries, found, reader.pulls, osv.client.requests, failed)


async def _one(
    reader: SbomReader, osv: _Osv, target: ScanTarget, options: ResolveOptions, cache: Cache
) -> tuple[SbomAnswer, str | None, bool]:
    """One image: its SBOM, then OSV's answers for its packages. Returns the SBOM's answer,
    why the image could not be (wholly) checked, and whether its vulnerabilities are known
    (all but some records' severities) despite that."""
    answer = await _answer(reader, target, options, cache)
    if answer.queries is None:
        return answer, None if answer.lasting else (answer.reason or "not checked"), False
    deadline = 3 * options.timeout
    try:
        unread = await asyncio.wait_for(osv.scan(answer.queries), deadline)
    except asyncio.TimeoutError:  # TimeoutError itself from 3.11 on
        return answer, f"OSV: no answer within {deadline:g} s", False
    except (RegistryError, httpx.HTTPError) as exc:
        return answer, failure(exc), False
    return answer, unread, True


class _Osv:
    """OSV's answers for the run, each package version and record asked about once however
    many images share it, the cache's where it has them."""

    def __init__(self, client: OsvClient, cache: Cache) -> None:
        self.client = client
        self._cache = cache
        self._hits: dict[PackageQuery, asyncio.Future[list[Hit]]] = {}
        self._records: dict[str, asyncio.Future[Advisory]] = {}
        # Batches under way (held here: the event loop keeps only weak references).
        self._tasks: set[asyncio.Future[None]] = set()

    def hits(self) -> dict[PackageQuery, list[Hit]]:
        return {q: f.result() for q, f in self._hits.items() if f.done() and not f.exception()}

    def records(self) -> dict[str, Advisory]:
        return {i: f.result() for i, f in self._records.items() if f.done() and not f.exception()}

    async def scan(self, queries: Sequence[PackageQuery]) -> str | None:
        """Ask about `queries` and read their vulnerabilities' records; raises when OSV's
        answers for the packages are not known, returns why when some records are not."""
        loop = asyncio.get_running_loop()
        asked: list[PackageQuery] = []
        for query in queries:
            if query in self._hits:
                continue
            future = self._hits[query] = loop.create_future()
            cached = cached_hits(self._cache, query)
            if cached is None:
                asked.append(query)
            else:
                future.set_result(cached)
        if asked:
            self._ask(asked)
        found = await asyncio.gather(*(asyncio.shield(self._hits[q]) for q in queries))
        wanted = sorted({hit for hits in found for hit in hits})
        read = await asyncio.gather(
            *(asyncio.shield(self._record(*hit)) for hit in wanted), return_exceptions=True
        )
        trouble = next((r for r in read if isinstance(r, BaseException)), None)
        if trouble is None:
            return None
        if isinstance(trouble, (RegistryError, httpx.HTTPError)):
            return failure(trouble)
        raise trouble

    def _ask(self, queries: list[PackageQuery]) -> None:
        async def ask() -> None:
            try:
                answered = await self.client.query(queries)
            except BaseException as exc:
                for query in queries:
                    if not self._hits[query].done():
                        self._hits[query].set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                return
            store_hits(self._cache, answered)
            for query in queries:
                self._hits[query].set_result(answered.get(query, []))

        task = asyncio.ensure_future(ask())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _record(self, identifier: str, modified: str) -> asyncio.Future[Advisory]:
        if identifier not in self._records:
            cached = cached_record(self._cache, identifier, modified)
            if cached is not None:
                future = asyncio.get_running_loop().create_future()
                future.set_result(cached)
                self._records[identifier] = future
            else:
                self._records[identifier] = asyncio.ensure_future(self._read(identifier, modified))
        return self._records[identifier]

    async def _read(self, identifier: str, modified: str) -> Advisory:
        advisory = advisory_from(await self.client.record(identifier), identifier, modified)
        store_record(self._cache, modified, advisory)
        return advisory

    async def close(self) -> None:
        """Stop what images that gave up (past their deadline) left running."""
        running: list[asyncio.Future[Any]] = [*self._tasks, *self._records.values()]
        left = [future for future in running if not future.done()]
        for future in left:
            future.cancel()
        await asyncio.gather(*left, return_exceptions=True)


async def _answer(
    reader: SbomReader, target: ScanTarget, options: ResolveOptions, cache: Cache
) -> SbomAnswer:
    cached = cached_answer(cache, target)
    if cached is not None:
        return cached
    name = f"{target.registry}/{target.repository}"
    ref = ImageReference(f"{name}@{target.digest}", target.registry, target.repository, None,
                         target.digest, name)  # fmt: skip
    deadline = 3 * options.timeout
    try:
        answer = await asyncio.wait_for(
            reader.read(
                ref,
                target.digest,
                target.platforms,
                parent=target.parent,
                on_hub=asks_docker_hub(ref, options),
            ),
            deadline,
        )
    except asyncio.TimeoutError:  # TimeoutError itself from 3.11 on
        where = f"{target.registry}/{target.repository}"
        return SbomAnswer(
            None, reason=f"{where}: SBOM: no answer within {deadline:g} s", lasting=False
        )
    except RegistryError as exc:
        return SbomAnswer(None, reason=f"SBOM: {exc}", lasting=False)
    except httpx.HTTPError as exc:
        where = f"{target.registry}/{target.repository}"
        return SbomAnswer(None, reason=f"{where}: SBOM: {type(exc).__name__}", lasting=False)
    store_answer(cache, target, answer)
    return answer
