from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from basepin.discover import discover, find, kind_of
from basepin.errors import UsageError


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
    assert (kind_of(name) == "dockerfile") is expected


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


def _relative(root: Path, paths: list[str]) -> list[str]:
    return [Path(p).relative_to(root).as_posix() for p in paths]


@pytest.mark.parametrize("in_git", [True, False], ids=["git-work-tree", "plain-folder"])
def test_names_that_cannot_be_read_are_kept_for_reading_to_explain(
    tmp_path: Path, in_git: bool
) -> None:
    if in_git:
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    _tree(tmp_path, ["a/Dockerfile", "gone/Dockerfile"])
    (tmp_path / "loop.Dockerfile").symlink_to("loop.Dockerfile")
    (tmp_path / "dangling.Dockerfile").symlink_to("missing")
    (tmp_path / "to-a-folder.Dockerfile").symlink_to("a")
    (tmp_path / "Containerfile").mkdir()
    os.mkfifo(tmp_path / "pipe.Dockerfile")
    if in_git:
        subprocess.run(["git", "-C", str(tmp_path), "add", "-A"], check=True)
        # Deleted from the work tree, still in the index: nothing to read, nothing to say.
        (tmp_path / "gone" / "Dockerfile").unlink()
    else:
        (tmp_path / "gone" / "Dockerfile").unlink()
    found = find([str(tmp_path)])
    assert _relative(tmp_path, found.files) == [
        "a/Dockerfile",
        "dangling.Dockerfile",
        "loop.Dockerfile",
    ]
    assert found.unreadable == {}


def test_a_folder_the_walk_cannot_list_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path, ["Dockerfile", "locked/Dockerfile", "vendor/locked/Dockerfile"])
    scandir = os.scandir

    def denied(path: str = ".") -> object:
        if Path(path).name == "locked":
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", denied)
    monkeypatch.chdir(tmp_path)
    assert find(["."]) == (
        ["Dockerfile"],
        {"locked": "Permission denied", str(Path("vendor", "locked")): "Permission denied"},
    )
    # Excluding a folder's contents excludes the folder.
    assert find(["."], exclude=["vendor/*"]) == (["Dockerfile"], {"locked": "Permission denied"})
    assert find(["."], exclude=["locked", "vendor/locked"]).unreadable == {}


def test_folders_git_could_not_open_are_named_from_where_the_search_began(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git names them from the top of the work tree; the search began in svc/.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    _tree(tmp_path, ["svc/api/Dockerfile"])
    run = subprocess.run

    def with_warning(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        result: subprocess.CompletedProcess[bytes] = run(*args, **kwargs)
        if args[0][:2] == ["git", "ls-files"]:
            assert kwargs["env"]["LC_ALL"] == "C"
            result.stderr += b"warning: could not open directory 'svc/locked/': Permission denied\n"
        return result

    monkeypatch.setattr(subprocess, "run", with_warning)
    found = find([str(tmp_path / "svc")])
    assert _relative(tmp_path, found.files) == ["svc/api/Dockerfile"]
    assert found.unreadable == {str(tmp_path / "svc" / "locked"): "Permission denied"}
