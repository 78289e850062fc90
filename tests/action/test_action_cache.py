"""The key the Action keeps basepin's cache under: it changes every cache-ttl seconds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from basepin.action.cache import SHORTEST_PERIOD, cache_key, main


def _env(folder: Path, **more: str) -> dict[str, str]:
    return {"RUNNER_OS": "Linux", "INPUT_PATHS": str(folder), **more}


def test_the_key_changes_every_ten_minutes_by_default(tmp_path: Path) -> None:
    env = _env(tmp_path)
    first = cache_key(env, 6000.0)
    assert first == {"key": "basepin-cache-v1-Linux-10", "prefix": "basepin-cache-v1-Linux-"}
    assert cache_key(env, 6599.0) == first
    assert cache_key(env, 6600.0)["key"] == "basepin-cache-v1-Linux-11"


@pytest.mark.parametrize(
    ("where", "text"),
    [
        pytest.param(".basepin.toml", "cache-ttl = 3600\n", id="dotfile"),
        pytest.param("pyproject.toml", "[tool.basepin]\ncache-ttl = 3600\n", id="pyproject"),
    ],
)
def test_the_key_follows_the_configured_cache_ttl(tmp_path: Path, where: str, text: str) -> None:
    (tmp_path / where).write_text(text)
    (tmp_path / "svc").mkdir()
    env = _env(tmp_path / "svc")
    assert cache_key(env, 7199.0)["key"].endswith("-1")
    assert cache_key(env, 7200.0)["key"].endswith("-2")


def test_a_named_configuration_file_decides(tmp_path: Path) -> None:
    config = tmp_path / "basepin.toml"
    config.write_text("cache-ttl = 0\n")
    env = _env(tmp_path, INPUT_CONFIG=str(config))
    assert cache_key(env, SHORTEST_PERIOD * 5.0)["key"].endswith("-5")


def test_a_configuration_that_cannot_be_read_leaves_the_default(tmp_path: Path) -> None:
    (tmp_path / ".basepin.toml").write_text("cache-ttl = 'soon'\n")
    assert cache_key(_env(tmp_path), 6000.0)["key"].endswith("-10")


def test_the_key_goes_to_the_step_outputs(tmp_path: Path) -> None:
    output = tmp_path / "output"
    assert main(_env(tmp_path, GITHUB_OUTPUT=str(output)), now=600.0) == 0
    assert output.read_text() == "key=basepin-cache-v1-Linux-1\nprefix=basepin-cache-v1-Linux-\n"
    # As action.yml runs it.
    result = subprocess.run(
        [sys.executable, "-m", "basepin.action.cache"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("key=basepin-cache-v1-Linux-")
