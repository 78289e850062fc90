"""Connections opened ahead of the requests that use them (TLS too), as httpcore's backend."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore


class Preconnecting(httpcore.AsyncNetworkBackend):
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
