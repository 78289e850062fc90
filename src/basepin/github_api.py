"""The GitHub REST client that pull-request suggestions use.

It speaks to one origin (the token goes nowhere else), follows no redirect, reads every answer
with a size cap, and takes only JSON: a proxy's sign-in page, a GitHub Enterprise Server
maintenance page or any other non-JSON answer becomes a `GitHubError` that says what came back.

Rate limits, as GitHub's REST documentation ("Rate limits for the REST API") describes them:
both kinds answer 403 or 429. A secondary limit may send `retry-after` (seconds to wait); a
primary limit sends `x-ratelimit-remaining: 0` and `x-ratelimit-reset` (when it resets, in epoch
seconds); a secondary limit that sends neither asks for at least a minute. The client waits and
tries again while the waits fit in its budget, then reports the limit: a rate limit is never
taken for a token that may not write.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from basepin.errors import BasepinError
from basepin.report import one_line

API_VERSION = "2022-11-28"
# Bounds on paging: GitHub lists at most 3,000 files of a pull request (30 pages of 100).
MAX_PAGES = 100
# A page of 100 changed files carries their patches; nothing the client reads is near this.
MAX_ANSWER = 16 * 1024 * 1024
# Seconds of rate-limit waits the client may spend over all its requests, and tries per request.
WAIT_BUDGET = 120.0
MAX_TRIES = 4
# "Otherwise, wait for at least one minute before retrying" (secondary limits).
SECONDARY_WAIT = 60.0
# What GitHub answers when a token (a fork's pull request gets a read-only one) may not write.
NOT_ACCESSIBLE = "Resource not accessible by integration"

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class GitHubError(BasepinError):
    """A GitHub API call failed; the check's own verdict stands."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        *,
        rate_limited: bool = False,
        details: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.rate_limited = rate_limited
        self.details = details  # GitHub's `message` and `errors`, as text

    @property
    def denied(self) -> bool:
        """The token may not write here: GitHub says the resource is not accessible to the
        integration (a 403 for a rate limit or anything else is not that)."""
        return (
            self.status == 403
            and not self.rate_limited
            and any(NOT_ACCESSIBLE.lower() in detail.lower() for detail in self.details)
        )


class GitHubClient:
    """The few REST calls a review needs. `sleep` and `clock` (epoch seconds) are the waits'."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        wait_budget: float = WAIT_BUDGET,
        max_answer: int = MAX_ANSWER,
    ) -> None:
        if not token:
            raise GitHubError("no GitHub token: set the github-token input")
        self._base = httpx.URL(api_url.rstrip("/") + "/")
        self._client = httpx.Client(
            base_url=self._base,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "basepin",
            },
            timeout=30.0,
            follow_redirects=False,
        )
        self._sleep, self._clock = sleep, clock
        self._budget, self._max_answer = wait_budget, max_answer
        self.waited = 0.0  # seconds spent waiting out rate limits

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def pages(self, path: str) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, following `Link: rel="next"` on the same origin."""
        url: httpx.URL | str = path.lstrip("/")
        params: dict[str, int] | None = {"per_page": 100}
        for _ in range(MAX_PAGES):
            response, items = self._request("GET", url, params=params)
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise GitHubError(f"GitHub API: GET {path} did not answer with a list of objects")
            yield from items
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            url, params = httpx.URL(following), None
            if (url.scheme, url.host, url.port) != (
                self._base.scheme,
                self._base.host,
                self._base.port,
            ):
                raise GitHubError(f"GitHub API: GET {path} pages to another origin")
        raise GitHubError(f"GitHub API: GET {path} has more than {MAX_PAGES} pages")

    def post(self, path: str, payload: Mapping[str, object]) -> Any:
        return self._request("POST", path.lstrip("/"), json=payload)[1]

    def _request(
        self, method: str, url: httpx.URL | str, **kwargs: Any
    ) -> tuple[httpx.Response, Any]:
        """The answer and its JSON, after waiting out rate limits the budget allows."""
        for _ in range(MAX_TRIES):
            response, body = self._send(method, url, **kwargs)
            where = f"{method} {response.request.url.path}"
            if 300 <= response.status_code < 400:
                raise GitHubError(_redirected(response, where), response.status_code)
            try:
                document = _json(response, body, where)
            except GitHubError as not_json:
                # A limit told in headers only (a proxy's 429) is still a limit.
                if response.status_code not in (403, 429) or "retry-after" not in (
                    response.headers
                ):
                    raise
                error = not_json
            else:
                if response.status_code < 400:
                    return response, document
                error = _error(response, document, where)
            wait = rate_limit_wait(response.headers, error.details, self._clock())
            if response.status_code not in (403, 429) or wait is None:
                raise error
            if self.waited + wait > self._budget:
                raise GitHubError(
                    f"{error}; GitHub asks to wait {wait:.0f} s, past the {self._budget:.0f} s "
                    "basepin waits for rate limits",
                    response.status_code,
                    rate_limited=True,
                    details=error.details,
                )
            self._sleep(wait)
            self.waited += wait
        raise GitHubError(
            f"{error}; still rate limited after {MAX_TRIES} tries",
            error.status,
            rate_limited=True,
            details=error.details,
        )

    def _send(
        self, method: str, url: httpx.URL | str, **kwargs: Any
    ) -> tuple[httpx.Response, bytes]:
        try:
            with self._client.stream(method, url, **kwargs) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self._max_answer:
                        raise GitHubError(
                            f"GitHub API: the answer to {method} {response.request.url.path} "
                            f"is larger than {self._max_answer} bytes",
                            response.status_code,
                        )
        except httpx.HTTPError as exc:
            raise GitHubError(f"GitHub API unreachable: {type(exc).__name__}: {exc}") from None
        return response, bytes(body)


