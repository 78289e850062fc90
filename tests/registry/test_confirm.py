"""What confirms a digest before basepin writes it.

Off Docker Hub the tag's manifest is read with one GET and its bytes hashed. On Docker Hub a
manifest GET costs pull quota, so a HEAD's digest is written when the Hub API, a second and
independent answer, names the same digest for the tag; otherwise the manifest is hashed (one
pull, within a budget) or the reference is reported as unverified.

The Docker Hub registry is stood in for by a real `docker-registry` (or the hostile one) at
`hub_registry_url`, so docker.io references keep Docker Hub's rules; the Hub API by the local
Hub server.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from basepin.model import Resolution, Unresolved
from basepin.registry.pools import new_http_client
from basepin.resolve import ResolveOptions, resolve
from fixtures.hostile import Answer, HostileRegistry
from fixtures.hub import HubServer
from fixtures.registry import Registry, push_image

OTHER = "sha256:" + "e" * 64


@pytest.fixture
def manifest_requests(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The manifest requests the resolver sends, by method."""
    counts: Counter[str] = Counter()

    def recording(**kwargs: Any) -> httpx.AsyncClient:
        client = new_http_client(**kwargs)

        async def record(request: httpx.Request) -> None:
            if "/manifests/" in request.url.path:
                counts[request.method] += 1

        client.event_hooks["request"].append(record)
        return client

    monkeypatch.setattr("basepin.registry.lookup.new_http_client", recording)
    return counts


def _hub_options(registry_url: str, hub: HubServer, tmp_path: Path, **more: Any) -> ResolveOptions:
    options = ResolveOptions(
        hub_registry_url=registry_url,
        hub_url=hub.url,
        cache_dir=tmp_path / "cache",
        want_facts=False,
        want_tags=False,
    )
    return options._replace(**more)


def test_a_head_the_hub_api_confirms_costs_no_pull(
    plain_registry: Registry,
    hub_server: HubServer,
    tmp_path: Path,
    manifest_requests: Counter[str],
) -> None:
    image = push_image(plain_registry, "library/alpine", "3.20")
    hub_server.add_tag("library/alpine", "3.20", digest=image.digest)
    result = resolve(["alpine:3.20"], _hub_options(plain_registry.url, hub_server, tmp_path))
    found = result.lookups["alpine:3.20"]
    assert isinstance(found, Resolution)
    assert found.current is not None
    assert found.current.digest == image.digest
    assert manifest_requests == Counter({"HEAD": 1})
    assert not any("pull" in warning for warning in result.warnings)


def test_a_single_platform_tag_is_confirmed_by_its_one_image(
    plain_registry: Registry,
    hub_server: HubServer,
    tmp_path: Path,
    manifest_requests: Counter[str],
) -> None:
    """Old tags carry no top-level digest; one image's digest is the tag's manifest."""
    image = push_image(plain_registry, "library/alpine", "3.19")
    hub_server.add_tag("library/alpine", "3.19", digest=None)
    tag = hub_server.repositories["library/alpine"]["3.19"]
    tag["images"][0]["digest"] = image.digest
    result = resolve(["alpine:3.19"], _hub_options(plain_registry.url, hub_server, tmp_path))
    assert isinstance(result.lookups["alpine:3.19"], Resolution)
    assert manifest_requests == Counter({"HEAD": 1})


@pytest.mark.parametrize(
    "hub_digest",
    [pytest.param(OTHER, id="hub-names-another"), pytest.param(None, id="hub-names-none")],
)
def test_a_head_the_hub_api_does_not_confirm_is_confirmed_by_one_pull(
    plain_registry: Registry,
    hub_server: HubServer,
    tmp_path: Path,
    manifest_requests: Counter[str],
    hub_digest: str | None,
) -> None:
    image = push_image(
        plain_registry, "library/alpine", "3.18", platforms=["linux/amd64", "linux/arm64"]
    )
    hub_server.add_tag("library/alpine", "3.18", digest=hub_digest, images=[])
    result = resolve(["alpine:3.18"], _hub_options(plain_registry.url, hub_server, tmp_path))
    found = result.lookups["alpine:3.18"]
    assert isinstance(found, Resolution)
    assert found.current is not None
    assert found.current.digest == image.digest
    assert manifest_requests == Counter({"HEAD": 1, "GET": 1})
    assert "1 manifest pull(s) spent to confirm digests" in " ".join(result.warnings)


