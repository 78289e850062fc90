"""The lifecycle rules end to end: `basepin check`/`fix` against a real registry (distribution
2.8), endoflife.date served locally (tests/fixtures/eol.py), Docker Hub's API locally."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from basepin.cli import main
from fixtures.eol import EolServer
from fixtures.hub import HubServer, image_entry
from fixtures.registry import Registry, push_image
from fixtures.runs import closed_port, isolate

# Read again as each test starts (`_today`): a suite that runs past midnight must count the
# days to an end of life from the day basepin counts them.
NOW = datetime.now(timezone.utc).replace(microsecond=0)
TODAY = NOW.date()
CREATED = "org.opencontainers.image.created"


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    monkeypatch.setattr(f"{__name__}.NOW", now)
    monkeypatch.setattr(f"{__name__}.TODAY", now.date())


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def _answer(product: str, label: str, cycles: list[tuple[str, date | None, str | None]]) -> Any:
    """A product answer in the API's shape, with end-of-life dates chosen by the test."""
    return {
        "schema_version": "1.2.0",
        "last_modified": "2025-08-27T13:14:55+00:00",
        "result": {
            "name": product,
            "label": label,
            "aliases": [],
            "category": "lang",
            "tags": ["lang"],
            "identifiers": [],
            "labels": {"eol": "Security Support"},
            "links": {"html": f"https://endoflife.date/{product}"},
            "releases": [
                {
                    "name": name,
                    "codename": codename,
                    "label": name,
                    "releaseDate": "2020-01-01",
                    "isLts": False,
                    "ltsFrom": None,
                    "isEol": eol is not None and eol <= TODAY,
                    "eolFrom": None if eol is None else eol.isoformat(),
                    "isMaintained": eol is None or eol > TODAY,
                    "latest": None,
                }
                for name, eol, codename in cycles
            ],
        },
    }


def _lifecycles(eol_server: EolServer) -> None:
    days = timedelta(days=1)
    eol_server.products["python"] = _answer(
        "python",
        "Python",
        [
            ("3.13", TODAY + 900 * days, None),
            ("3.11", TODAY + 300 * days, None),
            ("3.10", TODAY + 30 * days, None),
            ("3.8", TODAY - 400 * days, None),
        ],
    )
    eol_server.products["debian"] = _answer(
        "debian",
        "Debian",
        [
            ("13", TODAY + 700 * days, "Trixie"),
            ("12", TODAY - 10 * days, "Bookworm"),
            ("11", TODAY - 500 * days, "Bullseye"),
        ],
    )


def _json_check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, report, _ = _json_check_err(capsys, *argv)
    return code, report


def _json_check_err(
    capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, dict[str, Any], str]:
    code = main(["check", "--format", "json", *argv])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def _mirror_repo() -> str:
    """A repository a mirror keeps an official image under (`<ns>/library/python`)."""
    return f"mirror{uuid.uuid4().hex[:8]}/library/python"


