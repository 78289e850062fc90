"""The composite action run the way the Actions runner runs it.

`run_action` reads action.yml, renders each step's `env:` and `with:` (`${{ inputs.x }}`,
`${{ steps.id.outputs.x }}`, `${{ github.token }}`, `${{ runner.temp }}`: any other expression
fails the test, which keeps the action simple), decides its `if:` (`always()`, `==` and `!=`
joined by `&&`; a step without one runs while no step has failed), writes each `run:` script
to a file and runs it with `bash --noprofile --norc -eo pipefail`, gives each step its own
`$GITHUB_OUTPUT`, and maps the action's `outputs:` from the steps' outputs. actions/cache's
`restore` and `save` are played by a folder of saved caches per job, as the service keeps
them: an exact key, else the newest key with a restore prefix; a key is saved once. The job
environment holds what a runner sets: GITHUB_WORKSPACE (a git checkout with Dockerfiles),
RUNNER_TEMP, RUNNER_OS, GITHUB_ACTION_PATH (this repository), GITHUB_EVENT_PATH (a
pull_request event), GITHUB_API_URL (the local GitHub API).

To stay fast, the set-up step is given BASEPIN_ACTION_PYTHON (this interpreter, which has
basepin) and skips the install; one test creates the real virtual environment, installing
from the wheels scripts/test keeps in .venv/wheelhouse (no package index is reached).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from basepin.report.fingerprints import line_hashes
from fixtures.github import (
    Canned,
    FakeGitHub,
    html_page,
    parse_github_output,
    primary_limit,
    redirect_to_login,
)
from fixtures.hub import HubServer
from fixtures.registry import PushedImage, Registry, add_tag, push_image

REPO = Path(__file__).resolve().parents[2]
ACTION: dict[str, Any] = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_ANNOTATION = re.compile(r"^::(error|warning|notice) (?P<props>[^:]*)::(?P<message>.*)$")

DIGEST = "sha256:" + "b" * 64
DOCKERFILE = (
    "# syntax=docker/dockerfile:1\n"
    "FROM python:3.12-slim AS build\n"
    "RUN pip wheel --wheel-dir /w .\n"
    f"FROM gcr.io/distroless/python3-debian12:nonroot@{DIGEST}\n"
    "COPY --from=build /w /w\n"
)
API_DOCKERFILE = 'FROM node:latest\nCMD ["node"]\n'
# The pull request changed line 2 of Dockerfile (3.11 -> 3.12); services/api is untouched.
PATCH = (
    "@@ -1,3 +1,3 @@\n"
    " # syntax=docker/dockerfile:1\n"
    "-FROM python:3.11-slim AS build\n"
    "+FROM python:3.12-slim AS build\n"
    " RUN pip wheel --wheel-dir /w ."
)


@dataclass
class ActionRun:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    steps_run: list[str] = field(default_factory=list)

    def annotations(self) -> set[tuple[str, str, str, str]]:
        """(level, file, line, title) of each annotation the run printed."""
        found = set()
        for line in self.stdout.splitlines():
            match = _ANNOTATION.match(line)
            if match:
                props = dict(p.split("=", 1) for p in match["props"].split(",") if "=" in p)
                found.add(
                    (
                        line[2 : line.index(" ")],
                        props.get("file", ""),
                        props.get("line", ""),
                        props.get("title", ""),
                    )
                )
        return found


@dataclass
class Job:
    """One job's runner state: the workspace and the environment every step starts from."""

    workspace: Path
    temp: Path
    env: dict[str, str]
    token: str


def _value(expression: str, context: dict[str, Any]) -> str:
    parts = re.fullmatch(
        r"(inputs|github|runner)\.([\w-]+)|steps\.([\w-]+)\.outputs\.([\w-]+)", expression
    )
    assert parts, f"expression the test runner does not know: {expression}"
    if parts.group(1):
        return str(context[parts.group(1)][parts.group(2)])
    return str(context["steps"].get(parts.group(3), {}).get(parts.group(4), ""))


def _render(value: str, context: dict[str, Any]) -> str:
    return _EXPRESSION.sub(lambda match: _value(match.group(1), context), value)


