"""The Docker Hub API client against the local Hub (tests/fixtures/hub.py), whose answers take
their shapes from the current API reference and from recorded answers (tests/data/hub/)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

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
from basepin.registry.hub import HubClient, HubImage, HubTag, HubTagList
from basepin.registry.hub_limits import Pauses, retry_wait
from basepin.registry.hub_session import MAX_ANSWER_BYTES
from basepin.registry.hub_tags import tag_from
from fixtures import runs
from fixtures.hub import HubServer, image_entry, recorded

T = TypeVar("T")

INDEX = "application/vnd.oci.image.index.v1+json"
LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DIGEST = "sha256:" + "1" * 64
AMD64 = "sha256:" + "2" * 64
ARM64 = "sha256:" + "3" * 64
NOW = 1_717_245_296.0  # 2024-06-01T12:34:56Z
USER = "octocat"
PAT = "dckr_pat_s3cr3t-Do-Not-Print"
TAG_PATH = "/v2/namespaces/library/repositories/python/tags/3.12"
OLDER_TAG_PATH = "/v2/repositories/library/python/tags/3.12"


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


def list_tags(repository: str, **options: int) -> Scenario[HubTagList]:
    return lambda client: client.tags(repository, **options)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=timezone.utc)


# 1. Endpoints: the documented paths, the older ones only where the server does not know them


def test_tag_detail_from_the_documented_path(hub_server: HubServer, fake_time: FakeTime) -> None:
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
        pushed=utc(2024, 6, 1, 12, 34, 56, 123456),
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
                utc(2024, 6, 1, 12, 30, 0, 500000),
            ),
            HubImage("linux", "arm64", "v8", ARM64, 50_000_000, "active", None),
        ),
        status="active",
        content_type="image",
    )
    assert found.images[1].platform == Platform("linux", "arm64", "v8")
    [request] = hub_server.requests
    assert request.path == "/v2/namespaces/library/repositories/python/tags/3.12-slim"
    assert request.accept == "application/json"
    assert request.authorization is None


def test_documented_example_is_read(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.add_answer("acme/app", recorded("docs-tag-example")["answer"])

    found = run(hub_server.url, fake_time, get_tag("acme/app", "latest"))

    assert found is not None
    assert (found.digest, found.media_type, found.content_type) == (None, None, None)
    assert found.candidate
    assert found.image_pushed() == utc(2021, 1, 5, 21, 6, 53, 506400)
    assert found.size_for("linux/amd64") == 123456


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

    assert run(hub_server.url, fake_time, get_tag(repository, "3.12")) is not None
    assert [r.path for r in hub_server.requests] == [TAG_PATH]


@pytest.mark.parametrize("unknown_path", ["json", "html"])
def test_a_hub_that_knows_only_the_older_paths(
    fake_time: FakeTime, caplog: pytest.LogCaptureFixture, unknown_path: Any
) -> None:
    with HubServer(paths="older", unknown_path=unknown_path) as hub:
        hub.add_tag("library/python", "3.12", digest=DIGEST)
        hub.add_tag("library/python", "3.13", digest=AMD64)

        async def two(client: HubClient) -> list[HubTag | None]:
            return [await client.tag("python", "3.12"), await client.tag("python", "3.13")]

        with caplog.at_level(logging.DEBUG, logger="basepin.registry.hub"):
            found = run(hub.url, fake_time, two)

        assert [tag.digest if tag else None for tag in found] == [DIGEST, AMD64]
        # One 404 for the unknown path, then the older paths only.
        assert [r.path for r in hub.requests] == [
            TAG_PATH,
            OLDER_TAG_PATH,
            "/v2/repositories/library/python/tags/3.13",
        ]
    assert any("does not know the path" in r.getMessage() for r in caplog.records)


def test_questions_at_once_learn_the_paths_once(fake_time: FakeTime) -> None:
    with HubServer(paths="older") as hub:
        for minor in range(10):
            hub.add_tag("library/python", f"3.{minor}", digest=DIGEST)

        async def ten_at_once(client: HubClient) -> list[HubTag | None]:
            asked = (client.tag("python", f"3.{minor}") for minor in range(10))
            return list(await asyncio.gather(*asked))

        found = run(hub.url, fake_time, ten_at_once)

        assert all(tag is not None for tag in found)
        documented = [r for r in hub.requests if r.path.startswith("/v2/namespaces/")]
        assert len(documented) == 1
        assert len(hub.requests) == 11


def test_a_hub_that_knows_only_the_documented_paths(fake_time: FakeTime) -> None:
    with HubServer(paths="documented") as hub:
        hub.add_tag("library/python", "3.12", digest=DIGEST)

        assert run(hub.url, fake_time, get_tag("python", "3.12")) is not None
        assert run(hub.url, fake_time, get_tag("python", "3.99")) is None
        assert all(r.path.startswith("/v2/namespaces/") for r in hub.requests)


@pytest.mark.parametrize(
    ("repository", "tag"),
    [
        pytest.param("library/python", "3.99", id="unknown-tag"),
        pytest.param("library/no-such-image", "1", id="unknown-repository"),
    ],
)
def test_not_found_is_none_without_a_second_question(
    hub_server: HubServer, fake_time: FakeTime, repository: str, tag: str
) -> None:
    hub_server.add_tag("library/python", "3.12", digest=DIGEST)

    assert run(hub_server.url, fake_time, get_tag(repository, tag)) is None
    assert len(hub_server.requests) == 1


@pytest.mark.parametrize("body", ["tag", "repository", "repository-unprefixed"])
def test_recorded_not_found_bodies(hub_server: HubServer, fake_time: FakeTime, body: str) -> None:
    hub_server.queue(404, recorded("not-found")[body])

    assert run(hub_server.url, fake_time, get_tag("rust", "1.92.0-slim")) is None
    assert len(hub_server.requests) == 1


def test_404_without_the_hub_body_on_both_paths_is_an_error(
    hub_server: HubServer, fake_time: FakeTime
) -> None:
    hub_server.queue(404, recorded("unknown-path")["html"], times=2)

    with pytest.raises(ProtocolError, match=r"is http://127\.0\.0\.1:\d+ the Hub API"):
        run(hub_server.url, fake_time, get_tag("library/python", "3.12"))
    assert [r.path for r in hub_server.requests] == [TAG_PATH, OLDER_TAG_PATH]


def test_tag_names_are_escaped_in_the_path(hub_server: HubServer, fake_time: FakeTime) -> None:
    run(hub_server.url, fake_time, get_tag("library/python", "a?b#c"))

    assert hub_server.requests[0].path == "/v2/namespaces/library/repositories/python/tags/a?b#c"
    assert hub_server.requests[0].query == {}


# 2. Pagination: `next` followed on the service's own names only; a list cut short says so


def add_versions(hub: HubServer, repository: str, count: int) -> None:
    """Tags 1.0 .. 1.<count-1>, each pushed a minute after the one before."""
    for minor in range(count):
        pushed = datetime.fromtimestamp(NOW - 86_400 + 60 * minor, timezone.utc)
        hub.add_tag(repository, f"1.{minor}", digest=f"sha256:{minor:064x}", pushed=pushed)


def test_listing_follows_next_across_three_pages(
    hub_server: HubServer, fake_time: FakeTime
) -> None:
    add_versions(hub_server, "library/redis", 250)

    listing = run(hub_server.url, fake_time, list_tags("redis"))

    assert listing.complete
    assert listing.pages == 3
    assert [tag.name for tag in listing.tags] == [f"1.{m}" for m in range(249, -1, -1)]
    first = listing.tags[0]
    assert first.digest == f"sha256:{249:064x}"
    assert first.pushed == datetime.fromtimestamp(NOW - 86_400 + 60 * 249, timezone.utc)
    assert first.info() == TagInfo(
        "1.249", first.digest, first.pushed, 29_150_000, pushed_source="hub"
    )
    assert {r.path for r in hub_server.requests} == {
        "/v2/namespaces/library/repositories/redis/tags"
    }
    queries = [request.query for request in hub_server.requests]
    assert [query["page"] for query in queries] == [["1"], ["2"], ["3"]]
    assert all(query["page_size"] == ["100"] for query in queries)
    assert all(query["ordering"] == ["last_updated"] for query in queries)


@pytest.mark.parametrize("next_host", ["https://registry.hub.docker.com", "https://hub.docker.com"])
def test_next_on_another_name_of_the_service_is_read_from_the_configured_base(
    fake_time: FakeTime, caplog: pytest.LogCaptureFixture, next_host: str
) -> None:
    with HubServer(next_host=next_host) as hub:
        add_versions(hub, "library/redis", 150)

        with caplog.at_level(logging.DEBUG, logger="basepin.registry.hub"):
            listing = run(hub.url, fake_time, list_tags("redis"))

        assert listing.complete
        assert len(listing.tags) == 150
        assert [r.query["page"] for r in hub.requests] == [["1"], ["2"]]
    assert any(
        f"{next_host}/v2/namespaces/library/repositories/redis/tags" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize(
    ("link", "why"),
    [
        pytest.param(
            "https://evil.example/v2/repositories/library/redis/tags?page=2",
            "another host (evil.example)",
            id="elsewhere",
        ),
        pytest.param(
            "http://registry.hub.docker.com/v2/repositories/library/redis/tags?page=2",
            "another host",
            id="plain-http",
        ),
        pytest.param(
            "https://registry.hub.docker.com:8443/v2/repositories/library/redis/tags?page=2",
            "another host",
            id="other-port",
        ),
        pytest.param(
            "https://hub.docker.com/v2/users/login?page=2",
            "leaves the repository's tag list",
            id="other-path",
        ),
        pytest.param(
            "/v2/repositories/library/other/tags?page=2",
            "leaves the repository's tag list",
            id="other-repository",
        ),
    ],
)
def test_next_elsewhere_is_not_followed_and_the_list_is_cut(
    hub_server: HubServer, fake_time: FakeTime, link: str, why: str
) -> None:
    hub_server.queue(
        200,
        {
            "count": 300,
            "next": link,
            "previous": None,
            "results": [hub_server.add_tag("library/redis", "7.4", digest=DIGEST)],
        },
    )

    listing = run(hub_server.url, fake_time, list_tags("redis"))

    assert [tag.name for tag in listing.tags] == ["7.4"]
    assert not listing.complete
    assert listing.cut is not None
    assert why in listing.cut
    assert "(1 of 300 tags)" in listing.cut
    assert len(hub_server.requests) == 1


def test_the_page_bound_cuts_the_list_and_says_so(
    hub_server: HubServer, fake_time: FakeTime
) -> None:
    add_versions(hub_server, "library/redis", 250)

    listing = run(hub_server.url, fake_time, list_tags("library/redis", max_pages=2))

    assert len(listing.tags) == 200
    assert listing.cut == "stopped after 2 pages (200 of 250 tags)"
    assert len(hub_server.requests) == 2


def test_a_next_that_loops_ends_the_list(hub_server: HubServer, fake_time: FakeTime) -> None:
    page = {
        "count": 2,
        "next": "/v2/namespaces/library/repositories/redis/tags?page=2",
        "previous": None,
        "results": [hub_server.add_tag("library/redis", "7.4", digest=DIGEST)],
    }
    hub_server.queue(200, page, times=3)

    listing = run(hub_server.url, fake_time, list_tags("redis"))

    assert [tag.name for tag in listing.tags] == ["7.4"]
    assert listing.cut == "its pages do not end (1 of 2 tags)"
    assert [request.query.get("page") for request in hub_server.requests] == [["1"], ["2"]]


def test_a_later_page_that_fails_cuts_the_list(hub_server: HubServer, fake_time: FakeTime) -> None:
    add_versions(hub_server, "library/redis", 150)
    hub_server.queue(200, run_page(hub_server, "library/redis"))
    hub_server.queue(503, b"Service Unavailable", times=3)

    listing = run(hub_server.url, fake_time, list_tags("redis"), retries=2)

    assert len(listing.tags) == 100
    assert listing.cut is not None
    assert listing.cut.startswith(
        "page 2 could not be read (100 of 150 tags): Docker Hub API failed"
    )


def test_a_page_that_is_gone_cuts_the_list(hub_server: HubServer, fake_time: FakeTime) -> None:
    add_versions(hub_server, "library/redis", 150)
    hub_server.queue(200, run_page(hub_server, "library/redis"))
    hub_server.queue(404, recorded("not-found")["repository"])

    listing = run(hub_server.url, fake_time, list_tags("redis"))

    assert listing.cut == "page 2 is gone: the list changed while it was read (100 of 150 tags)"


def run_page(hub: HubServer, repository: str) -> dict[str, Any]:
    """The first page the server would send for `repository` now."""
    namespace, _, name = repository.partition("/")
    answer = httpx.get(
        f"{hub.url}/v2/namespaces/{namespace}/repositories/{name}/tags?page_size=100&page=1&ordering=last_updated"
    )
    hub.requests.clear()
    page: dict[str, Any] = answer.json()
    return page


def test_recorded_page_with_an_inactive_tag_and_next_on_registry_hub(
    hub_server: HubServer, fake_time: FakeTime
) -> None:
    hub_server.queue(200, recorded("tags-kube-apiserver-page-1")["answer"])
    hub_server.queue(200, {"count": 564, "next": None, "previous": None, "results": []})

    listing = run(hub_server.url, fake_time, list_tags("gcmirrors/kube-apiserver"))

    assert listing.complete
    [tag] = listing.tags
    assert (tag.name, tag.status, tag.candidate) == ("v1.18.7-rc.0", "inactive", False)
    assert tag.digest is None
    assert tag.image_pushed() == utc(2020, 7, 16, 7, 29, 28, 814990)  # last_pushed is null
    assert hub_server.requests[1].path == "/v2/repositories/gcmirrors/kube-apiserver/tags"
    assert hub_server.requests[1].query == {"page": ["2"]}


def test_listing_of_an_empty_repository(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.add_repository("acme/empty")

    assert run(hub_server.url, fake_time, list_tags("acme/empty")) == HubTagList((), None, 1)


def test_listing_of_an_unknown_repository(hub_server: HubServer, fake_time: FakeTime) -> None:
    with pytest.raises(RepositoryNotFound, match="no repository library/nope"):
        run(hub_server.url, fake_time, list_tags("nope"))
    assert len(hub_server.requests) == 1


def test_listing_on_a_hub_that_knows_only_the_older_paths(fake_time: FakeTime) -> None:
    with HubServer(paths="older") as hub:
        add_versions(hub, "library/redis", 150)

        listing = run(hub.url, fake_time, list_tags("redis"))

        assert listing.complete
        assert len(listing.tags) == 150
        assert [r.path for r in hub.requests] == [
            "/v2/namespaces/library/repositories/redis/tags",
            "/v2/repositories/library/redis/tags",
            "/v2/repositories/library/redis/tags",
        ]


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


# 3. Sizes: per platform from images[]; full_size 0 or absent is unknown


def test_recorded_multi_platform_tag_without_digest_or_full_size(
    hub_server: HubServer, fake_time: FakeTime
) -> None:
    hub_server.add_answer("library/rust", recorded("tag-rust-1.44.0-slim")["answer"])

    found = run(hub_server.url, fake_time, get_tag("rust", "1.44.0-slim"))

    assert found is not None
    assert found.digest is None
    assert found.size is None  # full_size 0
    assert found.media_type == LIST
    assert found.size_for("linux/amd64") == 207_268_936
    assert found.size_for("linux/arm64") == 210_411_823  # the v8 variant
    assert found.size_for("linux/arm/v7") == 203_309_061
    assert found.size_for("linux/arm/v6") is None
    assert found.size_for("windows/amd64") is None
    assert found.info("linux/386").size == 228_338_913
    # 4. Dates: the image content's newest push; the tag's own push is later.
    assert found.image_pushed() == utc(2020, 6, 9, 20, 22, 13)
    assert found.pushed == utc(2020, 6, 9, 20, 45, 50, 400981)


def test_recorded_tag_with_its_index_digest(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.add_answer("rancher/k3s", recorded("tag-k3s-v1.25.14-k3s1")["answer"])

    found = run(hub_server.url, fake_time, get_tag("rancher/k3s", "v1.25.14-k3s1"))

    assert found is not None
    assert found.digest == "sha256:5f7b660e6f2a6dd712350a8f1fd5ad6beafd62a06df5e2f46e432e6f151652fc"
    assert found.images[0].digest == (
        "sha256:5d972920146d1fdacb806ffff492cf3d6c6b11ef061e7c9b02345e8cdcc1f817"
    )
    assert (found.status, found.content_type, found.candidate) == ("active", "image", True)
    assert found.size_for("linux/s390x") == 74_795_527
    assert found.image_pushed() == utc(2023, 9, 21, 2, 33, 0, 168796)


@pytest.mark.parametrize("full_size", [0, None, -1, True, "123"])
def test_full_size_that_is_not_a_size(
    hub_server: HubServer, fake_time: FakeTime, full_size: object
) -> None:
    tag = hub_server.add_tag("library/python", "3.12", digest=DIGEST, images=[])
    tag["full_size"] = full_size

    found = run(hub_server.url, fake_time, get_tag("python", "3.12"))

    assert found is not None
    assert found.size is None
    assert found.size_for("linux/amd64") is None


# 4. Dates: image content first; placeholders and null are unknown


def test_a_tag_pushed_again_with_an_old_image_is_old(
    hub_server: HubServer, fake_time: FakeTime
) -> None:
    hub_server.add_tag(
        "library/python",
        "3.12",
        digest=DIGEST,
        pushed="2024-05-31T00:00:00Z",
        images=[
            image_entry(AMD64, last_pushed="2023-04-28T00:00:00Z"),
            image_entry(
                ARM64, architecture="arm64", variant="v8", last_pushed="2023-04-27T00:00:00Z"
            ),
            image_entry(
                "sha256:" + "4" * 64,
                os="unknown",
                architecture="unknown",
                last_pushed="2024-05-31T00:00:00Z",
            ),
        ],
    )

    found = run(hub_server.url, fake_time, get_tag("python", "3.12"))

    assert found is not None
    assert found.pushed == utc(2024, 5, 31)
    # The attestation entry (unknown/unknown) is not the image.
    assert found.image_pushed() == utc(2023, 4, 28)


@pytest.mark.parametrize(
    ("image", "tag", "updated", "expected"),
    [
        pytest.param(
            "1970-01-01T00:00:00Z", "2024-05-01T00:00:00Z", None, utc(2024, 5, 1), id="image-epoch"
        ),
        pytest.param(
            "1980-01-01T00:00:00Z",
            None,
            "2024-04-01T00:00:00Z",
            utc(2024, 4, 1),
            id="image-1980-tag-null",
        ),
        pytest.param(
            None, "1970-01-01T00:00:00Z", "2024-03-01T00:00:00Z", utc(2024, 3, 1), id="tag-epoch"
        ),
        pytest.param(None, None, "1980-12-31T23:59:59Z", None, id="all-unknown"),
        pytest.param("0001-01-01T00:00:00Z", None, None, None, id="go-zero-time"),
        pytest.param("1981-01-01T00:00:00Z", None, None, utc(1981, 1, 1), id="1981-counts"),
    ],
)
def test_dates_before_1981_and_null_are_unknown(
    hub_server: HubServer,
    fake_time: FakeTime,
    image: str | None,
    tag: str | None,
    updated: str | None,
    expected: datetime | None,
) -> None:
    answer = hub_server.add_tag(
        "library/alpine", "3.20", digest=DIGEST, images=[image_entry(AMD64, last_pushed=image)]
    )
    answer["tag_last_pushed"] = tag
    answer["last_updated"] = updated

    found = run(hub_server.url, fake_time, get_tag("alpine", "3.20"))

    assert found is not None
    assert found.image_pushed() == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2024-06-01T12:34:56Z", utc(2024, 6, 1, 12, 34, 56), id="no-fraction"),
        pytest.param("2024-06-01T12:34:56.1Z", utc(2024, 6, 1, 12, 34, 56, 100000), id="one-digit"),
        pytest.param(
            "2024-06-01T12:34:56.123456789Z", utc(2024, 6, 1, 12, 34, 56, 123456), id="nanoseconds"
        ),
        pytest.param(
            "2024-06-01T14:34:56.5+02:00", utc(2024, 6, 1, 12, 34, 56, 500000), id="offset"
        ),
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
    assert found.pushed == expected
    assert found.image_pushed() == expected


# 5. Tag status and type: only active images may be proposed


@pytest.mark.parametrize(
    ("status", "content_type", "candidate"),
    [
        ("active", "image", True),
        ("inactive", "image", False),
        ("stale", "image", False),
        ("active", "plugin", False),
        ("active", "unrecognized", False),
        (None, None, True),  # older answers have neither field
    ],
)
def test_only_active_images_are_candidates(
    hub_server: HubServer,
    fake_time: FakeTime,
    status: str | None,
    content_type: str | None,
    candidate: bool,
) -> None:
    hub_server.add_tag(
        "library/redis", "7.4", digest=DIGEST, status=status, content_type=content_type
    )

    [tag] = run(hub_server.url, fake_time, list_tags("redis")).tags

    assert tag.candidate is candidate


# 6. Rate limits: every recorded and documented form, within one budget for the run


@pytest.mark.parametrize(
    ("style", "slept"),
    [
        pytest.param("documented", [3.0], id="retry-after-seconds"),
        pytest.param("older-reference", [3.0], id="x-retry-after-unix-time"),
        pytest.param("recorded", [3.0], id="retry-after-holding-a-unix-time"),
    ],
)
def test_rate_limit_styles_are_waited_out(
    hub_server: HubServer, fake_time: FakeTime, style: Any, slept: list[float]
) -> None:
    hub_server.add_tag("library/python", "3.12", digest=DIGEST)
    hub_server.rate_limit(retry_at=NOW + 3, style=style, seconds=3)

    found = run(hub_server.url, fake_time, get_tag("python", "3.12"), max_wait=10.0)

    assert found is not None
    assert fake_time.slept == slept
    assert [r.path for r in hub_server.requests] == [TAG_PATH, TAG_PATH]


@pytest.mark.parametrize(
    ("headers", "slept"),
    [
        pytest.param({"X-RateLimit-Reset": str(int(NOW + 2))}, [2.0], id="reset-only"),
        pytest.param({"X-Retry-After": "5"}, [5.0], id="x-retry-after-seconds"),
        pytest.param({"X-Retry-After": str(int(NOW - 30))}, [], id="already-past"),
        pytest.param(
            {
                "Retry-After": format_datetime(
                    datetime.fromtimestamp(NOW + 4, timezone.utc), usegmt=True
                )
            },
            [4.0],
            id="http-date",
        ),
        pytest.param(
            {"Retry-After": "soon", "X-RateLimit-Reset": str(int(NOW + 1))},
            [1.0],
            id="bad-then-reset",
        ),
    ],
)
def test_rate_limit_retry_time_variants(
    hub_server: HubServer, fake_time: FakeTime, headers: dict[str, str], slept: list[float]
) -> None:
    hub_server.add_tag("library/python", "3.12", digest=DIGEST)
    hub_server.queue(429, recorded("rate-limited")["body"], headers)

    assert run(hub_server.url, fake_time, get_tag("python", "3.12")) is not None
    assert fake_time.slept == slept


def test_403_with_no_requests_left_is_a_rate_limit(
    hub_server: HubServer, fake_time: FakeTime
) -> None:
    hub_server.add_tag("library/python", "3.12", digest=DIGEST)
    hub_server.rate_limit(retry_at=NOW + 2, style="recorded", status=403)

    assert run(hub_server.url, fake_time, get_tag("python", "3.12")) is not None
    assert fake_time.slept == [2.0]


def test_rate_limit_beyond_the_budget_is_an_error_naming_the_time(
    hub_server: HubServer, fake_time: FakeTime
) -> None:
    hub_server.rate_limit(retry_at=NOW + 3600, style="recorded")

    with pytest.raises(RateLimited) as caught:
        run(hub_server.url, fake_time, get_tag("python", "3.12"), max_wait=10.0)
    assert "allows requests again at 2024-06-01 13:34:56 UTC (in 3600 s" in str(caught.value)
    assert fake_time.slept == []
    assert len(hub_server.requests) == 1
    assert caught.value.retry_after == 3600
    assert caught.value.registry == hub_server.url.removeprefix("http://")
    assert caught.value.repository == "library/python"
    assert caught.value.exit_code == 3


def test_the_budget_is_the_runs(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.add_tag("library/python", "3.12", digest=DIGEST)
    hub_server.add_tag("library/python", "3.13", digest=DIGEST)

    async def two(client: HubClient) -> HubTag | None:
        hub_server.rate_limit(retry_at=fake_time.now + 6)
        await client.tag("python", "3.12")
        hub_server.rate_limit(retry_at=fake_time.now + 6)
        return await client.tag("python", "3.13")

    with pytest.raises(RateLimited, match=r"in 6 s, more than the 10 s basepin waits"):
        run(hub_server.url, fake_time, two, max_wait=10.0)
    assert fake_time.slept == [6.0]


def test_rate_limit_budget_covers_all_waits_of_a_request(
    hub_server: HubServer, fake_time: FakeTime
) -> None:
    hub_server.rate_limit(retry_at=NOW + 4)
    hub_server.rate_limit(retry_at=NOW + 8)
    hub_server.rate_limit(retry_at=NOW + 12)

    with pytest.raises(RateLimited):
        run(hub_server.url, fake_time, get_tag("python", "3.12"), max_wait=10.0)
    assert fake_time.slept == [4.0, 4.0]


def test_rate_limit_waits_are_counted(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.rate_limit(retry_at=NOW - 60, times=10)

    with pytest.raises(RateLimited):
        run(hub_server.url, fake_time, get_tag("python", "3.12"))
    assert len(hub_server.requests) == 4


def test_rate_limit_without_retry_time_is_not_retried(
    hub_server: HubServer, fake_time: FakeTime
) -> None:
    hub_server.queue(429, recorded("rate-limited")["body"])

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
    return runs.closed_port()


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


def test_a_silent_hub_does_not_hold_questions_up_in_turn(
    silent_port: int, fake_time: FakeTime
) -> None:
    """Until an answer shows which paths the server knows, questions wait for the first; one
    that gets no answer must not make the others go one at a time."""

    async def ten_at_once(client: HubClient) -> list[BaseException | HubTag | None]:
        asked = (client.tag("python", f"3.{minor}") for minor in range(10))
        return list(await asyncio.gather(*asked, return_exceptions=True))

    start = time.perf_counter()
    found = run(f"http://127.0.0.1:{silent_port}", fake_time, ten_at_once, timeout=0.3, retries=0)
    elapsed = time.perf_counter() - start

    assert all(isinstance(error, Unavailable) for error in found)
    assert elapsed < 1.5  # two timeouts, not ten


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


# 7. Bounded reads: an answer past the cap is an error for that question, read no further


def test_an_answer_just_under_the_cap_is_read(hub_server: HubServer, fake_time: FakeTime) -> None:
    body = json.dumps(hub_server.add_tag("library/python", "3.12", digest=DIGEST)).encode()
    hub_server.queue(200, body, stream=MAX_ANSWER_BYTES - len(body))

    found = run(hub_server.url, fake_time, get_tag("python", "3.12"))

    assert found is not None
    assert found.digest == DIGEST


def test_an_answer_past_the_cap_is_an_error(hub_server: HubServer, fake_time: FakeTime) -> None:
    hub_server.queue(200, b'{"name": "3.12", "x": "', stream=MAX_ANSWER_BYTES)

    with pytest.raises(ProtocolError, match=r"sent more than 4 MiB for library/python:3\.12"):
        run(hub_server.url, fake_time, get_tag("python", "3.12"))


def test_a_page_past_the_cap_cuts_the_list(hub_server: HubServer, fake_time: FakeTime) -> None:
    add_versions(hub_server, "library/redis", 150)
    hub_server.queue(200, run_page(hub_server, "library/redis"))
    hub_server.queue(200, b'{"results": [', stream=64 * 1024 * 1024)

    listing = run(hub_server.url, fake_time, list_tags("redis"))

    assert len(listing.tags) == 100
    assert listing.cut is not None
    assert "page 2 could not be read" in listing.cut
    assert "sent more than 4 MiB" in listing.cut


PEAK_RSS_RUN = """
import asyncio, resource, sys
sys.path.insert(0, {tests!r})
import httpx
from fixtures.hub import HubServer
from basepin.registry.errors import ProtocolError
from basepin.registry.hub import HubClient

