"""Connection pools under the registry client, and the one HTTP client of a run.

One `httpx.AsyncClient` serves a whole run (building one loads the CA bundle, ~45 ms), so it is
passed in rather than made here; `new_http_client` makes one with basepin's defaults. Custom
CAs come from `SSL_CERT_FILE`/`SSL_CERT_DIR` (httpx reads them) or an explicit bundle.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator

import httpcore
import httpx

from basepin.registry import http
from basepin.registry.endpoints import USER_AGENT, proxied
from basepin.registry.preconnecting import Preconnecting

# Connections per httpcore pool: a pool does work that grows with the square of its open
# connections on every request, and polls each idle one for every request it assigns, so many
# connections are spread over pools of one each (~0.85 ms of CPU a request against ~1.2 ms
# for pools of four).
CONNECTIONS_PER_POOL = 1
# Connections through a proxy from the environment, all in httpx's one pool.
PROXIED_CONNECTIONS = 16
# A TCP (and TLS) connection that is not open by then will not be.
MAX_CONNECT_SECONDS = 10.0


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
            verify,
            CONNECTIONS_PER_POOL,
            http.REQUESTS_PER_ORIGIN,
            min(timeout, MAX_CONNECT_SECONDS),
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
        self._backend = Preconnecting(httpcore.AnyIOBackend(), verify, connect_timeout)
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
