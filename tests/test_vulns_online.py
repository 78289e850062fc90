"""The `vulnerable` rule and `basepin vulns` against a real registry (distribution 2.8) whose
images carry BuildKit-shaped SBOM attestations, and a local OSV API."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from basepin.cli import main
from basepin.github_review import plan_review
from basepin.report import json_load, markdown, tally
from fixtures.hub import HubServer, image_entry
from fixtures.osv import OsvServer
from fixtures.registry import PushedImage, Registry, push_image
from fixtures.runs import isolate
from fixtures.sboms import (
    ALPINE_PURLS,
    CRITICAL,
    HIGH,
    cyclonedx_statement,
    record,
    spdx_statement,
)

OLD_OPENSSL = "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&upstream=openssl&distro=debian-12"
NEW_OPENSSL = "pkg:deb/debian/libssl3@3.0.13-1~deb12u1?arch=amd64&upstream=openssl&distro=debian-12"
ZLIB = "pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&upstream=zlib&epoch=1&distro=debian-12"
JINJA = "pkg:pypi/jinja2@3.1.4"
ALPINE_CRYPTO = ALPINE_PURLS[1]  # libcrypto3, from the openssl source package, Alpine 3.18


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, osv_server: OsvServer) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("BASEPIN_OSV_URL", osv_server.url)
    # OSV's records for what the images hold (shapes: tests/data/sbom/SOURCES.md).
    osv_server.add(
        record("DEBIAN-CVE-2024-1", "Debian:12", "openssl", cvss=CRITICAL,
               upstream=["CVE-2024-1"]),
        "3.0.11-1~deb12u2",
    )  # fmt: skip
    osv_server.add(
        record("DEBIAN-CVE-2024-2", "Debian:12", "openssl", upstream=["CVE-2024-2"],
               rating={"affected": {"ecosystem_specific": {"urgency": "low"}}}),
        "3.0.11-1~deb12u2",
    )  # fmt: skip
    osv_server.add(
        record("DEBIAN-CVE-2023-3", "Debian:12", "zlib", upstream=["CVE-2023-3"]),
        "1:1.2.13.dfsg-1",
    )
    osv_server.add(
        record("ALPINE-CVE-2023-5678", "Alpine:v3.18", "openssl", upstream=["CVE-2023-5678"]),
        "3.1.1-r1",
    )
    osv_server.add(
        record("GHSA-h5c8-rqwp-cp95", "PyPI", "jinja2", cvss=HIGH, aliases=["CVE-2024-56201"],
               summary="Jinja has a sandbox breakout\x1b[2J\n::error::through the filter"),
        "3.1.4",
    )  # fmt: skip


def _sbom(*purls: str) -> Any:
    return lambda child: spdx_statement(purls, child.digest)


def _push(registry: Registry, repo: str, tag: str, *purls: str, sbom: bool = True) -> PushedImage:
    return push_image(
        registry,
        repo,
        tag,
        platforms=["linux/amd64", "linux/arm64"],
        attestations=sbom,
        sbom=_sbom(*purls) if sbom else None,
    )


def _check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(["check", "--vulns", "--format", "json", *argv])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_a_stale_pin_shows_what_pinning_the_current_digest_closes(
    plain_registry: Registry,
    osv_server: OsvServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = f"acme/base-{uuid.uuid4().hex[:8]}"
    old = _push(plain_registry, repo, "12", OLD_OPENSSL, ZLIB)
    new = _push(plain_registry, repo, "12", NEW_OPENSSL, ZLIB)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {old.reference}@{old.digest}\n")

    code, report, err = _check(capsys, str(dockerfile))
    assert code == 1
    by_rule = {f["rule"]: f for f in report["findings"]}
    assert by_rule["stale-digest"]["message"].endswith(
        "the pinned image has 3 known vulnerabilities (1 critical, 1 low, 1 unknown); the "
        "current digest of the same tag has 1 — pinning it closes 2"
    )
    assert by_rule["stale-digest"]["fix"]["replacement"] == f"{new.reference}@{new.digest}"
    vulnerable = by_rule["vulnerable"]
    assert vulnerable["severity"] == "warning"
    assert (
        "3 known vulnerabilities (1 critical, 1 low, 1 unknown) in 2 packages"
        in (vulnerable["message"])
    )
    assert (
        "(linux/amd64 SBOM); worst: DEBIAN-CVE-2024-1, DEBIAN-CVE-2024-2" in (vulnerable["message"])
    )
    (use,) = report["uses"]
    assert use["vulnerabilities"] == {
        "critical": 1,
        "high": 0,
        "medium": 0,
        "low": 1,
        "unknown": 1,
        "total": 3,
        "ids": ["DEBIAN-CVE-2024-1", "DEBIAN-CVE-2024-2", "DEBIAN-CVE-2023-3"],
    }
    # A local registry is no Docker Hub: its manifests cost no pull quota.
    assert report["vulnerability_scan"] == {"docker_hub_pulls": 0, "osv_requests": 5}
    assert "SBOMs: 0 Docker Hub pulls" in err
    # A batch for each image as its SBOM comes in, each package version asked about once
    # (zlib is in both), and one GET per vulnerability.
    batches = [seen.body for seen in osv_server.requests if seen.path == "/v1/querybatch"]
    asked = [json.dumps(q, sort_keys=True) for batch in batches for q in batch["queries"]]
    assert (len(batches), len(asked)) == (2, 3)
    assert set(asked) == {
        json.dumps(q, sort_keys=True)
        for q in (
            {"package": {"ecosystem": "Debian:12", "name": "openssl"}, "version": v}
            for v in ("3.0.11-1~deb12u2", "3.0.13-1~deb12u1")
        )
    } | {
        json.dumps(
            {"package": {"ecosystem": "Debian:12", "name": "zlib"}, "version": "1:1.2.13.dfsg-1"},
            sort_keys=True,
        )
    }

    # The pull-request suggestion says what the pin closes.
    line = dockerfile.read_text().splitlines()[0]
    review = plan_review(
        json_load.load(json.dumps(report)).findings,
        lambda path, number: line,
        {str(dockerfile): {1: line}},
        set(),
    )
    assert review is not None
    (comment,) = review.comments
    assert "pinning it closes 2" in comment.body
    assert "```suggestion" in comment.body

    # Again: everything from the cache, nothing asked of OSV.
    sent = len(osv_server.requests)
    code, again, _ = _check(capsys, str(dockerfile))
    assert (code, again["findings"]) == (1, report["findings"])
    assert again["vulnerability_scan"] == {"docker_hub_pulls": 0, "osv_requests": 0}
    assert len(osv_server.requests) == sent


def test_sarif_and_the_job_summary_carry_them(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = f"acme/py-{uuid.uuid4().hex[:8]}"
    image = _push(plain_registry, repo, "3.12", JINJA)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {image.reference}@{image.digest}\n")
    code, report, _ = _check(
        capsys, "--platform", "linux/amd64", "--platform", "linux/arm64", str(dockerfile)
    )
    assert code == 0
    (finding,) = report["findings"]
    assert (
        "1 known vulnerability (1 high) in 1 package (linux/amd64, linux/arm64 SBOM)"
        in (finding["message"])
    )
    assert main(["check", "--vulns", "--format", "sarif", str(dockerfile)]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    (result,) = run["results"]
    assert result["ruleId"] == "basepin/vulnerable"
    assert result["properties"]["vulnerabilities"] == [
        {
            "id": "GHSA-h5c8-rqwp-cp95",
            "helpUri": "https://osv.dev/vulnerability/GHSA-h5c8-rqwp-cp95",
        }
    ]
    assert main(["check", "--vulns", "--format", "markdown", str(dockerfile)]) == 0
    summary = capsys.readouterr().out
    assert "| Size | Vulnerabilities | Findings |" in summary
    assert "| 1 (1 high) |" in summary
    # The Action renders its summary from the JSON report: the column survives the trip.
    assert main(["check", "--vulns", "--format", "json", str(dockerfile)]) == 0
    loaded = json_load.load(capsys.readouterr().out)
    assert loaded.vulnerabilities is not None
    again = markdown.render(loaded, now=datetime.now(timezone.utc))
    assert "| 1 (1 high) |" in again
    assert tally(loaded).endswith("SBOMs: 0 Docker Hub pulls")


def test_an_image_without_an_sbom_gets_a_note_never_clean(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = f"acme/bare-{uuid.uuid4().hex[:8]}"
    image = _push(plain_registry, repo, "1", sbom=False)
    single = push_image(plain_registry, repo, "single")  # no index: nowhere to attach one
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        f"FROM {image.reference}@{image.digest}\nFROM {single.reference}@{single.digest}\n"
    )
    code, report, _ = _check(capsys, "--platform", "linux/arm64", str(dockerfile))
    assert code == 0  # notes only, and nothing left unchecked
    notes = [f for f in report["findings"] if f["rule"] == "vulnerable"]
    assert [f["severity"] for f in notes] == ["note", "note"]
    assert notes[0]["message"].endswith(
        "its known vulnerabilities are unknown, not none: no SBOM attestation for linux/arm64"
    )
    assert "not an index" in notes[1]["message"]
    assert report["uses"][0]["vulnerabilities"]["total"] is None
    assert report["incomplete"] == []


def test_osv_pages_and_a_429_are_followed(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with OsvServer(page_size=1) as paged:
        for identifier in ("GHSA-aaaa-bbbb-cccc", "GHSA-dddd-eeee-ffff", "PYSEC-2024-7"):
            paged.add(record(identifier, "PyPI", "urllib3", cvss=HIGH), "2.2.1")
        paged.queue(429, b"{}", Retry_After="0")
        repo = f"acme/paged-{uuid.uuid4().hex[:8]}"
        image = _push(plain_registry, repo, "1", "pkg:pypi/urllib3@2.2.1")
        dockerfile = tmp_path / "Dockerfile"
        dockerfile.write_text(f"FROM {image.reference}@{image.digest}\n")
        with pytest.MonkeyPatch.context() as env:
            env.setenv("BASEPIN_OSV_URL", paged.url)
            code, report, _ = _check(capsys, str(dockerfile))
        assert code == 0
        assert report["uses"][0]["vulnerabilities"]["high"] == 3
        pages = [s.body for s in paged.requests if s.path == "/v1/querybatch"]
        # The 429, its retry, and two more pages of one vulnerability each.
        assert len(pages) == 4
        assert [q.get("page_token") for body in pages for q in body["queries"]] == [
            None,
            None,
            "1",
            "2",
        ]


def test_osv_rate_limiting_beyond_the_budget_is_incomplete(
    plain_registry: Registry,
    osv_server: OsvServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    osv_server.queue(429, b"{}", Retry_After="3600")
    repo = f"acme/limited-{uuid.uuid4().hex[:8]}"
    image = _push(plain_registry, repo, "1", JINJA)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {image.reference}@{image.digest}\n")
    code, report, _ = _check(capsys, str(dockerfile))
    assert code == 3
    (unchecked,) = report["incomplete"]
    assert (
        "OSV querybatch: rate limited (HTTP 429); it asks to wait 3600 s" in (unchecked["reason"])
    )
    assert report["uses"][0]["vulnerabilities"]["total"] is None
    assert not [f for f in report["findings"] if f["rule"] == "vulnerable"]


def test_vulns_lists_one_image_escaped_as_text_and_json(
    plain_registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = f"acme/app-{uuid.uuid4().hex[:8]}"
    image = push_image(
        plain_registry,
        repo,
        "1",
        platforms=["linux/amd64"],
        attestations=True,
        sbom=lambda child: cyclonedx_statement([JINJA, OLD_OPENSSL, ALPINE_CRYPTO], child.digest),
    )
    assert main(["vulns", image.reference]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == (
        f"{image.reference}@{image.digest} (linux/amd64): 4 known vulnerabilities "
        "(1 critical, 1 high, 1 low, 1 unknown) in 3 packages"
    )
    # Alpine's records carry no rating: known, of unknown severity.
    assert lines[-1].startswith("ALPINE-CVE-2023-5678     unknown     -  openssl@3.1.1-r1")
    assert lines[1].startswith("DEBIAN-CVE-2024-1        critical  9.8  openssl@3.0.11-1~deb12u2")
    jinja = next(line for line in lines if line.startswith("GHSA-h5c8-rqwp-cp95"))
    # The summary's escape sequence and line break are shown escaped, no command starts.
    assert "sandbox breakout\\x1b[2J ::error::through" in jinja
    assert "\x1b" not in captured.out
    assert "0 Docker Hub pull(s)" in captured.err

    assert main(["vulns", "--format", "json", f"{image.reference}@{image.digest}"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["vulnerabilities"]["ids"] == [
        "DEBIAN-CVE-2024-1",
        "GHSA-h5c8-rqwp-cp95",
        "DEBIAN-CVE-2024-2",
        "ALPINE-CVE-2023-5678",
    ]
    ghsa = document["advisories"][1]
    assert ghsa["aliases"] == ["CVE-2024-56201"]
    assert (ghsa["severity"], ghsa["score"], ghsa["rated_by"]) == ("high", 7.5, "CVSS_V3")
    assert ghsa["url"] == "https://osv.dev/vulnerability/GHSA-h5c8-rqwp-cp95"
    assert ghsa["packages"] == ["jinja2@3.1.4 (PyPI)"]


def test_docker_hub_pulls_are_counted_and_spent_once(
    plain_registry: Registry,
    hub_server: HubServer,
    osv_server: OsvServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = f"official{uuid.uuid4().hex[:8]}"
    image = _push(plain_registry, f"library/{name}", "3.12", JINJA)
    hub_server.add_tag(
        f"library/{name}",
        "3.12",
        digest=image.digest,
        images=[
            image_entry(m.digest, architecture=m.platform.split("/")[1]) for m in image.manifests
        ],
    )
    monkeypatch.setenv("BASEPIN_HUB_URL", hub_server.url)
    monkeypatch.setenv("BASEPIN_HUB_REGISTRY_URL", plain_registry.url)
    assert main(["vulns", f"{name}:3.12"]) == 1
    err = capsys.readouterr().err
    # The index and linux/amd64's attestation manifest: two manifest GETs, two pulls.
    assert "2 Docker Hub pull(s), 2 OSV request(s)" in err
    assert main(["vulns", f"{name}:3.12"]) == 1
    assert "0 Docker Hub pull(s), 0 OSV request(s)" in capsys.readouterr().err


def test_fix_bump_says_what_the_bump_closes(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = f"acme/lib-{uuid.uuid4().hex[:8]}"
    old = _push(plain_registry, repo, "1.0", OLD_OPENSSL, ZLIB)
    _push(plain_registry, repo, "1.1", NEW_OPENSSL)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {old.reference}@{old.digest}\n")
    assert main(["fix", "--bump", "--vulns", str(dockerfile)]) == 1
    out = capsys.readouterr().out
    assert "1.1@sha256:" in dockerfile.read_text()
    # Left after fixing: the vulnerable finding of what was pinned, with the delta.
    assert "vulnerable: " in out
    assert (
        "1.0 has 3 known vulnerabilities (1 critical, 1 low, 1 unknown); 1.1 has none — the "
        "bump closes 3"
    ) in out
