"""Every input gets one clear finding or message and an exit code, never a traceback: bytes
that are not UTF-8, empty and binary files, folders named like Dockerfiles, links that lead
nowhere, folders that cannot be read, files that vanish while a run reads them, huge files."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from basepin import discover as files
from basepin.cli import main

PINNED = "alpine:3.20@sha256:" + "a" * 64
UTF8 = "BuildKit reads Dockerfiles as UTF-8"


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", "--offline", "--color", "never", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.mark.parametrize(
    ("content", "findings", "summary"),
    [
        pytest.param(
            b"# caf\xe9\nFROM alpine:3.20\n",
            [
                f"1:6: error invalid: not valid UTF-8: byte \\xe9 at byte offset 5 (line 1, "
                f"column 6); {UTF8}",
                "2:6: error unpinned: alpine:3.20: no digest pins this image",
            ],
            "2 errors in 1 file (1 reference, 1 unique)",
            id="latin-1-comment",
        ),
        pytest.param(
            b"FROM alpine:3.20\xff AS base\nFROM base\n",
            [
                f"1:17: error invalid: not valid UTF-8: byte \\xff at byte offset 16 (line 1, "
                f"column 17); {UTF8}"
            ],
            "1 error in 1 file (0 references, 0 unique)",
            id="in-a-reference",
        ),
        pytest.param(
            "# é\r\n".encode() + b"# \xe2\x82\r\nFROM a:1\xfe\r\n\xff\r\n# \xc0\r\n",
            [
                f"2:3: error invalid: not valid UTF-8: bytes \\xe2\\x82 at byte offset 8 "
                f"(line 2, column 3), more on lines 3, 4, 5; {UTF8}",
            ],
            "1 error in 1 file (0 references, 0 unique)",
            id="several-with-crlf",
        ),
        pytest.param(
            b"\xef\xbb\xbf# \x80\nFROM " + PINNED.encode() + b"\n",
            [
                # The BOM counts as a column, as it does in every span.
                f"1:4: error invalid: not valid UTF-8: byte \\x80 at byte offset 5 (line 1, "
                f"column 4); {UTF8}"
            ],
            "1 error in 1 file (1 reference, 1 unique)",
            id="after-a-bom",
        ),
        pytest.param(
            b"",
            ["1:1: error invalid: empty file; BuildKit has nothing to build"],
            "1 error in 1 file (0 references, 0 unique)",
            id="empty",
        ),
        pytest.param(
            b"\r\n# only a comment\n\n",
            [
                "1:1: error invalid: no instructions: only comments and blank lines; "
                "BuildKit has nothing to build"
            ],
            "1 error in 1 file (0 references, 0 unique)",
            id="only-comments",
        ),
        pytest.param(
            b"FROM a\nRUN \x00\x01\x02",
            ["2:1: error invalid: binary file (NUL byte on line 2), not a Dockerfile"],
            "1 error in 1 file (0 references, 0 unique)",
            id="binary",
        ),
        pytest.param(
            "FROM alpine:3.20\n".encode("utf-16"),
            ["1:1: error invalid: UTF-16 text: BuildKit reads Dockerfiles as UTF-8 only"],
            "1 error in 1 file (0 references, 0 unique)",
            id="utf-16",
        ),
    ],
)
def test_file_contents(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    findings: list[str],
    summary: str,
) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(content)
    code, out, err = check(capsys, str(path))
    assert code == 1
    assert out == "".join(f"{path}:{finding}\n" for finding in findings)
    assert err == f"basepin: {summary}\n"


def test_bytes_that_are_not_utf8_reach_json_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"FROM alpine:3.20\xff\n")
    code, out, _ = check(capsys, "--format", "json", str(path))
    assert code == 1
    assert out.isascii()
    report = json.loads(out)
    assert report["uses"] == []
    (finding,) = report["findings"]
    assert finding["message"].startswith("not valid UTF-8: byte \\xff at byte offset 16 ")


def test_a_folder_named_dockerfile_is_searched_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Dockerfile").mkdir()
    (tmp_path / "Dockerfile" / "Dockerfile").write_text("FROM alpine:3.20\n")
    (tmp_path / "svc" / "api.Dockerfile").mkdir(parents=True)
    (tmp_path / "svc" / "Containerfile").mkdir()
    finding = "1:6: error unpinned: alpine:3.20: no digest pins this image\n"
    # Named on the command line, and met in a tree.
    for given in ("Dockerfile", "."):
        assert check(capsys, given) == (
            1,
            f"{Path('Dockerfile', 'Dockerfile')}:{finding}",
            "basepin: 1 error in 1 file (1 reference, 1 unique)\n",
        )
    assert check(capsys, "svc") == (
        0,
        "",
        "basepin: no Dockerfiles (nor other files basepin reads) found in svc; nothing to check\n",
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda path: path.symlink_to("missing"),
            "it is a symbolic link to a file that does not exist",
            id="dangling",
        ),
        pytest.param(
            lambda path: path.symlink_to(path.name),
            "Too many levels of symbolic links",
            id="loop",
        ),
        pytest.param(
            lambda path: (path.with_name("a").symlink_to("b"), path.symlink_to("a")),
            "it is a symbolic link to a file that does not exist",
            id="chain-to-nothing",
        ),
    ],
)
def test_links_that_lead_nowhere(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[Path], object],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    make(tmp_path / "Dockerfile")
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "Dockerfile").write_text(f"FROM {PINNED}\n")
    # Met in a tree (not passed over), and named on the command line.
    for given in (".", "Dockerfile"):
        code, out, _ = check(capsys, given)
        assert code == 1
        assert out == f"Dockerfile:1:1: error invalid: cannot read the file: {message}\n"


def test_a_file_that_vanishes_between_discovery_and_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text(f"FROM {PINNED}\n")
    find = files.find

    def found_then_deleted(*args: object, **kwargs: object) -> files.Found:
        found = find(*args, **kwargs)  # type: ignore[arg-type]
        (tmp_path / "a" / "Dockerfile").unlink()
        return found

    monkeypatch.setattr(files, "find", found_then_deleted)
    code, out, err = check(capsys, ".")
    assert code == 1
    path = Path("a", "Dockerfile")
    assert out == f"{path}:1:1: error invalid: cannot read the file: No such file or directory\n"
    assert err == "basepin: 1 error in 1 of 2 files (1 reference, 1 unique)\n"


def test_a_folder_that_cannot_be_read_is_named_never_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Outside a git work tree the folders are walked; one the walk cannot list is reported.
    monkeypatch.chdir(tmp_path)
    for name in ("open", "locked", "locked/deeper"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text(f"FROM {PINNED}\n")
    scandir = os.scandir

    def denied(path: str = ".") -> object:
        if Path(path).name == "locked":
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", denied)
    code, out, err = check(capsys, ".")
    assert code == 1
    locked = "locked"
    assert out == (
        f"{locked}:1:1: error invalid: cannot read the folder: Permission denied; "
        "files in it are not checked\n"
    )
    assert err == "basepin: 1 error in 1 of 2 files (1 reference, 1 unique)\n"
    # An excluded folder is not reported.
    (tmp_path / ".basepin.toml").write_text('exclude = ["locked/*"]\n')
    assert check(capsys, ".") == (0, "", "basepin: no findings in 1 file (1 reference, 1 unique)\n")


def without_file_permissions() -> list[str]:
    """The command prefix under which permissions hold: the tests run as root, which reads
    anything, so root gives up the capabilities that override file modes."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


