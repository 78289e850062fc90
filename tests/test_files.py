from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from basepin.errors import UsageError
from basepin.files import discover, is_dockerfile_name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Dockerfile", True),
        ("Containerfile", True),
        ("api.Dockerfile", True),
        ("api.dockerfile", True),
        ("Dockerfile.prod", True),
        ("Containerfile.arm64", True),
        ("Dockerfile-dev", True),
        ("Dockerfile.dockerignore", False),
        ("Containerfile.containerignore", False),
        ("dockerfile", False),
        ("Dockerfiles", False),
        ("README.md", False),
        ("docker-compose.yml", False),
    ],
)
def test_dockerfile_names(name: str, expected: bool) -> None:
    assert is_dockerfile_name(name) is expected


def _tree(root: Path, names: list[str]) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("FROM alpine:3.20\n")


def test_walk_outside_git_skips_vcs_dependencies_and_venvs(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        [
            "Dockerfile",
            "svc/api.Dockerfile",
            "svc/Containerfile.arm64",
            "node_modules/pkg/Dockerfile",
            ".git/Dockerfile",
            "env/Dockerfile",
            "svc/notes.txt",
        ],
    )
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    found = discover([str(tmp_path)])
    assert [Path(p).relative_to(tmp_path).as_posix() for p in found] == [
        "Dockerfile",
        "svc/Containerfile.arm64",
        "svc/api.Dockerfile",
    ]


def test_git_work_tree_honours_gitignore(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    _tree(tmp_path, ["Dockerfile", "build/Dockerfile", "app/Dockerfile-dev"])
    (tmp_path / ".gitignore").write_text("build/\n")
    found = discover([str(tmp_path)])
    assert sorted(Path(p).relative_to(tmp_path).as_posix() for p in found) == [
        "Dockerfile",
        "app/Dockerfile-dev",
    ]


def test_named_files_are_taken_whatever_their_name_and_only_once(tmp_path: Path) -> None:
    _tree(tmp_path, ["base.txt"])
    named = str(tmp_path / "base.txt")
    assert discover([named, named]) == [named]


def test_folder_named_dockerfile_is_searched_not_read(tmp_path: Path) -> None:
    _tree(tmp_path, ["Dockerfile/Dockerfile"])
    assert discover([str(tmp_path / "Dockerfile")]) == [str(tmp_path / "Dockerfile" / "Dockerfile")]


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file or folder"):
        discover([str(tmp_path / "nope")])


def test_exclude_globs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path, ["Dockerfile", "vendor/x/Dockerfile"])
    monkeypatch.chdir(tmp_path)
    assert discover(["."], exclude=["vendor/*"]) == ["Dockerfile"]
