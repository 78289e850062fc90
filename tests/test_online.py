"""`basepin check`, `fix`, `resolve` and `tags` against a real registry (distribution 2.8)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from basepin.cli import main
from fixtures.hub import HubServer, image_entry
from fixtures.registry import Registry, add_tag, docker_config, push_image
from fixtures.runs import closed_port, isolate
from fixtures.tokenserver import scopes_of

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real Docker Hub, no user credentials, a fresh cache for every test."""
    isolate(monkeypatch, tmp_path)


def _repo() -> str:
    return f"acme/app-{uuid.uuid4().hex[:8]}"


def _dockerfile(tmp_path: Path, text: str, name: str = "Dockerfile") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _json_check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", "--format", "json", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_unpinned_reference_gets_the_index_digest_as_fix(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo()
    image = push_image(plain_registry, repo, "1.0", platforms=["linux/amd64", "linux/arm64"])
    path = _dockerfile(tmp_path, f"FROM {image.reference} AS base\n")
    code, report = _json_check(capsys, str(path))
    assert code == 1
    (use,) = report["uses"]
    assert use["digest_now"] == image.digest
    (finding,) = report["findings"]
    assert finding["rule"] == "unpinned"
    assert finding["fix"]["replacement"] == f"{image.reference}@{image.digest}"
    assert report["incomplete"] == []