def _runs(step: dict[str, Any], context: dict[str, Any], failed: bool) -> bool:
    """Whether the step runs: its `if:` (terms joined by `&&`), with success() implied."""
    terms = [term.strip() for term in str(step.get("if", "")).split("&&") if term.strip()]
    if failed and "always()" not in terms:
        return False
    for term in terms:
        if term == "always()":
            continue
        compared = re.fullmatch(r"(\S+) (==|!=) '([^']*)'", term)
        assert compared, f"condition the test runner does not know: {term}"
        equal = _value(compared.group(1), context) == compared.group(3)
        if equal != (compared.group(2) == "=="):
            return False
    return True


def _cache_step(step: dict[str, Any], context: dict[str, Any], saved: Path) -> dict[str, str]:
    """actions/cache/restore or /save, pinned as action.yml pins them, on a folder of caches."""
    uses = step["uses"]
    assert uses.startswith(("actions/cache/restore@", "actions/cache/save@")), uses
    given = {name: _render(str(value), context) for name, value in step["with"].items()}
    path, key = Path(given["path"]), given["key"]
    assert key, "a cache step without a key"
    if uses.startswith("actions/cache/save@"):
        if path.is_dir() and not (saved / key).exists():
            shutil.copytree(path, saved / key)
        return {}
    prefixes = [p.strip() for p in given.get("restore-keys", "").splitlines() if p.strip()]
    keys = sorted(saved.iterdir(), key=lambda entry: entry.stat().st_mtime, reverse=True)
    exact = saved / key
    found = exact if exact.is_dir() else None
    if found is None:
        found = next((e for p in prefixes for e in keys if e.name.startswith(p)), None)
    if found is not None:
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(found, path)
    return {"cache-hit": "true" if found == exact else "false"}


def run_action(job: Job, inputs: dict[str, str]) -> ActionRun:
    given = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    given.update(inputs)
    context: dict[str, Any] = {
        "github": {"token": job.token},
        "runner": {"temp": str(job.temp), "os": job.env.get("RUNNER_OS", "Linux")},
        "steps": {},
    }
    context["inputs"] = {name: _render(value, context) for name, value in given.items()}
    summary = job.temp / "step_summary.md"
    summary.touch()
    saved = job.temp.parent / "saved-caches"  # the cache service's: it outlives the job
    saved.mkdir(exist_ok=True)
    stdout, stderr, steps_run = [], [], []
    returncode = 0
    for step in ACTION["runs"]["steps"]:
        if not _runs(step, context, failed=returncode != 0):
            continue
        if "uses" in step:
            steps_run.append(step["id"])
            context["steps"][step["id"]] = _cache_step(step, context, saved)
            continue
        assert step["shell"] == "bash"
        output = job.temp / f"output-{uuid.uuid4().hex}"
        output.touch()
        script = job.temp / f"{uuid.uuid4()}.sh"
        script.write_text(step["run"], encoding="utf-8")
        env = dict(job.env, GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary))
        env.update({k: _render(str(v), context) for k, v in step.get("env", {}).items()})
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=job.workspace,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        steps_run.append(step["id"])
        stdout.append(result.stdout)
        stderr.append(result.stderr)
        context["steps"][step["id"]] = parse_github_output(output.read_text(encoding="utf-8"))
        returncode = returncode or result.returncode
    outputs = {name: _render(spec["value"], context) for name, spec in ACTION["outputs"].items()}
    return ActionRun(
        returncode,
        "".join(stdout),
        "".join(stderr),
        outputs,
        summary.read_text(encoding="utf-8"),
        steps_run,
    )


