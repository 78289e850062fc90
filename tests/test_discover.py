from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from basepin.discover import (
    KINDS,
    NAMES,
    discover,
    env_file_of,
    find,
    is_manifest,
    kind_for,
    kind_of,
    named_files,
    written_with,
)
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


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("Dockerfile", "dockerfile"),
        ("svc/Dockerfile.yaml", "dockerfile"),  # Dockerfile.* comes first
        ("Dockerfile.dockerignore", None),
        ("compose.yaml", "compose"),
        ("compose.yml", "compose"),
        ("docker-compose.yaml", "compose"),
        ("a/docker-compose.yml", "compose"),
        ("a/compose.override.yaml", "compose"),
        ("a/docker-compose.override.yml", "compose"),
        ("a/compose.prod.yaml", "compose"),
        ("a/docker-compose.ci.yml", "compose"),
        ("a/Compose.yaml", "kubernetes"),  # names are case-sensitive, as Compose reads them
        ("a/my-compose.yaml", "kubernetes"),
        (".github/workflows/ci.yml", "workflow"),
        ("repo/.github/workflows/release.yaml", "workflow"),
        # GitHub reads the folder's own files; what it holds is a workflow whatever its name.
        (".github/workflows/compose.yaml", "workflow"),
        (".github/workflows/action.yml", "workflow"),
        (".github/workflows/sub/ci.yml", "kubernetes"),
        (".github/workflows/README.md", None),
        ("github/workflows/ci.yml", "kubernetes"),
        (".github/dependabot.yml", "kubernetes"),
        ("action.yml", "action"),
        (".github/actions/build/action.yaml", "action"),
        ("action.yml.bak", None),
        (".devcontainer.json", "devcontainer"),
        (".devcontainer/devcontainer.json", "devcontainer"),
        ("x/.devcontainer/python/devcontainer.json", "devcontainer"),
        (".devcontainer/a/b/devcontainer.json", None),
        ("src/devcontainer.json", None),
        (".devcontainer/features.json", None),
        (".gitlab-ci.yml", "gitlab-ci"),
        ("ci/deploy.gitlab-ci.yml", "gitlab-ci"),
        (".gitlab-ci.yaml", "kubernetes"),  # GitLab's own default is .gitlab-ci.yml only
        ("deploy/app.yaml", "kubernetes"),
        ("values.yml", "kubernetes"),
        ("package.json", None),
        ("README.md", None),
        (".env", None),
        ("x.yaml.txt", None),
    ],
)
def test_the_one_table_of_names(path: str, kind: str | None) -> None:
    assert kind_of(path) == kind
    assert kind_of(str(Path("/repo", path))) == kind
    assert kind_for(path) == (kind or "dockerfile")


def test_every_kind_has_names_and_the_table_knows_only_kinds() -> None:
    named = [kind for kind, _ in NAMES if kind is not None]
    assert set(named) == set(KINDS)
    assert len(named) == len(KINDS)
    # A component's glob holds at most one `*` (see discover._matches).
    assert all(
        part.count("*") <= 1
        for _, patterns in NAMES
        for pattern in patterns
        for part in pattern.split("/")
    )


def test_a_short_relative_path_is_read_from_where_it_stands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".devcontainer" / "py").mkdir(parents=True)
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / ".devcontainer")
    assert kind_of("devcontainer.json") == "devcontainer"
    assert kind_of("py/devcontainer.json") == "devcontainer"
    monkeypatch.chdir(tmp_path / ".devcontainer" / "py")
    assert kind_of("devcontainer.json") == "devcontainer"
    monkeypatch.chdir(tmp_path / ".github" / "workflows")
    assert kind_of("ci.yml") == "workflow"
    assert kind_of("./ci.yml") == "workflow"
    monkeypatch.chdir(tmp_path)
    assert kind_of("devcontainer.json") is None
    assert kind_of("ci.yml") == "kubernetes"


@pytest.mark.parametrize(
    ("text", "manifest"),
    [
        (b"apiVersion: v1\nkind: Pod\n", True),
        (b"kind: Pod\napiVersion: v1\n", True),
        (b"\xef\xbb\xbfapiVersion: v1\r\nkind: Pod\r\n", True),
        (b"# a list\n---\napiVersion: v1\nkind: List\nitems: []\n", True),
        (b'"apiVersion": v1\n"kind": Pod\n', True),
        (b"apiVersion : v1\nkind\t: Pod\n", True),
        (b"apiVersion: v2\nname: chart\n", False),  # a Chart.yaml
        (b"kind: x\n", False),
        (b"spec:\n  apiVersion: v1\n  kind: Pod\n", False),  # not at the start of lines
        (b"# apiVersion: v1\n# kind: Pod\n", False),
        (b"apiVersionx: v1\nkind: Pod\n", False),
        (b"apiVersion: v1\nkind: Pod\n\xff\xfe", True),  # reading it says what is wrong
        (b"", False),
    ],
)
def test_what_makes_a_yaml_file_a_manifest(tmp_path: Path, text: bytes, manifest: bool) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(text)
    assert is_manifest(str(path)) is manifest


