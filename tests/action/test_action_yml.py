"""action.yml: valid metadata, every input documented and passed through the environment only."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from basepin.action.inputs import DEFAULTS, env_name

REPO = Path(__file__).resolve().parents[2]
ACTION: dict[str, Any] = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
STEPS: list[dict[str, Any]] = ACTION["runs"]["steps"]
CHECK_STEP = next(step for step in STEPS if step.get("id") == "check")


def test_action_yml_fits_the_github_actions_schema() -> None:
    tool = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.github-actions", str(REPO / "action.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


RUN_STEPS = [step for step in STEPS if "run" in step]
# The actions the composite uses, each pinned to the commit its release tag points to (read
# from the action's own repository, github.com/actions/cache).
CACHE_PIN = "27d5ce7f107fe9357f9df03efb73ab90386fccae"
CACHE_TAG = "v5.0.5"


def test_action_is_a_composite_of_bash_steps_and_the_cache() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert [step["shell"] for step in RUN_STEPS] == ["bash"] * len(RUN_STEPS)
    used = [step["uses"] for step in STEPS if "uses" in step]
    assert used == [f"actions/cache/restore@{CACHE_PIN}", f"actions/cache/save@{CACHE_PIN}"]
    text = (REPO / "action.yml").read_text(encoding="utf-8")
    assert text.count(f"@{CACHE_PIN} # {CACHE_TAG}\n") == 2


def test_the_cache_is_kept_across_runs_under_the_key_it_is_named_by() -> None:
    by_id = {step["id"]: step for step in STEPS}
    restore, save = by_id["restore"], by_id["save"]
    folder = "${{ runner.temp }}/basepin-cache"
    key = "${{ steps.cache-key.outputs.key }}"
    assert restore["with"] == {
        "path": folder,
        "key": key,
        "restore-keys": "${{ steps.cache-key.outputs.prefix }}",
    }
    assert save["with"] == {"path": folder, "key": key}
    assert CHECK_STEP["env"]["BASEPIN_CACHE_DIR"] == folder
    # Saved when the check fails the step too, and only where no cache has that key yet.
    assert save["if"].startswith("always() && ")
    assert "steps.restore.outputs.cache-hit != 'true'" in save["if"]
    assert [step["id"] for step in STEPS] == ["setup", "cache-key", "restore", "check", "save"]
    offline_skips = "inputs.offline != 'true'"
    assert by_id["cache-key"]["if"] == restore["if"] == offline_skips


@pytest.mark.parametrize("name", sorted(ACTION["inputs"]))
def test_input_is_documented_with_a_default(name: str) -> None:
    spec = ACTION["inputs"][name]
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", name), "inputs are kebab-case"
    assert spec["description"].strip()
    assert "default" in spec
    assert spec.get("required", False) is False
    expected = "${{ github.token }}" if name == "github-token" else DEFAULTS[name]
    assert str(spec["default"]) == expected


def test_inputs_are_the_ones_the_program_reads() -> None:
    assert set(ACTION["inputs"]) == set(DEFAULTS)


@pytest.mark.parametrize("name", sorted(ACTION["inputs"]))
def test_input_reaches_the_program_through_the_environment(name: str) -> None:
    assert CHECK_STEP["env"][env_name(name)] == "${{ inputs." + name + " }}"


@pytest.mark.parametrize("step", RUN_STEPS, ids=[step["id"] for step in RUN_STEPS])
def test_no_expression_is_pasted_into_a_script(step: dict[str, Any]) -> None:
    # ${{ }} in script text is expanded before the shell reads it: script injection.
    assert "${{" not in step["run"]
    assert not re.search(r"\b(inputs|github|secrets|env|steps)\.[\w-]+", step["run"])


def test_only_the_check_step_sees_the_docker_hub_token() -> None:
    # The check step's program masks it before it prints anything (tests/action/test_action_run).
    for step in STEPS:
        seen = "dockerhub-token" in json.dumps(step.get("env", {}))
        assert seen == (step is CHECK_STEP), step["id"]


@pytest.mark.parametrize("name", sorted(ACTION["outputs"]))
def test_output_comes_from_the_check_step(name: str) -> None:
    spec = ACTION["outputs"][name]
    assert spec["description"].strip()
    assert spec["value"] == "${{ steps.check.outputs." + name + " }}"
