"""A TCP proxy that adds network latency and counts the HTTP requests passing through it.

Each listening port forwards to one upstream (a registry, a token server). Every chunk is
delivered `delay` seconds after it arrived, in both directions, without limiting bandwidth;
a new connection's first bytes wait one more round trip, as a TCP handshake would make them.
The client->server stream is read as HTTP/1.1 (keep-alive, bodies skipped by Content-Length)
and each request line is counted by kind: token, ping, HEAD manifest, GET manifest, GET blob,
tags/list; a TLS ClientHello counts as `tls attempt`.

The proxy runs its own event loop in a daemon thread, so the benchmark's main thread may block
on subprocesses.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable

_REQUEST_LINE = re.compile(rb"([A-Z]+) (\S+) HTTP/1\.[01]")
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_TLS_HANDSHAKE = 0x16

KINDS = (
    "token",
    "ping",
    "HEAD manifest",
    "GET manifest",
    "GET blob",
    "tags/list",
    "other",
    "tls attempt",
    "connections",
)


def registry_kind(method: str, path: str) -> str:
    """What a request to the registry's API is, for the tally."""
    route = path.split("?", 1)[0]
    if route in ("/v2", "/v2/"):
        return "ping"
    if "/manifests/" in route and method in ("HEAD", "GET"):
        return f"{method} manifest"
    if "/blobs/" in route and method == "GET":
        return "GET blob"
    if route.endswith("/tags/list"):
        return "tags/list"
    return "other"


def token_kind(method: str, path: str) -> str:
    return "token"


class RequestCounter:
    """Thread-safe tally of requests by kind (and of connections)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def take(self) -> Counter[str]:
        """The counts so far; the tally starts again from zero."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return counts


class _RequestReader:
    """Finds the request lines in one connection's client->server bytes."""

    def __init__(self, classify: Callable[[str, str], str], counter: RequestCounter) -> None:
        self._classify = classify
        self._counter = counter
        self._buffer = b""
        self._skip = 0  # body bytes of the current request still to come
        self._first = True

    def feed(self, data: bytes) -> None:
        if self._first and data:
            self._first = False
            if data[0] == _TLS_HANDSHAKE:
                self._counter.add("tls attempt")
                self._skip = -1  # not HTTP: count nothing more on this connection
        if self._skip < 0:
            return
        self._buffer += data
        while True:
            if self._skip:
                taken = min(self._skip, len(self._buffer))
                self._buffer = self._buffer[taken:]
                self._skip -= taken
                if self._skip:
                    return
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
            line = _REQUEST_LINE.match(head)
            if line is None:
                self._counter.add("other")
            else:
                method, path = line.group(1).decode(), line.group(2).decode("latin-1")
                self._counter.add(self._classify(method, path))
            length = _CONTENT_LENGTH.search(head)
            self._skip = int(length.group(1)) if length else 0


class LatencyProxy:
    """Listening ports on 127.0.0.1, each forwarding to an upstream with added latency."""

    def __init__(self, delay: float, counter: RequestCounter) -> None:
        self.delay = delay
        self.counter = counter
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._servers: list[asyncio.Server] = []

    def listen(self, upstream_port: int, classify: Callable[[str, str], str]) -> int:
        """Start forwarding a new loopback port to 127.0.0.1:`upstream_port`; its number."""

        async def start() -> asyncio.Server:
            return await asyncio.start_server(
                lambda r, w: self._connection(r, w, upstream_port, classify),
                "127.0.0.1",
                0,
                backlog=512,
            )

        server = asyncio.run_coroutine_threadsafe(start(), self._loop).result()
        self._servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.close()
                await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    async def _connection(
        self,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
        upstream_port: int,
        classify: Callable[[str, str], str],
    ) -> None:
        loop = asyncio.get_running_loop()
        # The client's first bytes reach the server one round trip after its SYN, plus the
        # one-way delay every byte has.
        handshake_done = loop.time() + 2 * self.delay
        self.counter.add("connections")
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            client_writer.close()
            return
        for writer in (client_writer, server_writer):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        requests = _RequestReader(classify, self.counter)
        await asyncio.gather(
            self._pipe(client_reader, server_writer, handshake_done, requests.feed),
            self._pipe(server_reader, client_writer, 0.0, None),
        )

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        not_before: float,
        observe: Callable[[bytes], None] | None,
    ) -> None:
        """Copy `source` to `sink`, each chunk `delay` seconds late (in order)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not chunk:
                    break
                sink.write(chunk)
                try:
                    await sink.drain()
                except ConnectionError:
                    break
            sink.close()

        delivery = asyncio.create_task(deliver())
        while True:
            try:
                chunk = await source.read(1 << 16)
            except ConnectionError:
                chunk = b""
            if observe is not None:
                observe(chunk)
            queue.put_nowait((max(loop.time(), not_before) + self.delay, chunk))
            if not chunk:
                break
        await delivery