def test_without_pulls_left_an_unconfirmed_digest_is_unverified(
    plain_registry: Registry,
    hub_server: HubServer,
    tmp_path: Path,
    manifest_requests: Counter[str],
) -> None:
    image = push_image(plain_registry, "library/alpine", "3.17")
    hub_server.add_tag("library/alpine", "3.17", digest=OTHER)
    options = _hub_options(plain_registry.url, hub_server, tmp_path, hub_verify_pulls=0)
    found = resolve(["alpine:3.17"], options).lookups["alpine:3.17"]
    assert isinstance(found, Unresolved)
    assert image.digest in found.reason
    assert f"the Docker Hub API names {OTHER}" in found.reason
    assert "not written" in found.reason
    assert manifest_requests == Counter({"HEAD": 1})


def test_a_pin_that_is_what_the_tag_points_to_needs_no_confirmation(
    plain_registry: Registry,
    hub_server: HubServer,
    tmp_path: Path,
    manifest_requests: Counter[str],
) -> None:
    """Nothing is written for a pin that is current, so nothing is pulled to confirm it."""
    image = push_image(plain_registry, "library/alpine", "3.16")
    hub_server.add_tag("library/alpine", "3.16", digest=OTHER)
    text = f"alpine:3.16@{image.digest}"
    options = _hub_options(plain_registry.url, hub_server, tmp_path, hub_verify_pulls=0)
    found = resolve([text], options).lookups[text]
    assert isinstance(found, Resolution)
    assert found.pin_now == image.digest
    assert manifest_requests == Counter({"HEAD": 1})


def test_a_lying_head_on_docker_hub_is_caught_by_the_pull(
    hostile_registry: HostileRegistry, hub_server: HubServer, tmp_path: Path
) -> None:
    """The registry's HEAD claims a digest its bytes do not have: the pull that would confirm
    it refuses it, and nothing is written."""
    image = hostile_registry.serve_image("library/alpine", "3.15")
    hostile_registry.answer(
        "HEAD", image.manifest_path, Answer(200, {"Docker-Content-Digest": OTHER})
    )
    hostile_registry.answer(
        "GET",
        f"/v2/library/alpine/manifests/{OTHER}",
        Answer(200, {"Docker-Content-Digest": OTHER}, image.manifest),
    )
    hub_server.add_tag("library/alpine", "3.15", digest=image.digest)
    options = _hub_options(hostile_registry.url, hub_server, tmp_path)
    found = resolve(["alpine:3.15"], options).lookups["alpine:3.15"]
    assert isinstance(found, Unresolved)
    assert "the content the registry sent has digest" in found.reason


def test_an_unconfirmed_answer_is_not_reused_from_the_cache(
    plain_registry: Registry,
    hub_server: HubServer,
    tmp_path: Path,
    manifest_requests: Counter[str],
) -> None:
    """A pinned run keeps the tag's unconfirmed answer; an unpinned run later must not write
    it from the cache, so it asks again (and confirms)."""
    image = push_image(plain_registry, "library/alpine", "3.14")
    hub_server.add_tag("library/alpine", "3.14", digest=OTHER)
    options = _hub_options(plain_registry.url, hub_server, tmp_path, hub_verify_pulls=0)
    pinned = f"alpine:3.14@{image.digest}"
    assert isinstance(resolve([pinned], options).lookups[pinned], Resolution)
    manifest_requests.clear()
    assert isinstance(resolve(["alpine:3.14"], options).lookups["alpine:3.14"], Unresolved)
    assert manifest_requests == Counter({"HEAD": 1})
