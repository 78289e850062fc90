"""The run's HTTP client: many connections spread over small pools per origin, one pool behind a
proxy."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable

import httpcore
import httpx
import pytest

from basepin.registry.pools import PoolSet, _httpx_errors, new_http_client, preconnect
from basepin.registry.preconnecting import Preconnecting
from fixtures.registry import Registry


def _pools(client: httpx.AsyncClient) -> PoolSet:
    transport = client._transport
    assert isinstance(transport, PoolSet)
    return transport


def test_sequential_requests_share_one_pool(plain_registry: Registry) -> None:
    async def check() -> int:
        async with new_http_client() as http:
            for _ in range(5):
                reply = await http.get(f"{plain_registry.url}/v2/")
                assert reply.status_code == 200
            return len(_pools(http))

    assert asyncio.run(check()) == 1


def test_concurrent_requests_spread_over_small_pools(
    plain_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("basepin.registry.pools.CONNECTIONS_PER_POOL", 2)
    monkeypatch.setattr("basepin.registry.http.REQUESTS_PER_ORIGIN", 6)

    async def check() -> tuple[list[int], int]:
        async with new_http_client() as http:
            replies = await asyncio.gather(
                *(http.get(f"{plain_registry.url}/v2/") for _ in range(12))
            )
            # Every pool is free again once the answers are closed.
            busy = _pools(http).busy()
            return [reply.status_code for reply in replies] + busy, len(_pools(http))

    statuses_and_busy, pools = asyncio.run(check())
    assert statuses_and_busy == [200] * 12 + [0] * pools
    assert pools == 3


def test_each_origin_keeps_its_own_connections() -> None:
    async def check() -> list[tuple[int, int]]:
        servers = [_CountingServer(), _CountingServer()]
        urls = [await server.start() for server in servers]
        async with new_http_client() as http:
            for _ in range(3):
                for url in urls:
                    assert (await http.get(f"{url}/v2/")).text == "ok"
            assert len(_pools(http)) == 2
        await asyncio.sleep(0.05)
        for server in servers:
            await server.stop()
        return [(server.accepted, server.closed) for server in servers]

    # One connection each, reused, though the requests alternate between them.
    assert asyncio.run(check()) == [(1, 1), (1, 1)]


def test_a_pool_is_freed_when_the_request_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    async def check() -> list[int]:
        async with new_http_client(timeout=2.0) as http:
            with pytest.raises(httpx.ConnectError):
                # Port 9 on loopback: nothing listens there.
                await http.get("http://127.0.0.1:9/v2/")
            return _pools(http).busy()

    assert asyncio.run(check()) == [0]


def test_a_proxy_in_the_environment_keeps_httpx_in_charge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    client = new_http_client()
    assert not isinstance(client._transport, PoolSet)
    assert any(transport is not None for transport in client._mounts.values())
    # One pool stays small: its work grows with the square of its connections.
    assert client._transport._pool._max_connections == 16  # type: ignore[attr-defined]


class _CountingServer:
    """A loopback HTTP/1.1 server answering 200 to everything; counts connections."""

    def __init__(self) -> None:
        self.accepted = 0
        self.closed = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            while (await reader.readuntil(b"\r\n\r\n")) is not None:
                await asyncio.sleep(0.05)  # every request is in flight at once
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed += 1
        finally:
            writer.close()


def test_requests_use_the_connections_opened_in_advance() -> None:
    async def check() -> tuple[int, int]:
        server = _CountingServer()
        url = await server.start()
        async with new_http_client() as http:
            preconnect(http, url, 3)
            await asyncio.sleep(0.05)
            assert server.accepted == 3
            replies = await asyncio.gather(*(http.get(f"{url}/v2/") for _ in range(3)))
            assert [reply.text for reply in replies] == ["ok"] * 3
        await asyncio.sleep(0.05)
        await server.stop()
        return server.accepted, server.closed

    assert asyncio.run(check()) == (3, 3)


def test_connections_opened_in_advance_and_not_used_are_closed() -> None:
    async def check() -> tuple[int, int]:
        server = _CountingServer()
        url = await server.start()
        async with new_http_client() as http:
            preconnect(http, url, 4)
            await asyncio.sleep(0.05)
            assert (await http.get(f"{url}/v2/")).text == "ok"
        await asyncio.sleep(0.05)
        await server.stop()
        return server.accepted, server.closed

    assert asyncio.run(check()) == (4, 4)


def test_a_connection_that_cannot_be_opened_in_advance_fails_as_its_request() -> None:
    async def check() -> None:
        async with new_http_client(timeout=2.0) as http:
            preconnect(http, "http://127.0.0.1:9", 2)
            with pytest.raises(httpx.ConnectError):
                await http.get("http://127.0.0.1:9/v2/")

    asyncio.run(check())


@pytest.mark.parametrize(
    "name",
    [
        "ConnectTimeout",
        "ReadTimeout",
        "WriteTimeout",
        "PoolTimeout",
        "ConnectError",
        "ReadError",
        "WriteError",
        "UnsupportedProtocol",
        "LocalProtocolError",
        "RemoteProtocolError",
    ],
)
def test_httpcore_errors_surface_as_the_httpx_errors_of_the_same_name(name: str) -> None:
    with pytest.raises(getattr(httpx, name)) as raised, _httpx_errors():
        raise getattr(httpcore, name)("what went wrong")
    assert str(raised.value) == "what went wrong"


def test_other_errors_pass_through() -> None:
    with pytest.raises(KeyError), _httpx_errors():
        raise KeyError("not a network error")


class _Network(httpcore.AsyncNetworkBackend):
    """A pretend network: it logs the connections asked of it, which never open when it is
    `stuck` (a host that drops the handshake)."""

    def __init__(self, *, stuck: bool = False) -> None:
        self.stuck = stuck
        self.log: list[str] = []
        self.streams: list[_Handshakes] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.log.append(f"connect {host}:{port}")
        if self.stuck:
            await asyncio.Event().wait()
        self.streams.append(_Handshakes(self.log))
        return self.streams[-1]

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def test_a_connection_opened_ahead_is_waited_for_no_longer_than_the_connect_timeout() -> None:
    async def check() -> float:
        backend = Preconnecting(_Network(stuck=True), ssl.create_default_context())
        backend.preconnect("registry.test", 443, 1)
        await asyncio.sleep(0.01)  # the opener has started the connection
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(httpcore.ConnectTimeout, match=r"registry\.test:443 timed out"):
            await backend.connect_tcp("registry.test", 443, timeout=0.1)
        await backend.aclose()
        return loop.time() - started

    assert asyncio.run(check()) < 2


class _Handshakes(httpcore.AsyncNetworkStream):
    """A stream that only records the TLS handshakes asked of it."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.closed = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        raise NotImplementedError

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        self.closed = True

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.log.append(f"handshake with {server_hostname}")
        return self


