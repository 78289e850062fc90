"""What the Docker Hub API's answers (or their absence) make of a check. A real registry
(distribution 2.8) stands in for Docker Hub's registry (`hub_registry_url`: asked as Docker
Hub, with HEADs only, the facts from the Hub API) or for a mirror of docker.io (asked like any
registry, the dates from the Hub API); the local Hub API (tests/fixtures/hub.py) answers for
hub.docker.com, as `BASEPIN_HUB_URL` points basepin there."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from basepin.cli import main
from basepin.config import Config
from basepin.extract.dockerfile import parse_dockerfile
from basepin.model import Finding, Gap, Lookup, Resolution, Unresolved, size_platform
from basepin.resolve import ResolveOptions, resolve
from basepin.rules.judging import judge
from fixtures.hub import HubServer, image_entry
from fixtures.registry import PushedImage, Registry, add_tag, push_image
from fixtures.runs import isolate

NOW = datetime.now(timezone.utc).replace(microsecond=0)
OTHER = "sha256:" + "9" * 64


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path, hub=False)  # each test serves its own Docker Hub API


def _repo() -> str:
    return f"acme/hub-{uuid.uuid4().hex[:8]}"


def _on_hub(
    hub: HubServer,
    image: PushedImage,
    *,
    pushed: datetime = NOW - timedelta(days=2),
    image_pushed: datetime | None = None,
    sizes: dict[str, int] | None = None,
    digest: str | None = "",
    **extra: Any,
) -> None:
    """Show `image`'s tag on the Hub API: one images[] entry per platform manifest, sizes
    per platform (`full_size` 0, as on multi-platform tags)."""
    entries = []
    for manifest in image.manifests:
        os, architecture, *variant = manifest.platform.split("/")
        entries.append(
            image_entry(
                manifest.digest,
                os=os,
                architecture=architecture,
                variant=variant[0] if variant else None,
                size=(sizes or {}).get(manifest.platform, 30_000_000),
                last_pushed=image_pushed or pushed,
            )
        )
    assert image.tag is not None
    hub.add_tag(
        image.repository,
        image.tag,
        digest=image.digest if digest == "" else digest,
        pushed=pushed,
        size=0,
        images=entries,
        **extra,
    )


def _options(
    registry: Registry, hub: HubServer, tmp_path: Path, *, mirror: bool = False, **extra: Any
) -> ResolveOptions:
    """Options that send docker.io to `registry`, as Docker Hub's registry or as a mirror."""
    where: dict[str, Any] = (
        {"mirrors": {"docker.io": registry.url}} if mirror else {"hub_registry_url": registry.url}
    )
    options = ResolveOptions(cache_dir=tmp_path / "cache", hub_url=hub.url, **where)
    return options._replace(**extra)


def _judge(
    dockerfile: str, lookups: dict[str, Lookup], config: Config | None = None
) -> tuple[list[Finding], list[Unresolved]]:
    parsed = parse_dockerfile(dockerfile.encode(), "Dockerfile")
    verdict = judge([parsed], lookups, config or Config(), now=NOW)
    return verdict.findings, verdict.incomplete


def _message(findings: list[Finding], rule: str) -> str:
    return next(f.message for f in findings if f.rule == rule)


# 6. A Hub API that keeps refusing: the rules that needed it are unchecked, with the time


@pytest.mark.parametrize(
    ("mirror", "unchecked"),
    [
        pytest.param(False, [("old-image", "platforms"), ("outdated",)], id="docker-hub"),
        # A mirror's manifests and configs tell the platforms and the build date.
        pytest.param(True, [("outdated",)], id="mirror"),
    ],
)
def test_a_rate_limit_past_the_budget_leaves_the_rules_that_need_the_hub_unchecked(
    plain_registry: Registry,
    hub_server: HubServer,
    tmp_path: Path,
    mirror: bool,
    unchecked: list[tuple[str, ...]],
) -> None:
    image = push_image(plain_registry, _repo(), "3.20")
    hub_server.rate_limit(retry_at=time.time() + 3600, style="recorded", times=50)
    text = f"{image.repository}:3.20@{image.digest}"
    options = _options(plain_registry, hub_server, tmp_path, mirror=mirror)

    lookups = resolve([text], options).lookups
    findings, incomplete = _judge(f"FROM {text}\n", lookups)

    found = lookups[text]
    assert isinstance(found, Resolution)
    assert found.current is not None
    assert found.current.digest == image.digest  # the registry did answer
    assert [gap.rules for gap in found.unchecked] == unchecked
    assert findings == []
    reasons = [u.reason for u in incomplete]
    # Whichever question met the limit first, the other is not asked, and says why.
    if not mirror:
        assert reasons.pop(0).startswith("old-image, platforms not checked: Docker Hub API")
    assert reasons[0].startswith(
        f"outdated not checked: Docker Hub's tag list of {image.repository}"
    )
    assert all("allows requests again at" in reason for reason in reasons)
    assert all(re.search(r"\(in 3\d{3} s, more than the 10 s basepin waits\)", r) for r in reasons)
    reasons = [u.reason for u in incomplete]
    # Off rules need nothing: nothing is unchecked for them.
    off = Config(severity={"old-image": "off", "platforms": "off", "outdated": "off"})
    assert _judge(f"FROM {text}\n", lookups, off)[1] == []