async def ask(url):
    async with httpx.AsyncClient(trust_env=False) as http:
        try:
            await HubClient(http, url).tag("library/python", "3.12")
        except ProtocolError as error:
            return str(error)
    return "read"

with HubServer() as hub:
    hub.queue(200, b'{{"name": "3.12", "x": "', stream=int(sys.argv[1]))
    outcome = asyncio.run(ask(hub.url))
print(outcome)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss(answer_bytes: int) -> tuple[str, float]:
    """What asking for a tag whose answer is `answer_bytes` long comes to, and the peak RSS
    (MiB) of the whole process, the server thread making the answer included."""
    tests = str(Path(__file__).resolve().parent.parent)
    script = textwrap.dedent(PEAK_RSS_RUN.format(tests=tests))
    done = subprocess.run(
        [sys.executable, "-c", script, str(answer_bytes)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcome, peak_kib = done.stdout.splitlines()
    return outcome, int(peak_kib) / 1024


def test_a_gigabyte_answer_keeps_memory_flat() -> None:
    """A 1 GiB answer, made by the server as it is sent, is given up after 4 MiB."""
    _, baseline = peak_rss(16)
    outcome, peak = peak_rss(1024**3)
    print(f"peak RSS: {peak:.1f} MiB with a 1 GiB Docker Hub answer, {baseline:.1f} MiB without")
    assert "sent more than 4 MiB" in outcome
    assert peak - baseline < 16


# 8. Digests: only canonical sha256/sha512 hex is passed on


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:" + "A" * 64,
        "sha256:" + "1" * 63,
        "sha256:" + "1" * 65,
        "sha384:" + "1" * 96,
        "sha512:" + "1" * 127,
        "md5:" + "1" * 32,
        " sha256:" + "1" * 64,
        "sha256:" + "1" * 64 + "\n",
        "sha256:" + "g" * 64,
        12345,
        ["sha256:" + "1" * 64],
    ],
)
def test_malformed_digests_are_treated_as_absent(
    hub_server: HubServer,
    fake_time: FakeTime,
    caplog: pytest.LogCaptureFixture,
    digest: object,
) -> None:
    tag = hub_server.add_tag(
        "library/python", "3.12", digest=DIGEST, images=[image_entry(AMD64), image_entry(ARM64)]
    )
    tag["digest"] = digest
    tag["images"][1]["digest"] = digest

    with caplog.at_level(logging.DEBUG, logger="basepin.registry.hub"):
        found = run(hub_server.url, fake_time, get_tag("python", "3.12"))

    assert found is not None
    assert found.digest is None
    assert [image.digest for image in found.images] == [AMD64, None]
    assert sum("malformed digest" in r.getMessage() for r in caplog.records) == 2


