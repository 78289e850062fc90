"""OCI Distribution client: what a tag points to, what a digest is, which tags exist.

    http = new_http_client()
    client = RegistryClient(http, CredentialStore.from_environment(), Endpoints(mirrors))
    await client.prefetch_tokens("docker.io", ["library/python", "library/node"])
    head = await client.head_digest(parse_reference("python:3.12"))
    info = await client.digest_info(parse_reference("python:3.12"), head.digest)

Every digest of content basepin reads is checked against the bytes received; a mismatch is a
ProtocolError, never accepted. Answers are errors from `registry.errors` (never httpx's).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import httpx

from basepin.digests import digest_problem
from basepin.model import DigestInfo, Platform
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
    MAX_CONFIG_BYTES,
    MAX_MANIFEST_BYTES,
    MAX_TAG_PAGE_BYTES,
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

logger = logging.getLogger(__name__)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
# One header with all four: without the index types a registry answers with a platform child
# (another digest) or 404 for an OCI index; without any, with schema 1.
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
# Reproducible builds stamp these; they say nothing about the image's age.
UNKNOWN_DATES = frozenset({date(1970, 1, 1), date(1980, 1, 1), date(1, 1, 1)})
DEFAULT_PLATFORM = Platform("linux", "amd64")
ATTESTATION_TYPE = "attestation-manifest"
MAX_REDIRECTS = 5
# How long the lookups wait for a ping sent ahead before pinging themselves (it is normally
# answered by then; a connection stuck on an unreachable address is not).
EARLY_ANSWER_WAIT = 1.0
MAX_TAG_PAGES = 1000
# Tags of one repository held at most; a longer list is cut, and said to be.
MAX_TAGS = 100_000
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_LINK = re.compile(r"<([^>]*)>([^<]*)")
_FRACTION = re.compile(r"\.(\d+)")


@dataclass(frozen=True)
class ManifestHead:
    """What a tag points to now, from one HEAD (or GET where HEAD says nothing)."""

    digest: str
    media_type: str | None
    size: int | None
    # `ratelimit-remaining` of the answer (Docker Hub), where sent.
    rate_limit_remaining: int | None = None
    # True when the digest is the hash of bytes received (a GET), not a header's claim.
    verified: bool = False


@dataclass(frozen=True)
class TagList:
    """Tags in the registry's order; `complete` is False when paging stopped early (`note`)."""

    tags: tuple[str, ...]
    complete: bool = True
    note: str | None = None


@dataclass(frozen=True)
class Manifest:
    """A manifest as received, its digest checked against the bytes."""

    digest: str
    media_type: str
    body: bytes
    document: Mapping[str, Any]


