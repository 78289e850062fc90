"""The first `GET /v2/` of a run, sent while the HTTP stack is still being imported.

Where a registry's tokens come from is known only from its answer to `/v2/`, and the token
request waits for it. Importing asyncio and httpx takes about as long as that round trip, so
the registries the first file names are pinged on threads of their own, with the standard
library's http.client (which httpx imports anyway), while the main thread imports the rest.
`RegistryClient.adopt` then starts from their answers.

An optimisation only, and no less careful than the ping it stands in for: it carries no
credentials; behind a proxy it is not sent (one named by the environment), or its answer is
not used (one from the system's settings, which only urllib.request reads); anything but a
plain answer (an error, a 429 or a 5xx) is left to the HTTP client, which retries and reports.
Two failures are final, as they are for the HTTP client, which does not retry them: a host
name that does not resolve, and a registry that took the connection and then gave no answer
within the timeout (a loopback registry over TLS and then over plain HTTP, as the client
would try it). The client takes those as they are rather than wait as long again.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Callable, Iterable

from basepin.records import NamedTuple
from basepin.registry.endpoints import USER_AGENT, Endpoints, proxied

TYPE_CHECKING = False
if TYPE_CHECKING:
    from basepin.registry.trust import TrustLoader

# Registries pinged ahead at most: the first file rarely names more.
MOST_REGISTRIES = 4
# Answers the HTTP client would retry rather than learn from.
_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
# What a non-blocking connect answers while the handshake is under way (Windows: WSA codes).
_CONNECTING = frozenset(
    {0, errno.EINPROGRESS, errno.EWOULDBLOCK, getattr(errno, "WSAEWOULDBLOCK", errno.EWOULDBLOCK)}
)


class Answer(NamedTuple):
    """What a registry's `/v2/` answered: the base URL that answered, its status and its
    `WWW-Authenticate` challenges (all of them, comma-joined as httpx joins them)."""

    origin: str
    status: int
    challenges: str


class Pending:
    """An answer a ping's thread is yet to give. `then` passes it on once given (at once if it
    has been), on the thread that gives it; `wait` blocks for it. (concurrent.futures would
    do, but it imports logging and more on the way of the ping.)

    `connected` is set once the registry took the connection: the ping is then not stuck on
    an address the HTTP client would pass over. `failure`, given with no answer, says why none
    will come from asking again (see the module's docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._given = threading.Event()
        self._answer: Answer | None = None
        self._then: list[Callable[[Answer | None], object]] = []
        self.connected = threading.Event()
        self.failure: str | None = None

    def given(self) -> bool:
        return self._given.is_set()

    def give(self, answer: Answer | None, failure: str | None = None) -> None:
        with self._lock:
            self._answer = answer
            self.failure = None if answer is not None else failure
            self._given.set()
            then, self._then = self._then, []
        for call in then:
            call(answer)

    def then(self, call: Callable[[Answer | None], object]) -> None:
        with self._lock:
            if not self._given.is_set():
                self._then.append(call)
                return
        call(self._answer)

    def wait(self, timeout: float | None = None) -> Answer | None:
        """The answer; None as well when none came within `timeout` seconds."""
        self._given.wait(timeout)
        return self._answer

    async def arrival(self, timeout: float) -> Answer | None:
        """`wait` without blocking the event loop it is awaited on."""
        import asyncio

        loop = asyncio.get_running_loop()
        arrived: asyncio.Future[Answer | None] = loop.create_future()

        def settle(answer: Answer | None) -> None:
            if not arrived.done():
                arrived.set_result(answer)

        def hand_over(answer: Answer | None) -> None:  # on the giving thread
            if not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # closed since
                    loop.call_soon_threadsafe(settle, answer)

        self.then(hand_over)
        done, _ = await asyncio.wait([arrived], timeout=timeout)
        return arrived.result() if done else None


def start_pings(
    registries: Iterable[str], endpoints: Endpoints, trust: TrustLoader, timeout: float
) -> dict[str, Pending]:
    """Ping each of `registries` (the first few) on a thread of its own; the answer to come for
    each (None: the HTTP client is to ping it itself)."""
    # Imported here, once: the threads (and the trust store's) would wait on each other for it.
    import socket  # noqa: F401

    answers: dict[str, Pending] = {}
    for registry in list(dict.fromkeys(registries))[:MOST_REGISTRIES]:
        answer = answers[registry] = Pending()
        threading.Thread(
            target=_ping_into,
            args=(answer, registry, endpoints, trust, timeout),
            name=f"basepin-ping-{registry}",
            daemon=True,
        ).start()
    return answers


def _ping_into(
    answer: Pending, registry: str, endpoints: Endpoints, trust: TrustLoader, timeout: float
) -> None:
    failure = None
    try:
        found = ping(registry, endpoints, trust, timeout, connected=answer.connected.set)
    except Exception as exc:  # reported by the HTTP client, or taken as final (see above)
        import logging  # not on the way of the ping
        import socket

        logging.getLogger(__name__).debug("pinging %s ahead: %s", registry, exc)
        found = None
        if isinstance(exc, socket.gaierror):
            failure = "its host name does not resolve"
        elif isinstance(exc, TimeoutError) and answer.connected.is_set():
            failure = f"timed out: no answer within {timeout:g} s"  # as http.timed_out says
    answer.give(found, failure)


def ping(
    registry: str,
    endpoints: Endpoints,
    trust: TrustLoader,
    timeout: float,
    *,
    connected: Callable[[], object] | None = None,
) -> Answer | None:
    """`registry`'s answer to `GET /v2/`, from the first of its base URLs that speaks TLS as
    asked (see `Endpoints.base_urls`); None where the HTTP client must ask for itself (behind a
    proxy, or after an answer it would retry). Raises what the connection raised. `connected`
    is called once a connection is open."""
    if _proxy_variable():
        return None
    candidates = endpoints.base_urls(registry)
    opened = [False]  # whether the attempt under way got a connection

    def open_now() -> None:
        opened[0] = True
        if connected is not None:
            connected()

    for number, base in enumerate(candidates, start=1):
        opened[0] = False
        try:
            status, challenges = get_v2(base, trust, timeout, connected=open_now)
        except OSError as exc:  # ssl's errors too
            import ssl  # the trust store's thread has imported it

            tls_refused = isinstance(exc, ssl.SSLError) and not isinstance(
                exc, ssl.SSLCertVerificationError
            )
            # Silent after the connection opened: maybe a plain HTTP server waiting for a line
            # end the TLS greeting lacks. The HTTP client tries plain HTTP then as well.
            silent = isinstance(exc, TimeoutError) and opened[0]
            if (tls_refused or silent) and number < len(candidates):
                continue  # a loopback registry without TLS
            raise
        # The proxy settings httpx reads (system ones too, off Linux), read after the answer:
        # urllib.request takes ~15 ms to import, which httpx pays anyway.
        if status in _RETRIED_STATUSES or proxied():
            return None
        return Answer(base, status, challenges)
    return None


def _proxy_variable() -> bool:
    """Whether an environment variable names a proxy (as `urllib.request.getproxies` reads
    them on Linux, without importing it)."""
    names = ("http_proxy", "https_proxy", "all_proxy")
    return any(value and name.lower() in names for name, value in os.environ.items())


def get_v2(
    base: str, trust: TrustLoader, timeout: float, *, connected: Callable[[], object] | None = None
) -> tuple[int, str]:
    """Status and `WWW-Authenticate` of `GET {base}/v2/`; raises what the socket or http.client
    raise. The TCP handshake is under way while http.client is imported; `connected` is called
    once it is over."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(base)
    host = url.hostname or ""
    https = url.scheme == "https"
    port = url.port or (443 if https else 80)
    # An ASCII name as bytes: a str would load the IDNA codec first (~2 ms).
    name = host.encode() if host.isascii() else host
    family, kind, protocol, _, address = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, protocol) as raw:
        raw.setblocking(False)
        if (status := raw.connect_ex(address)) not in _CONNECTING:
            raise OSError(status, os.strerror(status))
        import http.client
        import selectors

        with selectors.DefaultSelector() as waiting:
            waiting.register(raw, selectors.EVENT_WRITE)
            if not waiting.select(timeout):
                raise TimeoutError(f"connecting to {host}:{port} timed out")
        if error := raw.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            raise OSError(error, os.strerror(error))
        if connected is not None:
            connected()
        raw.settimeout(timeout)
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        connection.sock = trust.context().wrap_socket(raw, server_hostname=host) if https else raw
        try:
            connection.request("GET", f"{url.path}/v2/", headers={"User-Agent": USER_AGENT})
            response = connection.getresponse()
            return response.status, ", ".join(response.headers.get_all("www-authenticate") or ())
        finally:
            connection.close()
