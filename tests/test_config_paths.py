"""Configuration files named by str paths, as the command line gives them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from basepin.config import find_config, find_config_file, load_config, parse_table
from basepin.errors import ConfigError


def test_find_config_file_is_find_config_as_str(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.basepin]\nmax-age = 30\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "Dockerfile").write_text("FROM alpine:3.20\n")
    for start in (deep, deep / "Dockerfile", str(deep)):
        found = find_config_file(start)
        assert found == str(find_config(start)) == str(tmp_path.resolve() / "pyproject.toml")
        assert isinstance(found, str)


def test_find_config_file_resolves_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / ".basepin.toml").write_text("max-age = 7\n")
    (tmp_path / "link").symlink_to(real)
    assert find_config_file(tmp_path / "link") == str(real.resolve() / ".basepin.toml")


def test_nothing_found_is_none(tmp_path: Path) -> None:
    found = find_config_file(tmp_path)
    assert found is None or not found.startswith(str(tmp_path.resolve()) + os.sep)


def test_load_config_takes_a_str_and_keeps_it_as_source(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n[tool.basepin]\nfail-on = "warning"\n')
    config = load_config(str(path))
    assert config.fail_on == "warning"
    assert config.source == str(path)
    assert load_config(path).source == path


def test_errors_name_a_str_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^cfg\.toml: max-age"):
        parse_table({"max-age": "x"}, "cfg.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "missing.toml"))
