"""The HTTP layer under the registry client: connection pools, and sending with retries.

One `httpx.AsyncClient` serves a whole run (building one loads the CA bundle, ~45 ms), so it is
passed in rather than made here; `new_http_client` makes one with basepin's defaults. Custom
CAs come from `SSL_CERT_FILE`/`SSL_CERT_DIR` (httpx reads them) or an explicit bundle.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import os
import re
import socket
import ssl
import time
import weakref
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
)
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from basepin.escape import redact_logs
from basepin.registry.endpoints import USER_AGENT, proxied
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
# Connections per httpcore pool: a pool does work that grows with the square of its open
# connections on every request, and polls each idle one for every request it assigns, so many
# connections are spread over pools of one each (~0.85 ms of CPU a request against ~1.2 ms
# for pools of four).
CONNECTIONS_PER_POOL = 1
# Connections through a proxy from the environment, all in httpx's one pool.
PROXIED_CONNECTIONS = 16
_RETRIED_STATUSES = frozenset({500, 502, 503, 504})
# A TCP (and TLS) connection that is not open by then will not be.
MAX_CONNECT_SECONDS = 10.0
_MAX_RATE_LIMIT_WAITS = 5


def new_http_client(
    *,
    timeout: float = 30.0,
    ca_file: str | os.PathLike[str] | None = None,
    trust: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """The one client of a run. `ca_file` replaces the default trust store when given;
    `trust` is the default one already loaded (see `trust.TrustLoader`)."""
    if ca_file:
        verify = ssl.create_default_context(cafile=os.fspath(ca_file))
    elif trust is None:
        from basepin.registry.trust import default_context

        verify = default_context()  # once, for every pool
    else:
        verify = trust
    # Every connection stays open for reuse: a new one costs a round trip (and a TLS
    # handshake) more than a request on an open one.
    transport: PoolSet | None = None
    limits = httpx.Limits(max_connections=PROXIED_CONNECTIONS, max_keepalive_connections=None)
    if not proxied():
        transport = PoolSet(
            verify, CONNECTIONS_PER_POOL, REQUESTS_PER_ORIGIN, min(timeout, MAX_CONNECT_SECONDS)
        )
    # Otherwise httpx mounts the proxies of the environment (it does only on a client without
    # a transport of its own): one pool it is, kept small (see CONNECTIONS_PER_POOL).
    client = httpx.AsyncClient(
        verify=verify,
        timeout=httpx.Timeout(timeout, connect=min(timeout, MAX_CONNECT_SECONDS)),
        # The exact bytes, never a compressed form: a digest is over the bytes as served, and
        # a size cap over compressed bytes would not bound what they decompress to.
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        follow_redirects=False,
        limits=limits,
        transport=transport,
    )
    if transport is not None:
        _pool_sets[client] = transport
    return client


_pool_sets: weakref.WeakKeyDictionary[httpx.AsyncClient, PoolSet] = weakref.WeakKeyDictionary()


def preconnect(http: httpx.AsyncClient, base_url: str, count: int) -> None:
    """Start opening `count` connections to `base_url` for requests soon to come (where the
    client is one of `new_http_client`'s without a proxy)."""
    pools = _pool_sets.get(http)
    if pools is not None:
        pools.preconnect(httpx.URL(base_url), count)


async def load_network_backend() -> None:
    """Import anyio's asyncio backend (~25 ms), which httpcore would otherwise import on the
    way of the first request; meant for where a run waits on the network anyway."""
    import anyio

    await anyio.sleep(0)


class PoolSet(httpx.AsyncBaseTransport):
    """Connection pools of at most `per_pool` connections each, per origin: as many as the
    requests in flight to the origin need (up to `per_origin` connections), each request sent
    through its origin's least busy pool. Sequential requests to an origin all go through its
    first pool, so its connections are reused; an origin never closes another's connection to
    make room.

    `preconnect` opens connections ahead of the requests that will use them, e.g. while a
    token is being fetched: the TCP handshake is then no longer on the requests' way.
    """

    def __init__(
        self,
        verify: ssl.SSLContext,
        per_pool: int,
        per_origin: int,
        connect_timeout: float | None = None,
    ) -> None:
        self._verify = verify
        self._per_pool = per_pool
        self._most = max(1, per_origin // per_pool)
        self._backend = _Preconnecting(httpcore.AnyIOBackend(), verify, connect_timeout)
        self._pools: dict[tuple[bytes, bytes, int | None], list[_Pool]] = {}

    def __len__(self) -> int:
        return sum(len(pools) for pools in self._pools.values())

    def busy(self) -> list[int]:
        """Requests under way in each pool, the pools of an origin together."""
        return [pool.busy for pools in self._pools.values() for pool in pools]

    def preconnect(self, url: httpx.URL, count: int) -> None:
        """Start opening `count` connections to `url`'s origin (no more than are allowed),
        TLS handshake included for HTTPS."""
        https = url.scheme == "https"
        port = url.port or (443 if https else 80)
        count = min(count, self._most * self._per_pool)
        self._backend.preconnect(url.host, port, count, tls=https)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        url = request.url
        pool = self._choose((url.raw_scheme, url.raw_host, url.port))
        pool.busy += 1
        try:
            core = httpcore.Request(
                request.method,
                httpcore.URL(
                    scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
                ),
                headers=request.headers.raw,
                content=request.stream,
                extensions=request.extensions,
            )
            with _httpx_errors():
                answer = await pool.connections.handle_async_request(core)
        except BaseException:
            pool.busy -= 1
            raise
        assert isinstance(answer.stream, AsyncIterable)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer.stream, pool.release),
            extensions=answer.extensions,
        )

    def _choose(self, origin: tuple[bytes, bytes, int | None]) -> _Pool:
        pools = self._pools.setdefault(origin, [])
        least = min(pools, key=_Pool.load, default=None)
        if least is None or (least.busy >= self._per_pool and len(pools) < self._most):
            least = _Pool(
                httpcore.AsyncConnectionPool(
                    ssl_context=self._verify,
                    max_connections=self._per_pool,
                    max_keepalive_connections=None,
                    network_backend=self._backend,
                )
            )
            pools.append(least)
        return least

    async def aclose(self) -> None:
        for pools in self._pools.values():
            for pool in pools:
                await pool.connections.aclose()
        await self._backend.aclose()