def test_answers_the_hub_did_not_give_are_not_kept(
    plain_registry: Registry, hub_server: HubServer, tmp_path: Path
) -> None:
    image = push_image(plain_registry, _repo(), "3.20")
    text = f"{image.repository}:3.20"
    options = _options(plain_registry, hub_server, tmp_path, want_tags=False)
    hub_server.queue(503, b"down", times=3)

    first = resolve([text], options).lookups[text]
    _on_hub(hub_server, image, pushed=NOW - timedelta(days=1))
    second = resolve([text], options).lookups[text]

    assert isinstance(first, Resolution)
    assert first.pushed is None
    assert [gap.rules for gap in first.unchecked] == [("old-image", "platforms")]
    assert isinstance(second, Resolution)
    assert second.unchecked == ()
    assert second.pushed == NOW - timedelta(days=1)


@pytest.mark.parametrize(
    ("hub_digest", "why"),
    [
        pytest.param(None, "has no tag 3.20 in", id="tag-unknown-to-the-hub"),
        pytest.param(
            OTHER, "describes 3.20 as sha256:999999999999, not the registry's", id="moved"
        ),
    ],
)
def test_a_hub_answer_about_something_else_is_not_used(
    plain_registry: Registry,
    hub_server: HubServer,
    tmp_path: Path,
    hub_digest: str | None,
    why: str,
) -> None:
    image = push_image(plain_registry, _repo(), "3.20")
    if hub_digest is not None:
        _on_hub(hub_server, image, pushed=NOW - timedelta(days=400), digest=hub_digest)
    text = f"{image.repository}:3.20"

    found = resolve([text], _options(plain_registry, hub_server, tmp_path, want_tags=False))

    lookup = found.lookups[text]
    assert isinstance(lookup, Resolution)
    assert lookup.pushed is None
    [gap] = lookup.unchecked
    assert gap.rules == ("old-image", "platforms")
    assert why in gap.reason


# 2. A tag list that stops short leaves `outdated` (or naming `latest`) unchecked


