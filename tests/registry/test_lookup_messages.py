"""What the lookups say when a reference cannot be checked: each subject once, in file order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from basepin.reference import parse_reference
from basepin.registry.cache import Cache
from basepin.registry.errors import ProtocolError, Unavailable
from basepin.registry.resolver import Resolver, reason_about
from basepin.resolve import ResolveOptions


@pytest.mark.parametrize(
    ("reference", "message", "reason"),
    [
        pytest.param(
            "ghcr.io/acme/app:1",
            "ghcr.io/acme/app:1: the registry denied access",
            "ghcr.io: the registry denied access",
            id="the-reference-itself",
        ),
        pytest.param(
            "python:3.12",
            "docker.io/library/python:3.12: timed out: no answer within 10 s",
            "docker.io: timed out: no answer within 10 s",
            id="its-canonical-name",
        ),
        pytest.param(
            "ghcr.io/acme/app:1",
            f"ghcr.io/acme/app@sha256:{'b' * 64}: unexpected answer HTTP 400",
            "ghcr.io: unexpected answer HTTP 400",
            id="its-repository-and-another-digest",
        ),
        pytest.param(
            "ghcr.io/acme/app:1",
            "ghcr.io: timed out: no answer within 10 s",
            "ghcr.io: timed out: no answer within 10 s",
            id="the-registry-already",
        ),
        pytest.param(
            "ghcr.io/acme/app:1",
            "ghcr.io/acme/app tag list: stopped after 100000 tags",
            "ghcr.io/acme/app tag list: stopped after 100000 tags",
            id="its-tag-list",
        ),
    ],
)
def test_a_reason_names_each_subject_once(reference: str, message: str, reason: str) -> None:
    assert reason_about(parse_reference(reference), message) == reason


class _FailingRegistry:
    """Stands in for RegistryClient: every tag list fails as `error` says."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def list_tags(self, ref: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        ProtocolError("ghcr.io/acme/app tag list: malformed JSON", registry="ghcr.io"),
        Unavailable("ghcr.io: timed out: no answer within 10 s", registry="ghcr.io"),
    ],
    ids=["names-the-list", "names-the-registry"],
)
def test_a_tag_list_that_fails_is_named_once(error: Exception) -> None:
    ref = parse_reference("ghcr.io/acme/app:1.0")

    async def gap() -> str | None:
        registry: Any = _FailingRegistry(error)
        resolver = Resolver(registry, None, Cache.open(None), ResolveOptions(), [ref])
        found, why = await resolver._tag_list(ref)
        assert found is None
        return why

    said = asyncio.run(gap())
    assert said is not None
    assert said.count("tag list") == 1


def test_warnings_are_in_file_order_each_once() -> None:
    refs = [parse_reference(f"ghcr.io/acme/app{n}:1") for n in range(3)]

    async def warnings() -> list[str]:
        resolver = Resolver(None, None, Cache.open(None), ResolveOptions(), refs)  # type: ignore[arg-type]
        resolver.warn(2, "about the third")
        resolver.warn(0, "about the first")
        resolver.warn(2, "about the first")
        resolver.warn(1, "about the second")
        return resolver.sorted_warnings()

    assert asyncio.run(warnings()) == ["about the first", "about the second", "about the third"]


def test_the_progress_hook_hears_each_answer() -> None:
    refs = [parse_reference(name) for name in ("ghcr.io/a:1", "quay.io/b:1", "ghcr.io/c:1")]
    heard: list[tuple[int, int, tuple[str, ...]]] = []

    class Answering:
        def rate_limit_remaining(self, registry: str) -> None:
            return None

    async def run() -> None:
        options = ResolveOptions(
            want_facts=False, want_tags=False, progress=lambda *told: heard.append(told)
        )
        resolver = Resolver(Answering(), None, Cache.open(None), options, refs)  # type: ignore[arg-type]

        async def lookup(ref: Any) -> Any:
            raise Unavailable(f"{ref.registry}: refused", registry=ref.registry)

        resolver._lookup = lookup  # type: ignore[method-assign]
        for ref in refs:
            await resolver.one(ref)

    asyncio.run(run())
    assert heard == [
        (0, 3, ("ghcr.io", "quay.io")),
        (1, 3, ("ghcr.io", "quay.io")),
        (2, 3, ("ghcr.io",)),
        (3, 3, ()),
    ]