class RegistryClient:
    """Asks registries about references; one per run, sharing one `httpx.AsyncClient`.

    Safe to use from concurrent tasks: tokens, credentials and endpoint probes are fetched
    once per key.
    """

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

    async def head_digest(self, ref: ImageReference) -> ManifestHead:
        """The digest the reference's tag points to (its digest, for a digest-only reference).

        For a multi-platform image this is the index digest, never a platform child's.
        """
        target = ref.effective_tag or ref.digest or ""
        what = _what(ref, target)
        path = f"/v2/{ref.repository}/manifests/{target}"
        reply = await self._request(
            "HEAD", ref, path, accept=MANIFEST_ACCEPT, what=what, limit=MAX_MANIFEST_BYTES
        )
        header = reply.headers.get("docker-content-digest")
        if reply.status in (404, 405) or (reply.status == 200 and not header):
            # A HEAD with no digest (some proxies) or none at all: hash what a GET sends.
            reply = await self._request(
                "GET", ref, path, accept=MANIFEST_ACCEPT, what=what, limit=MAX_MANIFEST_BYTES
            )
            self._check(reply, ref, what, _subject(target), ManifestNotFound)
            digest = _verified_digest(reply, None, ref, what)
            return ManifestHead(
                digest, _media_type(reply), len(reply.body), reply.rate_limit_remaining, True
            )
        self._check(reply, ref, what, _subject(target), ManifestNotFound)
        digest = _checked_digest(header or "", ref, what)
        if ref.digest and target == ref.digest and digest != ref.digest:
            raise ProtocolError(
                f"{what}: the registry reports digest {digest} for it",
                registry=ref.registry,
                repository=ref.repository,
            )
        length = reply.headers.get("content-length", "")
        return ManifestHead(
            digest,
            _media_type(reply),
            int(length) if length.isdigit() else None,
            reply.rate_limit_remaining,
        )

    async def digest_info(
        self, ref: ImageReference, digest: str, *, platform: Platform | None = None
    ) -> DigestInfo:
        """Facts of a manifest digest: type, platforms, build date and size.

        For an index, the platforms are its children's (attestations left out); the date and
        size are those of the child for `platform`, else linux/amd64, else the first child.
        """
        manifest = await self._manifest(ref, digest)
        return await self.facts_of(ref, manifest, platform=platform)

    async def tag_manifest(self, ref: ImageReference) -> tuple[ManifestHead, Manifest]:
        """What the tag points to, with the manifest itself: one GET where `head_digest` and
        `digest_info` take a HEAD and a GET. Not for Docker Hub, where a manifest GET counts
        against the pull limit and a HEAD does not."""
        target = ref.effective_tag or ref.digest or ""
        what = _what(ref, target)
        path = f"/v2/{ref.repository}/manifests/{target}"
        reply = await self._request(
            "GET", ref, path, accept=MANIFEST_ACCEPT, what=what, limit=MAX_MANIFEST_BYTES
        )
        self._check(reply, ref, what, _subject(target), ManifestNotFound)
        digest = _verified_digest(reply, ref.digest if target == ref.digest else None, ref, what)
        manifest = _parsed_manifest(reply, digest, ref, what)
        head = ManifestHead(
            digest, manifest.media_type, len(reply.body), reply.rate_limit_remaining, True
        )
        return head, manifest

    async def manifest(self, ref: ImageReference, digest: str) -> Manifest:
        """The manifest `digest` names, its bytes hashed to that digest (on Docker Hub this
        costs a pull)."""
        return await self._manifest(ref, digest)

    def outline(self, ref: ImageReference, manifest: Manifest) -> DigestInfo:
        """What a manifest tells of itself, without further requests: its type and, for an
        index, its platforms and their manifests (no dates or sizes)."""
        if manifest.media_type not in INDEX_TYPES:
            return DigestInfo(manifest.digest, manifest.media_type)
        children = _children(manifest, ref)
        return DigestInfo(
            manifest.digest,
            manifest.media_type,
            tuple(platform for _, platform in children),
            is_index=True,
            children=tuple(digest for digest, _ in children),
        )

    async def facts_of(
        self, ref: ImageReference, manifest: Manifest, *, platform: Platform | None = None
    ) -> DigestInfo:
        """Facts of a manifest already received, as `digest_info` gives them. The build date
        is the `org.opencontainers.image.created` annotation of the index or manifest where
        it has one, else the image config's `created`."""
        if manifest.media_type not in INDEX_TYPES:
            built, total, own_platform = await self._image_facts(ref, manifest)
            created, source = _dated(annotated_created(manifest.document), built)
            return DigestInfo(
                manifest.digest,
                manifest.media_type,
                (own_platform,) if own_platform else (),
                is_index=False,
                created=created,
                size=total,
                created_source=source,
            )
        children = _children(manifest, ref)
        platforms = tuple(child_platform for _, child_platform in children)
        annotated = annotated_created(manifest.document)
        child_built: datetime | None = None
        size: int | None = None
        chosen = _choose(children, platform)
        if chosen is not None:
            child = await self._manifest(ref, chosen)
            if child.media_type in IMAGE_TYPES:
                child_built, size, _ = await self._image_facts(ref, child)
                annotated = annotated or annotated_created(child.document)
        created, source = _dated(annotated, child_built)
        return DigestInfo(
            manifest.digest,
            manifest.media_type,
            platforms,
            is_index=True,
            children=tuple(child_digest for child_digest, _ in children),
            created=created,
            size=size,
            created_source=source,
        )

    async def list_tags(
        self, ref: ImageReference, *, page_size: int = 1000, limit: int = MAX_TAGS
    ) -> TagList:
        """The repository's tags, following `Link: <...>; rel="next"` on the same origin, up
        to `limit` of them (memory stays bounded whatever the registry sends).

        A page shorter than `page_size` does not end the list; only a missing next link does.
        """
        what = f"{ref.registry}/{ref.repository} tag list"
        origin = await self._origin(ref.registry)
        url = httpx.URL(f"{origin}/v2/{ref.repository}/tags/list").copy_merge_params(
            {"n": page_size}
        )
        tags: list[str] = []
        seen: set[str] = set()
        while True:
            seen.add(str(url))
            reply = await self._request("GET", ref, url, what=what, limit=MAX_TAG_PAGE_BYTES)
            self._check(reply, ref, what, "tag list", RepositoryNotFound)
            tags += _page_tags(reply, ref, what)
            if len(tags) >= limit:
                return TagList(tuple(tags[:limit]), False, f"stopped after {limit} tags")
            link = _next_link(reply.headers)
            if link is None:
                return TagList(tuple(tags))
            following = joined_url(reply.url, link, f"{what}: the next page", ref.registry)
            stop = None
            if not same_origin(following, reply.url):
                stop = f"the next page is on another host ({following.host}); not followed"
            elif str(following) in seen or len(seen) >= MAX_TAG_PAGES:
                stop = "the registry's pages do not end; stopped"
            if stop is not None:
                return TagList(tuple(tags), False, stop)
            url = following

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

    # -- manifests and blobs -------------------------------------------------------------------

    async def _manifest(self, ref: ImageReference, digest: str) -> Manifest:
        what = _what(ref, digest)
        _checked_digest(digest, ref, what)
        path = f"/v2/{ref.repository}/manifests/{digest}"
        reply = await self._request(
            "GET", ref, path, accept=MANIFEST_ACCEPT, what=what, limit=MAX_MANIFEST_BYTES
        )
        self._check(reply, ref, what, _subject(digest), ManifestNotFound)
        _verified_digest(reply, digest, ref, what)
        return _parsed_manifest(reply, digest, ref, what)

    async def _image_facts(
        self, ref: ImageReference, manifest: Manifest
    ) -> tuple[datetime | None, int | None, Platform | None]:
        """Build date, total size and platform of a single-platform manifest."""
        config_digest, config_size = _descriptor(manifest.document.get("config"), ref, manifest)
        layers = manifest.document.get("layers") or []
        if not isinstance(layers, list):
            raise _malformed(ref, manifest, "'layers' is not a list")
        layer_sizes = [_descriptor(layer, ref, manifest)[1] for layer in layers]
        config = _json_object(await self._blob(ref, config_digest), ref, _what(ref, config_digest))
        size = len(manifest.body) + config_size + sum(layer_sizes)
        return parse_created(config.get("created")), size, _platform(config)

    async def blob(self, ref: ImageReference, digest: str, *, limit: int) -> bytes:
        """The blob `digest` names, read to at most `limit` bytes and hashed to its digest
        (blob GETs do not count against Docker Hub's pull limit)."""
        _checked_digest(digest, ref, f"{ref.registry}/{ref.repository} blob {digest}")
        return await self._blob(ref, digest, limit=limit)

    async def _blob(
        self, ref: ImageReference, digest: str, *, limit: int = MAX_CONFIG_BYTES
    ) -> bytes:
        what = f"{ref.registry}/{ref.repository} blob {digest}"
        path = f"/v2/{ref.repository}/blobs/{digest}"
        reply = await self._request("GET", ref, path, what=what, limit=limit)
        self._check(reply, ref, what, f"blob {digest}", BlobNotFound)
        _verified_digest(reply, digest, ref, what)
        return reply.body


