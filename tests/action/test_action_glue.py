"""The Action glue's parts: inputs, runner files, workflow commands, paths, command lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basepin.action.inputs import DEFAULTS, env_name, read_inputs
from basepin.action.paths import relative_report, workspace_path
from basepin.action.run import check_arguments, fix_arguments
from basepin.action.workflow import command, format_outputs, mask_commands
from basepin.errors import UsageError
from basepin.model import Edit, Finding, ImageUse, Report, Span
from fixtures.github import parse_github_output


def env(**inputs: str) -> dict[str, str]:
    return {env_name(name.replace("_", "-")): value for name, value in inputs.items()}


def test_defaults_when_nothing_is_set() -> None:
    inputs = read_inputs({})
    assert inputs.paths == (".",)
    assert inputs.mode == "check"
    # Defaults leave the configuration file in charge.
    assert (inputs.fail_on, inputs.max_age) == (None, None)
    assert (inputs.offline, inputs.summary, inputs.annotations, inputs.bump) == (
        False,
        True,
        True,
        False,
    )
    assert check_arguments(inputs, Path("/t/report.json")) == [
        "check",
        "--format",
        "json",
        "--output",
        "/t/report.json",
        "--",
        ".",
    ]


def test_every_input_is_read_from_its_variable() -> None:
    inputs = read_inputs(
        env(
            paths="docker/Dockerfile\n'my app/Containerfile' api.Dockerfile\n\n",
            mode="fix",
            fail_on="warning",
            offline="false",
            max_age="30",
            config=".ci/basepin.toml",
            bump="true",
            registry_mirrors="docker.io=http://127.0.0.1:5000, ghcr.io=https://m.example\n",
            build_args="BASE=alpine:3.20\nTAG=a,b",
            dockerhub_username="me",
            dockerhub_token="dckr_pat_secret",
            github_token="ghs_secret",
        )
    )
    assert inputs.paths == ("docker/Dockerfile", "my app/Containerfile", "api.Dockerfile")
    assert check_arguments(inputs, Path("r.json")) == [
        "check",
        "--format",
        "json",
        "--output",
        "r.json",
        "--fail-on",
        "warning",
        "--max-age",
        "30",
        "--config",
        ".ci/basepin.toml",
        "--registry-mirror",
        "docker.io=http://127.0.0.1:5000",
        "--registry-mirror",
        "ghcr.io=https://m.example",
        "--build-arg",
        "BASE=alpine:3.20",
        "--build-arg",
        "TAG=a,b",
        "--",
        "docker/Dockerfile",
        "my app/Containerfile",
        "api.Dockerfile",
    ]
    assert fix_arguments(inputs)[:2] == ["fix", "--bump"]
    assert fix_arguments(inputs)[-4:] == ["--", *inputs.paths]
    assert "secret" not in repr(inputs)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        pytest.param(
            "mode", "review", "input mode: expected one of check, suggest, fix", id="mode"
        ),
        pytest.param("fail-on", "fatal", "input fail-on: expected one of", id="fail-on"),
        pytest.param("offline", "yes", "input offline: expected true or false", id="flag"),
        pytest.param("max-age", "-3", "input max-age: expected a whole number", id="max-age"),
        pytest.param("max-age", "0", "input max-age", id="max-age-zero"),
        pytest.param("registry-mirrors", "docker.io", "HOST=URL", id="mirror"),
        pytest.param("build-args", "=x", "NAME=VALUE", id="build-arg"),
        pytest.param("paths", "'unclosed", "input paths: cannot read", id="quotes"),
    ],
)
def test_bad_input_names_the_input(name: str, value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        read_inputs({env_name(name): value})


def test_fix_mode_cannot_be_offline() -> None:
    with pytest.raises(UsageError, match="input offline: fix mode asks the registry"):
        read_inputs(env(mode="fix", offline="TRUE"))


def test_offline_check_arguments() -> None:
    assert "--offline" in check_arguments(read_inputs(env(offline="true")), Path("r"))


def test_defaults_cover_every_input() -> None:
    assert env_name("fail-on") == "INPUT_FAIL_ON"
    assert read_inputs({env_name(name): value for name, value in DEFAULTS.items()}) == read_inputs(
        {}
    )


# --- workflow commands and runner files -----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("notice", "plain"), "::notice::plain", id="plain"),
        pytest.param(("error", "50% done"), "::error::50%25 done", id="percent"),
        # Line breaks never reach the runner: shown as escapes first (basepin.escape).
        pytest.param(("error", "a\nb\r%0A"), "::error::a\\nb\\r%250A", id="line-breaks"),
        pytest.param(("error", "\x1b[2J\u202e"), "::error::\\x1b[2J\\u202e", id="controls"),
        pytest.param(
            ("notice", "see https://u:secret@host/x"), "::notice::see https://***@host/x", id="url"
        ),
    ],
)
def test_command(args: tuple[str, str], expected: str) -> None:
    assert command(*args) == expected


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        pytest.param("dckr_pat_x", ["::add-mask::dckr_pat_x"], id="plain"),
        pytest.param("a%0Ab", ["::add-mask::a%250Ab"], id="percent"),
        pytest.param(
            "ab\n::error::x",
            ["::add-mask::ab%0A::error::x", "::add-mask::ab", "::add-mask::::error::x"],
            id="multi-line",
        ),
        pytest.param("  ", [], id="blank"),
    ],
)
def test_mask_commands(secret: str, expected: list[str]) -> None:
    assert mask_commands(secret) == expected


def test_command_escapes_properties() -> None:
    assert command("warning", "m", title="a:b,c") == "::warning title=a%3Ab%2Cc::m"


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True),
        st.text(st.characters(codec="utf-8", exclude_characters="\r")),
        max_size=5,
    )
)
def test_outputs_read_back_as_written(values: dict[str, str]) -> None:
    assert parse_github_output(format_outputs(values)) == values


def test_multi_line_outputs_use_a_delimiter() -> None:
    text = format_outputs({"count": "3", "list": "a\nb"})
    assert text.startswith("count=3\nlist<<ghadelimiter_")
    assert parse_github_output(text) == {"count": "3", "list": "a\nb"}


# --- paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("Dockerfile", "Dockerfile", id="plain"),
        pytest.param("./app/Dockerfile", "app/Dockerfile", id="dot-slash"),
        pytest.param("app/../Dockerfile", "Dockerfile", id="dot-dot-inside"),
        pytest.param("../elsewhere/Dockerfile", "../elsewhere/Dockerfile", id="outside-kept"),
    ],
)
def test_workspace_path(tmp_path: Path, path: str, expected: str) -> None:
    assert workspace_path(path, tmp_path) == expected


def test_workspace_path_takes_absolute_paths_inside(tmp_path: Path) -> None:
    assert workspace_path(str(tmp_path / "a" / "Dockerfile"), tmp_path) == "a/Dockerfile"


def test_relative_report_rewrites_every_path(tmp_path: Path) -> None:
    span = Span(1, 6, 1, 12, 5, 11)
    fix = Edit("./Dockerfile", 1, 6, 12, 5, 11, "alpine", "alpine@sha256:" + "a" * 64)
    report = Report(
        files=("./Dockerfile",),
        uses=(ImageUse("./Dockerfile", "from", "alpine", True, span, 1),),
        findings=(Finding("unpinned", "error", "./Dockerfile", span, "alpine", "m", fix),),
    )
    relative = relative_report(report, tmp_path)
    assert relative.files == ("Dockerfile",)
    assert relative.uses[0].path == "Dockerfile"
    assert relative.findings[0].path == "Dockerfile"
    assert relative.findings[0].fix is not None
    assert relative.findings[0].fix.path == "Dockerfile"


def test_a_check_without_suggestions_does_not_import_the_http_stack(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\n")
    program = (
        "import sys\n"
        "from basepin.action.run import main\n"
        "code = main()\n"
        "print('httpx' in sys.modules, code)\n"
    )
    environ = {
        "PATH": os.environ["PATH"],
        "GITHUB_WORKSPACE": str(tmp_path),
        "RUNNER_TEMP": str(tmp_path),
        "INPUT_OFFLINE": "true",
    }
    result = subprocess.run(
        [sys.executable, "-c", program], env=environ, capture_output=True, text=True, check=False
    )
    assert result.stdout.splitlines()[-1] == "False 1", result.stdout + result.stderr


def test_the_summary_is_sized_with_the_runners_line_endings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from basepin.action import run

    monkeypatch.setattr(os, "linesep", "\r\n")  # a Windows runner
    uses = tuple(
        ImageUse("Dockerfile", "from", f"image{n}:1", True, Span(n, 6, n, 14, 0, 0), n)
        for n in range(1, 20_001)
    )
    findings = tuple(
        Finding("unpinned", "error", "Dockerfile", u.span, u.reference, "ü€😀 " * 10) for u in uses
    )
    report = Report(("Dockerfile",), uses, findings)
    summary = tmp_path / "summary.md"
    summary.write_bytes(b"earlier\r\n")
    note = "Pull-request review: 1 comment on changed lines (1 with a suggestion)."
    run._write_summary(str(summary), report, note, tmp_path / "report.json", None)
    written = summary.read_bytes()
    assert 1024 * 1024 - 1_000 < len(written) <= 1024 * 1024
    assert b"\n" not in written.replace(b"\r\n", b"")  # every line ends as the runner's do
    assert written.endswith(f"\r\n{note}\r\n".encode())
    assert b"rows left out: GitHub takes at most 1 MiB of summary per step." in written


def test_a_summary_file_already_full_gets_nothing_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from basepin.action import run

    summary = tmp_path / "summary.md"
    summary.write_bytes(b"x" * (1024 * 1024 - 10))
    report = Report(("Dockerfile",), (), ())
    run._write_summary(str(summary), report, None, tmp_path / "report.json", None)
    assert summary.stat().st_size == 1024 * 1024 - 10
    assert "::warning title=basepin::no job summary" in capsys.readouterr().out


def test_lifecycle_inputs_reach_check_and_fix() -> None:
    inputs = read_inputs(
        env(min_release_age="3", min_release_age_unknown="allow", eol_warning_days="30")
    )
    expected = [
        "--min-release-age",
        "3",
        "--min-release-age-unknown",
        "allow",
        "--eol-warning-days",
        "30",
    ]
    assert check_arguments(inputs, Path("r.json"))[5:11] == expected
    assert fix_arguments(inputs)[1:7] == expected
    left = read_inputs({})
    assert (left.min_release_age, left.min_release_age_unknown, left.eol_warning_days) == (
        None,
        None,
        None,
    )
    with pytest.raises(UsageError, match="input min-release-age: expected a whole number"):
        read_inputs(env(min_release_age="soon"))
    with pytest.raises(UsageError, match="input min-release-age-unknown: expected one of"):
        read_inputs(env(min_release_age_unknown="maybe"))
