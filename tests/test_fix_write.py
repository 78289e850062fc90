"""Writing a fix: atomic, under a lock, re-planned on what the file holds, never outside the
roots, mode and owner kept, nothing left behind, and every failure a FixError for that file."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from basepin import file_lock, fix
from basepin.errors import BasepinError
from basepin.extract.dockerfile import parse_dockerfile
from basepin.fix import STALE, FileChange, FixError, fix_file
from basepin.model import Edit

BEFORE = b"FROM python:3.12 AS app\r\nRUN true\r\n"
DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
AFTER = b"FROM python:3.12@" + DIGEST.encode() + b" AS app\r\nRUN true\r\n"


def spans(path: str, data: bytes) -> set[tuple[int, int]]:
    return {(use.span.start, use.span.end) for use in parse_dockerfile(data, path).uses}


def pin(path: Path | str) -> Edit:
    return Edit(str(path), 1, 6, 17, 5, 16, "python:3.12", f"python:3.12@{DIGEST}")


def fix_one(path: Path | str, *roots: Path) -> FileChange:
    return fix_file(str(path), [pin(path)], roots=list(roots), spans=spans)


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
    change = fix_one(dockerfile, repo)
    assert (change.applied, change.done, change.refused) == ((pin(dockerfile),), (), ())
    assert dockerfile.read_bytes() == AFTER
    assert stat.S_IMODE(dockerfile.stat().st_mode) == mode
    assert names(repo) == ["Dockerfile"]


def test_relative_path_is_taken_from_the_working_folder(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo.parent)
    fix_one("repo/Dockerfile", Path("repo"))
    assert (repo / "Dockerfile").read_bytes() == AFTER


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_write_keeps_the_owner(repo: Path) -> None:
    dockerfile = repo / "Dockerfile"
    os.chown(dockerfile, 1234, 2345)
    fix_one(dockerfile, repo)
    status = dockerfile.stat()
    assert (status.st_uid, status.st_gid) == (1234, 2345)


def test_an_edit_already_made_is_done_and_nothing_is_written(repo: Path) -> None:
    dockerfile = repo / "Dockerfile"
    dockerfile.write_bytes(AFTER)
    inode = dockerfile.stat().st_ino
    change = fix_one(dockerfile, repo)
    assert (change.applied, change.done, change.refused) == ((), (pin(dockerfile),), ())
    assert not change.changed
    assert dockerfile.read_bytes() == AFTER
    assert dockerfile.stat().st_ino == inode


def test_a_reference_pinned_to_another_digest_is_not_pinned_twice(repo: Path) -> None:
    dockerfile = repo / "Dockerfile"
    other = b"FROM python:3.12@" + OTHER.encode() + b" AS app\r\nRUN true\r\n"
    dockerfile.write_bytes(other)
    change = fix_one(dockerfile, repo)
    # "python:3.12" still stands at 5:16, but as part of a longer reference.
    assert change.refused == ((pin(dockerfile), STALE),)
    assert dockerfile.read_bytes() == other


def test_without_reference_spans_the_text_alone_would_pin_twice() -> None:
    # Why fix_file takes the file's reader: the text at the span is the original either way.
    pinned = AFTER.decode()
    assert pinned[5:16] == "python:3.12"
    assert fix.plan_file("Dockerfile", [pin("Dockerfile")], AFTER).after.count(b"@sha256:") == 2
    assert fix.plan_file("Dockerfile", [pin("Dockerfile")], AFTER, spans).after == AFTER


def test_symlink_inside_root_is_written_through(repo: Path) -> None:
    real = repo / "docker" / "python.Dockerfile"
    real.parent.mkdir()
    (repo / "Dockerfile").rename(real)
    link = repo / "Dockerfile"
    link.symlink_to(Path("docker") / "python.Dockerfile")
    fix_one(link, repo)
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
    with pytest.raises(FixError) as caught:
        fix_one(link, repo)
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
        fix_one(repo / "vendor" / "Dockerfile", repo)
    assert (outside / "Dockerfile").read_bytes() == BEFORE


def test_file_outside_root_is_refused(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "Dockerfile"
    other.write_bytes(BEFORE)
    with pytest.raises(FixError, match="it is outside"):
        fix_one(other, repo)
    assert other.read_bytes() == BEFORE


def test_any_of_several_roots_will_do_but_not_the_folder_around_them(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        folder.mkdir()
        (folder / "Dockerfile").write_bytes(BEFORE)
    (tmp_path / "Dockerfile").write_bytes(BEFORE)
    fix_one(second / "Dockerfile", first, second)
    assert (second / "Dockerfile").read_bytes() == AFTER
    with pytest.raises(FixError, match="outside the folders being checked"):
        fix_one(tmp_path / "Dockerfile", first, second)
    assert (tmp_path / "Dockerfile").read_bytes() == BEFORE


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


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
            lambda path: (path.unlink(), path.symlink_to(path.name)),
            "cannot write: Too many levels of symbolic links",
            id="symlink-loop",
        ),
        pytest.param(
            lambda path: (path.unlink(), path.mkdir()),
            "cannot write: not a regular file",
            id="became-a-folder",
        ),
        pytest.param(
            lambda path: (path.unlink(), make_fifo(path)),
            "cannot write: not a regular file",
            id="became-a-fifo",
        ),
        pytest.param(
            lambda path: path.chmod(0o444), "cannot write: the file is read-only", id="read-only"
        ),
    ],
)
def test_file_that_cannot_be_written_raises(
    repo: Path, prepare: Callable[[Path], object], message: str
) -> None:
    dockerfile = repo / "Dockerfile"
    prepare(dockerfile)
    left = names(repo)
    with pytest.raises(FixError, match=f"^{re.escape(str(dockerfile))}: {message}$"):
        fix_one(dockerfile, repo)
    assert names(repo) == left
    if not dockerfile.is_symlink() and dockerfile.is_file():
        assert dockerfile.read_bytes() == BEFORE


def test_a_file_this_user_may_not_write(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Writable by its owner, not by this user (root may write it: the answer is faked).
    monkeypatch.setattr(os, "access", lambda path, mode: mode != os.W_OK)
    with pytest.raises(FixError, match=r"Dockerfile: cannot write: Permission denied$"):
        fix_one(repo / "Dockerfile", repo)
    assert (repo / "Dockerfile").read_bytes() == BEFORE


def test_a_folder_the_fix_cannot_write_in(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> object:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(FixError, match=r"Dockerfile: cannot write: Permission denied$"):
        fix_one(repo / "Dockerfile", repo)
    assert (repo / "Dockerfile").read_bytes() == BEFORE


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
    monkeypatch.setattr(os, target, fail_with(error))
    with pytest.raises(raised) as caught:
        fix_one(dockerfile, repo)
    monkeypatch.undo()
    if isinstance(error, OSError):
        assert str(caught.value) == f"{dockerfile}: cannot write: {error.strerror}"
    assert dockerfile.read_bytes() == BEFORE
    assert names(repo) == ["Dockerfile"]


def test_fix_error_is_a_basepin_error() -> None:
    assert issubclass(FixError, BasepinError)


# --- the file changes between planning and the replace ---------------------------------------


def after_planning(
    monkeypatch: pytest.MonkeyPatch, meddle: Callable[[Path], None], times: int = 1
) -> list[int]:
    """Run `meddle` on the file right after `fix_file` planned it, the first `times` times:
    a writer that takes no lock, striking at the worst moment. Returns the plan count."""
    plans = [0]
    plan = fix.plan_file

    def planned_then_meddled(path: str, *args: object, **kwargs: object) -> FileChange:
        change = plan(path, *args, **kwargs)  # type: ignore[arg-type]
        plans[0] += 1
        if plans[0] <= times:
            meddle(Path(path))
        return change

    monkeypatch.setattr(fix, "plan_file", planned_then_meddled)
    return plans


def append(line: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with path.open("ab") as stream:
            stream.write(line)

    return write


def replace_with(data: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        temporary = path.with_name(".editor-save")
        temporary.write_bytes(data)
        temporary.replace(path)

    return write


def test_a_change_in_place_at_the_last_moment_is_read_and_planned_again(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plans = after_planning(monkeypatch, append(b"# saved\r\n"))
    fix_one(repo / "Dockerfile", repo)
    assert plans == [2]
    assert (repo / "Dockerfile").read_bytes() == AFTER + b"# saved\r\n"
    assert names(repo) == ["Dockerfile"]


def test_a_file_replaced_at_the_last_moment_is_read_and_planned_again(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = b"# saved by an editor\r\n"
    plans = after_planning(monkeypatch, replace_with(BEFORE + saved))
    fix_one(repo / "Dockerfile", repo)
    assert plans == [2]
    assert (repo / "Dockerfile").read_bytes() == AFTER + saved


def test_a_file_that_keeps_changing_is_left_alone(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    after_planning(monkeypatch, append(b"#\n"), times=fix.ATTEMPTS)
    with pytest.raises(FixError, match=f"Dockerfile: {STALE}, again and again"):
        fix_one(repo / "Dockerfile", repo)
    assert (repo / "Dockerfile").read_bytes() == BEFORE + b"#\n" * fix.ATTEMPTS
    assert names(repo) == ["Dockerfile"]


def test_a_file_deleted_between_planning_and_the_replace(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    after_planning(monkeypatch, Path.unlink)
    with pytest.raises(FixError, match=r"Dockerfile: cannot write: No such file or directory$"):
        fix_one(repo / "Dockerfile", repo)
    assert names(repo) == []


def test_a_reference_moved_by_the_writer_is_refused_not_misplaced(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    moved = b"# a line above\r\n" + BEFORE
    after_planning(monkeypatch, replace_with(moved))
    change = fix_one(repo / "Dockerfile", repo)
    assert change.refused == ((pin(repo / "Dockerfile"), STALE),)
    assert (repo / "Dockerfile").read_bytes() == moved


# --- the lock ----------------------------------------------------------------------------------


@pytest.fixture
def holder(repo: Path) -> Iterator[Callable[[Callable[[Path], None]], threading.Event]]:
    """Take the lock on the Dockerfile in another process (as `flock(1)` would) and, once
    told to, run a change under it and let go."""
    dockerfile = repo / "Dockerfile"
    processes: list[subprocess.Popen[bytes]] = []

    def hold(change: Callable[[Path], None]) -> threading.Event:
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(dockerfile)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        processes.append(process)
        assert process.stdout is not None
        assert process.stdout.readline() == b"locked\n"
        release = threading.Event()

        def release_when_told() -> None:
            release.wait()
            change(dockerfile)
            assert process.stdin is not None
            process.stdin.close()  # the holder exits, and its lock goes with it
            process.wait()

        threading.Thread(target=release_when_told, daemon=True).start()
        return release

    yield hold
    for process in processes:
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None and not stream.closed:
                stream.close()


HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_fix_waits_for_the_lock_and_sees_what_its_holder_wrote(
    repo: Path, holder: Callable[[Callable[[Path], None]], threading.Event]
) -> None:
    release = holder(append(b"# written under the lock\r\n"))
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    fix_one(repo / "Dockerfile", repo)
    assert time.monotonic() - started >= 0.3
    assert (repo / "Dockerfile").read_bytes() == AFTER + b"# written under the lock\r\n"


def test_a_fix_that_waited_on_a_replaced_file_locks_the_new_one(
    repo: Path, holder: Callable[[Callable[[Path], None]], threading.Event]
) -> None:
    # The holder replaces the file (a new inode) before it lets go: the lock it held is on a
    # file no longer at the path.
    saved = b"# replaced under the lock\r\n"
    release = holder(replace_with(BEFORE + saved))
    threading.Timer(0.3, release.set).start()
    fix_one(repo / "Dockerfile", repo)
    assert (repo / "Dockerfile").read_bytes() == AFTER + saved


def test_a_lock_held_for_good_is_an_error_for_that_file(
    repo: Path,
    holder: Callable[[Callable[[Path], None]], threading.Event],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(file_lock, "TIMEOUT", 0.2)
    holder(lambda path: None)
    with pytest.raises(FixError, match=r"Dockerfile: cannot write: another process has held"):
        fix_one(repo / "Dockerfile", repo)
    assert (repo / "Dockerfile").read_bytes() == BEFORE


def test_a_file_system_without_locks_still_gets_the_last_look(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", unsupported)
    plans = after_planning(monkeypatch, append(b"# saved\r\n"))
    fix_one(repo / "Dockerfile", repo)
    assert plans == [2]
    assert (repo / "Dockerfile").read_bytes() == AFTER + b"# saved\r\n"


def test_opening_a_fifo_to_lock_it_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "Dockerfile"
    os.mkfifo(fifo)
    with pytest.raises(file_lock.NotRegularFile), file_lock.locked(fifo):
        pass


def test_a_symbolic_link_is_not_locked_through(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(BEFORE)
    (tmp_path / "Dockerfile").symlink_to("real")
    with pytest.raises(OSError, match="Too many levels"), file_lock.locked(tmp_path / "Dockerfile"):
        pass


def test_a_locked_file_reads_whole_and_compares_by_slices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_lock, "_CHUNK", 7)
    path = tmp_path / "Dockerfile"
    data = bytes(range(256)) * 3
    path.write_bytes(data)
    with file_lock.locked(path) as held:
        assert held.read() == data
        assert held.holds(data)
        assert not held.holds(data[:-1] + b"x")
        assert not held.holds(data + b"x")
        path.write_bytes(data[:-1] + b"x")
        assert not held.holds(data)