def test_a_tag_list_cut_by_the_page_bound_leaves_outdated_unchecked(
    plain_registry: Registry,
    hub_server: HubServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("basepin.registry.resolver.HUB_TAG_PAGES", 1)
    image = push_image(plain_registry, _repo(), "3.20")
    for minor in range(120):
        hub_server.add_tag(image.repository, f"2.{minor}", pushed=NOW - timedelta(days=minor))
    _on_hub(hub_server, image, pushed=NOW)
    text = f"{image.repository}:3.20@{image.digest}"

    lookups = resolve([text], _options(plain_registry, hub_server, tmp_path)).lookups
    _, incomplete = _judge(f"FROM {text}\n", lookups)

    [unchecked] = incomplete
    assert unchecked.reason == (
        f"outdated not checked: Docker Hub's tag list of {image.repository} is incomplete:"
        " stopped after 1 page (100 of 121 tags)"
    )
    # Not kept: the next run asks again.
    assert (
        resolve([text], _options(plain_registry, hub_server, tmp_path)).lookups[text]
        == (lookups[text])
    )


def test_naming_latest_from_a_cut_list_is_unchecked(
    plain_registry: Registry, tmp_path: Path
) -> None:
    image = add_tag(push_image(plain_registry, _repo(), "3.21"), "latest")
    with HubServer(next_host="https://elsewhere.example") as hub:
        _on_hub(hub, image)
        for minor in range(101):
            hub.add_tag(image.repository, f"2.{minor}", pushed=NOW - timedelta(days=minor + 3))

        found = resolve([image.repository], _options(plain_registry, hub, tmp_path)).lookups

    lookup = found[image.repository]
    assert isinstance(lookup, Resolution)
    assert lookup.unchecked == (
        Gap(
            ("latest",),
            f"Docker Hub's tag list of {image.repository} is incomplete: its next page is on"
            " another host (elsewhere.example); not followed (100 of 102 tags)",
        ),
    )


# 5. Only active images are proposed


def test_inactive_stale_and_other_artifacts_are_never_proposed(
    plain_registry: Registry, hub_server: HubServer, tmp_path: Path
) -> None:
    image = push_image(plain_registry, _repo(), "3.20", platforms=["linux/amd64"])
    _on_hub(hub_server, image)
    newer = push_image(plain_registry, image.repository, "3.21")
    _on_hub(hub_server, newer)
    for tag, status, kind in (
        ("3.22", "inactive", "image"),
        ("3.23", "stale", "image"),
        ("3.24", "active", "plugin"),
    ):
        hub_server.add_tag(image.repository, tag, digest=OTHER, status=status, content_type=kind)
    latest = add_tag(newer, "latest")
    _on_hub(hub_server, latest)
    hub_server.add_tag(image.repository, "3.25", digest=newer.digest, content_type="plugin")
    texts = [f"{image.repository}:3.20@{image.digest}", f"{image.repository}:latest@{newer.digest}"]

    lookups = resolve(texts, _options(plain_registry, hub_server, tmp_path)).lookups
    findings, incomplete = _judge("".join(f"FROM {t}\n" for t in texts), lookups)

    assert incomplete == []
    assert _message(findings, "outdated").endswith("3.20 -> 3.21, +0.0 MB")
    assert f"is {image.repository}:3.21" in _message(findings, "latest")


# 3. and 4. Sizes per platform, dates of the image content, each named by its source


def test_old_image_dates_the_content_not_the_tag(
    plain_registry: Registry, hub_server: HubServer, tmp_path: Path
) -> None:
    image = push_image(plain_registry, _repo(), "3.20", platforms=["linux/amd64", "linux/arm64"])
    content = NOW - timedelta(days=400)
    _on_hub(hub_server, image, pushed=NOW - timedelta(days=1), image_pushed=content, digest=None)
    text = f"{image.repository}:3.20@{image.digest}"
    options = _options(plain_registry, hub_server, tmp_path, want_tags=False)

    lookups = resolve([text], options).lookups
    findings, incomplete = _judge(f"FROM {text}\n", lookups, Config(platforms=("linux/s390x",)))

    assert incomplete == []
    assert _message(findings, "old-image") == (
        f"{text}: the image is 400 days old (pushed {content:%Y-%m-%d} per Docker Hub);"
        " max-age is 90"
    )
    # No top-level digest: the platforms still come from images[] (the registry is asked
    # with a HEAD only).
    assert "(it has linux/amd64, linux/arm64)" in _message(findings, "platforms")


@pytest.mark.parametrize(
    ("platforms", "drop_amd64", "delta"),
    [
        pytest.param((), False, ", +2.3 MB", id="amd64-by-default"),
        pytest.param(
            ("linux/arm64", "linux/amd64"), False, ", +1.0 MB for linux/arm64", id="first-of-two"
        ),
        pytest.param(("linux/arm64",), False, ", +1.0 MB", id="one-configured"),
        pytest.param((), True, "", id="new-size-unknown"),
    ],
)
def test_size_delta_of_one_platform(
    plain_registry: Registry,
    hub_server: HubServer,
    tmp_path: Path,
    platforms: tuple[str, ...],
    drop_amd64: bool,
    delta: str,
) -> None:
    both = ["linux/amd64", "linux/arm64"]
    old = push_image(plain_registry, _repo(), "3.20", platforms=both)
    new = push_image(plain_registry, old.repository, "3.21", platforms=both)
    _on_hub(hub_server, old, sizes={"linux/amd64": 50_000_000, "linux/arm64": 48_000_000})
    _on_hub(hub_server, new, sizes={"linux/amd64": 52_300_000, "linux/arm64": 49_000_000})
    if drop_amd64:
        tag = hub_server.repositories[new.repository]["3.21"]
        tag["images"] = [i for i in tag["images"] if i["architecture"] != "amd64"]
    text = f"{old.repository}:3.20@{old.digest}"
    platform = size_platform(platforms)
    options = _options(plain_registry, hub_server, tmp_path, size_platform=platform)

    lookups = resolve([text], options).lookups
    findings, _ = _judge(f"FROM {text}\n", lookups, Config(platforms=platforms))

    assert _message(findings, "outdated").endswith(f"3.20 -> 3.21{delta}")


# The whole run: `basepin check --format json` and `basepin tags`


def _check(
    capsys: pytest.CaptureFixture[str], registry: Registry, path: Path, *more: str
) -> tuple[int, dict[str, Any]]:
    code = main(
        [
            "check",
            "--format",
            "json",
            "--registry-mirror",
            f"docker.io={registry.url}",
            *more,
            str(path),
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def test_check_reports_what_the_hub_told(
    plain_registry: Registry,
    hub_server: HubServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old = push_image(plain_registry, _repo(), "3.20", platforms=["linux/amd64", "linux/arm64"])
    new = push_image(
        plain_registry, old.repository, "3.21", platforms=["linux/amd64", "linux/arm64"]
    )
    content = NOW - timedelta(days=200)
    _on_hub(hub_server, old, pushed=NOW, image_pushed=content, sizes={"linux/amd64": 50_000_000})
    _on_hub(hub_server, new, sizes={"linux/amd64": 52_300_000})
    monkeypatch.setenv("BASEPIN_HUB_URL", hub_server.url)
    text = f"{old.repository}:3.20@{old.digest}"
    path = tmp_path / "Dockerfile"
    path.write_text(f"FROM {text}\n")

    code, report = _check(capsys, plain_registry, path)

    assert code == 0  # warnings only
    assert report["incomplete"] == []
    messages = {f["rule"]: f["message"] for f in report["findings"]}
    assert messages == {
        "old-image": f"{text}: the image is 200 days old"
        f" (pushed {content:%Y-%m-%d} per Docker Hub); max-age is 90",
        "outdated": f"{text}: a newer version of the same variant exists: 3.20 -> 3.21, +2.3 MB",
    }
    assert report["uses"][0]["pushed"].startswith(f"{content:%Y-%m-%d}")
    # One tag detail and one listing page, both on the documented paths.
    namespace, _, name = old.repository.partition("/")
    assert sorted(r.path for r in hub_server.requests) == [
        f"/v2/namespaces/{namespace}/repositories/{name}/tags",
        f"/v2/namespaces/{namespace}/repositories/{name}/tags/3.20",
    ]


def test_check_is_incomplete_when_the_hub_rate_limits(
    plain_registry: Registry,
    hub_server: HubServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = push_image(plain_registry, _repo(), "3.20")
    hub_server.rate_limit(retry_at=time.time() + 600, style="documented", seconds=600, times=9)
    monkeypatch.setenv("BASEPIN_HUB_URL", hub_server.url)
    text = f"{image.repository}:3.20@{image.digest}"
    path = tmp_path / "Dockerfile"
    path.write_text(f"FROM {text}\n")

    code, report = _check(capsys, plain_registry, path)

    assert code == 3
    assert report["findings"] == []
    # Through a mirror the registry tells platforms and build dates: only the tag list,
    # which only the Hub API gives, is missing.
    [unchecked] = report["incomplete"]
    assert unchecked["reference"] == text
    assert unchecked["reason"].startswith("outdated not checked: Docker Hub's tag list of")
    assert all(
        re.search(r"\(in \d+ s, more than the 10 s basepin waits\)", u["reason"])
        for u in report["incomplete"]
    )
    # A refusal past the budget is not retried, and after one the Hub is not asked again.
    assert 1 <= len(hub_server.requests) <= 2


def test_tags_says_when_the_list_is_cut(
    hub_server: HubServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("basepin.registry.lookup.HUB_TAG_PAGES", 1)
    monkeypatch.setenv("BASEPIN_HUB_URL", hub_server.url)
    for minor in range(101):
        hub_server.add_tag("acme/many", f"1.{minor}", pushed=NOW - timedelta(hours=minor))

    code = main(["tags", "--format", "json", "--limit", "1000", "acme/many"])

    out, err = capsys.readouterr()
    assert code == 3
    assert len(json.loads(out)["tags"]) == 100
    assert "the list is incomplete: stopped after 1 page (100 of 101 tags)" in err
