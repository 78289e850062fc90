"""What a user sees when the registry, the file names and the Dockerfiles are hostile.

Every run is a real `basepin` process against the hostile registry in
tests/fixtures/hostile_text.py, in a tree whose file names and contents attack too; the tests
compare the bytes on stdout and stderr (and in files written with `-o`), and read them as the
Actions runner reads a step's log (tests/fixtures/actions_runner.py): no control character,
bidi override or line break from outside gets through, and no workflow command is issued but
basepin's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from basepin.report.json_load import load
from fixtures.actions_runner import Command, commands
from fixtures.hostile_text import (
    FORBIDDEN,
    GOOD_DIGEST,
    HOSTILE,
    HOSTILE_HEADER,
    SHOWN,
    HostileTextRegistry,
)

ESCAPED = dict(zip(HOSTILE, SHOWN, strict=True))
HOSTILE_NAME = "Dockerfile.\n::warning::pwned\u202e"  # a line break and a bidi override
NOT_UTF8_NAME = os.fsdecode(b"Dockerfile.\xff")
# The hostile tag names as `basepin tags` shows them: a line starts no workflow command.
TAG_NAMES = ["  \\x3a:warning::pwned" if name == "  ::warning::pwned" else name for name in SHOWN]
TAG_NAMES[TAG_NAMES.index("::error::pwned")] = "\\x3a:error::pwned"
DOCKERFILE = (
    "FROM {host}/codes/x:1\n"
    "FROM {host}/good/x:1\n"
    "RUN echo hi \\\n"
    "  ::error::pwned \\\n"
    "  && echo '\x1b[2J\tx' ##[error]legacy\n"
    "FROM bad\x1b[2Jname\u202e:1\n"
)


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def basepin(*argv: str, cwd: Path, env: dict[str, str], module: str = "basepin") -> Run:
    """A basepin process; its output must be UTF-8 (decoded strictly)."""
    result = subprocess.run(
        [sys.executable, "-m", module, *argv], cwd=cwd, env=env, capture_output=True, check=False
    )
    return Run(result.returncode, result.stdout.decode(), result.stderr.decode())


def assert_nothing_raw(text: str) -> None:
    assert not FORBIDDEN.search(text.replace("\n", "")), text
    assert "##[" not in text
    assert commands(text) == []


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER", "BASEPIN"))}
    environ.update(
        BASEPIN_HUB_URL="http://127.0.0.1:9",  # never asked: no Docker Hub reference
        BASEPIN_CACHE_DIR=str(tmp_path / "cache"),
        DOCKER_CONFIG=str(tmp_path / "docker-config"),
        PYTHONIOENCODING="utf-8",
    )
    return environ


@pytest.fixture
def tree(tmp_path: Path, hostile_text_registry: HostileTextRegistry) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    host = hostile_text_registry.host
    (root / "Dockerfile").write_text(DOCKERFILE.format(host=host), encoding="utf-8")
    (root / "::error::x").mkdir()
    (root / "::error::x" / "Dockerfile").write_text(f"FROM {host}/other/x:1\n")
    (root / HOSTILE_NAME).write_text(f"FROM {host}/mediatype/x:1\n")
    (root / NOT_UTF8_NAME).write_text(f"FROM {host}/good/x:1@{GOOD_DIGEST}\n")
    return root


def _codes_reason(host: str) -> str:
    codes = ", ".join(ESCAPED[code] for code in sorted(HOSTILE))
    return f"{host}: unexpected answer HTTP 400 ({codes})"


def _media_type_reason(host: str) -> str:
    return f"{host}: unsupported manifest type " + "\\n".join(SHOWN)


def test_text_report(
    tree: Path, env: dict[str, str], hostile_text_registry: HostileTextRegistry
) -> None:
    host = hostile_text_registry.host
    run = basepin("check", cwd=tree, env=env)
    assert run.code == 1
    assert run.stdout == (
        f"\\x3a:error::x/Dockerfile:1:6: error unknown: {host}/other/x:1: tag '1' not found in "
        f"{host}/other/x\n"
        f"\\x3a:error::x/Dockerfile:1:6: error unpinned: {host}/other/x:1: no digest pins this "
        "image\n"
        f"Dockerfile:1:6: error unpinned: {host}/codes/x:1: no digest pins this image\n"
        f"Dockerfile:2:6: error unpinned: {host}/good/x:1: no digest pins this image (fix: "
        f"{host}/good/x:1@{GOOD_DIGEST})\n"
        "Dockerfile:6:6: error invalid: bad\\x1b[2Jname\\u202e:1: repository name must be "
        "lowercase: 'bad\\x1b[2Jname\\u202e'\n"
        "Dockerfile.\\n::warning::pwned\\u202e:1:6: error unpinned: "
        f"{host}/mediatype/x:1: no digest pins this image\n"
        f"basepin: could not check {host}/codes/x:1: {_codes_reason(host)}\n"
        f"basepin: could not check {host}/mediatype/x:1: {_media_type_reason(host)}\n"
    )
    assert run.stderr == (
        "basepin: 6 errors in 3 of 4 files (6 references, 6 unique); 2 references could not be "
        "checked\n"
    )
    assert_nothing_raw(run.stdout + run.stderr)

    written = basepin("check", "-o", "report.txt", cwd=tree, env=env)
    assert (written.code, written.stdout, written.stderr) == (1, "", run.stderr)
    assert (tree / "report.txt").read_text(encoding="utf-8") == run.stdout


def test_github_report(
    tree: Path, env: dict[str, str], hostile_text_registry: HostileTextRegistry
) -> None:
    host = hostile_text_registry.host
    run = basepin("check", "--format", "github", cwd=tree, env=env)
    assert run.code == 1
    assert not FORBIDDEN.search(run.stdout.replace("\n", ""))
    # What the runner makes of the lines: one annotation each, with the text shown escaped.
    found = commands(run.stdout)
    assert len(found) == len(run.stdout.splitlines()) == 8
    assert {command.name for command in found} == {"error", "warning"}
    assert [command.properties.get("file") for command in found] == [
        "::error::x/Dockerfile",
        "::error::x/Dockerfile",
        "Dockerfile",
        "Dockerfile",
        "Dockerfile",
        "Dockerfile.\\n::warning::pwned\\u202e",
        None,
        None,
    ]
    assert found[4] == Command(
        "error",
        "bad\\x1b[2Jname\\u202e:1: repository name must be lowercase: 'bad\\x1b[2Jname\\u202e'",
        {
            "file": "Dockerfile",
            "line": "6",
            "col": "6",
            "endLine": "6",
            "endColumn": "20",
            "title": "basepin/invalid",
        },
    )
    assert found[6:] == [
        Command(
            "warning",
            f"could not check {host}/codes/x:1: {_codes_reason(host)}",
            {"title": "basepin/incomplete"},
        ),
        Command(
            "warning",
            f"could not check {host}/mediatype/x:1: {_media_type_reason(host)}",
            {"title": "basepin/incomplete"},
        ),
    ]
    assert run.stdout.splitlines()[5] == (
        "::error file=Dockerfile.\\n%3A%3Awarning%3A%3Apwned\\u202e,line=1,col=6,endLine=1,"
        f"endColumn=35,title=basepin/unpinned::{host}/mediatype/x:1: no digest pins this image"
    )


def test_json_report_keeps_the_data_exact_in_escaped_json(tree: Path, env: dict[str, str]) -> None:
    run = basepin("check", "--format", "json", cwd=tree, env=env)
    assert run.code == 1
    assert run.stdout.isascii()
    assert_nothing_raw(run.stdout)
    document = json.loads(run.stdout)
    assert document["files"] == sorted(
        ["::error::x/Dockerfile", "Dockerfile", HOSTILE_NAME, NOT_UTF8_NAME]
    )
    invalid = next(f for f in document["findings"] if f["rule"] == "invalid")
    assert invalid["reference"] == "bad\x1b[2Jname\u202e:1"
    codes, media_type = (item["reason"] for item in document["incomplete"])
    assert all(code in codes for code in HOSTILE)
    assert media_type.endswith("\n".join(HOSTILE))
    assert load(run.stdout).findings  # it reads back

    written = basepin("check", "--format", "json", "-o", "report.json", cwd=tree, env=env)
    assert (tree / "report.json").read_text(encoding="ascii") == run.stdout
    assert written.stdout == ""


def test_sarif_report_shows_messages_escaped(tree: Path, env: dict[str, str]) -> None:
    run = basepin("check", "--format", "sarif", cwd=tree, env=env)
    assert run.code == 1
    assert run.stdout.isascii()
    assert_nothing_raw(run.stdout)
    (sarif_run,) = json.loads(run.stdout)["runs"]
    texts = [result["message"]["text"] for result in sarif_run["results"]]
    texts += [
        n["message"]["text"] for n in sarif_run["invocations"][0]["toolExecutionNotifications"]
    ]
    for text in texts:
        assert not FORBIDDEN.search(text)
        assert "##[" not in text
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif_run["results"]
    ]
    assert "Dockerfile.%0A%3A%3Awarning%3A%3Apwned%E2%80%AE" in uris


def test_markdown_report(
    tree: Path, env: dict[str, str], hostile_text_registry: HostileTextRegistry
) -> None:
    host = hostile_text_registry.host
    run = basepin("check", "--format", "markdown", "-o", "summary.md", cwd=tree, env=env)
    assert run.code == 1
    summary = (tree / "summary.md").read_text(encoding="utf-8")
    assert_nothing_raw(summary)
    rows = summary.splitlines()
    assert (
        f"| Dockerfile.\\\\n::warning::pwned\\\\u202e | 1 | `{host}/mediatype/x` | `1` | — | not "
        f"checked | — | — | **error** `unpinned`: {host}/mediatype/x:1: no digest pins this image |"
    ) in rows
    assert (
        "| `Dockerfile` | 6 | bad\\\\x1b\\[2Jname\\\\u202e | `1` | — | — | — | — | **error** "
        "`invalid`: bad\\\\x1b\\[2Jname\\\\u202e:1: repository name must be lowercase: "
        "'bad\\\\x1b\\[2Jname\\\\u202e' |"
    ) in rows
    assert "| Dockerfile.\\\\udcff | 1 |" in summary


def test_fix_diff_shows_the_files_lines_escaped(
    tree: Path, env: dict[str, str], hostile_text_registry: HostileTextRegistry
) -> None:
    host = hostile_text_registry.host
    run = basepin("fix", "--diff", "Dockerfile", cwd=tree, env=env)
    assert run.code == 1
    assert run.stdout == (
        "--- a/Dockerfile\n"
        "+++ b/Dockerfile\n"
        "@@ -1,5 +1,5 @@\n"
        f" FROM {host}/codes/x:1\n"
        f"-FROM {host}/good/x:1\n"
        f"+FROM {host}/good/x:1@{GOOD_DIGEST}\n"
        " RUN echo hi \\\n"
        "   \\x3a:error::pwned \\\n"
        "   && echo '\\x1b[2J\tx' #\\x23[error]legacy\n"
    )
    assert commands(run.stdout + run.stderr) == []


def test_error_messages_show_paths_escaped(tree: Path, env: dict[str, str]) -> None:
    run = basepin("check", "--offline", "nope\x1b[2J\n::error::pwned\u2066", cwd=tree, env=env)
    assert (run.code, run.stdout) == (2, "")
    assert run.stderr == (
        "basepin: error: nope\\x1b[2J\\n::error::pwned\\u2066: no such file or folder\n"
    )


def test_resolve(
    env: dict[str, str], tmp_path: Path, hostile_text_registry: HostileTextRegistry
) -> None:
    host = hostile_text_registry.host
    run = basepin("resolve", f"{host}/good/x:1", f"{host}/mediatype/x:1", cwd=tmp_path, env=env)
    # The digest printed is the hash of the manifest read, so a manifest of no known type is
    # not resolved; its type is shown escaped in the reason.
    assert run.code == 3
    assert run.stdout == f"{host}/good/x:1 {GOOD_DIGEST}\n"
    assert_nothing_raw(run.stderr)
    assert "unsupported manifest type \\x1b[2J\\x1b[31mred\\n" in run.stderr
    failed = basepin("resolve", f"{host}/codes/x:1", cwd=tmp_path, env=env)
    assert failed.code == 3
    assert failed.stderr.startswith(
        f"basepin: {host}/codes/x:1: {host}: unexpected answer HTTP 400 ("
    )
    assert_nothing_raw(failed.stderr)


def test_tags(
    env: dict[str, str], tmp_path: Path, hostile_text_registry: HostileTextRegistry
) -> None:
    host = hostile_text_registry.host
    run = basepin("tags", f"{host}/tags/x", cwd=tmp_path, env=env)
    assert (run.code, run.stderr) == (0, "")
    assert_nothing_raw(run.stdout)
    names = [line[: len(TAG_NAMES[1])].rstrip() for line in run.stdout.splitlines()]
    assert sorted(names) == sorted(TAG_NAMES)
    width = max(len(name) for name in TAG_NAMES)
    assert run.stdout.splitlines()[0] == f"{SHOWN[0]:<{width}}  {'-':<71}  {'-':<10}  -"

    as_json = basepin("tags", "--format", "json", f"{host}/tags/x", cwd=tmp_path, env=env)
    assert as_json.stdout.isascii()
    assert_nothing_raw(as_json.stdout)
    assert sorted(tag["name"] for tag in json.loads(as_json.stdout)["tags"]) == sorted(HOSTILE)


def test_a_hostile_token_realm(env: dict[str, str], tmp_path: Path) -> None:
    realm = f"{HOSTILE_HEADER}::error::pwned"
    with HostileTextRegistry(realm=realm) as registry:
        host = registry.host
        (tmp_path / "Dockerfile").write_text(f"FROM {host}/good/x:1@{GOOD_DIGEST}\n")
        run = basepin("check", cwd=tmp_path, env=env)
    assert run.code == 3
    assert run.stdout == (
        f"basepin: could not check {host}/good/x:1@{GOOD_DIGEST}: {host}: its token realm "
        "holds control characters\n"
    )
    assert_nothing_raw(run.stdout + run.stderr)


# -- the GitHub Action -------------------------------------------------------------------------


def test_the_action_issues_only_its_own_commands(tree: Path, env: dict[str, str]) -> None:
    token = "dckr%0A\n::error::x"
    action_env = {
        **env,
        "GITHUB_WORKSPACE": str(tree),
        "RUNNER_TEMP": str(tree.parent / "runner"),
        "INPUT_MODE": "fix",
        "INPUT_DOCKERHUB_TOKEN": token,
    }
    run = basepin(cwd=tree, env=action_env, module="basepin.action")
    assert run.code == 0, run.stdout + run.stderr  # fix mode: findings left do not fail
    assert run.stderr == ""  # basepin's own stderr came through the pipe, with its stdout
    found = commands(run.stdout)
    masks, stops, rest = found[:3], found[3:7], found[7:]
    assert masks == [
        Command("add-mask", token),
        Command("add-mask", "dckr%0A"),
        Command("add-mask", "::error::x"),
    ]
    # fix, then check: each echoed between stop-commands and its token.
    first, second = stops[0].data, stops[2].data
    assert [command.name for command in stops] == ["stop-commands", first, "stop-commands", second]
    assert first != second
    assert len(first) == 32
    # The text report of fix with the hostile paths went by in between.
    assert "\\x3a:error::x/Dockerfile:1:6: error unknown:" in run.stdout
    assert {command.name for command in rest} == {"error", "warning"}
    assert all(command.properties["title"].startswith("basepin") for command in rest)
