"""The OSV.dev API: which known vulnerabilities affect a package version, and what each is.

`POST /v1/querybatch` takes up to 1,000 queries (`{"package": {"ecosystem", "name"},
"version"}`) and answers, in the same order, `{"vulns": [{"id", "modified"}],
"next_page_token"}` for each; a query with a token is asked again with `page_token` until
none comes back. `GET /v1/vulns/{id}` gives a whole record. No authentication
(google/osv.dev docs/api: post-v1-querybatch.md, post-v1-query.md, get-v1-vulns.md).

`BASEPIN_OSV_URL` replaces the base URL. Answers are read to a cap, a 429 is waited out as
its `Retry-After` asks within the run's budget (see `registry.http.Sender`), and an answer
that is not the API's is an error, never a clean result.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from basepin.advisories import OSV_ID
from basepin.registry.errors import ProtocolError, RateLimited, RegistryError, Unavailable
from basepin.registry.http import RetryPolicy, Sender
from basepin.sbom import PackageQuery

OSV_URL = "https://api.osv.dev"
BATCH_SIZE = 1000  # the most queries OSV takes in one batch
# A batch answer carries IDs and dates only (~80 bytes a vulnerability); a record can list
# thousands of versions (the Linux kernel's do).
MAX_BATCH_BYTES = 32 * 1024 * 1024
MAX_RECORD_BYTES = 8 * 1024 * 1024
# Rounds of `next_page_token` followed; OSV pages after 1,000 vulnerabilities a query.
MAX_PAGES = 20
RECORDS_AT_ONCE = 64
LABEL = "OSV"

Hit = tuple[str, str]  # (id, modified)


class OsvClient:
    """Asks one OSV API; `requests` counts what was sent."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, retry: RetryPolicy) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._sender = Sender(http, retry)
        self._slots = asyncio.Semaphore(RECORDS_AT_ONCE)
        self.requests = 0

    async def query(self, queries: Sequence[PackageQuery]) -> dict[PackageQuery, list[Hit]]:
        """The vulnerabilities OSV knows for each package version, every page of them."""
        hits: dict[PackageQuery, list[Hit]] = {query: [] for query in queries}
        pending: list[tuple[PackageQuery, str | None]] = [(query, None) for query in queries]
        for _ in range(MAX_PAGES):
            if not pending:
                return hits
            batches = [pending[i : i + BATCH_SIZE] for i in range(0, len(pending), BATCH_SIZE)]
            answers = await asyncio.gather(*(self._batch(batch) for batch in batches))
            pending = []
            for batch, answer in zip(batches, answers, strict=True):
                for (query, _), (found, token) in zip(batch, answer, strict=True):
                    hits[query] += found
                    if token:
                        pending.append((query, token))
        raise ProtocolError(f"{LABEL}: the pages of an answer do not end", registry=LABEL)

    async def _batch(
        self, batch: Sequence[tuple[PackageQuery, str | None]]
    ) -> list[tuple[list[Hit], str | None]]:
        body = {"queries": [_query_json(query, token) for query, token in batch]}
        answer = await self._send("POST", "/v1/querybatch", "querybatch", MAX_BATCH_BYTES, body)
        results = answer.get("results")
        if not isinstance(results, list) or len(results) != len(batch):
            raise ProtocolError(
                f"{LABEL}: querybatch answered {_count(results)} results for {len(batch)} queries",
                registry=LABEL,
            )
        return [_result(result) for result in results]

    async def record(self, identifier: str) -> dict[str, Any]:
        """The OSV record of one vulnerability."""
        async with self._slots:
            path = "/v1/vulns/" + quote(identifier, safe="")
            return await self._send("GET", path, f"vulnerability {identifier}", MAX_RECORD_BYTES)

    async def _send(
        self, method: str, path: str, what: str, limit: int, body: object = None
    ) -> dict[str, Any]:
        content = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        request = self._http.build_request(
            method, self._base + path, headers=headers, content=content
        )
        self.requests += 1
        label = f"{LABEL} {what}"
        try:
            reply = await self._sender.send(
                request, registry=LABEL, repository=None, what=label, limit=limit
            )
        except RateLimited as exc:
            wait = f"; it asks to wait {exc.retry_after:.0f} s" if exc.retry_after else ""
            raise RateLimited(
                f"{label}: rate limited (HTTP 429){wait}, more than basepin waits",
                registry=LABEL,
                retry_after=exc.retry_after,
            ) from None
        except Unavailable as exc:
            # The sender speaks of registries; this is OSV.
            message = str(exc).replace("the registry", LABEL)
            raise Unavailable(message, registry=LABEL) from None
        if reply.status != 200:
            raise ProtocolError(f"{label}: unexpected answer HTTP {reply.status}", registry=LABEL)
        try:
            document = json.loads(reply.body)
        except (ValueError, UnicodeDecodeError):
            document = None
        if not isinstance(document, dict):
            raise ProtocolError(f"{label}: the answer is not OSV's JSON", registry=LABEL)
        return document


def _query_json(query: PackageQuery, token: str | None) -> dict[str, object]:
    document: dict[str, object] = {
        "package": {"ecosystem": query.ecosystem, "name": query.name},
        "version": query.version,
    }
    if token:
        document["page_token"] = token
    return document


def _result(result: Any) -> tuple[list[Hit], str | None]:
    if not isinstance(result, dict):
        raise ProtocolError(f"{LABEL}: a querybatch result is not an object", registry=LABEL)
    found: list[Hit] = []
    for vuln in result.get("vulns") or []:
        identifier = vuln.get("id") if isinstance(vuln, dict) else None
        if not isinstance(identifier, str) or not OSV_ID.fullmatch(identifier):
            raise ProtocolError(
                f"{LABEL}: a querybatch result names no valid vulnerability ID", registry=LABEL
            )
        found.append((identifier, str(vuln.get("modified") or "")))
    token = result.get("next_page_token")
    return found, token if isinstance(token, str) and token else None


def _count(results: Any) -> int | str:
    return len(results) if isinstance(results, list) else "no"


def failure(exc: RegistryError | httpx.HTTPError) -> str:
    """What went wrong with OSV, in words for the user."""
    if isinstance(exc, RegistryError):
        return str(exc)
    return f"{LABEL}: {type(exc).__name__}"
