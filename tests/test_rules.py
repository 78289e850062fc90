"""The judge: offline rules, and online rules fed with hand-made registry answers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

import pytest

from basepin.config import Config
from basepin.extract.dockerfile import parse_dockerfile
from basepin.model import (
    DigestInfo,
    Finding,
    Gap,
    ImageUse,
    Lookup,
    Missing,
    Platform,
    Resolution,
    Span,
    TagInfo,
    Unresolved,
)
from basepin.rules.candidates import Candidate
from basepin.rules.fixes import plan_fixes
from basepin.rules.judging import judge
from basepin.rules.offline import judge_offline

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)
OLD = "sha256:" + "0" * 64
NEW = "sha256:" + "1" * 64
CHILD = "sha256:" + "2" * 64
INDEX = "application/vnd.oci.image.index.v1+json"
AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")


def _current(digest: str = NEW, **extra: object) -> DigestInfo:
    fields: dict[str, object] = {
        "media_type": INDEX,
        "platforms": (AMD64, ARM64),
        "is_index": True,
        "created": NOW - timedelta(days=3),
    }
    fields.update(extra)
    return DigestInfo(digest, **fields)  # type: ignore[arg-type]


def _run(
    dockerfile: str,
    lookups: Mapping[str, Lookup],
    config: Config | None = None,
    *,
    bump: bool = False,
) -> tuple[list[Finding], list[Unresolved]]:
    parsed = parse_dockerfile(dockerfile.encode(), "Dockerfile")
    verdict = judge([parsed], lookups, config or Config(), now=NOW, bump=bump)
    return verdict.findings, verdict.incomplete


def _rules(findings: list[Finding]) -> list[tuple[str, int]]:
    return [(f.rule, f.span.line) for f in findings]


def _fixed(dockerfile: str, findings: list[Finding]) -> str:
    edits = {f.fix for f in findings if f.fix is not None}
    text = dockerfile
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        assert text[edit.start : edit.end] == edit.original
        text = text[: edit.start] + edit.replacement + text[edit.end :]
    return text


# --- offline ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dockerfile", "expected"),
    [
        pytest.param("FROM python:3.12\n", [("unpinned", 1)], id="unpinned"),
        pytest.param("FROM python\n", [("latest", 1), ("unpinned", 1)], id="no-tag"),
        pytest.param(f"FROM python:latest@{OLD}\n", [("latest", 1)], id="pinned-latest"),
        pytest.param("ARG IMG\nFROM $IMG\n", [("unresolved", 2)], id="unresolved"),
        pytest.param("FROM Python:3\n", [("invalid", 1)], id="invalid"),
        pytest.param(
            "# basepin: ignore\nFROM python\n# basepin: ignore[latest]\nFROM node\n",
            [("unpinned", 4)],
            id="ignores",
        ),
        pytest.param(
            "ARG T=3.12\nFROM python:${T} AS a\nFROM python:${T}\n",
            [("unpinned", 1)],
            id="one-finding-per-arg-span",
        ),
    ],
)
def test_offline(dockerfile: str, expected: list[tuple[str, int]]) -> None:
    findings = judge_offline([parse_dockerfile(dockerfile.encode(), "Dockerfile")], Config())
    assert sorted(_rules(findings)) == sorted(expected)
    assert all(f.fix is None for f in findings)


def test_pinned_latest_is_only_a_warning() -> None:
    parsed = parse_dockerfile(f"FROM python@{OLD}\n".encode(), "Dockerfile")
    (finding,) = judge_offline([parsed], Config())
    assert (finding.rule, finding.severity) == ("latest", "warning")


# --- online ----------------------------------------------------------------------------------


def test_unpinned_fix_appends_the_current_index_digest() -> None:
    text = "FROM python:3.12 AS build\n"
    findings, incomplete = _run(text, {"python:3.12": Resolution("x", _current())})
    assert _rules(findings) == [("unpinned", 1)]
    assert _fixed(text, findings) == f"FROM python:3.12@{NEW} AS build\n"
    assert incomplete == []


def test_arg_sourced_reference_is_fixed_in_the_arg_line() -> None:
    text = 'ARG BASE="python:3.12"\nFROM ${BASE}\n'
    findings, _ = _run(text, {"python:3.12": Resolution("x", _current())})
    assert _fixed(text, findings) == f'ARG BASE="python:3.12@{NEW}"\nFROM ${{BASE}}\n'


def test_arg_shared_by_uses_that_disagree_is_not_fixed() -> None:
    text = "ARG T=3.12\nFROM python:${T}-slim AS a\nFROM python:${T}\n"
    lookups = {
        "python:3.12": Resolution("x", _current()),
        "python:3.12-slim": Resolution("y", _current(OLD)),
    }
    findings, _ = _run(text, lookups)
    assert all(f.fix is None for f in findings)
    assert any("not fixed" in f.message for f in findings)


def test_stale_digest_is_replaced_and_dated() -> None:
    text = f"FROM python:3.12@{OLD}\n"
    pushed = datetime(2026, 11, 20, tzinfo=timezone.utc)
    res = Resolution("x", _current(), pinned=_current(OLD), pushed=pushed, pin_now=NEW)
    findings, _ = _run(text, {f"python:3.12@{OLD}": res})
    assert _rules(findings) == [("stale-digest", 1)]
    assert "2026-11-20" in findings[0].message
    assert _fixed(text, findings) == f"FROM python:3.12@{NEW}\n"


def test_missing_is_unknown_and_unresolved_is_incomplete() -> None:
    text = f"FROM python:3.99@{OLD}\nFROM ghcr.io/acme/app:1@{NEW}\n"
    lookups: dict[str, Lookup] = {
        f"python:3.99@{OLD}": Missing("x", "tag 3.99 does not exist"),
        f"ghcr.io/acme/app:1@{NEW}": Unresolved("ghcr.io/acme/app:1", "timed out"),
    }
    findings, incomplete = _run(text, lookups)
    assert _rules(findings) == [("unknown", 1)]
    assert [u.reason for u in incomplete] == ["timed out"]


def test_latest_names_the_version_it_is_today() -> None:
    text = "FROM python\n"
    tags = (
        TagInfo("latest", NEW),
        TagInfo("3", NEW),
        TagInfo("3.13", NEW),
        TagInfo("3.13.1", NEW),
        TagInfo("3.13.1-bookworm", NEW),
        TagInfo("3.12", OLD),
    )
    findings, _ = _run(text, {"python": Resolution("x", _current(), tags=tags)})
    latest = next(f for f in findings if f.rule == "latest")
    assert "python:3.13.1 today" in latest.message
    assert _fixed(text, findings) == f"FROM python:3.13.1@{NEW}\n"


def test_child_pin_of_a_multi_platform_image() -> None:
    text = f"FROM python:3.12@{CHILD}\n"
    res = Resolution(
        "x",
        _current(),
        pinned=_current(CHILD, is_index=False),
        pin_now=CHILD,
        pinned_platform=AMD64,
    )
    findings, _ = _run(text, {f"python:3.12@{CHILD}": res})
    assert _rules(findings) == [("platforms", 1)]
    assert _fixed(text, findings) == f"FROM python:3.12@{NEW}\n"


def test_configured_platforms_must_be_covered() -> None:
    text = f"FROM python:3.12@{NEW}\nFROM --platform=linux/amd64 node:20@{NEW}\n"
    lookups = {
        f"python:3.12@{NEW}": Resolution("x", _current(platforms=(AMD64,)), pin_now=NEW),
        f"node:20@{NEW}": Resolution("y", _current(platforms=(AMD64,)), pin_now=NEW),
    }
    config = Config(platforms=("linux/amd64", "linux/arm64"))
    findings, _ = _run(text, lookups, config)
    assert _rules(findings) == [("platforms", 1)]
    assert "linux/arm64" in findings[0].message


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        pytest.param(NOW - timedelta(days=200), [("old-image", 1)], id="old"),
        pytest.param(NOW - timedelta(days=20), [], id="fresh"),
        pytest.param(None, [], id="unknown-date"),
    ],
)
def test_old_image(created: datetime | None, expected: list[tuple[str, int]]) -> None:
    text = f"FROM python:3.12@{NEW}\n"
    res = Resolution("x", _current(created=created), pin_now=NEW)
    findings, _ = _run(text, {f"python:3.12@{NEW}": res})
    assert _rules(findings) == expected


@pytest.mark.parametrize(
    ("pin", "pushed", "created", "words"),
    [
        pytest.param(
            NEW, NOW - timedelta(days=400), None, "pushed 2025-10-23 per Docker Hub", id="hub"
        ),
        pytest.param(
            NEW,
            None,
            NOW - timedelta(days=400),
            "built 2025-10-23 per the image config",
            id="config",
        ),
        pytest.param(
            NEW,
            NOW - timedelta(days=400),
            NOW - timedelta(days=3),
            "pushed 2025-10-23 per Docker Hub",
            id="hub-before-config",
        ),
        pytest.param(
            CHILD,
            NOW - timedelta(days=400),
            None,
            "pushed 2025-10-23 per Docker Hub",
            id="platform-pin",
        ),
    ],
)
def test_old_image_names_the_source_of_its_date(
    pin: str, pushed: datetime | None, created: datetime | None, words: str
) -> None:
    text = f"FROM python:3.12@{pin}\n"
    current = _current(created=created, children=(CHILD, OLD))
    platform = AMD64 if pin == CHILD else None
    res = Resolution("x", current, pushed=pushed, pin_now=pin, pinned_platform=platform)
    findings, _ = _run(text, {f"python:3.12@{pin}": res})
    [old] = [f for f in findings if f.rule == "old-image"]
    assert old.message == f"python:3.12@{pin}: the image is 400 days old ({words}); max-age is 90"


def test_a_stale_pin_is_not_dated_by_the_tag() -> None:
    pushed = NOW - timedelta(days=400)
    res = Resolution(
        "x", _current(), pinned=_current(OLD, created=None), pushed=pushed, pin_now=NEW
    )
    findings, _ = _run(f"FROM python:3.12@{OLD}\n", {f"python:3.12@{OLD}": res})
    assert _rules(findings) == [("stale-digest", 1)]
    assert "was pushed 2025-10-23 per Docker Hub" in findings[0].message


@pytest.mark.parametrize(
    ("old", "new", "platforms", "delta"),
    [
        pytest.param(50_000_000, 52_300_000, (), ", +2.3 MB", id="known"),
        pytest.param(None, 52_300_000, (), "", id="old-unknown"),
        pytest.param(50_000_000, None, (), "", id="new-unknown"),
        pytest.param(50_000_000, 49_000_000, ("linux/arm64",), ", -1.0 MB", id="one-platform"),
        pytest.param(
            50_000_000,
            49_000_000,
            ("linux/arm64", "linux/amd64"),
            ", -1.0 MB for linux/arm64",
            id="named",
        ),
    ],
)
def test_size_delta_needs_two_known_sizes_of_one_platform(
    old: int | None, new: int | None, platforms: tuple[str, ...], delta: str
) -> None:
    tags = (TagInfo("3.11", OLD, size=old), TagInfo("3.12", NEW, size=new))
    lookups = {"python:3.11": Resolution("x", _current(OLD), tags=tags)}
    findings, _ = _run("FROM python:3.11\n", lookups, Config(platforms=platforms))
    outdated = next(f for f in findings if f.rule == "outdated")
    assert outdated.message.endswith(f"3.11 -> 3.12{delta}")


def test_gaps_are_unchecked_for_the_rules_that_are_on() -> None:
    gaps = (Gap(("old-image", "platforms"), "no dates"), Gap(("outdated",), "list cut"))
    lookups = {"python:3.12": Resolution("x", _current(), unchecked=gaps)}
    _, incomplete = _run("FROM python:3.12\n", lookups)
    assert incomplete == [
        Unresolved("python:3.12", "old-image, platforms not checked: no dates"),
        Unresolved("python:3.12", "outdated not checked: list cut"),
    ]
    config = Config(severity={"platforms": "off", "outdated": "off"})
    _, incomplete = _run("FROM python:3.12\n", lookups, config)
    assert incomplete == [Unresolved("python:3.12", "old-image not checked: no dates")]


def test_outdated_names_the_newest_of_the_variant_with_size_and_bumps() -> None:
    text = "FROM python:3.11-slim\n"
    tags = (
        TagInfo("3.11-slim", OLD, size=50_000_000),
        TagInfo("3.12-slim", CHILD, size=52_000_000),
        TagInfo("3.13-slim", NEW, size=54_100_000, verified=True),
        TagInfo("3.13-slim-bookworm", NEW),
        TagInfo("3.14.0b1-slim", CHILD),
    )
    lookups = {"python:3.11-slim": Resolution("x", _current(OLD), tags=tags)}
    findings, _ = _run(text, lookups)
    outdated = next(f for f in findings if f.rule == "outdated")
    assert "3.11-slim -> 3.13-slim, +4.1 MB" in outdated.message
    assert outdated.fix is None
    bumped, _ = _run(text, lookups, bump=True)
    outdated = next(f for f in bumped if f.rule == "outdated")
    assert outdated.fix is not None
    assert outdated.fix.replacement == f"python:3.13-slim@{NEW}"


def test_a_bump_to_a_digest_not_confirmed_is_not_written() -> None:
    """A tag list's digests are claims (the Docker Hub API's, say): a bump writes only a
    digest confirmed over bytes; the pin itself is still fixed."""
    text = "FROM python:3.11-slim\n"
    tags = (TagInfo("3.11-slim", OLD), TagInfo("3.13-slim", NEW))
    lookups = {"python:3.11-slim": Resolution("x", _current(OLD), tags=tags)}
    bumped, _ = _run(text, lookups, bump=True)
    outdated = next(f for f in bumped if f.rule == "outdated")
    assert outdated.fix is None
    unpinned = next(f for f in bumped if f.rule == "unpinned")
    assert unpinned.fix is not None
    assert unpinned.fix.replacement == f"python:3.11-slim@{OLD}"


# --- the cooldown (min-release-age) ----------------------------------------------------------

YOUNG = NOW - timedelta(hours=20)


def test_latest_naming_waits_for_a_young_digest() -> None:
    res = Resolution(
        "example.com/app:latest",
        _current(created=YOUNG, created_source="annotation"),
        tags=(TagInfo("latest", NEW), TagInfo("2.4.1", NEW), TagInfo("2.4", NEW)),
        pin_now=NEW,
    )
    dockerfile = "FROM example.com/app:latest\n"
    lookups = {"example.com/app:latest": res}
    findings, _ = _run(dockerfile, lookups, Config(min_release_age=2))
    latest = next(f for f in findings if f.rule == "latest")
    assert latest.fix is None
    assert "example.com/app:latest is example.com/app:2.4.1 today" in latest.message
    assert latest.message.endswith(
        f"; not proposed: the tag's digest built {YOUNG:%Y-%m-%d %H:%M} per its "
        "org.opencontainers.image.created annotation, eligible from 2026-11-28"
    )
    findings, _ = _run(dockerfile, lookups, Config(min_release_age=0))
    assert _fixed(dockerfile, findings) == f"FROM example.com/app:2.4.1@{NEW}\n"


def test_a_stale_pin_keeps_its_digest_while_the_new_one_is_young() -> None:
    dockerfile = f"FROM example.com/app:1@{OLD}\n"
    res = Resolution(
        "example.com/app:1",
        _current(created=YOUNG),
        pinned=DigestInfo(OLD, INDEX, created=NOW - timedelta(days=40)),
        pin_now=NEW,
    )
    findings, _ = _run(dockerfile, {f"example.com/app:1@{OLD}": res}, Config(min_release_age=3))
    stale = next(f for f in findings if f.rule == "stale-digest")
    assert stale.fix is None
    assert "the tag's image built 2026-11-26 per the image config, 39 days newer" in stale.message
    assert stale.message.endswith(
        f"; not proposed: the newer digest built {YOUNG:%Y-%m-%d %H:%M} per the image config, "
        "eligible from 2026-11-29"
    )
    # 20 hours old: not eligible under one day either, eligible without a cooldown.
    findings, _ = _run(dockerfile, {f"example.com/app:1@{OLD}": res}, Config(min_release_age=1))
    assert _fixed(dockerfile, findings) == dockerfile
    findings, _ = _run(dockerfile, {f"example.com/app:1@{OLD}": res})
    assert _fixed(dockerfile, findings) == f"FROM example.com/app:1@{NEW}\n"
    # A pin that already holds the young digest is no candidate: nothing is withheld.
    current = Resolution("example.com/app:1", _current(created=YOUNG), pin_now=NEW)
    findings, _ = _run(
        f"FROM example.com/app:1@{NEW}\n",
        {f"example.com/app:1@{NEW}": current},
        Config(min_release_age=3),
    )
    assert findings == []


def test_a_variable_is_named_as_its_kind_of_file_calls_it() -> None:
    # One value in .env that two Compose services read, wanting different pins of it.
    span = Span(1, 5, 1, 16, 4, 15)
    uses = [
        ImageUse(".env", "compose-image", reference, True, span, 3, via_arg="IMG")._replace(
            source="python:3.12"
        )
        for reference in ("python:3.12", "python:3.12-slim")
    ]
    candidates = [
        Candidate(
            "unpinned", use, use.path, span, use.reference, "x", wanted=f"{use.reference}@{NEW}"
        )
        for use in uses
    ]
    plans = plan_fixes(candidates, uses)
    assert plans[candidates[0]] == (
        "not fixed: variable IMG is also used by python:3.12-slim, which the change would break"
    )
    assert plans[candidates[1]] == (
        f"not fixed: the change to python:3.12-slim@{NEW} falls outside variable IMG's value"
    )
    # The same in a Dockerfile names the ARG.
    dockerfile = [use._replace(kind="from") for use in uses]
    moved = [c._replace(use=u) for c, u in zip(candidates, dockerfile, strict=True)]
    again = plan_fixes(moved, dockerfile)
    assert str(again[moved[0]]).startswith("not fixed: ARG IMG is also used by")
    assert str(again[moved[1]]).endswith("falls outside ARG IMG's value")
