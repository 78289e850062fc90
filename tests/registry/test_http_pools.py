"""The run's HTTP client: many connections spread over small pools, one pool behind a proxy."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from basepin.registry.http import PoolSet, new_http_client
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
    monkeypatch.setattr("basepin.registry.http.CONNECTIONS_PER_POOL", 2)
    monkeypatch.setattr("basepin.registry.http.MAX_CONNECTIONS", 6)

    async def check() -> tuple[list[int], int]:
        async with new_http_client() as http:
            replies = await asyncio.gather(
                *(http.get(f"{plain_registry.url}/v2/") for _ in range(12))
            )
            # Every pool is free again once the answers are closed.
            busy = list(_pools(http)._busy)
            return [reply.status_code for reply in replies] + busy, len(_pools(http))

    statuses_and_busy, pools = asyncio.run(check())
    assert statuses_and_busy == [200] * 12 + [0] * pools
    assert pools == 3


def test_a_pool_is_freed_when_the_request_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    async def check() -> list[int]:
        async with new_http_client(timeout=2.0) as http:
            with pytest.raises(httpx.ConnectError):
                # Port 9 on loopback: nothing listens there.
                await http.get("http://127.0.0.1:9/v2/")
            return list(_pools(http)._busy)

    assert asyncio.run(check()) == [0]


def test_a_proxy_in_the_environment_keeps_httpx_in_charge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    client = new_http_client()
    assert not isinstance(client._transport, PoolSet)
    assert any(transport is not None for transport in client._mounts.values())