def test_a_yaml_file_that_cannot_be_read_is_kept_to_say_why(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    assert is_manifest(str(tmp_path / "pipe.yaml"))  # not waited on: reading says what it is
    (tmp_path / "pipe.yaml").unlink()
    (tmp_path / "dangling.yaml").symlink_to("missing")
    (tmp_path / "pod.yaml").write_text("apiVersion: v1\nkind: Pod\n")
    (tmp_path / "settings.yaml").write_text("debug: true\n")
    found = discover([str(tmp_path)])
    assert _relative(tmp_path, found) == ["dangling.yaml", "pod.yaml"]


def test_kinds_choose_what_is_found_named_or_searched(tmp_path: Path) -> None:
    _tree(tmp_path, ["Dockerfile", "compose.yaml", ".gitlab-ci.yml", "notes.txt"])
    everything = discover([str(tmp_path)])
    assert _relative(tmp_path, everything) == [".gitlab-ci.yml", "Dockerfile", "compose.yaml"]
    assert _relative(tmp_path, discover([str(tmp_path)], kinds=["compose"])) == ["compose.yaml"]
    named = [str(tmp_path / "notes.txt"), str(tmp_path / "compose.yaml")]
    assert discover(named, kinds=["dockerfile"]) == named[:1]  # any other name: a Dockerfile


def test_a_named_env_stands_for_the_compose_files_beside_it(tmp_path: Path) -> None:
    _tree(tmp_path, ["a/compose.yaml", "a/compose.ci.yml", "a/Dockerfile", "a/.env", "b/.env"])
    (tmp_path / "a" / "compose.d.yaml").mkdir()
    env = str(tmp_path / "a" / ".env")
    assert _relative(tmp_path, discover([env, str(tmp_path / "b" / ".env")])) == [
        "a/compose.ci.yml",
        "a/compose.yaml",
    ]
    assert discover([env], kinds=["dockerfile"]) == []


def test_a_compose_file_is_written_with_its_env() -> None:
    compose, env = str(Path("svc", "compose.yaml")), str(Path("svc", ".env"))
    assert env_file_of(compose) == env
    assert written_with(compose) == [compose, env]
    assert written_with("Dockerfile") == ["Dockerfile"]


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


@pytest.mark.parametrize("git", [True, False], ids=["git", "walk"])
def test_the_configurations_globs_name_more_files_of_a_kind(tmp_path: Path, git: bool) -> None:
    if git:
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    _tree(
        tmp_path,
        [".gitlab-ci.yml", "ci/build.yml", "ci/deep/test.yml", "docker/app.build", "notes.txt"],
    )
    named = named_files(
        str(tmp_path), {"gitlab-ci": ["ci/*.yml"], "dockerfile": ["docker/*.build"]}
    )
    found = find([str(tmp_path)], named=named).files
    assert _relative(tmp_path, found) == [
        ".gitlab-ci.yml",
        "ci/build.yml",
        "ci/deep/test.yml",  # `*` crosses folders, as in `exclude`
        "docker/app.build",
    ]
    assert [kind_for(path, named) for path in found] == [
        "gitlab-ci",
        "gitlab-ci",
        "gitlab-ci",
        "dockerfile",
    ]
    # Without the globs, a YAML file that is no manifest is no file to check.
    assert _relative(tmp_path, find([str(tmp_path)]).files) == [".gitlab-ci.yml"]
    assert _relative(tmp_path, find([str(tmp_path)], kinds=["dockerfile"], named=named).files) == [
        "docker/app.build"
    ]


def test_the_globs_are_read_from_the_configurations_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path, ["project/ci/build.yml", "other/ci/build.yml"])
    named = named_files(str(tmp_path / "project"), {"gitlab-ci": ["ci/*.yml"]})
    inside, outside = "project/ci/build.yml", "other/ci/build.yml"
    for where in (tmp_path, tmp_path / "project", tmp_path / "other"):
        monkeypatch.chdir(where)
        assert kind_for(str(tmp_path / inside), named) == "gitlab-ci"
        assert kind_for(os.path.relpath(tmp_path / inside), named) == "gitlab-ci"
        assert kind_for(str(tmp_path / outside), named) == "kubernetes"  # by its name alone
    monkeypatch.chdir(tmp_path)
    assert discover(["."], named=named) == [os.path.normpath(inside)]
    assert written_with(inside, named_files(".", {"compose": ["project/ci/*.yml"]})) == [
        inside,
        str(Path("project", "ci", ".env")),
    ]


def test_the_globs_come_before_the_table(tmp_path: Path) -> None:
    named = named_files(str(tmp_path), {"kubernetes": ["deploy/compose.yaml"]})
    assert kind_for(str(tmp_path / "deploy" / "compose.yaml"), named) == "kubernetes"
    assert kind_for(str(tmp_path / "compose.yaml"), named) == "compose"