# -- pure helpers ------------------------------------------------------------------------------


def _what(ref: ImageReference, target: str) -> str:
    separator = "@" if ":" in target else ":"
    return f"{ref.registry}/{ref.repository}{separator}{target}"


def _subject(target: str) -> str:
    return f"digest {target}" if ":" in target else f"tag {target!r}"


def _media_type(reply: Reply) -> str | None:
    value = reply.headers.get("content-type", "").split(";")[0].strip()
    return value or None


def _checked_digest(digest: str, ref: ImageReference, what: str) -> str:
    problem = digest_problem(digest)
    if problem is not None:
        raise ProtocolError(
            f"{what}: the registry sent {digest[:140]!r} as a digest: {problem}",
            registry=ref.registry,
            repository=ref.repository,
        )
    return digest


def _verified_digest(reply: Reply, expected: str | None, ref: ImageReference, what: str) -> str:
    """The digest of the bytes received; it must match `expected` and the registry's header."""
    header = reply.headers.get("docker-content-digest")
    claims = [claim for claim in (expected, header) if claim]
    for claim in claims:
        _checked_digest(claim, ref, what)
    algorithm = (claims[0] if claims else "sha256:").partition(":")[0]
    actual = f"{algorithm}:{hashlib.new(algorithm, reply.body).hexdigest()}"
    for claim in claims:
        if claim != actual:
            source = "the requested digest" if claim == expected else "its Docker-Content-Digest"
            raise ProtocolError(
                f"{what}: the content the registry sent has digest {actual}, "
                f"not {claim} ({source})",
                registry=ref.registry,
                repository=ref.repository,
            )
    return actual