def test_eol_names_products_dates_and_the_nearest_supported_tag(
    plain_registry: Registry,
    eol_server: EolServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _lifecycles(eol_server)
    repo = _mirror_repo()
    for tag in ("3.8-slim-bullseye", "3.10-slim-trixie", "3.11-slim-bookworm",
                "3.11-slim-trixie", "3.13-slim-trixie"):  # fmt: skip
        image = push_image(plain_registry, repo, tag)
    old = push_image(plain_registry, repo, "3.8-slim-bullseye")
    dockerfile = tmp_path / "Dockerfile"
    reference = f"{old.reference}@{old.digest}"
    dockerfile.write_text(f"FROM {reference}\nFROM {image.reference}@{image.digest}\n")
    code, report = _json_check(capsys, str(dockerfile))
    (eol,) = [f for f in report["findings"] if f["rule"] == "eol"]
    assert eol["severity"] == "warning"
    assert eol["fix"] is None
    python_eol = (TODAY - timedelta(days=400)).isoformat()
    debian_eol = (TODAY - timedelta(days=500)).isoformat()
    assert eol["message"] == (
        f"{reference}: Python 3.8 reached end of life {python_eol}, Debian 11 (Bullseye) "
        f"reached end of life {debian_eol} (per endoflife.date); the nearest supported tag "
        "of the same variant is 3.11-slim-trixie"
    )
    assert report["incomplete"] == []
    assert code == 0  # a warning does not fail the check
    # One request per product, then the cache answers for a day.
    assert sorted(eol_server.product_requests()) == ["debian", "python"]
    assert main(["check", str(dockerfile)]) == 0
    assert sorted(eol_server.product_requests()) == ["debian", "python"]
    capsys.readouterr()
    # Offline, the kept data still judges (without tags, without the advice).
    code, offline = _json_check(capsys, "--offline", str(dockerfile))
    (kept,) = [f for f in offline["findings"] if f["rule"] == "eol"]
    assert kept["message"].startswith(f"{reference}: Python 3.8 reached end of life")
    assert "nearest" not in kept["message"]


def test_eol_soon_and_severities_from_the_configuration(
    plain_registry: Registry,
    eol_server: EolServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _lifecycles(eol_server)
    repo = _mirror_repo()
    image = push_image(plain_registry, repo, "3.10-slim-trixie")
    (tmp_path / ".basepin.toml").write_text(
        'eol-warning-days = 60\n[severity]\n"eol-soon" = "error"\n'
    )
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {image.reference}@{image.digest}\n")
    code, report = _json_check(capsys, str(dockerfile))
    (soon,) = report["findings"]
    assert soon["rule"] == "eol-soon"
    assert soon["severity"] == "error"
    assert "Python 3.10 reaches end of life" in soon["message"]
    assert "in 30 days" in soon["message"]
    assert code == 1
    (tmp_path / ".basepin.toml").write_text("eol-warning-days = 10\n")
    code, report = _json_check(capsys, str(dockerfile))
    assert report["findings"] == []
    assert code == 0


def test_endoflife_date_unreachable_is_a_warning_not_an_incomplete_run(
    plain_registry: Registry,
    eol_server: EolServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = _mirror_repo()
    image = push_image(plain_registry, repo, "3.8-slim-bullseye")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {image.reference}@{image.digest}\n")
    eol_server.script("/api/v1/products/python", 503)
    code, report, err = _json_check_err(capsys, "--timeout", "3", str(dockerfile))
    assert "endoflife.date product python: " in err
    assert "end of life not checked for python" in err
    # Debian came through; Python did not and is not guessed.
    assert [f["rule"] for f in report["findings"]] == ["eol"]
    assert "Python" not in report["findings"][0]["message"]
    assert code == 0
    # With nothing kept and the API away: silent, and still not incomplete.
    monkeypatch.setenv("BASEPIN_EOL_URL", f"http://127.0.0.1:{closed_port()}")
    code, report = _json_check(capsys, "--no-cache", "--timeout", "2", str(dockerfile))
    assert report["findings"] == []
    assert report["incomplete"] == []
    assert code == 0


def test_eol_answers_are_read_to_a_cap_and_redirects_stay_on_the_site(
    plain_registry: Registry,
    eol_server: EolServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = push_image(plain_registry, f"mirror{uuid.uuid4().hex[:8]}/library/golang", "1.20")
    node = push_image(plain_registry, f"mirror{uuid.uuid4().hex[:8]}/library/node", "16")
    postgres = push_image(plain_registry, f"mirror{uuid.uuid4().hex[:8]}/library/postgres", "12")
    eol_server.script(
        "/api/v1/products/go", 301, headers={"Location": "/api/v1/products/golang-renamed"}
    )
    eol_server.products["golang-renamed"] = eol_server.products["go"]
    eol_server.script("/api/v1/products/nodejs", 302, headers={"Location": "https://example.com/x"})
    eol_server.script("/api/v1/products/postgresql", 200, body=b"[" * (2 * 1024 * 1024))
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "".join(f"FROM {i.reference}@{i.digest}\n" for i in (image, node, postgres))
    )
    code, report, err = _json_check_err(capsys, str(dockerfile))
    assert "redirected to another site" in err
    assert "larger than 1 MiB" in err
    (eol,) = report["findings"]
    assert eol["message"].startswith(f"{image.reference}@{image.digest}: Go 1.20 reached end")
    assert code == 0


# -- the cooldown -----------------------------------------------------------------------------


def test_a_young_digest_is_not_pinned_until_eligible(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = f"acme/cool-{uuid.uuid4().hex[:8]}"
    built = NOW - timedelta(hours=2)
    young = push_image(
        plain_registry, repo, "1.0", platforms=["linux/amd64"],
        annotations={CREATED: built.isoformat().replace("+00:00", "Z")},
    )  # fmt: skip
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {young.reference}\n")
    code, report = _json_check(capsys, "--min-release-age", "3", str(dockerfile))
    (finding,) = report["findings"]
    assert finding["rule"] == "unpinned"
    assert finding["fix"] is None
    eligible = (built + timedelta(days=3)).strftime("%Y-%m-%d")
    assert finding["message"].endswith(
        f"; not proposed: the tag's digest built {built:%Y-%m-%d %H:%M} per its "
        f"org.opencontainers.image.created annotation, eligible from {eligible}"
    )
    assert report["uses"][0]["pushed_source"] == "annotation"
    assert code == 1
    # Without the cooldown it is pinned as before.
    code, report = _json_check(capsys, str(dockerfile))
    assert report["findings"][0]["fix"]["replacement"] == f"{young.reference}@{young.digest}"
    # `fix` writes nothing for it under the cooldown.
    assert main(["fix", "--min-release-age", "3", str(dockerfile)]) == 1
    assert dockerfile.read_text() == f"FROM {young.reference}\n"
    capsys.readouterr()


def test_the_config_date_and_an_unknown_date(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = f"acme/cool-{uuid.uuid4().hex[:8]}"
    aged = push_image(plain_registry, repo, "1.0", created=NOW - timedelta(days=10))
    undated = push_image(plain_registry, repo, "2.0", created=None)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {aged.reference}\nFROM {undated.reference}\n")
    _, report = _json_check(capsys, "--min-release-age", "3", str(dockerfile))
    by_line = {f["line"]: f for f in report["findings"] if f["rule"] == "unpinned"}
    assert by_line[1]["fix"]["replacement"] == f"{aged.reference}@{aged.digest}"
    assert report["uses"][0]["pushed_source"] == "config"
    assert by_line[2]["fix"] is None
    assert "has no known date, so min-release-age (3 days) withholds it" in by_line[2]["message"]
    assert report["uses"][1]["pushed_source"] is None
    (tmp_path / ".basepin.toml").write_text(
        'min-release-age = 3\nmin-release-age-unknown = "allow"\n'
    )
    _, report = _json_check(capsys, str(dockerfile))
    by_line = {f["line"]: f for f in report["findings"] if f["rule"] == "unpinned"}
    assert by_line[2]["fix"]["replacement"] == f"{undated.reference}@{undated.digest}"


def test_bump_waits_for_a_young_version(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = f"acme/cool-{uuid.uuid4().hex[:8]}"
    old = push_image(plain_registry, repo, "1.0", created=NOW - timedelta(days=30))
    push_image(plain_registry, repo, "1.1", created=NOW - timedelta(hours=5))
    dockerfile = tmp_path / "Dockerfile"
    text = f"FROM {old.reference}@{old.digest}\n"
    dockerfile.write_text(text)
    _, report = _json_check(capsys, "--min-release-age", "2", str(dockerfile))
    (outdated,) = [f for f in report["findings"] if f["rule"] == "outdated"]
    assert "1.0 -> 1.1" in outdated["message"]
    assert "; not proposed: 1.1 built " in outdated["message"]
    assert "per the image config, eligible from" in outdated["message"]
    assert main(["fix", "--bump", "--min-release-age", "2", str(dockerfile)]) == 0
    assert dockerfile.read_text() == text
    # Without the cooldown the bump goes ahead.
    assert main(["fix", "--bump", str(dockerfile)]) == 1
    assert f"{repo}:1.1@sha256:" in dockerfile.read_text()
    capsys.readouterr()


def test_docker_hub_push_dates_hold_back_a_new_digest(
    plain_registry: Registry,
    hub_server: HubServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = push_image(plain_registry, "library/ruby", "3.3", platforms=["linux/amd64"])
    pushed = NOW - timedelta(hours=1)
    hub_server.add_tag(
        "library/ruby",
        "3.3",
        digest=image.digest,
        pushed=pushed,
        images=[image_entry(image.manifests[0].digest, last_pushed=pushed)],
    )
    monkeypatch.setenv("BASEPIN_HUB_URL", hub_server.url)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM ruby:3.3\n")
    mirror = f"docker.io={plain_registry.url}"
    _, report = _json_check(
        capsys, "--registry-mirror", mirror, "--min-release-age", "1", str(dockerfile)
    )
    (unpinned,) = [f for f in report["findings"] if f["rule"] == "unpinned"]
    assert unpinned["fix"] is None
    assert f"pushed {pushed:%Y-%m-%d %H:%M} per Docker Hub, eligible from" in unpinned["message"]
    assert report["uses"][0]["pushed_source"] == "hub"


# -- how far behind ---------------------------------------------------------------------------


def test_stale_digest_says_how_much_newer_the_tag_is(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = f"acme/behind-{uuid.uuid4().hex[:8]}"
    pinned_at, now_at = NOW - timedelta(days=150), NOW - timedelta(days=8)
    pinned = push_image(plain_registry, repo, "1.0", created=pinned_at)
    current = push_image(plain_registry, repo, "1.0", created=now_at)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {pinned.reference}@{pinned.digest}\n")
    code, report = _json_check(capsys, str(dockerfile))
    (stale,) = [f for f in report["findings"] if f["rule"] == "stale-digest"]
    assert stale["message"].endswith(
        f"; pinned image built {pinned_at:%Y-%m-%d} per the image config, the tag's image "
        f"built {now_at:%Y-%m-%d} per the image config, 142 days newer"
    )
    assert stale["fix"]["replacement"].endswith(current.digest)
    (old,) = [f for f in report["findings"] if f["rule"] == "old-image"]
    assert f"(built {pinned_at:%Y-%m-%d} per the image config)" in old["message"]
    assert code == 1


def test_a_product_endoflife_date_does_not_have_is_asked_once_a_day(
    plain_registry: Registry,
    eol_server: EolServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = push_image(plain_registry, f"mirror{uuid.uuid4().hex[:8]}/library/nginx", "1.25")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {image.reference}@{image.digest}\n")
    eol_server.products.pop("nginx", None)  # 404, as for a renamed product
    code, report, err = _json_check_err(capsys, str(dockerfile))
    assert "endoflife.date product nginx: endoflife.date has no such product" in err
    assert (code, report["findings"]) == (0, [])
    _, _, err = _json_check_err(capsys, str(dockerfile))
    assert eol_server.product_requests() == ["nginx"]
    assert "nginx" not in err
