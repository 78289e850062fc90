"""`basepin check` and `fix` on trees that hold every kind of file, against a real registry:
what is found where, the fixes written byte for byte, inline ignores, the `kinds` setting,
notes of Helm templates, and the corpora read through the command line."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from basepin.cli import main
from basepin.discover import kind_of
from basepin.escape import shown
from basepin.extract import reader
from basepin.extract.compose import EnvFile, parse_compose
from fixtures.registry import PushedImage, Registry, push_image
from fixtures.runs import imported_by, isolate

CORPORA = Path(__file__).parent / "data" / "corpora"
TEMPLATE_NOTE = "skipped: a Go template ({{ ... }}, as in a Helm chart) is not YAML until"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real Docker Hub, no user credentials, a fresh cache; run inside the tree."""
    isolate(monkeypatch, tmp_path)
    (tmp_path / "tree").mkdir()
    monkeypatch.chdir(tmp_path / "tree")


def write(files: dict[str, str | bytes], *, git: bool = True) -> None:
    """The files, in a git work tree (so discovery asks git) unless `git` is False."""
    for name, content in files.items():
        path = Path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    if git:
        subprocess.run(["git", "init", "-q", "."], check=True)
        subprocess.run(["git", "add", "-A"], check=True)


def check_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(["check", "--format", "json", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, json.loads(out), err


def at(path: str, needle: str) -> tuple[int, int]:
    """Line and column (1-based, in characters) of the first `needle` in the file."""
    text = Path(path).read_bytes().decode("utf-8")
    offset = text.index(needle)
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


@pytest.fixture
def images(plain_registry: Registry) -> list[PushedImage]:
    repo = f"acme/kinds-{uuid.uuid4().hex[:8]}"
    return [
        push_image(plain_registry, f"{repo}-a", "1.0"),
        push_image(plain_registry, f"{repo}-b", "2.0", platforms=["linux/amd64", "linux/arm64"]),
        push_image(plain_registry, f"{repo}-c", "3.0"),
    ]


def every_kind(a: str, b: str, c: str) -> dict[str, str | bytes]:
    return {
        "Dockerfile": f"FROM {a}\n",
        "svc/compose.yaml": (
            "services:\n"
            "  db:\n"
            f'    image: "{b}"\n'
            "    platform: linux/arm64\n"
            "  cache:\n"
            "    image: ${CACHE}\n"
            "  app:\n"
            "    build: .\n"
            "    image: acme/app:dev\n"
        ),
        "svc/.env": f"# the cache\nCACHE={c}\n",
        ".github/workflows/ci.yml": (
            "on: push\n"
            "jobs:\n"
            "  test:\n"
            "    runs-on: ubuntu-24.04\n"
            f"    container: {a}\n"
            "    services:\n"
            "      db:\n"
            f"        image: '{b}'\n"
            "    steps:\n"
            f'      - uses: "docker://{c}"\n'
        ),
        "action.yml": f"name: x\nruns:\n  using: docker\n  image: docker://{a}\n",
        "deploy/app.yaml": (
            "apiVersion: apps/v1\n"
            "kind: Deployment\n"
            "metadata:\n"
            "  name: web\n"
            "spec:\n"
            "  template:\n"
            "    spec:\n"
            "      containers:\n"
            "        - name: app\n"
            f"          image: {b}  # the app\n"
        ),
        "chart/templates/app.yaml": (
            "apiVersion: apps/v1\n"
            "kind: Deployment\n"
            "spec:\n"
            "  replicas: {{ .Values.replicas }}\n"
            "  template: {spec: {containers: [{image: '{{ .Values.image }}'}]}}\n"
        ),
        "config.yaml": f"image: {a}\n",
        ".devcontainer/devcontainer.json": f'{{\n  // the base\n  "image": "{c}",\n}}\n',
        ".gitlab-ci.yml": (
            f"variables:\n  BASE: {a}\nbuild:\n  image: $BASE\n  services:\n    - name: {b}\n"
        ),
    }


def test_check_reads_every_kind_with_its_place(
    images: list[PushedImage], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, c = (image.reference for image in images)
    write(every_kind(a, b, c))
    code, report, err = check_json(capsys)
    assert code == 1
    assert report["files"] == [
        ".devcontainer/devcontainer.json",
        ".github/workflows/ci.yml",
        ".gitlab-ci.yml",
        "Dockerfile",
        "action.yml",
        "chart/templates/app.yaml",
        "deploy/app.yaml",
        "svc/compose.yaml",
    ]
    found = [
        tuple(u[key] for key in ("path", "line", "column", "kind", "reference"))
        + tuple(u[key] for key in ("via_arg", "stage", "platform"))
        for u in report["uses"]
    ]
    devcontainer, workflow = ".devcontainer/devcontainer.json", ".github/workflows/ci.yml"
    assert found == [
        (devcontainer, *at(devcontainer, c), "devcontainer-image", c, None, None, None),
        (workflow, *at(workflow, a), "workflow-container", a, None, "test", None),
        (workflow, *at(workflow, b), "workflow-service", b, None, "test/db", None),
        (workflow, *at(workflow, c), "workflow-step", c, None, "test", None),
        (".gitlab-ci.yml", 2, 9, "gitlab-image", a, "BASE", "build", None),
        (".gitlab-ci.yml", 6, 13, "gitlab-service", b, None, "build", None),
        ("Dockerfile", 1, 6, "from", a, None, "0", None),
        ("action.yml", 4, 19, "action-image", a, None, None, None),
        ("deploy/app.yaml", 10, 18, "kubernetes-container", b, None, "Deployment/web/app", None),
        ("svc/.env", 2, 7, "compose-image", c, "CACHE", "cache", None),
        ("svc/compose.yaml", 3, 13, "compose-image", b, None, "db", "linux/arm64"),
    ]
    digests = {image.reference: image.digest for image in images}
    assert all(use["digest_now"] == digests[use["reference"]] for use in report["uses"])
    unpinned = [(f["path"], f["line"], f["fix"]) for f in report["findings"]]
    assert len(unpinned) == len(found)
    for (path, line, column, _, reference, *_), finding in zip(
        found, report["findings"], strict=True
    ):
        assert (finding["rule"], finding["path"], finding["line"]) == ("unpinned", path, line)
        assert finding["fix"] == {
            "line": line,
            "column": column,
            "end_column": column + len(reference),
            "replacement": f"{reference}@{digests[reference]}",
        }
    assert report["notes"] == [
        {
            "path": "chart/templates/app.yaml",
            "line": 4,
            "column": 13,
            "message": report["notes"][0]["message"],
        }
    ]
    assert report["notes"][0]["message"].startswith(TEMPLATE_NOTE)
    assert err.splitlines()[0].startswith(
        f"basepin: chart/templates/app.yaml:4:13: note: {TEMPLATE_NOTE}"
    )
    assert err.splitlines()[1] == "basepin: 11 errors in 7 of 8 files (11 references, 3 unique)"


def test_every_output_format_names_the_new_kinds(
    images: list[PushedImage], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, c = (image.reference for image in images)
    write(every_kind(a, b, c))
    assert main(["check", "--format", "text"]) == 1
    text = capsys.readouterr().out
    assert f"svc/.env:2:7: error unpinned: {c}: no digest pins this image" in text
    assert main(["check", "--format", "github"]) == 1
    github = capsys.readouterr().out
    assert "::error file=deploy/app.yaml,line=10,col=18," in github
    assert main(["check", "--format", "sarif"]) == 1
    sarif = json.loads(capsys.readouterr().out)
    uris = {
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for result in sarif["runs"][0]["results"]
    }
    assert {"svc/.env", ".gitlab-ci.yml", "action.yml", ".devcontainer/devcontainer.json"} <= uris
    assert main(["check", "--format", "markdown"]) == 1
    markdown = capsys.readouterr().out
    for mark in ("Compose service", "job service", "Kubernetes container", "GitLab CI image"):
        assert f" ({mark})" in markdown


def test_fix_rewrites_only_the_references_of_every_kind(
    images: list[PushedImage], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, c = (image.reference for image in images)
    repo_b = b.rsplit(":", 1)[0]
    bom = "\ufeff"
    files: dict[str, str] = {
        "Dockerfile": f"# base\nFROM {a} AS app\n",
        # A BOM, CRLF line ends, single quotes, comments; a variable's value in .env, and a
        # reference assembled from a variable, which no fix can rewrite.
        "svc/compose.yaml": (
            f"{bom}# services\r\nservices:\r\n  db:\r\n    image: '{b}' # the database\r\n"
            "  cache:\r\n    image: ${CACHE}\r\n"
            f"  web:\r\n    image: {repo_b}:${{TAG:-2.0}}\r\n"
        ),
        "svc/.env": f'CACHE="{c}" # kept in .env\nTAG=2.0\n',
        ".github/workflows/ci.yml": (
            f"jobs:\n  t:\n    container:\n      image: >-\n        {a}\n"
            f"    steps:\n      - {{uses: 'docker://{c}', with: {{args: x}}}}\n"
        ),
        "deploy/pods.yaml": (
            "apiVersion: v1\nkind: List\nitems:\n"
            f'  - {{apiVersion: v1, kind: Pod, spec: {{containers: [{{image: "{b}"}}]}}}}\n'
            "---\napiVersion: v1\nkind: Pod\nspec:\n  containers:\n"
            "    # basepin: ignore[unpinned]\n"
            f"    - image: {c}\n"
        ),
        ".devcontainer/devcontainer.json": (
            f'{{\r\n  /* base */ "image": "{a}", // pinned by basepin\r\n}}\r\n'
        ),
        ".gitlab-ci.yml": (
            f'variables:\n  BASE: "{a}"\n\nbuild:\n  image: $BASE\n  services: [{c}]\n'
        ),
    }
    write(dict(files))
    assert main(["fix"]) == 1
    out, err = capsys.readouterr()
    digests = {image.reference: image.digest for image in images}

    def pinned(text: str, *references: str) -> str:
        for reference in references:
            text = text.replace(reference, f"{reference}@{digests[reference]}", 1)
        return text

    expected = {
        "Dockerfile": pinned(files["Dockerfile"], a),
        "svc/compose.yaml": pinned(files["svc/compose.yaml"], b),
        "svc/.env": pinned(files["svc/.env"], c),
        ".github/workflows/ci.yml": pinned(files[".github/workflows/ci.yml"], a, c),
        "deploy/pods.yaml": pinned(files["deploy/pods.yaml"], b),
        ".devcontainer/devcontainer.json": pinned(files[".devcontainer/devcontainer.json"], a),
        ".gitlab-ci.yml": pinned(files[".gitlab-ci.yml"], a, c),
    }
    for name, text in expected.items():
        assert Path(name).read_bytes() == text.encode(), name
    assert f"basepin: fixed {Path('svc/.env')} (1 edit)" in err
    # The reference assembled from TAG is left, and says why.
    assert out == (
        f"svc/compose.yaml:8:12: error unpinned: {repo_b}:2.0: no digest pins this image "
        "(not fixed: the change to "
        f"{repo_b}:2.0@{digests[b]} falls outside variable TAG's value)\n"
    )

    assert main(["fix"]) == 1  # the finding that cannot be fixed is still there
    capsys.readouterr()
    for name, text in expected.items():
        assert Path(name).read_bytes() == text.encode(), name
    code, report, _ = check_json(capsys)
    assert code == 1
    assert [(f["rule"], f["path"], f["line"]) for f in report["findings"]] == [
        ("unpinned", "svc/compose.yaml", 8)
    ]


def test_fix_refuses_an_env_value_that_changed_since_the_check(
    images: list[PushedImage], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lock, the re-read and the span checks hold for a .env too.
    a = images[0].reference
    write({"compose.yaml": "services:\n  a:\n    image: ${IMG}\n", ".env": f"IMG={a}\n"})
    from basepin import fix

    real = fix.plan_file

    def edited_meanwhile(path: str, *args: Any, **kwargs: Any) -> Any:
        if path.endswith(".env") and Path(".env").read_text() == f"IMG={a}\n":
            Path(".env").write_text(f"IMG={a}-slim\n")
            args = (args[0], Path(".env").read_bytes(), *args[2:])
        return real(path, *args, **kwargs)

    monkeypatch.setattr(fix, "plan_file", edited_meanwhile)
    assert main(["fix"]) == 1  # not written, and the finding is left
    _, err = capsys.readouterr()
    assert f".env:1:5: not fixed: {fix.STALE}" in err
    assert Path(".env").read_text() == f"IMG={a}-slim\n"


def test_inline_ignores_in_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    write(
        {
            "compose.yaml": (
                "services:\n  a:\n    # basepin: ignore[unpinned]\n    image: alpine:3.20\n"
                "  b:\n    # basepin: ignore\n    image: ${B}\n  c:\n    image: alpine:3.21\n"
            ),
            ".env": "B=busybox\n",
            "pod.yaml": (
                "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n"
                "    - name: a\n      # basepin: ignore[unpinned, latest]\n      image: nginx\n"
            ),
            ".gitlab-ci.yml": "job:\n  # basepin: ignore[unpinned]\n  image: python:3.13\n",
            ".github/workflows/ci.yml": (
                "jobs:\n  a:\n    # basepin: ignore[latest]\n    container: node\n"
                "    steps:\n      - run: |\n          # basepin: ignore\n"
                "      - uses: docker://alpine:3.20\n"
            ),
            "action.yml": "runs:\n  using: docker\n  # basepin: ignore[unpinned]\n"
            "  image: docker://alpine:3.20\n",
            ".devcontainer.json": (
                '{\n  // basepin: ignore[unpinned]\n  "image": "alpine:3.20"\n}\n'
            ),
        }
    )
    code, report, _ = check_json(capsys, "--offline")
    assert code == 1
    assert [(f["path"], f["line"], f["rule"]) for f in report["findings"]] == [
        (".github/workflows/ci.yml", 4, "unpinned"),
        # A comment line inside a block scalar is data, not an ignore.
        (".github/workflows/ci.yml", 8, "unpinned"),
        ("compose.yaml", 9, "unpinned"),
    ]
    assert len(report["uses"]) == 9


def test_an_unknown_rule_in_an_ignore_comment_is_invalid(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write({"compose.yaml": "services:\n  a:\n    # basepin: ignore[pinned]\n    image: a:1\n"})
    assert main(["check", "--offline"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("compose.yaml:3:1: error invalid: unknown rule pinned in basepin: ")


def test_the_kinds_setting_and_flag_choose_what_is_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(every_kind("a:1", "b:2", "c:3"))
    Path(".basepin.toml").write_text('kinds = ["compose", "kubernetes"]\n')
    _, report, err = check_json(capsys, "--offline")
    assert report["files"] == ["chart/templates/app.yaml", "deploy/app.yaml", "svc/compose.yaml"]
    assert {use["kind"] for use in report["uses"]} == {"compose-image", "kubernetes-container"}
    assert "note" in err
    # The flag wins over the file; a file named on the command line is held to it too.
    _, report, _ = check_json(capsys, "--offline", "--kind", "gitlab-ci", "--kind", "action")
    assert report["files"] == [".gitlab-ci.yml", "action.yml"]
    _, report, _ = check_json(capsys, "--offline", "--kind", "dockerfile", "svc/compose.yaml")
    assert report["files"] == []

    Path(".basepin.toml").write_text('kinds = ["compose", "helm"]\n')
    assert main(["check", "--offline"]) == 2
    err = capsys.readouterr().err
    assert "kinds must name one or more of dockerfile, compose, workflow, action" in err
    assert main(["check", "--offline", "--kind", "helm"]) == 2
    err = capsys.readouterr().err
    assert "--kind: invalid choice" in err
    assert "helm" in err


def test_files_name_gitlab_ci_files_a_pipeline_includes(
    images: list[PushedImage], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, _ = (image.reference for image in images)
    included = f"# included\r\nunit:\r\n  image: '{b}'\r\n  script: [make]\r\n"
    write(
        {
            ".gitlab-ci.yml": f"include:\n  - local: ci/build.yml\nlint:\n  image: {a}\n",
            "ci/build.yml": included,
            "services/api/pyproject.toml": '[project]\nname = "api"\n',
        }
    )
    # Without the setting the included file is YAML that is no manifest: not read.
    _, report, _ = check_json(capsys, "--offline")
    assert report["files"] == [".gitlab-ci.yml"]

    Path(".basepin.toml").write_text('[files]\ngitlab-ci = ["ci/*.yml"]\n')
    _, report, _ = check_json(capsys, "--offline")
    assert report["files"] == [".gitlab-ci.yml", "ci/build.yml"]
    assert [(u["path"], u["kind"], u["line"]) for u in report["uses"]] == [
        (".gitlab-ci.yml", "gitlab-image", 4),
        ("ci/build.yml", "gitlab-image", 3),
    ]
    # The globs are read from the configuration's folder, wherever basepin runs from.
    os.chdir("services")
    _, report, _ = check_json(capsys, "--offline", "..")
    assert report["files"] == ["../.gitlab-ci.yml", "../ci/build.yml"]
    os.chdir("..")

    assert main(["fix"]) == 1  # files written
    assert "basepin: fixed ci/build.yml (1 edit)" in capsys.readouterr().err
    digest = {image.reference: image.digest for image in images}[b]
    assert Path("ci/build.yml").read_bytes() == included.replace(b, f"{b}@{digest}").encode()
    # A file named on the command line is read by the same globs (as pre-commit names it).
    _, report, _ = check_json(capsys, "ci/build.yml")
    assert [u["kind"] for u in report["uses"]] == ["gitlab-image"]
    assert report["findings"] == []


def test_yaml_that_is_no_manifest_is_passed_over_named_or_found(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(
        {
            "values.yaml": "image:\n  repository: nginx\n  tag: latest\n",
            "docs/openapi.yml": "openapi: 3.1.0\nkind: not-a-manifest\n",
            "bom.yaml": "\ufeffapiVersion: v1\nkind: Pod\nspec: {containers: [{image: a:1}]}\n",
        }
    )
    code, report, err = check_json(capsys, "--offline")
    assert (code, report["files"]) == (1, ["bom.yaml"])
    code, report, err = check_json(capsys, "--offline", "values.yaml", "docs/openapi.yml")
    assert (code, report["files"], report["findings"], err) == (
        0,
        [],
        [],
        "basepin: no Dockerfiles (nor other files basepin reads) found in values.yaml "
        "docs/openapi.yml; nothing to check\n",
    )


def test_a_named_env_stands_for_the_compose_files_beside_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(
        {
            "app/compose.yaml": "services:\n  a:\n    image: ${A}\n",
            "app/compose.override.yaml": "services:\n  a:\n    image: ${A}-slim\n",
            "app/.env": "A=alpine:3.20\n",
            "other/.env": "A=alpine\n",
        },
        git=False,
    )
    _, report, _ = check_json(capsys, "--offline", "app/.env", "other/.env")
    assert report["files"] == [
        str(Path("app/compose.override.yaml")),
        str(Path("app/compose.yaml")),
    ]
    assert [(use["path"], use["reference"]) for use in report["uses"]] == [
        (str(Path("app/compose.override.yaml")), "alpine:3.20-slim"),
        (str(Path("app/.env")), "alpine:3.20"),
    ]


def test_a_value_in_env_that_two_compose_files_read_is_one_finding(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(
        {
            "compose.yaml": "services:\n  a:\n    image: ${IMG}\n",
            "compose.override.yaml": "services:\n  a:\n    image: ${IMG}\n  b:\n    image: a:1\n",
            ".env": "IMG=alpine:3.20\n",
        }
    )
    _, report, err = check_json(capsys, "--offline")
    assert [(u["path"], u["stage"]) for u in report["uses"]] == [
        (".env", "a"),
        ("compose.override.yaml", "b"),
        (".env", "a"),
    ]
    assert [(f["path"], f["line"], f["rule"]) for f in report["findings"]] == [
        (".env", 1, "unpinned"),
        ("compose.override.yaml", 5, "unpinned"),
    ]
    assert err == "basepin: 2 errors in 1 of 2 files (3 references, 2 unique)\n"


def test_an_env_that_cannot_be_read_is_said_and_a_folder_named_env_is_no_env(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write({"a/compose.yaml": "services:\n  a:\n    image: ${A}\n", "a/.env": "A=x:1\n"}, git=False)
    (Path("b") / ".env").mkdir(parents=True)  # a virtual environment
    Path("b/compose.yaml").write_text("services:\n  a:\n    image: ${A}\n")
    from basepin import read

    read_bytes = read.read_bytes

    def denied(path: str) -> bytes:
        if path.endswith(".env"):
            raise PermissionError(13, "Permission denied", path)
        return read_bytes(path)

    monkeypatch.setattr(read, "read_bytes", denied)
    _, report, _ = check_json(capsys, "--offline")
    assert [(f["path"], f["rule"], f["message"]) for f in report["findings"]] == [
        (
            str(Path("a/.env")),
            "invalid",
            "cannot read the file: Permission denied; the Compose files beside it take "
            "variables from it",
        ),
        (str(Path("a/compose.yaml")), "unresolved", report["findings"][1]["message"]),
        (str(Path("b/compose.yaml")), "unresolved", report["findings"][2]["message"]),
    ]


def test_notes_are_escaped_and_said_once_per_file(
    images: list[PushedImage], capsys: pytest.CaptureFixture[str]
) -> None:
    name = "chart/templates/\x1b[31m::error::x.yaml"
    template = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}\n"
        "spec:\n  containers: [{image: nginx}]\n"
    )
    write({name: template, "Dockerfile": f"FROM {images[0].reference}\n"})
    for argv in (["check", "--offline"], ["check"], ["fix"]):
        main(argv)
        err = capsys.readouterr().err
        notes = [line for line in err.splitlines() if TEMPLATE_NOTE in line]
        assert len(notes) == 1, argv
        assert notes[0].startswith(f"basepin: {shown(name)}:4:9: note: {TEMPLATE_NOTE}")
        assert "\x1b" not in err


# --- the corpora, laid out under their own names ---------------------------------------------

KINDS = ("compose", "workflow", "action", "kubernetes", "devcontainer", "gitlab-ci")


def corpora_tree(root: Path) -> dict[str, dict[str, str]]:
    """Every corpus file written under its repository and path; kind -> path -> file."""
    placed: dict[str, dict[str, str]] = {}
    for kind in KINDS:
        for entry in json.loads((CORPORA / kind / "manifest.json").read_text()):
            where = f"{entry['repo']}/{entry['path']}"
            path = root / where
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes((CORPORA / kind / entry["file"]).read_bytes())
            if "env" in entry:
                env = root / entry["repo"] / entry["env"]["path"]
                env.write_bytes((CORPORA / kind / entry["env"]["file"]).read_bytes())
            placed.setdefault(kind, {})[where] = entry["file"]
    return placed


def test_the_corpora_read_through_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    placed = corpora_tree(Path.cwd())
    code, report, err = check_json(capsys, "--offline")
    assert code == 1
    assert not [f for f in report["findings"] if f["rule"] == "invalid"]
    found = set(report["files"])
    expected: Counter[str] = Counter()
    for kind, files in placed.items():
        for where, name in files.items():
            if kind_of(where) != kind:
                # GitLab CI templates that other files include: no name says what they are.
                assert (kind, kind_of(where)) == ("gitlab-ci", "kubernetes"), where
                assert where not in found
                continue
            assert where in found, where
            data = (CORPORA / kind / name).read_bytes()
            env = Path(where).parent / ".env"
            if kind == "compose" and env.is_file():
                parsed = parse_compose(data, where, EnvFile(str(env), env.read_text()))
            else:
                parsed = reader(kind)(data, where)
            expected.update(use.kind for use in parsed.uses)
    assert Counter(use["kind"] for use in report["uses"]) == expected
    # What the command line reads, by kind of use (the report's figures).
    assert dict(expected) == {
        "compose-image": 109,
        "workflow-service": 57,
        "workflow-container": 21,
        "workflow-step": 3,
        "action-image": 33,
        "action-step": 13,
        "kubernetes-container": 92,
        "devcontainer-image": 22,
        "gitlab-image": 84,
        "gitlab-service": 33,
    }
    notes = [line for line in err.splitlines() if TEMPLATE_NOTE in line]
    assert len(notes) == len(report["notes"])


def test_an_offline_check_of_yaml_files_imports_no_http_stack() -> None:
    write(every_kind("a:1", "b:2", "c:3"))
    result, imported = imported_by("check", "--offline")
    assert result.returncode == 1, result.stderr
    assert "yaml" in imported
    for module in ("httpx", "httpcore", "h11", "anyio", "ssl", "sqlite3", "asyncio"):
        assert module not in imported, f"offline run imported {module}"
