from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx
import pytest

from basepin.errors import InvalidReference, UsageError
from basepin.model import Platform, TagInfo
from basepin.registry.errors import (
    ProtocolError,
    RateLimited,
    RegistryError,
    RepositoryNotFound,
    Unauthorized,
    Unavailable,
)
from basepin.registry.hub import HubClient, HubImage, HubTag
from fixtures.hub import HubServer, image_entry

T = TypeVar("T")

INDEX = "application/vnd.oci.image.index.v1+json"
DIGEST = "sha256:" + "1" * 64
AMD64 = "sha256:" + "2" * 64
ARM64 = "sha256:" + "3" * 64
NOW = 1_717_245_296.0  # 2024-06-01T12:34:56Z
USER = "octocat"
PAT = "dckr_pat_s3cr3t-Do-Not-Print"


class FakeTime:
    """The client's clock and sleep: sleeping moves the clock, nothing really waits."""

    def __init__(self) -> None:
        self.now = NOW
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


Scenario = Callable[[HubClient], Awaitable[T]]


def run(url: str, fake_time: FakeTime, scenario: Scenario[T], **options: Any) -> T:
    async def main() -> T:
        async with httpx.AsyncClient(trust_env=False) as http:
            client = HubClient(http, url, clock=fake_time.clock, sleep=fake_time.sleep, **options)
            return await scenario(client)

    return asyncio.run(main())


def get_tag(repository: str, tag: str) -> Scenario[HubTag | None]:
    return lambda client: client.tag(repository, tag)


def list_tags(repository: str, **options: int) -> Scenario[list[TagInfo]]:
    return lambda client: client.tags(repository, **options)


# Tag detail


def test_tag_detail(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.add_tag(
        "library/python",
        "3.12-slim",
        digest=DIGEST,
        pushed="2024-06-01T12:34:56.123456Z",
        last_updated="2024-06-02T08:00:00.000001Z",
        size=52_428_800,
        images=[
            image_entry(AMD64, size=52_428_800, last_pushed="2024-06-01T12:30:00.5Z"),
            image_entry(ARM64, architecture="arm64", variant="v8", size=50_000_000),
        ],
    )

    found = run(hub_server.url, fake_time, get_tag("library/python", "3.12-slim"))

    assert found == HubTag(
        name="3.12-slim",
        digest=DIGEST,
        pushed=datetime(2024, 6, 1, 12, 34, 56, 123456, tzinfo=timezone.utc),
        size=52_428_800,
        media_type=INDEX,
        images=(
            HubImage(
                "linux",
                "amd64",
                None,
                AMD64,
                52_428_800,
                "active",
                datetime(2024, 6, 1, 12, 30, 0, 500000, tzinfo=timezone.utc),
            ),
            HubImage("linux", "arm64", "v8", ARM64, 50_000_000, "active", None),
        ),
        status="active",
    )
    assert found.images[1].platform == Platform("linux", "arm64", "v8")
    assert found.info() == TagInfo(
        "3.12-slim", DIGEST, found.pushed, 52_428_800, pushed_source="hub"
    )
    [request] = hub_server.requests
    assert request.path == "/v2/repositories/library/python/tags/3.12-slim"
    assert request.authorization is None


@pytest.mark.parametrize(
    "repository",
    [
        pytest.param("python", id="official-short"),
        pytest.param("library/python", id="official-normalised"),
        pytest.param("docker.io/library/python", id="with-registry"),
    ],
)
def test_official_images_live_under_library(
    hub_server: HubServer, fake_time: FakeTime, repository: str
) -> None:
    hub_server.add_tag("library/python", "3.12", digest=DIGEST)

    found = run(hub_server.url, fake_time, get_tag(repository, "3.12"))

    assert found is not None
    assert hub_server.requests[0].path == "/v2/repositories/library/python/tags/3.12"


def test_old_tag_without_digest_or_push_date(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.add_tag(
        "bitnami/redis",
        "5.0",
        digest=None,
        pushed=None,
        last_updated="2019-03-04T05:06:07.890Z",
        media_type=None,
        size=None,
    )

    found = run(hub_server.url, fake_time, get_tag("bitnami/redis", "5.0"))

    assert found is not None
    assert found.digest is None
    assert found.pushed == datetime(2019, 3, 4, 5, 6, 7, 890000, tzinfo=timezone.utc)
    assert found.media_type is None
    assert found.size is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2024-06-01T12:34:56Z", datetime(2024, 6, 1, 12, 34, 56), id="no-fraction"),
        pytest.param(
            "2024-06-01T12:34:56.1Z", datetime(2024, 6, 1, 12, 34, 56, 100000), id="one-digit"
        ),
        pytest.param(
            "2024-06-01T12:34:56.123456789Z",
            datetime(2024, 6, 1, 12, 34, 56, 123456),
            id="nanoseconds",
        ),
        pytest.param(
            "2024-06-01T14:34:56.5+02:00", datetime(2024, 6, 1, 12, 34, 56, 500000), id="offset"
        ),
        pytest.param("0001-01-01T00:00:00Z", None, id="go-zero-time"),
        pytest.param("yesterday", None, id="garbage"),
        pytest.param("2024-13-01T00:00:00Z", None, id="bad-month"),
    ],
)
def test_push_dates_as_hub_writes_them(
    hub_server: HubServer, fake_time: FakeTime, text: str, expected: datetime | None
) -> None:
    hub_server.add_tag("library/alpine", "3.20", digest=DIGEST, pushed=text, last_updated=text)

    found = run(hub_server.url, fake_time, get_tag("library/alpine", "3.20"))

    assert found is not None
    if expected is None:
        assert found.pushed is None
    else:
        assert found.pushed == expected.replace(tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("repository", "tag"),
    [
        pytest.param("library/python", "3.99", id="unknown-tag"),
        pytest.param("library/no-such-image", "1", id="unknown-repository"),
    ],
)
def test_not_found_is_none(
    hub_server: HubServer, fake_time: FakeTime, repository: str, tag: str
) -> None:
    hub_server.add_tag("library/python", "3.12", digest=DIGEST)

    assert run(hub_server.url, fake_time, get_tag(repository, tag)) is None


