"""The Docker Hub API's own rate limit: what its headers say, and the waiting a run allows.

Every answer carries `X-RateLimit-Limit` (requests a minute), `X-RateLimit-Remaining` and
`X-RateLimit-Reset` (a unix time). A 429 says when to try again in one of three ways, all
seen: `Retry-After` in seconds (the current reference), `X-Retry-After` as a unix time (older
references) and `Retry-After` holding a unix time (the live Hub, 2025). A 403 with no
requests left is the same refusal.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

# A header value below this is a delay in seconds, not a unix time.
_UNIX_TIME_FLOOR = 1_000_000_000
_LATEST_UNIX_TIME = 100_000_000_000  # year 5138: larger header values are nonsense


@dataclass(frozen=True)
class HubRateLimit:
    """The API's `X-RateLimit-*` headers from its latest answer."""

    limit: int | None
    remaining: int | None
    reset: datetime | None


def rate_limit_of(headers: Mapping[str, str]) -> HubRateLimit | None:
    """The `X-RateLimit-*` headers of an answer; None when it has none."""
    limit = _integer(headers.get("X-RateLimit-Limit"))
    remaining = _integer(headers.get("X-RateLimit-Remaining"))
    reset = _integer(headers.get("X-RateLimit-Reset"))
    if limit is None and remaining is None and reset is None:
        return None
    when = None if reset is None else datetime.fromtimestamp(reset, timezone.utc)
    return HubRateLimit(limit, remaining, when)


def refused(status: int, headers: Mapping[str, str]) -> bool:
    """Whether an answer is the rate limit's refusal: a 429, or a 403 with no requests left."""
    no_requests_left = _integer(headers.get("X-RateLimit-Remaining")) == 0
    return status == 429 or (status == 403 and no_requests_left)


def retry_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds from `now` until a refusal lifts, from `Retry-After` (seconds, a unix time or
    an HTTP date), `X-Retry-After` or `X-RateLimit-Reset`; None when none says."""
    for name in ("Retry-After", "X-Retry-After", "X-RateLimit-Reset"):
        wait = _seconds_until(headers.get(name), now)
        if wait is not None:
            return wait
    return None


class Pauses:
    """The run's waiting on rate limits: at most `budget` seconds in all. While a pause one
    request was asked for runs, no other request goes out; waits that overlap count once."""

    def __init__(self, budget: float, clock: Callable[[], float]) -> None:
        self.budget = budget
        self._clock = clock
        self._waited = 0.0
        self._resume_at = 0.0

    def left(self) -> float:
        """Seconds until requests may go out again (0: now)."""
        return max(0.0, self._resume_at - self._clock())

    def take(self, wait: float) -> bool:
        """Pause for `wait` seconds from now if the budget allows; False when it does not."""
        now = self._clock()
        until = now + wait
        extra = max(0.0, until - max(now, self._resume_at))
        if self._waited + extra > self.budget:
            return False
        self._waited += extra
        self._resume_at = max(self._resume_at, until)
        return True


def _seconds_until(value: str | None, now: float) -> float | None:
    if value is None or not value.strip():
        return None
    number = _integer(value)
    if number is not None:
        return float(number) if number < _UNIX_TIME_FLOOR else max(0.0, number - now)
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)


def _integer(value: str | None) -> int | None:
    """A header's whole number; None when absent, unreadable or beyond any plausible time."""
    try:
        number = None if value is None else int(float(value))
    except (ValueError, OverflowError):
        return None
    return number if number is not None and 0 <= number < _LATEST_UNIX_TIME else None
