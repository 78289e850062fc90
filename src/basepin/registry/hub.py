"""Client for the Docker Hub API (hub.docker.com): dates, sizes and tag lists of docker.io images.

The Hub API is not the registry: it never costs pull quota, and the digests basepin pins come
from the registry's HEAD elsewhere. This adds when a tag was pushed, how big it is, and the
newest tags of a repository.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from basepin.errors import InvalidReference, UsageError
from basepin.model import Platform, TagInfo
from basepin.registry.errors import (
    ProtocolError,
    RateLimited,
    RepositoryNotFound,
    Unauthorized,
    Unavailable,
)
from basepin.registry.http import is_retryable

HUB_URL = "https://hub.docker.com"
MAX_PAGE_SIZE = 100
# Access tokens live about ten minutes; renew a minute early.
TOKEN_LIFETIME_SECONDS = 540.0
# A 429's X-Retry-After below this is read as a delay in seconds, not a unix time.
_UNIX_TIME_FLOOR = 1_000_000_000
_LATEST_UNIX_TIME = 100_000_000_000  # year 5138: larger header values are nonsense
# A 429 that keeps naming a time already past would otherwise be retried forever.
_MAX_RATE_LIMIT_WAITS = 3


@dataclass(frozen=True)
class HubImage:
    """One platform image of a tag, from the tag's `images[]`."""

    os: str
    architecture: str
    variant: str | None = None
    digest: str | None = None
    size: int | None = None
    status: str | None = None
    pushed: datetime | None = None

    @property
    def platform(self) -> Platform:
        return Platform(self.os, self.architecture, self.variant)


@dataclass(frozen=True)
class HubTag:
    name: str
    # The index (manifest list) digest; None on old tags pushed before Hub recorded it.
    digest: str | None
    # `tag_last_pushed`, else `last_updated`.
    pushed: datetime | None
    # `full_size`: compressed bytes of one platform image.
    size: int | None
    media_type: str | None
    images: tuple[HubImage, ...] = ()
    # `tag_status`: "active", or "inactive" when not pulled or pushed for a month.
    status: str | None = None

    def info(self) -> TagInfo:
        return TagInfo(self.name, self.digest, self.pushed, self.size)


def hub_confirms(tag: HubTag, digest: str) -> bool:
    """Whether the Hub API's view of a tag names `digest` as what the tag points to: its
    index digest, or the one image of a single-platform tag that records none."""
    if tag.digest:
        return tag.digest == digest
    images = [image for image in tag.images if image.os != "unknown"]
    return len(images) == 1 and images[0].digest == digest