def test_not_found_without_hub_body_is_an_error(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.queue(404, b"<html><body>Not Found</body></html>")

    with pytest.raises(ProtocolError, match=r"is http://127\.0\.0\.1:\d+ the Hub API"):
        run(hub_server.url, fake_time, get_tag("library/python", "3.12"))


def test_tag_names_are_escaped_in_the_path(hub_server: HubServer, fake_time: FakeTime) -> None:
    run(hub_server.url, fake_time, get_tag("library/python", "a?b#c"))

    assert hub_server.requests[0].path == "/v2/repositories/library/python/tags/a?b#c"
    assert hub_server.requests[0].query == {}


# Listing


def add_versions(hub_server: HubServer, repository: str, count: int) -> None:
    """Tags 1.0 .. 1.<count-1>, each pushed a minute after the one before."""
    for minor in range(count):
        pushed = datetime.fromtimestamp(NOW - 86_400 + 60 * minor, timezone.utc)
        hub_server.add_tag(repository, f"1.{minor}", digest=f"sha256:{minor:064x}", pushed=pushed)


def test_listing_follows_next_across_three_pages(
    hub_server: HubServer, fake_time: FakeTime
) -> None:
    add_versions(hub_server, "library/redis", 250)

    tags = run(hub_server.url, fake_time, list_tags("redis"))

    assert [tag.name for tag in tags] == [f"1.{minor}" for minor in range(249, -1, -1)]
    assert tags[0].digest == f"sha256:{249:064x}"
    assert tags[0].pushed == datetime.fromtimestamp(NOW - 86_400 + 60 * 249, timezone.utc)
    assert tags[0].size == 29_150_000
    queries = [request.query for request in hub_server.requests]
    assert [query["page"] for query in queries] == [["1"], ["2"], ["3"]]
    assert all(query["page_size"] == ["100"] for query in queries)
    assert all(query["ordering"] == ["last_updated"] for query in queries)


def test_listing_stops_at_the_page_cap(hub_server: HubServer, fake_time: FakeTime) -> None:
    add_versions(hub_server, "library/redis", 250)

    tags = run(hub_server.url, fake_time, list_tags("library/redis", max_pages=2))

    assert len(tags) == 200
    assert len(hub_server.requests) == 2


def test_listing_of_an_empty_repository(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.add_repository("acme/empty")

    assert run(hub_server.url, fake_time, list_tags("acme/empty")) == []


def test_listing_of_an_unknown_repository(hub_server: HubServer, fake_time: FakeTime) -> None:
    with pytest.raises(RepositoryNotFound, match="no repository library/nope"):
        run(hub_server.url, fake_time, list_tags("nope"))


def test_listing_does_not_follow_next_to_another_origin(
    hub_server: HubServer, fake_time: FakeTime
) -> None:
    with HubServer() as elsewhere:
        add_versions(elsewhere, "library/redis", 5)
        hub_server.queue(
            200,
            {
                "count": 300,
                "next": f"{elsewhere.url}/v2/repositories/library/redis/tags/?page=2",
                "previous": None,
                "results": [hub_server.add_tag("library/redis", "7.4", digest=DIGEST)],
            },
        )

        tags = run(hub_server.url, fake_time, list_tags("redis"))

        assert [tag.name for tag in tags] == ["7.4"]
        assert elsewhere.requests == []


def test_listing_follows_a_relative_next_once(hub_server: HubServer, fake_time: FakeTime) -> None:
    page = {
        "count": 2,
        "next": "/v2/repositories/library/redis/tags/?page=2",
        "previous": None,
        "results": [hub_server.add_tag("library/redis", "7.4", digest=DIGEST)],
    }
    hub_server.queue(200, page, times=3)

    tags = run(hub_server.url, fake_time, list_tags("redis"))

    assert [tag.name for tag in tags] == ["7.4"]
    # The second page links to itself: the loop ends instead of spinning to the page cap.
    assert [request.query.get("page") for request in hub_server.requests] == [["1"], ["2"]]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"count": 1, "next": None}, id="no-results"),
        pytest.param({"count": 1, "next": None, "results": [{"digest": DIGEST}]}, id="no-name"),
        pytest.param({"count": 1, "next": 2, "results": []}, id="next-not-a-string"),
    ],
)
def test_listing_with_odd_shapes(
    hub_server: HubServer, fake_time: FakeTime, body: dict[str, Any]
) -> None:
    hub_server.queue(200, body)

    with pytest.raises(ProtocolError, match="library/redis"):
        run(hub_server.url, fake_time, list_tags("redis"))


