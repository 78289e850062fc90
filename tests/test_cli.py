"""The command line end to end, offline: exit codes, formats, configuration, bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from basepin.cli import main
from fixtures.runs import imported_by

PINNED = "alpine:3.20@sha256:" + "a" * 64


def _write(folder: Path, name: str, content: str | bytes) -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("dockerfile", "flags", "code"),
    [
        pytest.param(f"FROM {PINNED}\n", [], 0, id="pinned"),
        pytest.param("FROM alpine:3.20\n", [], 1, id="unpinned"),
        pytest.param("FROM alpine\n", [], 1, id="latest"),
        pytest.param("FROM scratch\n", [], 0, id="scratch"),
        pytest.param("ARG IMG\nFROM ${IMG}\n", [], 0, id="unresolved-is-a-warning"),
        pytest.param("ARG IMG\nFROM ${IMG}\n", ["--fail-on", "warning"], 1, id="fail-on-warning"),
        pytest.param(
            "ARG IMG\nFROM ${IMG}\n", ["--build-arg", f"IMG={PINNED}"], 0, id="build-arg-pinned"
        ),
        pytest.param(
            "ARG IMG\nFROM ${IMG}\n", ["--build-arg", "IMG=alpine:3.20"], 1, id="build-arg"
        ),
        pytest.param("FROM Alpine:3.20\n", [], 1, id="invalid"),
        pytest.param(
            f"# basepin: ignore[unpinned]\nFROM alpine:3.20\nFROM {PINNED}\n", [], 0, id="ignored"
        ),
    ],
)
def test_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dockerfile: str, flags: list[str], code: int
) -> None:
    path = _write(tmp_path, "Dockerfile", dockerfile)
    assert main(["check", "--offline", *flags, path]) == code
    capsys.readouterr()


def test_text_report_lines_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "Dockerfile", "FROM alpine:3.20 AS base\nFROM base\nFROM debian\n")
    assert main(["check", "--offline", "--color", "never", path]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert any(line.startswith(f"{path}:1:6: error unpinned: ") for line in lines)
    assert any(line.startswith(f"{path}:3:6: error latest: ") for line in lines)
    assert "\x1b[" not in out
    assert err.strip().startswith("basepin:")


def test_json_report_lists_every_use_in_file_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content = (
        "# syntax=docker/dockerfile:1.9\n"
        "ARG TAG=3.20\n"
        f"FROM alpine:${{TAG}} AS build\n"
        f"COPY --from={PINNED} /x /x\n"
    )
    path = _write(tmp_path, "Dockerfile", content)
    out_file = tmp_path / "report.json"
    assert main(["check", "--offline", "--format", "json", "-o", str(out_file), path]) == 1
    report = json.loads(out_file.read_text())
    assert report["version"] == 1
    assert report["files"] == [path]
    assert [(u["kind"], u["reference"], u["line"]) for u in report["uses"]] == [
        ("syntax", "docker/dockerfile:1.9", 1),
        ("from", "alpine:3.20", 2),
        ("copy-from", PINNED, 4),
    ]
    assert report["uses"][1]["via_arg"] == "TAG"
    assert report["uses"][1]["digest_now"] is None
    rules = sorted((f["rule"], f["line"]) for f in report["findings"])
    assert rules == [("unpinned", 1), ("unpinned", 2)]
    assert report["incomplete"] == []


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_the_report_is_written_while_later_files_are_still_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    from basepin.extract import dockerfile

    for name in ("a", "b", "c"):
        _write(tmp_path, f"{name}/Dockerfile", "FROM alpine:3.20\n")
    events: list[str] = []
    parse = dockerfile.parse_dockerfile

    def parse_logged(data: bytes, path: str, build_args: object = None) -> object:
        events.append(f"read {Path(path).parent.name}")
        return parse(data, path, build_args)  # type: ignore[arg-type]

    class Recorder(io.StringIO):
        def write(self, text: str) -> int:
            if "a/Dockerfile" in text:
                events.append("wrote a")
            return super().write(text)

    monkeypatch.setattr(dockerfile, "parse_dockerfile", parse_logged)
    monkeypatch.setattr(sys, "stdout", Recorder())
    assert main(["check", "--offline", "--format", fmt, str(tmp_path)]) == 1
    assert events.index("wrote a") < events.index("read c"), events


def test_an_unwritable_report_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "Dockerfile", "FROM alpine:3.20\n")
    missing_folder = tmp_path / "no-such-folder" / "report.json"
    assert main(["check", "--offline", "-o", str(missing_folder), path]) == 2
    err = capsys.readouterr().err
    assert f"cannot write the report to {missing_folder}" in err
    assert "Traceback" not in err


def test_a_report_file_is_replaced_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "Dockerfile", "FROM alpine:3.20\n")
    out_file = tmp_path / "report.sarif"
    out_file.write_text("the previous report\n")

    def broken(*args: object, **kwargs: object) -> object:
        yield "{\n"
        raise KeyboardInterrupt

    from basepin.report import sarif

    monkeypatch.setattr(sarif, "chunks", broken)
    assert main(["check", "--offline", "--format", "sarif", "-o", str(out_file), path]) == 130
    assert out_file.read_text() == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Dockerfile", "report.sarif"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"\x00\x01\x02binary", "binary", id="binary"),
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"RUN echo hi\n", "FROM", id="no-from"),
        pytest.param(
            b"FROM alpine:3.20@sha256:" + b"a" * 64 + b"\nRUN <<EOF\necho", "EOF", id="heredoc"
        ),
    ],
)
def test_bad_files_are_reported_not_crashed_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = _write(tmp_path, "Dockerfile", content)
    assert main(["check", "--offline", path]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert f"{path}:" in out
    assert message.lower() in out.lower()


def test_non_utf8_file_is_reported_and_still_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "Dockerfile", b"# caf\xe9\nFROM alpine:3.20\n")
    assert main(["check", "--offline", path]) == 1
    out, _ = capsys.readouterr()
    assert "UTF-8" in out
    assert f"{path}:2:6: error unpinned" in out


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "Dockerfile"
    link.symlink_to(tmp_path / "missing")
    assert main(["check", "--offline", str(link)]) == 1
    out, _ = capsys.readouterr()
    assert "cannot read the file" in out


def test_huge_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = f"FROM {PINNED}\n" + "RUN echo " + "x" * 100 + "\n" * 1
    path = _write(tmp_path, "Dockerfile", body * (10_000_000 // len(body)))
    assert main(["check", "--offline", "--format", "json", path]) == 0
    assert json.loads(capsys.readouterr().out)["uses"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["check", "--offline", "does-not-exist"], "no such file", id="missing"),
        pytest.param(
            ["check", "--offline", "--build-arg", "NOEQUALS", "."], "NAME=VALUE", id="arg"
        ),
        pytest.param(
            ["check", "--offline", "--fail-on", "fatal", "."], "invalid choice", id="flag"
        ),
        pytest.param(["frobnicate"], "neither a command", id="command"),
        pytest.param(["fix", "--offline", "."], "fix has no --offline", id="fix-offline"),
        pytest.param(["tags", "--limit", "0", "x"], "whole number >= 1", id="tags-limit"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_config_error_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, ".basepin.toml", "max-age = 'old'\n")
    _write(tmp_path, "Dockerfile", "FROM alpine:3.20\n")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--offline"]) == 2
    assert "max-age must be a whole number" in capsys.readouterr().err


def test_config_from_pyproject_sets_severities(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, "pyproject.toml", '[tool.basepin.severity]\nunpinned = "off"\n')
    _write(tmp_path, "svc/Dockerfile", "FROM alpine:3.20\n")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--offline"]) == 0
    assert "unpinned" not in capsys.readouterr().out


def test_allow_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, ".basepin.toml", 'allow = ["docker.io/library/*", "ghcr.io"]\n')
    path = _write(
        tmp_path,
        "Dockerfile",
        f"FROM {PINNED}\nFROM ghcr.io/acme/x:1@sha256:{'b' * 64}\n"
        f"FROM quay.io/acme/y:1@sha256:{'c' * 64}\n",
    )
    assert main(["check", "--offline", path]) == 1
    out = capsys.readouterr().out
    assert out.count("disallowed") == 1
    assert ":3:6: error disallowed" in out


def test_python_dash_m_and_no_http_stack_offline(tmp_path: Path) -> None:
    path = _write(tmp_path, "Dockerfile", "FROM alpine:3.20\n")
    result, imported = imported_by("check", "--offline", path)
    assert result.returncode == 1, result.stderr
    for module in ("httpx", "httpcore", "h11", "anyio", "ssl", "sqlite3", "asyncio"):
        assert module not in imported, f"offline run imported {module}"


def test_the_command_delivers_a_whole_report_before_it_exits(tmp_path: Path) -> None:
    # `basepin` leaves without the interpreter's teardown: what it wrote must still arrive.
    for number in range(300):
        _write(tmp_path, f"svc-{number:03d}/Dockerfile", f"FROM alpine:3.{number}\n")
    command = [sys.executable, "-m", "basepin", "check", "--offline", "--format", "json", "."]
    result = subprocess.run(command, capture_output=True, cwd=tmp_path, check=False)
    assert result.returncode == 1, result.stderr
    assert len(json.loads(result.stdout)["findings"]) == 300
    assert result.stderr.decode().startswith("basepin: 300 errors in 300 files")


def test_a_profiler_still_gets_to_save_its_data(tmp_path: Path) -> None:
    path = _write(tmp_path, "Dockerfile", "FROM alpine:3.20\n")
    profile = tmp_path / "check.prof"
    command = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "basepin"]
    result = subprocess.run(
        [*command, "check", "--offline", path], capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr  # cProfile keeps the exit status to itself
    assert profile.stat().st_size > 0


def test_a_reader_that_goes_away_gets_no_traceback(tmp_path: Path) -> None:
    for number in range(300):
        _write(tmp_path, f"svc-{number:03d}/Dockerfile", f"FROM alpine:3.{number}\n")
    command = [sys.executable, "-m", "basepin", "check", "--offline", "."]
    with subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.readline()
        process.stdout.close()  # as `| head -1` does
        errors = process.stderr.read().decode()
    assert process.returncode != 0
    assert "Traceback" not in errors


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("tty", "slow", "shown"), [(True, True, True), (True, False, False), (False, True, False)]
)
def test_progress_only_on_a_terminal_and_only_when_slow(
    monkeypatch: pytest.MonkeyPatch, tty: bool, slow: bool, shown: bool
) -> None:
    from basepin import progress

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    stream = _Terminal() if tty else io.StringIO()
    if not progress.wanted(quiet=False, stream=stream):
        assert not tty
        return
    line = progress.Progress(stream, delay=0.01 if slow else 60, interval=0.01)
    line.answered(1, 2, ("ghcr.io",))
    if slow:
        time.sleep(0.2)
    line.stop()
    assert ("1 of 2 references answered; waiting for ghcr.io" in stream.getvalue()) is shown
    assert stream.getvalue().endswith("\r\x1b[K") is shown


@pytest.mark.parametrize(
    ("quiet", "env"), [(True, {}), (False, {"CI": "true"}), (False, {"TERM": "dumb"})]
)
def test_no_progress_when_quiet_in_ci_or_on_a_dumb_terminal(
    monkeypatch: pytest.MonkeyPatch, quiet: bool, env: dict[str, str]
) -> None:
    from basepin import progress

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert not progress.wanted(quiet=quiet, stream=_Terminal())
    assert progress.wanted(quiet=False, stream=_Terminal()) is not bool(env)


def test_the_progress_line_escapes_hosts_and_fits_the_terminal() -> None:
    from basepin import progress

    stream = _Terminal()
    line = progress.Progress(stream, delay=60)
    line.files_read(3)
    line.answered(0, 9, ("evil\x1b[2J.example", "b.example", "c.example", "d.example"))
    text = line.line()
    line.stop()
    assert text == (
        "basepin: 3 files read; 0 of 9 references answered; waiting for "
        "evil\\x1b[2J.example, b.example, c.example and 1 more..."
    )
    assert line._fitted("x" * 200) == "x" * 76 + "..."
    assert stream.getvalue() == ""  # stopped before it was due: nothing drawn