def test_fix_pins_in_place_and_a_second_run_changes_nothing(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo()
    image = push_image(plain_registry, repo, "2.1")
    other = push_image(plain_registry, repo, "tools")
    text = (
        f"ARG BASE={image.reference}\r\n"
        "FROM ${BASE} AS build\r\n"
        f"COPY --from={other.reference} /x /x\r\n"
    )
    path = tmp_path / "Dockerfile"
    path.write_bytes(text.encode())
    assert main(["fix", str(path)]) == 1
    fixed = path.read_bytes().decode()
    assert fixed == (
        f"ARG BASE={image.reference}@{image.digest}\r\n"
        "FROM ${BASE} AS build\r\n"
        f"COPY --from={other.reference}@{other.digest} /x /x\r\n"
    )
    assert main(["fix", str(path)]) == 0
    assert path.read_bytes().decode() == fixed
    capsys.readouterr()
    assert main(["check", str(path)]) == 0


def test_fix_diff_writes_nothing(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = push_image(plain_registry, _repo(), "3")
    path = _dockerfile(tmp_path, f"FROM {image.reference}\n")
    assert main(["fix", "--diff", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"+FROM {image.reference}@{image.digest}" in out
    assert path.read_text() == f"FROM {image.reference}\n"


def test_moved_tag_makes_the_pin_stale(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo()
    old = push_image(plain_registry, repo, "1.25", platforms=["linux/amd64", "linux/arm64"])
    new = push_image(plain_registry, repo, "1.25", platforms=["linux/amd64", "linux/arm64"])
    path = _dockerfile(tmp_path, f"FROM {old.reference}@{old.digest}\n")
    code, report = _json_check(capsys, str(path))
    assert code == 1
    (finding,) = [f for f in report["findings"] if f["rule"] == "stale-digest"]
    assert finding["fix"]["replacement"] == f"{new.reference}@{new.digest}"


def test_child_pin_is_judged_against_the_same_platform(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = push_image(plain_registry, _repo(), "7", platforms=["linux/amd64", "linux/arm64"])
    child = image.manifest("linux/arm64").digest
    path = _dockerfile(tmp_path, f"FROM {image.reference}@{child}\n")
    code, report = _json_check(capsys, str(path))
    rules = [f["rule"] for f in report["findings"]]
    assert rules == ["platforms"]
    assert code == 0  # a warning
    assert report["findings"][0]["fix"]["replacement"].endswith(image.digest)


def test_unknown_tag_and_digest(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo()
    image = push_image(plain_registry, repo, "1")
    foreign = "sha256:" + "e" * 64
    path = _dockerfile(
        tmp_path,
        f"FROM {plain_registry.reference(repo, '9.9')}\n"
        f"FROM {image.reference}@{foreign}\n"
        f"FROM {plain_registry.reference('acme/never-pushed', '1')}\n",
    )
    code, report = _json_check(capsys, str(path))
    assert code == 1
    unknown = sorted(f["line"] for f in report["findings"] if f["rule"] == "unknown")
    assert unknown == [1, 2, 3]
    assert report["incomplete"] == []


def test_unreachable_registry_is_incomplete_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = f"127.0.0.1:{closed_port()}"
    path = _dockerfile(tmp_path, f"FROM {host}/acme/app:1@sha256:{'a' * 64}\n")
    code = main(["check", "--timeout", "2", str(path)])
    out, err = capsys.readouterr()
    assert code == 3
    assert "could not check" in out + err
    assert "Traceback" not in out + err


def test_old_image_and_outdated_from_the_registry(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo()
    old = push_image(plain_registry, repo, "3.11-slim", created=NOW - timedelta(days=400))
    push_image(plain_registry, repo, "3.12-slim")
    newest = push_image(plain_registry, repo, "3.13-slim")
    push_image(plain_registry, repo, "3.14.0b1-slim")
    path = _dockerfile(tmp_path, f"FROM {old.reference}@{old.digest}\n")
    code, report = _json_check(capsys, str(path))
    by_rule = {f["rule"]: f for f in report["findings"]}
    assert set(by_rule) == {"old-image", "outdated"}
    assert "400 days" in by_rule["old-image"]["message"]
    assert "3.11-slim -> 3.13-slim" in by_rule["outdated"]["message"]
    assert code == 0  # warnings only
    assert main(["fix", "--bump", str(path)]) == 1
    assert path.read_text() == f"FROM {newest.reference}@{newest.digest}\n"


def test_reproducible_build_date_is_not_old(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = push_image(
        plain_registry, _repo(), "1", created=datetime(1970, 1, 1, tzinfo=timezone.utc)
    )
    path = _dockerfile(tmp_path, f"FROM {image.reference}@{image.digest}\n")
    code, report = _json_check(capsys, str(path))
    assert (code, report["findings"]) == (0, [])


def test_latest_is_named_by_its_version(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo()
    image = push_image(plain_registry, repo, "2.4.1", platforms=["linux/amd64"])
    for tag in ("2", "2.4", "latest"):
        add_tag(image, tag)
    push_image(plain_registry, repo, "2.3.9")
    path = _dockerfile(tmp_path, f"FROM {plain_registry.reference(repo)}\n")
    code, report = _json_check(capsys, str(path))
    latest = next(f for f in report["findings"] if f["rule"] == "latest")
    assert f"{plain_registry.reference(repo, '2.4.1')} today" in latest["message"]
    assert (
        latest["fix"]["replacement"] == f"{plain_registry.reference(repo, '2.4.1')}@{image.digest}"
    )
    assert code == 1


def test_docker_hub_through_a_mirror_with_dates_from_the_hub_api(
    plain_registry: Registry,
    hub_server: HubServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = push_image(plain_registry, "library/python", "3.12", platforms=["linux/amd64"])
    pushed = NOW - timedelta(days=200)
    hub_server.add_tag(
        "library/python",
        "3.12",
        digest=image.digest,
        pushed=pushed,
        size=52_000_000,
        images=[image_entry(image.manifests[0].digest)],
    )
    monkeypatch.setenv("BASEPIN_HUB_URL", hub_server.url)
    path = _dockerfile(tmp_path, "FROM python:3.12\n")
    code, report = _json_check(
        capsys, "--registry-mirror", f"docker.io={plain_registry.url}", str(path)
    )
    rules = sorted(f["rule"] for f in report["findings"])
    assert rules == ["old-image", "unpinned"]
    unpinned = next(f for f in report["findings"] if f["rule"] == "unpinned")
    assert unpinned["fix"]["replacement"] == f"python:3.12@{image.digest}"
    assert report["uses"][0]["pushed"].startswith(pushed.strftime("%Y-%m-%d"))
    assert code == 1
    # Dates come from the Hub API's documented tag path.
    assert all(r.path.startswith("/v2/namespaces/library/") for r in hub_server.requests)


def test_warm_cache_needs_no_network(
    plain_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo()
    image = push_image(plain_registry, repo, "5")
    path = _dockerfile(tmp_path, f"FROM {image.reference}@{image.digest}\n")
    assert main(["check", str(path)]) == 0
    # Same answers with the registry unreachable: everything came from the cache.
    mirror = f"{plain_registry.host}=http://127.0.0.1:{closed_port()}"
    assert main(["check", "--registry-mirror", mirror, "--timeout", "2", str(path)]) == 0
    assert (
        main(["check", "--no-cache", "--registry-mirror", mirror, "--timeout", "2", str(path)]) == 3
    )
    capsys.readouterr()


def test_resolve_and_tags_commands(
    plain_registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo()
    one = push_image(plain_registry, repo, "1.0")
    two = push_image(plain_registry, repo, "1.1", platforms=["linux/amd64", "linux/arm64"])
    assert main(["resolve", one.reference, two.reference]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{one.reference} {one.digest}",
        f"{two.reference} {two.digest}",
    ]
    assert main(["resolve", plain_registry.reference(repo, "nope")]) == 1
    capsys.readouterr()
    assert main(["tags", "--format", "json", plain_registry.reference(repo)]) == 0
    tags = json.loads(capsys.readouterr().out)["tags"]
    # Off Docker Hub the list has names only: each digest comes from a HEAD, the index's for
    # a multi-platform tag.
    assert [(t["name"], t["digest"]) for t in tags] == [("1.1", two.digest), ("1.0", one.digest)]
    assert main(["tags", "--limit", "1", plain_registry.reference(repo)]) == 0
    assert capsys.readouterr().out.split() == ["1.1", two.digest, "-", "-"]


def test_credentials_never_reach_the_output(
    htpasswd_registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = push_image(htpasswd_registry, _repo(), "1")
    config = tmp_path / "docker-config"
    config.mkdir()
    auth = f"{htpasswd_registry.username}:{htpasswd_registry.password}"
    encoded = base64.b64encode(auth.encode()).decode()
    (config / "config.json").write_text(
        json.dumps({"auths": {htpasswd_registry.host: {"auth": encoded}}})
    )
    path = _dockerfile(
        tmp_path, f"FROM {image.reference}\nFROM {htpasswd_registry.reference('acme/none', '1')}\n"
    )
    code = main(["check", "--format", "json", str(path)])
    out, err = capsys.readouterr()
    assert code == 1
    assert json.loads(out)["uses"][0]["digest_now"] == image.digest
    assert htpasswd_registry.password is not None
    for secret in (htpasswd_registry.password, encoded):
        assert secret not in out + err


def test_token_registry_one_batched_token_request_per_run(
    token_registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert token_registry.token_server is not None
    images = [push_image(token_registry, _repo(), "1") for _ in range(3)]
    private = push_image(token_registry, f"private/{_repo()}", "1")
    config = tmp_path / "docker-config"
    config.mkdir()
    (config / "config.json").write_text(json.dumps(docker_config(token_registry)))
    lines = "".join(f"FROM {image.reference}@{image.digest}\n" for image in [*images, private])
    path = _dockerfile(tmp_path, lines)
    mark = token_registry.token_server.mark()
    assert main(["check", str(path)]) == 0, capsys.readouterr()
    asked = token_registry.token_server.since(mark)
    assert len(asked) == 1
    assert sorted(scopes_of(asked)) == sorted(
        f"repository:{image.repository}:pull" for image in [*images, private]
    )
    out, err = capsys.readouterr()
    assert token_registry.password is not None
    assert token_registry.password not in out + err


def test_tls_registry_trusted_through_ssl_cert_file(
    tls_registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = push_image(tls_registry, _repo(), "1", platforms=["linux/amd64", "linux/arm64"])
    path = _dockerfile(tmp_path, f"FROM {image.reference}@{image.digest}\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_registry.ca_file))
    code, report = _json_check(capsys, "--platform", "linux/s390x", str(path))
    assert [f["rule"] for f in report["findings"]] == ["platforms"]
    assert code == 0


def test_files_waiting_on_disk_give_the_same_report(
    plain_registry: Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from basepin import file_queue

    repo = _repo()
    image = push_image(plain_registry, repo, "1.0")
    old = push_image(plain_registry, repo, "0.9", created=NOW - timedelta(days=400))
    for number in range(6):
        _dockerfile(
            tmp_path,
            f"FROM {image.reference} AS a\nFROM {old.reference}@{old.digest}\nBOGUS x\n",
            name=f"Dockerfile.{number}",
        )
    code, kept = _json_check(capsys, "--no-cache", str(tmp_path))
    monkeypatch.setattr(file_queue, "IN_MEMORY", 2)
    assert _json_check(capsys, "--no-cache", str(tmp_path)) == (code, kept)
    assert len(kept["findings"]) > 6
