from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from basepin.config import Config, find_config, load_config, parse_table
from basepin.discover import KINDS
from basepin.errors import ConfigError


def test_defaults() -> None:
    config = Config()
    assert config.fail_on == "error"
    assert config.max_age == 90
    assert config.severity_of("unresolved") == "warning"
    assert config.severity_of("unpinned") == "error"


def test_pyproject_table_is_found_walking_up(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.basepin]\nmax-age = 30\nplatforms = ["linux/amd64"]\n'
        '[tool.basepin.severity]\nlatest = "warning"\n'
    )
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    found = find_config(deep)
    assert found == tmp_path / "pyproject.toml"
    config = load_config(found)
    assert config.max_age == 30
    assert config.platforms == ("linux/amd64",)
    assert config.severity_of("latest") == "warning"


def test_dotfile_beats_pyproject_in_the_same_folder(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.basepin]\nmax-age = 30\n")
    (tmp_path / ".basepin.toml").write_text("max-age = 7\n")
    found = find_config(tmp_path)
    assert found == tmp_path / ".basepin.toml"
    assert load_config(found).max_age == 7


def test_pyproject_without_table_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    inner = tmp_path / "inner"
    inner.mkdir()
    found = find_config(inner)
    assert found is None or tmp_path not in found.parents


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"max-age": "ninety"}, "max-age must be a whole number"),
        ({"max-age": -1}, "max-age must be a whole number >= 0"),
        ({"fail-on": "fatal"}, "fail-on must be error or warning or note"),
        ({"platforms": "linux/amd64"}, "platforms must be a list of strings"),
        ({"severity": {"nope": "error"}}, "severity.nope: unknown rule"),
        ({"severity": {"latest": "loud"}}, "severity.latest must be error, warning, note or off"),
        ({"registry-mirrors": {"docker.io": 5}}, "registry-mirrors must be a table of strings"),
        ({"colour": "red"}, "unknown setting colour"),
        ({"kinds": "compose"}, "kinds must be a list of strings"),
        ({"kinds": []}, "kinds must name one or more of dockerfile, compose, workflow, action"),
        ({"kinds": ["compose", "helm"]}, r"kinds must name .*, not \['compose', 'helm'\]"),
        ({"files": ["ci/*.yml"]}, "files must be a table of kinds of file"),
        ({"files": {"helm": ["x"]}}, "files.helm: unknown kind of file; known: dockerfile"),
        ({"files": {"gitlab-ci": "ci/*.yml"}}, "files.gitlab-ci must be a list of path globs"),
        ({"files": {"gitlab-ci": [""]}}, "files.gitlab-ci must be a list of path globs"),
    ],
)
def test_bad_values_name_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_table(table, Path("cfg.toml"))


def test_broken_toml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / ".basepin.toml"
    path.write_text("max-age = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_cli_values_win() -> None:
    config = parse_table({"fail-on": "warning", "max-age": 10}).merged(fail_on="note", max_age=None)
    assert config.fail_on == "note"
    assert config.max_age == 10


def test_kinds_are_all_unless_chosen() -> None:
    assert Config().kinds == parse_table({}).kinds == KINDS
    chosen = parse_table({"kinds": ["compose", "dockerfile", "compose"]})
    assert chosen.kinds == ("compose", "dockerfile")
    assert chosen.merged(kinds=None).kinds == ("compose", "dockerfile")
    assert chosen.merged(kinds=("gitlab-ci",)).kinds == ("gitlab-ci",)


def test_files_globs_are_read_from_the_configurations_folder(tmp_path: Path) -> None:
    assert Config().named_files() is None
    path = tmp_path / ".basepin.toml"
    path.write_text('[files]\ngitlab-ci = ["ci/*.yml", ".gitlab/*.yml"]\n')
    config = load_config(path)
    assert config.files == {"gitlab-ci": ("ci/*.yml", ".gitlab/*.yml")}
    named = config.named_files()
    assert named is not None
    assert named.root == str(tmp_path) + os.sep
    ((kind, pattern),) = named.patterns
    assert kind == "gitlab-ci"
    assert [bool(pattern.match(p)) for p in ("ci/a.yml", ".gitlab/b.yml", "a.yml")] == [
        True,
        True,
        False,
    ]
