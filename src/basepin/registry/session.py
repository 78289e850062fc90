"""Where each registry answers, how it authenticates, sending to it: beneath the OCI questions."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Callable, Sequence

import httpx

from basepin.reference import ImageReference
from basepin.registry.auth import Authenticator
from basepin.registry.credentials import CredentialStore
from basepin.registry.early import Answer, Pending
from basepin.registry.endpoints import Endpoints
from basepin.registry.errors import (
    BlobNotFound,
    ManifestNotFound,
    NotFound,
    ProtocolError,
    RegistryError,
    RepositoryNotFound,
    Unauthorized,
    Unavailable,
)
from basepin.registry.http import (
    MAX_ANSWER_BYTES,
    Reply,
    RetryPolicy,
    Sender,
    is_certificate_error,
    is_tls_failure,
    joined_url,
    same_origin,
    timed_out,
)
from basepin.registry.pools import preconnect

# The OCI client's logger, whichever of its modules logs.
logger = logging.getLogger("basepin.registry.oci")

MAX_REDIRECTS = 5
# How long the lookups wait for a ping sent ahead before pinging themselves (it is normally
# answered by then; a connection stuck on an unreachable address is not).
EARLY_ANSWER_WAIT = 1.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class RegistrySession:
    """Connections to the registries of a run: where each answers, what it wants for
    authorization, which did not answer at all; requests sent with authorization, following
    redirects, and what an unsuccessful answer means."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        credentials: CredentialStore | None = None,
        endpoints: Endpoints | None = None,
        *,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._sender = Sender(http, retry or RetryPolicy())
        self._endpoints = endpoints or Endpoints()
        self._auth = Authenticator(
            self._sender, credentials or CredentialStore(), self._endpoints, clock=clock
        )
        self._origins: dict[str, str] = {}
        self._origin_locks: dict[str, asyncio.Lock] = {}
        self._introductions: dict[str, asyncio.Lock] = {}
        self._adopting: dict[str, asyncio.Task[None]] = {}
        self._rate_limits: dict[str, int] = {}
        # Registries whose ping got no answer at all, with what happened.
        self._unreachable: dict[str, str] = {}
        # Base URLs that answered a ping.
        self._heard: set[str] = set()

    def silence(self, registry: str) -> str | None:
        """Why `registry` is taken to be silent: the failure of its first request, or, while
        that has not been answered, that it timed out as well; None once it has answered.
        (A reference given up at its deadline says this rather than the deadline, whichever
        of the two ran out first.)"""
        if registry in self._unreachable:
            return self._unreachable[registry]
        candidates = self._endpoints.base_urls(registry)
        if any(base in self._heard for base in candidates):
            return None
        timeout = self._sender.retry.deadline
        return None if timeout is None else f"{registry}: {timed_out(timeout)}"

    def rate_limit_remaining(self, registry: str) -> int | None:
        """The last `ratelimit-remaining` `registry` sent in this run."""
        return self._rate_limits.get(registry)

    def adopt(self, registry: str, early: Pending) -> None:
        """Take `registry`'s answer to a ping sent before this client existed (see
        `basepin.registry.early`) in place of a ping of its own, if it comes in time."""
        self._adopting[registry] = asyncio.ensure_future(self._adopt(registry, early))

    async def _adopt(self, registry: str, early: Pending) -> None:
        answer = await early.arrival(EARLY_ANSWER_WAIT)
        candidates = self._endpoints.base_urls(registry)
        timeout = self._sender.retry.deadline
        if not early.given() and early.connected.is_set() and timeout is not None:
            # Connected, so not stuck on an address: a ping of the client's own would wait
            # for the same server, as long (each base URL within the timeout).
            answer = await early.arrival(len(candidates) * timeout + EARLY_ANSWER_WAIT)
        if answer is None and early.failure is not None:
            # No answer, and none to come from asking again: given up at once.
            self._unreachable.setdefault(registry, f"{registry}: {early.failure}")
            return
        if answer is None or answer.origin not in candidates:
            return
        if len(candidates) > 1:
            self._origins[registry] = answer.origin
        self._learn(answer.origin, answer)

    async def introduce(self, registry: str) -> None:
        """Learn where `registry` answers and how it wants to be authenticated (one GET /v2/,
        once), ahead of the first real question.

        An optimisation only: it never raises; what fails here fails again, and is reported,
        when the registry is first asked about.
        """
        try:
            origin = await self._origin(registry)
            if registry in self._unreachable:
                return
            async with self._introductions.setdefault(origin, asyncio.Lock()):
                if not self._auth.knows(origin):
                    self._learn(origin, await self._ping(origin, registry))
        except Unavailable as exc:
            # No answer at all: every question to it would wait as long again for nothing.
            self._unreachable.setdefault(registry, str(exc))
        except RegistryError as exc:
            logger.debug("introducing %s: %s", registry, exc)

    async def prefetch_tokens(self, registry: str, repositories: Sequence[str]) -> None:
        """Get pull tokens for all `repositories` of `registry` in one token request.

        An optimisation only, like `introduce`: it never raises.
        """
        await self.introduce(registry)
        try:
            await self._auth.prefetch(await self._origin(registry), registry, repositories)
        except RegistryError as exc:
            logger.debug("prefetching tokens for %s: %s", registry, exc)

    async def preconnect(self, registry: str, count: int) -> None:
        """Start opening `count` connections to `registry` for the requests to come, so they
        need not wait for TCP handshakes (e.g. while the token is fetched). Never raises."""
        try:
            origin = await self._origin(registry)
        except RegistryError:
            return
        preconnect(self._http, origin, count)

    # -- requests ------------------------------------------------------------------------------

    async def _origin(self, registry: str) -> str:
        """The base URL that answers for `registry`; loopback hosts fall back to plain HTTP."""
        adopting = self._adopting.get(registry)
        if adopting is not None:
            # An answer that came ahead tells, so the probe is not repeated (shielded: other
            # lookups wait for the same answer when this one gives up).
            await asyncio.shield(adopting)
        candidates = self._endpoints.base_urls(registry)
        if len(candidates) == 1:
            return candidates[0]
        if registry in self._origins:
            return self._origins[registry]
        async with self._origin_locks.setdefault(registry, asyncio.Lock()):
            self._raise_if_unreachable(registry, None)
            if registry not in self._origins:
                try:
                    self._origins[registry] = await self._probe(registry, candidates)
                except Unavailable as exc:
                    # The lookups waiting for this probe would each wait as long for nothing.
                    self._unreachable.setdefault(registry, str(exc))
                    raise
            return self._origins[registry]

    def _raise_if_unreachable(self, registry: str, repository: str | None) -> None:
        unreachable = self._unreachable.get(registry)
        if unreachable is not None:
            raise Unavailable(unreachable, registry=registry, repository=repository)

    async def _probe(self, registry: str, candidates: Sequence[str]) -> str:
        for base, fallback in itertools.pairwise(candidates):
            try:
                reply = await self._ping(base, registry)
            except Unavailable as exc:
                if is_tls_failure(exc) and not is_certificate_error(exc):
                    logger.debug("%s does not speak TLS; trying %s", base, fallback)
                    continue
                raise
            self._learn(base, reply)
            return base
        self._learn(candidates[-1], await self._ping(candidates[-1], registry))
        return candidates[-1]

    def _learn(self, origin: str, answer: Reply | Answer) -> None:
        """Learn how `origin` authenticates from its answer to `/v2/`. Where that names a token
        realm, a connection to it opens at once: the token request follows as soon as the
        files are read, and need not wait for a handshake then."""
        self._heard.add(origin)
        challenge = self._auth.learn(origin, answer)
        if challenge is None or challenge.scheme != "bearer" or not challenge.realm:
            return
        try:
            realm = httpx.URL(challenge.realm)
        except httpx.InvalidURL:
            return  # the token request reports it
        if realm.scheme in ("http", "https") and realm.host:
            preconnect(self._http, str(realm), 1)

    async def _ping(self, origin: str, registry: str) -> Reply:
        request = self._http.build_request("GET", f"{origin}/v2/")
        return await self._sender.send(request, registry=registry, repository=None, what=registry)

    async def _request(
        self,
        method: str,
        ref: ImageReference,
        target: str | httpx.URL,
        *,
        what: str,
        accept: str | None = None,
        limit: int = MAX_ANSWER_BYTES,
    ) -> Reply:
        """Send with authorization, once more after a 401 where that can help; an answer over
        `limit` bytes is a ProtocolError."""
        self._raise_if_unreachable(ref.registry, ref.repository)
        origin = await self._origin(ref.registry)
        self._raise_if_unreachable(ref.registry, ref.repository)  # learned while waiting
        url = httpx.URL(f"{origin}{target}") if isinstance(target, str) else target
        sent = await self._auth.authorization(origin, ref.registry, ref.repository)
        reply = await self._follow(method, url, sent, accept, ref, what, limit)
        # A 401 from a redirect target (a CDN) is no challenge of the registry's.
        if reply.status == 401 and same_origin(reply.url, url):
            retry = await self._auth.after_refusal(
                origin, ref.registry, ref.repository, reply, sent
            )
            if retry is not None:
                sent = retry
                reply = await self._follow(method, url, sent, accept, ref, what, limit)
        if reply.status == 401 and same_origin(reply.url, url):
            note = await self._auth.credentials_note(origin, httpx.URL(origin))
            raise Unauthorized(
                f"{what}: the registry refused access {note}; the repository may not exist "
                "or may need other credentials",
                registry=ref.registry,
                repository=ref.repository,
            )
        if reply.rate_limit_remaining is not None:
            self._rate_limits[ref.registry] = reply.rate_limit_remaining
        return reply

    async def _follow(
        self,
        method: str,
        url: httpx.URL,
        authorization: str | None,
        accept: str | None,
        ref: ImageReference,
        what: str,
        limit: int,
    ) -> Reply:
        """Send, following redirects; Authorization goes to the registry's origin only."""
        start = url
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"Accept": accept} if accept else {}
            if authorization and same_origin(url, start):
                headers["Authorization"] = authorization
            request = self._http.build_request(method, url, headers=headers)
            reply = await self._sender.send(
                request, registry=ref.registry, repository=ref.repository, what=what, limit=limit
            )
            location = reply.headers.get("location")
            if reply.status not in _REDIRECTS or not location:
                return reply
            url = joined_url(url, location, f"{what}: the redirect target", ref.registry)
            logger.debug("%s: redirected to %s", what, url.host)
        raise ProtocolError(
            f"{what}: more than {MAX_REDIRECTS} redirects",
            registry=ref.registry,
            repository=ref.repository,
        )

    def _check(
        self, reply: Reply, ref: ImageReference, what: str, subject: str, missing: type[NotFound]
    ) -> None:
        """Raise the error an unsuccessful answer means; `missing` is what a bare 404 means."""
        if 200 <= reply.status < 300:
            return
        codes = _error_codes(reply)
        where = f"{ref.registry}/{ref.repository}"
        context = {"registry": ref.registry, "repository": ref.repository}
        if "NAME_UNKNOWN" in codes or (reply.status == 404 and missing is RepositoryNotFound):
            code = "NAME_UNKNOWN" if "NAME_UNKNOWN" in codes else None
            raise RepositoryNotFound(f"repository {where} not found", code=code, **context)
        if reply.status == 404:
            known = {"MANIFEST_UNKNOWN": ManifestNotFound, "BLOB_UNKNOWN": BlobNotFound}
            code = next((code for code in known if code in codes), None)
            kind = known[code] if code else missing
            raise kind(f"{subject} not found in {where}", code=code, **context)
        if reply.status == 403 or "DENIED" in codes:
            raise Unauthorized(f"{what}: the registry denied access", **context)
        if "NAME_INVALID" in codes:
            raise RepositoryNotFound(
                f"{where}: the registry rejects the repository name", code="NAME_INVALID", **context
            )
        raise ProtocolError(
            f"{what}: unexpected answer HTTP {reply.status}"
            + (f" ({', '.join(sorted(codes))})" if codes else ""),
            **context,
        )


def _error_codes(reply: Reply) -> set[str]:
    """The `errors[].code` values of a registry error body (none when it is not one)."""
    try:
        errors = json.loads(reply.body).get("errors")
        return {str(error["code"]) for error in errors if isinstance(error, dict)}
    except (ValueError, AttributeError, TypeError, KeyError):
        return set()