def _git(workspace: Path, *args: str) -> str:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workspace.parent),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return subprocess.run(
        ["git", *args], cwd=workspace, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_job(tmp_path: Path, github: FakeGitHub, *, python: str | None = sys.executable) -> Job:
    workspace = tmp_path / "work"
    (workspace / "services" / "api").mkdir(parents=True)
    (workspace / "Dockerfile").write_text(DOCKERFILE)
    (workspace / "services" / "api" / "Dockerfile").write_text(API_DOCKERFILE)
    _git(workspace, "init", "-q")
    _git(workspace, "add", ".")
    _git(workspace, "commit", "-q", "-m", "images")
    head = _git(workspace, "rev-parse", "HEAD")
    github.add_pull(
        "octo/app",
        12,
        head,
        [
            {"filename": "Dockerfile", "status": "modified", "patch": PATCH},
            {"filename": "README.md", "status": "modified", "patch": "@@ -1 +1 @@\n-a\n+b"},
        ],
    )
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    event = temp / "event.json"
    event.write_text(
        json.dumps(
            {
                "action": "synchronize",
                "number": 12,
                "pull_request": {"number": 12, "head": {"sha": head, "ref": "feature"}},
                "repository": {"full_name": "octo/app"},
            }
        )
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_ACTION_PATH": str(REPO),
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "octo/app",
        "GITHUB_API_URL": github.url,
        "RUNNER_TEMP": str(temp),
        "RUNNER_OS": "Linux",
        "BASEPIN_CACHE_DIR": str(tmp_path / "cache"),
    }
    if python:
        env["BASEPIN_ACTION_PYTHON"] = python
    return Job(workspace, temp, env, github.token)


@pytest.fixture
def job(tmp_path: Path, github_api: FakeGitHub) -> Job:
    return make_job(tmp_path, github_api)


OFFLINE_ANNOTATIONS = {
    ("error", "Dockerfile", "1", "basepin/unpinned"),
    ("error", "Dockerfile", "2", "basepin/unpinned"),
    ("error", "services/api/Dockerfile", "1", "basepin/latest"),
    ("error", "services/api/Dockerfile", "1", "basepin/unpinned"),
}


def _report(run: ActionRun) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(Path(run.outputs["report"]).read_text())
    return document


def test_check_mode_annotates_summarises_and_fails_on_errors(job: Job) -> None:
    run = run_action(job, {"offline": "true", "sarif": "reports/basepin.sarif"})
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.steps_run == ["setup", "check"]
    assert run.annotations() >= OFFLINE_ANNOTATIONS
    assert "::error title=basepin::4 errors in 2 files" in run.stdout
    report = _report(run)
    assert run.outputs["findings"] == str(len(report["findings"])) == "4"
    assert run.outputs["errors"] == "4"
    assert run.outputs["incomplete"] == "0"
    assert run.outputs["changed"] == ""
    sarif = json.loads(Path(run.outputs["sarif"]).read_text())
    assert Path(run.outputs["sarif"]) == job.workspace / "reports" / "basepin.sarif"
    assert sarif["version"] == "2.1.0"
    [sarif_run] = sarif["runs"]
    root = job.workspace.as_uri() + "/"
    assert sarif_run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": root}}
    for result in sarif_run["results"]:
        location = result["locations"][0]["physicalLocation"]
        path = location["artifactLocation"]["uri"]
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        hashes = line_hashes((job.workspace / path).read_bytes())
        line = location["region"]["startLine"]
        assert result["partialFingerprints"]["primaryLocationLineHash"] == hashes[line - 1]
    assert run.summary.startswith("## basepin\n")
    assert "| `Dockerfile` | 2 | `python` | `3.12-slim` |" in run.summary
    assert "services/api/Dockerfile" in run.summary


def test_annotations_and_summary_can_be_turned_off(job: Job) -> None:
    run = run_action(job, {"offline": "true", "annotations": "false", "summary": "false"})
    assert run.returncode == 1
    assert run.annotations() == {("error", "", "", "basepin")}
    assert run.summary == ""
    assert run.outputs["sarif"] == ""


def test_fail_on_is_basepins_verdict(job: Job) -> None:
    (job.workspace / "services" / "api" / "Dockerfile").write_text(
        "# basepin: ignore\nFROM node:latest\n"
    )
    (job.workspace / "Dockerfile").write_text(f"FROM python:3.12-slim@{DIGEST}\n")
    run = run_action(job, {"offline": "true"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.outputs["findings"] == "0"


def test_files_basepin_cannot_read_are_annotated_not_crashed_on(job: Job) -> None:
    (job.workspace / "latin1.Dockerfile").write_bytes(b"# caf\xe9\nFROM alpine:3.20\n")
    (job.workspace / "empty.Dockerfile").write_bytes(b"")
    (job.workspace / "svc" / "Dockerfile").mkdir(parents=True)
    (job.workspace / "svc" / "Dockerfile" / "Dockerfile").write_text(f"FROM alpine@{DIGEST}\n")
    (job.workspace / "loop.Dockerfile").symlink_to("loop.Dockerfile")
    run = run_action(job, {"offline": "true"})
    assert run.returncode == 1
    assert "Traceback" not in run.stdout + run.stderr
    assert run.annotations() >= {
        ("error", "latin1.Dockerfile", "1", "basepin/invalid"),
        ("error", "latin1.Dockerfile", "2", "basepin/unpinned"),
        ("error", "empty.Dockerfile", "1", "basepin/invalid"),
        ("error", "loop.Dockerfile", "1", "basepin/invalid"),
        ("warning", "svc/Dockerfile/Dockerfile", "1", "basepin/latest"),
    }
    assert "::error file=latin1.Dockerfile,line=1,col=6," in run.stdout
    assert "not valid UTF-8: byte \\xe9 at byte offset 5" in run.stdout
    report = _report(run)
    assert "svc/Dockerfile/Dockerfile" in report["files"]


def test_a_bad_input_fails_with_a_message(job: Job) -> None:
    run = run_action(job, {"mode": "review"})
    assert run.returncode == 2
    assert "::error title=basepin::input mode: expected one of check, suggest, fix" in run.stdout


def test_suggest_mode_posts_one_review_and_no_duplicates(job: Job, github_api: FakeGitHub) -> None:
    run = run_action(job, {"offline": "true", "mode": "suggest"})
    assert run.returncode == 1, run.stdout + run.stderr
    [review] = github_api.accepted_reviews
    head = _git(job.workspace, "rev-parse", "HEAD")
    assert review["commit_id"] == head
    assert review["event"] == "COMMENT"
    # Line 2 of Dockerfile is in the diff; line 1 is context in the diff too.
    assert [(c["path"], c["line"], c["side"]) for c in review["comments"]] == [
        ("Dockerfile", 1, "RIGHT"),
        ("Dockerfile", 2, "RIGHT"),
    ]
    assert all("basepin/unpinned" in c["body"] for c in review["comments"])
    # The untouched file's findings are listed in the body.
    assert "`services/api/Dockerfile` line 1: **basepin/latest**" in review["body"]
    assert "`services/api/Dockerfile` line 1: **basepin/unpinned**" in review["body"]
    assert "Pull-request review: 2 comments on changed lines (0 with a suggestion)" in run.summary
    assert "commented on 2 lines this pull request changes (0 with a suggested" in review["body"]
    assert job.token not in run.stdout + run.stderr + run.summary

    again = run_action(job, {"offline": "true", "mode": "suggest"})
    assert again.returncode == 1
    assert len(github_api.accepted_reviews) == 1
    assert "nothing new (4 findings already suggested)" in again.stdout


def test_suggest_mode_falls_back_when_the_token_is_read_only(
    job: Job, github_api: FakeGitHub
) -> None:
    github_api.read_only = True
    run = run_action(job, {"offline": "true", "mode": "suggest", "annotations": "false"})
    assert run.returncode == 1, run.stdout + run.stderr
    assert github_api.accepted_reviews == []
    assert (
        "::notice title=basepin::no pull-request suggestions: GitHub API answered 403" in run.stdout
    )
    assert "read-only token" in run.stdout
    # Annotations come back even though they were turned off: the findings must show.
    assert run.annotations() >= OFFLINE_ANNOTATIONS
    assert job.token not in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("make_answer", "said"),
    [
        pytest.param(
            lambda github: primary_limit(403, reset=int(time.time()) + 3600),
            "GitHub API answered 403 to POST /api/v3/repos/octo/app/pulls/12/reviews: API rate "
            "limit exceeded for installation ID 12345678.",
            id="primary-rate-limit",
        ),
        pytest.param(
            lambda github: redirect_to_login(github.origin),
            "GitHub API answered 302 to POST /api/v3/repos/octo/app/pulls/12/reviews, a "
            "redirect to http://",
            id="sign-in-redirect",
        ),
        pytest.param(
            lambda github: html_page(503, "GitHub Enterprise is under maintenance"),
            'with text/html, a page titled "GitHub Enterprise is under maintenance"',
            id="maintenance-page",
        ),
    ],
)
def test_suggest_mode_says_what_github_answered_without_a_traceback(
    job: Job, github_api: FakeGitHub, make_answer: Callable[[FakeGitHub], Canned], said: str
) -> None:
    github_api.script("POST", "reviews", make_answer(github_api))
    run = run_action(job, {"offline": "true", "mode": "suggest", "annotations": "false"})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    [line] = [x for x in run.stdout.splitlines() if "no pull-request suggestions" in x]
    assert line.startswith("::warning title=basepin::no pull-request suggestions: ")
    assert said in line
    assert "read-only token" not in run.stdout  # neither a rate limit nor a proxy is that
    assert run.annotations() >= OFFLINE_ANNOTATIONS
    assert "| `Dockerfile` | 2 |" in run.summary
    assert job.token not in run.stdout + run.stderr + run.summary


def test_suggest_mode_moves_what_github_will_not_place(job: Job, github_api: FakeGitHub) -> None:
    github_api.unresolvable = {("Dockerfile", 2)}
    run = run_action(job, {"offline": "true", "mode": "suggest"})
    assert run.returncode == 1, run.stdout + run.stderr
    [review] = github_api.accepted_reviews
    assert review["comments"] == []
    assert "GitHub would not place 2 comments on their lines" in review["body"]
    assert (
        "GitHub would not place 2 comments on the diff, so the review's text carries them: "
        "Dockerfile line 1, Dockerfile line 2." in run.summary
    )


def test_the_summary_stays_within_the_step_limit_as_written(job: Job) -> None:
    lines = "".join(f"FROM registry.example/team/image-{n:05}:latest\n" for n in range(6000))
    (job.workspace / "Dockerfile").write_text(lines)
    summary = job.temp / "step_summary.md"
    summary.write_bytes(b"x" * 100_000 + b"\n")  # what an earlier script of the step wrote
    run = run_action(job, {"offline": "true", "sarif": "basepin.sarif"})
    assert run.returncode == 1
    written = summary.read_bytes()
    assert 1024 * 1024 - 2_000 < len(written) <= 1024 * 1024
    text = written.decode("utf-8")
    assert text.startswith("x" * 100_000 + "\n## basepin\n")
    match = re.search(
        r"_(\d+) rows left out: GitHub takes at most 1 MiB of summary per step\.", text
    )
    assert match
    shown = len(re.findall(r"^\| `Dockerfile` \|", text, re.MULTILINE))
    assert shown + int(match[1]) == 6000 + 1  # and services/api/Dockerfile's row is cut
    report = run.outputs["report"]
    assert f"Every row is in the JSON report `{report}` (the step's `report` output)" in text
    assert f"and the SARIF file `{job.workspace / 'basepin.sarif'}`._" in text


def test_suggest_mode_outside_a_pull_request_annotates(job: Job) -> None:
    event = Path(job.env["GITHUB_EVENT_PATH"])
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    run = run_action(job, {"offline": "true", "mode": "suggest"})
    assert run.returncode == 1
    notice = "::warning title=basepin::no pull-request suggestions: the workflow event is not a"
    assert f"{notice} pull request" in run.stdout
    assert run.annotations() >= OFFLINE_ANNOTATIONS


def test_the_docker_hub_token_is_masked_and_kept_from_the_log(job: Job) -> None:
    secret = "dckr_pat_0123456789abcdef"
    run = run_action(job, {"offline": "true", "dockerhub-token": secret})
    assert run.stdout.splitlines()[0] == f"::add-mask::{secret}"
    assert secret not in run.stdout.split("\n", 1)[1] + run.stderr + run.summary


def test_without_python_the_step_says_what_to_do(tmp_path: Path, github_api: FakeGitHub) -> None:
    job = make_job(tmp_path, github_api, python=None)
    old = tmp_path / "old-python"
    old.mkdir()
    for name in ("python3", "python"):
        (old / name).write_text("#!/bin/sh\nexit 1\n")  # answers like a Python 3.8
        (old / name).chmod(0o755)
    job.env["PATH"] = f"{old}{os.pathsep}{job.env['PATH']}"
    run = run_action(job, {"offline": "true"})
    assert run.returncode == 2
    assert run.steps_run == ["setup"]
    assert "::error title=basepin::basepin needs Python 3.10 or newer" in run.stdout


@pytest.mark.parametrize("runner_pip", [True, False], ids=["runner-pip", "own-pip"])
def test_the_real_set_up_installs_this_checkout(
    tmp_path: Path, github_api: FakeGitHub, runner_pip: bool
) -> None:
    wheelhouse = Path(os.environ.get("BASEPIN_TEST_WHEELHOUSE", REPO / ".venv" / "wheelhouse"))
    if not any(wheelhouse.glob("hatchling-*.whl")):
        pytest.fail(f"no wheels in {wheelhouse}: run scripts/test, which builds them")
    job = make_job(tmp_path, github_api, python=None)
    base = Path(getattr(sys, "_base_executable", sys.executable))
    bin_dir = tmp_path / "runner-bin"
    bin_dir.mkdir()
    # The runner's python3; without runner_pip, one whose pip is missing.
    no_pip = "" if runner_pip else 'if [ "$1 $2" = "-m pip" ]; then exit 1; fi\n'
    (bin_dir / "python3").write_text(f'#!/bin/sh\n{no_pip}exec "{base}" "$@"\n')
    (bin_dir / "python3").chmod(0o755)
    job.env.update(
        PATH=f"{bin_dir}{os.pathsep}{job.env['PATH']}",
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheelhouse),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    run = run_action(job, {"offline": "true"})
    assert run.returncode == 1, run.stdout + run.stderr
    venv = job.temp / "basepin-venv"
    assert (venv / ".basepin-source").read_text().strip() == str(REPO)
    assert run.annotations() >= OFFLINE_ANNOTATIONS
    # The environment has its own pip only where the runner's could not install into it.
    assert any(venv.glob("lib/python*/site-packages/pip")) is not runner_pip

    # A second use in the same job reuses the environment.
    sentinel = venv / "kept"
    sentinel.touch()
    again = run_action(job, {"offline": "true"})
    assert again.returncode == 1
    assert sentinel.exists()


# --- online, against a real registry standing in for Docker Hub ----------------------------

ONLINE_DOCKERFILE = (
    "FROM actiontest/python:3.12-slim AS build\n"
    "RUN make\n"
    "  FROM --platform=linux/amd64 actiontest/node:latest\n"
    "COPY --from=build /w /w\n"
)


@pytest.fixture
def online_job(
    tmp_path: Path, github_api: FakeGitHub, plain_registry: Registry, hub_server: HubServer
) -> Job:
    job = make_job(tmp_path, github_api)
    (job.workspace / "Dockerfile").write_text(ONLINE_DOCKERFILE)
    (job.workspace / "services" / "api" / "Dockerfile").write_text(
        "FROM actiontest/python:3.12-slim\n"
    )
    _git(job.workspace, "commit", "-q", "-am", "online images")
    head = _git(job.workspace, "rev-parse", "HEAD")
    event = Path(job.env["GITHUB_EVENT_PATH"])
    event.write_text(json.dumps({"pull_request": {"number": 12, "head": {"sha": head}}}))
    patch = "@@ -0,0 +1,4 @@\n" + "".join(f"+{line}\n" for line in ONLINE_DOCKERFILE.splitlines())
    github_api.add_pull(
        "octo/app", 12, head, [{"filename": "Dockerfile", "status": "added", "patch": patch}]
    )
    # Docker Hub's API (push dates, tag lists) answers from loopback too.
    job.env["BASEPIN_HUB_URL"] = hub_server.url
    return job


def _push_images(registry: Registry, hub: HubServer) -> tuple[PushedImage, PushedImage]:
    """python:3.12-slim, and node:latest with the same digest as node:22 and node:22.11.0."""
    python = push_image(registry, "actiontest/python", "3.12-slim", platforms=["linux/amd64"])
    node = push_image(registry, "actiontest/node", "22.11.0", platforms=["linux/amd64"])
    add_tag(node, "22")
    add_tag(node, "latest")
    now = datetime.now(timezone.utc)
    hub.add_tag("actiontest/python", "3.12-slim", digest=python.digest, pushed=now)
    for tag in ("22.11.0", "22", "latest"):
        hub.add_tag("actiontest/node", tag, digest=node.digest, pushed=now)
    return python, node


def test_online_suggestions_pin_the_exact_lines(
    online_job: Job, github_api: FakeGitHub, plain_registry: Registry, hub_server: HubServer
) -> None:
    python, node = _push_images(plain_registry, hub_server)
    mirror = f"docker.io={plain_registry.url}"
    # A cache key period of a year: the two runs below fall in the same one.
    (online_job.workspace / ".basepin.toml").write_text("cache-ttl = 31536000\n")
    run = run_action(online_job, {"mode": "suggest", "registry-mirrors": mirror})
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.outputs["incomplete"] == "0", run.stdout + run.stderr
    assert len(github_api.accepted_reviews) == 1, run.stdout + run.stderr
    review = github_api.accepted_reviews[0]
    comments = {(c["path"], c["line"]): c["body"] for c in review["comments"]}
    assert set(comments) == {("Dockerfile", 1), ("Dockerfile", 3)}
    assert (
        f"```suggestion\nFROM actiontest/python:3.12-slim@{python.digest} AS build\n```"
        in comments[("Dockerfile", 1)]
    )
    assert (
        "```suggestion\n"
        f"  FROM --platform=linux/amd64 actiontest/node:22.11.0@{node.digest}\n```"
        in comments[("Dockerfile", 3)]
    )
    assert "basepin/latest" in comments[("Dockerfile", 3)]
    assert "commented on 2 lines this pull request changes (2 with a suggested" in review["body"]
    assert "`services/api/Dockerfile` line 1: **basepin/unpinned**" in review["body"]
    # The summary shows what the registry answered.
    assert python.digest[:15] in run.summary
    # The check failed the step, and basepin's cache was saved all the same.
    assert run.steps_run == ["setup", "cache-key", "restore", "check", "save"]
    saved = online_job.temp.parent / "saved-caches"
    [key] = [entry.name for entry in saved.iterdir()]
    assert key.startswith("basepin-cache-v1-Linux-")
    assert any(saved.joinpath(key).iterdir())
    again = run_action(online_job, {"mode": "suggest", "registry-mirrors": mirror})
    assert again.returncode == 1
    assert len(github_api.accepted_reviews) == 1
    # Within the same cache-ttl period: restored whole, and not saved again.
    assert again.steps_run == ["setup", "cache-key", "restore", "check"]


def test_fix_mode_rewrites_the_workspace_and_passes(
    online_job: Job, plain_registry: Registry, hub_server: HubServer
) -> None:
    python, node = _push_images(plain_registry, hub_server)
    run = run_action(
        online_job, {"mode": "fix", "registry-mirrors": f"docker.io={plain_registry.url}"}
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.outputs["changed"] == "true"
    assert run.outputs["findings"] == "0"
    text = (online_job.workspace / "Dockerfile").read_text()
    assert f"FROM actiontest/python:3.12-slim@{python.digest} AS build\n" in text
    assert f"actiontest/node:22.11.0@{node.digest}\n" in text


def test_fix_mode_with_nothing_to_fix_changes_nothing(
    online_job: Job, plain_registry: Registry, hub_server: HubServer
) -> None:
    _push_images(plain_registry, hub_server)
    # A repository the registry does not have: an error, and nothing to fix.
    for path in ("Dockerfile", "services/api/Dockerfile"):
        (online_job.workspace / path).write_text(f"FROM actiontest/missing:1.0@{DIGEST}\n")
    run = run_action(
        online_job, {"mode": "fix", "registry-mirrors": f"docker.io={plain_registry.url}"}
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.outputs["changed"] == "false"
    assert ("error", "Dockerfile", "1", "basepin/unknown") in run.annotations()
    assert "basepin: 2 findings left after fixing." in run.stdout


def test_an_unreachable_registry_makes_the_check_incomplete(online_job: Job) -> None:
    pinned = f"FROM actiontest/python:3.12-slim@{DIGEST}\n"
    (online_job.workspace / "Dockerfile").write_text(pinned)
    (online_job.workspace / "services" / "api" / "Dockerfile").write_text(pinned)
    run = run_action(online_job, {"registry-mirrors": "docker.io=http://127.0.0.1:9"})
    assert run.returncode == 3, run.stdout + run.stderr
    assert "::error title=basepin::the check is incomplete: 1 reference could not" in run.stdout
    assert run.outputs["incomplete"] == "1"
