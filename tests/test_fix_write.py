"""Writing a change: atomic, mode and owner kept, never outside the root, nothing left behind."""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from basepin.errors import BasepinError
from basepin.fix import FileChange, FixError, plan_changes, write_change
from basepin.model import Edit

BEFORE = b"FROM python:3.12 AS app\r\nRUN true\r\n"
DIGEST = "sha256:" + "a" * 64
AFTER = b"FROM python:3.12@" + DIGEST.encode() + b" AS app\r\nRUN true\r\n"


def pin_change(path: Path | str) -> FileChange:
    """Plan the pin of python:3.12 in the file at `path`, reading it from disk."""
    edit = Edit(str(path), 1, 6, 17, 5, 16, "python:3.12", f"python:3.12@{DIGEST}")
    (change,) = plan_changes([edit], lambda name: Path(name).read_bytes())
    assert change.after == AFTER
    return change


def names(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir())


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "Dockerfile").write_bytes(BEFORE)
    return folder


@pytest.mark.parametrize("mode", [0o644, 0o755, 0o600, 0o750], ids=oct)
def test_write_replaces_content_and_keeps_mode(repo: Path, mode: int) -> None:
    dockerfile = repo / "Dockerfile"
    dockerfile.chmod(mode)
    write_change(pin_change(dockerfile), root=repo)
    assert dockerfile.read_bytes() == AFTER
    assert stat.S_IMODE(dockerfile.stat().st_mode) == mode
    assert names(repo) == ["Dockerfile"]


def test_relative_path_is_taken_from_the_working_folder(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo.parent)
    write_change(pin_change("repo/Dockerfile"), root=Path("repo"))
    assert (repo / "Dockerfile").read_bytes() == AFTER


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_write_keeps_the_owner(repo: Path) -> None:
    dockerfile = repo / "Dockerfile"
    os.chown(dockerfile, 1234, 2345)
    write_change(pin_change(dockerfile), root=repo)
    status = dockerfile.stat()
    assert (status.st_uid, status.st_gid) == (1234, 2345)


def test_unchanged_file_is_not_rewritten(repo: Path) -> None:
    dockerfile = repo / "Dockerfile"
    inode = dockerfile.stat().st_ino
    write_change(FileChange(str(dockerfile), BEFORE, BEFORE, (), ()), root=repo)
    assert dockerfile.stat().st_ino == inode


def test_file_changed_on_disk_is_not_overwritten(repo: Path) -> None:
    dockerfile = repo / "Dockerfile"
    change = pin_change(dockerfile)
    dockerfile.write_bytes(b"FROM python:3.13\n")
    with pytest.raises(FixError, match=r"Dockerfile: file changed since it was read; not written"):
        write_change(change, root=repo)
    assert dockerfile.read_bytes() == b"FROM python:3.13\n"
    assert names(repo) == ["Dockerfile"]


def test_symlink_inside_root_is_written_through(repo: Path) -> None:
    real = repo / "docker" / "python.Dockerfile"
    real.parent.mkdir()
    (repo / "Dockerfile").rename(real)
    link = repo / "Dockerfile"
    link.symlink_to(Path("docker") / "python.Dockerfile")
    write_change(pin_change(link), root=repo)
    assert link.is_symlink()
    assert link.readlink() == Path("docker") / "python.Dockerfile"
    assert real.read_bytes() == AFTER
    assert names(real.parent) == ["python.Dockerfile"]


def test_symlink_to_outside_root_is_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "Dockerfile"
    outside.parent.mkdir()
    outside.write_bytes(BEFORE)
    link = repo / "linked.Dockerfile"
    link.symlink_to(outside)
    change = pin_change(link)
    with pytest.raises(FixError) as caught:
        write_change(change, root=repo)
    assert str(caught.value) == (
        f"{link}: refusing to write: it is a symbolic link to {outside.resolve()}, "
        f"outside {repo.resolve()}"
    )
    assert outside.read_bytes() == BEFORE
    assert link.is_symlink()
    assert names(outside.parent) == ["Dockerfile"]


def test_folder_symlink_to_outside_root_is_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "Dockerfile").write_bytes(BEFORE)
    (repo / "vendor").symlink_to(outside, target_is_directory=True)
    with pytest.raises(FixError, match=r"refusing to write .*: it is outside"):
        write_change(pin_change(repo / "vendor" / "Dockerfile"), root=repo)
    assert (outside / "Dockerfile").read_bytes() == BEFORE


def test_file_outside_root_is_refused(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "Dockerfile"
    other.write_bytes(BEFORE)
    with pytest.raises(FixError, match="it is outside"):
        write_change(pin_change(other), root=repo)
    assert other.read_bytes() == BEFORE


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        pytest.param(
            lambda path: path.unlink(), "cannot write: No such file or directory", id="deleted"
        ),
        pytest.param(
            lambda path: (path.unlink(), path.symlink_to("missing")),
            "cannot write: No such file or directory",
            id="dangling-symlink",
        ),
        pytest.param(
            lambda path: (path.unlink(), path.mkdir()),
            "cannot write: not a regular file",
            id="became-a-folder",
        ),
    ],
)
def test_file_that_cannot_be_written_raises(
    repo: Path, prepare: Callable[[Path], object], message: str
) -> None:
    dockerfile = repo / "Dockerfile"
    change = pin_change(dockerfile)
    prepare(dockerfile)
    left = names(repo)
    with pytest.raises(FixError, match=f"^{re.escape(str(dockerfile))}: {message}$"):
        write_change(change, root=repo)
    assert names(repo) == left


def test_symlink_loop_raises(repo: Path) -> None:
    loop = repo / "loop.Dockerfile"
    loop.symlink_to(loop.name)
    with pytest.raises(FixError, match=r"loop\.Dockerfile: cannot write: "):
        write_change(FileChange(str(loop), b"FROM a\n", b"FROM b\n", (), ()), root=repo)


def fail_with(error: BaseException) -> Callable[..., object]:
    def fail(*args: object, **kwargs: object) -> object:
        raise error

    return fail


@pytest.mark.parametrize(
    ("target", "error", "raised"),
    [
        pytest.param(
            "fsync", OSError(errno.ENOSPC, "No space left on device"), FixError, id="fsync-fails"
        ),
        pytest.param("replace", OSError(errno.EXDEV, "Cross-device link"), FixError, id="rename"),
        pytest.param("chmod", PermissionError(errno.EPERM, "Not permitted"), FixError, id="chmod"),
        pytest.param("fsync", KeyboardInterrupt(), KeyboardInterrupt, id="interrupted"),
    ],
)
def test_failed_write_leaves_the_file_and_no_temporary(
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    error: BaseException,
    raised: type[BaseException],
) -> None:
    dockerfile = repo / "Dockerfile"
    change = pin_change(dockerfile)
    monkeypatch.setattr(os, target, fail_with(error))
    with pytest.raises(raised) as caught:
        write_change(change, root=repo)
    monkeypatch.undo()
    if isinstance(error, OSError):
        assert str(caught.value) == f"{dockerfile}: cannot write: {error.strerror}"
    assert dockerfile.read_bytes() == BEFORE
    assert names(repo) == ["Dockerfile"]


def test_fix_error_is_a_basepin_error() -> None:
    assert issubclass(FixError, BasepinError)
