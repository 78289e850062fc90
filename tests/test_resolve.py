"""Resolve against real registries: which requests each set of rules costs, and that the cache
answers exactly as the registry did (with no request and without loading the HTTP stack)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from basepin.errors import ConfigError
from basepin.model import Lookup, Missing, Resolution
from basepin.registry.early import get_v2
from basepin.registry.pools import new_http_client
from basepin.resolve import LATEST_PROBES, ResolveOptions, resolve, resolve_files
from fixtures.hub import HubServer, image_entry
from fixtures.registry import PushedImage, Registry, add_tag, push_image

SRC = Path(__file__).resolve().parents[1] / "src"


def _kind(request: httpx.Request) -> str:
    path = request.url.path
    if path == "/token":
        return "token"
    if path == "/v2/":
        return "ping"
    if "/manifests/" in path:
        return f"{request.method} manifest"
    if "/blobs/" in path:
        return "GET blob"
    return "tags/list" if path.endswith("/tags/list") else f"{request.method} {path}"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every request the resolver sends, by kind (the token realm's and the ping sent ahead of
    the HTTP client included)."""
    counts: Counter[str] = Counter()

    def recording(**kwargs: Any) -> httpx.AsyncClient:
        client = new_http_client(**kwargs)

        async def record(request: httpx.Request) -> None:
            counts[_kind(request)] += 1

        client.event_hooks["request"].append(record)
        return client

    def pinging_ahead(base: str, *args: Any) -> tuple[int, str]:
        counts["ping"] += 1
        return get_v2(base, *args)

    monkeypatch.setattr("basepin.registry.lookup.new_http_client", recording)
    monkeypatch.setattr("basepin.registry.early.get_v2", pinging_ahead)
    return counts


def _options(registry: Registry, tmp_path: Path, **wanted: Any) -> ResolveOptions:
    options = ResolveOptions(
        insecure=(registry.host,), cache_dir=tmp_path / "cache", hub_url="http://127.0.0.1:9"
    )
    return options._replace(**wanted)


def _digest(found: Lookup) -> str | None:
    assert isinstance(found, Resolution), found
    return found.current.digest if found.current else None


def _repo() -> str:
    return f"acme/resolve-{uuid.uuid4().hex[:8]}"


def _versions(registry: Registry) -> PushedImage:
    """A repository with tags 1.0, 1.1 and 1.2; the image of 1.0, an index."""
    repository = _repo()
    first = push_image(registry, repository, "1.0", platforms=["linux/amd64", "linux/arm64"])
    push_image(registry, repository, "1.1")
    push_image(registry, repository, "1.2")
    return first


RULES_OFF = {"want_facts": False, "want_newer": False}


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        # The digest to pin is the hash of the bytes of one GET, never a header's claim.
        pytest.param(
            RULES_OFF,
            {"GET manifest": 1},
            id="old-image, platforms and outdated off: one GET",
        ),
        pytest.param(
            {"want_facts": False, "want_tags": False},
            {"GET manifest": 1},
            id="no tags at all: one GET",
        ),
        pytest.param(
            {"want_newer": False},
            # The tag's index by one GET (no HEAD), its amd64 child, the child's config.
            {"GET manifest": 2, "GET blob": 1},
            id="facts: one GET instead of HEAD and GET",
        ),
        pytest.param(
            {"want_facts": False, "want_newer_digests": False},
            {"GET manifest": 1, "tags/list": 1},
            id="outdated: the tag list, no digest of the newer tag",
        ),
        pytest.param(
            {"want_facts": False},
            {"GET manifest": 2, "tags/list": 1},
            id="fix --bump: the newer tag's digest too, confirmed over its bytes",
        ),
    ],
)
def test_requests_follow_the_active_rules(
    plain_registry: Registry,
    tmp_path: Path,
    sent: Counter[str],
    wanted: dict[str, bool],
    expected: dict[str, int],
) -> None:
    image = _versions(plain_registry)
    result = resolve([image.reference], _options(plain_registry, tmp_path, **wanted))
    assert _digest(result.lookups[image.reference]) == image.digest
    assert sent == Counter({"ping": 1, **expected})


