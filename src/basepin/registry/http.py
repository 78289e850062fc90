"""Sending one request to a registry: retries, rate limits, a size cap and a deadline for its
answer, and what a failure means in words. The connections under it are `registry.pools`.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import socket
import ssl
import time
from collections.abc import (
    Awaitable,
    Callable,
)
from dataclasses import dataclass, field

import httpx

from basepin.escape import redact_logs
from basepin.registry.errors import ProtocolError, RateLimited, Unavailable

logger = logging.getLogger(__name__)
redact_logs()  # what httpx, httpcore and basepin log of URLs and answers: no credentials

# The most of an answer read, by what it is: distribution refuses manifests over 4 MiB; a
# config blob, a tag page, a token or an error body is far smaller. A larger answer is an
# error for its question, and memory stays flat whatever a server sends.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_CONFIG_BYTES = 8 * 1024 * 1024
MAX_TAG_PAGE_BYTES = 4 * 1024 * 1024
MAX_ANSWER_BYTES = 1024 * 1024
# Requests in flight at once per origin, queued in basepin beyond that: enough for a
# monorepo's references to go out in one round trip, and polite to the server.
REQUESTS_PER_ORIGIN = 64
_RETRIED_STATUSES = frozenset({500, 502, 503, 504})
_MAX_RATE_LIMIT_WAITS = 5


def joined_url(base: httpx.URL | None, target: str, what: str, registry: str) -> httpx.URL:
    """`target` (a Location, a Link; with no `base`, an absolute URL such as a token realm)
    read against `base`: a ProtocolError, not httpx's own, when it is no URL, holds control
    characters, or is not http(s)."""
    problem = None
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in target):
        problem = "holds control characters"
    else:
        try:
            joined = base.join(target) if base is not None else httpx.URL(target)
        except (httpx.InvalidURL, ValueError, TypeError):
            problem = "is not a URL"
        else:
            if joined.scheme not in ("http", "https") or not joined.host:
                problem = "is not an http(s) URL"
    if problem is not None:
        raise ProtocolError(f"{what} {problem}", registry=registry)
    return joined


def origin_of(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return origin_of(a) == origin_of(b)


@dataclass(frozen=True)
class Reply:
    """A fully read answer (HEAD: empty body)."""

    status: int
    headers: httpx.Headers
    url: httpx.URL
    body: bytes = b""

    @property
    def challenges(self) -> str:
        """Its `WWW-Authenticate` challenges, all of them, comma-joined."""
        challenges: str = self.headers.get("www-authenticate", "")
        return challenges

    @property
    def rate_limit_remaining(self) -> int | None:
        """`ratelimit-remaining: 76;w=21600` -> 76."""
        match = re.match(r"\s*(\d+)", self.headers.get("ratelimit-remaining", ""))
        return int(match.group(1)) if match else None


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: connection errors and 5xx with doubling backoff; 429 per `Retry-After`.

    `rate_limit_budget` bounds the seconds a whole run waits on 429s; beyond it, or without a
    `Retry-After`, the answer is a RateLimited error (a 429 is never retried blindly).
    """

    attempts: int = 3
    backoff: float = 0.5
    rate_limit_budget: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    # Seconds one attempt may take as a whole, answer read to its end: the HTTP client's
    # timeouts bound each read, so a server that trickles a byte at a time is caught only
    # here. None: no bound of its own.
    deadline: float | None = None