def rate_limit_wait(
    headers: Mapping[str, str], details: tuple[str, ...], now: float
) -> float | None:
    """Seconds to wait before trying again, or None when the answer is no rate limit."""
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        seconds = _seconds(retry_after.strip(), now)
        if seconds is not None:
            return seconds
    if headers.get("x-ratelimit-remaining", "").strip() == "0":
        reset = headers.get("x-ratelimit-reset", "").strip()
        if reset.isdigit():
            return max(0.0, int(reset) - now) + 1.0  # "not until after" the reset
    if any("secondary rate limit" in detail.lower() for detail in details):
        return SECONDARY_WAIT
    return None


def _seconds(value: str, now: float) -> float | None:
    """`retry-after` is seconds on GitHub; an HTTP date is read too, as HTTP allows."""
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def _redirected(response: httpx.Response, where: str) -> str:
    location = response.headers.get("location")
    target = "nowhere"
    if location:
        url = response.request.url.join(location)
        target = one_line(f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{url.path}")
    return (
        f"GitHub API answered {response.status_code} to {where}, a redirect to {target}: that is "
        "not the REST API (a proxy's or single sign-on's page in between?). Check GITHUB_API_URL."
    )


def _json(response: httpx.Response, body: bytes, where: str) -> Any:
    import json

    content_type = response.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            return json.loads(body)
        except ValueError:
            pass
    what = one_line(media_type) or "no content type"
    title = _TITLE.search(body[:65536])
    if title:
        shown = one_line(title.group(1).decode("utf-8", "replace").strip())[:120]
        what += f', a page titled "{shown}"'
    raise GitHubError(
        f"GitHub API answered {response.status_code} to {where} with {what} ({len(body)} "
        "bytes), not JSON: a proxy or sign-in page in between, or GitHub Enterprise Server in "
        "maintenance? Check GITHUB_API_URL.",
        response.status_code,
    )


def _error(response: httpx.Response, document: Any, where: str) -> GitHubError:
    details = _details(document) or (response.reason_phrase,)
    shown = details[0] + (f" ({'; '.join(details[1:])})" if len(details) > 1 else "")
    return GitHubError(
        f"GitHub API answered {response.status_code} to {where}: {one_line(shown)}",
        response.status_code,
        details=details,
    )


def _details(document: Any) -> tuple[str, ...]:
    """GitHub's `message` and its `errors` (strings, or objects with a message or a field)."""
    if not isinstance(document, dict):
        return ()
    details = [str(document["message"])] if document.get("message") else []
    errors = document.get("errors")
    for error in errors if isinstance(errors, list) else ():
        if isinstance(error, dict):
            text = error.get("message") or " ".join(
                str(error[key]) for key in ("resource", "field", "code") if error.get(key)
            )
            details.append(str(text))
        else:
            details.append(str(error))
    return tuple(details)
