"""Client for the Docker Hub API (hub.docker.com): dates, sizes and tag lists of docker.io images.

The Hub API is not the registry: it never costs pull quota, and the digests basepin pins come
from the registry's HEAD elsewhere. This adds when an image was pushed, how big it is per
platform, and the repository's tags.

It asks the paths the current API reference documents,
`/v2/namespaces/{namespace}/repositories/{repository}/tags[/{tag}]`. A 404 there that is
not the Hub's own "no such repository or tag" answer means the server does not know the path
(an older Hub, a mirror of it): the older `/v2/repositories/{namespace}/{repository}/tags`
paths, which the live Hub still answers, are asked instead, from then on. Every answer is read
streaming up to MAX_ANSWER_BYTES.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import httpx

from basepin.errors import UsageError
from basepin.registry.errors import (
    ProtocolError,
    RateLimited,
    RegistryError,
    RepositoryNotFound,
    Unauthorized,
    Unavailable,
)
from basepin.registry.http import is_retryable
from basepin.registry.hub_limits import HubRateLimit, Pauses, rate_limit_of, refused, retry_wait
from basepin.registry.hub_tags import (
    HubImage,
    HubTag,
    HubTagList,
    endpoint_paths,
    hub_confirms,
    repository_path,
    says_not_found,
    tag_from,
)

__all__ = [
    "HUB_URL",
    "HubClient",
    "HubImage",
    "HubRateLimit",
    "HubTag",
    "HubTagList",
    "hub_confirms",
]

logger = logging.getLogger(__name__)

HUB_URL = "https://hub.docker.com"
# Names the same service answers on: a `next` link on one of them is a page of the same
# list, read from the configured base instead.
HUB_NAMES = frozenset({"hub.docker.com", "registry.hub.docker.com"})
MAX_PAGE_SIZE = 100
# Pages of a tag list read at most: 1,000 tags, newest first.
MAX_PAGES = 10
# One tag is a few KiB and a page of 100 a few hundred: anything past this is not an answer.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
# Access tokens live about ten minutes; renew a minute early.
TOKEN_LIFETIME_SECONDS = 540.0
# A 429 that keeps naming a time already past would otherwise be retried forever.
_MAX_RATE_LIMIT_WAITS = 3
_CHUNK = 64 * 1024


class HubClient:
    """Asks the Docker Hub API about docker.io repositories over a shared httpx client.

    With a username and personal access token it logs in once (lazily) and sends the access
    token as a bearer to the Hub API only. A 429 is waited out only while the total wait for
    one request stays within `max_wait` seconds; connection errors and 5xx answers are retried
    `retries` times (timeouts and names that do not resolve are not: that would only cost as
    long again). Failures raise the errors of `basepin.registry.errors`, with the API's host
    as their `registry`.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str = HUB_URL,
        *,
        username: str | None = None,
        token: str | None = None,
        timeout: float | None = None,
        retries: int = 2,
        max_wait: float = 10.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        """`timeout` (seconds) replaces the shared client's own for Hub requests when given."""
        if bool(username) != bool(token):
            raise UsageError("a Docker Hub login needs both a username and an access token")
        self._base = _base_url(base_url)
        self._host = self._base.netloc.decode()
        self._http = http
        self._credentials = _Credentials(username, token) if username and token else None
        self._timeout = httpx.USE_CLIENT_DEFAULT if timeout is None else timeout
        self._retries = retries
        self._clock = clock
        self._sleep = sleep
        self._access_token: str | None = None
        self._access_expires = 0.0
        self._login_lock = asyncio.Lock()
        # Set once the server has shown it knows only the older paths; `_paths_known` once
        # an answer has shown either way.
        self._older_paths = False
        self._paths_known = False
        self._learning_paths = asyncio.Lock()
        self._pauses = Pauses(max_wait, clock)
        self.rate_limit: HubRateLimit | None = None

    def __repr__(self) -> str:
        username = self._credentials.username if self._credentials else None
        return f"HubClient({str(self._base)!r}, username={username!r})"

    async def tag(self, repository: str, tag: str) -> HubTag | None:
        """The tag's details; None when the Hub says the repository or the tag does not exist."""
        path = repository_path(repository)
        question = _Question(f"{path}:{tag}", path)
        answer = await self._ask_either(path, f"/{quote(tag, safe='')}", {}, question)
        if answer.status == 404:
            return None
        found = tag_from(self._json(answer, question))
        if found is None:
            raise self._protocol_error(f"sent a tag without a name for {question.what}", question)
        return found

    async def tags(
        self, repository: str, *, max_pages: int = MAX_PAGES, page_size: int = MAX_PAGE_SIZE
    ) -> HubTagList:
        """Tags of the repository, most recently updated first, reading at most `max_pages`.

        Follows the envelope's `next` link on the API's own origin, or on another name of the
        service (read from the configured base instead); a link elsewhere, a page bound, a
        loop or a later page that fails ends the list early, and the result says why.
        Raises RepositoryNotFound for an unknown repository.
        """
        if max_pages < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"max_pages >= 1 and page_size in 1..{MAX_PAGE_SIZE} expected")
        path = repository_path(repository)
        question = _Question(f"the tags of {path}", path)
        query = {"page_size": str(page_size), "page": "1", "ordering": "last_updated"}
        answer = await self._ask_either(path, "", query, question)
        if answer.status == 404:
            raise RepositoryNotFound(
                f"Docker Hub has no repository {path}", registry=self._host, repository=path
            )
        found: dict[str, HubTag] = {}
        visited = {answer.url}
        pages = 0
        while True:
            pages += 1
            link, count = self._read_page(answer, found, question)
            if link is None:
                return HubTagList(tuple(found.values()), None, pages)
            following = self._next_page(answer.url, link, path)
            read = f"{len(found)} of {count if count is not None else '?'} tags"
            if isinstance(following, str):
                cut = f"{following} ({read})"
            elif pages >= max_pages:
                cut = f"stopped after {pages} page{'s' if pages > 1 else ''} ({read})"
            elif following in visited:
                cut = f"its pages do not end ({read})"
            else:
                visited.add(following)
                try:
                    answer = await self._request("GET", following, question)
                except RegistryError as error:
                    cut = f"page {pages + 1} could not be read ({read}): {error}"
                else:
                    if answer.status != 404:
                        continue
                    cut = f"page {pages + 1} is gone: the list changed while it was read ({read})"
            logger.debug("Docker Hub API: the tags of %s end early: %s", path, cut)
            return HubTagList(tuple(found.values()), cut, pages)

    def _read_page(
        self, answer: _Answer, found: dict[str, HubTag], question: _Question
    ) -> tuple[str | None, int | None]:
        """Take in one page's tags; its `next` link and `count`."""
        envelope = self._json(answer, question)
        results = envelope.get("results")
        if not isinstance(results, list):
            raise self._protocol_error(f"listing of {question.repository} has no results", question)
        for item in results:
            tag = tag_from(item)
            if tag is None:
                raise self._protocol_error(
                    f"sent a tag without a name for {question.what}", question
                )
            # Tags pushed while paging shift the pages; keep each name's first sighting.
            found.setdefault(tag.name, tag)
        link = envelope.get("next")
        if link is not None and not isinstance(link, str):
            raise self._protocol_error(f"listing of {question.repository} has a bad next", question)
        count = envelope.get("count")
        known = count if isinstance(count, int) and not isinstance(count, bool) else None
        return link or None, known

    def _next_page(self, current: httpx.URL, link: str, path: str) -> httpx.URL | str:
        """The URL to read the next page from, or why it is not followed."""
        try:
            url = current.join(link)
        except httpx.InvalidURL:
            return "its next link is not a URL"
        if _origin(url) != _origin(self._base):
            if url.scheme != "https" or url.host not in HUB_NAMES or url.port is not None:
                return f"its next page is on another host ({url.host or '?'}); not followed"
            rebased = self._url(url.raw_path.decode("ascii"))
            logger.debug("Docker Hub API: next page %s read from %s", url, rebased)
            url = rebased
        listing = {self._url(p).path.rstrip("/") for p in endpoint_paths(path, "")}
        if url.path.rstrip("/") not in listing:
            return "its next link leaves the repository's tag list; not followed"
        return url

    async def _ask_either(
        self, path: str, tail: str, query: Mapping[str, str], question: _Question
    ) -> _Answer:
        """GET the documented path, or the older one where the server does not know it.

        Answers 2xx, or 404 only when it is the Hub's own answer that the repository or tag
        does not exist. Until one answer has shown which paths the server knows, questions
        go one at a time: a server that knows only the older paths costs one 404, not one a
        question.
        """
        if not self._paths_known:
            async with self._learning_paths:
                if not self._paths_known:
                    try:
                        return await self._ask_paths(path, tail, query, question)
                    finally:
                        # Even a failure ends the one-at-a-time: a server that does not
                        # answer must not hold every question up in turn.
                        self._paths_known = True
        return await self._ask_paths(path, tail, query, question)

    async def _ask_paths(
        self, path: str, tail: str, query: Mapping[str, str], question: _Question
    ) -> _Answer:
        documented, older = (self._url(p, query) for p in endpoint_paths(path, tail))
        if not self._older_paths:
            answer = await self._request("GET", documented, question)
            if answer.status != 404 or says_not_found(answer.body):
                return answer
            logger.debug(
                "Docker Hub API: %s answered 404 without the Hub's not-found answer, so it does"
                " not know the path; asking the older path %s from now on",
                documented.path,
                older.path,
            )
        answer = await self._request("GET", older, question)
        if answer.status == 404 and not says_not_found(answer.body):
            raise self._protocol_error(
                f"answered 404 for {question.what} without its JSON body;"
                f" is {self._base} the Hub API?",
                question,
            )
        self._older_paths = True
        return answer

    async def _request(
        self,
        method: str,
        url: httpx.URL,
        question: _Question,
        *,
        body: Mapping[str, str] | None = None,
    ) -> _Answer:
        """Send with retries; answers 2xx and 404, raises for anything else."""
        rate_limit_waits = failures = 0
        logged_in_again = False
        login = body is not None
        while True:
            await self._hold_back()
            headers = {"Accept": "application/json"}
            if self._credentials and not login:
                headers["Authorization"] = f"Bearer {await self._bearer()}"
            try:
                answer = await self._send(method, url, headers, body, question)
            except httpx.TransportError as error:
                failures += 1
                if failures > self._retries or not is_retryable(error):
                    raise Unavailable(
                        f"Docker Hub API did not answer for {question.what}: {_describe(error)}",
                        registry=self._host,
                        repository=question.repository,
                    ) from error
                await self._sleep(_backoff(failures))
                continue
            self.rate_limit = rate_limit_of(answer.headers) or self.rate_limit
            status = answer.status
            if refused(status, answer.headers):
                rate_limit_waits += 1
                wait = retry_wait(answer.headers, self._clock())
                if (
                    wait is None
                    or rate_limit_waits > _MAX_RATE_LIMIT_WAITS
                    or not self._pauses.take(wait)
                ):
                    raise RateLimited(
                        self._rate_limit_message(question.what, wait),
                        retry_after=wait,
                        registry=self._host,
                        repository=question.repository,
                    )
                logger.info("Docker Hub API: rate limited; waiting %.0f s as it asks", wait)
                await self._hold_back()
                continue
            if status >= 500:
                failures += 1
                if failures > self._retries:
                    raise Unavailable(
                        f"Docker Hub API failed for {question.what}:"
                        f" HTTP {status} after {failures} tries",
                        registry=self._host,
                        repository=question.repository,
                    )
                await self._sleep(_backoff(failures))
                continue
            if status in (401, 403) and self._credentials and not login and not logged_in_again:
                # The access token may have been revoked or expired early: log in once more.
                self._access_token = None
                logged_in_again = True
                continue
            if status in (401, 403):
                raise Unauthorized(
                    f"Docker Hub API refused access to {question.what} (HTTP {status})",
                    registry=self._host,
                    repository=question.repository,
                )
            if status == 404 or 200 <= status < 300:
                return answer
            raise self._protocol_error(f"answered HTTP {status} for {question.what}", question)

    async def _send(
        self,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str],
        body: Mapping[str, str] | None,
        question: _Question,
    ) -> _Answer:
        """One request, its answer read streaming and given up past MAX_ANSWER_BYTES."""
        request = self._http.build_request(
            method, url, headers=headers, json=body, timeout=self._timeout
        )
        response = await self._http.send(request, stream=True)
        try:
            content = bytearray()
            async for chunk in response.aiter_raw(_CHUNK):
                content += chunk
                if len(content) > MAX_ANSWER_BYTES:
                    raise self._protocol_error(
                        f"sent more than {MAX_ANSWER_BYTES // (1024 * 1024)} MiB for"
                        f" {question.what}; not read further",
                        question,
                    )
        finally:
            await response.aclose()
        logger.debug("%s %s -> %s", method, url, response.status_code)
        return _Answer(response.status_code, response.headers, url, bytes(content))

    async def _bearer(self) -> str:
        async with self._login_lock:
            if self._access_token is None or self._clock() >= self._access_expires:
                assert self._credentials is not None  # only called with a login
                self._access_token = await self._login(self._credentials)
                self._access_expires = self._clock() + TOKEN_LIFETIME_SECONDS
            return self._access_token

    async def _login(self, credentials: _Credentials) -> str:
        question = _Question(f"the login of {credentials.username}", None)
        body = {"identifier": credentials.username, "secret": credentials.secret}
        try:
            answer = await self._request("POST", self._url("/v2/auth/token"), question, body=body)
        except Unauthorized:
            raise Unauthorized(
                f"Docker Hub refused the login of {credentials.username}:"
                " check the username and the personal access token",
                registry=self._host,
            ) from None
        if answer.status == 404:
            raise self._protocol_error(f"at {self._base} has no login endpoint", question)
        access = self._json(answer, question).get("access_token")
        if not isinstance(access, str) or not access:
            raise self._protocol_error(f"sent no access token for {question.what}", question)
        return access

    async def _hold_back(self) -> None:
        """Wait while the API has asked for a pause (another request's 429)."""
        pause = self._pauses.left()
        if pause > 0:
            await self._sleep(pause)

    def _url(self, path: str, query: Mapping[str, str] | None = None) -> httpx.URL:
        url = httpx.URL(f"{self._base}{path}")
        return url.copy_merge_params(dict(query)) if query else url

    def _json(self, answer: _Answer, question: _Question) -> dict[str, Any]:
        try:
            data = json.loads(answer.body)
        except ValueError:
            raise self._protocol_error(
                f"sent malformed JSON for {question.what} (HTTP {answer.status})", question
            ) from None
        if not isinstance(data, dict):
            raise self._protocol_error(f"sent no JSON object for {question.what}", question)
        return data

    def _protocol_error(self, message: str, question: _Question) -> ProtocolError:
        return ProtocolError(
            f"Docker Hub API {message}", registry=self._host, repository=question.repository
        )

    def _rate_limit_message(self, what: str, wait: float | None) -> str:
        message = f"Docker Hub API rate limit reached while asking for {what}"
        if wait is None:
            return f"{message}; it did not say when to try again"
        again = datetime.fromtimestamp(self._clock() + wait, timezone.utc)
        return (
            f"{message}; it allows requests again at {again:%Y-%m-%d %H:%M:%S} UTC"
            f" (in {wait:.0f} s, more than the {self._pauses.budget:.0f} s basepin waits)"
        )


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: httpx.Headers
    url: httpx.URL
    body: bytes


@dataclass(frozen=True)
class _Question:
    """What a request asks, for messages, and the repository it is about."""

    what: str
    repository: str | None


@dataclass(frozen=True)
class _Credentials:
    username: str
    secret: str = field(repr=False)


def _base_url(text: str) -> httpx.URL:
    try:
        url = httpx.URL(text.rstrip("/"))
    except httpx.InvalidURL as error:
        raise UsageError(f"Docker Hub API URL {text!r} is not valid: {error}") from None
    if url.scheme not in ("http", "https") or not url.host or url.query or url.userinfo:
        raise UsageError(f"Docker Hub API URL must look like https://host[:port], not {text!r}")
    return url


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or {"http": 80, "https": 443}.get(url.scheme)


def _backoff(failures: int) -> float:
    return 0.5 * 2.0 ** (failures - 1)


def _describe(error: httpx.TransportError) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    return str(error) or type(error).__name__