def test_https_connections_are_opened_ahead_with_their_handshake_done() -> None:
    async def check() -> list[str]:
        network = _Network()
        backend = Preconnecting(network, ssl.create_default_context())
        backend.preconnect("registry.test", 443, 2, tls=True)
        await asyncio.sleep(0.01)
        network.log.append("requests")
        for _ in range(2):
            stream = await backend.connect_tcp("registry.test", 443, timeout=1.0)
            # httpcore asks for the handshake; the one done ahead stands.
            assert await stream.start_tls(ssl.create_default_context(), "registry.test") in (
                network.streams
            )
        return network.log

    *ahead, last = asyncio.run(check())
    # Both handshakes were done before the requests, and none after.
    assert sorted(ahead) == ["connect registry.test:443"] * 2 + ["handshake with registry.test"] * 2
    assert last == "requests"


def test_a_connection_secured_ahead_serves_no_other_name() -> None:
    async def check() -> bool:
        network = _Network()
        backend = Preconnecting(network, ssl.create_default_context())
        backend.preconnect("registry.test", 443, 1, tls=True)
        await asyncio.sleep(0.01)
        stream = await backend.connect_tcp("registry.test", 443, timeout=1.0)
        with pytest.raises(httpcore.ConnectError, match="opened ahead is for registry"):
            await stream.start_tls(ssl.create_default_context(), "other.test")
        return network.streams[0].closed

    assert asyncio.run(check())


def test_requests_use_https_connections_opened_ahead(tls_registry: Registry) -> None:
    assert tls_registry.ca_file is not None
    trust = ssl.create_default_context(cafile=tls_registry.ca_file)

    async def check() -> list[int]:
        async with new_http_client(trust=trust) as http:
            preconnect(http, tls_registry.url, 3)
            await asyncio.sleep(0.2)
            replies = await asyncio.gather(*(http.get(f"{tls_registry.url}/v2/") for _ in range(3)))
            assert all(reply.extensions["http_version"] == b"HTTP/1.1" for reply in replies)
            return [reply.status_code for reply in replies]

    assert asyncio.run(check()) == [200, 200, 200]
