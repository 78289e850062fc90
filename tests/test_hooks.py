"""The pre-commit integrations, driven for real: the framework's try-repo and the plain git hook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from basepin.discover import kind_of
from fixtures.registry import Registry, push_image

REPO = Path(__file__).resolve().parent.parent
FLOATING = "FROM alpine:3.20\n"
PINNED = "FROM alpine:3.20@sha256:" + "a" * 64 + "\n"


def _git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
        GIT_CONFIG_NOSYSTEM="1",
    )
    return env


def _git(repo: Path, *args: str, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


@pytest.fixture
def work(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    env = _git_env(tmp_path)
    repo = tmp_path / "work"
    repo.mkdir()
    _git(repo, "init", "-q", env=env)
    return repo, env


# --- the plain git hook (hooks/pre-commit) ---------------------------------------------------


def _run_git_hook(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    hook_env = dict(env, BASEPIN=f"{sys.executable} -m basepin")
    return subprocess.run(
        ["bash", str(REPO / "hooks" / "pre-commit")],
        cwd=repo,
        env=hook_env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_git_hook_fails_on_a_staged_floating_tag(work: tuple[Path, dict[str, str]]) -> None:
    repo, env = work
    (repo / "Containerfile").write_text(FLOATING)
    _git(repo, "add", "Containerfile", env=env)
    result = _run_git_hook(repo, env)
    assert result.returncode == 1, result.stderr
    assert "Containerfile:1:6: error unpinned" in result.stdout


def test_git_hook_checks_staged_content_not_the_work_tree(
    work: tuple[Path, dict[str, str]],
) -> None:
    repo, env = work
    (repo / "api.Dockerfile").write_text(PINNED)
    _git(repo, "add", "api.Dockerfile", env=env)
    (repo / "api.Dockerfile").write_text(FLOATING)  # unstaged: not part of the commit
    result = _run_git_hook(repo, env)
    assert result.returncode == 0, result.stdout + result.stderr

    _git(repo, "add", "api.Dockerfile", env=env)
    (repo / "api.Dockerfile").write_text(PINNED)
    result = _run_git_hook(repo, env)
    assert result.returncode == 1
    assert "api.Dockerfile:1:6" in result.stdout


def test_git_hook_uses_the_staged_configuration(work: tuple[Path, dict[str, str]]) -> None:
    repo, env = work
    (repo / "Dockerfile").write_text(FLOATING)
    (repo / ".basepin.toml").write_text('[severity]\nunpinned = "warning"\n')
    _git(repo, "add", ".", env=env)
    result = _run_git_hook(repo, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning unpinned" in result.stdout


def test_git_hook_passes_when_no_dockerfile_is_staged(work: tuple[Path, dict[str, str]]) -> None:
    repo, env = work
    (repo / "README.md").write_text("hi\n")
    _git(repo, "add", "README.md", env=env)
    assert _run_git_hook(repo, env).returncode == 0


def test_git_hook_reads_a_compose_file_with_its_staged_env(
    work: tuple[Path, dict[str, str]],
) -> None:
    repo, env = work
    (repo / "svc").mkdir()
    (repo / "svc" / "compose.yaml").write_text("services:\n  db:\n    image: ${DB}\n")
    (repo / "svc" / ".env").write_text("DB=postgres:16\n")
    _git(repo, "add", ".", env=env)
    result = _run_git_hook(repo, env)
    assert result.returncode == 1, result.stderr
    assert result.stdout == "svc/.env:1:4: error unpinned: postgres:16: no digest pins this image\n"
    _git(repo, "commit", "-qm", "compose", env=env)

    # Only the .env changes: the Compose file beside it is checked with the staged value.
    (repo / "svc" / ".env").write_text(f"DB={PINNED.split()[1]}\n")
    _git(repo, "add", ".", env=env)
    result = _run_git_hook(repo, env)
    assert result.returncode == 0, result.stdout + result.stderr
    (repo / "svc" / ".env").write_text("DB=postgres\n")  # not staged: not part of the commit
    assert _run_git_hook(repo, env).returncode == 0


def test_git_hook_checks_manifests_and_passes_over_other_yaml(
    work: tuple[Path, dict[str, str]],
) -> None:
    repo, env = work
    (repo / "config.yaml").write_text("image: alpine:3.20\n")
    _git(repo, "add", ".", env=env)
    result = _run_git_hook(repo, env)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr
    (repo / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, image: alpine:3.20}]\n"
    )
    (repo / ".devcontainer").mkdir()
    (repo / ".devcontainer" / "devcontainer.json").write_text('{"image": "alpine:3.20"}\n')
    _git(repo, "add", ".", env=env)
    result = _run_git_hook(repo, env)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        ".devcontainer/devcontainer.json:1:12: error unpinned: alpine:3.20: no digest pins "
        "this image",
        "pod.yaml:4:33: error unpinned: alpine:3.20: no digest pins this image",
    ]


# --- the pre-commit framework (.pre-commit-hooks.yaml) ----------------------------------------


@pytest.fixture(scope="session")
def pre_commit_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """pre-commit installs the hook from wheels built by scripts/test: no package index."""
    wheelhouse = Path(os.environ.get("BASEPIN_TEST_WHEELHOUSE", REPO / ".venv" / "wheelhouse"))
    if not any(wheelhouse.glob("httpx-*.whl")):
        pytest.fail(f"no wheels in {wheelhouse}: run scripts/test, which builds them")
    home = tmp_path_factory.mktemp("pre-commit-home")
    env = _git_env(home)
    env.update(
        PRE_COMMIT_HOME=str(home / "cache"),
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheelhouse),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        VIRTUALENV_DOWNLOAD="0",
    )
    yield env
    shutil.rmtree(home, ignore_errors=True)


def _try_repo(
    repo: Path, env: dict[str, str], hook: str = "basepin"
) -> subprocess.CompletedProcess[str]:
    pre_commit = Path(sys.executable).parent / "pre-commit"
    return subprocess.run(
        [str(pre_commit), "try-repo", str(REPO), hook, "--all-files", "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_framework_hook_fails_floating_and_passes_pinned(
    tmp_path: Path, pre_commit_env: dict[str, str]
) -> None:
    repo = tmp_path / "work"
    repo.mkdir()
    _git(repo, "init", "-q", env=pre_commit_env)
    files = {
        "Dockerfile": FLOATING,
        "Containerfile": FLOATING,
        "svc/api.Dockerfile": FLOATING,
        "svc/Dockerfile-dev": FLOATING,
        "svc/Dockerfile.dockerignore": "*\n",
        "notes.txt": FLOATING,
        "svc/compose.yaml": "services:\n  db:\n    image: ${DB}\n",
        "svc/.env": "DB=alpine:3.20\n",
        ".github/workflows/ci.yml": "jobs:\n  a:\n    container: alpine:3.20\n",
        "deploy/pod.yaml": (
            "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{image: alpine:3.20}]\n"
        ),
        "deploy/values.yaml": "image: alpine:3.20\n",
    }
    found = {
        "svc/.env:1:4",
        ".github/workflows/ci.yml:3:16",
        "deploy/pod.yaml:4:24",
    }
    for name, content in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(content)
    _git(repo, "add", ".", env=pre_commit_env)

    failed = _try_repo(repo, pre_commit_env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    for name in ("Dockerfile", "Containerfile", "svc/api.Dockerfile", "svc/Dockerfile-dev"):
        assert f"{name}:1:6: error unpinned" in failed.stdout
    for where in found:
        assert f"{where}: error unpinned" in failed.stdout
    assert "notes.txt" not in failed.stdout
    assert "dockerignore" not in failed.stdout
    assert "values.yaml" not in failed.stdout

    for name in ("Dockerfile", "Containerfile", "svc/api.Dockerfile", "svc/Dockerfile-dev"):
        (repo / name).write_text(PINNED)
    for name in ("svc/.env", ".github/workflows/ci.yml", "deploy/pod.yaml"):
        (repo / name).write_text((repo / name).read_text().replace("alpine:3.20", PINNED[5:-1]))
    _git(repo, "add", ".", env=pre_commit_env)
    passed = _try_repo(repo, pre_commit_env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout


def test_framework_fix_hook_pins_against_a_registry(
    tmp_path: Path, pre_commit_env: dict[str, str], plain_registry: Registry
) -> None:
    image = push_image(plain_registry, "acme/hooked", "1.0")
    repo = tmp_path / "work"
    repo.mkdir()
    _git(repo, "init", "-q", env=pre_commit_env)
    (repo / "Containerfile").write_text(f"FROM {image.reference}\n")
    _git(repo, "add", ".", env=pre_commit_env)
    env = dict(
        pre_commit_env,
        BASEPIN_CACHE_DIR=str(tmp_path / "cache"),
        BASEPIN_HUB_URL="http://127.0.0.1:9",
        DOCKER_CONFIG=str(tmp_path / "docker"),
    )
    fixed = _try_repo(repo, env, "basepin-fix")
    assert fixed.returncode == 1, fixed.stdout + fixed.stderr
    assert (repo / "Containerfile").read_text() == f"FROM {image.reference}@{image.digest}\n"
    _git(repo, "add", ".", env=env)
    again = _try_repo(repo, env, "basepin-online")
    assert again.returncode == 0, again.stdout + again.stderr


HOOK_PATHS = [
    "Dockerfile",
    "a/b/Containerfile",
    "svc/api.Dockerfile",
    "svc/api.dockerfile",
    "Dockerfile.prod",
    "x/Containerfile.arm64",
    "Dockerfile-dev",
    "Dockerfile.dockerignore",
    "README.md",
    "dockerfiles/readme",
    "notDockerfile",
    "compose.yaml",
    "svc/docker-compose.override.yml",
    "svc/.env",
    ".env",
    "svc/.env.local",
    ".github/workflows/ci.yml",
    ".github/actions/build/action.yaml",
    "deploy/deployment.yaml",
    "values.yml",
    ".gitlab-ci.yml",
    "ci/build.gitlab-ci.yml",
    ".devcontainer.json",
    ".devcontainer/devcontainer.json",
    ".devcontainer/python/devcontainer.json",
    "x/.devcontainer/python/devcontainer.json",
    "devcontainer.json",
    "x/devcontainer.json",
    ".devcontainer/a/b/devcontainer.json",
    "package.json",
    "notes.yaml.txt",
]


def _chosen_by_discovery(path: str) -> bool:
    """What basepin takes when pre-commit passes `path`: a name of `NAMES` (any YAML file:
    basepin then decides whether it is a manifest), or a `.env`."""
    return kind_of(path) is not None or path.rsplit("/", 1)[-1] == ".env"


@pytest.mark.parametrize("path", HOOK_PATHS)
def test_hook_filters_agree_with_discovery(path: str) -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    expected = _chosen_by_discovery(path)
    for hook in hooks:
        chosen = bool(re.search(hook["files"], path)) and not re.search(hook["exclude"], path)
        assert chosen is expected, (hook["id"], path)


def test_git_hook_names_agree_with_discovery() -> None:
    # The hook's own test of names, run on every path at once.
    script = (REPO / "hooks" / "pre-commit").read_text()
    functions = script[script.index("is_source() {") : script.index("files=()")]
    loop = 'while IFS= read -r p; do if is_source "$p"; then echo "$p"; fi; done'
    paths = "\n".join(HOOK_PATHS)
    result = subprocess.run(
        ["bash", "-c", f"{functions}{loop} <<'EOF'\n{paths}\nEOF\n"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == [p for p in HOOK_PATHS if _chosen_by_discovery(p)]


def _readme_block(after: str, language: str, containing: str) -> str:
    """The first ```language block of README.md after the line `after` that holds `containing`."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    rest = text[text.index(after) :]
    for match in re.finditer(rf"```{language}\n(.*?)```", rest, re.DOTALL):
        if containing in match[1]:
            return match[1]
    raise AssertionError(f"no {language} block with {containing!r} after {after!r}")


def test_the_readme_pre_commit_example_works_against_this_repository(
    tmp_path: Path, pre_commit_env: dict[str, str]
) -> None:
    config = _readme_block("As a pre-commit hook", "yaml", "repos:")
    rev = yaml.safe_load(config)["repos"][0]["rev"]
    # A commit SHA, in this repository's history, that defines the hooks the example names.
    assert re.fullmatch(r"[0-9a-f]{40}", rev), rev
    hooks = subprocess.run(
        ["git", "show", f"{rev}:.pre-commit-hooks.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    named = re.findall(r"- id: (\S+)", config)
    assert named == ["basepin", "basepin-online", "basepin-fix"]
    assert {hook["id"] for hook in yaml.safe_load(hooks)} >= set(named)
    # The example as written, fetched from this checkout instead of GitHub.
    repo = tmp_path / "work"
    repo.mkdir()
    _git(repo, "init", "-q", env=pre_commit_env)
    (repo / ".pre-commit-config.yaml").write_text(
        config.replace("https://github.com/basepin/basepin", str(REPO))
    )
    (repo / "Dockerfile").write_text(FLOATING)
    _git(repo, "add", ".", env=pre_commit_env)
    pre_commit = Path(sys.executable).parent / "pre-commit"
    command = [str(pre_commit), "run", "--all-files", "--color", "never"]
    failed = subprocess.run(
        command, cwd=repo, env=pre_commit_env, capture_output=True, text=True, timeout=600
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Dockerfile:1:6: error unpinned" in failed.stdout
    (repo / "Dockerfile").write_text(PINNED)
    _git(repo, "add", ".", env=pre_commit_env)
    passed = subprocess.run(
        command, cwd=repo, env=pre_commit_env, capture_output=True, text=True, timeout=600
    )
    assert passed.returncode == 0, passed.stdout + passed.stderr