def test_one_token_and_one_get_per_reference_with_the_rules_off(
    token_registry: Registry, tmp_path: Path, sent: Counter[str]
) -> None:
    assert token_registry.token_server is not None
    images = [push_image(token_registry, _repo(), f"{n}.0") for n in range(1, 7)]
    mark = token_registry.token_server.mark()
    options = _options(token_registry, tmp_path, **RULES_OFF)
    result = resolve([image.reference for image in images], options)
    assert [_digest(result.lookups[i.reference]) for i in images] == [i.digest for i in images]
    assert sent == Counter({"ping": 1, "token": 1, "GET manifest": len(images)})
    assert len(token_registry.token_server.since(mark)) == 1


def _shapes(registry: Registry) -> dict[str, str]:
    """One reference of each shape the resolver tells apart."""
    image = _versions(registry)
    moved = push_image(registry, _repo(), "2.0", platforms=["linux/amd64", "linux/arm64"])
    stale = moved.digest
    moved = push_image(registry, moved.repository, "2.0", platforms=["linux/amd64"])
    latest = add_tag(push_image(registry, image.repository, "1.3"), "latest")
    return {
        "tag": image.reference,
        "pinned": f"{image.reference}@{image.digest}",
        "platform pin": f"{image.reference}@{image.manifests[1].digest}",
        "stale pin": f"{moved.reference}@{stale}",
        "digest only": registry.reference(image.repository, digest=image.digest),
        "latest": registry.reference(latest.repository),
        "missing tag": registry.reference(image.repository, "9.9"),
    }


@pytest.mark.parametrize(
    "wanted",
    [pytest.param({}, id="all rules"), pytest.param(RULES_OFF, id="rules off")],
)
def test_the_cache_answers_as_the_registry_did(
    plain_registry: Registry, tmp_path: Path, sent: Counter[str], wanted: dict[str, bool]
) -> None:
    shapes = _shapes(plain_registry)
    options = _options(plain_registry, tmp_path, **wanted)
    online = resolve(shapes.values(), options).lookups
    sent.clear()
    found = set(shapes.values()) - {shapes["missing tag"]}
    warm = resolve(found, options).lookups
    assert sent == Counter()
    assert warm == {text: online[text] for text in found}


def test_a_run_the_cache_answers_never_loads_the_http_stack(
    plain_registry: Registry, tmp_path: Path
) -> None:
    image = _versions(plain_registry)
    options = _options(plain_registry, tmp_path)
    resolve([image.reference], options)
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from basepin.resolve import ResolveOptions, resolve\n"
        f"options = ResolveOptions(cache_dir=Path({str(options.cache_dir)!r}))\n"
        f"lookups = resolve([{image.reference!r}], options).lookups\n"
        f"digest = lookups[{image.reference!r}].current.digest\n"
        "print(json.dumps([digest, sorted({'httpx', 'asyncio'} & set(sys.modules))]))\n"
    )
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(done.stdout) == [image.digest, []]


def test_without_facts_a_stale_pin_is_still_told_from_an_unknown_digest(
    plain_registry: Registry, tmp_path: Path
) -> None:
    first = push_image(plain_registry, _repo(), "1")
    push_image(plain_registry, first.repository, "1")
    options = _options(plain_registry, tmp_path)._replace(want_facts=False, want_tags=False)
    unknown = "sha256:" + "0" * 64
    stale, missing = f"{first.reference}@{first.digest}", f"{first.reference}@{unknown}"
    lookups = resolve([stale, missing], options).lookups
    moved = lookups[stale]
    assert isinstance(moved, Resolution)
    assert moved.pin_now not in (None, first.digest)
    assert isinstance(lookups[missing], Missing)


def test_requests_in_flight_per_origin_are_bounded(
    plain_registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("basepin.registry.http.REQUESTS_PER_ORIGIN", 3)
    in_flight, most = 0, 0

    def counting(**kwargs: Any) -> httpx.AsyncClient:
        client = new_http_client(**kwargs)

        async def sent(request: httpx.Request) -> None:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)

        async def answered(response: httpx.Response) -> None:
            nonlocal in_flight
            in_flight -= 1

        client.event_hooks["request"].append(sent)
        client.event_hooks["response"].append(answered)
        return client

    monkeypatch.setattr("basepin.registry.lookup.new_http_client", counting)
    images = [_versions(plain_registry) for _ in range(4)]
    result = resolve([i.reference for i in images], _options(plain_registry, tmp_path))
    assert [_digest(result.lookups[i.reference]) for i in images] == [i.digest for i in images]
    assert 1 <= most <= 3