def test_sha512_digests_are_accepted(hub_server: HubServer, fake_time: FakeTime) -> None:
    long = "sha512:" + "ab" * 64
    hub_server.add_tag("library/python", "3.12", digest=long, images=[image_entry(long)])

    found = run(hub_server.url, fake_time, get_tag("python", "3.12"))

    assert found is not None
    assert found.digest == long
    assert found.images[0].digest == long


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


# Properties of the pieces


@given(
    now=st.floats(min_value=1_500_000_000, max_value=2_500_000_000),
    offset=st.integers(min_value=-86_400, max_value=86_400),
    seconds=st.integers(min_value=0, max_value=999_999_999),
    name=st.sampled_from(["Retry-After", "X-Retry-After", "X-RateLimit-Reset"]),
)
def test_a_retry_header_is_a_delay_or_a_unix_time(
    now: float, offset: int, seconds: int, name: str
) -> None:
    at = int(now) + offset
    assert retry_wait({name: str(at)}, now) == max(0.0, at - now)
    assert retry_wait({name: str(seconds)}, now) == float(seconds)


@given(waits=st.lists(st.floats(min_value=0, max_value=100), max_size=20))
def test_pauses_never_exceed_the_budget(waits: list[float]) -> None:
    clock = FakeTime()
    pauses = Pauses(10.0, clock.clock)
    waited = 0.0
    for wait in waits:
        if pauses.take(wait):
            waited += pauses.left()
            clock.now += pauses.left()
    assert waited <= 10.0 + 1e-9


HEX = "0123456789abcdef"
DIGEST_LIKE = st.one_of(
    st.text(alphabet="sha2561:0123456789abcdefABCDEF+ \n", max_size=140),
    st.builds(
        "{}:{}{}".format,
        st.sampled_from(["sha256", "sha512", "sha384", "SHA256"]),
        st.text(alphabet=HEX + "A", min_size=63, max_size=129),
        st.sampled_from(["", " ", "\n"]),
    ),
    st.builds("sha256:{}".format, st.text(alphabet=HEX, min_size=64, max_size=64)),
    st.builds("sha512:{}".format, st.text(alphabet=HEX, min_size=128, max_size=128)),
)


@given(DIGEST_LIKE)
def test_only_canonical_digests_pass(text: str) -> None:
    tag = tag_from({"name": "x", "digest": text, "images": [{"digest": text}]})
    assert tag is not None
    canonical = re.fullmatch(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}", text) is not None
    assert (tag.digest == text) is canonical
    assert (tag.images[0].digest == text) is canonical
