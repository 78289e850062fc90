"""A new user's first minutes, run as a user runs them: the installed `basepin` command in a
subprocess (a pseudo-terminal where the terminal matters), against a registry that takes the
connection and never answers, a name under `.invalid`, an empty folder."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from basepin import __version__

BASEPIN = str(Path(sys.executable).with_name("basepin"))
DIGEST = "sha256:" + "a" * 64


class Silent:
    """A loopback server that takes every connection and never answers (a registry whose
    host is up and whose service hangs); counts the connections it took."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._server.settimeout(0.1)
        self.host = f"127.0.0.1:{self._server.getsockname()[1]}"
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            self._held.append(connection)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for connection in [*self._held, self._server]:
            connection.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    server = Silent()
    yield server
    server.close()


class Run:
    def __init__(self, code: int, stdout: str, stderr: str, seconds: float) -> None:
        self.code, self.stdout, self.stderr, self.seconds = code, stdout, stderr, seconds


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
    env.update(BASEPIN_CACHE_DIR=str(tmp_path / "cache"), **more)
    return env


def basepin(*argv: str, cwd: Path, env: dict[str, str] | None = None) -> Run:
    start = time.monotonic()
    result = subprocess.run(
        [BASEPIN, *argv],
        cwd=cwd,
        env=env or _env(cwd),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert "Traceback" not in result.stdout + result.stderr
    return Run(result.returncode, result.stdout, result.stderr, time.monotonic() - start)


def in_terminal(*argv: str, cwd: Path, env: dict[str, str]) -> tuple[int, bytes]:
    """Run `basepin` on a pseudo-terminal 120 columns wide; its exit code and every byte it
    wrote there (stdout and stderr both)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its stdin, stdout and stderr
        os.chdir(cwd)
        os.execve(BASEPIN, [BASEPIN, *argv], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    seen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen


def _dockerfile(folder: Path, text: str, name: str = "Dockerfile") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- defaults -----------------------------------------------------------------------------------


def test_basepin_alone_in_an_empty_folder_says_there_is_nothing_to_check(tmp_path: Path) -> None:
    run = basepin(cwd=tmp_path)
    assert (run.code, run.stdout) == (0, "")
    assert run.stderr == (
        "basepin: no Dockerfiles (nor other files basepin reads) found in .; nothing to check\n"
    )
    (tmp_path / "empty").mkdir()
    named = basepin("empty", cwd=tmp_path)
    assert named.code == 0
    assert "found in empty; nothing to check" in named.stderr


def test_basepin_alone_checks_the_current_folder(tmp_path: Path) -> None:
    _dockerfile(tmp_path, "FROM alpine:3.20\n", "svc/Dockerfile")
    implied = basepin("--offline", cwd=tmp_path)
    explicit = basepin("check", "--offline", cwd=tmp_path)
    named = basepin("--offline", "svc", cwd=tmp_path)
    assert implied.code == explicit.code == named.code == 1
    assert implied.stdout == explicit.stdout == named.stdout
    assert implied.stdout.startswith("svc/Dockerfile:1:6: error unpinned: alpine:3.20")


def test_a_folder_named_like_a_command_is_named_with_a_slash(tmp_path: Path) -> None:
    _dockerfile(tmp_path, "FROM alpine:3.20\n", "check/Dockerfile")
    run = basepin("--offline", "./check", cwd=tmp_path)
    assert run.code == 1
    assert "check/Dockerfile:1:6: error unpinned" in run.stdout


def test_a_mistyped_command_is_named_as_such(tmp_path: Path) -> None:
    run = basepin("chekc", cwd=tmp_path)
    assert run.code == 2
    assert (
        "'chekc' is neither a command (check, fix, resolve, tags, vulns) nor a file or folder"
        in (run.stderr)
    )


def test_version_names_the_python_it_runs_on(tmp_path: Path) -> None:
    run = basepin("--version", cwd=tmp_path)
    python = ".".join(map(str, sys.version_info[:3]))
    assert run.code == 0
    assert run.stdout.startswith(f"basepin {__version__} (Python {python}, ")


# -- one set of flags ---------------------------------------------------------------------------


def test_fix_takes_the_output_flags_check_takes(tmp_path: Path) -> None:
    _dockerfile(tmp_path, "FROM scratch\nARG IMG\nFROM ${IMG}\n")
    for command in ("check", "fix"):
        report = tmp_path / f"{command}.json"
        run = basepin(
            command,
            "--format",
            "json",
            "-o",
            str(report),
            "--color",
            "never",
            "--fail-on",
            "warning",
            ".",
            cwd=tmp_path,
        )
        assert run.code == 1, run.stderr  # `unresolved` is a warning
        found = json.loads(report.read_text())
        assert [f["rule"] for f in found["findings"]] == ["unresolved"]
        assert run.stdout == ""


def test_fix_offline_is_a_clear_usage_error(tmp_path: Path) -> None:
    run = basepin("fix", "--offline", cwd=tmp_path)
    assert run.code == 2
    assert run.stderr == (
        "basepin: error: fix has no --offline: a fix writes the digests the registries answer "
        "(basepin check --offline runs the rules that read only the files)\n"
    )


def test_fix_diff_says_what_it_could_not_check_and_exits_as_check_does(
    tmp_path: Path, silent: Silent
) -> None:
    _dockerfile(tmp_path, f"FROM {silent.host}/app:1\n")
    (tmp_path / ".basepin.toml").write_text('[severity]\nunpinned = "warning"\n')
    check = basepin("check", "--timeout", "1", cwd=tmp_path)
    diff = basepin("fix", "--diff", "--timeout", "1", cwd=tmp_path)
    assert check.code == diff.code == 3
    reason = f"could not check {silent.host}/app:1: {silent.host}: timed out"
    assert reason in check.stdout
    assert diff.stdout == ""
    assert f"basepin: {reason}" in diff.stderr


# -- fail fast, say why -------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [2, None], ids=["timeout-2", "default-timeout"])
def test_a_registry_that_never_answers_is_given_up_within_twice_the_timeout(
    tmp_path: Path, silent: Silent, timeout: int | None
) -> None:
    # Two references, a pin and a tag: neither waits longer than the other.
    _dockerfile(tmp_path, f"FROM {silent.host}/app:1@{DIGEST}\nFROM {silent.host}/lib:2\n")
    flags = ["--timeout", str(timeout)] if timeout else []
    run = basepin("check", "--no-cache", *flags, cwd=tmp_path)
    seconds = timeout or 10
    # A loopback registry is tried over TLS, then over plain HTTP, each within the timeout
    # (the /v2/ ping included); the rest is start-up.
    assert run.seconds < 2 * seconds + 3, run.seconds
    if timeout is None:
        assert run.seconds < 25
    assert run.code == 1  # `unpinned` on line 2; the run is incomplete too
    incomplete = [line for line in run.stdout.splitlines() if "could not check" in line]
    assert incomplete == [
        f"basepin: could not check {silent.host}/app:1@{DIGEST}: {silent.host}: timed out: "
        f"no answer within {seconds} s",
        f"basepin: could not check {silent.host}/lib:2: {silent.host}: timed out: "
        f"no answer within {seconds} s",
    ]
    # TLS, then plain HTTP: once each, however many references.
    assert silent.accepted == 2


def test_a_name_that_does_not_resolve_is_given_up_at_once(tmp_path: Path) -> None:
    _dockerfile(tmp_path, f"FROM registry.basepin.invalid/app:1@{DIGEST}\n")
    run = basepin("check", "--no-cache", cwd=tmp_path)  # the default timeout, 10 s
    assert run.seconds < 5, run.seconds
    assert run.code == 3
    assert run.stdout == (
        f"basepin: could not check registry.basepin.invalid/app:1@{DIGEST}: "
        "registry.basepin.invalid: its host name does not resolve\n"
    )


def test_the_same_run_says_the_same_in_file_order(tmp_path: Path, silent: Silent) -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    refused = f"127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    _dockerfile(tmp_path, f"FROM registry.basepin.invalid/z:1@{DIGEST}\n", "a/Dockerfile")
    _dockerfile(tmp_path, f"FROM {silent.host}/y:1@{DIGEST}\n", "b/Dockerfile")
    _dockerfile(
        tmp_path,
        f"FROM {refused}/x:1@{DIGEST}\nFROM registry.basepin.invalid/z:1@{DIGEST}\n",
        "c/Dockerfile",
    )
    first = basepin("check", "--no-cache", "--timeout", "1", cwd=tmp_path)
    second = basepin("check", "--no-cache", "--timeout", "1", cwd=tmp_path)
    assert (first.code, first.stdout, first.stderr) == (second.code, second.stdout, second.stderr)
    named = [line.split(": ")[1] for line in first.stdout.splitlines()]
    assert named == [
        f"could not check registry.basepin.invalid/z:1@{DIGEST}",
        f"could not check {silent.host}/y:1@{DIGEST}",
        f"could not check {refused}/x:1@{DIGEST}",
    ]
    for line in first.stdout.splitlines():
        host = line.split("could not check ")[1].split("/")[0]
        assert line.count(host) == 2  # in the reference, and as the reason's subject


# -- ignored means not asked --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dockerfile", "config"),
    [
        pytest.param("# basepin: ignore\nFROM {host}/app:1\n", "", id="inline-ignore"),
        pytest.param(
            "# basepin: ignore[stale-digest,unknown,old-image,outdated,platforms]\n"
            "FROM {host}/app:1@" + DIGEST + "\n",
            "",
            id="inline-ignore-of-the-online-rules",
        ),
        pytest.param(
            "FROM {host}/app:1\n",
            "[severity]\n"
            + "".join(
                f'{rule} = "off"\n'
                for rule in (
                    "unpinned",
                    "stale-digest",
                    "unknown",
                    "old-image",
                    "outdated",
                    "platforms",
                )
            ),
            id="severities-off",
        ),
        pytest.param("FROM {host}/app:1\n", 'exclude = ["vendor/*"]\n', id="exclude", marks=()),
    ],
)
def test_an_image_no_rule_hears_costs_no_request(
    tmp_path: Path, silent: Silent, dockerfile: str, config: str
) -> None:
    where = "vendor" if "exclude" in config else "svc"
    _dockerfile(tmp_path, dockerfile.format(host=silent.host), f"{where}/Dockerfile")
    _dockerfile(tmp_path, "FROM scratch\n", "other/Dockerfile")
    (tmp_path / ".basepin.toml").write_text(config)
    run = basepin("check", "--no-cache", "--timeout", "5", cwd=tmp_path)
    assert (run.code, run.stdout) == (0, "")
    assert "could not be checked" not in run.stderr
    assert run.seconds < 5
    assert silent.accepted == 0


# -- progress -----------------------------------------------------------------------------------


def test_a_slow_run_shows_what_it_waits_for_on_a_terminal(tmp_path: Path, silent: Silent) -> None:
    _dockerfile(tmp_path, f"FROM {silent.host}/app:1@{DIGEST}\n")
    env = _env(tmp_path, TERM="xterm")
    code, seen = in_terminal("check", "--no-cache", "--timeout", "2", ".", cwd=tmp_path, env=env)
    assert code == 3
    line = f"basepin: 1 file read; 0 of 1 references answered; waiting for {silent.host}..."
    drawn = f"\r\x1b[K{line}".encode()
    assert drawn in seen
    # Erased before the report is written: the report's lines start on a clean line.
    after = seen[seen.rindex(drawn) + len(drawn) :]
    assert after.startswith(b"\r\x1b[K")
    report = after[len(b"\r\x1b[K") :]
    assert report.startswith(b"basepin: could not check")
    assert b"\x1b[K" not in report  # nothing drawn after the line was erased


@pytest.mark.parametrize(
    ("flags", "env"),
    [
        pytest.param(["--quiet"], {}, id="quiet"),
        pytest.param([], {"CI": "true"}, id="ci"),
    ],
)
def test_no_progress_when_quiet_or_in_ci(
    tmp_path: Path, silent: Silent, flags: list[str], env: dict[str, str]
) -> None:
    _dockerfile(tmp_path, f"FROM {silent.host}/app:1@{DIGEST}\n")
    code, seen = in_terminal(
        "check", "--no-cache", "--timeout", "1", *flags, cwd=tmp_path, env=_env(tmp_path, **env)
    )
    assert code == 3
    assert b"\x1b[K" not in seen
    assert b"could not check" in seen
    assert (b"1 reference could not be checked" in seen) is not bool(flags)


def test_no_progress_where_stderr_is_not_a_terminal(tmp_path: Path, silent: Silent) -> None:
    _dockerfile(tmp_path, f"FROM {silent.host}/app:1@{DIGEST}\n")
    run = basepin("check", "--no-cache", "--timeout", "1", cwd=tmp_path)
    assert run.code == 3
    assert "\x1b" not in run.stderr
    assert run.stderr == (
        "basepin: no findings in 1 file (1 reference, 1 unique); 1 reference could not be checked\n"
    )
