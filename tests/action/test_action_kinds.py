"""The Action on a workspace of every kind of file basepin reads, run as the runner runs it
(see test_action_run.py): annotations, the job summary, notes in the log, and a fix written
to a Compose file's `.env`."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from test_action_run import Job, _git, make_job, run_action

from fixtures.github import FakeGitHub
from fixtures.hub import HubServer
from fixtures.registry import Registry, push_image

FILES = {
    "services/web/compose.yaml": (
        "services:\n  web:\n    build: .\n  cache:\n    image: ${CACHE_IMAGE}\n"
    ),
    "services/web/.env": "CACHE_IMAGE=redis:7\n",
    ".github/workflows/ci.yml": (
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-24.04\n    container: node:22\n"
    ),
    "deploy/app.yaml": (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n"
        "  containers:\n    - name: app\n      image: nginx:1.27\n"
    ),
    "chart/templates/app.yaml": (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}\n"
        "spec: {containers: [{image: nginx}]}\n"
    ),
    ".gitlab-ci.yml": "test:\n  image: python:3.13\n  script: [make test]\n",
    "config.yaml": "image: not-a-manifest\n",
}


def _workspace(job: Job, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = job.workspace / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _git(job.workspace, "add", "-A")
    _git(job.workspace, "commit", "-q", "-m", "more kinds of file")


def test_check_mode_annotates_every_kind_and_logs_notes(
    tmp_path: Path, github_api: FakeGitHub
) -> None:
    job = make_job(tmp_path, github_api)
    _workspace(job, FILES)
    run = run_action(job, {"offline": "true"})
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.annotations() >= {
        ("error", "services/web/.env", "1", "basepin/unpinned"),
        ("error", ".github/workflows/ci.yml", "5", "basepin/unpinned"),
        ("error", "deploy/app.yaml", "7", "basepin/unpinned"),
        ("error", ".gitlab-ci.yml", "2", "basepin/unpinned"),
    }
    assert not [a for a in run.annotations() if a[1] in ("config.yaml", "chart/templates/app.yaml")]
    for mark in ("Compose service", "job container", "Kubernetes container", "GitLab CI image"):
        assert f" ({mark}) |" in run.summary
    assert "chart/templates/app.yaml:4:9: note: skipped: a Go template" in run.stdout
    report = json.loads(Path(run.outputs["report"]).read_text())
    assert [note["path"] for note in report["notes"]] == ["chart/templates/app.yaml"]
    assert "config.yaml" not in report["files"]


def test_fix_mode_pins_a_value_in_env_and_says_a_file_changed(
    tmp_path: Path, github_api: FakeGitHub, plain_registry: Registry, hub_server: HubServer
) -> None:
    job = make_job(tmp_path, github_api)
    job.env["BASEPIN_HUB_URL"] = hub_server.url
    _git(job.workspace, "rm", "-q", "Dockerfile", "services/api/Dockerfile")
    _workspace(job, {name: FILES[name] for name in ("services/web/compose.yaml",)})
    (job.workspace / "services" / "web" / ".env").write_text("CACHE_IMAGE=actiontest/redis:7\n")
    redis = push_image(plain_registry, "actiontest/redis", "7", platforms=["linux/amd64"])
    hub_server.add_tag(
        "actiontest/redis", "7", digest=redis.digest, pushed=datetime.now(timezone.utc)
    )
    run = run_action(job, {"mode": "fix", "registry-mirrors": f"docker.io={plain_registry.url}"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.outputs["changed"] == "true"
    assert run.outputs["findings"] == "0"
    assert (job.workspace / "services" / "web" / ".env").read_text() == (
        f"CACHE_IMAGE=actiontest/redis:7@{redis.digest}\n"
    )
    compose = (job.workspace / "services" / "web" / "compose.yaml").read_text()
    assert compose == FILES["services/web/compose.yaml"]


def test_fix_mode_says_a_file_changed_that_only_the_files_setting_names(
    tmp_path: Path, github_api: FakeGitHub, plain_registry: Registry, hub_server: HubServer
) -> None:
    job = make_job(tmp_path, github_api)
    job.env["BASEPIN_HUB_URL"] = hub_server.url
    _git(job.workspace, "rm", "-q", "Dockerfile", "services/api/Dockerfile")
    _workspace(
        job,
        {
            ".gitlab-ci.yml": "include: [{local: ci/unit.yml}]\n",
            "ci/unit.yml": "unit:\n  image: actiontest/python:3.13\n  script: [make]\n",
            ".basepin.toml": '[files]\ngitlab-ci = ["ci/*.yml"]\n',
        },
    )
    python = push_image(plain_registry, "actiontest/python", "3.13", platforms=["linux/amd64"])
    hub_server.add_tag(
        "actiontest/python", "3.13", digest=python.digest, pushed=datetime.now(timezone.utc)
    )
    run = run_action(job, {"mode": "fix", "registry-mirrors": f"docker.io={plain_registry.url}"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.outputs["changed"] == "true"
    assert (job.workspace / "ci" / "unit.yml").read_text() == (
        f"unit:\n  image: actiontest/python:3.13@{python.digest}\n  script: [make]\n"
    )