@dataclass(frozen=True)
class HubRateLimit:
    """The API's `X-RateLimit-*` headers from its latest answer."""

    limit: int | None
    remaining: int | None
    reset: datetime | None


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
        self._max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._access_token: str | None = None
        self._access_expires = 0.0
        self._login_lock = asyncio.Lock()
        self.rate_limit: HubRateLimit | None = None

    def __repr__(self) -> str:
        username = self._credentials.username if self._credentials else None
        return f"HubClient({str(self._base)!r}, username={username!r})"

    async def tag(self, repository: str, tag: str) -> HubTag | None:
        """The tag's details; None when the repository or the tag does not exist."""
        path = _repository_path(repository)
        question = _Question(f"{path}:{tag}", path)
        url = f"{self._base}/v2/repositories/{_quoted(path)}/tags/{quote(tag, safe='')}"
        response = await self._request("GET", url, question)
        if response.status_code == 404:
            self._check_not_found(response, question)
            return None
        return self._tag_from(self._json(response, question), question)

    async def tags(
        self, repository: str, *, max_pages: int = 10, page_size: int = MAX_PAGE_SIZE
    ) -> list[TagInfo]:
        """Tags of the repository, most recently updated first, reading at most `max_pages`.

        Follows the envelope's `next` link, but only to the API's own origin; a link
        elsewhere ends the listing. Raises RepositoryNotFound for an unknown repository.
        """
        if max_pages < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"max_pages >= 1 and page_size in 1..{MAX_PAGE_SIZE} expected")
        path = _repository_path(repository)
        question = _Question(f"the tags of {path}", path)
        query = urlencode({"page_size": page_size, "page": 1, "ordering": "last_updated"})
        url = httpx.URL(f"{self._base}/v2/repositories/{_quoted(path)}/tags/?{query}")
        found: dict[str, TagInfo] = {}
        visited = {url}
        for page in range(1, max_pages + 1):
            response = await self._request("GET", str(url), question)
            if response.status_code == 404:
                self._check_not_found(response, question)
                if page == 1:
                    raise RepositoryNotFound(
                        f"Docker Hub has no repository {path}", registry=self._host, repository=path
                    )
                break  # tags were removed while paging: the list ends sooner
            envelope = self._json(response, question)
            results = envelope.get("results")
            if not isinstance(results, list):
                raise self._protocol_error(f"listing of {path} has no results list", question)
            for item in results:
                info = self._tag_from(item, question).info()
                # Tags pushed while paging shift the pages; keep each name's first sighting.
                found.setdefault(info.name, info)
            link = envelope.get("next")
            if not link:
                break
            if not isinstance(link, str):
                raise self._protocol_error(f"listing of {path} has a bad next link", question)
            url = url.join(link)
            if not _same_origin(url, self._base) or url in visited:
                break
            visited.add(url)
        return list(found.values())

    async def _request(
        self,
        method: str,
        url: str,
        question: _Question,
        *,
        body: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries; answers 2xx and 404, raises for anything else."""
        waited = 0.0
        rate_limit_waits = failures = 0
        logged_in_again = False
        login = body is not None
        while True:
            headers = {"Accept": "application/json"}
            if self._credentials and not login:
                headers["Authorization"] = f"Bearer {await self._bearer()}"
            try:
                response = await self._http.request(
                    method, url, headers=headers, json=body, timeout=self._timeout
                )
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
            self._note_rate_limit(response.headers)
            status = response.status_code
            if status == 429:
                wait = self._retry_wait(response.headers)
                rate_limit_waits += 1
                if (
                    wait is None
                    or waited + wait > self._max_wait
                    or rate_limit_waits > _MAX_RATE_LIMIT_WAITS
                ):
                    raise RateLimited(
                        self._rate_limit_message(question.what, wait),
                        retry_after=wait,
                        registry=self._host,
                        repository=question.repository,
                    )
                waited += wait
                await self._sleep(wait)
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
                return response
            raise self._protocol_error(f"answered HTTP {status} for {question.what}", question)

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
        url = f"{self._base}/v2/auth/token"
        try:
            response = await self._request("POST", url, question, body=body)
        except Unauthorized:
            raise Unauthorized(
                f"Docker Hub refused the login of {credentials.username}:"
                " check the username and the personal access token",
                registry=self._host,
            ) from None
        if response.status_code == 404:
            raise self._protocol_error(f"at {self._base} has no login endpoint", question)
        access = self._json(response, question).get("access_token")
        if not isinstance(access, str) or not access:
            raise self._protocol_error(f"sent no access token for {question.what}", question)
        return access

    def _json(self, response: httpx.Response, question: _Question) -> dict[str, Any]:
        try:
            data = json.loads(response.content)
        except ValueError:
            raise self._protocol_error(
                f"sent malformed JSON for {question.what} (HTTP {response.status_code})", question
            ) from None
        if not isinstance(data, dict):
            raise self._protocol_error(f"sent no JSON object for {question.what}", question)
        return data

    def _check_not_found(self, response: httpx.Response, question: _Question) -> None:
        """Make sure a 404 is Hub's own JSON answer, not a wrong base URL or a proxy's page."""
        try:
            data = json.loads(response.content)
        except ValueError:
            data = None
        if not isinstance(data, dict) or "message" not in data:
            raise self._protocol_error(
                f"answered 404 for {question.what} without its JSON body;"
                f" is {self._base} the Hub API?",
                question,
            )

    def _tag_from(self, data: object, question: _Question) -> HubTag:
        tag = _tag_from(data)
        if tag is None:
            raise self._protocol_error(f"sent a tag without a name for {question.what}", question)
        return tag

    def _protocol_error(self, message: str, question: _Question) -> ProtocolError:
        return ProtocolError(
            f"Docker Hub API {message}", registry=self._host, repository=question.repository
        )

    def _note_rate_limit(self, headers: httpx.Headers) -> None:
        limit = _integer(headers.get("X-RateLimit-Limit"))
        remaining = _integer(headers.get("X-RateLimit-Remaining"))
        reset = _integer(headers.get("X-RateLimit-Reset"))
        if limit is not None or remaining is not None or reset is not None:
            when = None if reset is None else datetime.fromtimestamp(reset, timezone.utc)
            self.rate_limit = HubRateLimit(limit, remaining, when)

    def _retry_wait(self, headers: httpx.Headers) -> float | None:
        """Seconds until a 429 lifts, from X-Retry-After (a unix time) or X-RateLimit-Reset."""
        for name in ("X-Retry-After", "X-RateLimit-Reset"):
            value = _integer(headers.get(name))
            if value is not None:
                if value < _UNIX_TIME_FLOOR:
                    return float(value)
                return max(0.0, value - self._clock())
        return None

    def _rate_limit_message(self, what: str, wait: float | None) -> str:
        message = f"Docker Hub API rate limit reached while asking for {what}"
        if wait is None:
            return f"{message}; it did not say when to try again"
        again = datetime.fromtimestamp(self._clock() + wait, timezone.utc)
        return f"{message}; it allows requests again at {again:%H:%M:%S} UTC (in {wait:.0f} s)"


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


def _repository_path(repository: str) -> str:
    """`namespace/name` as the Hub API spells it; official images live under `library/`."""
    path = repository.removeprefix("docker.io/").removeprefix("index.docker.io/")
    if "/" not in path:
        path = f"library/{path}"
    namespace, _, name = path.partition("/")
    if not namespace or not name or "/" in name:
        raise InvalidReference(
            f"Docker Hub repositories are named namespace/name; {repository!r} is not"
        )
    return path


def _quoted(path: str) -> str:
    return "/".join(quote(part, safe="") for part in path.split("/"))


def _same_origin(url: httpx.URL, base: httpx.URL) -> bool:
    return (url.scheme, url.host, _port(url)) == (base.scheme, base.host, _port(base))


def _port(url: httpx.URL) -> int | None:
    return url.port or {"http": 80, "https": 443}.get(url.scheme)


def _tag_from(data: object) -> HubTag | None:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    images = data.get("images")
    return HubTag(
        name=data["name"],
        digest=_text(data.get("digest")),
        pushed=_time(data.get("tag_last_pushed")) or _time(data.get("last_updated")),
        size=_size(data.get("full_size")),
        media_type=_text(data.get("media_type")),
        images=tuple(
            _image_from(image)
            for image in (images if isinstance(images, list) else ())
            if isinstance(image, dict)
        ),
        status=_text(data.get("tag_status")),
    )


def _image_from(data: Mapping[str, object]) -> HubImage:
    return HubImage(
        os=_text(data.get("os")) or "unknown",
        architecture=_text(data.get("architecture")) or "unknown",
        variant=_text(data.get("variant")),
        digest=_text(data.get("digest")),
        size=_size(data.get("size")),
        status=_text(data.get("status")),
        pushed=_time(data.get("last_pushed")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _size(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _integer(value: str | None) -> int | None:
    """A header's whole number; None when absent, unreadable or beyond any plausible time."""
    try:
        number = None if value is None else int(float(value))
    except (ValueError, OverflowError):
        return None
    return number if number is not None and 0 <= number < _LATEST_UNIX_TIME else None


# Hub writes 0 to 9 fraction digits; Python before 3.11 reads only 3 or 6.
_ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$")


def _time(value: object) -> datetime | None:
    """A Hub date, or None when absent, unreadable or Go's zero time (`0001-01-01...`)."""
    if not isinstance(value, str):
        return None
    match = _ISO_TIME.match(value.strip())
    if match is None:
        return None
    seconds, fraction, zone = match.groups()
    micros = (fraction or "0")[:6].ljust(6, "0")
    offset = "+00:00" if zone in (None, "Z") else f"{zone[:3]}:{zone[-2:]}"
    try:
        parsed = datetime.fromisoformat(f"{seconds}.{micros}{offset}")
    except ValueError:
        return None
    return None if parsed.year <= 1 else parsed


def _backoff(failures: int) -> float:
    return 0.5 * 2.0 ** (failures - 1)


def _describe(error: httpx.TransportError) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    return str(error) or type(error).__name__