@pytest.mark.parametrize("in_git", [True, False], ids=["git-work-tree", "plain-folder"])
def test_folders_that_cannot_be_read_for_real(tmp_path: Path, in_git: bool) -> None:
    tree = tmp_path / "tree"
    for name in ("svc/locked", "svc/open"):
        (tree / name).mkdir(parents=True)
        (tree / name / "Dockerfile").write_text(f"FROM {PINNED}\n")
    if in_git:
        subprocess.run(["git", "init", "-q", str(tree)], check=True)
    (tree / "svc" / "locked").chmod(0)
    try:
        result = subprocess.run(
            [*without_file_permissions(), sys.executable, "-m", "basepin", "check", "--offline"],
            cwd=tree,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "HOME": str(tmp_path)},
        )
    finally:
        (tree / "svc" / "locked").chmod(0o755)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        f"{Path('svc', 'locked')}:1:1: error invalid: cannot read the folder: "
        "Permission denied; files in it are not checked\n",
        "basepin: 1 error in 1 of 2 files (1 reference, 1 unique)\n",
    )


def test_a_named_folder_that_cannot_be_entered(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "Dockerfile").write_text(f"FROM {PINNED}\n")
    locked.chmod(0)
    command = [sys.executable, "-m", "basepin", "check", "--offline", "locked"]
    try:
        result = subprocess.run(
            [*without_file_permissions(), *command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        locked.chmod(0o755)
    assert result.returncode == 1
    assert result.stdout == (
        "locked:1:1: error invalid: cannot read the folder: Permission denied; "
        "files in it are not checked\n"
    )


def test_a_huge_file_costs_a_small_multiple_of_its_size(tmp_path: Path) -> None:
    """Peak memory of a check of a 24 MiB Dockerfile of typical lines, over that of an empty
    run (the interpreter and basepin's modules)."""
    line = "RUN echo " + "x" * 100 + "\n"
    path = tmp_path / "Dockerfile"
    size = 24 << 20
    path.write_text(f"FROM {PINNED}\n" + line * (size // len(line)))
    small = tmp_path / "small.Dockerfile"
    small.write_text(f"FROM {PINNED}\n")

    def peak_of(target: Path) -> int:
        code = (
            "import resource, sys; from basepin.cli import main; "
            f"code = main(['check', '--offline', '--format', 'json', {str(target)!r}]); "
            "sys.stderr.write(f'peak={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}'); "
            "sys.exit(code)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["uses"][0]["reference"] == PINNED
        return int(result.stderr.rpartition("peak=")[2]) * 1024  # kilobytes on Linux

    growth = peak_of(path) - peak_of(small)
    # The bytes are let go once decoded; the text, its lines and the instructions made of
    # them stay: about 5.5 times the file (measured 5.4).
    assert growth < 6.5 * size, growth / size
