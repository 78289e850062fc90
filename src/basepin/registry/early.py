"""The first `GET /v2/` of a run, sent while the HTTP stack is still being imported.

Where a registry's tokens come from is known only from its answer to `/v2/`, and the token
request waits for it. Importing asyncio and httpx takes about as long as that round trip, so
the registries the first file names are pinged on threads of their own, with the standard
library's http.client (which httpx imports anyway), while the main thread imports the rest.
`RegistryClient.adopt` then starts from their answers.

An optimisation only, and no less careful than the ping it stands in for: it carries no
credentials; behind a proxy from the environment it is not sent; anything but a plain answer
(an error, a timeout, a 429 or a 5xx) is left to the HTTP client, which retries and reports.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from concurrent.futures import Future

from basepin.records import NamedTuple
from basepin.registry.endpoints import USER_AGENT, Endpoints, proxied

TYPE_CHECKING = False
if TYPE_CHECKING:
    from basepin.registry.trust import TrustLoader

logger = logging.getLogger(__name__)

# Registries pinged ahead at most: the first file rarely names more.
MOST_REGISTRIES = 4
# Answers the HTTP client would retry rather than learn from.
_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


class Answer(NamedTuple):
    """What a registry's `/v2/` answered: the base URL that answered, its status and its
    `WWW-Authenticate` challenges (all of them, comma-joined as httpx joins them)."""

    origin: str
    status: int
    challenges: str


def start_pings(
    registries: Iterable[str], endpoints: Endpoints, trust: TrustLoader, timeout: float
) -> dict[str, Future[Answer | None]]:
    """Ping each of `registries` (the first few) on a thread of its own; a future answer for
    each (None: the HTTP client is to ping it itself)."""
    answers: dict[str, Future[Answer | None]] = {}
    for registry in list(dict.fromkeys(registries))[:MOST_REGISTRIES]:
        answer: Future[Answer | None] = Future()
        answers[registry] = answer
        threading.Thread(
            target=_ping_into,
            args=(answer, registry, endpoints, trust, timeout),
            name=f"basepin-ping-{registry}",
            daemon=True,
        ).start()
    return answers


def _ping_into(
    answer: Future[Answer | None],
    registry: str,
    endpoints: Endpoints,
    trust: TrustLoader,
    timeout: float,
) -> None:
    try:
        answer.set_result(ping(registry, endpoints, trust, timeout))
    except Exception as exc:  # whatever went wrong goes wrong again, and is reported, later
        logger.debug("pinging %s ahead: %s", registry, exc)
        answer.set_result(None)


def ping(registry: str, endpoints: Endpoints, trust: TrustLoader, timeout: float) -> Answer | None:
    """`registry`'s answer to `GET /v2/`, from the first of its base URLs that speaks TLS as
    asked (see `Endpoints.base_urls`); None where the HTTP client must ask for itself."""
    import ssl

    if proxied():
        return None
    candidates = endpoints.base_urls(registry)
    for number, base in enumerate(candidates, start=1):
        try:
            status, challenges = get_v2(base, trust, timeout)
        except ssl.SSLCertVerificationError:
            return None
        except ssl.SSLError:
            if number < len(candidates):
                continue  # a loopback registry without TLS
            return None
        return None if status in _RETRIED_STATUSES else Answer(base, status, challenges)
    return None


def get_v2(base: str, trust: TrustLoader, timeout: float) -> tuple[int, str]:
    """Status and `WWW-Authenticate` of `GET {base}/v2/`; raises what http.client raises."""
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(base)
    host = url.hostname or ""
    connection: http.client.HTTPConnection
    # The port always given: http.client would read one from an IPv6 address otherwise.
    if url.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, url.port or 443, timeout=timeout, context=trust.context()
        )
    else:
        connection = http.client.HTTPConnection(host, url.port or 80, timeout=timeout)
    try:
        connection.request("GET", f"{url.path}/v2/", headers={"User-Agent": USER_AGENT})
        response = connection.getresponse()
        return response.status, ", ".join(response.headers.get_all("www-authenticate") or ())
    finally:
        connection.close()
