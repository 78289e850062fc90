"""End-of-life verdicts (`basepin.rules.lifecycle`) and the cooldown's dates (`basepin.dates`)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from basepin.config import Config
from basepin.dates import current_date, describe, image_date, tag_date, withheld
from basepin.model import Dated, DigestInfo, EolCycle, Lifecycle, Resolution, TagInfo
from basepin.reference import parse_reference
from basepin.registry.eol import parse_product
from basepin.rules.lifecycle import EolAdvisor

DATA = Path(__file__).parent / "data" / "endoflife"
TODAY = date(2026, 12, 6)
NOW = datetime(2026, 12, 6, 21, 0, tzinfo=timezone.utc)


def recorded(product: str) -> Lifecycle:
    found = parse_product(json.loads((DATA / f"{product}.json").read_text()), product)
    assert found is not None
    return found


LIFECYCLES = {p: recorded(p) for p in ("python", "debian", "nodejs", "alpine-linux", "go")}


def advisor(today: date = TODAY, warn_days: int = 90) -> EolAdvisor:
    return EolAdvisor(LIFECYCLES.get, today=today, warn_days=warn_days)


def tags(*names: str) -> tuple[TagInfo, ...]:
    return tuple(TagInfo(name) for name in names)


PYTHON_TAGS = tags(
    "3.8-slim-bullseye", "3.9-slim-bullseye", "3.9-slim-bookworm", "3.10-slim-bookworm",
    "3.10-slim-trixie", "3.11-slim-bookworm", "3.11-slim-trixie", "3.12-slim-trixie",
    "3.13-slim-trixie", "3.14-rc-slim-trixie", "3.11-trixie", "3.11.14-slim-trixie",
    "3.13-alpine3.22",
)  # fmt: skip


def test_python_3_8_on_bullseye_is_past_end_of_life_with_the_nearest_supported_tag() -> None:
    (verdict,) = advisor().verdicts(parse_reference("python:3.8-slim-bullseye"), PYTHON_TAGS)
    assert verdict.rule == "eol"
    assert verdict.message == (
        "python:3.8-slim-bullseye: Python 3.8 reached end of life 2024-10-07, "
        "Debian 11 (Bullseye) reached end of life 2024-08-14 (per endoflife.date); "
        "the nearest supported tag of the same variant is 3.11-slim-trixie"
    )


def test_end_of_life_soon_is_a_note_of_its_own() -> None:
    found = advisor(today=date(2026, 9, 1)).verdicts(
        parse_reference("python:3.10-slim-bookworm"), PYTHON_TAGS
    )
    assert [v.rule for v in found] == ["eol", "eol-soon"]
    assert "Debian 12 (Bookworm) reached end of life 2026-06-10" in found[0].message
    assert "Python 3.10 reaches end of life 2026-10-31, in 60 days" in found[1].message
    # Both name the same advice: 3.11 on trixie (3.10-slim-trixie reaches end of life soon).
    assert found[1].message.endswith("is 3.11-slim-trixie")


def test_the_warning_window_is_configurable() -> None:
    ref = parse_reference("python:3.10-slim-trixie")
    assert advisor(today=date(2026, 9, 1), warn_days=30).verdicts(ref) == []
    assert [v.rule for v in advisor(today=date(2026, 9, 1), warn_days=61).verdicts(ref)] == [
        "eol-soon"
    ]


def test_without_tags_no_advice_and_without_data_no_verdict() -> None:
    (verdict,) = advisor().verdicts(parse_reference("node:16-alpine3.16"))
    assert verdict.message == (
        "node:16-alpine3.16: Node.js 16 reached end of life 2023-09-11, "
        "Alpine Linux 3.16 reached end of life 2024-05-23 (per endoflife.date)"
    )
    assert (
        EolAdvisor(lambda _: None, today=TODAY, warn_days=90).verdicts(
            parse_reference("python:3.8")
        )
        == []
    )
    assert advisor().verdicts(parse_reference("python:3.13-slim-trixie"), PYTHON_TAGS) == []


def test_a_cycle_without_a_date_follows_the_api_verdict() -> None:
    (verdict,) = advisor().verdicts(parse_reference("node:3"))
    assert "Node.js 3 is past end of life" in verdict.message


def test_no_supported_tag_is_said() -> None:
    (verdict,) = advisor().verdicts(
        parse_reference("python:3.8-slim-bullseye"), tags("3.8-slim-bullseye", "3.9-slim-buster")
    )
    assert verdict.message.endswith("; no supported tag of the same variant was found")


def test_nearest_keeps_the_shape_and_moves_the_least() -> None:
    near = advisor().nearest_supported
    ref = parse_reference("golang:1.20-alpine3.16")
    names = ["1.25-alpine3.22", "1.24-alpine3.21", "1.24-alpine3.22", "1.24.9-alpine3.21",
             "1.24-alpine", "1.19-alpine3.22", "v1.24-alpine3.21", "1.24-alpine3.18"]  # fmt: skip
    # Alpine 3.21 reached end of life 2026-11-01: 3.22 is the nearest supported.
    assert near(ref, names) == "1.24-alpine3.22"
    assert near(parse_reference("golang:latest"), names) is None


def test_verdicts_are_judged_once_per_reference_and_tag_list() -> None:
    calls: list[str] = []

    def find(product: str) -> Lifecycle | None:
        calls.append(product)
        return LIFECYCLES.get(product)

    judge = EolAdvisor(find, today=TODAY, warn_days=90)
    ref = parse_reference("python:3.8-slim-bullseye")
    first = judge.verdicts(ref, PYTHON_TAGS)
    asked = len(calls)
    assert judge.verdicts(ref, PYTHON_TAGS) is first
    assert len(calls) == asked


# -- dates and the cooldown -------------------------------------------------------------------

PUSHED = datetime(2026, 12, 5, 14, 2, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("resolution", "expected"),
    [
        (Resolution("r", DigestInfo("d", "m"), pushed=PUSHED), Dated(PUSHED, "hub")),
        (
            Resolution("r", DigestInfo("d", "m", created=PUSHED, created_source="annotation")),
            Dated(PUSHED, "annotation"),
        ),
        (Resolution("r", DigestInfo("d", "m", created=PUSHED)), Dated(PUSHED, "config")),
        (Resolution("r", DigestInfo("d", "m")), None),
    ],
)
def test_current_date_and_its_source(resolution: Resolution, expected: Dated | None) -> None:
    assert current_date(resolution) == expected


def test_a_pin_of_another_digest_is_dated_by_the_pinned_image() -> None:
    ref = parse_reference("example.com/app:1@sha256:" + "a" * 64)
    res = Resolution(
        "r",
        DigestInfo("sha256:" + "b" * 64, "m", created=PUSHED),
        pinned=DigestInfo("sha256:" + "a" * 64, "m", created=PUSHED - timedelta(days=9)),
    )
    assert image_date(ref, res) == Dated(PUSHED - timedelta(days=9), "config")


def test_describe_names_the_source() -> None:
    assert describe(Dated(PUSHED, "hub")) == "pushed 2026-12-05 per Docker Hub"
    assert describe(Dated(PUSHED, "config"), time=True) == (
        "built 2026-12-05 14:02 per the image config"
    )
    assert describe(Dated(PUSHED, "annotation")).endswith(
        "per its org.opencontainers.image.created annotation"
    )
    assert tag_date(TagInfo("1", pushed=PUSHED)) == Dated(PUSHED, "hub")
    assert tag_date(TagInfo("1")) is None


def test_withheld_until_the_candidate_is_old_enough() -> None:
    off = Config()
    three = Config(min_release_age=3)
    assert withheld(Dated(PUSHED, "hub"), off, NOW) is None
    assert withheld(Dated(PUSHED, "hub"), three, NOW) == (
        "pushed 2026-12-05 14:02 per Docker Hub, eligible from 2026-12-08"
    )
    assert withheld(Dated(PUSHED, "hub"), three, PUSHED + timedelta(days=3)) is None
    unknown = withheld(None, three, NOW)
    assert unknown is not None
    assert unknown.startswith("has no known date")
    assert withheld(None, three._replace(min_release_age_unknown="allow"), NOW) is None


def test_a_release_cycle_from_the_api_shape() -> None:
    document = {
        "schema_version": "1.2.0",
        "result": {
            "label": "X" * 500,
            "releases": [
                {"name": "2", "eolFrom": "2030-01-01", "isEol": False, "codename": None},
                {"name": "1", "eolFrom": None, "isEol": True},
                {"name": 3},
                "junk",
                {"name": "0", "eolFrom": "not a date"},
            ],
        },
    }
    found = parse_product(document, "x")
    assert found is not None
    assert len(found.label) == 80
    assert found.cycles == (EolCycle("2", date(2030, 1, 1), False), EolCycle("1", None, True))
    assert parse_product({"result": {}}, "x") is None
    assert parse_product([], "x") is None


def test_offline_uses_kept_data_without_the_http_stack(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from basepin.registry.eol_cache import LifecycleStore

    cache = tmp_path / "cache"
    store = LifecycleStore(cache, 0.0)
    store.write(recorded("alpine-linux")._replace(fetched=NOW - timedelta(days=40)))
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM alpine:3.16@sha256:" + "a" * 64 + "\n")
    command = [sys.executable, "-X", "importtime", "-m", "basepin", "check", "--offline"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPROFILEIMPORTTIME"}
    result = subprocess.run(
        [*command, "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
        env=env | {"BASEPIN_CACHE_DIR": str(cache)},
    )
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["rule"] == "eol"
    assert "Alpine Linux 3.16 reached end of life 2024-05-23" in finding["message"]
    assert result.returncode == 0, result.stderr
    imported = {
        line.split("|")[-1].strip() for line in result.stderr.splitlines() if "import time:" in line
    }
    for module in ("httpx", "httpcore", "ssl", "sqlite3", "asyncio"):
        assert module not in imported, f"offline run imported {module}"
    # Nothing kept: silent, and not incomplete.
    empty = subprocess.run(
        [*command, str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
        env=env | {"BASEPIN_CACHE_DIR": str(tmp_path / "none")},
    )
    assert empty.returncode == 0
    assert "eol" not in empty.stdout


def test_kept_data_round_trips_and_damaged_files_are_ignored(tmp_path: Path) -> None:
    from basepin.registry.eol_cache import LifecycleStore

    store = LifecycleStore(tmp_path, NOW.timestamp())
    python = recorded("python")._replace(fetched=NOW - timedelta(hours=2))
    store.write(python)
    assert store.read("python") == python
    store.add([parse_reference("python:3.8"), parse_reference("node:20")])
    assert store.known == {"python": python}
    assert store.missing() == ["nodejs"]
    (tmp_path / "eol" / "nodejs.json").write_text("{not json")
    assert store.read("nodejs") is None
    assert store.read("../etc/passwd") is None
    stale = LifecycleStore(tmp_path, (NOW + timedelta(days=2)).timestamp())
    stale.add([parse_reference("python:3.8")])
    assert stale.missing() == ["python"]
    stale.failed("python", "endoflife.date product python: HTTP 503")
    assert stale.known == {"python": python}
    assert stale.warnings == [
        f"endoflife.date product python: HTTP 503; using its answer of {python.fetched:%Y-%m-%d}"
    ]
