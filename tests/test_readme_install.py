"""The README's quickstart, run as written: it installs basepin from this checkout and leaves
the `basepin` command on PATH. Offline: pip takes the wheels scripts/test built."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _quickstart() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Quickstart") :]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match[1]


def test_the_quickstart_leaves_basepin_on_path(tmp_path: Path) -> None:
    wheelhouse = Path(os.environ.get("BASEPIN_TEST_WHEELHOUSE", REPO / ".venv" / "wheelhouse"))
    if not any(wheelhouse.glob("hatchling-*.whl")):
        pytest.fail(f"no wheels in {wheelhouse}: run scripts/test, which builds them")
    home = tmp_path / "home"
    home.mkdir()
    # A login shell's PATH: ~/.local/bin (once it exists) and the system's, not this venv's.
    system_path = [
        part
        for part in os.environ["PATH"].split(os.pathsep)
        if part and not Path(part, "basepin").exists()
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV"))}
    env.update(
        HOME=str(home),
        PATH=os.pathsep.join([str(home / ".local" / "bin"), *system_path]),
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheelhouse),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    script = "set -eu\n" + _quickstart() + "command -v basepin\n"
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    version, where = result.stdout.splitlines()[-2:]
    assert version.startswith("basepin ")
    assert where == str(home / ".local" / "bin" / "basepin")
    # The command works from anywhere, as the quickstart goes on to use it.
    project = tmp_path / "project"
    project.mkdir()
    (project / "Dockerfile").write_text("FROM alpine:3.20\n")
    check = subprocess.run(
        ["basepin", "--offline"], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    assert check.returncode == 1, check.stderr
    assert check.stdout.startswith("Dockerfile:1:6: error unpinned: alpine:3.20")