# Login


def test_login_sends_bearer_to_later_calls(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.add_login(USER, PAT)
    for tag in ("3.11", "3.12", "3.13"):
        hub_server.add_tag("library/python", tag, digest=DIGEST)

    async def three_at_once(client: HubClient) -> list[HubTag | None]:
        lookups = (client.tag("python", tag) for tag in ("3.11", "3.12", "3.13"))
        return list(await asyncio.gather(*lookups))

    found = run(hub_server.url, fake_time, three_at_once, username=USER, token=PAT)

    assert all(tag is not None for tag in found)
    login, *calls = hub_server.requests
    assert (login.method, login.path) == ("POST", "/v2/auth/token")
    assert json.loads(login.body) == {"identifier": USER, "secret": PAT}
    assert login.authorization is None
    assert len(hub_server.issued_tokens) == 1
    assert [call.authorization for call in calls] == [f"Bearer {hub_server.issued_tokens[0]}"] * 3


def test_login_is_renewed_before_the_token_expires(
    hub_server: HubServer, fake_time: FakeTime
) -> None:
    hub_server.add_login(USER, PAT)
    hub_server.add_tag("library/python", "3.12", digest=DIGEST)

    async def ten_minutes_apart(client: HubClient) -> None:
        await client.tag("python", "3.12")
        fake_time.now += 600
        await client.tag("python", "3.12")

    run(hub_server.url, fake_time, ten_minutes_apart, username=USER, token=PAT)

    first, second = hub_server.issued_tokens
    assert [r.authorization for r in hub_server.api_requests()] == [
        f"Bearer {first}",
        f"Bearer {second}",
    ]


def test_refused_token_is_renewed_once(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.add_login(USER, PAT)
    hub_server.add_tag("library/python", "3.12", digest=DIGEST)

    async def revoked_then_ok(client: HubClient) -> HubTag | None:
        await client.tag("python", "3.12")
        hub_server.queue(401, {"message": "token revoked"})
        return await client.tag("python", "3.12")

    found = run(hub_server.url, fake_time, revoked_then_ok, username=USER, token=PAT)

    assert found is not None
    assert len(hub_server.issued_tokens) == 2


def test_api_refusal_after_a_fresh_login_is_an_error(
    hub_server: HubServer, fake_time: FakeTime
) -> None:
    hub_server.add_login(USER, PAT)
    hub_server.add_tag("library/python", "3.12", digest=DIGEST)

    async def refused(client: HubClient) -> HubTag | None:
        await client.tag("python", "3.12")
        hub_server.queue(403, {"message": "forbidden"})
        hub_server.queue(200, {"access_token": "hub-access-renewed"})
        hub_server.queue(403, {"message": "forbidden"})
        return await client.tag("python", "3.12")

    with pytest.raises(Unauthorized, match=r"refused access to library/python:3\.12"):
        run(hub_server.url, fake_time, refused, username=USER, token=PAT)


def test_anonymous_refusal_is_an_error(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.queue(401, {"message": "authentication required"})

    with pytest.raises(Unauthorized, match="HTTP 401"):
        run(hub_server.url, fake_time, get_tag("acme/private", "1"))


# Rate limit and failures


def test_rate_limit_within_budget_is_waited_out(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.add_tag("library/python", "3.12", digest=DIGEST)
    hub_server.rate_limit(retry_at=NOW + 3)

    found = run(hub_server.url, fake_time, get_tag("python", "3.12"), max_wait=10.0)

    assert found is not None
    assert fake_time.slept == [3.0]
    assert len(hub_server.requests) == 2


def test_rate_limit_beyond_budget_is_an_error(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.rate_limit(retry_at=NOW + 3600)

    with pytest.raises(RateLimited, match=r"again at 13:34:56 UTC \(in 3600 s\)") as caught:
        run(hub_server.url, fake_time, get_tag("python", "3.12"), max_wait=10.0)
    assert fake_time.slept == []
    assert len(hub_server.requests) == 1
    assert caught.value.retry_after == 3600
    assert caught.value.registry == hub_server.url.removeprefix("http://")
    assert caught.value.repository == "library/python"
    assert caught.value.exit_code == 3


def test_rate_limit_budget_covers_all_waits_of_a_request(
    hub_server: HubServer, fake_time: FakeTime
) -> None:
    hub_server.rate_limit(retry_at=NOW + 4)
    hub_server.rate_limit(retry_at=NOW + 8)
    hub_server.rate_limit(retry_at=NOW + 12)

    with pytest.raises(RateLimited):
        run(hub_server.url, fake_time, get_tag("python", "3.12"), max_wait=10.0)
    assert fake_time.slept == [4.0, 4.0]


@pytest.mark.parametrize(
    ("headers", "slept"),
    [
        pytest.param({"X-Retry-After": "5"}, [5.0], id="seconds-instead-of-unix-time"),
        pytest.param({"X-RateLimit-Reset": str(int(NOW + 2))}, [2.0], id="reset-only"),
        pytest.param({"X-Retry-After": str(int(NOW - 30))}, [0.0], id="already-past"),
    ],
)
def test_rate_limit_retry_time_variants(
    hub_server: HubServer, fake_time: FakeTime, headers: dict[str, str], slept: list[float]
) -> None:
    hub_server.add_tag("library/python", "3.12", digest=DIGEST)
    hub_server.queue(429, {"message": "Too Many Requests"}, headers)

    assert run(hub_server.url, fake_time, get_tag("python", "3.12")) is not None
    assert fake_time.slept == slept


def test_rate_limit_waits_are_counted(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.rate_limit(retry_at=NOW - 60, times=10)

    with pytest.raises(RateLimited):
        run(hub_server.url, fake_time, get_tag("python", "3.12"))
    assert fake_time.slept == [0.0, 0.0, 0.0]


def test_rate_limit_without_retry_time_is_not_retried(
    hub_server: HubServer, fake_time: FakeTime
) -> None:
    hub_server.queue(429, {"message": "Too Many Requests"})

    with pytest.raises(RateLimited, match="did not say when"):
        run(hub_server.url, fake_time, get_tag("python", "3.12"))
    assert len(hub_server.requests) == 1


def test_rate_limit_headers_are_kept(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.add_tag("library/python", "3.12", digest=DIGEST)

    async def ask(client: HubClient) -> HubClient:
        await client.tag("python", "3.12")
        return client

    client = run(hub_server.url, fake_time, ask)

    assert client.rate_limit is not None
    assert client.rate_limit.limit == 180
    assert client.rate_limit.remaining == 179
    assert client.rate_limit.reset is not None


@pytest.mark.parametrize(
    ("failures", "slept"),
    [
        pytest.param(1, [0.5], id="one-503"),
        pytest.param(2, [0.5, 1.0], id="two-503"),
    ],
)
def test_server_errors_are_retried(
    hub_server: HubServer, fake_time: FakeTime, failures: int, slept: list[float]
) -> None:
    hub_server.add_tag("library/python", "3.12", digest=DIGEST)
    hub_server.queue(503, b"Service Unavailable", times=failures)

    assert run(hub_server.url, fake_time, get_tag("python", "3.12"), retries=2) is not None
    assert fake_time.slept == slept


def test_server_errors_beyond_retries(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.queue(502, b"Bad Gateway", times=3)

    with pytest.raises(Unavailable, match="HTTP 502 after 3 tries"):
        run(hub_server.url, fake_time, get_tag("python", "3.12"), retries=2)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_connection_refused(closed_port: int, fake_time: FakeTime) -> None:
    with pytest.raises(Unavailable, match=r"did not answer for library/python:3\.12"):
        run(f"http://127.0.0.1:{closed_port}", fake_time, get_tag("python", "3.12"))
    assert fake_time.slept == [0.5, 1.0]


def test_timeout(silent_port: int, fake_time: FakeTime) -> None:
    with pytest.raises(Unavailable, match="timed out"):
        run(
            f"http://127.0.0.1:{silent_port}",
            fake_time,
            get_tag("python", "3.12"),
            timeout=0.05,
            retries=0,
        )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b'{"name": "3.12", "digest": ', "malformed JSON", id="truncated"),
        pytest.param(b"<html>maintenance</html>", "malformed JSON", id="html"),
        pytest.param(b"[1, 2, 3]", "no JSON object", id="array"),
        pytest.param(b'{"digest": "sha256:00"}', "without a name", id="no-name"),
    ],
)
def test_bad_bodies(hub_server: HubServer, fake_time: FakeTime, body: bytes, message: str) -> None:
    hub_server.queue(200, body)

    with pytest.raises(ProtocolError, match=message) as caught:
        run(hub_server.url, fake_time, get_tag("python", "3.12"))
    assert "library/python:3.12" in str(caught.value)


def test_unexpected_status(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.queue(418, b"{}")

    with pytest.raises(ProtocolError, match="HTTP 418"):
        run(hub_server.url, fake_time, get_tag("python", "3.12"))


# Secrets


def refused_login(hub_server: HubServer) -> None:
    hub_server.add_login(USER, "another-secret")


def rate_limited_login(hub_server: HubServer) -> None:
    hub_server.rate_limit(retry_at=NOW + 3600)


def broken_login(hub_server: HubServer) -> None:
    hub_server.queue(200, b"{not json")


def login_without_token(hub_server: HubServer) -> None:
    hub_server.queue(200, {"token": "wrong-field"})


def broken_after_login(hub_server: HubServer) -> None:
    hub_server.add_login(USER, PAT)
    hub_server.queue(200, {"access_token": PAT + "-access"})
    hub_server.queue(500, b"oops", times=3)


@pytest.mark.parametrize(
    ("prepare", "error"),
    [
        pytest.param(refused_login, Unauthorized, id="refused"),
        pytest.param(rate_limited_login, RateLimited, id="rate-limited"),
        pytest.param(broken_login, ProtocolError, id="malformed"),
        pytest.param(login_without_token, ProtocolError, id="no-token"),
        pytest.param(broken_after_login, Unavailable, id="api-failing"),
    ],
)
def test_secrets_never_appear_in_errors(
    hub_server: HubServer,
    fake_time: FakeTime,
    prepare: Callable[[HubServer], None],
    error: type[RegistryError],
) -> None:
    prepare(hub_server)

    async def ask(client: HubClient) -> HubTag | None:
        assert PAT not in repr(client)
        return await client.tag("python", "3.12")

    with pytest.raises(error) as caught:
        run(hub_server.url, fake_time, ask, username=USER, token=PAT)
    for secret in (PAT, *hub_server.issued_tokens):
        assert secret not in str(caught.value)
        assert secret not in repr(caught.value)


# Configuration


@pytest.mark.parametrize(
    ("url", "username", "token"),
    [
        pytest.param("ftp://hub.example", None, None, id="scheme"),
        pytest.param("https://", None, None, id="no-host"),
        pytest.param("https://user:pw@hub.example", None, None, id="userinfo"),
        pytest.param("https://hub.docker.com", USER, None, id="username-only"),
        pytest.param("https://hub.docker.com", None, PAT, id="token-only"),
    ],
)
def test_bad_configuration(url: str, username: str | None, token: str | None) -> None:
    async def build() -> None:
        async with httpx.AsyncClient(trust_env=False) as http:
            HubClient(http, url, username=username, token=token)

    with pytest.raises(UsageError) as caught:
        asyncio.run(build())
    assert PAT not in str(caught.value)


@pytest.mark.parametrize("repository", ["a/b/c", "/python", "library/", ""])
def test_bad_repository_names(hub_server: HubServer, fake_time: FakeTime, repository: str) -> None:
    with pytest.raises(InvalidReference):
        run(hub_server.url, fake_time, get_tag(repository, "1"))
    assert hub_server.requests == []


def test_bad_listing_options(hub_server: HubServer, fake_time: FakeTime) -> None:
    with pytest.raises(ValueError, match="page_size"):
        run(hub_server.url, fake_time, list_tags("python", page_size=101))
