"""Client for the endoflife.date API v1: the release cycles of the products images carry.

    GET {base}/api/v1/products/<product>
    -> {"schema_version": "1.2.0", "last_modified": ..., "result": {"name", "label",
        "releases": [{"name": "3.8", "codename": null, "isEol": true,
                      "eolFrom": "2024-10-07", ...}, ...], ...}}

(the shape of endoflife.date's OpenAPI description, api_v1/openapi.yml, `ProductResponse`).
Each product is asked once, through the run's HTTP client and its retry policy, read to a cap
like every answer; a renamed product's redirect is followed on the same origin only. What is
fetched is kept for a day (`registry.eol_cache`). A failure is a warning, never an
incomplete run: end-of-life data is advice, not a check of the reference.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import quote

import httpx

from basepin.errors import UsageError
from basepin.model import EolCycle, Lifecycle
from basepin.registry.eol_cache import EOL_URL, LifecycleStore
from basepin.registry.errors import ProtocolError, RegistryError
from basepin.registry.http import (
    MAX_ANSWER_BYTES,
    RetryPolicy,
    Sender,
    joined_url,
    same_origin,
)
from basepin.registry.pools import new_http_client

MAX_REDIRECTS = 3


class NoSuchProduct(RegistryError):
    """endoflife.date answers 404 for the product: kept (as no cycles) for a day, like an
    answer, so that it is not asked again on every run."""


# Longer texts from the API are cut: they end up in findings' messages.
MAX_LABEL_CHARS = 80
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def base_url(text: str | None) -> httpx.URL:
    """The API's base URL (`BASEPIN_EOL_URL` for a mirror or a test server)."""
    value = (text or EOL_URL).rstrip("/")
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise UsageError(f"endoflife.date URL {value!r} is not valid: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host or url.query or url.userinfo:
        raise UsageError(f"endoflife.date URL must look like https://host[:port], not {value!r}")
    return url


async def fetch_missing(
    http: httpx.AsyncClient, store: LifecycleStore, url: str | None, timeout: float
) -> None:
    """Ask for every product `store` lacks, all at once, within twice `timeout` in all."""
    base = base_url(url)
    sender = Sender(http, RetryPolicy(deadline=timeout))
    products = store.missing()
    try:
        found = await asyncio.wait_for(
            asyncio.gather(
                *(product_lifecycle(sender, base, p) for p in products), return_exceptions=True
            ),
            2 * timeout,
        )
    except asyncio.TimeoutError:  # TimeoutError itself from 3.11 on
        late = RegistryError(
            f"endoflife.date: no answer within {2 * timeout:g} s", registry=base.host
        )
        found = [late] * len(products)
    for product, answer in zip(products, found, strict=True):
        if isinstance(answer, Lifecycle):
            store.found(answer)
        elif isinstance(answer, NoSuchProduct):
            store.found(Lifecycle(product, product, (), datetime.now(timezone.utc)))
            store.warnings.append(str(answer))
        elif isinstance(answer, (RegistryError, httpx.HTTPError, httpx.InvalidURL)):
            store.failed(product, _reason(answer, product))
        elif isinstance(answer, BaseException):
            raise answer


def fetch_now(store: LifecycleStore, url: str | None, timeout: float) -> None:
    """`fetch_missing` for a run that asked no registry (the cache answered every reference)."""

    async def run() -> None:
        async with new_http_client(timeout=timeout) as http:
            await fetch_missing(http, store, url, timeout)

    asyncio.run(run())


async def product_lifecycle(sender: Sender, base: httpx.URL, product: str) -> Lifecycle:
    """One product's release cycles; RegistryError when the API does not answer with them."""
    host = base.netloc.decode()
    what = f"endoflife.date product {product}"
    url = base.join(f"{base.path.rstrip('/')}/api/v1/products/{quote(product, safe='')}")
    for _ in range(MAX_REDIRECTS + 1):
        reply = await sender.send(
            httpx.Request("GET", url, headers={"Accept": "application/json"}),
            registry=host,
            repository=None,
            what=what,
            limit=MAX_ANSWER_BYTES,
        )
        if reply.status not in _REDIRECTS:
            break
        target = joined_url(url, reply.headers.get("location", ""), f"{what}: redirect", host)
        if not same_origin(target, base):
            raise ProtocolError(f"{what}: redirected to another site", registry=host)
        url = target
    else:
        raise ProtocolError(f"{what}: more than {MAX_REDIRECTS} redirects", registry=host)
    if reply.status == 404:
        raise NoSuchProduct(f"{what}: endoflife.date has no such product", registry=host)
    if reply.status != 200:
        raise ProtocolError(f"{what}: HTTP {reply.status}", registry=host)
    try:
        document = json.loads(reply.body)
    except ValueError:
        raise ProtocolError(f"{what}: the answer is not JSON", registry=host) from None
    lifecycle = parse_product(document, product)
    if lifecycle is None:
        raise ProtocolError(f"{what}: the answer is not a product's release cycles", registry=host)
    return lifecycle


def parse_product(document: Any, product: str) -> Lifecycle | None:
    """A `ProductResponse` read into a Lifecycle; None when it is not one. Releases without a
    name, or with fields of the wrong type, are left out."""
    result = document.get("result") if isinstance(document, dict) else None
    releases = result.get("releases") if isinstance(result, dict) else None
    if not isinstance(result, dict) or not isinstance(releases, list):
        return None
    label = result.get("label")
    cycles = tuple(cycle for cycle in map(_cycle, releases) if cycle is not None)
    return Lifecycle(
        product,
        label[:MAX_LABEL_CHARS] if isinstance(label, str) and label else product,
        cycles,
        datetime.now(timezone.utc),
    )


def _cycle(release: Any) -> EolCycle | None:
    if not isinstance(release, dict):
        return None
    name, eol, is_eol = release.get("name"), release.get("eolFrom"), release.get("isEol")
    codename = release.get("codename")
    if not isinstance(name, str) or not name or len(name) > MAX_LABEL_CHARS:
        return None
    when: date | None = None
    if isinstance(eol, str):
        try:
            when = date.fromisoformat(eol[:10])
        except ValueError:
            return None
    return EolCycle(
        name,
        when,
        is_eol is True,
        codename[:MAX_LABEL_CHARS] if isinstance(codename, str) and codename else None,
    )


def _reason(error: BaseException, product: str) -> str:
    if isinstance(error, RegistryError):
        return str(error)
    return f"endoflife.date product {product}: {type(error).__name__}"