def _parsed_manifest(reply: Reply, digest: str, ref: ImageReference, what: str) -> Manifest:
    """The manifest in a (digest-checked) answer, with its media type made out."""
    document = _json_object(reply.body, ref, what)
    declared = document.get("mediaType") or _media_type(reply)
    if declared in INDEX_TYPES or declared in IMAGE_TYPES:
        media_type = str(declared)
    elif document.get("schemaVersion") == 2 and isinstance(document.get("manifests"), list):
        media_type = OCI_INDEX
    elif document.get("schemaVersion") == 2 and isinstance(document.get("config"), dict):
        media_type = OCI_MANIFEST
    else:
        raise ProtocolError(
            f"{what}: unsupported manifest type {declared or 'schema 1'}",
            registry=ref.registry,
            repository=ref.repository,
        )
    return Manifest(digest, media_type, reply.body, document)


def _json_object(body: bytes, ref: ImageReference, what: str) -> Mapping[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        document = None
    if not isinstance(document, dict):
        raise ProtocolError(
            f"{what}: the registry sent malformed JSON",
            registry=ref.registry,
            repository=ref.repository,
        )
    return document


def _error_codes(reply: Reply) -> set[str]:
    """The `errors[].code` values of a registry error body (none when it is not one)."""
    try:
        errors = json.loads(reply.body).get("errors")
        return {str(error["code"]) for error in errors if isinstance(error, dict)}
    except (ValueError, AttributeError, TypeError, KeyError):
        return set()


def _malformed(ref: ImageReference, manifest: Manifest, problem: str) -> ProtocolError:
    return ProtocolError(
        f"{_what(ref, manifest.digest)}: malformed manifest: {problem}",
        registry=ref.registry,
        repository=ref.repository,
    )


def _descriptor(entry: Any, ref: ImageReference, manifest: Manifest) -> tuple[str, int]:
    if not isinstance(entry, dict):
        raise _malformed(ref, manifest, "a descriptor is not an object")
    digest, size = entry.get("digest"), entry.get("size")
    if not isinstance(digest, str) or not isinstance(size, int) or isinstance(size, bool):
        raise _malformed(ref, manifest, "a descriptor lacks its digest or size")
    return _checked_digest(digest, ref, _what(ref, manifest.digest)), size


def _platform(value: Any) -> Platform | None:
    if not isinstance(value, Mapping):
        return None
    os_name, architecture = value.get("os"), value.get("architecture")
    if not isinstance(os_name, str) or not isinstance(architecture, str):
        return None
    variant = value.get("variant")
    return Platform(
        os_name, architecture, variant if isinstance(variant, str) and variant else None
    )


def _is_attestation(entry: Mapping[str, Any], platform: Platform | None) -> bool:
    annotations = entry.get("annotations")
    if isinstance(annotations, Mapping) and (
        annotations.get("vnd.docker.reference.type") == ATTESTATION_TYPE
    ):
        return True
    return platform is not None and (platform.os, platform.architecture) == ("unknown", "unknown")


def _children(manifest: Manifest, ref: ImageReference) -> list[tuple[str, Platform]]:
    """(digest, platform) of an index's platform children; attestations left out."""
    entries = manifest.document.get("manifests")
    if not isinstance(entries, list):
        raise _malformed(ref, manifest, "'manifests' is not a list")
    children = []
    for entry in entries:
        digest, _ = _descriptor(entry, ref, manifest)
        platform = _platform(entry.get("platform"))
        if platform is not None and not _is_attestation(entry, platform):
            children.append((digest, platform))
    return children


def _choose(children: Sequence[tuple[str, Platform]], wanted: Platform | None) -> str | None:
    for preferred in (wanted, DEFAULT_PLATFORM):
        for digest, platform in children:
            if preferred is not None and _matches(platform, preferred):
                return digest
    return children[0][0] if children else None


def _matches(platform: Platform, wanted: Platform) -> bool:
    if (platform.os, platform.architecture) != (wanted.os, wanted.architecture):
        return False
    return wanted.variant is None or platform.variant == wanted.variant


CREATED_ANNOTATION = "org.opencontainers.image.created"


def annotated_created(document: Mapping[str, Any]) -> datetime | None:
    """The `org.opencontainers.image.created` annotation of an index or manifest, where it
    holds a date that means something."""
    annotations = document.get("annotations")
    if not isinstance(annotations, Mapping):
        return None
    return parse_created(annotations.get(CREATED_ANNOTATION))


def _dated(
    annotated: datetime | None, built: datetime | None
) -> tuple[datetime | None, str | None]:
    if annotated is not None:
        return annotated, "annotation"
    return built, None if built is None else "config"


def parse_created(value: Any) -> datetime | None:
    """The config's `created` (RFC 3339, nanoseconds allowed); None if unknown or an epoch."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Go writes nanoseconds; fromisoformat (3.10) wants exactly 3 or 6 digits.
    text = _FRACTION.sub(lambda match: "." + match.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    when = (
        when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    )
    return None if when.date() in UNKNOWN_DATES else when


def _page_tags(reply: Reply, ref: ImageReference, what: str) -> list[str]:
    tags = _json_object(reply.body, ref, what).get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ProtocolError(
            f"{what}: 'tags' is not a list of names",
            registry=ref.registry,
            repository=ref.repository,
        )
    return tags


def _next_link(headers: httpx.Headers) -> str | None:
    """The target of `Link: <...>; rel="next"`, where there is one."""
    for value in headers.get_list("link"):
        for target, params in _LINK.findall(value):
            for param in params.split(";"):
                name, _, rel = param.partition("=")
                if name.strip().lower() == "rel" and "next" in rel.strip(" \t\"',").split():
                    return str(target)
    return None