@pytest.mark.parametrize(
    "layout",
    [
        pytest.param([[0, 1], [1, 2], [2]], id="the first file starts the network"),
        pytest.param([[0], [0, 1], [], [2, 1]], id="a later file starts it"),
        pytest.param([[0, 1, 2]], id="one batch"),
    ],
)
def test_files_read_as_the_registries_are_met(
    plain_registry: Registry, tmp_path: Path, sent: Counter[str], layout: list[list[int]]
) -> None:
    images = [_versions(plain_registry) for _ in range(3)]
    options = _options(plain_registry, tmp_path, **RULES_OFF)
    resolve([images[0].reference], options)  # the cache knows the first
    sent.clear()
    read: list[int] = []

    def files() -> Iterator[list[str]]:
        for number, batch in enumerate(layout):
            read.append(number)
            yield [images[i].reference for i in batch] + ["Not A Reference"]

    lookups = resolve_files(files(), options).lookups
    assert read == list(range(len(layout)))
    assert {text: _digest(found) for text, found in lookups.items()} == {
        image.reference: image.digest for image in images
    }
    assert sent == Counter({"ping": 1, "GET manifest": 2})


def test_an_unreadable_trust_store_is_a_configuration_error(
    plain_registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-bundle.pem"
    monkeypatch.setenv("SSL_CERT_FILE", str(missing))
    options = _options(plain_registry, tmp_path)
    with pytest.raises(ConfigError, match=f"SSL_CERT_FILE={missing}: cannot load the cert"):
        resolve([plain_registry.reference(_repo(), "1")], options)


def test_docker_hub_is_asked_with_head_only(
    plain_registry: Registry, hub_server: HubServer, tmp_path: Path, sent: Counter[str]
) -> None:
    """A manifest GET counts against Docker Hub's pull limit: dates, sizes, platforms and
    tags come from the Hub API, the digests from HEADs the Hub API confirms, with every rule
    on."""
    image = push_image(
        plain_registry, "library/alpine", "3.20", platforms=["linux/amd64", "linux/arm64"]
    )
    newer = push_image(plain_registry, "library/alpine", "3.21")
    arm64 = image.manifest("linux/arm64").digest
    hub_server.add_tag(
        "library/alpine",
        "3.20",
        digest=image.digest,
        images=[
            image_entry(image.manifest("linux/amd64").digest),
            image_entry(arm64, architecture="arm64", variant="v8"),
        ],
    )
    hub_server.add_tag("library/alpine", "3.21", digest=newer.digest)
    add_tag(newer, "latest")
    hub_server.add_tag("library/alpine", "latest", digest=newer.digest)
    options = ResolveOptions(
        hub_registry_url=plain_registry.url,
        cache_dir=tmp_path / "cache",
        hub_url=hub_server.url,
    )
    texts = ["alpine:3.20", f"alpine:3.20@{image.digest}", f"alpine:3.20@{arm64}", "alpine"]
    result = resolve(texts, options)
    assert _digest(result.lookups["alpine:3.20"]) == image.digest
    platform_pin = result.lookups[f"alpine:3.20@{arm64}"]
    assert isinstance(platform_pin, Resolution)
    assert str(platform_pin.pinned_platform) == "linux/arm64/v8"
    assert sent["GET manifest"] == 0
    assert sent["GET blob"] == 0
    assert sent["HEAD manifest"] >= 1


def test_naming_latest_costs_a_bounded_number_of_requests(
    plain_registry: Registry, tmp_path: Path, sent: Counter[str]
) -> None:
    repository = _repo()
    for minor in range(30):
        push_image(plain_registry, repository, f"2.{minor}", seed="old")
    current = add_tag(push_image(plain_registry, repository, "3.1.4"), "latest")
    add_tag(current, "3.1")
    add_tag(current, "3")
    reference = plain_registry.reference(repository)
    options = _options(plain_registry, tmp_path, want_facts=False)
    found = resolve([reference], options).lookups[reference]
    assert isinstance(found, Resolution)
    assert found.tags is not None
    named = {tag.name for tag in found.tags if tag.digest == current.digest}
    assert {"latest", "3.1.4"} <= named
    # latest's HEAD, one tag list, and at most LATEST_PROBES HEADs of version tags.
    assert sent["tags/list"] == 1
    assert sent["HEAD manifest"] <= 1 + LATEST_PROBES
    print(f"requests to name latest: {sum(sent.values())} ({dict(sent)})")