class Sender:
    """Sends one request with the retry policy and reads the whole answer."""

    def __init__(self, http: httpx.AsyncClient, retry: RetryPolicy) -> None:
        self.http = http
        self.retry = retry
        self._rate_limit_waited = 0.0
        self._slots: dict[tuple[str, str, int | None], asyncio.Semaphore] = {}

    async def send(
        self,
        request: httpx.Request,
        *,
        registry: str,
        repository: str | None,
        what: str,
        limit: int = MAX_ANSWER_BYTES,
    ) -> Reply:
        """Answer for `request` (never 429 or a retried 5xx); `what` names it in messages;
        an answer of more than `limit` bytes is a ProtocolError."""
        attempt = rate_limit_waits = 0
        while True:
            attempt += 1
            try:
                reply = await self._send_within_deadline(request, registry, repository, what, limit)
            except httpx.TransportError as exc:
                invalid = next((c for c in _causes(exc) if isinstance(c, httpx.InvalidURL)), None)
                if invalid is not None:
                    # httpx reads a redirect's Location even when it does not follow it.
                    raise ProtocolError(
                        f"{what}: the redirect target is not a URL ({invalid})",
                        registry=registry,
                        repository=repository,
                    ) from exc
                if attempt < self.retry.attempts and is_retryable(exc):
                    await self._back_off(attempt, what, describe_transport_error(exc))
                    continue
                detail = describe_transport_error(exc)
                if isinstance(exc, httpx.TimeoutException) and self.retry.deadline is not None:
                    detail = timed_out(self.retry.deadline)
                raise Unavailable(
                    f"{what}: {detail}", registry=registry, repository=repository
                ) from exc
            if reply.status == 429:
                delay = retry_after(reply.headers)
                budget_left = self.retry.rate_limit_budget - self._rate_limit_waited
                if (
                    delay is None
                    or delay > budget_left
                    or rate_limit_waits >= _MAX_RATE_LIMIT_WAITS
                ):
                    raise RateLimited(
                        _rate_limit_message(what, delay, reply.rate_limit_remaining),
                        registry=registry,
                        repository=repository,
                        retry_after=delay,
                    )
                rate_limit_waits += 1
                self._rate_limit_waited += delay
                logger.info("%s: rate limited, waiting %.0f s as the registry asks", what, delay)
                await self.retry.sleep(delay)
                continue
            if reply.status in _RETRIED_STATUSES:
                if attempt < self.retry.attempts:
                    await self._back_off(attempt, what, f"HTTP {reply.status}")
                    continue
                raise Unavailable(
                    f"{what}: the registry answered HTTP {reply.status} "
                    f"{_reason(reply.status)} {attempt} times",
                    registry=registry,
                    repository=repository,
                )
            return reply

    async def _send_within_deadline(
        self,
        request: httpx.Request,
        registry: str,
        repository: str | None,
        what: str,
        limit: int,
    ) -> Reply:
        if self.retry.deadline is None:
            return await self._send_once(request, registry, repository, what, limit)
        try:
            return await asyncio.wait_for(
                self._send_once(request, registry, repository, what, limit), self.retry.deadline
            )
        except asyncio.TimeoutError:  # TimeoutError itself from 3.11 on
            raise httpx.ReadTimeout(
                f"no whole answer within {self.retry.deadline:g} s", request=request
            ) from None

    async def _send_once(
        self,
        request: httpx.Request,
        registry: str,
        repository: str | None,
        what: str,
        limit: int,
    ) -> Reply:
        async with self._slot(request.url):
            response = await self.http.send(request, stream=True, follow_redirects=False)
            try:
                too_large = ProtocolError(
                    f"{what}: the answer is larger than {_size(limit)}, more than basepin reads",
                    registry=registry,
                    repository=repository,
                )
                length = response.headers.get("content-length", "")
                if length.isdigit() and int(length) > limit and request.method != "HEAD":
                    raise too_large
                encoding = response.headers.get("content-encoding", "identity").strip().lower()
                if encoding not in ("", "identity"):
                    raise ProtocolError(
                        f"{what}: the answer is compressed ({encoding[:40]}), which basepin "
                        "did not ask for",
                        registry=registry,
                        repository=repository,
                    )
                body = bytearray()
                # Read to the end even after a HEAD (no bytes come): an answer left unfinished
                # closes its connection instead of returning it to the pool.
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise too_large
            finally:
                await response.aclose()
        logger.debug("%s %s -> %s", request.method, request.url, response.status_code)
        return Reply(response.status_code, response.headers, request.url, bytes(body))

    def _slot(self, url: httpx.URL) -> asyncio.Semaphore:
        origin = origin_of(url)
        if origin not in self._slots:
            self._slots[origin] = asyncio.Semaphore(REQUESTS_PER_ORIGIN)
        return self._slots[origin]

    async def _back_off(self, attempt: int, what: str, reason: str) -> None:
        delay = self.retry.backoff * 2 ** (attempt - 1)
        logger.info("%s: %s, retrying in %.1f s", what, reason, delay)
        await self.retry.sleep(delay)


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date); None when absent or bad."""
    value = headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _rate_limit_message(what: str, delay: float | None, remaining: int | None) -> str:
    text = f"{what}: rate limited by the registry (HTTP 429)"
    if delay is not None:
        text += f"; it asks to wait {delay:.0f} s, more than basepin waits"
    if remaining is not None:
        text += f"; {remaining} requests left in the window"
    return text


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"


def _reason(status: int) -> str:
    return httpx.codes.get_reason_phrase(status)


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def is_certificate_error(exc: BaseException) -> bool:
    return any(isinstance(cause, ssl.SSLCertVerificationError) for cause in _causes(exc))


def is_tls_failure(exc: BaseException) -> bool:
    """The TLS handshake failed (e.g. an HTTP-only server): retrying will not help."""
    return any(isinstance(cause, ssl.SSLError) for cause in _causes(exc))


def is_retryable(exc: httpx.TransportError) -> bool:
    """Whether sending again may help: not after a timeout (the reference's deadline leaves
    no room to wait as long again), a name that does not resolve, a failed TLS handshake or
    a URL httpx cannot send."""
    return not (
        isinstance(exc, (httpx.UnsupportedProtocol, httpx.TimeoutException))
        or is_tls_failure(exc)
        or is_name_error(exc)
    )


def is_name_error(exc: BaseException) -> bool:
    """The host name does not resolve."""
    return any(isinstance(cause, socket.gaierror) for cause in _causes(exc))


def timed_out(timeout: float) -> str:
    """What a request that got no answer within `timeout` seconds says, wherever it was sent
    from (the client, a ping sent ahead)."""
    return f"timed out: no answer within {timeout:g} s"


def describe_transport_error(exc: httpx.TransportError) -> str:
    if is_certificate_error(exc):
        return (
            "its TLS certificate is not trusted (point SSL_CERT_FILE at a CA bundle with its "
            "issuer, or list the registry as insecure if it is plain HTTP)"
        )
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if is_name_error(exc):
        return "its host name does not resolve"
    # httpx's own text is often "All connection attempts failed"; the root cause says why.
    root = _causes(exc)[-1]
    detail = str(root) or type(root).__name__
    return f"cannot connect ({detail})" if isinstance(exc, httpx.ConnectError) else detail
