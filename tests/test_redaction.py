"""Credentials in URLs never come out: not on stdout or stderr, not in the JSON or SARIF report,
not in the log at debug level, where httpx logs every URL it asks and basepin every request.

Each run is a basepin process with logging at DEBUG for every logger (what a user who turns
on debug logging sees), against the hostile registry of tests/fixtures/hostile_text.py and closed
loopback ports.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures.hostile_text import GOOD_DIGEST, LINK_SECRET, HostileTextRegistry
from fixtures.runs import closed_port

SECRET = "s3cr3t-pass"
# main() with every logger at DEBUG, as a user would turn it on.
DEBUG_MAIN = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.DEBUG, format='%(name)s: %(message)s')\n"
    "from basepin.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str  # the debug log too
    files: str  # the reports written with -o

    def shows(self, secret: str) -> bool:
        return secret in self.stdout + self.stderr + self.files


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER", "BASEPIN"))}
    environ.update(
        BASEPIN_HUB_URL=f"http://127.0.0.1:{closed_port()}",
        BASEPIN_CACHE_DIR=str(tmp_path / "cache"),
        DOCKER_CONFIG=str(tmp_path / "docker-config"),
    )
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        environ.pop(name, None)
        environ.pop(name.upper(), None)
    return environ


@pytest.fixture
def realm_registry(hostile_text_registry: HostileTextRegistry) -> Iterator[HostileTextRegistry]:
    """A registry whose token realm (the hostile registry's /token) carries credentials and
    a token in its URL."""
    realm = f"http://user:{SECRET}@{hostile_text_registry.host}/token?account=me&token={SECRET}"
    with HostileTextRegistry(realm=realm) as registry:
        yield registry


def check(tmp_path: Path, env: dict[str, str], *argv: str, text: str) -> Run:
    """`basepin check` of one Dockerfile holding `text`, writing JSON, then SARIF."""
    (tmp_path / "Dockerfile").write_text(text)
    runs = [
        _debug_run(tmp_path, env, "check", "--format", fmt, "-o", f"report.{fmt}", *argv)
        for fmt in ("json", "sarif")
    ]
    assert runs[0].code == runs[1].code
    return Run(
        runs[0].code,
        runs[0].stdout + runs[1].stdout,
        runs[0].stderr + runs[1].stderr,
        "".join(p.read_text() for p in tmp_path.glob("report.*")),
    )


def _debug_run(cwd: Path, env: dict[str, str], *argv: str) -> Run:
    result = subprocess.run(
        [sys.executable, "-c", DEBUG_MAIN, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr, "")


@pytest.mark.parametrize("answering", [False, True], ids=["closed-port", "answering-port"])
def test_docker_hub_api_url(
    tmp_path: Path,
    env: dict[str, str],
    hostile_text_registry: HostileTextRegistry,
    answering: bool,
) -> None:
    port = hostile_text_registry.port if answering else closed_port()
    env["BASEPIN_HUB_URL"] = f"https://user:{SECRET}@127.0.0.1:{port}"
    mirror = f"docker.io={hostile_text_registry.url}"  # no Docker Hub reference leaves the machine
    run = check(tmp_path, env, "--registry-mirror", mirror, text="FROM python:3.12\n")
    assert run.code == 2
    assert f"not 'https://***@127.0.0.1:{port}'" in run.stderr
    assert not run.shows(SECRET)


@pytest.mark.parametrize("scheme", ["http", "ftp"])
def test_registry_mirror(
    tmp_path: Path, env: dict[str, str], hostile_text_registry: HostileTextRegistry, scheme: str
) -> None:
    mirror = f"docker.io={scheme}://user:{SECRET}@{hostile_text_registry.host}"
    run = check(tmp_path, env, "--registry-mirror", mirror, text="FROM python:3.12\n")
    assert run.code == 2
    assert "basepin: error: registry mirror for docker.io" in run.stderr
    assert not run.shows(SECRET)


def test_registry_mirror_in_the_configuration(
    tmp_path: Path, env: dict[str, str], hostile_text_registry: HostileTextRegistry
) -> None:
    mirror = f"ftp://user:{SECRET}@{hostile_text_registry.host}"
    (tmp_path / ".basepin.toml").write_text(f'registry-mirrors = {{ "docker.io" = "{mirror}" }}\n')
    run = check(tmp_path, env, text="FROM python:3.12\n")
    assert run.code == 2
    assert not run.shows(SECRET)


def test_token_realm(
    tmp_path: Path,
    env: dict[str, str],
    realm_registry: HostileTextRegistry,
    hostile_text_registry: HostileTextRegistry,
) -> None:
    # Credentials for the registry in the Docker config go to its realm as well.
    config = Path(env["DOCKER_CONFIG"])
    config.mkdir()
    pair = base64.b64encode(f"me:{SECRET}".encode()).decode()
    auths = {"auths": {realm_registry.host: {"auth": pair}}}
    (config / "config.json").write_text(json.dumps(auths))
    run = check(tmp_path, env, text=f"FROM {realm_registry.host}/good/x:1\n")
    assert run.code == 1, run.stderr
    assert GOOD_DIGEST in run.files  # the token came, the registry answered
    # The realm was asked with credentials, and its URL went through the log.
    assert all(sent is not None for _, sent in hostile_text_registry.token_requests)
    assert hostile_text_registry.token_requests
    assert f"http://***@{hostile_text_registry.host}/token?account=me&token=***" in run.stderr
    assert not run.shows(SECRET)


def test_link_and_redirect_targets(
    tmp_path: Path, env: dict[str, str], hostile_text_registry: HostileTextRegistry
) -> None:
    host = hostile_text_registry.host
    run = check(tmp_path, env, text=f"FROM {host}/redirect/x:1\n")
    assert run.code == 1, run.stderr
    assert f"GET http://***@{host}/v2/good/x/manifests/1?Signature=***" in run.stderr
    tags = _debug_run(tmp_path, env, "tags", f"{host}/linked/x")
    assert (tags.code, tags.stdout.split()[::4]) == (0, ["a", "b"])
    assert f"GET http://***@{host}/v2/linked/x/tags/list?last=a&token=***" in tags.stderr
    assert not run.shows(LINK_SECRET)
    assert not tags.shows(LINK_SECRET)


def test_proxy(
    tmp_path: Path, env: dict[str, str], hostile_text_registry: HostileTextRegistry
) -> None:
    proxy = f"http://user:{SECRET}@127.0.0.1:{closed_port()}"
    env.update(HTTP_PROXY=proxy, HTTPS_PROXY=proxy)
    # Only the digest is asked (each request is retried before it counts as failed).
    rules_off = "old-image = 'off'\noutdated = 'off'\nplatforms = 'off'\n"
    (tmp_path / ".basepin.toml").write_text(f"[severity]\n{rules_off}")
    (tmp_path / "Dockerfile").write_text(
        f"FROM {hostile_text_registry.host}/good/x:1@{GOOD_DIGEST}\n"
    )
    run = _debug_run(tmp_path, env, "check", "--format", "sarif")
    assert run.code == 3, run.stderr
    assert "cannot connect" in run.stdout
    assert not run.shows(SECRET)


def test_the_action_echoes_no_secret(
    tmp_path: Path, env: dict[str, str], hostile_text_registry: HostileTextRegistry
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.12\n")
    env.update(
        GITHUB_WORKSPACE=str(tmp_path),
        RUNNER_TEMP=str(tmp_path / "runner"),
        INPUT_REGISTRY_MIRRORS=f"docker.io=ftp://user:{SECRET}@{hostile_text_registry.host}",
    )
    result = subprocess.run(
        [sys.executable, "-m", "basepin.action"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "registry mirror for docker.io: 'ftp://***@" in result.stdout
    assert SECRET not in result.stdout + result.stderr
