"""The network side of `basepin.vulnerable.scan`: SBOMs from the registries, OSV's answers.

Imported only when the cache cannot answer a scan whole. One HTTP client serves it: the
registries' SBOM attestations are read first (each image within three times the timeout),
then OSV is asked about every package version no fresh answer is cached for, in batches of
1,000, then for the records of the vulnerabilities not cached yet. Each answer is cached as it
comes; what fails makes the images it concerns incomplete, never clean.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx

from basepin.advisories import Advisory, advisory_from
from basepin.reference import ImageReference
from basepin.registry.auth import CredentialStore
from basepin.registry.cache import Cache
from basepin.registry.endpoints import Endpoints
from basepin.registry.errors import RegistryError
from basepin.registry.http import RetryPolicy, new_http_client
from basepin.registry.oci import RegistryClient
from basepin.registry.osv import OSV_URL, Hit, OsvClient, failure
from basepin.registry.sbom import SbomReader
from basepin.registry.trust import default_context
from basepin.resolve import ResolveOptions, asks_docker_hub
from basepin.sbom import PackageQuery, SbomAnswer
from basepin.vulnerable import (
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
    failed: dict[str, str] = {}
    async with new_http_client(timeout=timeout, trust=default_context()) as http:
        endpoints = Endpoints(
            options.mirrors, options.insecure, hub_registry=options.hub_registry_url
        )
        registry = RegistryClient(http, credentials, endpoints, retry=RetryPolicy(deadline=timeout))
        reader = SbomReader(registry)
        answers = dict(
            zip(
                (t.key for t in targets),
                await asyncio.gather(*(_answer(reader, t, options, cache) for t in targets)),
                strict=True,
            )
        )
        for key, answer in answers.items():
            if not answer.lasting and answer.queries is None:
                failed[key] = answer.reason or "not checked"
        osv = OsvClient(http, osv_url, RetryPolicy(deadline=timeout))
        queries = list(dict.fromkeys(q for a in answers.values() for q in a.queries or ()))
        hits, unasked = await _hits(osv, queries, cache, 3 * timeout)
        records: dict[str, Advisory] = {}
        unread = None
        if unasked is None:
            records, unread = await _records(osv, hits, cache, 3 * timeout)
    for target in targets:
        if answers[target.key].queries and (unasked or unread):
            failed.setdefault(target.key, unasked or unread or "")
    summaries, found = assemble(targets, answers, hits, records, failed)
    if unasked is not None:
        # Without OSV's answers nothing is known of the images, not "none".
        for key, reason in failed.items():
            summaries[key] = summaries[key]._replace(counts=None, ids=(), reason=reason,
                                                     unchecked=True)  # fmt: skip
            found[key] = []
    # With some records unread, what is known is shown, and the run is incomplete.
    return Scanned(summaries, found, reader.pulls, osv.requests, failed)


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


async def _hits(
    osv: OsvClient, queries: Sequence[PackageQuery], cache: Cache, deadline: float
) -> tuple[dict[PackageQuery, list[Hit]], str | None]:
    """OSV's hits for every query (the cache's where fresh), or why they are not known."""
    hits: dict[PackageQuery, list[Hit]] = {}
    asked: list[PackageQuery] = []
    for query in queries:
        cached = cached_hits(cache, query)
        if cached is None:
            asked.append(query)
        else:
            hits[query] = cached
    if not asked:
        return hits, None
    try:
        answered = await asyncio.wait_for(osv.query(asked), deadline)
    except asyncio.TimeoutError:
        return hits, f"OSV: no answer within {deadline:g} s"
    except (RegistryError, httpx.HTTPError) as exc:
        return hits, failure(exc)
    for query, found in answered.items():
        store_hits(cache, query, found)
        hits[query] = found
    return hits, None


async def _records(
    osv: OsvClient, hits: dict[PackageQuery, list[Hit]], cache: Cache, deadline: float
) -> tuple[dict[str, Advisory], str | None]:
    records: dict[str, Advisory] = {}
    asked: list[Hit] = []
    for identifier, modified in sorted({hit for found in hits.values() for hit in found}):
        cached = cached_record(cache, identifier, modified)
        if cached is None:
            asked.append((identifier, modified))
        else:
            records[identifier] = cached
    if not asked:
        return records, None

    async def one(identifier: str, modified: str) -> Advisory:
        record = await osv.record(identifier)
        advisory = advisory_from(record, identifier, modified)
        store_record(cache, modified, advisory)
        return advisory

    try:
        found = await asyncio.wait_for(
            asyncio.gather(*(one(i, m) for i, m in asked), return_exceptions=True), deadline
        )
    except asyncio.TimeoutError:
        return records, f"OSV: the vulnerabilities' records: no answer within {deadline:g} s"
    trouble = None
    for result in found:
        if isinstance(result, Advisory):
            records[result.id] = result
        elif isinstance(result, (RegistryError, httpx.HTTPError)):
            trouble = trouble or failure(result)
        elif isinstance(result, BaseException):
            raise result
    return records, trouble
