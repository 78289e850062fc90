"""How HubClient sends to the Docker Hub API: paths, login, retries, waits, reads with a cap."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx

from basepin.errors import UsageError
from basepin.registry.errors import ProtocolError, RateLimited, Unauthorized, Unavailable
from basepin.registry.http import is_retryable
from basepin.registry.hub_limits import HubRateLimit, Pauses, rate_limit_of, refused, retry_wait
from basepin.registry.hub_tags import endpoint_paths, says_not_found

# The Hub client's logger, whichever of its modules logs.
logger = logging.getLogger("basepin.registry.hub")

HUB_URL = "https://hub.docker.com"
# One tag is a few KiB and a page of 100 a few hundred: anything past this is not an answer.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
# Access tokens live about ten minutes; renew a minute early.
TOKEN_LIFETIME_SECONDS = 540.0
# A 429 that keeps naming a time already past would otherwise be retried forever.
_MAX_RATE_LIMIT_WAITS = 3
_CHUNK = 64 * 1024


class HubSession:
    """Requests to the Docker Hub API, as `HubClient` sends them.

    It asks the paths the current API reference documents,
    `/v2/namespaces/{namespace}/repositories/{repository}/tags[/{tag}]`. A 404 there that is
    not the Hub's own "no such repository or tag" answer means the server does not know the
    path (an older Hub, a mirror of it): the older `/v2/repositories/{namespace}/{repository}/tags`
    paths, which the live Hub still answers, are asked instead, from then on. Every answer is
    read streaming up to MAX_ANSWER_BYTES.
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

    async def _ask_either(
        self, path: str, tail: str, query: Mapping[str, str], question: Question
    ) -> Answer:
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
        self, path: str, tail: str, query: Mapping[str, str], question: Question
    ) -> Answer:
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
        question: Question,
        *,
        body: Mapping[str, str] | None = None,
    ) -> Answer:
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
        question: Question,
    ) -> Answer:
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
        return Answer(response.status_code, response.headers, url, bytes(content))

    async def _bearer(self) -> str:
        async with self._login_lock:
            if self._access_token is None or self._clock() >= self._access_expires:
                assert self._credentials is not None  # only called with a login
                self._access_token = await self._login(self._credentials)
                self._access_expires = self._clock() + TOKEN_LIFETIME_SECONDS
            return self._access_token

    async def _login(self, credentials: _Credentials) -> str:
        question = Question(f"the login of {credentials.username}", None)
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

    def _json(self, answer: Answer, question: Question) -> dict[str, Any]:
        try:
            data = json.loads(answer.body)
        except ValueError:
            raise self._protocol_error(
                f"sent malformed JSON for {question.what} (HTTP {answer.status})", question
            ) from None
        if not isinstance(data, dict):
            raise self._protocol_error(f"sent no JSON object for {question.what}", question)
        return data

    def _protocol_error(self, message: str, question: Question) -> ProtocolError:
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
class Answer:
    status: int
    headers: httpx.Headers
    url: httpx.URL
    body: bytes


@dataclass(frozen=True)
class Question:
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


def _backoff(failures: int) -> float:
    return 0.5 * 2.0 ** (failures - 1)


def _describe(error: httpx.TransportError) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    return str(error) or type(error).__name__