class _Pool:
    """One httpcore pool and the requests under way through it."""

    __slots__ = ("busy", "connections")

    def __init__(self, connections: httpcore.AsyncConnectionPool) -> None:
        self.connections = connections
        self.busy = 0

    def load(self) -> int:
        return self.busy

    def release(self) -> None:
        self.busy -= 1


class _Body(httpx.AsyncByteStream):
    """A response body read from httpcore; calls `done` once, when it is closed."""

    def __init__(self, stream: AsyncIterable[bytes], done: Callable[[], None]) -> None:
        self._stream = stream
        self._done: Callable[[], None] | None = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        try:
            closing = getattr(self._stream, "aclose", None)
            if closing is not None:
                await closing()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done()


# httpcore's errors and the httpx errors of the same name, the more specific first (as httpx's
# own transport maps them).
_HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    """httpcore's errors as the httpx errors of the same name."""
    try:
        yield
    except Exception as exc:
        for core, mapped in _HTTPX_ERRORS:
            if isinstance(exc, core):
                raise mapped(str(exc)) from exc
        raise


class _Preconnecting(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that hands out connections opened in advance, where there
    are any for the host and port asked for. For HTTPS they come with the TLS handshake done
    (verified as httpcore would, with the pools' context and the host's name): httpcore's own
    `start_tls` then gets the secured stream back instead of a second handshake."""

    def __init__(
        self,
        backend: httpcore.AsyncNetworkBackend,
        verify: ssl.SSLContext,
        connect_timeout: float | None = None,
    ) -> None:
        self._backend = backend
        self._verify = verify
        self._connect_timeout = connect_timeout
        self._ready: dict[tuple[str, int], list[asyncio.Task[httpcore.AsyncNetworkStream]]] = {}
        self._openers: list[asyncio.Task[None]] = []

    def preconnect(self, host: str, port: int, count: int, *, tls: bool = False) -> None:
        self._openers.append(asyncio.ensure_future(self._open(host, port, count, tls)))

    async def _open(self, host: str, port: int, count: int, tls: bool) -> None:
        opening = self._ready.setdefault((host, port), [])
        opening[:] = [task for task in opening if not task.done() or task.exception() is None]
        for _ in range(count - len(opening)):
            # A connection that fails here is of no use; the request then connects itself
            # and reports what went wrong.
            opening.append(asyncio.ensure_future(self._connect_ahead(host, port, tls)))
            # One a turn of the event loop (starting one costs ~0.5 ms): a request under way,
            # such as the token request these connections wait for, is not held up by them.
            await asyncio.sleep(0)

    async def _connect_ahead(self, host: str, port: int, tls: bool) -> httpcore.AsyncNetworkStream:
        stream = await self._connect(host, port, self._connect_timeout)
        if not tls:
            return stream
        # As httpcore's connection does for HTTP/1.1 (the context is the pools' own).
        self._verify.set_alpn_protocols(["http/1.1"])
        try:
            secured = await stream.start_tls(self._verify, server_hostname=host)
        except BaseException:
            await stream.aclose()
            raise
        return _Secured(secured, host)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        opening = self._ready.get((host, port))
        while opening and local_address is None:
            # Opened ahead without a timeout of its own: a request waits for it no longer than
            # for a connection of its own.
            try:
                return await asyncio.wait_for(opening.pop(0), timeout)
            except asyncio.TimeoutError:  # TimeoutError itself from 3.11 on
                raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
            except Exception:
                continue
        return await self._connect(host, port, timeout, local_address, socket_options)

    async def _connect(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        connecting = asyncio.ensure_future(
            self._backend.connect_tcp(
                host,
                port,
                timeout=timeout,
                local_address=local_address,
                socket_options=socket_options,
            )
        )
        try:
            # Shielded: anyio loses a connection attempt cancelled the moment it starts (the
            # attempt's coroutine is never run, and Python warns about it on the user's
            # terminal). The attempt ends within its own timeout; whoever gave up in the
            # meantime has what it brings closed.
            return await asyncio.shield(connecting)
        except asyncio.CancelledError:
            connecting.add_done_callback(_close_unclaimed)
            raise

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._backend.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)

    async def aclose(self) -> None:
        """Close what was opened and never used."""
        for opener in self._openers:
            opener.cancel()
        self._openers.clear()
        for opening in self._ready.values():
            for task in opening:
                task.cancel()
                try:
                    stream = await task
                except (asyncio.CancelledError, Exception):
                    continue
                await stream.aclose()
        self._ready.clear()


def _close_unclaimed(connecting: asyncio.Future[httpcore.AsyncNetworkStream]) -> None:
    if not connecting.cancelled() and connecting.exception() is None:
        closing = asyncio.ensure_future(connecting.result().aclose())
        _closing.add(closing)
        closing.add_done_callback(_closing.discard)


# Held until done: the event loop keeps only weak references to tasks.
_closing: set[asyncio.Future[None]] = set()


class _Secured(httpcore.AsyncNetworkStream):
    """A connection whose TLS handshake with `host` was done ahead: httpcore's `start_tls`
    for that name returns it as it is."""

    def __init__(self, stream: httpcore.AsyncNetworkStream, host: str) -> None:
        self._stream = stream
        self._host = host

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if server_hostname != self._host:
            # Secured for another name (an SNI override): of no use for this request.
            await self._stream.aclose()
            raise httpcore.ConnectError(f"connection opened ahead is for {self._host}")
        return self._stream

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


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
