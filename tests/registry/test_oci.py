"""The registry client against real distribution 2.8 registries (plain, htpasswd, token, TLS)."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import ssl
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from basepin.errors import ConfigError
from basepin.model import Platform
from basepin.reference import ImageReference, parse_reference
from basepin.registry.credentials import CredentialStore
from basepin.registry.endpoints import Endpoints
from basepin.registry.errors import ManifestNotFound, RepositoryNotFound
from basepin.registry.manifests import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from basepin.registry.oci import RegistryClient
from basepin.registry.pools import new_http_client
from fixtures.registry import (
    ImageFormat,
    Registry,
    delete_manifest,
    docker_config,
    push_image,
)

T = TypeVar("T")
REGISTRY_KINDS = ["plain_registry", "htpasswd_registry", "token_registry", "tls_registry"]
KNOWN_DATE = datetime(2024, 3, 5, 6, 7, 8, tzinfo=timezone.utc)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@functools.cache
def trusting(ca_file: Path | None) -> ssl.SSLContext:
    """One TLS context per CA for the whole run: loading a bundle costs ~50 ms per client."""
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


@asynccontextmanager
async def client_for(registry: Registry, **options: Any) -> AsyncIterator[RegistryClient]:
    """A client that trusts the registry's CA and holds its pull credentials."""
    store = CredentialStore([("test config", docker_config(registry))])
    async with httpx.AsyncClient(verify=trusting(registry.ca_file)) as http:
        yield RegistryClient(http, store, **options)


def ref(registry: Registry, repository: str, tag: str | None = None) -> ImageReference:
    return parse_reference(registry.reference(repository, tag))


@pytest.fixture(params=REGISTRY_KINDS)
def any_registry(request: pytest.FixtureRequest) -> Registry:
    registry: Registry = request.getfixturevalue(request.param)
    return registry


SHAPES = [
    pytest.param("docker", None, False, DOCKER_MANIFEST, id="docker-manifest"),
    pytest.param("oci", None, False, OCI_MANIFEST, id="oci-manifest"),
    pytest.param("docker", ["linux/amd64", "linux/arm/v7"], False, DOCKER_LIST, id="docker-list"),
    pytest.param(
        "oci", ["linux/amd64", "linux/arm64/v8"], True, OCI_INDEX, id="oci-index-attested"
    ),
    pytest.param(
        "docker", ["linux/arm64/v8", "linux/amd64"], True, DOCKER_LIST, id="docker-list-attested"
    ),
]


@pytest.mark.parametrize(("image_format", "platforms", "attestations", "media_type"), SHAPES)
def test_head_digest_and_facts_match_what_was_pushed(
    any_registry: Registry,
    image_format: ImageFormat,
    platforms: list[str] | None,
    attestations: bool,
    media_type: str,
) -> None:
    repository = f"shapes/{image_format}-{len(platforms or [])}-{attestations}".lower()
    image = push_image(
        any_registry,
        repository,
        "1.0",
        platforms=platforms,
        image_format=image_format,
        created=KNOWN_DATE,
        attestations=attestations,
    )
    reference = ref(any_registry, repository, "1.0")

    async def check() -> None:
        async with client_for(any_registry) as client:
            head = await client.head_digest(reference)
            info = await client.digest_info(reference, head.digest)
        assert head.digest == image.digest
        assert head.media_type == media_type
        assert head.size == len(image.body)
        assert info.digest == image.digest
        assert info.media_type == media_type
        assert info.is_index == (platforms is not None)
        expected_platforms = platforms or ["linux/amd64"]
        assert [str(platform) for platform in info.platforms] == expected_platforms
        children = tuple(manifest.digest for manifest in image.manifests) if platforms else ()
        assert info.children == children
        assert info.created == KNOWN_DATE
        assert info.size == image.manifest("linux/amd64").size

    run(check())


def test_the_index_digest_is_reported_not_a_child(plain_registry: Registry) -> None:
    image = push_image(plain_registry, "index/only", "2", platforms=["linux/amd64", "linux/s390x"])
    child_digests = {manifest.digest for manifest in image.manifests}

    async def check() -> str:
        async with client_for(plain_registry) as client:
            return (await client.head_digest(ref(plain_registry, "index/only", "2"))).digest

    digest = run(check())
    assert digest == image.digest
    assert digest not in child_digests


@pytest.mark.parametrize(
    ("wanted", "platform"),
    [
        pytest.param(None, "linux/amd64", id="default-amd64"),
        pytest.param(Platform("linux", "arm64", "v8"), "linux/arm64/v8", id="arm64-v8"),
        pytest.param(Platform("linux", "arm64"), "linux/arm64/v8", id="arm64-any-variant"),
        pytest.param(Platform("windows", "amd64"), "linux/amd64", id="missing-falls-back"),
    ],
)
def test_index_facts_come_from_the_chosen_platform(
    plain_registry: Registry, wanted: Platform | None, platform: str
) -> None:
    image = push_image(
        plain_registry,
        "index/choice",
        "1",
        platforms=["linux/arm64/v8", "linux/amd64"],
        attestations=True,
    )
    reference = ref(plain_registry, "index/choice", "1")

    async def check() -> int | None:
        async with client_for(plain_registry) as client:
            return (await client.digest_info(reference, image.digest, platform=wanted)).size

    assert run(check()) == image.manifest(platform).size


def test_an_index_without_amd64_takes_its_first_platform(plain_registry: Registry) -> None:
    image = push_image(plain_registry, "index/arm", "1", platforms=["linux/arm/v6", "linux/arm64"])

    async def check() -> int | None:
        async with client_for(plain_registry) as client:
            reference = ref(plain_registry, "index/arm", "1")
            return (await client.digest_info(reference, image.digest)).size

    assert run(check()) == image.manifest("linux/arm/v6").size


@pytest.mark.parametrize(
    "created",
    [
        pytest.param(datetime(1970, 1, 1, tzinfo=timezone.utc), id="epoch-1970"),
        pytest.param(datetime(1980, 1, 1, tzinfo=timezone.utc), id="epoch-1980"),
        pytest.param(None, id="absent"),
    ],
)
def test_reproducible_and_missing_dates_are_unknown(
    plain_registry: Registry, created: datetime | None
) -> None:
    image = push_image(plain_registry, "dates/repro", "1", created=created)

    async def check() -> datetime | None:
        async with client_for(plain_registry) as client:
            reference = ref(plain_registry, "dates/repro", "1")
            return (await client.digest_info(reference, image.digest)).created

    assert run(check()) is None


def test_a_moved_tag_gives_the_new_digest(token_registry: Registry) -> None:
    reference = ref(token_registry, "moving/tag", "stable")

    async def head() -> str:
        async with client_for(token_registry) as client:
            return (await client.head_digest(reference)).digest

    first = push_image(token_registry, "moving/tag", "stable", platforms=["linux/amd64"])
    assert run(head()) == first.digest
    second = push_image(token_registry, "moving/tag", "stable", platforms=["linux/amd64"])
    assert second.digest != first.digest
    assert run(head()) == second.digest


def test_a_digest_only_reference_is_checked_by_its_digest(plain_registry: Registry) -> None:
    image = push_image(plain_registry, "pinned/only", "1")
    reference = parse_reference(plain_registry.reference("pinned/only", digest=image.digest))

    async def check() -> str:
        async with client_for(plain_registry) as client:
            return (await client.head_digest(reference)).digest

    assert run(check()) == image.digest


def test_tags_are_listed(any_registry: Registry) -> None:
    names = ["1", "1.2", "1.10", "latest", "2-alpine"]
    image = push_image(any_registry, "tags/all", names[0])
    for name in names[1:]:
        push_image(any_registry, "tags/all", name, seed=image.manifests[0].digest)

    async def check() -> Sequence[str]:
        async with client_for(any_registry) as client:
            listed = await client.list_tags(ref(any_registry, "tags/all"), page_size=2)
        assert listed.complete
        return listed.tags

    assert sorted(run(check())) == sorted(names)


def test_tags_are_paged_through_relative_links(plain_registry: Registry) -> None:
    """distribution 2.8 ignores `n`; a paging front (as 3.x and Hub page) serves its list."""
    names = [f"v{number}" for number in range(7)]
    for name in names:
        push_image(plain_registry, "tags/paged", name, seed="paged")
    front = PagingFront()

    async def check() -> Sequence[str]:
        transport = front.wrap(httpx.AsyncHTTPTransport())
        async with httpx.AsyncClient(transport=transport) as http:
            client = RegistryClient(http, endpoints=Endpoints(insecure=[plain_registry.host]))
            listed = await client.list_tags(ref(plain_registry, "tags/paged"), page_size=3)
        assert listed.complete
        return listed.tags

    assert list(run(check())) == sorted(names)
    assert front.pages == 4  # pages of 2 for 7 tags


class PagingFront:
    """Pages a real registry's tag list by `n` and `last`, as the distribution spec says.

    Each page is one shorter than asked, to show that a short page is not the end.
    """

    def __init__(self) -> None:
        self.pages = 0

    def wrap(self, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        front = self

        class Transport(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                response = await inner.handle_async_request(request)
                if not request.url.path.endswith("/tags/list") or response.status_code != 200:
                    return response
                await response.aread()
                front.pages += 1
                return front.page(request, json.loads(response.content))

            async def aclose(self) -> None:
                await inner.aclose()

        return Transport()

    def page(self, request: httpx.Request, listing: dict[str, Any]) -> httpx.Response:
        size = int(request.url.params.get("n", "100")) - 1
        last = request.url.params.get("last", "")
        rest = [tag for tag in sorted(listing["tags"]) if tag > last]
        headers = {}
        if len(rest) > size:
            headers["Link"] = (
                f'</v2/{listing["name"]}/tags/list?n={size + 1}&last={rest[size - 1]}>; rel="next"'
            )
        body = {"name": listing["name"], "tags": rest[:size]}
        return httpx.Response(200, json=body, headers=headers)


@pytest.mark.parametrize(
    ("repository", "tag", "error", "code", "words"),
    [
        pytest.param(
            "known/repo", "9.9", ManifestNotFound, "MANIFEST_UNKNOWN", "tag '9.9'", id="tag"
        ),
        pytest.param(
            "no/such-repo", "1", ManifestNotFound, "MANIFEST_UNKNOWN", "tag '1'", id="repo"
        ),
    ],
)
def test_unknown_tags_are_not_found(
    any_registry: Registry,
    repository: str,
    tag: str,
    error: type[Exception],
    code: str,
    words: str,
) -> None:
    push_image(any_registry, "known/repo", "1")
    reference = ref(any_registry, repository, tag)

    async def check() -> None:
        async with client_for(any_registry) as client:
            with pytest.raises(error) as caught:
                await client.head_digest(reference)
        assert caught.value.code == code  # type: ignore[attr-defined]
        assert words in str(caught.value)
        assert f"{any_registry.host}/{repository}" in str(caught.value)

    run(check())


def test_an_unknown_repository_has_no_tag_list(plain_registry: Registry) -> None:
    async def check() -> None:
        async with client_for(plain_registry) as client:
            with pytest.raises(RepositoryNotFound, match=r"repository .*/no/such not found") as e:
                await client.list_tags(ref(plain_registry, "no/such"))
        assert e.value.code == "NAME_UNKNOWN"

    run(check())


def test_a_deleted_digest_is_not_found(htpasswd_registry: Registry) -> None:
    image = push_image(htpasswd_registry, "deleted/image", "1")
    delete_manifest(htpasswd_registry, "deleted/image", image.digest)
    reference = ref(htpasswd_registry, "deleted/image", "1")

    async def check() -> None:
        async with client_for(htpasswd_registry) as client:
            with pytest.raises(ManifestNotFound, match=f"digest {image.digest} not found"):
                await client.digest_info(reference, image.digest)
            with pytest.raises(ManifestNotFound, match="tag '1' not found"):
                await client.head_digest(reference)

    run(check())


def test_tls_is_trusted_through_ssl_cert_file(
    tls_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tls_registry.ca_file is not None
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_registry.ca_file))
    image = push_image(tls_registry, "tls/env", "1")

    async def check() -> str:
        async with new_http_client() as http:
            client = RegistryClient(http)
            return (await client.head_digest(ref(tls_registry, "tls/env", "1"))).digest

    assert run(check()) == image.digest


def test_tls_by_localhost_name(tls_registry: Registry) -> None:
    image = push_image(tls_registry, "tls/name", "1")
    port = tls_registry.host.rpartition(":")[2]

    async def check() -> str:
        async with client_for(tls_registry) as client:
            reference = parse_reference(f"localhost:{port}/tls/name:1")
            return (await client.head_digest(reference)).digest

    assert run(check()) == image.digest


def test_a_mirror_answers_for_docker_hub(plain_registry: Registry) -> None:
    image = push_image(plain_registry, "library/python", "3.12-mirrored")

    async def check() -> str:
        endpoints = Endpoints(mirrors={"docker.io": plain_registry.url})
        async with client_for(plain_registry, endpoints=endpoints) as client:
            return (await client.head_digest(parse_reference("python:3.12-mirrored"))).digest

    assert run(check()) == image.digest


@pytest.mark.parametrize(
    ("registry", "urls"),
    [
        pytest.param("docker.io", ("https://registry-1.docker.io",), id="hub"),
        pytest.param("index.docker.io", ("https://registry-1.docker.io",), id="hub-index"),
        pytest.param("ghcr.io", ("https://ghcr.io",), id="remote"),
        pytest.param("GHCR.io", ("https://ghcr.io",), id="case"),
        pytest.param(
            "localhost:5000", ("https://localhost:5000", "http://localhost:5000"), id="localhost"
        ),
        pytest.param(
            "127.0.0.2:5000", ("https://127.0.0.2:5000", "http://127.0.0.2:5000"), id="loopback"
        ),
        pytest.param("[::1]:5000", ("https://[::1]:5000", "http://[::1]:5000"), id="ipv6"),
        pytest.param("registry.lan:5000", ("http://registry.lan:5000",), id="insecure"),
        pytest.param("quay.io", ("https://quay.example/prefix",), id="mirror"),
    ],
)
def test_endpoints(registry: str, urls: tuple[str, ...]) -> None:
    endpoints = Endpoints(
        mirrors={"quay.io": "https://quay.example/prefix/"}, insecure=["registry.lan:5000"]
    )
    assert endpoints.base_urls(registry) == urls


@pytest.mark.parametrize(
    ("mirror", "words"),
    [
        pytest.param("ftp://mirror.example", "not an http(s) URL", id="scheme"),
        pytest.param("https://user:pw@mirror.example", "credentials", id="userinfo"),
    ],
)
def test_bad_mirrors_are_configuration_errors(mirror: str, words: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(words)) as caught:
        Endpoints(mirrors={"docker.io": mirror})
    assert "pw" not in str(caught.value)
